// attention_row.h: the per-(query, key) steps shared by swa_attention.c and checkpoint_attention.c
// (internal to kernels/cpu). Both attentions are "one softmax over a key set S_i"; they differ only in
// how S_i is enumerated, so the forward is an online softmax fed key by key and the backward visits the
// same keys again, recomputing each probability from the saved log-sum-exp (no T x T anything).
#ifndef SCOUT_ATTENTION_ROW_H
#define SCOUT_ATTENTION_ROW_H

#include <math.h>

static inline float dot_(const float *a, const float *b, int d) {
    float s = 0.0f;
    for (int i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}

// Running state of one query row: max m of the scaled logits seen so far, l = sum exp(logit - m), and the
// unnormalised output acc = sum exp(logit - m) v (kept in the output row itself).
typedef struct {
    float m, l;
} softmax_state;

// Adds key (logit, v) to the row. The first push must see m = -INFINITY, l = 0, acc = 0, or a seeded state.
static inline void softmax_push(softmax_state *st, float logit, const float *v, float *acc, int d) {
    if (logit > st->m) {
        float rescale = expf(st->m - logit); // 0 when m is still -inf
        st->l *= rescale;
        for (int i = 0; i < d; i++) acc[i] *= rescale;
        st->m = logit;
    }
    float p = expf(logit - st->m);
    st->l += p;
    for (int i = 0; i < d; i++) acc[i] += p * v[i];
}

// Normalises acc into the output row and returns the row's log-sum-exp.
static inline float softmax_finish(const softmax_state *st, float *acc, int d) {
    float inv = 1.0f / st->l;
    for (int i = 0; i < d; i++) acc[i] *= inv;
    return st->m + logf(st->l);
}

// Backward through one key j of query i (spec §6.7): p = exp(scale q.k - lse), dp = dO.v,
// dlogit = p (dp - delta) with delta = dO.o; dq += scale dlogit k; dk += scale dlogit q; dv += p dO.
static inline void attention_key_backward(const float *qi, const float *kj, const float *vj, const float *dOi,
                                          float lse, float delta, float scale, float *dqi, float *dkj,
                                          float *dvj, int d) {
    float p = expf(dot_(qi, kj, d) * scale - lse);
    float dlogit = p * (dot_(dOi, vj, d) - delta) * scale;
    for (int i = 0; i < d; i++) {
        dqi[i] += dlogit * kj[i];
        dkj[i] += dlogit * qi[i];
        dvj[i] += p * dOi[i];
    }
}

#endif
