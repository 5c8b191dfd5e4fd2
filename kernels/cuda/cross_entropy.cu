// cross_entropy.cu: softmax cross-entropy over the vocabulary, per row: losses[n] = logsumexp(logits[n]) -
// logits[n, t_n] (fp32), and dlogits[n] = (softmax(logits[n]) - onehot(t_n)) * dloss (bf16, may overwrite the
// logits in place), as llm.c's fused classifier.
//
// Rows up to kRegThreads x 8 x kRegChunks = 32768 logits (16-byte aligned, V % 8 == 0: every vocabulary of this
// project's models): one block of 1024 threads per row holds the whole row in registers, a thread's four 16-byte
// loads issued at once; the max, then the sum of exp(x - max), each a block reduction; the gradient from the
// registers. One read and one write of the row. Longer or unaligned rows: one block of 1024 threads per row;
// pass 1 keeps a running (max, sum of exp) per thread over its strided elements (online softmax), combined
// across the block; pass 2 (gradient only) reads the row again, from L2, and writes the gradient. That kernel
// (the first version) moved 2 TB/s for scout_swa_470m's head (0.27 ms per 4194 x 32000 chunk): a thread's loads
// went out one after another, each behind the previous one's eight dependent exponentials. Normalised
// probabilities are never stored. Rows are taken in reverse order so that the last rows the logits matmul wrote,
// still in L2, come first. fp32 throughout; the row's logits may be bf16.
#include "cuda/common.cuh"

static const int kThreads = 1024;
static const int kRegThreads = 1024, kRegChunks = 4;

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

// One element of the gradient: (softmax - onehot) * dloss, rounded to bf16.
__device__ __forceinline__ floatX ce_grad(float x, float lse, float dloss, bool is_target) {
    float g = expf(x - lse) * dloss;
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
        for (int c = threadIdx.x * VEC; c < V; c += blockDim.x * VEC) {
            if (VEC == 8) {
                x128 v = load128(row + c), o;
                for (int k = 0; k < 8; k++) o[k] = ce_grad(bf2f(v[k]), lse, dloss, c + k == target);
                store128(drow + c, o);
            } else {
                drow[c] = ce_grad(bf2f(row[c]), lse, dloss, c == target);
            }
        }
    }
}

// The row in registers (see the top): thread t holds logits [8 (t + j kRegThreads), + 8) for j < kRegChunks.
template <bool LOSS, bool GRAD>
__global__ void __launch_bounds__(kRegThreads) cross_entropy_reg_kernel(float *losses, floatX *dlogits,
                                                                        const floatX *logits,
                                                                        const int32_t *targets, float dloss, int N,
                                                                        int V) {
    __shared__ float scratch[32];
    const int n = N - 1 - blockIdx.x;
    const floatX *row = logits + (size_t)n * V;
    const int target = targets[n];
    // Read before any thread of the block can overwrite it (in-place gradient): the barriers inside the block
    // reductions below order this read before every write.
    const float target_logit = LOSS && threadIdx.x == 0 ? bf2f(row[target]) : 0.0f;

    x128 x[kRegChunks];
#pragma unroll
    for (int j = 0; j < kRegChunks; j++) {
        const int c = (threadIdx.x + j * kRegThreads) * 8;
        if (c < V) x[j] = load128(row + c);
    }
    float m = -INFINITY;
#pragma unroll
    for (int j = 0; j < kRegChunks; j++)
        if ((threadIdx.x + j * kRegThreads) * 8 < V)
#pragma unroll
            for (int k = 0; k < 8; k++) m = fmaxf(m, bf2f(x[j][k]));
    const float row_max = block_reduce_max(m, scratch);
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kRegChunks; j++)
        if ((threadIdx.x + j * kRegThreads) * 8 < V)
#pragma unroll
            for (int k = 0; k < 8; k++) s += expf(bf2f(x[j][k]) - row_max);
    const float lse = row_max + logf(block_reduce_sum(s, scratch));
    if (LOSS && threadIdx.x == 0) losses[n] = lse - target_logit;

    if (GRAD) {
        floatX *drow = dlogits + (size_t)n * V;
#pragma unroll
        for (int j = 0; j < kRegChunks; j++) {
            const int c = (threadIdx.x + j * kRegThreads) * 8;
            if (c >= V) continue;
            x128 o;
#pragma unroll
            for (int k = 0; k < 8; k++) o[k] = ce_grad(bf2f(x[j][k]), lse, dloss, c + k == target);
            store128(drow + c, o);
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
    if (vec && V <= kRegThreads * 8 * kRegChunks)
        cross_entropy_reg_kernel<LOSS, GRAD><<<N, kRegThreads, 0, stream>>>(
            losses, (floatX *)dlogits, (const floatX *)logits, targets, dloss, N, V);
    else if (vec)
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
