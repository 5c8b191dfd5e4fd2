// common.cuh: what every kernels/cuda/*.cu shares: the bf16 activation type, error checks, 128-bit packed
// loads, warp and block reductions, and the backend context (stream, cuBLASLt handle and workspace).
//
// Built by nvcc for the device; tests/gpu/emu/ also builds the same files with g++ against a CPU emulator
// of CUDA (SCOUT_CUDA_EMU), which is why device intrinsics that have no host meaning live behind the
// wrappers in mma.cuh and nothing here uses syntax a host compiler cannot parse.
#ifndef SCOUT_CUDA_COMMON_CUH
#define SCOUT_CUDA_COMMON_CUH

#ifndef SCOUT_CUDA_EMU
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#endif
#include <cublasLt.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/ops_cuda.cuh"

// Activations, forward weights and activation gradients (D3).
typedef __nv_bfloat16 floatX;

// ---- error checks: print where, then exit (llm.c's cudaCheck) ---------------------------------------------

static inline void cuda_check_(cudaError_t err, const char *file, int line) {
    if (err != cudaSuccess) {
        fprintf(stderr, "[CUDA ERROR] at %s:%d: %s\n", file, line, cudaGetErrorString(err));
        exit(EXIT_FAILURE);
    }
}
#define cudaCheck(err) cuda_check_((err), __FILE__, __LINE__)

static inline void cublas_check_(cublasStatus_t st, const char *file, int line) {
    if (st != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "[cuBLAS ERROR] %d at %s:%d\n", (int)st, file, line);
        exit(EXIT_FAILURE);
    }
}
#define cublasCheck(st) cublas_check_((st), __FILE__, __LINE__)

// A violated precondition of an op (a shape the op does not support): a message, then exit, as cudaCheck.
#define scout_require(cond, ...)                                                  \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "[SCOUT CUDA] %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                         \
            fprintf(stderr, "\n");                                                \
            exit(EXIT_FAILURE);                                                   \
        }                                                                         \
    } while (0)

static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
static inline size_t ceil_div_sz(size_t a, size_t b) { return (a + b - 1) / b; }

// ---- the backend context ----------------------------------------------------------------------------------
// One per process, created on first use (not in scout_backend_cuda(), so that a build with CUDA still runs
// its CPU paths on a machine without a GPU). Ops launch on ctx->stream; the cuBLASLt workspace belongs to the
// context, not to the caller's op workspace, because every GEMM needs it and only one runs at a time.

typedef struct {
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *lt_workspace;
    size_t lt_workspace_size;
    int sm_count;
    int max_smem_optin; // bytes of shared memory one block may opt into
} scout_cuda_context;

scout_cuda_context *scout_cuda_ctx(void); // backend_cuda.cu

// Lets kernel K launch with `bytes` of dynamic shared memory: its limit (48 KB until raised) goes up only when
// `bytes` is over the largest size set for K so far (a static of this instantiation: one per kernel), so the
// attribute call happens once per kernel and size, not on every launch.
template <auto K> static inline void raise_smem_limit(size_t bytes) {
    static size_t limit_set = 48 << 10;
    if (bytes <= limit_set) return;
    cudaCheck(cudaFuncSetAttribute(K, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    limit_set = bytes;
}

// Two independent halves of an op on two streams: scout_cuda_fork(stream) returns a second stream that starts
// after everything queued on `stream` so far; scout_cuda_join(stream) makes `stream` wait for what was queued on
// that second stream since. Only for kernels that write disjoint memory (no order between them is implied).
cudaStream_t scout_cuda_fork(cudaStream_t stream);
void scout_cuda_join(cudaStream_t stream);

// ---- conversions and packed 128-bit access ----------------------------------------------------------------

__device__ __forceinline__ float bf2f(floatX x) { return __bfloat162float(x); }
__device__ __forceinline__ floatX f2bf(float x) { return __float2bfloat16_rn(x); }

// 16 bytes of T, moved with one load/store instruction (llm.c's Packed128). Only for 16-byte aligned
// addresses: launchers check alignment and fall back to scalar code otherwise.
template <class T> struct alignas(16) Packed128 {
    static constexpr int size = 16 / sizeof(T);
    T v[size];
    __device__ __forceinline__ T &operator[](int i) { return v[i]; }
    __device__ __forceinline__ const T &operator[](int i) const { return v[i]; }
};
typedef Packed128<floatX> x128;
typedef Packed128<float> f128;

template <class T> __device__ __forceinline__ Packed128<T> load128(const T *p) {
    return *reinterpret_cast<const Packed128<T> *>(p);
}
template <class T> __device__ __forceinline__ void store128(T *p, const Packed128<T> &v) {
    *reinterpret_cast<Packed128<T> *>(p) = v;
}

static inline bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

// ---- reductions -------------------------------------------------------------------------------------------

__device__ __forceinline__ float warp_reduce_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}
__device__ __forceinline__ double warp_reduce_sum_d(double v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}
__device__ __forceinline__ float warp_reduce_max(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024), the result in every thread. The order of
// the additions depends only on blockDim, so the result is the same on every run. `scratch` is 32 floats of
// shared memory that no other code touches between the two barriers.
__device__ __forceinline__ float block_reduce_sum(float v, float *scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
    v = warp_reduce_sum(v);
    __syncthreads(); // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < n_warps ? scratch[lane] : 0.0f;
    return warp_reduce_sum(v);
}
__device__ __forceinline__ float block_reduce_max(float v, float *scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
    v = warp_reduce_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < n_warps ? scratch[lane] : -INFINITY;
    return warp_reduce_max(v);
}

// ---- deterministic column sums of per-block partials -----------------------------------------------------
//
// Parameter gradients that sum over every row (RMSNorm's dw, a bias gradient, the conv taps) are reduced in two
// passes so that no float atomics make them vary from run to run: the op's kernel writes one fp32 partial row per
// block of rows, then column_sum adds the partial rows, [rows, C], column by column in a fixed order. One thread
// per column walking all the rows (the first version) left a 1024-column sum to 1024 threads, each waiting on
// 500 dependent loads: latency-bound at ~0.1 ms per call. Here a block is 32 columns x kColSumSlices row slices;
// slice s sums rows s, s + kColSumSlices, ...; the slices are then added in slice order.
static const int kColSumSlices = 16;

template <class Store>
__global__ void __launch_bounds__(32 * kColSumSlices) column_sum_kernel(Store store, const float *partial, int rows,
                                                                         int C) {
    __shared__ float acc[kColSumSlices][33]; // +1: no bank conflicts on the column-wise read below
    const int c = blockIdx.x * 32 + threadIdx.x, slice = threadIdx.y;
    float a = 0.0f;
    if (c < C)
        for (int r = slice; r < rows; r += kColSumSlices) a += partial[(size_t)r * C + c];
    acc[slice][threadIdx.x] = a;
    __syncthreads();
    if (slice != 0 || c >= C) return;
    float t = 0.0f;
    for (int k = 0; k < kColSumSlices; k++) t += acc[k][threadIdx.x];
    store(c, t);
}

// Store functors: out[c] += sum.
struct ColSumAdd {
    float *out;
    __device__ void operator()(int c, float sum) const { out[c] += sum; }
};

template <class Store> static void column_sum(Store store, const float *partial, int rows, int C, cudaStream_t stream) {
    if (rows <= 0 || C <= 0) return;
    column_sum_kernel<Store><<<(C + 31) / 32, dim3(32, kColSumSlices), 0, stream>>>(store, partial, rows, C);
    cudaCheck(cudaGetLastError());
}

// ---- scalar math shared with the CPU reference (kernels/cpu/cpu_math.h): same formulas, same thresholds -----

#define SCOUT_SOFTPLUS_THRESHOLD 20.0f
__device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float siluf_(float x) { return x * sigmoidf_(x); }
__device__ __forceinline__ float silu_gradf_(float x) {
    float s = sigmoidf_(x);
    return s * (1.0f + x * (1.0f - s));
}
__device__ __forceinline__ float softplusf_(float x) { return x > SCOUT_SOFTPLUS_THRESHOLD ? x : log1pf(expf(x)); }
__device__ __forceinline__ float softplus_gradf_(float x) {
    return x > SCOUT_SOFTPLUS_THRESHOLD ? 1.0f : sigmoidf_(x);
}

// 2^x with one MUFU.EX2 (ex2.approx.ftz: relative error ~2^-22, subnormal results flushed to 0). exp2f
// without --use_fast_math adds a subnormal-range fix-up around it (a compare and two multiplies), which neither
// the attention softmax (arguments <= 0; a probability under 2^-126 is 0 after bf16 rounding) nor the scan's
// state decay exp(delta A) needs.
// The emulator uses exp2f, which differs in the last bits.
__device__ __forceinline__ float exp2_approx(float x) {
#ifdef SCOUT_CUDA_EMU
    return exp2f(x);
#else
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
#endif
}

#endif
