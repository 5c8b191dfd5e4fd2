// backend_cuda.cu: the CUDA backend table (scout_backend_cuda()) and its context: one stream, one cuBLASLt
// handle and its 32 MiB workspace (llm.c's size: Hopper's fastest GEMM kernels want it), created on first use.
//
// Memory is plain cudaMalloc'd device memory. upload / download return only when the copy is complete (the
// host buffer may be reused at once), and so order themselves after every op queued before them. The op
// adapters pass the table's `void *` activation tensors (bf16 here) straight to the <op>_cuda functions,
// which launch on the context's stream.
#ifndef SCOUT_CUDA
#define SCOUT_CUDA 1 // ops.h declares scout_backend_cuda() only then (nvcc does not get CPPFLAGS)
#endif
#include "cuda/common.cuh"
#include "ops.h"

// ---- context ---------------------------------------------------------------------------------------------

static scout_cuda_context g_ctx;
static int g_ctx_ready = 0;
static int g_flags[2] = {0, 0}; // indexed by scout_cuda_flag

scout_cuda_context *scout_cuda_ctx(void) {
    if (g_ctx_ready) return &g_ctx;
    int dev = 0;
    cudaCheck(cudaGetDevice(&dev));
    cudaCheck(cudaDeviceGetAttribute(&g_ctx.sm_count, cudaDevAttrMultiProcessorCount, dev));
    cudaCheck(cudaDeviceGetAttribute(&g_ctx.max_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    cudaCheck(cudaStreamCreate(&g_ctx.stream));
    cublasCheck(cublasLtCreate(&g_ctx.lt));
    g_ctx.lt_workspace_size = (size_t)32 << 20;
    cudaCheck(cudaMalloc(&g_ctx.lt_workspace, g_ctx.lt_workspace_size));
    g_ctx_ready = 1;
    return &g_ctx;
}

extern "C" cudaStream_t scout_cuda_stream(void) { return scout_cuda_ctx()->stream; }

extern "C" int scout_cuda_set_flag(scout_cuda_flag flag, int value) {
    scout_require(flag == SCOUT_CUDA_ATTENTION_GENERAL || flag == SCOUT_CUDA_ADAMW_ROUND_NEAREST,
                  "scout_cuda_set_flag: unknown flag %d", (int)flag);
    int old = g_flags[flag];
    g_flags[flag] = value;
    return old;
}
int scout_cuda_attention_general_(void) { return g_flags[SCOUT_CUDA_ATTENTION_GENERAL]; }
int scout_cuda_adamw_round_nearest_(void) { return g_flags[SCOUT_CUDA_ADAMW_ROUND_NEAREST]; }

static cudaStream_t S(void) { return scout_cuda_ctx()->stream; }

// ---- memory ----------------------------------------------------------------------------------------------

static void *cuda_alloc(size_t bytes) {
    scout_cuda_ctx();
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 256) != cudaSuccess) {
        (void)cudaGetLastError(); // clear the sticky-free allocation error: the caller handles NULL
        return NULL;
    }
    return p;
}
static void cuda_free(void *p) {
    if (p) cudaCheck(cudaFree(p));
}
static void cuda_zero(void *p, size_t bytes) { cudaCheck(cudaMemsetAsync(p, 0, bytes, S())); }
static void cuda_upload(void *dst, const void *src, size_t bytes) {
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, S()));
    cudaCheck(cudaStreamSynchronize(S()));
}
static void cuda_download(void *dst, const void *src, size_t bytes) {
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, S()));
    cudaCheck(cudaStreamSynchronize(S()));
}
static void cuda_f32_to_act(void *dst, const float *src, size_t n) { f32_to_bf16_cuda(dst, src, n, S()); }
static void cuda_act_to_f32(float *dst, const void *src, size_t n) { bf16_to_f32_cuda(dst, src, n, S()); }

// ---- op adapters: the table's arguments, plus the context's stream --------------------------------------------

static void embedding_fwd(void *out, const int32_t *tokens, const void *emb, int N, int C) {
    embedding_forward_cuda(out, tokens, emb, N, C, S());
}
static void embedding_bwd(float *demb, const void *dout, const int32_t *tokens, void *ws, int N, int C) {
    embedding_backward_cuda(demb, dout, tokens, ws, N, C, S());
}
static void rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int N, int C, float eps) {
    rmsnorm_forward_cuda(out, rstd, x, w, N, C, eps, S());
}
static void rmsnorm_bwd(void *dx, float *dw, const void *dout, const void *x, const void *w, const float *rstd,
                        void *ws, int N, int C) {
    rmsnorm_backward_cuda(dx, dw, dout, x, w, rstd, ws, N, C, S());
}
static void linear_fwd(void *out, const void *x, const void *W, const void *bias, int N, int C_in, int C_out) {
    linear_forward_cuda(out, x, W, bias, N, C_in, C_out, S());
}
static void linear_bwd(void *dx, float *dW, float *db, const void *dout, const void *x, const void *W, void *ws,
                       int N, int C_in, int C_out) {
    linear_backward_cuda(dx, dW, db, dout, x, W, ws, N, C_in, C_out, S());
}
static void rope_fwd(void *x, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_forward_cuda(x, B, T, n_heads, d, pos0, theta, S());
}
static void rope_bwd(void *dx, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_backward_cuda(dx, B, T, n_heads, d, pos0, theta, S());
}
static void swa_fwd(void *out, float *lse, const void *q, const void *k, const void *v, int B, int T, int n_h,
                    int n_kv, int d, int window) {
    swa_attention_forward_cuda(out, lse, q, k, v, B, T, n_h, n_kv, d, window, S());
}
static void swa_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k, const void *v,
                    const void *out, const float *lse, void *ws, int B, int T, int n_h, int n_kv, int d,
                    int window) {
    swa_attention_backward_cuda(dq, dk, dv, dout, q, k, v, out, lse, ws, B, T, n_h, n_kv, d, window, S());
}
static void ckpt_fwd(void *out, float *lse, const void *q, const void *k, const void *v, int B, int T, int n_h,
                     int n_kv, int d, int seg) {
    checkpoint_attention_forward_cuda(out, lse, q, k, v, B, T, n_h, n_kv, d, seg, S());
}
static void ckpt_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k, const void *v,
                     const void *out, const float *lse, void *ws, int B, int T, int n_h, int n_kv, int d, int seg) {
    checkpoint_attention_backward_cuda(dq, dk, dv, dout, q, k, v, out, lse, ws, B, T, n_h, n_kv, d, seg, S());
}
static void conv_fwd(void *out, const void *x, int x_stride, const void *w, const void *bias, int B, int T, int E,
                     int K) {
    causal_conv1d_forward_cuda(out, x, x_stride, w, bias, B, T, E, K, S());
}
static void conv_bwd(void *dx, float *dw, float *db, const void *dout, const void *x, int x_stride, const void *w,
                     void *ws, int B, int T, int E, int K) {
    causal_conv1d_backward_cuda(dx, dw, db, dout, x, x_stride, w, ws, B, T, E, K, S());
}
static void silu_fwd(void *out, const void *x, size_t n) { silu_forward_cuda(out, x, n, S()); }
static void silu_bwd(void *dx, const void *dout, const void *x, size_t n) { silu_backward_cuda(dx, dout, x, n, S()); }
static void scan_fwd(void *y, float *state_out, const void *u, const void *dt_raw, const float *dt_bias,
                     const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                     const void *z, int z_stride, int B, int T, int E, int N) {
    selective_scan_forward_cuda(y, state_out, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, B,
                                T, E, N, S());
}
static void scan_bwd(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz, float *dA_log, float *dD,
                     float *ddt_bias, const void *dy, const void *u, const void *dt_raw, const float *dt_bias,
                     const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                     const void *z, int z_stride, void *ws, int B, int T, int E, int N) {
    selective_scan_backward_cuda(du, ddt_raw, dssm_B, dssm_C, dz, dA_log, dD, ddt_bias, dy, u, dt_raw, dt_bias, A_log,
                                 ssm_B, ssm_C, bc_stride, D, z, z_stride, ws, B, T, E, N, S());
}
static void swiglu_fwd(void *out, const void *gate, const void *up, int in_stride, int N, int inter) {
    swiglu_forward_cuda(out, gate, up, in_stride, N, inter, S());
}
static void swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate, const void *up, int in_stride,
                       int N, int inter) {
    swiglu_backward_cuda(dgate, dup, dout, gate, up, in_stride, N, inter, S());
}
static void ce_fwd(float *losses, const void *logits, const int32_t *targets, int N, int V) {
    cross_entropy_forward_cuda(losses, logits, targets, N, V, S());
}
static void ce_bwd(void *dlogits, const void *logits, const int32_t *targets, float dloss, int N, int V) {
    cross_entropy_backward_cuda(dlogits, logits, targets, dloss, N, V, S());
}
static void adamw(float *master, void *weights, const float *grad, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int step, uint32_t seed) {
    adamw_step_cuda(master, weights, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, step, seed, S());
}
static float global_norm(const float *const *tensors, const size_t *numels, int n_tensors, void *ws) {
    return global_norm_cuda(tensors, numels, n_tensors, ws, S());
}
static void add(void *out, const void *a, const void *b, size_t n) { add_cuda(out, a, b, n, S()); }
static void copy_rows(void *dst, int dst_stride, const void *src, int src_stride, int rows, int cols) {
    copy_rows_cuda(dst, dst_stride, src, src_stride, rows, cols, S());
}

static scout_backend make_table(void) {
    scout_backend t;
    memset(&t, 0, sizeof(t));
    t.name = "cuda";
    t.act_size = sizeof(floatX);
    t.alloc = cuda_alloc;
    t.free = cuda_free;
    t.zero = cuda_zero;
    t.upload = cuda_upload;
    t.download = cuda_download;
    t.f32_to_act = cuda_f32_to_act;
    t.act_to_f32 = cuda_act_to_f32;
    t.embedding_forward = embedding_fwd;
    t.embedding_backward = embedding_bwd;
    t.embedding_backward_workspace_size = embedding_backward_workspace_size_cuda;
    t.rmsnorm_forward = rmsnorm_fwd;
    t.rmsnorm_backward = rmsnorm_bwd;
    t.rmsnorm_backward_workspace_size = rmsnorm_backward_workspace_size_cuda;
    t.linear_forward = linear_fwd;
    t.linear_backward = linear_bwd;
    t.linear_backward_workspace_size = linear_backward_workspace_size_cuda;
    t.rope_forward = rope_fwd;
    t.rope_backward = rope_bwd;
    t.swa_attention_forward = swa_fwd;
    t.swa_attention_backward = swa_bwd;
    t.swa_attention_backward_workspace_size = swa_attention_backward_workspace_size_cuda;
    t.checkpoint_attention_forward = ckpt_fwd;
    t.checkpoint_attention_backward = ckpt_bwd;
    t.checkpoint_attention_backward_workspace_size = checkpoint_attention_backward_workspace_size_cuda;
    t.causal_conv1d_forward = conv_fwd;
    t.causal_conv1d_backward = conv_bwd;
    t.causal_conv1d_backward_workspace_size = causal_conv1d_backward_workspace_size_cuda;
    t.silu_forward = silu_fwd;
    t.silu_backward = silu_bwd;
    t.selective_scan_forward = scan_fwd;
    t.selective_scan_backward = scan_bwd;
    t.selective_scan_backward_workspace_size = selective_scan_backward_workspace_size_cuda;
    t.swiglu_forward = swiglu_fwd;
    t.swiglu_backward = swiglu_bwd;
    t.cross_entropy_forward = ce_fwd;
    t.cross_entropy_backward = ce_bwd;
    t.adamw_step = adamw;
    t.global_norm = global_norm;
    t.global_norm_workspace_size = global_norm_workspace_size_cuda;
    t.add = add;
    t.copy_rows = copy_rows;
    return t;
}

// The table touches no CUDA API, so a CUDA build can hand it out on a machine without a GPU; the context is
// created by the first call that needs it.
extern "C" const scout_backend *scout_backend_cuda(void) {
    static const scout_backend table = make_table();
    return &table;
}
