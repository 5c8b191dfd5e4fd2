// backend_cpu.c: the fp32 CPU backend table. The activation dtype is fp32, so every adapter below only
// turns the table's `void *` back into the `float *` of the CPU op; no data is converted.
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ops_cpu.h"

// ---- memory: host memory, 64-byte aligned so rows start on cache lines ----------------------------------

static void *cpu_alloc(size_t bytes) {
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) == 0 ? p : NULL;
}
static void cpu_free(void *p) { free(p); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (dst != src) memcpy(dst, src, bytes);
}
static void cpu_f32_to_act(void *dst, const float *src, size_t n) { cpu_copy(dst, src, n * sizeof(float)); }
static void cpu_act_to_f32(float *dst, const void *src, size_t n) { cpu_copy(dst, src, n * sizeof(float)); }

// ---- op adapters ----------------------------------------------------------------------------------------

static void embedding_fwd(void *out, const int32_t *tokens, const void *emb, int N, int C) {
    embedding_forward_cpu(out, tokens, emb, N, C);
}
static void embedding_bwd(float *demb, const void *dout, const int32_t *tokens, void *ws, int N, int C) {
    embedding_backward_cpu(demb, dout, tokens, ws, N, C);
}

static void rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int N, int C, float eps) {
    rmsnorm_forward_cpu(out, rstd, x, w, N, C, eps);
}
static void rmsnorm_bwd(void *dx, float *dw, const void *dout, const void *x, const void *w, const float *rstd,
                        void *ws, int N, int C, int dx_mode) {
    rmsnorm_backward_cpu(dx, dw, dout, x, w, rstd, ws, N, C, dx_mode);
}

static void linear_fwd(void *out, const void *x, const void *W, const void *bias, int N, int C_in, int C_out) {
    linear_forward_cpu(out, x, W, bias, N, C_in, C_out);
}
static void linear_res_fwd(void *out, const void *x, const void *W, const void *residual, int N, int C_in,
                           int C_out) {
    linear_residual_forward_cpu(out, x, W, residual, N, C_in, C_out);
}
static void linear_bwd(void *dx, float *dW, float *db, const void *dout, const void *x, const void *W, void *ws,
                       int N, int C_in, int C_out, int dx_mode) {
    linear_backward_cpu(dx, dW, db, dout, x, W, ws, N, C_in, C_out, dx_mode);
}

static void rope_fwd(void *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_forward_cpu(x, x_stride, B, T, n_heads, d, pos0, theta);
}
static void rope_bwd(void *dx, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_backward_cpu(dx, x_stride, B, T, n_heads, d, pos0, theta);
}

static void swa_fwd(void *out, float *lse, const void *q, const void *k, const void *v, int q_stride,
                    int kv_stride, int B, int T, int n_h, int n_kv, int d, int window) {
    swa_attention_forward_cpu(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, window);
}
static void swa_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k, const void *v,
                    const void *out, const float *lse, void *ws, int q_stride, int kv_stride,
                    int B, int T, int n_h, int n_kv, int d, int window, float rope_theta) {
    swa_attention_backward_cpu(dq, dk, dv, dout, q, k, v, out, lse, ws, q_stride, kv_stride, B, T, n_h, n_kv, d, window,
                               rope_theta);
}

static void ckpt_fwd(void *out, float *lse, const void *q, const void *k, const void *v, int q_stride,
                     int kv_stride, int B, int T, int n_h, int n_kv, int d, int seg) {
    checkpoint_attention_forward_cpu(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, seg);
}
static void ckpt_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                     const void *v, const void *out, const float *lse, void *ws, int q_stride, int kv_stride,
                     int B, int T, int n_h, int n_kv, int d, int seg, float rope_theta) {
    checkpoint_attention_backward_cpu(dq, dk, dv, dout, q, k, v, out, lse, ws, q_stride, kv_stride, B, T, n_h, n_kv, d,
                                      seg, rope_theta);
}

static void conv_fwd(void *out, const void *x, int x_stride, const void *w, const void *bias, int B, int T,
                     int E, int K) {
    causal_conv1d_forward_cpu(out, x, x_stride, w, bias, B, T, E, K);
}
static void conv_bwd(void *dx, float *dw, float *db, const void *dout, const void *x, int x_stride,
                     const void *w, void *ws, int B, int T, int E, int K) {
    causal_conv1d_backward_cpu(dx, dw, db, dout, x, x_stride, w, ws, B, T, E, K);
}

static void silu_fwd(void *out, const void *x, size_t n) { silu_forward_cpu(out, x, n); }
static void silu_bwd(void *dx, const void *dout, const void *x, size_t n) { silu_backward_cpu(dx, dout, x, n); }

static void scan_fwd(void *y, float *state_out, const void *u, const void *dt_raw, const float *dt_bias,
                     const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                     const void *z, int z_stride, int B, int T, int E, int N) {
    selective_scan_forward_cpu(y, state_out, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride,
                               B, T, E, N);
}
static void scan_bwd(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz, float *dA_log, float *dD,
                     float *ddt_bias, const void *dy, const void *u, const void *dt_raw, const float *dt_bias,
                     const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                     const void *z, int z_stride, void *ws, int B, int T, int E, int N) {
    selective_scan_backward_cpu(du, ddt_raw, dssm_B, dssm_C, dz, dA_log, dD, ddt_bias, dy, u, dt_raw, dt_bias,
                                A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, ws, B, T, E, N);
}

static void swiglu_fwd(void *out, const void *gate, const void *up, int in_stride, int N, int inter) {
    swiglu_forward_cpu(out, gate, up, in_stride, N, inter);
}
static void swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate, const void *up,
                       int in_stride, int N, int inter) {
    swiglu_backward_cpu(dgate, dup, dout, gate, up, in_stride, N, inter);
}

static void ce_fwd(float *losses, const void *logits, const int32_t *targets, int N, int V) {
    cross_entropy_forward_cpu(losses, logits, targets, N, V);
}
static void ce_bwd(void *dlogits, const void *logits, const int32_t *targets, float dloss, int N, int V) {
    cross_entropy_backward_cpu(dlogits, logits, targets, dloss, N, V);
}
static void ce_fused(float *losses, void *dlogits, const void *logits, const int32_t *targets, float dloss, int N,
                     int V) {
    cross_entropy_fused_cpu(losses, dlogits, logits, targets, dloss, N, V);
}

// The forward reads fp32 weights, so the "forward copy" is the master itself or a plain copy of it; there is
// nothing to round, and the seed is unused.
static void adamw(float *master, void *weights, const float *grad, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int step,
                  uint32_t seed) {
    (void)seed;
    adamw_step_cpu(master, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, step);
    if (weights) cpu_copy(weights, master, n * sizeof(float));
}

static void adamw_tensors(float *master, void *weights, const float *grad, float *m, float *v,
                          const adamw_tensor *t, int n_tensors, float lr, float beta1, float beta2, float eps,
                          float grad_scale, int step) {
    for (int i = 0; i < n_tensors; i++) {
        const size_t o = t[i].offset;
        adamw(master + o, weights ? (float *)weights + o : NULL, grad + o, m + o, v + o, t[i].numel, lr, beta1, beta2,
              eps, t[i].weight_decay, grad_scale, step, t[i].seed);
    }
}

static void add(void *out, const void *a, const void *b, size_t n) { add_cpu(out, a, b, n); }
static void copy_rows(void *dst, int dst_stride, const void *src, int src_stride, int rows, int cols) {
    copy_rows_cpu(dst, dst_stride, src, src_stride, rows, cols);
}

static const scout_backend cpu_backend = {
    .name = "cpu",
    .act_size = sizeof(float),
    .head_chunk_bytes = (size_t)32 << 20, // 262 rows of a 32000-word vocabulary: full-speed products, in cache

    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .upload = cpu_copy,
    .download = cpu_copy,
    .f32_to_act = cpu_f32_to_act,
    .act_to_f32 = cpu_act_to_f32,

    .embedding_forward = embedding_fwd,
    .embedding_backward = embedding_bwd,
    .embedding_backward_workspace_size = embedding_backward_workspace_size_cpu,
    .rmsnorm_forward = rmsnorm_fwd,
    .rmsnorm_backward = rmsnorm_bwd,
    .rmsnorm_backward_workspace_size = rmsnorm_backward_workspace_size_cpu,
    .linear_forward = linear_fwd,
    .linear_residual_forward = linear_res_fwd,
    .linear_backward = linear_bwd,
    .linear_backward_workspace_size = linear_backward_workspace_size_cpu,
    .rope_forward = rope_fwd,
    .rope_backward = rope_bwd,
    .swa_attention_forward = swa_fwd,
    .swa_attention_backward = swa_bwd,
    .swa_attention_backward_workspace_size = swa_attention_backward_workspace_size_cpu,
    .checkpoint_attention_forward = ckpt_fwd,
    .checkpoint_attention_backward = ckpt_bwd,
    .checkpoint_attention_backward_workspace_size = checkpoint_attention_backward_workspace_size_cpu,
    .causal_conv1d_forward = conv_fwd,
    .causal_conv1d_backward = conv_bwd,
    .causal_conv1d_backward_workspace_size = causal_conv1d_backward_workspace_size_cpu,
    .silu_forward = silu_fwd,
    .silu_backward = silu_bwd,
    .selective_scan_forward = scan_fwd,
    .selective_scan_backward = scan_bwd,
    .selective_scan_backward_workspace_size = selective_scan_backward_workspace_size_cpu,
    .swiglu_forward = swiglu_fwd,
    .swiglu_backward = swiglu_bwd,
    .cross_entropy_forward = ce_fwd,
    .cross_entropy_backward = ce_bwd,
    .cross_entropy_fused = ce_fused,
    .adamw_step = adamw,
    .adamw_step_tensors = adamw_tensors,
    .global_norm = global_norm_cpu,
    .global_norm_workspace_size = global_norm_workspace_size_cpu,
    .add = add,
    .copy_rows = copy_rows,
};

const scout_backend *scout_backend_cpu(void) { return &cpu_backend; }
