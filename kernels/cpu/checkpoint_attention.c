// checkpoint_attention.c: SCOUT checkpoint attention (D2, spec §6.7): query i attends to itself and to the
// checkpoints c = seg-1, 2seg-1, ... with c < i, under one softmax; GQA. The forward and backward are
// attention_row.h's, over the key set below.
#include "attention_row.h"
#include "ops.h"

// The softmax is seeded with the self term (spec §6.7), then takes the checkpoints c = seg-1, 2seg-1, ...
// below i: i / seg of them. A query that is itself a checkpoint does not meet itself again: the checkpoints
// taken are those < i. So dk/dv have two sources: the self term touches every position once per query head,
// the checkpoint term only the checkpoints, accumulated over all queries i > c.
ATT_INLINE key_set ckpt_keys(int i, int seg) { return (key_set){1, {seg - 1, seg, i / seg}}; }

SCOUT_SIMD_CLONES
void checkpoint_attention_forward_cpu(float *out, float *lse, const float *q, const float *k, const float *v,
                                      int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d, int seg) {
    attention_forward(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, ckpt_keys, seg);
}

SCOUT_SIMD_CLONES
void checkpoint_attention_backward_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                       const float *k, const float *v, const float *out, const float *lse, void *ws,
                                       int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d, int seg,
                                       float rope_theta) {
    attention_backward(dq, dk, dv, dout, q, k, v, out, lse, q_stride, kv_stride, B, T, n_h, n_kv, d, ckpt_keys, seg);
    attention_rope_backward(dq, dk, q_stride, kv_stride, B, T, n_h, n_kv, d, rope_theta);
}

// As for the SWA: fp32 in-place reduction on CPU; a GPU needs fp32 accumulators for its bf16 gradients.
size_t checkpoint_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d, int seg) {
    (void)B, (void)T, (void)n_h, (void)n_kv, (void)d, (void)seg;
    return 0;
}
