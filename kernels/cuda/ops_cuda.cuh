// ops_cuda.cuh: the CUDA ops (kernels/cuda/*.cu), callable from C and C++. Each is the CPU op of ops.h with
// `_cuda` instead of `_cpu`, the same arguments in the same order, plus a trailing stream; tensors in the
// activation dtype (bf16 on CUDA, D3) are `void *`, always-fp32 tensors `float *`, exactly as in the
// scout_backend table, whose CUDA adapters (backend_cuda.cu) call these on the context's stream.
//
// All pointers are device memory, except global_norm_cuda's two arrays (host arrays of device pointers and of
// counts, as in the table). Ops are asynchronous on `stream` except global_norm_cuda, which returns a value to
// the host. Every op is deterministic: the same inputs give bit-identical outputs on every run (parameter
// gradients are reduced through fixed-order partial sums in the caller's workspace, never by float atomics).
//
// This header is C-compatible (plain types and cuda_runtime_api.h) so that C programs (the model, tests/gpu)
// can include it; it holds the context accessors too.
#ifndef SCOUT_OPS_CUDA_CUH
#define SCOUT_OPS_CUDA_CUH

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "dx_mode.h"
#include "ops.h" // adamw_tensor

#ifdef __cplusplus
extern "C" {
#endif

// ---- backend context (backend_cuda.cu) -----------------------------------------------------------------------

// The stream every table op runs on (created on first use, with the cuBLASLt handle and workspace).
cudaStream_t scout_cuda_stream(void);

// Switches of the CUDA backend; scout_cuda_set_flag returns the previous value.
typedef enum {
    // 1: the attention ops use their general (CUDA-core, any head dim) kernels even where the tensor-core
    // kernels apply (head dim 64, 16-byte aligned tensors). For tests and as a fallback. Default 0.
    SCOUT_CUDA_ATTENTION_GENERAL = 0,
    // 1: adamw_step writes the bf16 weights rounded to nearest instead of stochastically. Default 0.
    SCOUT_CUDA_ADAMW_ROUND_NEAREST = 1,
} scout_cuda_flag;
int scout_cuda_set_flag(scout_cuda_flag flag, int value);

// The number of CUDA devices the runtime sees; 0 without a GPU or a driver (no error, no context created), so a
// CUDA build can choose its device at run time.
int scout_cuda_device_count(void);
// Bytes of device memory held through the table's alloc now (live) and at most since the start (peak). The
// model allocates everything up front, so after the first step peak is the run's peak.
void scout_cuda_alloc_stats(size_t *live, size_t *peak);
// Device memory in use on the device as cudaMemGetInfo reports it (total - free): the table's allocations, the
// context, cuBLASLt's workspace and anything else on the GPU. 0 when it cannot be read.
size_t scout_cuda_device_used(void);
// SCOUT_CUDA_PROFILE=1 in the environment: GPU time of every table call by (op, shape), printed on stderr at exit
// (backend_cuda.cu says how to read it). scout_cuda_profile_reset() forgets what was counted so far (no-op when
// profiling is off).
void scout_cuda_profile_reset(void);

// Attention tile shapes (attention_tiles.cu; SCOUT_ATTN_TILES sets them at first use): set_tiles takes the same
// spec ("" = the default) and returns 0, or -1 with nothing changed; tiles() is the current spec; tile_name(k, i)
// the name of shape i of kernel k (0 fwd, 1 dq, 2 dkdv), NULL past the last. For benchmarks (tests/gpu/bench_gpu).
int scout_cuda_attention_set_tiles(const char *spec);
const char *scout_cuda_attention_tiles(void);
const char *scout_cuda_attention_tile_name(int kernel, int i);
// 1 when the warpgroup-MMA ("wg") attention kernels run here: a build for sm_90a on an sm_90 GPU (H100, H200).
int scout_cuda_attention_wgmma(void);
// wgmma_selftest.cu: a 64 x 64 x 64 warpgroup product per operand layout (A smem / registers x B K- / MN-major,
// err[2 a_regs + b_mn_major]) against the host, as max error / max |reference|; -1 where there is no wgmma.
int scout_cuda_wgmma_selftest(double err[4]);

// ---- conversions (the table's f32_to_act / act_to_f32): round to nearest even / exact ---------------------

void f32_to_bf16_cuda(void *dst, const float *src, size_t n, cudaStream_t stream);
void bf16_to_f32_cuda(float *dst, const void *src, size_t n, cudaStream_t stream);
// fp32 -> bf16 rounded exactly as adamw_step_cuda rounds its copy with `seed` (stochastically, or to nearest under
// SCOUT_CUDA_ADAMW_ROUND_NEAREST): the table's f32_to_act_seeded, which restores a resumed run's forward weights.
void f32_to_bf16_seeded_cuda(void *dst, const float *src, size_t n, uint32_t seed, cudaStream_t stream);

// ---- ops: see ops.h for the semantics and the shape of every buffer --------------------------------------------

void embedding_forward_cuda(void *out, const int32_t *tokens, const void *emb, int N, int C, cudaStream_t stream);
void embedding_backward_cuda(float *demb, const void *dout, const int32_t *tokens, void *ws, int N, int C,
                             cudaStream_t stream);
size_t embedding_backward_workspace_size_cuda(int N, int C);

void rmsnorm_forward_cuda(void *out, float *rstd, const void *x, const void *w, int N, int C, float eps,
                          cudaStream_t stream);
void rmsnorm_backward_cuda(void *dx, float *dw, const void *dout, const void *x, const void *w, const float *rstd,
                           void *ws, int N, int C, int dx_mode, cudaStream_t stream);
size_t rmsnorm_backward_workspace_size_cuda(int N, int C);

void linear_forward_cuda(void *out, const void *x, const void *W, const void *bias, int N, int C_in, int C_out,
                         cudaStream_t stream);
void linear_residual_forward_cuda(void *out, const void *x, const void *W, const void *residual, int N, int C_in,
                                  int C_out, cudaStream_t stream);
void linear_backward_cuda(void *dx, float *dW, float *db, const void *dout, const void *x, const void *W, void *ws,
                          int N, int C_in, int C_out, int dx_mode, cudaStream_t stream);
size_t linear_backward_workspace_size_cuda(int N, int C_in, int C_out);

void rope_forward_cuda(void *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta,
                       cudaStream_t stream);
void rope_backward_cuda(void *dx, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta,
                        cudaStream_t stream);

void swa_attention_forward_cuda(void *out, float *lse, const void *q, const void *k, const void *v, int q_stride,
                                int kv_stride, int B, int T, int n_h, int n_kv, int d, int window, cudaStream_t stream);
void swa_attention_backward_cuda(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                                 const void *v, const void *out, const float *lse, void *ws, int q_stride,
                                 int kv_stride, int B, int T, int n_h, int n_kv, int d, int window, float rope_theta,
                                 cudaStream_t stream);
size_t swa_attention_backward_workspace_size_cuda(int B, int T, int n_h, int n_kv, int d);

void checkpoint_attention_forward_cuda(void *out, float *lse, const void *q, const void *k, const void *v,
                                       int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d, int seg,
                                       cudaStream_t stream);
void checkpoint_attention_backward_cuda(void *dq, void *dk, void *dv, const void *dout, const void *q,
                                        const void *k, const void *v, const void *out, const float *lse, void *ws,
                                        int q_stride, int kv_stride, int B, int T, int n_h, int n_kv, int d, int seg,
                                        float rope_theta, cudaStream_t stream);
size_t checkpoint_attention_backward_workspace_size_cuda(int B, int T, int n_h, int n_kv, int d, int seg);

void causal_conv1d_forward_cuda(void *out, const void *x, int x_stride, const void *w, const void *bias, int B,
                                int T, int E, int K, cudaStream_t stream);
void causal_conv1d_backward_cuda(void *dx, float *dw, float *db, const void *dout, const void *x, int x_stride,
                                 const void *w, void *ws, int B, int T, int E, int K, cudaStream_t stream);
size_t causal_conv1d_backward_workspace_size_cuda(int B, int T, int E, int K);

void silu_forward_cuda(void *out, const void *x, size_t n, cudaStream_t stream);
void silu_backward_cuda(void *dx, const void *dout, const void *x, size_t n, cudaStream_t stream);

void selective_scan_forward_cuda(void *y, float *state_out, const void *u, const void *dt_raw, const float *dt_bias,
                                 const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride,
                                 const float *D, const void *z, int z_stride, int B, int T, int E, int N,
                                 cudaStream_t stream);
void selective_scan_backward_cuda(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz, float *dA_log,
                                  float *dD, float *ddt_bias, const void *dy, const void *u, const void *dt_raw,
                                  const float *dt_bias, const float *A_log, const void *ssm_B, const void *ssm_C,
                                  int bc_stride, const float *D, const void *z, int z_stride, void *ws, int B, int T,
                                  int E, int N, cudaStream_t stream);
size_t selective_scan_backward_workspace_size_cuda(int B, int T, int E, int N);

void swiglu_forward_cuda(void *out, const void *gate, const void *up, int in_stride, int N, int inter,
                         cudaStream_t stream);
void swiglu_backward_cuda(void *dgate, void *dup, const void *dout, const void *gate, const void *up, int in_stride,
                          int N, int inter, cudaStream_t stream);

void cross_entropy_forward_cuda(float *losses, const void *logits, const int32_t *targets, int N, int V,
                                cudaStream_t stream);
void cross_entropy_backward_cuda(void *dlogits, const void *logits, const int32_t *targets, float dloss, int N,
                                 int V, cudaStream_t stream);
// Both in one pass over the logits (llm.c's fused classifier): losses and dlogits (which may alias logits); the
// table's cross_entropy_fused, which the model's head uses in training.
void cross_entropy_fused_cuda(float *losses, void *dlogits, const void *logits, const int32_t *targets,
                              float dloss, int N, int V, cudaStream_t stream);

void adamw_step_cuda(float *master, void *weights, const float *grad, float *m, float *v, size_t n, float lr,
                     float beta1, float beta2, float eps, float weight_decay, float grad_scale, int step,
                     uint32_t seed, cudaStream_t stream);
// adamw_step_cuda over slices of one parameter buffer, up to 128 per launch (the table's adamw_step_tensors).
void adamw_step_tensors_cuda(float *master, void *weights, const float *grad, float *m, float *v,
                             const adamw_tensor *tensors, int n_tensors, float lr, float beta1, float beta2, float eps,
                             float grad_scale, int step, cudaStream_t stream);

float global_norm_cuda(const float *const *tensors, const size_t *numels, int n_tensors, void *ws,
                       cudaStream_t stream);
size_t global_norm_workspace_size_cuda(int n_tensors);

void add_cuda(void *out, const void *a, const void *b, size_t n, cudaStream_t stream);
void copy_rows_cuda(void *dst, int dst_stride, const void *src, int src_stride, int rows, int cols,
                    cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
