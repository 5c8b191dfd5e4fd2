// rope.cu: rotary position embedding, rotate-half (NeoX) convention (spec §6.5), in place on q or k laid out
// [B, T, n_heads, d]; the backward is the rotation by the negative angle.
//
// One thread per rotated pair (x[j], x[j + d/2]): the pair is read and written by the same thread, so in
// place is safe. The angle is formed exactly as the CPU reference (and Hugging Face) forms it, in fp32:
// inv_freq = 1 / theta^(2j/d), angle = (pos0 + t) * inv_freq, with the accurate sinf/cosf (this file is not
// built with fast math; angles reach tens of thousands of radians at long context).
#include "cuda/common.cuh"

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void rope_kernel(floatX *x, int T, int n_heads, int d, int pos0, float theta, float sign,
                            size_t n_pairs) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n_pairs) return;
    const int half = d / 2;
    int j = (int)(idx % half);
    size_t head = idx / half;                     // (b * T + t) * n_heads + h
    int t = (int)((head / n_heads) % T);
    float inv_freq = 1.0f / powf(theta, (float)(2 * j) / (float)d);
    float angle = (float)(pos0 + t) * inv_freq;
    float c = cosf(angle), s = sign * sinf(angle);
    floatX *xh = x + head * d;
    float x1 = bf2f(xh[j]), x2 = bf2f(xh[j + half]);
    xh[j] = f2bf(x1 * c - x2 * s);
    xh[j + half] = f2bf(x2 * c + x1 * s);
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

static void rope_launch(void *x, int B, int T, int n_heads, int d, int pos0, float theta, float sign,
                        cudaStream_t stream) {
    scout_require(d % 2 == 0, "rope: head dim %d must be even", d);
    size_t n_pairs = (size_t)B * T * n_heads * (d / 2);
    if (n_pairs == 0) return;
    const int block = 256;
    rope_kernel<<<(unsigned)ceil_div_sz(n_pairs, block), block, 0, stream>>>((floatX *)x, T, n_heads, d, pos0, theta,
                                                                             sign, n_pairs);
    cudaCheck(cudaGetLastError());
}

extern "C" void rope_forward_cuda(void *x, int B, int T, int n_heads, int d, int pos0, float theta,
                                  cudaStream_t stream) {
    rope_launch(x, B, T, n_heads, d, pos0, theta, 1.0f, stream);
}

extern "C" void rope_backward_cuda(void *dx, int B, int T, int n_heads, int d, int pos0, float theta,
                                   cudaStream_t stream) {
    rope_launch(dx, B, T, n_heads, d, pos0, theta, -1.0f, stream);
}
