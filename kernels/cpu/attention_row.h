// attention_row.h: the attention of swa_attention.c (D1) and checkpoint_attention.c (D2), forward and
// backward, internal to kernels/cpu. Both are "one softmax over a key set S_i"; they differ only in how S_i is
// enumerated, which each file answers with a key_set_fn (swa_keys, ckpt_keys, as the CUDA side's SwaKeys /
// CkptKeys policies): for query i, whether the softmax is seeded with the self term, and one arithmetic
// progression of key positions (the window j0, j0+1, ..., i; the checkpoints seg-1, 2seg-1, ...). Everything
// else, attention_forward / attention_backward below, is shared. The forward is an online softmax fed a tile
// of keys at a time and the backward visits the same keys again, recomputing each probability from the saved
// log-sum-exp (no T x T anything).
//
// Speed, with the results fixed by d and the key set alone (deterministic, and the same in every SIMD clone):
// - the logits of a tile are formed first (dot_: DOT_LANES independent partial sums, so they vectorise and
//   do not wait on one long chain of adds), then their exps in one vectorised pass (fast_expf_), then the
//   d-long updates;
// - the row's accumulators (the forward's output, the backward's dq) and the backward's copies of q_i and
//   dO_i are local arrays, so the d-long loops need no run-time aliasing checks against k, v, dk, dv;
// - attention_forward / attention_backward instantiate their bodies for the usual head dims as compile-time
//   constants (ATT_DISPATCH_D), so those loops are unrolled with no remainder handling; the bodies, and the
//   key_set_fn passed as a constant by the entry points, are inlined, so the key set costs no call.
#ifndef SCOUT_ATTENTION_ROW_H
#define SCOUT_ATTENTION_ROW_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "cpu_math.h"
#include "ops.h"

#define ATT_TILE 64 // keys per tile: logits and probabilities live on the stack

#define ATT_INLINE static inline __attribute__((always_inline))

// Runs BODY(D) with D the head dim d: a constant for the head dims of the SCOUT configs (16, 32, 64, 128),
// d itself otherwise. BODY must be inlined (ATT_INLINE) for the constant to reach its loops.
#define ATT_DISPATCH_D(d, BODY)                                                                                  \
    do {                                                                                                       \
        switch (d) {                                                                                           \
        case 16: BODY(16); break;                                                                              \
        case 32: BODY(32); break;                                                                              \
        case 64: BODY(64); break;                                                                              \
        case 128: BODY(128); break;                                                                            \
        default: BODY(d); break;                                                                               \
        }                                                                                                      \
    } while (0)

// y += a x over d elements.
ATT_INLINE void axpy_(float *y, float a, const float *x, int d) {
    for (int i = 0; i < d; i++) y[i] += a * x[i];
}

// Running state of one query row: max m of the scaled logits seen so far, l = sum exp(logit - m), and the
// unnormalised output acc = sum exp(logit - m) v.
typedef struct {
    float m, l;
} softmax_state;

// A key set: positions j0, j0 + step, ..., count of them; key (and value) position j starts at
// base + j * stride floats.
typedef struct {
    int j0, step, count;
} key_run;

// The key set S_i of query i, in the order the row visits it: with self_seed, the query's own key i first,
// seeding the softmax (m = its logit, l = 1, acc = v_i; spec §6.7), then the keys of run.
typedef struct {
    int self_seed;
    key_run run;
} key_set;

// S_i from i and the op's parameter (the window, the checkpoint spacing).
typedef key_set (*key_set_fn)(int i, int param);

// Adds the keys of `run` to the row. The first call must see m = -INFINITY, l = 0, acc = 0, or a seeded
// state.
ATT_INLINE void softmax_push_run(softmax_state *st, const float *qi, const float *k, const float *v,
                                 size_t stride, key_run run, float scale, float *acc, int d) {
    float logit[ATT_TILE], p[ATT_TILE];
    for (int t0 = 0; t0 < run.count; t0 += ATT_TILE) {
        const int n = run.count - t0 < ATT_TILE ? run.count - t0 : ATT_TILE;
        float mt = st->m;
        for (int t = 0; t < n; t++) {
            size_t off = (size_t)(run.j0 + (t0 + t) * run.step) * stride;
            logit[t] = dot_(qi, k + off, d) * scale;
            mt = logit[t] > mt ? logit[t] : mt;
        }
        if (mt > st->m) { // a new max: rescale what is there (exp(-inf) = 0 on the first tile)
            float rescale = fast_expf_(st->m - mt);
            st->l *= rescale;
            for (int i = 0; i < d; i++) acc[i] *= rescale;
            st->m = mt;
        }
        const float m = st->m;
        for (int t = 0; t < n; t++) p[t] = fast_expf_(logit[t] - m);
        float l = st->l;
        for (int t = 0; t < n; t++) {
            l += p[t];
            axpy_(acc, p[t], v + (size_t)(run.j0 + (t0 + t) * run.step) * stride, d);
        }
        st->l = l;
    }
}

// Writes the normalised acc into the output row and returns the row's log-sum-exp.
ATT_INLINE float softmax_finish(const softmax_state *st, const float *acc, float *out, int d) {
    float inv = 1.0f / st->l;
    for (int i = 0; i < d; i++) out[i] = acc[i] * inv;
    return st->m + logf(st->l);
}

// Backward through the keys of `run` for query i (spec §6.7): p = exp(scale q.k - lse), dp = dO.v,
// dlogit = p (dp - delta) with delta = dO.o; dq += scale dlogit k; dk += scale dlogit q; dv += p dO.
// qi / dOi are the row's copies, dq_acc its accumulator; dk / dv rows sit at the same offsets as k / v.
ATT_INLINE void attention_run_backward(const float *qi, const float *dOi, float *dq_acc, const float *k,
                                       const float *v, float *dk, float *dv, size_t stride, key_run run,
                                       float lse, float delta, float scale, int d) {
    float s[ATT_TILE], dp[ATT_TILE];
    for (int t0 = 0; t0 < run.count; t0 += ATT_TILE) {
        const int n = run.count - t0 < ATT_TILE ? run.count - t0 : ATT_TILE;
        for (int t = 0; t < n; t++) {
            size_t off = (size_t)(run.j0 + (t0 + t) * run.step) * stride;
            s[t] = dot_(qi, k + off, d) * scale;
            dp[t] = dot_(dOi, v + off, d);
        }
        for (int t = 0; t < n; t++) {
            float p = fast_expf_(s[t] - lse);
            s[t] = p;                            // p
            dp[t] = p * (dp[t] - delta) * scale; // scale * dlogit
        }
        for (int t = 0; t < n; t++) {
            size_t off = (size_t)(run.j0 + (t0 + t) * run.step) * stride;
            axpy_(dq_acc, dp[t], k + off, d);
            axpy_(dk + off, dp[t], qi, d);
            axpy_(dv + off, s[t], dOi, d);
        }
    }
}

ATT_INLINE void attention_forward_body(float *out, float *lse, const float *q, const float *k, const float *v,
                                       size_t q_stride, size_t kv_stride, int B, int T, int n_h, int n_kv, int d,
                                       key_set_fn keys, int param) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv; // query heads per KV head
    const size_t stride = kv_stride; // floats between consecutive positions of k / v
    float acc[d];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            const float *kb = k + (size_t)b * T * stride + (size_t)g * d,
                        *vb = v + (size_t)b * T * stride + (size_t)g * d;
            for (int i = 0; i < T; i++) {
                const float *qi = q + ((size_t)b * T + i) * q_stride + (size_t)h * d;
                float *oi = out + (((size_t)b * T + i) * n_h + h) * d;
                const key_set ks = keys(i, param);
                softmax_state st = {-INFINITY, 0.0f};
                if (ks.self_seed) {
                    st = (softmax_state){dot_(qi, kb + (size_t)i * stride, d) * scale, 1.0f};
                    memcpy(acc, vb + (size_t)i * stride, sizeof acc);
                } else {
                    memset(acc, 0, sizeof acc);
                }
                softmax_push_run(&st, qi, kb, vb, stride, ks.run, scale, acc, d);
                lse[((size_t)b * n_h + h) * T + i] = softmax_finish(&st, acc, oi, d);
            }
        }
}

// The forward of both attentions: out [B, T, n_h, d], lse [B, n_h, T] (see ops.h).
ATT_INLINE void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                                  int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d,
                                  key_set_fn keys, int param) {
#define FWD(D) attention_forward_body(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, D, keys, param)
    ATT_DISPATCH_D(d, FWD);
#undef FWD
}

// dk and dv collect contributions from every query (and every head of the group) that saw the key; with
// self_seed every position also gets its own query's self term.
ATT_INLINE void attention_backward_body(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                        const float *k, const float *v, const float *out, const float *lse,
                                        size_t q_stride, size_t kv_stride, int B, int T, int n_h, int n_kv, int d,
                                        key_set_fn keys, int param) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv;
    const size_t stride = kv_stride;
    float qi[d], dOi[d], dqi[d];
    // dk / dv are accumulated: zero their n_kv * d columns of every row (the rest of a strided row is not theirs)
    for (size_t r = 0; r < (size_t)B * T; r++) {
        memset(dk + r * stride, 0, (size_t)n_kv * d * sizeof(float));
        memset(dv + r * stride, 0, (size_t)n_kv * d * sizeof(float));
    }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            const size_t kvb = (size_t)b * T * stride + (size_t)g * d;
            for (int i = 0; i < T; i++) {
                const size_t qo = ((size_t)b * T + i) * q_stride + (size_t)h * d; // q, dq
                const size_t oo = (((size_t)b * T + i) * n_h + h) * d;             // out, dout: contiguous
                float row_lse = lse[((size_t)b * n_h + h) * T + i];
                float delta = dot_(dout + oo, out + oo, d); // sum_j p_j dp_j = dO . o
                memcpy(qi, q + qo, sizeof qi);
                memcpy(dOi, dout + oo, sizeof dOi);
                memset(dqi, 0, sizeof dqi);
                const key_set ks = keys(i, param);
                if (ks.self_seed)
                    attention_run_backward(qi, dOi, dqi, k + kvb, v + kvb, dk + kvb, dv + kvb, stride,
                                           (key_run){i, 1, 1}, row_lse, delta, scale, d);
                attention_run_backward(qi, dOi, dqi, k + kvb, v + kvb, dk + kvb, dv + kvb, stride, ks.run,
                                       row_lse, delta, scale, d);
                memcpy(dq + qo, dqi, sizeof dqi);
            }
        }
}

// The backward of both attentions: dq [B, T, n_h, d], dk / dv [B, T, n_kv, d], all written (see ops.h).
ATT_INLINE void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                   const float *k, const float *v, const float *out, const float *lse,
                                   int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d,
                                   key_set_fn keys, int param) {
#define BWD(D)                                                                                                    \
    attention_backward_body(dq, dk, dv, dout, q, k, v, out, lse, q_stride, kv_stride, B, T, n_h, n_kv, D, keys, param)
    ATT_DISPATCH_D(d, BWD);
#undef BWD
}

// rope_theta > 0: dq, dk back through RoPE at positions 0..T-1 (ops.h: what the caller would do next).
static inline void attention_rope_backward(float *dq, float *dk, int q_stride, int kv_stride, int B, int T, int n_h,
                                           int n_kv, int d, float rope_theta) {
    if (rope_theta <= 0.0f) return;
    rope_backward_cpu(dq, q_stride, B, T, n_h, d, 0, rope_theta);
    rope_backward_cpu(dk, kv_stride, B, T, n_kv, d, 0, rope_theta);
}

#endif
