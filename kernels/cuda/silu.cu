// silu.cu: SiLU, out = x * sigmoid(x) (the Mamba conv activation), and its backward dx = dout * silu'(x).
//
// One pass, memory-bound: 16 bytes per thread per tensor when the pointers allow (Packed128), else one
// element per thread; fp32 math with the CPU reference's formulas (common.cuh), one bf16 rounding per output.
// In place is allowed (out == x, dx == dout): every element is read before it is written by the same thread.
#include "cuda/common.cuh"

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

template <int VEC>
__global__ void silu_forward_kernel(floatX *out, const floatX *x, size_t n) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC;
    if (i >= n) return;
    if (VEC == 8 && i + 8 <= n) {
        x128 vx = load128(x + i), vo;
        for (int k = 0; k < 8; k++) vo[k] = f2bf(siluf_(bf2f(vx[k])));
        store128(out + i, vo);
        return;
    }
    for (size_t j = i; j < i + VEC && j < n; j++) out[j] = f2bf(siluf_(bf2f(x[j])));
}

template <int VEC>
__global__ void silu_backward_kernel(floatX *dx, const floatX *dout, const floatX *x, size_t n) {
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * VEC;
    if (i >= n) return;
    if (VEC == 8 && i + 8 <= n) {
        x128 vg = load128(dout + i), vx = load128(x + i), vo;
        for (int k = 0; k < 8; k++) vo[k] = f2bf(bf2f(vg[k]) * silu_gradf_(bf2f(vx[k])));
        store128(dx + i, vo);
        return;
    }
    for (size_t j = i; j < i + VEC && j < n; j++) dx[j] = f2bf(bf2f(dout[j]) * silu_gradf_(bf2f(x[j])));
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

extern "C" void silu_forward_cuda(void *out, const void *x, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    const int block = 256;
    if (aligned16(out) && aligned16(x))
        silu_forward_kernel<8><<<(unsigned)ceil_div_sz(n, 8 * block), block, 0, stream>>>((floatX *)out,
                                                                                         (const floatX *)x, n);
    else
        silu_forward_kernel<1><<<(unsigned)ceil_div_sz(n, block), block, 0, stream>>>((floatX *)out,
                                                                                     (const floatX *)x, n);
    cudaCheck(cudaGetLastError());
}

extern "C" void silu_backward_cuda(void *dx, const void *dout, const void *x, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    const int block = 256;
    if (aligned16(dx) && aligned16(dout) && aligned16(x))
        silu_backward_kernel<8><<<(unsigned)ceil_div_sz(n, 8 * block), block, 0, stream>>>(
            (floatX *)dx, (const floatX *)dout, (const floatX *)x, n);
    else
        silu_backward_kernel<1><<<(unsigned)ceil_div_sz(n, block), block, 0, stream>>>(
            (floatX *)dx, (const floatX *)dout, (const floatX *)x, n);
    cudaCheck(cudaGetLastError());
}
