// ops.h: the SCOUT op library (libscoutk.a): every op of the model, forward and backward, per backend.
//
// Conventions (kernels/README.md says the same at more length):
// - Buffers are row-major and contiguous unless a `*_stride` argument (in elements, between consecutive
//   rows) is given. Shapes are explicit int arguments; index arithmetic is done in size_t.
// - Names: <op>_forward_<backend> / <op>_backward_<backend>; kernels/cpu/<op>.c holds the fp32 reference,
//   kernels/cuda/<op>.cu will hold <op>_forward_cuda etc. with the same argument order.
// - Dtypes. CPU: fp32 everywhere. CUDA: activations, weights as read by the forward, and activation
//   gradients in bf16; everything marked "fp32" below is fp32 on every backend: master weights, AdamW
//   moments, parameter-gradient accumulators, RMSNorm rstd, attention log-sum-exp, losses, Mamba A_log / D /
//   dt bias and scan state. In the backend table (scout_backend) the first kind is `void *`, the second
//   `float *`; the CPU functions below take `float *` for both.
// - Gradients (as llm.c): parameter gradients ACCUMULATE (`+=`, so micro-batches add up; zero them before
//   the first micro-batch); activation gradients are WRITTEN (`=`; where two branches feed one tensor, as on
//   the residual stream, the caller adds them with add_*).
// - Scratch: an op that a backend may need scratch for takes `void *ws` and has a companion
//   <op>_workspace_size_<backend>(shapes) giving the bytes it needs (0 when that backend needs none; ws may
//   then be NULL). Ops never allocate and keep no state between calls.
// - Attention tensors are laid out as the projections produce them: q [B, T, n_h, d], k/v [B, T, n_kv, d]
//   (i.e. [B*T, n_h*d] row-major), each read with a row stride (q_stride, kv_stride) so that they can be
//   the column blocks of one stacked q/k/v product's output [B*T, QD + 2 KD] (stride QD + 2 KD for all
//   three) or three contiguous buffers (n_h*d, n_kv*d); dq / dk / dv take their inputs' layouts, out / dout
//   are contiguous [B*T, n_h*d]. GQA query head h reads KV head h / (n_h / n_kv).
#ifndef SCOUT_OPS_H
#define SCOUT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "dx_mode.h"

#ifdef __cplusplus
extern "C" { // kernels/cuda/*.cu are C++: keep the C linkage of these names
#endif

// ---------------------------------------------------------------------------------------------------------
// Embedding: out[n, :] = emb[tokens[n], :]. Tokens must lie in [0, V): the data loader checks them.

void embedding_forward_cpu(float *out,            // [N, C]
                           const int32_t *tokens, // [N]
                           const float *emb,      // [V, C]
                           int N, int C);
// demb[tokens[n], :] += dout[n, :]; a token seen twice gets both rows.
void embedding_backward_cpu(float *demb,           // [V, C] fp32, +=
                            const float *dout,     // [N, C]
                            const int32_t *tokens, // [N]
                            void *ws, int N, int C);
size_t embedding_backward_workspace_size_cpu(int N, int C);

// ---------------------------------------------------------------------------------------------------------
// RMSNorm (spec §6.4): out = x * rsqrt(mean(x^2) + eps) * w, statistics in fp32.

void rmsnorm_forward_cpu(float *out,     // [N, C]
                         float *rstd,    // [N] fp32, saved for backward
                         const float *x, // [N, C]
                         const float *w, // [C]
                         int N, int C, float eps);
void rmsnorm_backward_cpu(float *dx,         // [N, C], = (+= with SCOUT_DX_ADD)
                          float *dw,         // [C] fp32, +=
                          const float *dout, // [N, C]
                          const float *x,    // [N, C]
                          const float *w,    // [C]
                          const float *rstd, // [N] fp32, from the forward
                          void *ws, int N, int C, int dx_mode);
size_t rmsnorm_backward_workspace_size_cpu(int N, int C);

// ---------------------------------------------------------------------------------------------------------
// Linear: out = x · W^T (+ bias). W is PyTorch's [out_features, in_features].

void linear_forward_cpu(float *out,        // [N, C_out]
                        const float *x,    // [N, C_in]
                        const float *W,    // [C_out, C_in]
                        const float *bias, // [C_out], NULL for none
                        int N, int C_in, int C_out);
// out = residual + x · W^T: a branch's last product joined to the residual stream in one pass (the GPU adds
// the residual in the product's epilogue, before the one rounding to bf16). out must not alias x or residual.
// Its backward is linear_backward's (d residual = d out is the caller's business).
void linear_residual_forward_cpu(float *out,            // [N, C_out]
                                 const float *x,        // [N, C_in]
                                 const float *W,        // [C_out, C_in]
                                 const float *residual, // [N, C_out]
                                 int N, int C_in, int C_out);
// dx = dout · W (dx += with SCOUT_DX_ADD); dW += dout^T · x; db += column sums of dout.
void linear_backward_cpu(float *dx,         // [N, C_in], = (+= with SCOUT_DX_ADD)
                         float *dW,         // [C_out, C_in] fp32, +=
                         float *db,         // [C_out] fp32, +=; NULL when the layer has no bias
                         const float *dout, // [N, C_out]
                         const float *x,    // [N, C_in]
                         const float *W,    // [C_out, C_in]
                         void *ws, int N, int C_in, int C_out, int dx_mode);
size_t linear_backward_workspace_size_cpu(int N, int C_in, int C_out);

// ---------------------------------------------------------------------------------------------------------
// RoPE (spec §6.5), rotate-half (NeoX) convention, in place: for j < d/2, with a = (pos0 + t) * inv_freq[j],
// inv_freq[j] = theta^(-2j/d) (both in fp32, as Hugging Face computes them):
//   x'[j] = x[j] cos a - x[j + d/2] sin a,   x'[j + d/2] = x[j + d/2] cos a + x[j] sin a.
// Used on q and k: the heads are the first n_heads * d columns of each row of x [B, T, x_stride], so one call
// rotates q and k together when they are adjacent column blocks of the stacked q/k/v output (n_heads =
// n_h + n_kv, x_stride = QD + 2 KD). d must be even. pos0 = 0 in training (positions 0..T-1).

void rope_forward_cpu(float *x, int x_stride, // [B, T, x_stride], first n_heads * d columns, in place
                      int B, int T, int n_heads, int d, int pos0, float theta);
// The transpose of a rotation is the rotation by the negative angle: dx = R(-a) dout.
void rope_backward_cpu(float *dx, int x_stride, // [B, T, x_stride]: dout on entry, dx on return
                       int B, int T, int n_heads, int d, int pos0, float theta);

// ---------------------------------------------------------------------------------------------------------
// Sliding-window causal attention (D1): query i attends to keys i - window < j <= i (window >= 1 keys,
// itself included), one softmax, scale 1/sqrt(d) applied before the running max. window >= T is plain causal
// attention (the qwen2 baselines). Cost O(T * window * d); nothing of size T x T is formed. lse is the
// per-row log-sum-exp of the scaled logits, the only statistic the backward needs.

void swa_attention_forward_cpu(float *out,     // [B, T, n_h, d]
                               float *lse,     // [B, n_h, T] fp32, saved for backward
                               const float *q, // [B, T, n_h, d], RoPE applied
                               const float *k, // [B, T, n_kv, d], RoPE applied
                               const float *v, // [B, T, n_kv, d]
                               int q_stride,   // q row stride (n_h*d contiguous)
                               int kv_stride,  // k / v row stride (n_kv*d contiguous)
                               int B, int T, int n_h, int n_kv, int d, int window);
void swa_attention_backward_cpu(float *dq,         // [B, T, n_h, d], =
                                float *dk,         // [B, T, n_kv, d], =
                                float *dv,         // [B, T, n_kv, d], =
                                const float *dout, // [B, T, n_h, d]
                                const float *q,    // [B, T, n_h, d]
                                const float *k,    // [B, T, n_kv, d]
                                const float *v,    // [B, T, n_kv, d]
                                const float *out,  // [B, T, n_h, d], from the forward
                                const float *lse,  // [B, n_h, T] fp32, from the forward
                                void *ws, int q_stride, int kv_stride, // of q / dq, of k / v / dk / dv
                                int B, int T, int n_h, int n_kv, int d, int window,
                                float rope_theta); // > 0: dq, dk taken back through RoPE (see below)
size_t swa_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d);
// rope_theta in both attentions' backward: 0, or the theta of the RoPE that q and k carry (rope_forward at
// positions 0..T-1, pos0 = 0); then dq and dk are returned as the gradients of q and k BEFORE RoPE, i.e. with
// rope_backward applied, so the caller needs no pass of its own (the GPU does it in its kernels' stores).

// ---------------------------------------------------------------------------------------------------------
// Checkpoint attention (D2, spec §6.7): query i attends to {i} ∪ {c = m*seg - 1 : m >= 1, c < i}, one
// softmax over that set, self counted once, scale 1/sqrt(d). seg >= 1 is s (`selection_window_size`). The
// checkpoints of query i are exactly the first floor(i/seg) of them, so the kernel enumerates them
// analytically; cost O(T * (T/seg + 1) * d).

void checkpoint_attention_forward_cpu(float *out,     // [B, T, n_h, d]
                                      float *lse,     // [B, n_h, T] fp32, saved for backward
                                      const float *q, // [B, T, n_h, d], RoPE applied
                                      const float *k, // [B, T, n_kv, d], RoPE applied
                                      const float *v, // [B, T, n_kv, d]
                                      int q_stride, int kv_stride, // as swa_attention_forward_cpu
                                      int B, int T, int n_h, int n_kv, int d, int seg);
void checkpoint_attention_backward_cpu(float *dq,         // [B, T, n_h, d], =
                                       float *dk,         // [B, T, n_kv, d], =
                                       float *dv,         // [B, T, n_kv, d], =
                                       const float *dout, // [B, T, n_h, d]
                                       const float *q,    // [B, T, n_h, d]
                                       const float *k,    // [B, T, n_kv, d]
                                       const float *v,    // [B, T, n_kv, d]
                                       const float *out,  // [B, T, n_h, d], from the forward
                                       const float *lse,  // [B, n_h, T] fp32, from the forward
                                       void *ws, int q_stride, int kv_stride, // of q / dq, of k / v / dk / dv
                                       int B, int T, int n_h, int n_kv, int d, int seg,
                                       float rope_theta); // as swa_attention_backward_cpu
size_t checkpoint_attention_backward_workspace_size_cpu(int B, int T, int n_h, int n_kv, int d, int seg);

// ---------------------------------------------------------------------------------------------------------
// Mamba-1 causal depthwise conv1d (spec §7.2 step 2), with bias:
//   out[b, t, e] = bias[e] + sum_{j<K} w[e, j] * x[b, t-K+1+j, e], zero for t-K+1+j < 0,
// so w[e, K-1] multiplies the current input. x is read with a row stride so that it can be the first E
// columns of the in_proj output [B, T, 2E] (x_stride = 2E); dx is written with the same layout.

void causal_conv1d_forward_cpu(float *out,        // [B, T, E]
                               const float *x,    // [B, T, x_stride], first E columns used
                               int x_stride,
                               const float *w,    // [E, K] (PyTorch [E, 1, K])
                               const float *bias, // [E], NULL for none
                               int B, int T, int E, int K);
void causal_conv1d_backward_cpu(float *dx,         // [B, T, x_stride], first E columns =, others untouched
                                float *dw,         // [E, K] fp32, +=
                                float *db,         // [E] fp32, +=; NULL when there is no bias
                                const float *dout, // [B, T, E]
                                const float *x,    // [B, T, x_stride]
                                int x_stride,
                                const float *w,    // [E, K]
                                void *ws, int B, int T, int E, int K);
size_t causal_conv1d_backward_workspace_size_cpu(int B, int T, int E, int K);

// ---------------------------------------------------------------------------------------------------------
// SiLU, elementwise: out = x * sigmoid(x). In place (out == x) is allowed in the forward.

void silu_forward_cpu(float *out, const float *x, size_t n); // [n]
void silu_backward_cpu(float *dx,         // [n], =; may alias dout
                       const float *dout, // [n]
                       const float *x,    // [n], the forward's input
                       size_t n);

// ---------------------------------------------------------------------------------------------------------
// Mamba-1 selective scan (spec §7.2 steps 4-8), fp32 state, per batch b, channel e < E, state n < N:
//   delta_t = softplus(dt_raw_t[e] + dt_bias[e])       (identity above 20, as mamba-ssm)
//   A       = -exp(A_log[e, n])
//   h_t     = exp(delta_t A) h_{t-1} + delta_t ssm_B_t[n] u_t[e],  h_{-1} = 0
//   y_t[e]  = (sum_n ssm_C_t[n] h_t[n] + D[e] u_t[e]) * silu(z_t[e])   (no gate factor when z == NULL)
// ssm_B / ssm_C are read with a row stride so they can be columns [r, r+N) and [r+N, r+2N) of the x_proj
// output [B, T, r+2N] (bc_stride = r+2N); z with its own stride so it can be columns [E, 2E) of the in_proj
// output (z_stride = 2E). Gradients use the same layouts as their inputs. N <= SCOUT_SCAN_MAX_N (mamba-ssm's
// limit too; the CPU keeps one channel's state on the stack).
#define SCOUT_SCAN_MAX_N 256

void selective_scan_forward_cpu(float *y,             // [B, T, E]
                                float *state_out,     // [B, E, N] fp32 final h, NULL to skip (prefill)
                                const float *u,       // [B, T, E]
                                const float *dt_raw,  // [B, T, E], dt_proj output WITHOUT its bias
                                const float *dt_bias, // [E] fp32 dt_proj.bias, added here (delta_bias)
                                const float *A_log,   // [E, N] fp32
                                const float *ssm_B,   // [B, T, bc_stride], N columns used
                                const float *ssm_C,   // [B, T, bc_stride], N columns used
                                int bc_stride,
                                const float *D,       // [E] fp32
                                const float *z,       // [B, T, z_stride], E columns used; NULL = no gate
                                int z_stride,
                                int B, int T, int E, int N);
// Recomputes the states (nothing but the inputs is saved by the forward). dssm_B / dssm_C are activation
// gradients (sums over channels), so they are WRITTEN, like du, ddt_raw and dz; columns outside the N (or
// E) used ones are left untouched, so several ops can fill one gradient buffer of the x_proj output.
void selective_scan_backward_cpu(float *du,            // [B, T, E], =
                                 float *ddt_raw,       // [B, T, E], =
                                 float *dssm_B,        // [B, T, bc_stride], N columns =
                                 float *dssm_C,        // [B, T, bc_stride], N columns =
                                 float *dz,            // [B, T, z_stride], E columns =; NULL iff z is NULL
                                 float *dA_log,        // [E, N] fp32, +=
                                 float *dD,            // [E] fp32, +=
                                 float *ddt_bias,      // [E] fp32, +=
                                 const float *dy,      // [B, T, E]
                                 const float *u,       // [B, T, E]
                                 const float *dt_raw,  // [B, T, E]
                                 const float *dt_bias, // [E] fp32
                                 const float *A_log,   // [E, N] fp32
                                 const float *ssm_B,   // [B, T, bc_stride]
                                 const float *ssm_C,   // [B, T, bc_stride]
                                 int bc_stride,
                                 const float *D,       // [E] fp32
                                 const float *z,       // [B, T, z_stride] or NULL
                                 int z_stride,
                                 void *ws, int B, int T, int E, int N);
size_t selective_scan_backward_workspace_size_cpu(int B, int T, int E, int N);

// ---------------------------------------------------------------------------------------------------------
// SwiGLU (spec §6.3): out = silu(gate) * up, inter = I the MLP intermediate size. gate and up share a row
// stride, so they can be two [N, I] buffers (in_stride = I) or the halves of one fused [N, 2I] buffer whose
// row is [gate (I) | up (I)] (gate = buf, up = buf + I, in_stride = 2I): the output of one matmul by the
// row-concatenated weight [gate_proj.weight; up_proj.weight] of shape [2I, H]. dgate / dup use the same
// layout.

void swiglu_forward_cpu(float *out,        // [N, inter]
                        const float *gate, // [N, in_stride], inter columns used
                        const float *up,   // [N, in_stride], inter columns used
                        int in_stride, int N, int inter);
void swiglu_backward_cpu(float *dgate,      // [N, in_stride], inter columns =
                         float *dup,        // [N, in_stride], inter columns =
                         const float *dout, // [N, inter]
                         const float *gate, // [N, in_stride]
                         const float *up,   // [N, in_stride]
                         int in_stride, int N, int inter); // dgate/dup may alias gate/up (in place)

// ---------------------------------------------------------------------------------------------------------
// Cross-entropy over the vocabulary, max-subtracted: losses[n] = logsumexp(logits[n, :]) - logits[n, t_n].
// Targets must lie in [0, V). The per-row losses stay in backend memory; the mean is cross_entropy_mean()
// of them once downloaded (one small transfer, as llm.c does).

void cross_entropy_forward_cpu(float *losses,          // [N] fp32
                               const float *logits,    // [N, V]
                               const int32_t *targets, // [N]
                               int N, int V);
// dlogits[n, :] = (softmax(logits[n, :]) - onehot(t_n)) * dloss, where dloss is the gradient of the
// objective with respect to each row's loss: 1/N for the mean over N rows (llm.c's convention), 1/(N*accum)
// under gradient accumulation. dlogits may be the logits buffer itself (in place, row by row).
void cross_entropy_backward_cpu(float *dlogits,         // [N, V], =; may alias logits
                                const float *logits,    // [N, V]
                                const int32_t *targets, // [N]
                                float dloss, int N, int V);
// The mean of N per-row losses in host memory, summed in double.
static inline float cross_entropy_mean(const float *losses, int N) {
    double s = 0.0;
    for (int n = 0; n < N; n++) s += losses[n];
    return N > 0 ? (float)(s / N) : 0.0f;
}

// ---------------------------------------------------------------------------------------------------------
// AdamW (D5), PyTorch semantics, on fp32 master weights. With g = grad * grad_scale (the clip factor):
//   param -= lr * wd * param                                    (decoupled decay; wd = 0 to exclude a tensor)
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   param -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)      step = 1, 2, ...
void adamw_step_cpu(float *param,      // [n] fp32 master weights, updated
                    const float *grad, // [n] fp32
                    float *m,          // [n] fp32 first moment, updated
                    float *v,          // [n] fp32 second moment, updated
                    size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                    float grad_scale, int step);

// One tensor of a batched AdamW step (the table's adamw_step_tensors): elements [offset, offset + numel) of one
// flat parameter buffer (master, gradient, moments and the forward copy share the offsets), with its own weight
// decay and rounding seed.
typedef struct {
    size_t offset, numel;
    float weight_decay;
    uint32_t seed;
} adamw_tensor;

// sqrt of the sum of squares over n_tensors fp32 tensors (accumulated in double).
float global_norm_cpu(const float *const *tensors, // n_tensors pointers, each [numels[i]] fp32
                      const size_t *numels,        // [n_tensors]
                      int n_tensors, void *ws);
size_t global_norm_workspace_size_cpu(int n_tensors);

// The factor AdamW's grad_scale gets for global-norm clipping: min(1, max_norm / (norm + 1e-6)), as PyTorch's
// clip_grad_norm_. Host arithmetic, the same for every backend.
static inline float grad_clip_scale(float norm, float max_norm) {
    float s = max_norm / (norm + 1e-6f);
    return s < 1.0f ? s : 1.0f;
}

// ---------------------------------------------------------------------------------------------------------
// Small elementwise helpers.

// out = a + b: the residual add, and the sum of two activation gradients. out may alias a or b.
void add_cpu(float *out, const float *a, const float *b, size_t n); // all [n]
// dst[r, :cols] = src[r, :cols]: moves a column slice between a strided view and a buffer, e.g. the dt
// columns [0, r) of the x_proj output [B*T, r+2N] into a contiguous [B*T, r] input of dt_proj and back.
void copy_rows_cpu(float *dst, int dst_stride,       // [rows, dst_stride]
                   const float *src, int src_stride, // [rows, src_stride]
                   int rows, int cols);

// ---------------------------------------------------------------------------------------------------------
// The backend table (ggml-style vtable). Model code calls ops through it so one model file drives every
// backend. `void *` marks tensors in the backend's activation dtype (fp32 on CPU, bf16 on CUDA); `float *`
// tensors are fp32 on every backend; all pointers are backend memory except where noted. Argument order is
// that of the CPU functions above; AdamW adds the forward copy of the weights and a rounding seed.

typedef struct scout_backend {
    const char *name;  // "cpu", "cuda"
    size_t act_size;   // bytes per activation / forward-weight / activation-gradient element: 4 or 2
    // Bytes of one chunk of head logits ([rows, V] in the activation dtype) the model should use: a CPU wants it
    // cache-sized, a GPU large enough that the head's weight gradient is a few big products, not hundreds.
    size_t head_chunk_bytes;

    // Memory. alloc returns NULL on failure; upload/download copy bytes between host and backend memory.
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    void (*zero)(void *p, size_t bytes);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    // Conversions between fp32 and the activation dtype, both buffers in backend memory (weights from
    // master, tensors for comparison). A plain copy on CPU.
    void (*f32_to_act)(void *dst, const float *src, size_t n);
    void (*act_to_f32)(float *dst, const void *src, size_t n);

    void (*embedding_forward)(void *out, const int32_t *tokens, const void *emb, int N, int C);
    void (*embedding_backward)(float *demb, const void *dout, const int32_t *tokens, void *ws, int N, int C);
    size_t (*embedding_backward_workspace_size)(int N, int C);

    void (*rmsnorm_forward)(void *out, float *rstd, const void *x, const void *w, int N, int C, float eps);
    void (*rmsnorm_backward)(void *dx, float *dw, const void *dout, const void *x, const void *w,
                             const float *rstd, void *ws, int N, int C, int dx_mode);
    size_t (*rmsnorm_backward_workspace_size)(int N, int C);

    void (*linear_forward)(void *out, const void *x, const void *W, const void *bias, int N, int C_in,
                           int C_out);
    void (*linear_residual_forward)(void *out, const void *x, const void *W, const void *residual, int N,
                                    int C_in, int C_out);
    void (*linear_backward)(void *dx, float *dW, float *db, const void *dout, const void *x, const void *W,
                            void *ws, int N, int C_in, int C_out, int dx_mode);
    size_t (*linear_backward_workspace_size)(int N, int C_in, int C_out);

    void (*rope_forward)(void *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta);
    void (*rope_backward)(void *dx, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta);

    void (*swa_attention_forward)(void *out, float *lse, const void *q, const void *k, const void *v,
                                  int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d, int window);
    void (*swa_attention_backward)(void *dq, void *dk, void *dv, const void *dout, const void *q,
                                   const void *k, const void *v, const void *out, const float *lse, void *ws,
                                   int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d,
                                   int window, float rope_theta);
    size_t (*swa_attention_backward_workspace_size)(int B, int T, int n_h, int n_kv, int d);

    void (*checkpoint_attention_forward)(void *out, float *lse, const void *q, const void *k, const void *v,
                                         int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d,
                                         int seg);
    void (*checkpoint_attention_backward)(void *dq, void *dk, void *dv, const void *dout, const void *q,
                                          const void *k, const void *v, const void *out, const float *lse,
                                          void *ws, int q_stride, int kv_stride, int B, int T, int n_h, int n_kv,
                                          int d, int seg, float rope_theta);
    size_t (*checkpoint_attention_backward_workspace_size)(int B, int T, int n_h, int n_kv, int d, int seg);

    void (*causal_conv1d_forward)(void *out, const void *x, int x_stride, const void *w, const void *bias,
                                  int B, int T, int E, int K);
    void (*causal_conv1d_backward)(void *dx, float *dw, float *db, const void *dout, const void *x,
                                   int x_stride, const void *w, void *ws, int B, int T, int E, int K);
    size_t (*causal_conv1d_backward_workspace_size)(int B, int T, int E, int K);

    void (*silu_forward)(void *out, const void *x, size_t n);
    void (*silu_backward)(void *dx, const void *dout, const void *x, size_t n);

    void (*selective_scan_forward)(void *y, float *state_out, const void *u, const void *dt_raw,
                                   const float *dt_bias, const float *A_log, const void *ssm_B,
                                   const void *ssm_C, int bc_stride, const float *D, const void *z,
                                   int z_stride, int B, int T, int E, int N);
    void (*selective_scan_backward)(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz,
                                    float *dA_log, float *dD, float *ddt_bias, const void *dy, const void *u,
                                    const void *dt_raw, const float *dt_bias, const float *A_log,
                                    const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                                    const void *z, int z_stride, void *ws, int B, int T, int E, int N);
    size_t (*selective_scan_backward_workspace_size)(int B, int T, int E, int N);

    void (*swiglu_forward)(void *out, const void *gate, const void *up, int in_stride, int N, int inter);
    void (*swiglu_backward)(void *dgate, void *dup, const void *dout, const void *gate, const void *up,
                            int in_stride, int N, int inter);

    void (*cross_entropy_forward)(float *losses, const void *logits, const int32_t *targets, int N, int V);
    void (*cross_entropy_backward)(void *dlogits, const void *logits, const int32_t *targets, float dloss,
                                   int N, int V);

    // Updates the fp32 master weights and refreshes `weights`, the copy the forward reads (activation
    // dtype; on CUDA rounded stochastically with `seed`). On CPU `weights` may be `master` itself or NULL.
    void (*adamw_step)(float *master, void *weights, const float *grad, float *m, float *v, size_t n,
                       float lr, float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                       int step, uint32_t seed);
    // adamw_step over n_tensors slices of one parameter buffer (`tensors`: a host array), with the same results as
    // one adamw_step per tensor (weights + offset, with the tensor's weight decay and seed), in as few launches
    // as the backend can: on CUDA one per 128 tensors instead of one each, which the small tensors (norm
    // weights, 1024 floats) could not fill the GPU with.
    void (*adamw_step_tensors)(float *master, void *weights, const float *grad, float *m, float *v,
                               const adamw_tensor *tensors, int n_tensors, float lr, float beta1, float beta2,
                               float eps, float grad_scale, int step);
    // `tensors` and `numels` are host arrays of backend pointers / counts; the norm comes back to the host.
    float (*global_norm)(const float *const *tensors, const size_t *numels, int n_tensors, void *ws);
    size_t (*global_norm_workspace_size)(int n_tensors);

    void (*add)(void *out, const void *a, const void *b, size_t n);
    void (*copy_rows)(void *dst, int dst_stride, const void *src, int src_stride, int rows, int cols);

    // Optional slots: NULL where a backend has no use for them, and callers then do without. f32_to_act_seeded
    // is NULL on the CPU (its weights are the fp32 master); cross_entropy_fused is filled on both backends.
    // The forward copy of `n` master weights rounded exactly as adamw_step rounds it with `seed`, so that a run
    // resumed from fp32 master weights reads the same forward weights as the uninterrupted one. NULL where the
    // forward reads the master itself.
    void (*f32_to_act_seeded)(void *dst, const float *src, size_t n, uint32_t seed);
    // cross_entropy_forward and cross_entropy_backward in one pass over the logits (dlogits may alias logits).
    void (*cross_entropy_fused)(float *losses, void *dlogits, const void *logits, const int32_t *targets,
                                float dloss, int N, int V);
} scout_backend;

// The fp32 CPU backend (kernels/cpu/backend_cpu.c).
const scout_backend *scout_backend_cpu(void);
#ifdef SCOUT_CUDA
// The CUDA backend (kernels/cuda/backend_cuda.cu), present when built with CUDA.
const scout_backend *scout_backend_cuda(void);
#endif
// "cpu" or "cuda" (kernels/backend.c); NULL for an unknown name or for "cuda" in a build without CUDA.
const scout_backend *scout_backend_get(const char *name);

#ifdef __cplusplus
}
#endif

#endif
