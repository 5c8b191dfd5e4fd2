// global_norm.cu: the L2 norm over several fp32 gradient tensors, for global-norm clipping (D5), returned to
// the host.
//
// Deterministic two-stage reduction (llm.c's global_norm_squared + global_sum_deterministic): stage 1 gives
// every tensor a fixed number of blocks (kBlocksPerTensor, independent of the GPU, so the partial sums and
// therefore the result are the same on every device and run) that write one double each into the workspace;
// stage 2 is a single block that adds all partials in a fixed tree order. Squares are accumulated in double,
// as the CPU reference does: a float accumulator would drift over hundreds of millions of terms. Tensors are
// passed by value in batches of kBatch pointers, so any number of tensors costs one launch per batch.
#include <math.h>

#include "cuda/common.cuh"

static const int kBlocksPerTensor = 1024; // 256K threads x 16 bytes in flight: enough for the bandwidth
static const int kThreads = 256;
static const int kBatch = 64;

typedef struct {
    const float *ptr[kBatch];
    size_t numel[kBatch];
} tensor_batch;

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// The block's sum of acc, valid in thread 0: warp sums, then thread 0 adds them in warp order (a fixed order,
// so the result is the same on every run). scratch: kThreads / 32 doubles of shared memory.
__device__ __forceinline__ double block_sum_to_thread0(double acc, double *scratch) {
    acc = warp_reduce_sum_d(acc);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = acc;
    __syncthreads();
    double s = 0.0;
    if (threadIdx.x == 0)
        for (int w = 0; w < kThreads / 32; w++) s += scratch[w];
    return s;
}

// Grid (kBlocksPerTensor, tensors in the batch): partial[first + y][x] = sum of squares of the elements block x
// strides over. 16-byte loads when the tensor is 16-byte aligned: the whole gradient (hundreds of millions of
// floats) is read once per step, and with scalar loads and 128 blocks too few bytes were in flight to reach the
// memory bandwidth (5 ms for 470M floats, where 0.45 ms is the bandwidth).
__global__ void __launch_bounds__(kThreads) norm_partial_kernel(double *partial, tensor_batch batch, int first) {
    __shared__ double scratch[kThreads / 32];
    const float *p = batch.ptr[blockIdx.y];
    const size_t n = batch.numel[blockIdx.y];
    const size_t stride = (size_t)gridDim.x * blockDim.x, tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    double acc = 0.0;
    size_t done = 0; // elements covered by the vector loop
    if (((uintptr_t)p & 15) == 0) {
        const float4 *p4 = (const float4 *)p;
        const size_t n4 = n / 4;
        for (size_t i = tid; i < n4; i += stride) {
            float4 v = p4[i];
            acc += (double)v.x * v.x + (double)v.y * v.y + (double)v.z * v.z + (double)v.w * v.w;
        }
        done = n4 * 4;
    }
    for (size_t i = done + tid; i < n; i += stride) {
        double x = p[i];
        acc += x * x;
    }
    const double s = block_sum_to_thread0(acc, scratch);
    if (threadIdx.x == 0) partial[(size_t)(first + blockIdx.y) * kBlocksPerTensor + blockIdx.x] = s;
}

// One block: out[0] = sum of partial[0 .. n).
__global__ void __launch_bounds__(kThreads) norm_final_kernel(double *out, const double *partial, int n) {
    __shared__ double scratch[kThreads / 32];
    double acc = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += partial[i];
    const double s = block_sum_to_thread0(acc, scratch);
    if (threadIdx.x == 0) out[0] = s;
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

// Workspace: kBlocksPerTensor doubles per tensor, then the final double.
extern "C" size_t global_norm_workspace_size_cuda(int n_tensors) {
    return ((size_t)n_tensors * kBlocksPerTensor + 1) * sizeof(double);
}

extern "C" float global_norm_cuda(const float *const *tensors, const size_t *numels, int n_tensors, void *ws,
                                  cudaStream_t stream) {
    if (n_tensors <= 0) return 0.0f;
    double *partial = (double *)ws;
    double *total = partial + (size_t)n_tensors * kBlocksPerTensor;
    for (int first = 0; first < n_tensors; first += kBatch) {
        int count = n_tensors - first < kBatch ? n_tensors - first : kBatch;
        tensor_batch batch;
        memset(&batch, 0, sizeof(batch));
        for (int i = 0; i < count; i++) batch.ptr[i] = tensors[first + i], batch.numel[i] = numels[first + i];
        norm_partial_kernel<<<dim3(kBlocksPerTensor, count), kThreads, 0, stream>>>(partial, batch, first);
        cudaCheck(cudaGetLastError());
    }
    norm_final_kernel<<<1, kThreads, 0, stream>>>(total, partial, n_tensors * kBlocksPerTensor);
    cudaCheck(cudaGetLastError());
    double host = 0.0;
    cudaCheck(cudaMemcpyAsync(&host, total, sizeof(double), cudaMemcpyDeviceToHost, stream));
    cudaCheck(cudaStreamSynchronize(stream));
    return (float)sqrt(host);
}
