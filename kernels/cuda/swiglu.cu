// swiglu.cu: the gated MLP activation out = silu(gate) * up (spec §6.3) and its backward, with gate and up
// either two [N, I] buffers or the halves of one fused [N, 2I] matmul output (in_stride = 2I).
//
// Grid (rows, column blocks): each thread handles VEC consecutive columns of one row, 16-byte Packed128
// accesses when every row start is 16-byte aligned (inter and in_stride multiples of 8, aligned pointers),
// else one element per thread. In place (dgate == gate, dup == up) is allowed: each thread reads its gate and
// up values before writing either.
#include "cuda/common.cuh"

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

template <int VEC>
__global__ void swiglu_forward_kernel(floatX *out, const floatX *gate, const floatX *up, int in_stride, int inter) {
    int i = (blockIdx.y * blockDim.x + threadIdx.x) * VEC;
    size_t n = blockIdx.x;
    if (i >= inter) return;
    const floatX *g = gate + n * in_stride, *u = up + n * in_stride;
    floatX *o = out + n * inter;
    if (VEC == 8 && i + 8 <= inter) {
        x128 vg = load128(g + i), vu = load128(u + i), vo;
        for (int k = 0; k < 8; k++) vo[k] = f2bf(siluf_(bf2f(vg[k])) * bf2f(vu[k]));
        store128(o + i, vo);
        return;
    }
    for (int j = i; j < i + VEC && j < inter; j++) o[j] = f2bf(siluf_(bf2f(g[j])) * bf2f(u[j]));
}

template <int VEC>
__global__ void swiglu_backward_kernel(floatX *dgate, floatX *dup, const floatX *dout, const floatX *gate,
                                       const floatX *up, int in_stride, int inter) {
    int i = (blockIdx.y * blockDim.x + threadIdx.x) * VEC;
    size_t n = blockIdx.x;
    if (i >= inter) return;
    const floatX *g = gate + n * in_stride, *u = up + n * in_stride, *go = dout + n * inter;
    floatX *dg = dgate + n * in_stride, *du = dup + n * in_stride;
    if (VEC == 8 && i + 8 <= inter) {
        x128 vg = load128(g + i), vu = load128(u + i), vo = load128(go + i), rg, ru;
        for (int k = 0; k < 8; k++) {
            float gi = bf2f(vg[k]), ui = bf2f(vu[k]), oi = bf2f(vo[k]);
            rg[k] = f2bf(oi * ui * silu_gradf_(gi));
            ru[k] = f2bf(oi * siluf_(gi));
        }
        store128(dg + i, rg);
        store128(du + i, ru);
        return;
    }
    for (int j = i; j < i + VEC && j < inter; j++) {
        float gi = bf2f(g[j]), ui = bf2f(u[j]), oi = bf2f(go[j]);
        dg[j] = f2bf(oi * ui * silu_gradf_(gi));
        du[j] = f2bf(oi * siluf_(gi));
    }
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

// Rows start on 16-byte boundaries when the base pointers do and both row lengths are multiples of 8.
static bool rows_aligned(const void *p, int stride) { return aligned16(p) && stride % 8 == 0; }

extern "C" void swiglu_forward_cuda(void *out, const void *gate, const void *up, int in_stride, int N, int inter,
                                    cudaStream_t stream) {
    if (N <= 0 || inter <= 0) return;
    const int block = 128;
    bool vec = rows_aligned(out, inter) && rows_aligned(gate, in_stride) && rows_aligned(up, in_stride);
    if (vec) {
        dim3 grid(N, ceil_div(inter, 8 * block));
        swiglu_forward_kernel<8><<<grid, block, 0, stream>>>((floatX *)out, (const floatX *)gate,
                                                             (const floatX *)up, in_stride, inter);
    } else {
        dim3 grid(N, ceil_div(inter, block));
        swiglu_forward_kernel<1><<<grid, block, 0, stream>>>((floatX *)out, (const floatX *)gate,
                                                             (const floatX *)up, in_stride, inter);
    }
    cudaCheck(cudaGetLastError());
}

extern "C" void swiglu_backward_cuda(void *dgate, void *dup, const void *dout, const void *gate, const void *up,
                                     int in_stride, int N, int inter, cudaStream_t stream) {
    if (N <= 0 || inter <= 0) return;
    const int block = 128;
    bool vec = rows_aligned(dgate, in_stride) && rows_aligned(dup, in_stride) && rows_aligned(dout, inter) &&
               rows_aligned(gate, in_stride) && rows_aligned(up, in_stride);
    if (vec) {
        dim3 grid(N, ceil_div(inter, 8 * block));
        swiglu_backward_kernel<8><<<grid, block, 0, stream>>>((floatX *)dgate, (floatX *)dup, (const floatX *)dout,
                                                              (const floatX *)gate, (const floatX *)up, in_stride,
                                                              inter);
    } else {
        dim3 grid(N, ceil_div(inter, block));
        swiglu_backward_kernel<1><<<grid, block, 0, stream>>>((floatX *)dgate, (floatX *)dup, (const floatX *)dout,
                                                              (const floatX *)gate, (const floatX *)up, in_stride,
                                                              inter);
    }
    cudaCheck(cudaGetLastError());
}
