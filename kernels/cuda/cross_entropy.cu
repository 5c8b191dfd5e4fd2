// cross_entropy.cu: softmax cross-entropy over the vocabulary, per row: losses[n] = logsumexp(logits[n]) -
// logits[n, t_n] (fp32), and dlogits[n] = (softmax(logits[n]) - onehot(t_n)) * dloss (bf16, may overwrite the
// logits in place), as llm.c's fused classifier.
//
// Rows up to kStagedThreads x 8 x kStagedChunks = 32768 logits (16-byte aligned, V % 8 == 0: every vocabulary of
// this project's models): a persistent block of 1024 threads per SM walks its rows with two row buffers in shared
// memory, the next row arriving by cp.async while the current one is computed; a thread's four 16-byte chunks go
// into registers; the max, then the sum of exp(x - max), each a block reduction; the gradient from the registers.
// One read and one write of the row. (A block per row with the row loaded straight into registers, the version
// before, was latency-bound: one row per SM at a time, each waiting for its own loads: 0.24 ms per 4194 x 32000
// chunk inside scout_swa_470m's step, 2.2 TB/s.) Longer or unaligned rows: one block of 1024 threads per row;
// pass 1 keeps a running (max, sum of exp) per thread over its strided elements (online softmax), combined
// across the block; pass 2 (gradient only) reads the row again, from L2, and writes the gradient. That kernel
// (the first version) moved 2 TB/s for scout_swa_470m's head (0.27 ms per 4194 x 32000 chunk): a thread's loads
// went out one after another, each behind the previous one's eight dependent exponentials. Normalised
// probabilities are never stored. Rows are taken in reverse order so that the last rows the logits matmul wrote,
// still in L2, come first. fp32 throughout; the row's logits may be bf16.
#include "cuda/common.cuh"
#include "cuda/mma.cuh" // cp_async

static const int kThreads = 1024;
static const int kStagedThreads = 1024, kStagedChunks = 4;

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

__device__ __forceinline__ void online_push(float &m, float &s, float x) {
    if (x > m) {
        s = s * expf(m - x) + 1.0f; // expf(-inf) = 0 on the first element
        m = x;
    } else {
        s += expf(x - m);
    }
}

// exp(x - c) as 2^(x log2(e) - c log2(e)), c2 = c log2(e): one FFMA and one MUFU.EX2 (ex2.approx.ftz: ~2 ulp,
// arguments <= 0 here). With expf's range reduction (~10 instructions), the two exponentials per logit made the
// staged kernel compute-bound (0.222 ms per 4194 x 32000 chunk at 2.4 TB/s, one block of 1024 threads per SM).
constexpr float kCeLog2e = 1.4426950408889634f;
__device__ __forceinline__ float exp_shifted(float x, float c2) { return exp2_approx(fmaf(x, kCeLog2e, -c2)); }

// One element of the gradient: (softmax - onehot) * dloss, rounded to bf16; lse2 = lse log2(e).
__device__ __forceinline__ floatX ce_grad(float x, float lse2, float dloss, bool is_target) {
    float g = exp_shifted(x, lse2) * dloss;
    if (is_target) g -= dloss;
    return f2bf(g);
}

template <int VEC, bool LOSS, bool GRAD>
__global__ void __launch_bounds__(kThreads) cross_entropy_kernel(float *losses, floatX *dlogits,
                                                                 const floatX *logits, const int32_t *targets,
                                                                 float dloss, int N, int V) {
    __shared__ float scratch[32];
    const int n = N - 1 - blockIdx.x;
    const floatX *row = logits + (size_t)n * V;
    const int target = targets[n];
    // Read before any thread of the block can overwrite it (in-place gradient): the barriers inside the block
    // reductions below order this read before every write of pass 2.
    const float target_logit = LOSS && threadIdx.x == 0 ? bf2f(row[target]) : 0.0f;

    float m = -INFINITY, s = 0.0f;
    for (int c = threadIdx.x * VEC; c < V; c += blockDim.x * VEC) {
        if (VEC == 8) {
            x128 v = load128(row + c);
            for (int k = 0; k < 8; k++) online_push(m, s, bf2f(v[k]));
        } else {
            online_push(m, s, bf2f(row[c]));
        }
    }
    const float row_max = block_reduce_max(m, scratch);
    const float sum = block_reduce_sum(m == -INFINITY ? 0.0f : s * expf(m - row_max), scratch);
    const float lse = row_max + logf(sum);
    if (LOSS && threadIdx.x == 0) losses[n] = lse - target_logit;

    if (GRAD) {
        floatX *drow = dlogits + (size_t)n * V;
        const float lse2 = lse * kCeLog2e;
        for (int c = threadIdx.x * VEC; c < V; c += blockDim.x * VEC) {
            if (VEC == 8) {
                x128 v = load128(row + c), o;
                for (int k = 0; k < 8; k++) o[k] = ce_grad(bf2f(v[k]), lse2, dloss, c + k == target);
                store128(drow + c, o);
            } else {
                drow[c] = ce_grad(bf2f(row[c]), lse2, dloss, c == target);
            }
        }
    }
}

// The rows staged in shared memory (see the top): a persistent grid of one block per SM, block b taking rows
// N - 1 - b, N - 1 - b - G, ... (G blocks); while it computes one row from one buffer, its next row arrives in the
// other by cp.async. Thread t takes the row's 16-byte chunks t + j kStagedThreads (j < kStagedChunks) into
// registers, so the sums and roundings are those of a block per row.
template <bool LOSS, bool GRAD>
__global__ void __launch_bounds__(kStagedThreads) cross_entropy_staged_kernel(float *losses, floatX *dlogits,
                                                                              const floatX *logits,
                                                                              const int32_t *targets, float dloss,
                                                                              int N, int V) {
    extern __shared__ __align__(16) unsigned char ce_smem[];
    floatX *rows = (floatX *)ce_smem; // [2][V]
    __shared__ float scratch[32];
    const int G = gridDim.x, n_chunks = V / 8;
    auto prefetch = [&](int n, int slot) {
        const floatX *src = logits + (size_t)n * V;
        floatX *dst = rows + (size_t)slot * V;
        for (int c = threadIdx.x; c < n_chunks; c += kStagedThreads) cp_async<16>(dst + c * 8, src + c * 8, true);
    };
    int n = N - 1 - (int)blockIdx.x, slot = 0;
    if (n >= 0) prefetch(n, 0);
    cp_async_commit();
    for (; n >= 0; n -= G, slot ^= 1) {
        // The other buffer was last read before the previous row's first block reduction, which every thread
        // has passed: it can take the next row.
        if (n - G >= 0) prefetch(n - G, slot ^ 1);
        cp_async_commit();
        cp_async_wait<1>(); // this row is in (for this thread) ...
        __syncthreads();    // ... for all
        const floatX *row = rows + (size_t)slot * V;
        const int target = targets[n];
        const float target_logit = LOSS && threadIdx.x == 0 ? bf2f(row[target]) : 0.0f;
        x128 x[kStagedChunks];
#pragma unroll
        for (int j = 0; j < kStagedChunks; j++) {
            const int c = (threadIdx.x + j * kStagedThreads) * 8;
            if (c < V) x[j] = *reinterpret_cast<const x128 *>(row + c);
        }
        float m = -INFINITY;
#pragma unroll
        for (int j = 0; j < kStagedChunks; j++)
            if ((threadIdx.x + j * kStagedThreads) * 8 < V)
#pragma unroll
                for (int k = 0; k < 8; k++) m = fmaxf(m, bf2f(x[j][k]));
        const float row_max = block_reduce_max(m, scratch), max2 = row_max * kCeLog2e;
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < kStagedChunks; j++)
            if ((threadIdx.x + j * kStagedThreads) * 8 < V)
#pragma unroll
                for (int k = 0; k < 8; k++) s += exp_shifted(bf2f(x[j][k]), max2);
        const float lse = row_max + logf(block_reduce_sum(s, scratch)), lse2 = lse * kCeLog2e;
        if (LOSS && threadIdx.x == 0) losses[n] = lse - target_logit;

        if (GRAD) {
            floatX *drow = dlogits + (size_t)n * V;
#pragma unroll
            for (int j = 0; j < kStagedChunks; j++) {
                const int c = (threadIdx.x + j * kStagedThreads) * 8;
                if (c >= V) continue;
                x128 o;
#pragma unroll
                for (int k = 0; k < 8; k++) o[k] = ce_grad(bf2f(x[j][k]), lse2, dloss, c + k == target);
                store128(drow + c, o);
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

template <bool LOSS, bool GRAD>
static void cross_entropy_launch(float *losses, void *dlogits, const void *logits, const int32_t *targets,
                                 float dloss, int N, int V, cudaStream_t stream) {
    if (N <= 0 || V <= 0) return;
    bool vec = V % 8 == 0 && aligned16(logits) && (!GRAD || aligned16(dlogits));
    const scout_cuda_context *ctx = scout_cuda_ctx();
    const size_t staged_smem = 2 * (size_t)V * sizeof(floatX);
    if (vec && V <= kStagedThreads * 8 * kStagedChunks && staged_smem <= (size_t)ctx->max_smem_optin) {
        raise_smem_limit<cross_entropy_staged_kernel<LOSS, GRAD>>(staged_smem);
        const int blocks = N < ctx->sm_count ? N : ctx->sm_count;
        cross_entropy_staged_kernel<LOSS, GRAD><<<blocks, kStagedThreads, staged_smem, stream>>>(
            losses, (floatX *)dlogits, (const floatX *)logits, targets, dloss, N, V);
    } else if (vec)
        cross_entropy_kernel<8, LOSS, GRAD><<<N, kThreads, 0, stream>>>(losses, (floatX *)dlogits, (const floatX *)logits,
                                                                       targets, dloss, N, V);
    else
        cross_entropy_kernel<1, LOSS, GRAD><<<N, kThreads, 0, stream>>>(losses, (floatX *)dlogits, (const floatX *)logits,
                                                                       targets, dloss, N, V);
    cudaCheck(cudaGetLastError());
}

extern "C" void cross_entropy_forward_cuda(float *losses, const void *logits, const int32_t *targets, int N, int V,
                                           cudaStream_t stream) {
    cross_entropy_launch<true, false>(losses, NULL, logits, targets, 0.0f, N, V, stream);
}

extern "C" void cross_entropy_backward_cuda(void *dlogits, const void *logits, const int32_t *targets, float dloss,
                                            int N, int V, cudaStream_t stream) {
    cross_entropy_launch<false, true>(NULL, dlogits, logits, targets, dloss, N, V, stream);
}

extern "C" void cross_entropy_fused_cuda(float *losses, void *dlogits, const void *logits, const int32_t *targets,
                                         float dloss, int N, int V, cudaStream_t stream) {
    cross_entropy_launch<true, true>(losses, dlogits, logits, targets, dloss, N, V, stream);
}
