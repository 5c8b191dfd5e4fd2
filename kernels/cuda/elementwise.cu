// elementwise.cu: the residual add (out = a + b in bf16), strided row copies, and the fp32 <-> bf16
// conversions of the backend table.
//
// Memory-bound one-pass kernels: each thread moves 16 bytes per tensor (one Packed128) when every pointer is
// 16-byte aligned, and falls back to one element per thread otherwise, so any slice of a buffer works. The
// arithmetic is fp32 with one rounding to bf16 at the end, as the CPU reference rounds nothing.
#include "cuda/common.cuh"

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// out[i] = a[i] + b[i]; VEC elements per thread (8 = one x128, or 1). out may alias a or b: each element is
// read before it is written, by the same thread.
template <int VEC>
__global__ void add_kernel(floatX *out, const floatX *a, const floatX *b, size_t n) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC;
    if (i >= n) return;
    if (VEC == 8 && i + 8 <= n) {
        x128 va = load128(a + i), vb = load128(b + i), vo;
        for (int k = 0; k < 8; k++) vo[k] = f2bf(bf2f(va[k]) + bf2f(vb[k]));
        store128(out + i, vo);
        return;
    }
    for (size_t j = i; j < i + VEC && j < n; j++) out[j] = f2bf(bf2f(a[j]) + bf2f(b[j]));
}

template <int VEC>
__global__ void f32_to_bf16_kernel(floatX *dst, const float *src, size_t n) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC;
    if (i >= n) return;
    if (VEC == 8 && i + 8 <= n) {
        f128 lo = load128(src + i), hi = load128(src + i + 4);
        x128 o;
        for (int k = 0; k < 4; k++) o[k] = f2bf(lo[k]), o[k + 4] = f2bf(hi[k]);
        store128(dst + i, o);
        return;
    }
    for (size_t j = i; j < i + VEC && j < n; j++) dst[j] = f2bf(src[j]);
}

template <int VEC>
__global__ void bf16_to_f32_kernel(float *dst, const floatX *src, size_t n) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC;
    if (i >= n) return;
    if (VEC == 8 && i + 8 <= n) {
        x128 v = load128(src + i);
        f128 lo, hi;
        for (int k = 0; k < 4; k++) lo[k] = bf2f(v[k]), hi[k] = bf2f(v[k + 4]);
        store128(dst + i, lo);
        store128(dst + i + 4, hi);
        return;
    }
    for (size_t j = i; j < i + VEC && j < n; j++) dst[j] = bf2f(src[j]);
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

static const int kBlock = 256;

static unsigned grid_for(size_t n, int vec) { return (unsigned)ceil_div_sz(ceil_div_sz(n, (size_t)vec), kBlock); }

extern "C" void add_cuda(void *out, const void *a, const void *b, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    floatX *o = (floatX *)out;
    const floatX *pa = (const floatX *)a, *pb = (const floatX *)b;
    if (aligned16(o) && aligned16(pa) && aligned16(pb))
        add_kernel<8><<<grid_for(n, 8), kBlock, 0, stream>>>(o, pa, pb, n);
    else
        add_kernel<1><<<grid_for(n, 1), kBlock, 0, stream>>>(o, pa, pb, n);
    cudaCheck(cudaGetLastError());
}

// A strided 2-D copy is what cudaMemcpy2DAsync does at full bandwidth (pitches in bytes).
extern "C" void copy_rows_cuda(void *dst, int dst_stride, const void *src, int src_stride, int rows, int cols,
                               cudaStream_t stream) {
    if (rows <= 0 || cols <= 0) return;
    cudaCheck(cudaMemcpy2DAsync(dst, (size_t)dst_stride * sizeof(floatX), src, (size_t)src_stride * sizeof(floatX),
                                (size_t)cols * sizeof(floatX), (size_t)rows, cudaMemcpyDeviceToDevice, stream));
}

extern "C" void f32_to_bf16_cuda(void *dst, const float *src, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    if (aligned16(dst) && aligned16(src))
        f32_to_bf16_kernel<8><<<grid_for(n, 8), kBlock, 0, stream>>>((floatX *)dst, src, n);
    else
        f32_to_bf16_kernel<1><<<grid_for(n, 1), kBlock, 0, stream>>>((floatX *)dst, src, n);
    cudaCheck(cudaGetLastError());
}

extern "C" void bf16_to_f32_cuda(float *dst, const void *src, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    if (aligned16(dst) && aligned16(src))
        bf16_to_f32_kernel<8><<<grid_for(n, 8), kBlock, 0, stream>>>(dst, (const floatX *)src, n);
    else
        bf16_to_f32_kernel<1><<<grid_for(n, 1), kBlock, 0, stream>>>(dst, (const floatX *)src, n);
    cudaCheck(cudaGetLastError());
}
