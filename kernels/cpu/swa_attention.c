// swa_attention.c: sliding-window causal attention (D1): query i sees keys i - window < j <= i, GQA. The
// forward and backward are attention_row.h's, over the key set below.
#include "attention_row.h"
#include "ops.h"

// The window j0, ..., i with j0 = max(0, i - window + 1) (window >= i + 1, plain causal, gives 0); no seed.
ATT_INLINE key_set swa_keys(int i, int window) {
    const int j0 = i - window + 1 > 0 ? i - window + 1 : 0;
    return (key_set){0, {j0, 1, i - j0 + 1}};
}

SCOUT_SIMD_CLONES
void swa_attention_forward_cpu(float *out, float *lse, const float *q, const float *k, const float *v, int q_stride,
                               int kv_stride, int B, int T, int n_h, int n_kv, int d, int window) {
    attention_forward(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, swa_keys, window);
}

SCOUT_SIMD_CLONES
void swa_attention_backward_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                const float *v, const float *out, const float *lse, void *ws, int q_stride,
                                int kv_stride, int B, int T, int n_h, int n_kv, int d, int window, float rope_theta) {
    attention_backward(dq, dk, dv, dout, q, k, v, out, lse, q_stride, kv_stride, B, T, n_h, n_kv, d, swa_keys, window);
    attention_rope_backward(dq, dk, q_stride, kv_stride, B, T, n_h, n_kv, d, rope_theta);
}

// dk/dv are reduced in place in fp32 on CPU; a GPU needs fp32 accumulators for its bf16 dq/dk/dv.
size_t swa_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d) {
    (void)B, (void)T, (void)n_h, (void)n_kv, (void)d;
    return 0;
}
