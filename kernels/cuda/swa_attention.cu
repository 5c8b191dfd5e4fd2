// swa_attention.cu: sliding-window causal attention (D1): query i attends to keys i - window < j <= i, one
// softmax, scale 1/sqrt(d) before the running max, GQA; forward (out, lse) and backward (dq, dk, dv).
//
// The kernels are attention.cuh's, with the SwaKeys policy: a tile of queries [q0, q1) loads only the key tiles
// of [q0 - window + 1, q1 - 1] (flash-attention's local case, (left, right) = (window - 1, 0)), so the cost is
// O(T * window * d) and nothing of size T x T exists; only the tiles on the diagonal and on the window's left
// edge are masked. window >= T is plain causal attention (the qwen2 baselines). The dk/dv kernel visits, per
// tile of keys [k0, k1), the query tiles of [k0, k1 - 1 + window - 1] of every head of the GQA group.
#include "cuda/attention.cuh"

extern "C" void swa_attention_forward_cuda(void *out, float *lse, const void *q, const void *k, const void *v,
                                           int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d,
                                           int window, cudaStream_t stream) {
    scout_require(window >= 1, "swa_attention: window %d < 1", window);
    // reverse: the last query tiles see the most keys when the window is not full (causal attention, the
    // first window of a sequence), so they start first and the tail is short.
    attn::attention_forward(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, attn::SwaKeys{T, window}, 1,
                            stream);
}

// Workspace: Delta = rowsum(dO o O), [B, n_h, T] fp32.
extern "C" size_t swa_attention_backward_workspace_size_cuda(int B, int T, int n_h, int n_kv, int d) {
    return attn::attention_backward_workspace(B, T, n_h, n_kv, d, attn::SwaKeys{T, 1}); // no split: Delta only
}

extern "C" void swa_attention_backward_cuda(void *dq, void *dk, void *dv, const void *dout, const void *q,
                                            const void *k, const void *v, const void *out, const float *lse, void *ws,
                                            int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d,
                                            int window, float rope_theta, cudaStream_t stream) {
    scout_require(window >= 1, "swa_attention: window %d < 1", window);
    attn::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, ws, q_stride, kv_stride, B, T, n_h, n_kv, d,
                             attn::SwaKeys{T, window}, 1, rope_theta, stream);
}
