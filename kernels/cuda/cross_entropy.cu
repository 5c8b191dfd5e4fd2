// cross_entropy.cu: softmax cross-entropy over the vocabulary, per row: losses[n] = logsumexp(logits[n]) -
// logits[n, t_n] (fp32), and dlogits[n] = (softmax(logits[n]) - onehot(t_n)) * dloss (bf16, may overwrite the
// logits in place), as llm.c's fused classifier.
//
// One block of 1024 threads per row (V is tens of thousands): pass 1 keeps a running (max, sum of exp) per
// thread over its strided elements (online softmax: one read of the row), combined across the block; pass 2
// (gradient only) reads the row again, from L2, and writes the gradient. Normalised probabilities are never
// stored. Rows are taken in reverse order so that the last rows the logits matmul wrote, still in L2, come
// first. fp32 throughout; the row's logits may be bf16.
#include "cuda/common.cuh"

static const int kThreads = 1024;

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
                for (int k = 0; k < 8; k++) {
                    float g = expf(bf2f(v[k]) - lse) * dloss;
                    if (c + k == target) g -= dloss;
                    o[k] = f2bf(g);
                }
                store128(drow + c, o);
            } else {
                float g = expf(bf2f(row[c]) - lse) * dloss;
                if (c == target) g -= dloss;
                drow[c] = f2bf(g);
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
    if (vec)
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
