// attention_row.h: one query row of attention over a key set, forward and backward, shared by
// swa_attention.c and checkpoint_attention.c (internal to kernels/cpu). Both attentions are "one softmax over
// a key set S_i"; they differ only in how S_i is enumerated, and both enumerate it as arithmetic progressions
// of key positions (the window j0, j0+1, ..., i; the checkpoints seg-1, 2seg-1, ...). The forward is an
// online softmax fed a tile of keys at a time and the backward visits the same keys again, recomputing each
// probability from the saved log-sum-exp (no T x T anything).
//
// Speed, with the results fixed by d and the key set alone (deterministic, and the same in every SIMD clone):
// - the logits of a tile are formed first (dot_: DOT_LANES independent partial sums, so they vectorise and
//   do not wait on one long chain of adds), then their exps in one vectorised pass (fast_expf_), then the
//   d-long updates;
// - the row's accumulators (the forward's output, the backward's dq) and the backward's copies of q_i and
//   dO_i are local arrays, so the d-long loops need no run-time aliasing checks against k, v, dk, dv;
// - ATT_DISPATCH_D instantiates the callers for the usual head dims as compile-time constants, so those
//   loops are unrolled with no remainder handling.
#ifndef SCOUT_ATTENTION_ROW_H
#define SCOUT_ATTENTION_ROW_H

#include <math.h>
#include <stddef.h>

#include "cpu_math.h"

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

#endif
