// model_acts.c: the activation layout. One allocation holds every activation of the forward, carved into
// the named tensors of model_acts (model.h gives each one's shape); a second one holds the gradient
// buffers of one layer. The same walk computes the size (base NULL) and sets the pointers, so the two can
// never disagree. Shapes use the capacity N = max_rows = max_B * max_T; a smaller batch uses a prefix.
//
// With recompute (model.h), layer 0 is carved in full and every later layer takes only its input residual
// res[0]: its other pointers are copies of layer 0's, so all layers share one set and the walk stays one walk.
#include "model_internal.h"

typedef struct carver {
    char *base;  // NULL: sizing pass
    size_t off;  // bytes used so far
} carver;

// count elements of elsize bytes, each tensor starting on a 64-byte boundary (vector loads, cache lines).
static void *take(carver *c, size_t count, size_t elsize) {
    size_t at = (c->off + 63) / 64 * 64;
    c->off = at + count * elsize;
    return c->base ? c->base + at : NULL;
}

static void take_attention(carver *c, attn_acts *a, const model *m, size_t as) {
    const model_config *cfg = &m->cfg;
    const size_t N = (size_t)m->max_rows, QD = (size_t)cfg->n_heads * cfg->head_dim;
    const size_t KD = (size_t)cfg->n_kv_heads * cfg->head_dim;
    a->q = take(c, N * (QD + 2 * KD), as);                 // [N, QD + 2 KD]: rows [q | k | v], one product's output
    a->k = a->q ? (char *)a->q + QD * as : NULL;           // column blocks of the same rows (stride QD + 2 KD)
    a->v = a->q ? (char *)a->q + (QD + KD) * as : NULL;
    a->out = take(c, N * QD, as);                          // [N, QD]
    a->lse = take(c, N * (size_t)cfg->n_heads, sizeof(float)); // [B, n_h, T] with B*T = N
}

static void take_mlp(carver *c, mlp_acts *a, const model *m, size_t as) {
    const size_t N = (size_t)m->max_rows, I = (size_t)m->cfg.intermediate_size;
    a->gate = take(c, N * 2 * I, as);                      // [N, 2I]: rows [gate | up], one product's output
    a->up = a->gate ? (char *)a->gate + I * as : NULL;    // its right half, row stride 2I
    a->h = take(c, N * I, as);                             // [N, I]
}

static void take_mamba(carver *c, mamba_acts *a, const model *m, size_t as) {
    const model_config *cfg = &m->cfg;
    const size_t N = (size_t)m->max_rows, E = (size_t)cfg->mamba_inner, R = (size_t)cfg->dt_rank;
    const size_t XD = R + 2 * (size_t)cfg->state_size;
    a->xz = take(c, N * 2 * E, as); // [N, 2E]
    a->conv = take(c, N * E, as);   // [N, E]
    a->u = take(c, N * E, as);      // [N, E]
    a->xdbl = take(c, N * XD, as);  // [N, R+2S]
    a->dt_in = take(c, N * R, as);  // [N, R]
    a->dt_raw = take(c, N * E, as); // [N, E]
    a->y = take(c, N * E, as);      // [N, E]
}

size_t model_carve_acts(model *m, char *base) {
    carver c = {base, 0};
    model_acts *a = &m->acts;
    const size_t as = m->be->act_size, N = (size_t)m->max_rows, H = (size_t)m->cfg.hidden_size;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        layer_acts *L = &a->layer[l];
        if (m->recompute && l > 0) {
            *L = a->layer[0];                             // the shared set (NULLs in the sizing pass)
            L->res[0] = take(&c, N * H, as);              // [N, H] the layer's own input
            continue;
        }
        for (int b = 0; b < m->n_branches; b++) {
            L->res[b] = take(&c, N * H, as);              // [N, H]
            L->norm[b] = take(&c, N * H, as);             // [N, H]
            L->rstd[b] = take(&c, N, sizeof(float));      // [N]
            switch (m->kinds[b]) {
            case BRANCH_ATTENTION: take_attention(&c, &L->mix, m, as); break;
            case BRANCH_CHECKPOINT: take_attention(&c, &L->ckpt, m, as); break;
            case BRANCH_MAMBA: take_mamba(&c, &L->mamba, m, as); break;
            case BRANCH_MLP: take_mlp(&c, b == 1 ? &L->mlp1 : &L->mlp2, m, as); break;
            }
        }
    }
    a->final_res = take(&c, N * H, as);                                    // [N, H]
    a->final_norm = take(&c, N * H, as);                                   // [N, H]
    a->final_rstd = take(&c, N, sizeof(float));                            // [N]
    a->logits = take(&c, (size_t)m->head_rows * m->cfg.vocab_size, as);    // [head_rows, V]
    a->losses = take(&c, N, sizeof(float));                                // [N]
    a->inputs = take(&c, N, sizeof(int32_t));                              // [N]
    a->targets = take(&c, N, sizeof(int32_t));                             // [N]
    return c.off;
}

size_t model_carve_grad_acts(model *m, char *base) {
    carver c = {base, 0};
    model_grad_acts *g = &m->gacts;
    const model_config *cfg = &m->cfg;
    const size_t as = m->be->act_size, N = (size_t)m->max_rows, H = (size_t)cfg->hidden_size;
    int has_attn = 0, has_mlp = 0, has_mamba = 0;
    for (int b = 0; b < m->n_branches; b++) {
        has_attn |= m->kinds[b] == BRANCH_ATTENTION || m->kinds[b] == BRANCH_CHECKPOINT;
        has_mlp |= m->kinds[b] == BRANCH_MLP;
        has_mamba |= m->kinds[b] == BRANCH_MAMBA;
    }
    *g = (model_grad_acts){0};
    g->dres = take(&c, N * H, as);  // [N, H]
    g->dnorm = take(&c, N * H, as); // [N, H]
    if (has_attn) {
        const size_t QD = (size_t)cfg->n_heads * cfg->head_dim, KD = (size_t)cfg->n_kv_heads * cfg->head_dim;
        g->dq = take(&c, N * (QD + 2 * KD), as);               // [N, QD + 2 KD]: rows [dq | dk | dv], as attn_acts.q
        g->dk = g->dq ? (char *)g->dq + QD * as : NULL;
        g->dv = g->dq ? (char *)g->dq + (QD + KD) * as : NULL;
        g->datt = take(&c, N * QD, as); // [N, QD]
    }
    if (has_mlp) {
        const size_t I = (size_t)cfg->intermediate_size;
        g->dgate = take(&c, N * 2 * I, as);                   // [N, 2I]: rows [dgate | dup], as mlp_acts.gate
        g->dup = g->dgate ? (char *)g->dgate + I * as : NULL; // its right half, row stride 2I
        g->dh = take(&c, N * I, as);                          // [N, I]
    }
    if (has_mamba) {
        const size_t E = (size_t)cfg->mamba_inner, R = (size_t)cfg->dt_rank;
        const size_t XD = R + 2 * (size_t)cfg->state_size;
        g->dxz = take(&c, N * 2 * E, as); // [N, 2E]
        g->dconv = take(&c, N * E, as);   // [N, E]
        g->du = take(&c, N * E, as);      // [N, E]
        g->dxdbl = take(&c, N * XD, as);  // [N, R+2S]
        g->ddt_in = take(&c, N * R, as);  // [N, R]
        g->ddt = take(&c, N * E, as);     // [N, E]
        g->dy = take(&c, N * E, as);      // [N, E]
    }
    return c.off;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

size_t model_workspace_bytes(const model *m) {
    const scout_backend *be = m->be;
    const model_config *c = &m->cfg;
    const int N = m->max_rows, T = m->max_T, B = m->max_B, H = c->hidden_size;
    size_t ws = 0;
    ws = max_sz(ws, be->embedding_backward_workspace_size(N, H));
    ws = max_sz(ws, be->rmsnorm_backward_workspace_size(N, H));
    ws = max_sz(ws, be->linear_backward_workspace_size(m->head_rows, H, c->vocab_size));
    ws = max_sz(ws, be->global_norm_workspace_size(1));
    for (int b = 0; b < m->n_branches; b++) {
        const int QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim, I = c->intermediate_size;
        const int E = c->mamba_inner, R = c->dt_rank, XD = R + 2 * c->state_size;
        switch (m->kinds[b]) {
        case BRANCH_ATTENTION:
        case BRANCH_CHECKPOINT:
            ws = max_sz(ws, be->linear_backward_workspace_size(N, H, QD + 2 * KD));
            ws = max_sz(ws, be->linear_backward_workspace_size(N, QD, H));
            ws = max_sz(ws, m->kinds[b] == BRANCH_CHECKPOINT
                                ? be->checkpoint_attention_backward_workspace_size(B, T, c->n_heads, c->n_kv_heads, c->head_dim,
                                                                                 c->selection_window)
                                : be->swa_attention_backward_workspace_size(B, T, c->n_heads, c->n_kv_heads, c->head_dim));
            break;
        case BRANCH_MLP:
            ws = max_sz(ws, be->linear_backward_workspace_size(N, H, 2 * I));
            ws = max_sz(ws, be->linear_backward_workspace_size(N, I, H));
            break;
        case BRANCH_MAMBA:
            ws = max_sz(ws, be->linear_backward_workspace_size(N, H, 2 * E));
            ws = max_sz(ws, be->linear_backward_workspace_size(N, E, XD));
            ws = max_sz(ws, be->linear_backward_workspace_size(N, R, E));
            ws = max_sz(ws, be->linear_backward_workspace_size(N, E, H));
            ws = max_sz(ws, be->causal_conv1d_backward_workspace_size(B, T, E, c->conv_kernel));
            ws = max_sz(ws, be->selective_scan_backward_workspace_size(B, T, E, c->state_size));
            break;
        }
    }
    return ws;
}
