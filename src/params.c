// params.c: see params.h.
#include "params.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rng.h"
#include "xio.h"

// ---- table construction ----

typedef struct builder {
    param_table *pt;
    int cap;
    char prefix[48]; // "model.layers.3." etc.
    int layer;
    int pack;        // the next add() follows the previous tensor directly (stacked groups); reset by add()
} builder;

static void add(builder *b, int role, const char *suffix, int ndim, int64_t d0, int64_t d1, int64_t d2, int init,
                double a, int matmul) {
    param_table *pt = b->pt;
    if (pt->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        pt->t = xrealloc(pt->t, (size_t)b->cap * sizeof *pt->t);
    }
    param_tensor *t = &pt->t[pt->n];
    memset(t, 0, sizeof *t);
    int len = snprintf(t->name, sizeof t->name, "%s%s", b->prefix, suffix);
    if (len < 0 || (size_t)len >= sizeof t->name) die(SCOUT_EXIT_FAIL, "internal: parameter name too long: %s%s", b->prefix, suffix);
    t->ndim = ndim;
    t->shape[0] = d0, t->shape[1] = d1, t->shape[2] = d2;
    t->numel = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1) * (size_t)(ndim > 2 ? d2 : 1);
    t->offset = b->pack ? pt->n_floats : (pt->n_floats + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;
    t->packed = b->pack;
    b->pack = 0;
    t->layer = b->layer;
    t->role = role;
    t->init = init;
    t->init_a = a;
    t->matmul = matmul;
    t->is_1d = ndim == 1;
    pt->n_floats = t->offset + t->numel;
    pt->n_params += t->numel;
    if (matmul) pt->n_matmul += t->numel;
    pt->index[(b->layer + 1) * PR_COUNT + role] = pt->n;
    pt->n++;
}

static void set_prefix(builder *b, const char *fmt, int layer) {
    snprintf(b->prefix, sizeof b->prefix, fmt, layer);
    b->layer = layer;
}

// Four attention projections, q/k/v stacked (packed); then qwen2's q/k/v biases, stacked too.
static void add_attention(builder *b, const model_config *c, const char *mod, int first_role, int bias) {
    const double std = c->initializer_range;
    const int64_t H = c->hidden_size, QD = (int64_t)c->n_heads * c->head_dim, KD = (int64_t)c->n_kv_heads * c->head_dim;
    static const char *proj[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
    char s[64];
    for (int i = 0; i < 4; i++) {
        snprintf(s, sizeof s, "%s.%s.weight", mod, proj[i]);
        int64_t out = i == 0 ? QD : i == 3 ? H : KD, in = i == 3 ? QD : H;
        b->pack = i == 1 || i == 2;
        add(b, first_role + i, s, 2, out, in, 0, INIT_NORMAL, std, 1);
    }
    for (int i = 0; bias && i < 3; i++) {
        snprintf(s, sizeof s, "%s.%s.bias", mod, proj[i]);
        b->pack = i > 0;
        add(b, PR_MIX_Q_BIAS + i, s, 1, i == 0 ? QD : KD, 0, 0, INIT_ZEROS, 0, 0);
    }
}

static void add_mlp(builder *b, const model_config *c, const char *mod, int first_role) {
    const double std = c->initializer_range;
    const int64_t H = c->hidden_size, I = c->intermediate_size;
    char s[64];
    snprintf(s, sizeof s, "%s.gate_proj.weight", mod);
    add(b, first_role, s, 2, I, H, 0, INIT_NORMAL, std, 1);
    snprintf(s, sizeof s, "%s.up_proj.weight", mod);
    b->pack = 1; // gate and up stacked: one [2I, H] product
    add(b, first_role + 1, s, 2, I, H, 0, INIT_NORMAL, std, 1);
    snprintf(s, sizeof s, "%s.down_proj.weight", mod);
    add(b, first_role + 2, s, 2, H, I, 0, INIT_NORMAL, std, 1);
}

// The Mamba-1 mixer (§5 shapes, §8.2 init), under module name mod ("mamba" or "mixer").
static void add_mamba(builder *b, const model_config *c, const char *mod) {
    const double std = c->initializer_range;
    const int64_t H = c->hidden_size, E = c->mamba_inner, N = c->state_size, r = c->dt_rank, k = c->conv_kernel;
    const double dt_a = pow((double)r, -0.5) * c->dt_scale;
    char s[64];
#define M(suffix) (snprintf(s, sizeof s, "%s.%s", mod, suffix), s)
    add(b, PR_MAMBA_IN, M("in_proj.weight"), 2, 2 * E, H, 0, INIT_NORMAL, std, 1);
    // PyTorch's Conv1d default (kaiming_uniform, a = sqrt(5)): U(+-1/sqrt(fan_in)), fan_in = k (depthwise).
    add(b, PR_MAMBA_CONV_W, M("conv1d.weight"), 3, E, 1, k, INIT_UNIFORM, 1.0 / sqrt((double)k), 0);
    add(b, PR_MAMBA_CONV_B, M("conv1d.bias"), 1, E, 0, 0, INIT_UNIFORM, 1.0 / sqrt((double)k), 0);
    add(b, PR_MAMBA_X, M("x_proj.weight"), 2, r + 2 * N, E, 0, INIT_NORMAL, std, 1);
    add(b, PR_MAMBA_DT_W, M("dt_proj.weight"), 2, E, r, 0, c->dt_init_constant ? INIT_CONSTANT : INIT_UNIFORM, dt_a, 1);
    add(b, PR_MAMBA_DT_B, M("dt_proj.bias"), 1, E, 0, 0, INIT_DT_BIAS, 0, 0);
    add(b, PR_MAMBA_A_LOG, M("A_log"), 2, E, N, 0, INIT_A_LOG, 0, 0);
    add(b, PR_MAMBA_D, M("D"), 1, E, 0, 0, INIT_ONES, 0, 0);
    add(b, PR_MAMBA_OUT, M("out_proj.weight"), 2, H, E, 0, INIT_NORMAL, std, 1);
#undef M
}

void params_build(param_table *pt, const model_config *c) {
    memset(pt, 0, sizeof *pt);
    pt->cfg = *c;
    pt->cfg.source = NULL; // not owned: the caller's config keeps them
    pt->cfg.json_text = NULL;
    pt->cfg.json_len = 0;
    size_t rows = (size_t)(c->n_layers + 1) * PR_COUNT;
    pt->index = xmalloc(rows * sizeof *pt->index);
    for (size_t i = 0; i < rows; i++) pt->index[i] = -1;
    builder b = {.pt = pt};
    const int64_t V = c->vocab_size, H = c->hidden_size;
    const double std = c->initializer_range;
    const int fla = c->arch == ARCH_MAMBA;

    set_prefix(&b, fla ? "backbone." : "model.", -1);
    add(&b, PR_EMBED, fla ? "embeddings.weight" : "embed_tokens.weight", 2, V, H, 0, INIT_NORMAL, std, 0);
    for (int l = 0; l < c->n_layers; l++) {
        set_prefix(&b, fla ? "backbone.layers.%d." : "model.layers.%d.", l);
        switch (c->arch) {
        case ARCH_SCOUT_SWA:
        case ARCH_SCOUT_MAMBA:
            add(&b, PR_NORM1, "input_layernorm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            if (c->arch == ARCH_SCOUT_SWA) {
                add_attention(&b, c, "swa_attn", PR_MIX_Q, 0);
                add(&b, PR_NORM2, "post_swa_layernorm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            } else {
                add_mamba(&b, c, "mamba");
                add(&b, PR_NORM2, "post_mamba_layernorm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            }
            add_mlp(&b, c, "mlp", PR_MLP1_GATE);
            add(&b, PR_NORM3, "pre_attention_layernorm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            add_attention(&b, c, "self_attn", PR_CK_Q, 0);
            // Naming trap (§5): post_attention_layernorm is the norm in front of the second MLP.
            add(&b, PR_NORM4, "post_attention_layernorm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            add_mlp(&b, c, "sec_mlp", PR_MLP2_GATE);
            break;
        case ARCH_QWEN2:
            add(&b, PR_NORM1, "input_layernorm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            add_attention(&b, c, "self_attn", PR_MIX_Q, 1);
            add(&b, PR_NORM2, "post_attention_layernorm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            add_mlp(&b, c, "mlp", PR_MLP1_GATE);
            break;
        case ARCH_MAMBA:
            add(&b, PR_NORM1, "norm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
            add_mamba(&b, c, "mixer");
            break;
        }
    }
    set_prefix(&b, fla ? "backbone." : "model.", -1);
    add(&b, PR_FINAL_NORM, fla ? "norm_f.weight" : "norm.weight", 1, H, 0, 0, INIT_ONES, 0, 0);
    set_prefix(&b, "", -1);
    if (c->tie_embeddings) {
        pt->index[PR_LM_HEAD] = pt->index[PR_EMBED]; // the head reads (and accumulates into) the embedding
        pt->n_matmul += (size_t)V * (size_t)H;
    } else {
        add(&b, PR_LM_HEAD, "lm_head.weight", 2, V, H, 0, INIT_NORMAL, std, 1);
    }
}

void params_free(param_table *pt) {
    free(pt->t);
    free(pt->index);
    memset(pt, 0, sizeof *pt);
}

const param_tensor *params_get(const param_table *pt, int layer, int role) {
    if (layer < -1 || layer >= pt->cfg.n_layers || role < 0 || role >= PR_COUNT) return NULL;
    int i = pt->index[(layer + 1) * PR_COUNT + role];
    return i < 0 ? NULL : &pt->t[i];
}

float *params_ptr(const param_table *pt, float *buf, int layer, int role) {
    const param_tensor *t = params_get(pt, layer, role);
    return t ? buf + t->offset : NULL;
}

const param_tensor *params_find(const param_table *pt, const char *name) {
    for (int i = 0; i < pt->n; i++)
        if (strcmp(pt->t[i].name, name) == 0) return &pt->t[i];
    return NULL;
}

float *params_alloc(const param_table *pt) {
    size_t bytes = (pt->n_floats * sizeof(float) + 63) / 64 * 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        die(SCOUT_EXIT_FAIL, "out of memory allocating %zu bytes of parameters", bytes);
    memset(p, 0, bytes);
    return p;
}

// ---- init ----

static void init_range(const model_config *c, const param_tensor *t, float *dst, uint64_t key, size_t i0, size_t i1) {
    const double a = t->init_a;
    switch (t->init) {
    case INIT_NORMAL: {
        // Whole Box-Muller pairs in the middle; a slice may start or end on the odd half of a pair.
        size_t i = i0;
        if (i < i1 && i % 2) dst[i] = (float)(a * ctr_normal(key, i)), i++;
        for (; i + 1 < i1; i += 2) {
            double z0, z1;
            ctr_normal_pair(key, i / 2, &z0, &z1);
            dst[i] = (float)(a * z0);
            dst[i + 1] = (float)(a * z1);
        }
        if (i < i1) dst[i] = (float)(a * ctr_normal(key, i));
        break;
    }
    case INIT_ONES:
        for (size_t i = i0; i < i1; i++) dst[i] = 1.0f;
        break;
    case INIT_ZEROS:
        for (size_t i = i0; i < i1; i++) dst[i] = 0.0f;
        break;
    case INIT_UNIFORM:
        for (size_t i = i0; i < i1; i++) dst[i] = (float)(a * (2.0 * ctr_uniform(key, i) - 1.0));
        break;
    case INIT_CONSTANT:
        for (size_t i = i0; i < i1; i++) dst[i] = (float)a;
        break;
    case INIT_DT_BIAS: {
        // dt = exp(u * (ln max - ln min) + ln min), clamped to >= floor; bias = softplus^-1(dt).
        const double lmin = log(c->dt_min), lmax = log(c->dt_max);
        for (size_t i = i0; i < i1; i++) {
            double dt = exp(ctr_uniform(key, i) * (lmax - lmin) + lmin);
            if (dt < c->dt_floor) dt = c->dt_floor;
            dst[i] = (float)(dt + log(-expm1(-dt)));
        }
        break;
    }
    case INIT_A_LOG: {
        const size_t N = (size_t)t->shape[1];
        for (size_t i = i0; i < i1; i++) dst[i] = (float)log((double)(i % N + 1));
        break;
    }
    }
}

typedef struct init_job {
    const param_table *pt;
    float *buf;
    uint64_t seed;
    int tid, nthreads;
} init_job;

// Large tensors are split into nthreads slices, small ones go whole to one thread; either way each
// element's value depends only on (seed, name, index), so the result does not depend on nthreads.
static void *init_worker(void *arg) {
    const init_job *j = arg;
    const size_t SPLIT = 1 << 16;
    for (int k = 0; k < j->pt->n; k++) {
        const param_tensor *t = &j->pt->t[k];
        uint64_t key = ctr_key(j->seed, t->name);
        float *dst = j->buf + t->offset;
        if (t->numel >= SPLIT) {
            size_t i0 = t->numel * (size_t)j->tid / (size_t)j->nthreads;
            size_t i1 = t->numel * (size_t)(j->tid + 1) / (size_t)j->nthreads;
            init_range(&j->pt->cfg, t, dst, key, i0, i1);
        } else if (k % j->nthreads == j->tid) {
            init_range(&j->pt->cfg, t, dst, key, 0, t->numel);
        }
    }
    return NULL;
}

void params_init(const param_table *pt, float *buf, uint64_t seed) {
    // Zero the padding between tensors (and after the last) so the buffer is fully defined.
    size_t at = 0;
    for (int k = 0; k < pt->n; k++) {
        memset(buf + at, 0, (pt->t[k].offset - at) * sizeof(float));
        at = pt->t[k].offset + pt->t[k].numel;
    }
    memset(buf + at, 0, (pt->n_floats - at) * sizeof(float));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
    if (pt->n_params < (1u << 20)) nthreads = 1; // tiny models: threads cost more than they save
    pthread_t th[64];
    init_job jobs[64];
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (init_job){pt, buf, seed, i, nthreads};
        if (i > 0 && pthread_create(&th[i], NULL, init_worker, &jobs[i]) != 0)
            die(SCOUT_EXIT_FAIL, "cannot start an init thread");
    }
    init_worker(&jobs[0]);
    for (int i = 1; i < nthreads; i++) pthread_join(th[i], NULL);
}

// ---- safetensors ----

void params_save(const param_table *pt, const float *buf, const char *path, const char *prefix, int dtype,
                 const char *const *meta) {
    st_entry *e = xmalloc((size_t)pt->n * sizeof *e);
    char **names = xmalloc((size_t)pt->n * sizeof *names);
    size_t plen = strlen(prefix);
    for (int i = 0; i < pt->n; i++) {
        const param_tensor *t = &pt->t[i];
        names[i] = xmalloc(plen + strlen(t->name) + 1);
        memcpy(names[i], prefix, plen);
        strcpy(names[i] + plen, t->name);
        e[i] = (st_entry){names[i], t->ndim, t->shape, buf + t->offset};
    }
    // transformers refuses a safetensors checkpoint whose __metadata__ lacks format "pt": default to it.
    static const char *const hf_meta[] = {"format", "pt", NULL};
    st_write(path, e, pt->n, dtype, meta ? meta : hf_meta);
    for (int i = 0; i < pt->n; i++) free(names[i]);
    free(names);
    free(e);
}

static void format_shape(char *s, size_t n, int ndim, const int64_t *shape) {
    int k = snprintf(s, n, "[");
    for (int d = 0; d < ndim && k >= 0 && (size_t)k < n; d++)
        k += snprintf(s + k, n - (size_t)k, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (k >= 0 && (size_t)k < n) snprintf(s + k, n - (size_t)k, "]");
}

static int same_shape(const st_tensor *s, const param_tensor *t) {
    if (s->ndim != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if (s->shape[d] != t->shape[d]) return 0;
    return 1;
}

void params_load(const param_table *pt, float *buf, const st_file *f, const char *prefix) {
    const char *arch = config_arch_name(pt->cfg.arch);
    size_t plen = strlen(prefix);
    char name[PARAM_NAME_MAX + 64], have[128], want[128];
    for (int i = 0; i < pt->n; i++) {
        const param_tensor *t = &pt->t[i];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        const st_tensor *s = st_find(f, name);
        if (!s)
            die(SCOUT_EXIT_DATA, "%s: tensor \"%s\" is missing (is this a checkpoint of a %s model of this size?)",
                f->path, name, arch);
        if (!same_shape(s, t)) {
            format_shape(have, sizeof have, s->ndim, s->shape);
            format_shape(want, sizeof want, t->ndim, t->shape);
            die(SCOUT_EXIT_DATA, "%s: tensor \"%s\" has shape %s, the %s model config expects %s", f->path, name, have,
                arch, want);
        }
        st_read_f32(f, s, buf + t->offset);
    }
    // Tied: HF's save_pretrained drops the duplicate head; a file that keeps it is accepted.
    snprintf(name, sizeof name, "%slm_head.weight", prefix);
    const st_tensor *head = pt->cfg.tie_embeddings ? st_find(f, name) : NULL;
    if (head) {
        const param_tensor *emb = params_get(pt, -1, PR_EMBED);
        if (!same_shape(head, emb))
            die(SCOUT_EXIT_DATA, "%s: tensor \"%s\" does not have the embedding's shape of a tied model", f->path, name);
        float *tmp = xmalloc(emb->numel * sizeof *tmp);
        st_read_f32(f, head, tmp);
        if (memcmp(tmp, buf + emb->offset, emb->numel * sizeof *tmp) != 0)
            log_warn("%s: the model is tied; \"%s\" differs from the embedding and is ignored", f->path, name);
        free(tmp);
    }
    for (int i = 0; i < f->n; i++) {
        const char *n = f->tensors[i].name;
        if (strncmp(n, prefix, plen) != 0 || &f->tensors[i] == head) continue;
        if (!params_find(pt, n + plen))
            die(SCOUT_EXIT_DATA, "%s: tensor \"%s\" is not part of the %s model described by the config (a checkpoint of "
                                 "another architecture or size?)",
                f->path, n, arch);
    }
}

// ---- FLOPs (§10.1) ----

// Mean number of keys per query over positions 0..T-1.
static double keys_window(double T, double W) { // min(i + 1, W)
    double m = T < W ? T : W;
    return (m * (m + 1) / 2 + (T - m) * W) / T;
}
static double keys_checkpoint(long long T, long long s) { // floor(i / s) + 1
    long long q = T / s, r = T - q * s;
    return ((double)s * (double)q * (double)(q - 1) / 2 + (double)r * (double)q + (double)T) / (double)T;
}
static double keys_causal(double T) { return (T + 1) / 2; } // i + 1

double params_forward_flops_per_token(const param_table *pt, int T) {
    const model_config *c = &pt->cfg;
    const double per_key = 4.0 * c->n_heads * c->head_dim; // q.k and p.v: 2 FLOPs per multiply-add each
    double core = 0;
    for (int l = 0; l < c->n_layers; l++) {
        switch (c->arch) {
        case ARCH_SCOUT_SWA:
            core += per_key * (keys_window(T, c->sliding_window) + keys_checkpoint(T, c->selection_window));
            break;
        case ARCH_SCOUT_MAMBA: core += per_key * keys_checkpoint(T, c->selection_window); break;
        case ARCH_QWEN2:
            core += per_key * (config_layer_is_swa(c, l) ? keys_window(T, c->sliding_window) : keys_causal(T));
            break;
        default: break; // Mamba's scan and conv are elementwise work, not counted (§10.1)
        }
    }
    return 2.0 * (double)pt->n_matmul + core;
}

double params_train_flops_per_token(const param_table *pt, int T) { return 3.0 * params_forward_flops_per_token(pt, T); }
