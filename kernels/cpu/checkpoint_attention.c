// checkpoint_attention.c: SCOUT checkpoint attention (D2, spec §6.7): query i attends to itself and to the
// checkpoints c = seg-1, 2seg-1, ... with c < i, under one softmax; GQA.
#include <math.h>
#include <string.h>

#include "attention_row.h"
#include "ops.h"

void checkpoint_attention_forward_cpu(float *out, float *lse, const float *q, const float *k, const float *v,
                                      int B, int T, int n_h, int n_kv, int d, int seg) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            for (int i = 0; i < T; i++) {
                const float *qi = q + (((size_t)b * T + i) * n_h + h) * d;
                float *oi = out + (((size_t)b * T + i) * n_h + h) * d;
                size_t self = (((size_t)b * T + i) * n_kv + g) * d;
                // Seeded with the self term (spec §6.7): m = its logit, l = 1, acc = v_i. A query that is
                // itself a checkpoint does not meet itself again below, since the loop stops at c < i.
                softmax_state st = {dot_(qi, k + self, d) * scale, 1.0f};
                memcpy(oi, v + self, (size_t)d * sizeof(float));
                for (int c = seg - 1; c < i; c += seg) {
                    size_t kv = (((size_t)b * T + c) * n_kv + g) * d;
                    softmax_push(&st, dot_(qi, k + kv, d) * scale, v + kv, oi, d);
                }
                lse[((size_t)b * n_h + h) * T + i] = softmax_finish(&st, oi, d);
            }
        }
}

// Two sources feed dk/dv (spec §6.7): the self term touches every position once per query head, the
// checkpoint term touches only checkpoints and accumulates over all queries i > c.
void checkpoint_attention_backward_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                       const float *k, const float *v, const float *out, const float *lse,
                                       void *ws, int B, int T, int n_h, int n_kv, int d, int seg) {
    (void)ws;
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv;
    memset(dq, 0, (size_t)B * T * n_h * d * sizeof(float));
    memset(dk, 0, (size_t)B * T * n_kv * d * sizeof(float));
    memset(dv, 0, (size_t)B * T * n_kv * d * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            for (int i = 0; i < T; i++) {
                size_t qo = (((size_t)b * T + i) * n_h + h) * d;
                float row_lse = lse[((size_t)b * n_h + h) * T + i];
                float delta = dot_(dout + qo, out + qo, d);
                size_t self = (((size_t)b * T + i) * n_kv + g) * d;
                attention_key_backward(q + qo, k + self, v + self, dout + qo, row_lse, delta, scale, dq + qo,
                                       dk + self, dv + self, d);
                for (int c = seg - 1; c < i; c += seg) {
                    size_t kv = (((size_t)b * T + c) * n_kv + g) * d;
                    attention_key_backward(q + qo, k + kv, v + kv, dout + qo, row_lse, delta, scale, dq + qo,
                                           dk + kv, dv + kv, d);
                }
            }
        }
}

// As for the SWA: fp32 in-place reduction on CPU; a GPU needs fp32 accumulators for its bf16 gradients.
size_t checkpoint_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d) {
    (void)B, (void)T, (void)n_h, (void)n_kv, (void)d;
    return 0;
}
