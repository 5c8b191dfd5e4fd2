// model.c: building the model, the layer loop forward and backward, the chunked head with its loss, and
// the optimizer step. The branches themselves live in model_attention.c, model_mlp.c and model_mamba.c;
// the activation layout in model_acts.c.
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model_internal.h"
#include "xio.h"

// The RMSNorm in front of each branch slot (params.h roles).
static const int branch_norm_role[MODEL_MAX_BRANCHES] = {PR_NORM1, PR_NORM2, PR_NORM3, PR_NORM4};

static void *backend_alloc(const scout_backend *be, size_t bytes, const char *what) {
    void *p = be->alloc(bytes);
    if (!p) die(SCOUT_EXIT_FAIL, "out of memory: %zu bytes for %s on the %s backend", bytes, what, be->name);
    be->zero(p, bytes);
    return p;
}

// The branch kinds of one layer, in execution order (spec §3, §6.2, §7.1; qwen2; fla Mamba).
static int layer_branches(int arch, int kinds[MODEL_MAX_BRANCHES]) {
    switch (arch) {
    case ARCH_SCOUT_SWA:
    case ARCH_SCOUT_MAMBA:
        kinds[0] = arch == ARCH_SCOUT_SWA ? BRANCH_ATTENTION : BRANCH_MAMBA;
        kinds[1] = BRANCH_MLP;
        kinds[2] = BRANCH_CHECKPOINT;
        kinds[3] = BRANCH_MLP;
        return 4;
    case ARCH_QWEN2:
        kinds[0] = BRANCH_ATTENTION;
        kinds[1] = BRANCH_MLP;
        return 2;
    case ARCH_MAMBA:
        kinds[0] = BRANCH_MAMBA;
        return 1;
    }
    die(SCOUT_EXIT_FAIL, "internal: unknown architecture %d", arch);
}

void model_build(model *m, const model_config *cfg, const scout_backend *be, int max_B, int max_T, unsigned flags) {
    memset(m, 0, sizeof *m);
    if (max_B < 1 || max_T < 1) die(SCOUT_EXIT_FAIL, "internal: model capacity %d x %d", max_B, max_T);
    if ((size_t)max_B * (size_t)max_T > (size_t)INT32_MAX)
        die(SCOUT_EXIT_USAGE, "a micro-batch of %d x %d tokens is too large", max_B, max_T);
    m->be = be;
    m->cfg = *cfg;
    m->cfg.source = NULL; // owned by the caller's config
    m->cfg.json_text = NULL;
    m->cfg.json_len = 0;
    params_build(&m->pt, cfg);
    m->n_branches = layer_branches(cfg->arch, m->kinds);
    m->recompute = (flags & MODEL_RECOMPUTE) != 0;

    const size_t nf = m->pt.n_floats;
    m->master = backend_alloc(be, nf * sizeof(float), "master weights");
    m->grads = backend_alloc(be, nf * sizeof(float), "gradients");
    m->adam_m = backend_alloc(be, nf * sizeof(float), "AdamW first moments");
    m->adam_v = backend_alloc(be, nf * sizeof(float), "AdamW second moments");
    // fp32 activations read the master directly; any other dtype gets its own copy, which AdamW refreshes.
    m->weights = be->act_size == sizeof(float) ? (void *)m->master : backend_alloc(be, nf * be->act_size, "weights");

    m->max_B = max_B;
    m->max_T = max_T;
    m->max_rows = max_B * max_T;
    // The head computes be->head_chunk_bytes of logits at a time (the backend's choice).
    size_t rows = be->head_chunk_bytes / be->act_size / (size_t)cfg->vocab_size;
    m->head_rows = rows < 1 ? 1 : rows > (size_t)m->max_rows ? m->max_rows : (int)rows;

    m->acts.layer = xcalloc((size_t)cfg->n_layers ? (size_t)cfg->n_layers : 1, sizeof(layer_acts));
    m->act_bytes = model_carve_acts(m, NULL);
    m->act_mem = backend_alloc(be, m->act_bytes, "activations");
    model_carve_acts(m, m->act_mem);
    m->gact_bytes = model_carve_grad_acts(m, NULL);
    m->gact_mem = backend_alloc(be, m->gact_bytes, "activation gradients");
    model_carve_grad_acts(m, m->gact_mem);
    m->ws_bytes = model_workspace_bytes(m);
    m->ws = m->ws_bytes ? backend_alloc(be, m->ws_bytes, "op workspace") : NULL;

    m->host_losses = xmalloc((size_t)m->max_rows * sizeof(float));
    m->host_tokens = xmalloc((size_t)m->max_rows * sizeof(int32_t));
    m->host_adamw = xmalloc((size_t)m->pt.n * sizeof(adamw_tensor));
}

size_t model_memory_bytes(const model *m) {
    const size_t nf = m->pt.n_floats;
    size_t bytes = 4 * nf * sizeof(float); // master, gradients, moments
    if (m->weights != (void *)m->master) bytes += nf * m->be->act_size;
    return bytes + m->act_bytes + m->gact_bytes + m->ws_bytes;
}

void model_free(model *m) {
    const scout_backend *be = m->be;
    if (!be) return;
    if (m->weights != (void *)m->master) be->free(m->weights);
    be->free(m->master);
    be->free(m->grads);
    be->free(m->adam_m);
    be->free(m->adam_v);
    be->free(m->act_mem);
    be->free(m->gact_mem);
    if (m->ws) be->free(m->ws);
    free(m->acts.layer);
    free(m->host_losses);
    free(m->host_tokens);
    free(m->host_adamw);
    params_free(&m->pt);
    memset(m, 0, sizeof *m);
}

// ---- parameters -----------------------------------------------------------------------------------------

void model_sync_weights(model *m) {
    if (m->weights != (void *)m->master) m->be->f32_to_act(m->weights, m->master, m->pt.n_floats);
}

void model_set_params(model *m, const float *host_params) {
    m->be->upload(m->master, host_params, m->pt.n_floats * sizeof(float));
    model_sync_weights(m);
}

void model_get_params(const model *m, float *host_params) {
    m->be->download(host_params, m->master, m->pt.n_floats * sizeof(float));
}

void model_init_params(model *m, uint64_t seed) {
    float *host = params_alloc(&m->pt);
    params_init(&m->pt, host, seed);
    model_set_params(m, host);
    free(host);
}

void model_get_moments(const model *m, float *host_m, float *host_v) {
    m->be->download(host_m, m->adam_m, m->pt.n_floats * sizeof(float));
    m->be->download(host_v, m->adam_v, m->pt.n_floats * sizeof(float));
}

void model_set_moments(model *m, const float *host_m, const float *host_v) {
    m->be->upload(m->adam_m, host_m, m->pt.n_floats * sizeof(float));
    m->be->upload(m->adam_v, host_v, m->pt.n_floats * sizeof(float));
}

// ---- forward --------------------------------------------------------------------------------------------

// Byte offset of row r in a [rows, C] activation tensor.
static void *row_at(const model *m, void *buf, size_t r, size_t C) { return (char *)buf + r * C * m->be->act_size; }

// The residual stream after branch b of layer l: the next branch's input, or the model's final output.
static void *stream_after(const model *m, int l, int b) {
    if (b + 1 < m->n_branches) return m->acts.layer[l].res[b + 1];
    if (l + 1 < m->cfg.n_layers) return m->acts.layer[l + 1].res[0];
    return m->acts.final_res;
}

// out = res + branch b of layer l applied to x = RMSNorm(res).
static void branch_forward(model *m, int l, int b, const void *x, const void *res, void *out, int B, int T) {
    layer_acts *L = &m->acts.layer[l];
    switch (m->kinds[b]) {
    case BRANCH_ATTENTION:
        attention_branch_forward(m, l, BRANCH_ATTENTION, PR_MIX_Q, &L->mix, x, res, out, B, T);
        break;
    case BRANCH_CHECKPOINT:
        attention_branch_forward(m, l, BRANCH_CHECKPOINT, PR_CK_Q, &L->ckpt, x, res, out, B, T);
        break;
    case BRANCH_MAMBA: mamba_branch_forward(m, l, &L->mamba, x, res, out, B, T); break;
    case BRANCH_MLP:
        mlp_branch_forward(m, l, b == 1 ? PR_MLP1_GATE : PR_MLP2_GATE, b == 1 ? &L->mlp1 : &L->mlp2, x, res, out,
                           B * T);
        break;
    }
}

static void branch_backward(model *m, int l, int b, const void *x, const void *dout, void *dx, int B, int T) {
    const layer_acts *L = &m->acts.layer[l];
    switch (m->kinds[b]) {
    case BRANCH_ATTENTION:
        attention_branch_backward(m, l, BRANCH_ATTENTION, PR_MIX_Q, &L->mix, x, dout, dx, B, T);
        break;
    case BRANCH_CHECKPOINT:
        attention_branch_backward(m, l, BRANCH_CHECKPOINT, PR_CK_Q, &L->ckpt, x, dout, dx, B, T);
        break;
    case BRANCH_MAMBA: mamba_branch_backward(m, l, &L->mamba, x, dout, dx, B, T); break;
    case BRANCH_MLP:
        mlp_branch_backward(m, l, b == 1 ? PR_MLP1_GATE : PR_MLP2_GATE, b == 1 ? &L->mlp1 : &L->mlp2, x, dout, dx,
                            B * T);
        break;
    }
}

// One layer: every pre-norm residual branch in order, stream += branch(RMSNorm(stream)). It reads only its
// input residual res[0] and the weights (no workspace, no gradient buffer), so with recompute the backward
// reruns it to refill the shared activation set; it also rewrites the layer's output (the next layer's
// res[0], or final_res), with the same values, when nothing reads them any more.
static void layer_forward(model *m, int l, int B, int T) {
    const scout_backend *be = m->be;
    const int N = B * T, H = m->cfg.hidden_size;
    const float eps = (float)m->cfg.norm_eps;
    layer_acts *L = &m->acts.layer[l];
    for (int b = 0; b < m->n_branches; b++) {
        be->rmsnorm_forward(L->norm[b], L->rstd[b], L->res[b], model_w(m, l, branch_norm_role[b]), N, H, eps);
        branch_forward(m, l, b, L->norm[b], L->res[b], stream_after(m, l, b), B, T);
    }
}

// The layer's backward: on entry gacts.dres holds d loss / d (the layer's output); on return d loss / d res[0].
static void layer_backward(model *m, int l, int B, int T) {
    const scout_backend *be = m->be;
    const int N = B * T, H = m->cfg.hidden_size;
    const layer_acts *L = &m->acts.layer[l];
    model_grad_acts *g = &m->gacts;
    for (int b = m->n_branches - 1; b >= 0; b--) {
        // stream_out = res[b] + branch(norm(res[b])): d res[b] = d stream_out + the path through the norm.
        branch_backward(m, l, b, L->norm[b], g->dres, g->dnorm, B, T);
        be->rmsnorm_backward(g->dres, model_g(m, l, branch_norm_role[b]), g->dnorm, L->res[b],
                             model_w(m, l, branch_norm_role[b]), L->rstd[b], m->ws, N, H, SCOUT_DX_ADD);
    }
}

// Embedding, every layer, final norm: fills the activations up to acts.final_norm.
static void forward_trunk(model *m, int B, int T) {
    const scout_backend *be = m->be;
    const int N = B * T, H = m->cfg.hidden_size;
    model_acts *a = &m->acts;
    void *first = m->cfg.n_layers > 0 ? a->layer[0].res[0] : a->final_res;
    be->embedding_forward(first, a->inputs, model_w(m, -1, PR_EMBED), N, H);
    for (int l = 0; l < m->cfg.n_layers; l++) layer_forward(m, l, B, T);
    be->rmsnorm_forward(a->final_norm, a->final_rstd, a->final_res, model_w(m, -1, PR_FINAL_NORM), N, H,
                        (float)m->cfg.norm_eps);
}

// The head over N rows in chunks of head_rows: logits, optionally copied out; losses when targets were
// uploaded; and with dloss > 0, the chunk's dlogits (in place) pushed through the head at once, which
// leaves d final_norm in gacts.dnorm and adds the head's weight gradient.
static void head(model *m, int N, int with_loss, float *logits_out, float dloss) {
    const scout_backend *be = m->be;
    const int H = m->cfg.hidden_size, V = m->cfg.vocab_size;
    model_acts *a = &m->acts;
    const void *W = model_w(m, -1, PR_LM_HEAD); // the embedding itself when tied
    float *gW = model_g(m, -1, PR_LM_HEAD);
    float *logits_f32 = NULL; // fp32 staging for logits_out on a backend whose activations are not fp32
    if (logits_out && be->act_size != sizeof(float))
        logits_f32 = backend_alloc(be, (size_t)m->head_rows * V * sizeof(float), "logits");
    for (int r0 = 0; r0 < N; r0 += m->head_rows) {
        const int rows = N - r0 < m->head_rows ? N - r0 : m->head_rows;
        const void *x = row_at(m, a->final_norm, (size_t)r0, (size_t)H);
        be->linear_forward(a->logits, x, W, NULL, rows, H, V);
        if (logits_out) {
            const void *src = a->logits;
            if (logits_f32) be->act_to_f32(logits_f32, a->logits, (size_t)rows * V), src = logits_f32;
            be->download(logits_out + (size_t)r0 * V, src, (size_t)rows * V * sizeof(float));
        }
        if (!with_loss) continue;
        if (dloss > 0.0f && be->cross_entropy_fused) {
            // Losses and dlogits in one pass over the logits (llm.c's fused classifier).
            be->cross_entropy_fused(a->losses + r0, a->logits, a->logits, a->targets + r0, dloss, rows, V);
        } else {
            be->cross_entropy_forward(a->losses + r0, a->logits, a->targets + r0, rows, V);
            if (dloss > 0.0f) be->cross_entropy_backward(a->logits, a->logits, a->targets + r0, dloss, rows, V);
        }
        if (dloss > 0.0f) {
            be->linear_backward(row_at(m, m->gacts.dnorm, (size_t)r0, (size_t)H), gW, NULL, a->logits, x, W, m->ws,
                                rows, H, V, SCOUT_DX_WRITE);
        }
    }
    if (logits_f32) be->free(logits_f32);
}

// Uploads ids after checking them against the vocabulary: an id out of range would read outside the
// embedding, so this is checked here even though the data reader checks its blocks too.
static void upload_tokens(model *m, int32_t *dst, const int32_t *src, int N, const char *what) {
    for (int i = 0; i < N; i++)
        if (src[i] < 0 || src[i] >= m->cfg.vocab_size)
            die(SCOUT_EXIT_DATA, "%s token %d at position %d is outside the model's vocabulary [0, %d)", what, src[i], i,
                m->cfg.vocab_size);
    m->be->upload(dst, src, (size_t)N * sizeof(int32_t));
}

static void check_shape(const model *m, int B, int T) {
    if (B < 1 || T < 1 || B > m->max_B || T > m->max_T)
        die(SCOUT_EXIT_FAIL, "internal: batch %d x %d exceeds the model's capacity %d x %d", B, T, m->max_B, m->max_T);
}

static float mean_loss(model *m, int N) {
    m->be->download(m->host_losses, m->acts.losses, (size_t)N * sizeof(float));
    return cross_entropy_mean(m->host_losses, N);
}

float model_forward(model *m, const int32_t *inputs, const int32_t *targets, int B, int T, float *logits_out) {
    check_shape(m, B, T);
    const int N = B * T;
    upload_tokens(m, m->acts.inputs, inputs, N, "input");
    if (targets) upload_tokens(m, m->acts.targets, targets, N, "target");
    forward_trunk(m, B, T);
    head(m, N, targets != NULL, logits_out, 0.0f);
    return targets ? mean_loss(m, N) : 0.0f;
}

// ---- backward -------------------------------------------------------------------------------------------

float model_forward_backward(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                             float loss_scale) {
    check_shape(m, B, T);
    const scout_backend *be = m->be;
    const int N = B * T, H = m->cfg.hidden_size;
    model_acts *a = &m->acts;
    model_grad_acts *g = &m->gacts;
    upload_tokens(m, a->inputs, inputs, N, "input");
    upload_tokens(m, a->targets, targets, N, "target");
    forward_trunk(m, B, T);
    // d(loss * loss_scale)/d(row loss) = loss_scale / N: the loss is the mean over the N rows (§11.2).
    head(m, N, 1, NULL, loss_scale / (float)N);
    const float loss = mean_loss(m, N);

    // Final norm: d final_norm (from the head, in dnorm) -> d final_res in dres.
    be->rmsnorm_backward(g->dres, model_g(m, -1, PR_FINAL_NORM), g->dnorm, a->final_res,
                         model_w(m, -1, PR_FINAL_NORM), a->final_rstd, m->ws, N, H, SCOUT_DX_WRITE);
    for (int l = m->cfg.n_layers - 1; l >= 0; l--) {
        // With recompute the shared set holds the last layer's activations after the forward (the final
        // norm and the head use none of it): every other layer is run again first.
        if (m->recompute && l < m->cfg.n_layers - 1) layer_forward(m, l, B, T);
        layer_backward(m, l, B, T);
    }
    be->embedding_backward(model_g(m, -1, PR_EMBED), g->dres, a->inputs, m->ws, N, H);
    return loss;
}

// ---- optimizer ------------------------------------------------------------------------------------------

void model_zero_grad(model *m) { m->be->zero(m->grads, m->pt.n_floats * sizeof(float)); }

float model_grad_norm(model *m) {
    // One tensor: the whole flat buffer, whose alignment padding is zero.
    const float *t[1] = {m->grads};
    const size_t n[1] = {m->pt.n_floats};
    return m->be->global_norm(t, n, 1, m->ws);
}

// Seed of the stochastic rounding of tensor i's forward copy at AdamW step `step` (CUDA): a pure function of
// (step, tensor), so a resumed run rounds exactly as the uninterrupted one.
static uint32_t rounding_seed(int step, int i) {
    return (uint32_t)((uint64_t)step * 0x9E3779B1u) ^ (uint32_t)(i * 0x85EBCA6Bu);
}

void model_round_weights(model *m, int step) {
    const scout_backend *be = m->be;
    if (m->weights == (void *)m->master || step < 1 || !be->f32_to_act_seeded) return;
    for (int i = 0; i < m->pt.n; i++) {
        const param_tensor *t = &m->pt.t[i];
        be->f32_to_act_seeded((char *)m->weights + t->offset * be->act_size, m->master + t->offset, t->numel,
                              rounding_seed(step, i));
    }
}

float model_update(model *m, const adamw_config *oc, float lr, int step) {
    const scout_backend *be = m->be;
    const float norm = model_grad_norm(m);
    // PyTorch's clip_grad_norm_ folded into AdamW's gradient scale.
    const float scale = oc->clip > 0.0f ? grad_clip_scale(norm, oc->clip) : 1.0f;
    // One batched call (the CUDA backend launches once per 128 tensors instead of once per tensor).
    for (int i = 0; i < m->pt.n; i++) {
        const param_tensor *t = &m->pt.t[i];
        m->host_adamw[i] = (adamw_tensor){.offset = t->offset,
                                          .numel = t->numel,
                                          .weight_decay = oc->no_decay_1d && t->is_1d ? 0.0f : oc->weight_decay,
                                          .seed = rounding_seed(step, i)};
    }
    be->adamw_step_tensors(m->master, m->weights, m->grads, m->adam_m, m->adam_v, m->host_adamw, m->pt.n, lr,
                           oc->beta1, oc->beta2, oc->eps, scale, step);
    return norm;
}
