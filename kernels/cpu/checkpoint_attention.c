// checkpoint_attention.c: SCOUT checkpoint attention (D2, spec §6.7): query i attends to itself and to the
// checkpoints c = seg-1, 2seg-1, ... with c < i, under one softmax; GQA.
#include <math.h>
#include <string.h>

#include "attention_row.h"
#include "ops.h"

ATT_INLINE void ckpt_forward_body(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                                  int T, int n_h, int n_kv, int d, int seg) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv;
    const size_t stride = (size_t)n_kv * d; // floats between consecutive positions of k / v
    float acc[d];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            const float *kb = k + ((size_t)b * T * n_kv + g) * d, *vb = v + ((size_t)b * T * n_kv + g) * d;
            for (int i = 0; i < T; i++) {
                const float *qi = q + (((size_t)b * T + i) * n_h + h) * d;
                float *oi = out + (((size_t)b * T + i) * n_h + h) * d;
                // Seeded with the self term (spec §6.7): m = its logit, l = 1, acc = v_i. A query that is
                // itself a checkpoint does not meet itself again below: the checkpoints taken are those < i.
                softmax_state st = {dot_(qi, kb + (size_t)i * stride, d) * scale, 1.0f};
                memcpy(acc, vb + (size_t)i * stride, sizeof acc);
                // The checkpoints c = seg-1, 2seg-1, ... below i: i / seg of them.
                softmax_push_run(&st, qi, kb, vb, stride, (key_run){seg - 1, seg, i / seg}, scale, acc, d);
                lse[((size_t)b * n_h + h) * T + i] = softmax_finish(&st, acc, oi, d);
            }
        }
}

SCOUT_SIMD_CLONES
void checkpoint_attention_forward_cpu(float *out, float *lse, const float *q, const float *k, const float *v,
                                      int B, int T, int n_h, int n_kv, int d, int seg) {
#define FWD(D) ckpt_forward_body(out, lse, q, k, v, B, T, n_h, n_kv, D, seg)
    ATT_DISPATCH_D(d, FWD);
#undef FWD
}

// Two sources feed dk/dv (spec §6.7): the self term touches every position once per query head, the
// checkpoint term touches only checkpoints and accumulates over all queries i > c.
ATT_INLINE void ckpt_backward_body(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                   const float *k, const float *v, const float *out, const float *lse, int B,
                                   int T, int n_h, int n_kv, int d, int seg) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv;
    const size_t stride = (size_t)n_kv * d;
    float qi[d], dOi[d], dqi[d];
    memset(dk, 0, (size_t)B * T * n_kv * d * sizeof(float));
    memset(dv, 0, (size_t)B * T * n_kv * d * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            const size_t kvb = ((size_t)b * T * n_kv + g) * d;
            for (int i = 0; i < T; i++) {
                size_t qo = (((size_t)b * T + i) * n_h + h) * d;
                float row_lse = lse[((size_t)b * n_h + h) * T + i];
                float delta = dot_(dout + qo, out + qo, d);
                memcpy(qi, q + qo, sizeof qi);
                memcpy(dOi, dout + qo, sizeof dOi);
                memset(dqi, 0, sizeof dqi);
                attention_run_backward(qi, dOi, dqi, k + kvb, v + kvb, dk + kvb, dv + kvb, stride,
                                       (key_run){i, 1, 1}, row_lse, delta, scale, d); // self
                attention_run_backward(qi, dOi, dqi, k + kvb, v + kvb, dk + kvb, dv + kvb, stride,
                                       (key_run){seg - 1, seg, i / seg}, row_lse, delta, scale, d);
                memcpy(dq + qo, dqi, sizeof dqi);
            }
        }
}

SCOUT_SIMD_CLONES
void checkpoint_attention_backward_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                       const float *k, const float *v, const float *out, const float *lse,
                                       void *ws, int B, int T, int n_h, int n_kv, int d, int seg) {
    (void)ws;
#define BWD(D) ckpt_backward_body(dq, dk, dv, dout, q, k, v, out, lse, B, T, n_h, n_kv, D, seg)
    ATT_DISPATCH_D(d, BWD);
#undef BWD
}

// As for the SWA: fp32 in-place reduction on CPU; a GPU needs fp32 accumulators for its bf16 gradients.
size_t checkpoint_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d) {
    (void)B, (void)T, (void)n_h, (void)n_kv, (void)d;
    return 0;
}
