// swa_attention.c: sliding-window causal attention (D1): query i sees keys i - window < j <= i, GQA.
#include <math.h>
#include <string.h>

#include "attention_row.h"
#include "ops.h"

// First key of query i's window; window >= i + 1 (plain causal) gives 0.
static inline int window_start(int i, int window) { return i - window + 1 > 0 ? i - window + 1 : 0; }

ATT_INLINE void swa_forward_body(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                                 int T, int n_h, int n_kv, int d, int window) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv; // query heads per KV head
    const size_t stride = (size_t)n_kv * d; // floats between consecutive positions of k / v
    float acc[d];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            const float *kb = k + ((size_t)b * T * n_kv + g) * d, *vb = v + ((size_t)b * T * n_kv + g) * d;
            for (int i = 0; i < T; i++) {
                const float *qi = q + (((size_t)b * T + i) * n_h + h) * d;
                float *oi = out + (((size_t)b * T + i) * n_h + h) * d;
                memset(acc, 0, sizeof acc);
                softmax_state st = {-INFINITY, 0.0f};
                const int j0 = window_start(i, window);
                softmax_push_run(&st, qi, kb, vb, stride, (key_run){j0, 1, i - j0 + 1}, scale, acc, d);
                lse[((size_t)b * n_h + h) * T + i] = softmax_finish(&st, acc, oi, d);
            }
        }
}

SCOUT_SIMD_CLONES
void swa_attention_forward_cpu(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                               int T, int n_h, int n_kv, int d, int window) {
#define FWD(D) swa_forward_body(out, lse, q, k, v, B, T, n_h, n_kv, D, window)
    ATT_DISPATCH_D(d, FWD);
#undef FWD
}

ATT_INLINE void swa_backward_body(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                  const float *k, const float *v, const float *out, const float *lse, int B,
                                  int T, int n_h, int n_kv, int d, int window) {
    const float scale = 1.0f / sqrtf((float)d);
    const int group = n_h / n_kv;
    const size_t stride = (size_t)n_kv * d;
    float qi[d], dOi[d], dqi[d];
    // dk and dv collect contributions from every query (and every head of the group) that saw the key.
    memset(dk, 0, (size_t)B * T * n_kv * d * sizeof(float));
    memset(dv, 0, (size_t)B * T * n_kv * d * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < n_h; h++) {
            const int g = h / group;
            const size_t kvb = ((size_t)b * T * n_kv + g) * d;
            for (int i = 0; i < T; i++) {
                size_t qo = (((size_t)b * T + i) * n_h + h) * d;
                float row_lse = lse[((size_t)b * n_h + h) * T + i];
                float delta = dot_(dout + qo, out + qo, d); // sum_j p_j dp_j = dO . o
                memcpy(qi, q + qo, sizeof qi);
                memcpy(dOi, dout + qo, sizeof dOi);
                memset(dqi, 0, sizeof dqi);
                const int j0 = window_start(i, window);
                attention_run_backward(qi, dOi, dqi, k + kvb, v + kvb, dk + kvb, dv + kvb, stride,
                                       (key_run){j0, 1, i - j0 + 1}, row_lse, delta, scale, d);
                memcpy(dq + qo, dqi, sizeof dqi);
            }
        }
}

SCOUT_SIMD_CLONES
void swa_attention_backward_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                const float *k, const float *v, const float *out, const float *lse, void *ws,
                                int B, int T, int n_h, int n_kv, int d, int window) {
    (void)ws;
#define BWD(D) swa_backward_body(dq, dk, dv, dout, q, k, v, out, lse, B, T, n_h, n_kv, D, window)
    ATT_DISPATCH_D(d, BWD);
#undef BWD
}

// dk/dv are reduced in place in fp32 on CPU; a GPU needs fp32 accumulators for its bf16 dq/dk/dv.
size_t swa_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d) {
    (void)B, (void)T, (void)n_h, (void)n_kv, (void)d;
    return 0;
}
