// swa_attention.c: sliding-window causal attention (D1): query i sees keys i - window < j <= i, GQA.
#include <math.h>
#include <string.h>

#include "attention_row.h"
#include "ops.h"

// First key of query i's window; window >= i + 1 (plain causal) gives 0.
static inline int window_start(int i, int window) { return i - window + 1 > 0 ? i - window + 1 : 0; }

void swa_attention_forward_cpu(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                               int T, int n_h, int n_kv, int d, int window) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv; // query heads per KV head
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            for (int i = 0; i < T; i++) {
                const float *qi = q + (((size_t)b * T + i) * n_h + h) * d;
                float *oi = out + (((size_t)b * T + i) * n_h + h) * d;
                memset(oi, 0, (size_t)d * sizeof(float));
                softmax_state st = {-INFINITY, 0.0f};
                for (int j = window_start(i, window); j <= i; j++) {
                    size_t kv = (((size_t)b * T + j) * n_kv + g) * d;
                    softmax_push(&st, dot_(qi, k + kv, d) * scale, v + kv, oi, d);
                }
                lse[((size_t)b * n_h + h) * T + i] = softmax_finish(&st, oi, d);
            }
        }
}

void swa_attention_backward_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                const float *k, const float *v, const float *out, const float *lse, void *ws,
                                int B, int T, int n_h, int n_kv, int d, int window) {
    (void)ws;
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv;
    // dk and dv collect contributions from every query (and every head of the group) that saw the key.
    memset(dq, 0, (size_t)B * T * n_h * d * sizeof(float));
    memset(dk, 0, (size_t)B * T * n_kv * d * sizeof(float));
    memset(dv, 0, (size_t)B * T * n_kv * d * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            for (int i = 0; i < T; i++) {
                size_t qo = (((size_t)b * T + i) * n_h + h) * d;
                float row_lse = lse[((size_t)b * n_h + h) * T + i];
                float delta = dot_(dout + qo, out + qo, d); // sum_j p_j dp_j = dO . o
                for (int j = window_start(i, window); j <= i; j++) {
                    size_t kv = (((size_t)b * T + j) * n_kv + g) * d;
                    attention_key_backward(q + qo, k + kv, v + kv, dout + qo, row_lse, delta, scale, dq + qo,
                                           dk + kv, dv + kv, d);
                }
            }
        }
}

// dk/dv are reduced in place in fp32 on CPU; a GPU needs fp32 accumulators for its bf16 dq/dk/dv.
size_t swa_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d) {
    (void)B, (void)T, (void)n_h, (void)n_kv, (void)d;
    return 0;
}
