// embedding.cu: token embedding lookup out[n] = emb[tokens[n]] and its backward, the scatter-add of dout rows
// into the fp32 embedding gradient.
//
// The backward is deterministic without float atomics, the way llm.c's encoder_backward is, but bucketed on
// the GPU instead of the CPU: a stable radix sort (CUB) of (token, position) pairs puts equal tokens next to
// each other in position order; one block per run of equal tokens then adds that run's dout rows into
// demb[token] in position order, starting from the accumulator's old value. That is exactly the CPU
// reference's order of additions, so the result is bit-identical to it and to itself on every run.
#include "cuda/common.cuh"

#ifdef SCOUT_CUDA_EMU
#include <cub/cub.cuh>
#else
#include <cub/device/device_radix_sort.cuh>
#endif

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// Grid (N rows, column blocks); VEC columns per thread.
template <int VEC>
__global__ void embedding_forward_kernel(floatX *out, const int32_t *tokens, const floatX *emb, int C) {
    int c = (blockIdx.y * blockDim.x + threadIdx.x) * VEC;
    if (c >= C) return;
    size_t n = blockIdx.x;
    const floatX *src = emb + (size_t)tokens[n] * C;
    floatX *dst = out + n * C;
    if (VEC == 8 && c + 8 <= C) {
        store128(dst + c, load128(src + c));
        return;
    }
    for (int j = c; j < c + VEC && j < C; j++) dst[j] = src[j];
}

__global__ void iota_kernel(int32_t *v, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) v[i] = i;
}

// Grid (N sorted positions, column blocks). The block of sorted position i works only if i starts a run of
// equal tokens; it then walks the run (positions ascending, the sort being stable) for its columns.
__global__ void embedding_backward_kernel(float *demb, const floatX *dout, const int32_t *sorted_tokens,
                                          const int32_t *sorted_pos, int N, int C) {
    int i = blockIdx.x;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    int token = sorted_tokens[i];
    if (i > 0 && sorted_tokens[i - 1] == token) return; // not the head of its run
    if (c >= C) return;
    float *drow = demb + (size_t)token * C + c;
    float acc = *drow;
    for (int j = i; j < N && sorted_tokens[j] == token; j++) acc += bf2f(dout[(size_t)sorted_pos[j] * C + c]);
    *drow = acc;
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

extern "C" void embedding_forward_cuda(void *out, const int32_t *tokens, const void *emb, int N, int C,
                                       cudaStream_t stream) {
    if (N <= 0 || C <= 0) return;
    const int block = 128;
    if (aligned16(out) && aligned16(emb) && C % 8 == 0) {
        dim3 grid(N, ceil_div(C, 8 * block));
        embedding_forward_kernel<8><<<grid, block, 0, stream>>>((floatX *)out, tokens, (const floatX *)emb, C);
    } else {
        dim3 grid(N, ceil_div(C, block));
        embedding_forward_kernel<1><<<grid, block, 0, stream>>>((floatX *)out, tokens, (const floatX *)emb, C);
    }
    cudaCheck(cudaGetLastError());
}

// Workspace: sorted tokens [N], positions [N], sorted positions [N] (int32), then CUB's scratch.
static size_t ints_bytes(int N) { return ceil_div_sz((size_t)N * sizeof(int32_t), 256) * 256; }

static size_t cub_sort_bytes(int N) {
    size_t bytes = 0;
    cudaCheck(cub::DeviceRadixSort::SortPairs(NULL, bytes, (const int32_t *)NULL, (int32_t *)NULL,
                                              (const int32_t *)NULL, (int32_t *)NULL, N));
    return bytes;
}

extern "C" size_t embedding_backward_workspace_size_cuda(int N, int C) {
    (void)C;
    if (N <= 0) return 0;
    return 3 * ints_bytes(N) + cub_sort_bytes(N);
}

extern "C" void embedding_backward_cuda(float *demb, const void *dout, const int32_t *tokens, void *ws, int N, int C,
                                        cudaStream_t stream) {
    if (N <= 0 || C <= 0) return;
    char *p = (char *)ws;
    int32_t *sorted_tokens = (int32_t *)p;
    int32_t *pos = (int32_t *)(p + ints_bytes(N));
    int32_t *sorted_pos = (int32_t *)(p + 2 * ints_bytes(N));
    void *cub_tmp = p + 3 * ints_bytes(N);
    size_t cub_bytes = cub_sort_bytes(N);

    iota_kernel<<<ceil_div(N, 256), 256, 0, stream>>>(pos, N);
    cudaCheck(cudaGetLastError());
    // Tokens are in [0, V) (the data loader checks), so the sign bit never matters; all 32 bits are sorted.
    cudaCheck(cub::DeviceRadixSort::SortPairs(cub_tmp, cub_bytes, tokens, sorted_tokens, pos, sorted_pos, N, 0, 32,
                                              stream));
    const int block = 128;
    dim3 grid(N, ceil_div(C, block));
    embedding_backward_kernel<<<grid, block, 0, stream>>>(demb, (const floatX *)dout, sorted_tokens, sorted_pos, N,
                                                          C);
    cudaCheck(cudaGetLastError());
}
