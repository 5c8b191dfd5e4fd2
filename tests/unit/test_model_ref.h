// test_model_ref.h: what the model tests share: configs derived from configs/*.json with fields changed
// in memory, and a naive double-precision forward of every architecture written straight from
// spec/model.md (§6, §7, Appendix), independent of the op library, as the oracle of the gradient check.
//
// The oracle reads the parameters in the flat layout of params.h (offsets from the table), so the float
// model and the oracle see the same numbers. Everything is O(T^2) loops over one sequence at a time.
#ifndef SCOUT_TEST_MODEL_REF_H
#define SCOUT_TEST_MODEL_REF_H

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "rng.h"
#include "params.h"

// ---- configs --------------------------------------------------------------------------------------------

// Loads configs/<name>.json and applies overrides, a JSON object whose keys replace the file's (NULL: none).
static inline void ref_config(model_config *c, const char *name, const char *overrides) {
    char path[160], err[512];
    snprintf(path, sizeof path, "configs/%s.json", name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "%s: %s (run the tests from the repository root)\n", path, je.text);
        exit(1);
    }
    if (overrides) {
        json_t *o = json_loads(overrides, 0, &je);
        if (!o || json_object_update(j, o) != 0) {
            fprintf(stderr, "bad overrides %s: %s\n", overrides, je.text);
            exit(1);
        }
        json_decref(o);
    }
    char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (config_parse(c, text, strlen(text), path, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        exit(1);
    }
    free(text);
}

// ---- the double-precision oracle ------------------------------------------------------------------------

typedef struct ref_model {
    const model_config *c;
    const param_table *pt;
    const double *p; // [pt->n_floats] parameters in the flat layout
} ref_model;

static inline const double *ref_p(const ref_model *r, int layer, int role) {
    const param_tensor *t = params_get(r->pt, layer, role);
    return t ? r->p + t->offset : NULL;
}

// y[T, out] = x[T, in] W^T (+ b)
static inline void ref_linear(double *y, const double *x, const double *W, const double *b, int T, int in, int out) {
    for (int t = 0; t < T; t++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            const double *w = W + (size_t)o * in, *xr = x + (size_t)t * in;
            for (int i = 0; i < in; i++) s += xr[i] * w[i];
            y[(size_t)t * out + o] = s;
        }
}

static inline void ref_rmsnorm(double *y, const double *x, const double *w, int T, int H, double eps) {
    for (int t = 0; t < T; t++) {
        double ss = 0.0;
        for (int i = 0; i < H; i++) ss += x[(size_t)t * H + i] * x[(size_t)t * H + i];
        double r = 1.0 / sqrt(ss / H + eps);
        for (int i = 0; i < H; i++) y[(size_t)t * H + i] = x[(size_t)t * H + i] * r * w[i];
    }
}

static inline double ref_silu(double x) { return x / (1.0 + exp(-x)); }

// Rotate-half RoPE at positions 0..T-1 on [T, nh, d] (§6.5).
static inline void ref_rope(double *x, int T, int nh, int d, double theta) {
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            double *v = x + ((size_t)t * nh + h) * d;
            for (int j = 0; j < d / 2; j++) {
                double a = t * pow(theta, -2.0 * j / d), c = cos(a), s = sin(a);
                double x1 = v[j], x2 = v[j + d / 2];
                v[j] = x1 * c - x2 * s;
                v[j + d / 2] = x2 * c + x1 * s;
            }
        }
}

enum { REF_WINDOW = 0, REF_CHECKPOINT = 1 };

// Which keys query i sees: D1 window i - W < j <= i, or D2 self + checkpoints c = ms - 1 < i.
static inline int ref_visible(int kind, int param, int i, int j) {
    if (kind == REF_WINDOW) return j <= i && j > i - param;
    return j == i || (j < i && (j + 1) % param == 0);
}

// out[T, H] = attention branch of x[T, H]; first_role PR_MIX_Q or PR_CK_Q.
static inline void ref_attention(const ref_model *r, int l, int first_role, int kind, int param, const double *x, double *out,
                          int T) {
    const model_config *c = r->c;
    const int H = c->hidden_size, nh = c->n_heads, nkv = c->n_kv_heads, d = c->head_dim;
    const int QD = nh * d, KD = nkv * d;
    double *q = malloc(sizeof(double) * T * QD), *k = malloc(sizeof(double) * T * KD);
    double *v = malloc(sizeof(double) * T * KD), *o = malloc(sizeof(double) * T * QD), *p = malloc(sizeof(double) * T);
    const int bias = first_role == PR_MIX_Q;
    ref_linear(q, x, ref_p(r, l, first_role), bias ? ref_p(r, l, PR_MIX_Q_BIAS) : NULL, T, H, QD);
    ref_linear(k, x, ref_p(r, l, first_role + 1), bias ? ref_p(r, l, PR_MIX_K_BIAS) : NULL, T, H, KD);
    ref_linear(v, x, ref_p(r, l, first_role + 2), bias ? ref_p(r, l, PR_MIX_V_BIAS) : NULL, T, H, KD);
    ref_rope(q, T, nh, d, c->rope_theta);
    ref_rope(k, T, nkv, d, c->rope_theta);
    for (int h = 0; h < nh; h++) {
        const int kh = h / (nh / nkv); // GQA
        for (int i = 0; i < T; i++) {
            double mx = -INFINITY, sum = 0.0;
            for (int j = 0; j < T; j++) {
                p[j] = -INFINITY;
                if (!ref_visible(kind, param, i, j)) continue;
                double s = 0.0;
                for (int e = 0; e < d; e++) s += q[((size_t)i * nh + h) * d + e] * k[((size_t)j * nkv + kh) * d + e];
                p[j] = s / sqrt((double)d);
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j < T; j++) sum += p[j] == -INFINITY ? 0.0 : exp(p[j] - mx);
            double *oi = o + ((size_t)i * nh + h) * d;
            for (int e = 0; e < d; e++) oi[e] = 0.0;
            for (int j = 0; j < T; j++) {
                if (p[j] == -INFINITY) continue;
                double w = exp(p[j] - mx) / sum;
                for (int e = 0; e < d; e++) oi[e] += w * v[((size_t)j * nkv + kh) * d + e];
            }
        }
    }
    ref_linear(out, o, ref_p(r, l, first_role + 3), NULL, T, QD, H);
    free(q), free(k), free(v), free(o), free(p);
}

static inline void ref_mlp(const ref_model *r, int l, int first_role, const double *x, double *out, int T) {
    const int H = r->c->hidden_size, I = r->c->intermediate_size;
    double *g = malloc(sizeof(double) * T * I), *u = malloc(sizeof(double) * T * I);
    ref_linear(g, x, ref_p(r, l, first_role), NULL, T, H, I);
    ref_linear(u, x, ref_p(r, l, first_role + 1), NULL, T, H, I);
    for (size_t i = 0; i < (size_t)T * I; i++) g[i] = ref_silu(g[i]) * u[i];
    ref_linear(out, g, ref_p(r, l, first_role + 2), NULL, T, I, H);
    free(g), free(u);
}

// Mamba-1 mixer, §7.2 steps 1-9.
static inline void ref_mamba(const ref_model *r, int l, const double *x, double *out, int T) {
    const model_config *c = r->c;
    const int H = c->hidden_size, E = c->mamba_inner, S = c->state_size, R = c->dt_rank, K = c->conv_kernel;
    const int XD = R + 2 * S;
    double *xz = malloc(sizeof(double) * T * 2 * E), *u = malloc(sizeof(double) * T * E);
    double *xd = malloc(sizeof(double) * T * XD), *dt = malloc(sizeof(double) * T * E);
    double *y = malloc(sizeof(double) * T * E), *h = calloc((size_t)E * S, sizeof(double));
    const double *cw = ref_p(r, l, PR_MAMBA_CONV_W), *cb = ref_p(r, l, PR_MAMBA_CONV_B);
    const double *dtb = ref_p(r, l, PR_MAMBA_DT_B), *Alog = ref_p(r, l, PR_MAMBA_A_LOG), *D = ref_p(r, l, PR_MAMBA_D);
    ref_linear(xz, x, ref_p(r, l, PR_MAMBA_IN), NULL, T, H, 2 * E);
    for (int t = 0; t < T; t++)
        for (int e = 0; e < E; e++) {
            double s = cb ? cb[e] : 0.0;
            for (int j = 0; j < K; j++) {
                int tt = t - K + 1 + j;
                if (tt >= 0) s += cw[(size_t)e * K + j] * xz[(size_t)tt * 2 * E + e];
            }
            u[(size_t)t * E + e] = ref_silu(s);
        }
    ref_linear(xd, u, ref_p(r, l, PR_MAMBA_X), NULL, T, E, XD);
    double *dtin = malloc(sizeof(double) * T * R);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < R; i++) dtin[(size_t)t * R + i] = xd[(size_t)t * XD + i];
    ref_linear(dt, dtin, ref_p(r, l, PR_MAMBA_DT_W), NULL, T, R, E);
    for (int t = 0; t < T; t++) {
        const double *Bt = xd + (size_t)t * XD + R, *Ct = Bt + S;
        for (int e = 0; e < E; e++) {
            double z = dt[(size_t)t * E + e] + dtb[e];
            double delta = z > 20.0 ? z : log1p(exp(z)); // softplus, identity above 20 (mamba-ssm)
            double ue = u[(size_t)t * E + e], acc = D[e] * ue;
            for (int n = 0; n < S; n++) {
                double A = -exp(Alog[(size_t)e * S + n]);
                double *hs = &h[(size_t)e * S + n];
                *hs = exp(delta * A) * *hs + delta * Bt[n] * ue;
                acc += Ct[n] * *hs;
            }
            y[(size_t)t * E + e] = acc * ref_silu(xz[(size_t)t * 2 * E + E + e]);
        }
    }
    ref_linear(out, y, ref_p(r, l, PR_MAMBA_OUT), NULL, T, E, H);
    free(xz), free(u), free(xd), free(dt), free(y), free(h), free(dtin);
}

// Mean cross-entropy over B*T positions of the whole model (Appendix of spec/model.md).
static inline double ref_loss(const ref_model *r, const int32_t *in, const int32_t *tgt, int B, int T) {
    const model_config *c = r->c;
    const int H = c->hidden_size, V = c->vocab_size;
    const double eps = c->norm_eps;
    static const int norm_role[4] = {PR_NORM1, PR_NORM2, PR_NORM3, PR_NORM4};
    double *h = malloc(sizeof(double) * T * H), *xn = malloc(sizeof(double) * T * H);
    double *o = malloc(sizeof(double) * T * H), *logits = malloc(sizeof(double) * V);
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const double *emb = ref_p(r, -1, PR_EMBED);
        for (int t = 0; t < T; t++) memcpy(h + (size_t)t * H, emb + (size_t)in[b * T + t] * H, sizeof(double) * H);
        for (int l = 0; l < c->n_layers; l++) {
            int nb = c->arch == ARCH_MAMBA ? 1 : c->arch == ARCH_QWEN2 ? 2 : 4;
            for (int br = 0; br < nb; br++) {
                ref_rmsnorm(xn, h, ref_p(r, l, norm_role[br]), T, H, eps);
                if (br == 0 && (c->arch == ARCH_MAMBA || c->arch == ARCH_SCOUT_MAMBA))
                    ref_mamba(r, l, xn, o, T);
                else if (br == 0)
                    ref_attention(r, l, PR_MIX_Q, REF_WINDOW, config_layer_is_swa(c, l) ? c->sliding_window : T, xn, o,
                                  T);
                else if (br == 2)
                    ref_attention(r, l, PR_CK_Q, REF_CHECKPOINT, c->selection_window, xn, o, T);
                else
                    ref_mlp(r, l, br == 1 ? PR_MLP1_GATE : PR_MLP2_GATE, xn, o, T);
                for (size_t i = 0; i < (size_t)T * H; i++) h[i] += o[i];
            }
        }
        ref_rmsnorm(xn, h, ref_p(r, -1, PR_FINAL_NORM), T, H, eps);
        const double *W = ref_p(r, -1, PR_LM_HEAD);
        for (int t = 0; t < T; t++) {
            ref_linear(logits, xn + (size_t)t * H, W, NULL, 1, H, V);
            double mx = -INFINITY, s = 0.0;
            for (int v = 0; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
            for (int v = 0; v < V; v++) s += exp(logits[v] - mx);
            total += mx + log(s) - logits[tgt[b * T + t]];
        }
    }
    free(h), free(xn), free(o), free(logits);
    return total / ((double)B * T);
}

// The model tests' random stream: sequential SplitMix64 from test_rng_state, which each test's main() seeds.
static uint64_t test_rng_state = 1;
static inline uint64_t rng_next(void) { return splitmix64_mix(test_rng_state += 0x9E3779B97F4A7C15ull); }
static inline void random_tokens(int32_t *t, int n, int V) {
    for (int i = 0; i < n; i++) t[i] = (int32_t)(rng_next() % (uint64_t)V);
}

#endif
