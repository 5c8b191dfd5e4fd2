// checkpoint_attention.cu: SCOUT checkpoint attention (D2, spec §6.7): query i attends to itself and to the
// checkpoints c = seg-1, 2seg-1, ... with c < i, under one softmax (self counted once), scale 1/sqrt(d), GQA;
// forward (out, lse) and backward (dq, dk, dv).
//
// The kernels are attention.cuh's, with the CkptKeys policy: keys are the compact checkpoint rows K[s-1::s],
// gathered row by row into key tiles, and a query tile [q0, q1) needs only the first floor((q1 - 1) / s) of
// them; only the last one or two tiles cross the per-row bound "first floor(i / s) checkpoints" and are
// masked. The online softmax starts from the self term (running max = q_i.k_i scale, sum = 1, accumulator =
// v_i), so no diagonal mask exists. Query tiles run last-first: late queries see the most checkpoints.
// Backward: dq per query tile (self term included); dk/dv of the checkpoint rows by key tiles that loop over
// the later query tiles (cut into up to 8 chunks of >= 1024 queries, one block each, summed in chunk order by
// a small kernel: one block per key tile left the GPU waiting on the first tiles) and the GQA heads, the rows'
// own self term being one more pair; every other row has only its self term, written by the dq kernel (or
// with GQA, whose dk/dv sum over the group's heads, by a row kernel). Cost
// O(T * (T/s + 1) * d).
#include "cuda/attention.cuh"

extern "C" void checkpoint_attention_forward_cuda(void *out, float *lse, const void *q, const void *k, const void *v,
                                                  int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d,
                                                  int seg, cudaStream_t stream) {
    scout_require(seg >= 1, "checkpoint_attention: segment %d < 1", seg);
    attn::attention_forward(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, attn::CkptKeys{T, seg}, 1,
                            stream);
}

// Workspace: Delta = rowsum(dO o O), [B, n_h, T] fp32, and the fp32 partial sums of the dk/dv kernel's split
// over queries (attention.cuh, dkdv_split_chunk): 2 x (up to 8) x B x n_kv x (T / seg) x d floats when T > 1024.
extern "C" size_t checkpoint_attention_backward_workspace_size_cuda(int B, int T, int n_h, int n_kv, int d, int seg) {
    scout_require(seg >= 1, "checkpoint_attention: segment %d < 1", seg);
    return attn::attention_backward_workspace(B, T, n_h, n_kv, d, attn::CkptKeys{T, seg});
}

extern "C" void checkpoint_attention_backward_cuda(void *dq, void *dk, void *dv, const void *dout, const void *q,
                                                   const void *k, const void *v, const void *out, const float *lse,
                                                   void *ws, int q_stride, int kv_stride, int B, int T, int n_h,
                                                   int n_kv, int d, int seg, float rope_theta, cudaStream_t stream) {
    scout_require(seg >= 1, "checkpoint_attention: segment %d < 1", seg);
    attn::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, ws, q_stride, kv_stride, B, T, n_h, n_kv, d,
                             attn::CkptKeys{T, seg}, 1, rope_theta, stream);
}
