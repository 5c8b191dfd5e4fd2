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
#include <stdarg.h>

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

// The second stream of scout_cuda_fork / scout_cuda_join and its two events (no timing: cheaper to record),
// created on first use.
static cudaStream_t g_side_stream;
static cudaEvent_t g_fork_ev, g_join_ev;

cudaStream_t scout_cuda_fork(cudaStream_t stream) {
    if (!g_side_stream) {
        cudaCheck(cudaStreamCreateWithFlags(&g_side_stream, cudaStreamNonBlocking));
        cudaCheck(cudaEventCreateWithFlags(&g_fork_ev, cudaEventDisableTiming));
        cudaCheck(cudaEventCreateWithFlags(&g_join_ev, cudaEventDisableTiming));
    }
    cudaCheck(cudaEventRecord(g_fork_ev, stream));
    cudaCheck(cudaStreamWaitEvent(g_side_stream, g_fork_ev, 0));
    return g_side_stream;
}

void scout_cuda_join(cudaStream_t stream) {
    cudaCheck(cudaEventRecord(g_join_ev, g_side_stream));
    cudaCheck(cudaStreamWaitEvent(stream, g_join_ev, 0));
}

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

// ---- profile (SCOUT_CUDA_PROFILE=1) ---------------------------------------------------------------------------
//
// Every table call bracketed by two events on the stream, grouped by (op, shape); at exit a table on stderr of
// calls, total and mean GPU time per group (and TFLOP/s for the matrix products). Events add no synchronisation:
// the records are read in batches of PROF_POOL once the last one has completed. Off by default (no cost then
// beyond one branch per call). The start event is recorded when the adapter is entered, before the op's host
// work (cuBLASLt descriptors and heuristic): where the GPU has caught up with the host, the time it then waits
// for the launch is counted in the op, so a host-bound op shows as slow here. scout_cuda_profile_reset() (the
// trainer calls it after its first step) drops what was counted so far: first-call costs (lazy module loading,
// cuBLASLt's heuristic cache) stay out of the table. The time between one table call's end and the next one's
// start is counted too (gap_ms, charged to the later call): where the GPU waited for the host (a synchronising
// copy, launches slower than the kernels) or ran work outside the table; a step's wall time minus its table time.
#define PROF_POOL 2048
#define PROF_KEYS 512
struct ProfKey {
    char name[96];
    double flops; // per call, 0 when not a matrix product
    double ms, gap_ms;
    long calls;
};
static int g_prof_on = -1; // -1: not read yet
static ProfKey g_prof_keys[PROF_KEYS];
static int g_prof_n_keys = 0;
static cudaEvent_t g_prof_ev[2 * PROF_POOL];
static int g_prof_rec_key[PROF_POOL];
static int g_prof_n_rec = 0;
static cudaEvent_t g_prof_last_end; // the end event of the last record drained (its gap to the next start)
static bool g_prof_have_last = false;

static void prof_drain(void) {
    if (g_prof_n_rec == 0) return;
    cudaCheck(cudaEventSynchronize(g_prof_ev[2 * (g_prof_n_rec - 1) + 1]));
    for (int i = 0; i < g_prof_n_rec; i++) {
        float ms = 0.0f;
        cudaCheck(cudaEventElapsedTime(&ms, g_prof_ev[2 * i], g_prof_ev[2 * i + 1]));
        float gap = 0.0f;
        if (i > 0) cudaCheck(cudaEventElapsedTime(&gap, g_prof_ev[2 * i - 1], g_prof_ev[2 * i]));
        else if (g_prof_have_last) cudaCheck(cudaEventElapsedTime(&gap, g_prof_last_end, g_prof_ev[0]));
        g_prof_keys[g_prof_rec_key[i]].ms += ms;
        g_prof_keys[g_prof_rec_key[i]].gap_ms += gap;
        g_prof_keys[g_prof_rec_key[i]].calls++;
    }
    // Keep the last end event for the next batch's first gap (the pool's events are recorded again).
    cudaEvent_t last = g_prof_ev[2 * g_prof_n_rec - 1];
    g_prof_ev[2 * g_prof_n_rec - 1] = g_prof_last_end;
    g_prof_last_end = last;
    g_prof_have_last = true;
    g_prof_n_rec = 0;
}

static void prof_report(void) {
    prof_drain();
    double total = 0.0, gaps = 0.0;
    long calls = 0;
    for (int i = 0; i < g_prof_n_keys; i++)
        total += g_prof_keys[i].ms, gaps += g_prof_keys[i].gap_ms, calls += g_prof_keys[i].calls;
    int order[PROF_KEYS];
    for (int i = 0; i < g_prof_n_keys; i++) order[i] = i;
    for (int i = 1; i < g_prof_n_keys; i++) // insertion sort by total time, largest first
        for (int j = i; j > 0 && g_prof_keys[order[j]].ms > g_prof_keys[order[j - 1]].ms; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    fprintf(stderr, "scout-cuda profile: %ld calls, %.1f ms of GPU time inside table calls, %.1f ms between them\n",
            calls, total, gaps);
    fprintf(stderr, "%-64s %8s %11s %10s %6s %9s %9s\n", "op shape", "calls", "total_ms", "ms/call", "%", "TFLOP/s",
            "gap_ms");
    for (int k = 0; k < g_prof_n_keys; k++) {
        const ProfKey *e = &g_prof_keys[order[k]];
        if (e->calls == 0) continue;
        char tf[32] = "";
        if (e->flops > 0 && e->ms > 0) snprintf(tf, sizeof tf, "%.1f", e->flops * e->calls / (e->ms * 1e-3) / 1e12);
        fprintf(stderr, "%-64s %8ld %11.2f %10.4f %6.2f %9s %9.2f\n", e->name, e->calls, e->ms, e->ms / e->calls,
                total > 0 ? 100.0 * e->ms / total : 0.0, tf, e->gap_ms);
    }
}

extern "C" void scout_cuda_profile_reset(void) {
    if (g_prof_on <= 0) return;
    prof_drain();
    for (int i = 0; i < g_prof_n_keys; i++) g_prof_keys[i].ms = g_prof_keys[i].gap_ms = 0.0, g_prof_keys[i].calls = 0;
}

static int prof_on(void) {
    if (g_prof_on < 0) {
        const char *v = getenv("SCOUT_CUDA_PROFILE");
        g_prof_on = v && atoi(v) > 0;
        if (g_prof_on) {
            scout_cuda_ctx();
            for (int i = 0; i < 2 * PROF_POOL; i++) cudaCheck(cudaEventCreate(&g_prof_ev[i]));
            cudaCheck(cudaEventCreate(&g_prof_last_end));
            atexit(prof_report);
        }
    }
    return g_prof_on;
}

// The key of (op, shape), added on first sight.
static int prof_key(double flops, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int prof_key(double flops, const char *fmt, ...) {
    char name[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < g_prof_n_keys; i++)
        if (!strcmp(g_prof_keys[i].name, name)) return i;
    if (g_prof_n_keys == PROF_KEYS) return -1;
    ProfKey *e = &g_prof_keys[g_prof_n_keys];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->flops = flops, e->ms = e->gap_ms = 0.0, e->calls = 0;
    return g_prof_n_keys++;
}

struct ProfScope {
    int rec = -1;
    explicit ProfScope(int key) {
        if (key < 0) return;
        if (g_prof_n_rec == PROF_POOL) prof_drain();
        rec = g_prof_n_rec++;
        g_prof_rec_key[rec] = key;
        cudaCheck(cudaEventRecord(g_prof_ev[2 * rec], S()));
    }
    ~ProfScope() {
        if (rec >= 0) cudaCheck(cudaEventRecord(g_prof_ev[2 * rec + 1], S()));
    }
};
// PROF(flops, "fmt", args): times the rest of the enclosing function under the key "fmt" % args.
#define PROF(flops, ...) ProfScope prof_scope_(prof_on() ? prof_key((flops), __VA_ARGS__) : -1)

extern "C" int scout_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); // no driver, no device: not an error for the caller
        return 0;
    }
    return n;
}

// ---- memory ----------------------------------------------------------------------------------------------

// The sizes of live allocations, for scout_cuda_alloc_stats: the model makes a dozen, so a small table searched
// linearly is enough; allocations beyond it are still served, only not counted.
#define ALLOC_SLOTS 1024
static struct {
    void *p;
    size_t bytes;
} g_allocs[ALLOC_SLOTS];
static size_t g_live = 0, g_peak = 0;

static void *cuda_alloc(size_t bytes) {
    scout_cuda_ctx();
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 256) != cudaSuccess) {
        (void)cudaGetLastError(); // clear the sticky-free allocation error: the caller handles NULL
        return NULL;
    }
    for (int i = 0; i < ALLOC_SLOTS; i++)
        if (!g_allocs[i].p) {
            g_allocs[i].p = p, g_allocs[i].bytes = bytes;
            g_live += bytes;
            if (g_live > g_peak) g_peak = g_live;
            break;
        }
    return p;
}
static void cuda_free(void *p) {
    if (!p) return;
    for (int i = 0; i < ALLOC_SLOTS; i++)
        if (g_allocs[i].p == p) {
            g_live -= g_allocs[i].bytes;
            g_allocs[i].p = NULL;
            break;
        }
    cudaCheck(cudaFree(p));
}

extern "C" void scout_cuda_alloc_stats(size_t *live, size_t *peak) {
    if (live) *live = g_live;
    if (peak) *peak = g_peak;
}

extern "C" size_t scout_cuda_device_used(void) {
    size_t free_b = 0, total = 0;
    if (cudaMemGetInfo(&free_b, &total) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return total - free_b;
}
static void cuda_zero(void *p, size_t bytes) {
    PROF(0, "zero");
    cudaCheck(cudaMemsetAsync(p, 0, bytes, S()));
}
static void cuda_upload(void *dst, const void *src, size_t bytes) {
    PROF(0, "upload");
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, S()));
    cudaCheck(cudaStreamSynchronize(S()));
}
static void cuda_download(void *dst, const void *src, size_t bytes) {
    {
        PROF(0, "download");
        cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, S()));
    }
    cudaCheck(cudaStreamSynchronize(S()));
}
static void cuda_f32_to_act(void *dst, const float *src, size_t n) {
    PROF(0, "f32_to_act");
    f32_to_bf16_cuda(dst, src, n, S());
}
static void cuda_act_to_f32(float *dst, const void *src, size_t n) {
    PROF(0, "act_to_f32");
    bf16_to_f32_cuda(dst, src, n, S());
}
static void cuda_f32_to_act_seeded(void *dst, const float *src, size_t n, uint32_t seed) {
    PROF(0, "f32_to_act_seeded");
    f32_to_bf16_seeded_cuda(dst, src, n, seed, S());
}

// ---- op adapters: the table's arguments, plus the context's stream --------------------------------------------

static void embedding_fwd(void *out, const int32_t *tokens, const void *emb, int N, int C) {
    PROF(0, "embedding_fwd N=%d C=%d", N, C);
    embedding_forward_cuda(out, tokens, emb, N, C, S());
}
static void embedding_bwd(float *demb, const void *dout, const int32_t *tokens, void *ws, int N, int C) {
    PROF(0, "embedding_bwd N=%d C=%d", N, C);
    embedding_backward_cuda(demb, dout, tokens, ws, N, C, S());
}
static void rmsnorm_fwd(void *out, float *rstd, const void *x, const void *w, int N, int C, float eps) {
    PROF(0, "rmsnorm_fwd N=%d C=%d", N, C);
    rmsnorm_forward_cuda(out, rstd, x, w, N, C, eps, S());
}
static void rmsnorm_bwd(void *dx, float *dw, const void *dout, const void *x, const void *w, const float *rstd,
                        void *ws, int N, int C, int dx_mode) {
    PROF(0, "rmsnorm_bwd N=%d C=%d%s", N, C, dx_mode == SCOUT_DX_ADD ? " dx+=" : "");
    rmsnorm_backward_cuda(dx, dw, dout, x, w, rstd, ws, N, C, dx_mode, S());
}
static void linear_fwd(void *out, const void *x, const void *W, const void *bias, int N, int C_in, int C_out) {
    PROF(2.0 * N * C_in * C_out, "linear_fwd N=%d Cin=%d Cout=%d%s", N, C_in, C_out, bias ? " bias" : "");
    linear_forward_cuda(out, x, W, bias, N, C_in, C_out, S());
}
static void linear_res_fwd(void *out, const void *x, const void *W, const void *residual, int N, int C_in,
                           int C_out) {
    PROF(2.0 * N * C_in * C_out, "linear_fwd N=%d Cin=%d Cout=%d +residual", N, C_in, C_out);
    linear_residual_forward_cuda(out, x, W, residual, N, C_in, C_out, S());
}
static void linear_bwd(void *dx, float *dW, float *db, const void *dout, const void *x, const void *W, void *ws,
                       int N, int C_in, int C_out, int dx_mode) {
    PROF(4.0 * N * C_in * C_out, "linear_bwd N=%d Cin=%d Cout=%d%s%s", N, C_in, C_out, db ? " bias" : "",
         dx_mode == SCOUT_DX_ADD ? " dx+=" : "");
    linear_backward_cuda(dx, dW, db, dout, x, W, ws, N, C_in, C_out, dx_mode, S());
}
static void rope_fwd(void *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta) {
    PROF(0, "rope_fwd B=%d T=%d heads=%d d=%d", B, T, n_heads, d);
    rope_forward_cuda(x, x_stride, B, T, n_heads, d, pos0, theta, S());
}
static void rope_bwd(void *dx, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta) {
    PROF(0, "rope_bwd B=%d T=%d heads=%d d=%d", B, T, n_heads, d);
    rope_backward_cuda(dx, x_stride, B, T, n_heads, d, pos0, theta, S());
}
static void swa_fwd(void *out, float *lse, const void *q, const void *k, const void *v, int q_stride,
                    int kv_stride, int B, int T, int n_h, int n_kv, int d, int window) {
    PROF(0, "swa_fwd B=%d T=%d nh=%d nkv=%d d=%d W=%d", B, T, n_h, n_kv, d, window);
    swa_attention_forward_cuda(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, window, S());
}
static void swa_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k, const void *v,
                    const void *out, const float *lse, void *ws, int q_stride, int kv_stride,
                    int B, int T, int n_h, int n_kv, int d, int window, float rope_theta) {
    PROF(0, "swa_bwd B=%d T=%d nh=%d nkv=%d d=%d W=%d", B, T, n_h, n_kv, d, window);
    swa_attention_backward_cuda(dq, dk, dv, dout, q, k, v, out, lse, ws, q_stride, kv_stride, B, T, n_h, n_kv, d,
                                window, rope_theta, S());
}
static void ckpt_fwd(void *out, float *lse, const void *q, const void *k, const void *v, int q_stride,
                     int kv_stride, int B, int T, int n_h, int n_kv, int d, int seg) {
    PROF(0, "ckpt_fwd B=%d T=%d nh=%d nkv=%d d=%d s=%d", B, T, n_h, n_kv, d, seg);
    checkpoint_attention_forward_cuda(out, lse, q, k, v, q_stride, kv_stride, B, T, n_h, n_kv, d, seg, S());
}
static void ckpt_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k, const void *v,
                     const void *out, const float *lse, void *ws, int q_stride, int kv_stride,
                     int B, int T, int n_h, int n_kv, int d, int seg, float rope_theta) {
    PROF(0, "ckpt_bwd B=%d T=%d nh=%d nkv=%d d=%d s=%d", B, T, n_h, n_kv, d, seg);
    checkpoint_attention_backward_cuda(dq, dk, dv, dout, q, k, v, out, lse, ws, q_stride, kv_stride, B, T, n_h, n_kv, d,
                                       seg, rope_theta, S());
}
static void conv_fwd(void *out, const void *x, int x_stride, const void *w, const void *bias, int B, int T, int E,
                     int K) {
    PROF(0, "conv1d_fwd B=%d T=%d E=%d K=%d", B, T, E, K);
    causal_conv1d_forward_cuda(out, x, x_stride, w, bias, B, T, E, K, S());
}
static void conv_bwd(void *dx, float *dw, float *db, const void *dout, const void *x, int x_stride, const void *w,
                     void *ws, int B, int T, int E, int K) {
    PROF(0, "conv1d_bwd B=%d T=%d E=%d K=%d", B, T, E, K);
    causal_conv1d_backward_cuda(dx, dw, db, dout, x, x_stride, w, ws, B, T, E, K, S());
}
static void silu_fwd(void *out, const void *x, size_t n) {
    PROF(0, "silu_fwd n=%zu", n);
    silu_forward_cuda(out, x, n, S());
}
static void silu_bwd(void *dx, const void *dout, const void *x, size_t n) {
    PROF(0, "silu_bwd n=%zu", n);
    silu_backward_cuda(dx, dout, x, n, S());
}
static void scan_fwd(void *y, float *state_out, const void *u, const void *dt_raw, const float *dt_bias,
                     const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                     const void *z, int z_stride, int B, int T, int E, int N) {
    PROF(0, "scan_fwd B=%d T=%d E=%d N=%d", B, T, E, N);
    selective_scan_forward_cuda(y, state_out, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, B,
                                T, E, N, S());
}
static void scan_bwd(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz, float *dA_log, float *dD,
                     float *ddt_bias, const void *dy, const void *u, const void *dt_raw, const float *dt_bias,
                     const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                     const void *z, int z_stride, void *ws, int B, int T, int E, int N) {
    PROF(0, "scan_bwd B=%d T=%d E=%d N=%d", B, T, E, N);
    selective_scan_backward_cuda(du, ddt_raw, dssm_B, dssm_C, dz, dA_log, dD, ddt_bias, dy, u, dt_raw, dt_bias, A_log,
                                 ssm_B, ssm_C, bc_stride, D, z, z_stride, ws, B, T, E, N, S());
}
static void swiglu_fwd(void *out, const void *gate, const void *up, int in_stride, int N, int inter) {
    PROF(0, "swiglu_fwd N=%d I=%d", N, inter);
    swiglu_forward_cuda(out, gate, up, in_stride, N, inter, S());
}
static void swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate, const void *up, int in_stride,
                       int N, int inter) {
    PROF(0, "swiglu_bwd N=%d I=%d", N, inter);
    swiglu_backward_cuda(dgate, dup, dout, gate, up, in_stride, N, inter, S());
}
static void ce_fwd(float *losses, const void *logits, const int32_t *targets, int N, int V) {
    PROF(0, "ce_fwd N=%d V=%d", N, V);
    cross_entropy_forward_cuda(losses, logits, targets, N, V, S());
}
static void ce_bwd(void *dlogits, const void *logits, const int32_t *targets, float dloss, int N, int V) {
    PROF(0, "ce_bwd N=%d V=%d", N, V);
    cross_entropy_backward_cuda(dlogits, logits, targets, dloss, N, V, S());
}
static void ce_fused(float *losses, void *dlogits, const void *logits, const int32_t *targets, float dloss, int N,
                     int V) {
    PROF(0, "ce_fused N=%d V=%d", N, V);
    cross_entropy_fused_cuda(losses, dlogits, logits, targets, dloss, N, V, S());
}
static void adamw(float *master, void *weights, const float *grad, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int step, uint32_t seed) {
    PROF(0, "adamw");
    adamw_step_cuda(master, weights, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, step, seed, S());
}
static void adamw_tensors(float *master, void *weights, const float *grad, float *m, float *v, const adamw_tensor *t,
                          int n_tensors, float lr, float beta1, float beta2, float eps, float grad_scale, int step) {
    PROF(0, "adamw_tensors n=%d", n_tensors);
    adamw_step_tensors_cuda(master, weights, grad, m, v, t, n_tensors, lr, beta1, beta2, eps, grad_scale, step, S());
}
static float global_norm(const float *const *tensors, const size_t *numels, int n_tensors, void *ws) {
    PROF(0, "global_norm");
    return global_norm_cuda(tensors, numels, n_tensors, ws, S());
}
static void add(void *out, const void *a, const void *b, size_t n) {
    PROF(0, "add n=%zu", n);
    add_cuda(out, a, b, n, S());
}
static void copy_rows(void *dst, int dst_stride, const void *src, int src_stride, int rows, int cols) {
    PROF(0, "copy_rows rows=%d cols=%d", rows, cols);
    copy_rows_cuda(dst, dst_stride, src, src_stride, rows, cols, S());
}

static scout_backend make_table(void) {
    scout_backend t;
    memset(&t, 0, sizeof(t));
    t.name = "cuda";
    t.act_size = sizeof(floatX);
    // 4194 rows of a 32000-word vocabulary: the 8 x 2048 micro-batch's head is 4 products per direction, and its
    // [V, H] fp32 weight gradient is read and written 4 times instead of 63 (the head was 25 ms of a 150 ms step).
    t.head_chunk_bytes = (size_t)256 << 20;
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
    t.linear_residual_forward = linear_res_fwd;
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
    t.adamw_step_tensors = adamw_tensors;
    t.global_norm = global_norm;
    t.global_norm_workspace_size = global_norm_workspace_size_cuda;
    t.add = add;
    t.copy_rows = copy_rows;
    t.f32_to_act_seeded = cuda_f32_to_act_seeded;
    t.cross_entropy_fused = ce_fused;
    return t;
}

// The table touches no CUDA API, so a CUDA build can hand it out on a machine without a GPU; the context is
// created by the first call that needs it.
extern "C" const scout_backend *scout_backend_cuda(void) {
    static const scout_backend table = make_table();
    return &table;
}
