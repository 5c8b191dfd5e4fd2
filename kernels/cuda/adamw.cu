// adamw.cu: one AdamW step (D5, PyTorch semantics) on fp32 master weights with fp32 moments, writing the bf16
// copy of the weights the forward reads, rounded stochastically (llm.c's adamw_kernel3).
//
// Eight parameters per thread, memory-bound (read grad, m, v, master; write m, v, master, weights). The update
// is the CPU reference's formula operation for operation, each separately rounded (bias corrections computed
// once on the host, in double), so the fp32 results are bit-identical to it (see adamw_element). Stochastic
// rounding draws its random bits from a hash of (element index, seed) rather than of the thread, so the result
// does not depend on the launch shape; the same seed gives the same weights (a resumed run re-rounds
// bit-identically when it stores the seed).
#include <math.h>

#include "cuda/common.cuh"

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// SquirrelNoise5 (Squirrel Eiserloh), the hash llm.c uses for stochastic rounding.
__device__ __forceinline__ uint32_t squirrel_noise5(uint32_t position, uint32_t seed) {
    const uint32_t n1 = 0xd2a80a3f, n2 = 0xa884f197, n3 = 0x6C736F4B, n4 = 0xB79F3ABB, n5 = 0x1b56c4f5;
    uint32_t b = position;
    b *= n1;
    b += seed;
    b ^= (b >> 9);
    b += n2;
    b ^= (b >> 11);
    b *= n3;
    b ^= (b >> 13);
    b += n4;
    b ^= (b >> 15);
    b *= n5;
    b ^= (b >> 17);
    return b;
}

// fp32 -> bf16 with probability of rounding up equal to the discarded fraction: add 16 random bits below the
// kept ones, then truncate. Inf and NaN are left to the ordinary conversion.
__device__ __forceinline__ floatX stochastic_round_bf16(float x, uint32_t random) {
    uint32_t bits = __float_as_uint(x);
    if ((bits & 0x7f800000u) == 0x7f800000u) return f2bf(x);
    uint32_t rounded = (bits + (random & 0xffffu)) & 0xffff0000u;
    return __ushort_as_bfloat16((unsigned short)(rounded >> 16));
}

// The random bits of element i. The hash of the 64-bit index folds its high word into the seed, so tensors above
// 2^32 elements still get distinct bits per element.
__device__ __forceinline__ uint32_t element_noise(size_t i, uint32_t seed) {
    return squirrel_noise5((uint32_t)i, seed ^ (uint32_t)(i >> 32) * 0x9E3779B9u);
}

// One element's update; returns the new master value. Every operation is a separately rounded intrinsic
// (__fmul_rn, ...), which nvcc never contracts into an FMA: the CPU reference (x86-64 without FMA) computes
// exactly these roundings, so the GPU step is bit-identical to it, and the result cannot depend on how ptxas
// happened to fuse the expression in a given kernel (the batched and per-tensor kernels differed in the last bit
// of 6% of the master weights before).
__device__ __forceinline__ float adamw_element(float &master, float g, float &m, float &v, float step_size, float decay,
                                               float beta1, float beta2, float bc2_sqrt, float eps) {
    const float mi = __fadd_rn(__fmul_rn(beta1, m), __fmul_rn(1.0f - beta1, g));
    const float vi = __fadd_rn(__fmul_rn(beta2, v), __fmul_rn(__fmul_rn(1.0f - beta2, g), g));
    m = mi;
    v = vi;
    // Decoupled decay first (param *= 1 - lr wd), then the Adam step, as PyTorch orders them.
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2_sqrt), eps);
    master = __fsub_rn(__fmul_rn(master, decay), __fdiv_rn(__fmul_rn(step_size, mi), denom));
    return master;
}

// VEC = 8: two 16-byte loads of each fp32 tensor per thread (every tensor of the parameter buffer starts on a
// 64-byte boundary) and one 16-byte store of the eight bf16 weights; the scalar loads of the first version, and
// then four per thread with 2-byte weight stores, kept too few bytes in flight to reach the memory bandwidth
// (5.4 ms per step of scout_swa_470m, 60% of it). VEC = 1 for unaligned slices. Element i's update and rounding
// bits are the same either way.
// adamw_thread: one thread's elements [i0, i0 + VEC) of a tensor of n (tensor-local indices: the rounding bits
// depend on them).
template <int VEC>
__device__ __forceinline__ void adamw_thread(float *master, floatX *weights, const float *grad, float *m, float *v,
                                             size_t n, size_t i0, float step_size, float decay, float beta1,
                                             float beta2, float bc2_sqrt, float eps, float grad_scale, uint32_t seed,
                                             int nearest) {
    if (i0 >= n) return;
    if (VEC == 8 && i0 + 8 <= n) {
        float4 g4[2], m4[2], v4[2], p4[2];
#pragma unroll
        for (int h = 0; h < 2; h++) {
            g4[h] = *(const float4 *)(grad + i0 + 4 * h), m4[h] = *(float4 *)(m + i0 + 4 * h);
            v4[h] = *(float4 *)(v + i0 + 4 * h), p4[h] = *(float4 *)(master + i0 + 4 * h);
        }
        float *gs = &g4[0].x, *ms = &m4[0].x, *vs = &v4[0].x, *ps = &p4[0].x; // float4[2]: 8 contiguous floats
#pragma unroll
        for (int k = 0; k < 8; k++)
            adamw_element(ps[k], __fmul_rn(gs[k], grad_scale), ms[k], vs[k], step_size, decay, beta1, beta2, bc2_sqrt, eps);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            *(float4 *)(m + i0 + 4 * h) = m4[h];
            *(float4 *)(v + i0 + 4 * h) = v4[h];
            *(float4 *)(master + i0 + 4 * h) = p4[h];
        }
        if (weights) {
            x128 w;
#pragma unroll
            for (int k = 0; k < 8; k++)
                w[k] = nearest ? f2bf(ps[k]) : stochastic_round_bf16(ps[k], element_noise(i0 + k, seed));
            store128(weights + i0, w);
        }
        return;
    }
    for (size_t i = i0; i < i0 + VEC && i < n; i++) {
        float p = adamw_element(master[i], __fmul_rn(grad[i], grad_scale), m[i], v[i], step_size, decay, beta1, beta2,
                                bc2_sqrt, eps);
        if (weights) weights[i] = nearest ? f2bf(p) : stochastic_round_bf16(p, element_noise(i, seed));
    }
}

template <int VEC>
__global__ void adamw_kernel(float *master, floatX *weights, const float *grad, float *m, float *v, size_t n,
                             float step_size, float decay, float beta1, float beta2, float bc2_sqrt, float eps,
                             float grad_scale, uint32_t seed, int nearest) {
    adamw_thread<VEC>(master, weights, grad, m, v, n, ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC,
                      step_size, decay, beta1, beta2, bc2_sqrt, eps, grad_scale, seed, nearest);
}

// Up to kBatchTensors tensors of one parameter buffer in one launch (apex's multi_tensor_apply idea): tensor t
// owns blocks [block_start[t], block_start[t + 1]); a block finds its tensor by binary search in the kernel's
// parameters (block-uniform, the constant bank). 3.6 KB of parameters, under the 4 KB every launch may pass.
constexpr int kAdamwThreads = 512, kAdamwVec = 8, kBatchTensors = 128;
struct AdamwBatch {
    int n_tensors;
    unsigned block_start[kBatchTensors + 1];
    size_t offset[kBatchTensors], numel[kBatchTensors];
    float decay[kBatchTensors]; // 1 - lr wd
    uint32_t seed[kBatchTensors];
};

__global__ void __launch_bounds__(kAdamwThreads)
    adamw_batch_kernel(float *master, floatX *weights, const float *grad, float *m, float *v,
                       const __grid_constant__ AdamwBatch b, float step_size, float beta1, float beta2,
                       float bc2_sqrt, float eps, float grad_scale, int nearest) {
    int lo = 0, hi = b.n_tensors - 1; // the last t with block_start[t] <= blockIdx.x
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (b.block_start[mid] <= blockIdx.x) lo = mid;
        else hi = mid - 1;
    }
    const size_t o = b.offset[lo];
    const size_t i0 = ((size_t)(blockIdx.x - b.block_start[lo]) * kAdamwThreads + threadIdx.x) * kAdamwVec;
    adamw_thread<kAdamwVec>(master + o, weights ? weights + o : NULL, grad + o, m + o, v + o, b.numel[lo], i0,
                            step_size, b.decay[lo], beta1, beta2, bc2_sqrt, eps, grad_scale, b.seed[lo], nearest);
}

// The rounding of adamw_kernel alone: the bf16 copy of master exactly as an AdamW step with this seed left it.
__global__ void round_seeded_kernel(floatX *weights, const float *master, size_t n, uint32_t seed, int nearest) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float p = master[i];
    weights[i] = nearest ? f2bf(p) : stochastic_round_bf16(p, element_noise(i, seed));
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

int scout_cuda_adamw_round_nearest_(void); // backend_cuda.cu: the SCOUT_CUDA_ADAMW_ROUND_NEAREST flag

// A step's scalars, shared by the per-tensor and batched launchers: the bias corrections once per call, in
// double, exactly as the CPU reference computes them; a tensor's decay 1 - lr wd.
struct AdamwScalars {
    float step_size, bc2_sqrt;
};
static AdamwScalars adamw_scalars(float lr, float beta1, float beta2, int step) {
    const float bc1 = (float)(1.0 - pow(beta1, step));
    return {lr / bc1, (float)sqrt(1.0 - pow(beta2, step))};
}
static float adamw_decay(float lr, float weight_decay) { return 1.0f - lr * weight_decay; }

extern "C" void adamw_step_cuda(float *master, void *weights, const float *grad, float *m, float *v, size_t n,
                                float lr, float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                                int step, uint32_t seed, cudaStream_t stream) {
    if (n == 0) return;
    const AdamwScalars sc = adamw_scalars(lr, beta1, beta2, step);
    const float step_size = sc.step_size, bc2_sqrt = sc.bc2_sqrt, decay = adamw_decay(lr, weight_decay);
    const int block = 512, nearest = scout_cuda_adamw_round_nearest_();
    if (aligned16(master) && aligned16(grad) && aligned16(m) && aligned16(v) && aligned16(weights))
        adamw_kernel<8><<<(unsigned)ceil_div_sz(n, 8 * block), block, 0, stream>>>(
            master, (floatX *)weights, grad, m, v, n, step_size, decay, beta1, beta2, bc2_sqrt, eps, grad_scale, seed,
            nearest);
    else
        adamw_kernel<1><<<(unsigned)ceil_div_sz(n, block), block, 0, stream>>>(
            master, (floatX *)weights, grad, m, v, n, step_size, decay, beta1, beta2, bc2_sqrt, eps, grad_scale, seed,
            nearest);
    cudaCheck(cudaGetLastError());
}

// The batched step: tensors whose slices are 16-byte aligned go into launches of up to kBatchTensors; any other
// takes adamw_step_cuda's path on its own (the tensors are disjoint, so the order does not matter).
extern "C" void adamw_step_tensors_cuda(float *master, void *weights, const float *grad, float *m, float *v,
                                        const adamw_tensor *tensors, int n_tensors, float lr, float beta1, float beta2,
                                        float eps, float grad_scale, int step, cudaStream_t stream) {
    const AdamwScalars sc = adamw_scalars(lr, beta1, beta2, step);
    const float step_size = sc.step_size, bc2_sqrt = sc.bc2_sqrt;
    const int nearest = scout_cuda_adamw_round_nearest_();
    floatX *w = (floatX *)weights;
    AdamwBatch b;
    b.n_tensors = 0;
    unsigned blocks = 0;
    auto flush = [&] {
        if (b.n_tensors == 0) return;
        b.block_start[b.n_tensors] = blocks;
        adamw_batch_kernel<<<blocks, kAdamwThreads, 0, stream>>>(master, w, grad, m, v, b, step_size, beta1, beta2,
                                                                 bc2_sqrt, eps, grad_scale, nearest);
        cudaCheck(cudaGetLastError());
        b.n_tensors = 0, blocks = 0;
    };
    for (int i = 0; i < n_tensors; i++) {
        const adamw_tensor *t = &tensors[i];
        if (t->numel == 0) continue;
        const size_t o = t->offset;
        const size_t nb = ceil_div_sz(t->numel, (size_t)kAdamwThreads * kAdamwVec);
        const bool aligned = aligned16(master + o) && aligned16(grad + o) && aligned16(m + o) && aligned16(v + o) &&
                             (!w || aligned16(w + o));
        if (!aligned || nb > 0x7fffffffu / 2) { // unaligned, or a tensor of over 2^33 elements: on its own
            adamw_step_cuda(master + o, w ? w + o : NULL, grad + o, m + o, v + o, t->numel, lr, beta1, beta2, eps,
                            t->weight_decay, grad_scale, step, t->seed, stream);
            continue;
        }
        if (b.n_tensors == kBatchTensors || blocks + nb > 0x7fffffffu) flush(); // grid x is below 2^31
        b.block_start[b.n_tensors] = blocks;
        b.offset[b.n_tensors] = o, b.numel[b.n_tensors] = t->numel;
        b.decay[b.n_tensors] = adamw_decay(lr, t->weight_decay);
        b.seed[b.n_tensors] = t->seed;
        b.n_tensors++;
        blocks += (unsigned)nb;
    }
    flush();
}

extern "C" void f32_to_bf16_seeded_cuda(void *dst, const float *src, size_t n, uint32_t seed, cudaStream_t stream) {
    if (n == 0) return;
    const int block = 512;
    round_seeded_kernel<<<(unsigned)ceil_div_sz(n, block), block, 0, stream>>>((floatX *)dst, src, n, seed,
                                                                                scout_cuda_adamw_round_nearest_());
    cudaCheck(cudaGetLastError());
}
