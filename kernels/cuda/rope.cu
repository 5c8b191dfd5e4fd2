// rope.cu: rotary position embedding, rotate-half (NeoX) convention (spec §6.5), in place on the first n_heads
// heads of each row of x [B, T, x_stride] (q, k, or both of the stacked q/k/v output at once); the backward is
// the rotation by the negative angle.
//
// One thread per rotated pair (x[j], x[j + d/2]): the pair is read and written by the same thread, so in
// place is safe. The angle is formed exactly as the CPU reference (and Hugging Face) forms it, in fp32:
// inv_freq = 1 / theta^(2j/d), angle = (pos0 + t) * inv_freq, with the accurate sinf/cosf (this file is not
// built with fast math; angles reach tens of thousands of radians at long context), once per (t, j) into a
// cached table that every head and every call of the same shape reads.
#include "cuda/common.cuh"

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// table[t * half + j] = (cos, sin) of (pos0 + t) / theta^(2j/d): the angles, formed as the CPU reference forms
// them. Computed once per (pos0, T, d, theta) instead of per rotated pair: powf, sinf and cosf for every pair of
// every head were most of the op's time.
__global__ void rope_table_kernel(float2 *table, int T, int d, int pos0, float theta) {
    const int half = d / 2;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= T * half) return;
    int j = idx % half, t = idx / half;
    float inv_freq = 1.0f / powf(theta, (float)(2 * j) / (float)d);
    float angle = (float)(pos0 + t) * inv_freq;
    table[idx] = make_float2(cosf(angle), sinf(angle));
}

// PAIRS rotated pairs per thread (8: one 16-byte load of x[j..j+7] and one of x[j+half..], when rows are
// aligned and half % 8 == 0; else 1). Index is 32-bit whenever the count allows (64-bit division is a long
// instruction sequence on the GPU).
template <int PAIRS, class Index>
__global__ void rope_kernel(floatX *x, Index x_stride, const float2 *table, Index T, Index n_heads, Index half,
                            float sign, Index n_items) {
    Index idx = (Index)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n_items) return;
    const Index per_head = half / PAIRS;
    Index j = (idx % per_head) * PAIRS;
    Index head = idx / per_head; // (b * T + t) * n_heads + h
    Index row = head / n_heads, t = row % T;
    const float2 *cs = table + t * half + j;
    floatX *xh = x + (size_t)row * x_stride + (size_t)(head - row * n_heads) * (2 * half);
    if (PAIRS == 8) {
        x128 a = load128(xh + j), b = load128(xh + j + half), oa, ob;
        for (int k = 0; k < 8; k++) {
            float2 e = cs[k];
            float c = e.x, s = sign * e.y, x1 = bf2f(a[k]), x2 = bf2f(b[k]);
            oa[k] = f2bf(x1 * c - x2 * s);
            ob[k] = f2bf(x2 * c + x1 * s);
        }
        store128(xh + j, oa);
        store128(xh + j + half, ob);
    } else {
        float2 e = cs[0];
        float c = e.x, s = sign * e.y;
        float x1 = bf2f(xh[j]), x2 = bf2f(xh[j + half]);
        xh[j] = f2bf(x1 * c - x2 * s);
        xh[j + half] = f2bf(x2 * c + x1 * s);
    }
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

// The angle table of the last (pos0, T, d, theta) asked for; training asks for the same one in every call.
static float2 *g_table = NULL;
static size_t g_table_cap = 0; // entries
static int g_table_T = -1, g_table_d = -1, g_table_pos0 = -1;
static float g_table_theta = 0.0f;

// Also read by the attention backward kernels, which fold RoPE's backward into their stores of dq and dk
// (attention.cuh), so that both rotate by the same fp32 angles.
const float2 *rope_angle_table(int T, int d, int pos0, float theta, cudaStream_t stream) {
    if (g_table && T == g_table_T && d == g_table_d && pos0 == g_table_pos0 && theta == g_table_theta) return g_table;
    const size_t n = (size_t)T * (d / 2);
    scout_require(n < (size_t)INT32_MAX, "rope: table of %d positions x %d angles is too large", T, d / 2);
    if (n > g_table_cap) {
        if (g_table) cudaCheck(cudaFree(g_table)); // synchronises the device: a rebuild is rare
        cudaCheck(cudaMalloc((void **)&g_table, n * sizeof(float2)));
        g_table_cap = n;
    }
    rope_table_kernel<<<ceil_div((int)n, 256), 256, 0, stream>>>(g_table, T, d, pos0, theta);
    cudaCheck(cudaGetLastError());
    g_table_T = T, g_table_d = d, g_table_pos0 = pos0, g_table_theta = theta;
    return g_table;
}

static void rope_launch(void *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta, float sign,
                        cudaStream_t stream) {
    scout_require(d % 2 == 0, "rope: head dim %d must be even", d);
    scout_require(x_stride >= n_heads * d, "rope: row stride %d under the %d heads' %d", x_stride, n_heads,
                  n_heads * d);
    size_t n_pairs = (size_t)B * T * n_heads * (d / 2);
    if (n_pairs == 0) return;
    const float2 *table = rope_angle_table(T, d, pos0, theta, stream);
    const int block = 256, half = d / 2;
    const int pairs = half % 8 == 0 && x_stride % 8 == 0 && aligned16(x) ? 8 : 1;
    const size_t n_items = n_pairs / pairs;
    const unsigned grid = (unsigned)ceil_div_sz(n_items, block);
    floatX *xb = (floatX *)x;
    const bool narrow = n_pairs + block < (size_t)UINT32_MAX;
    if (pairs == 8 && narrow)
        rope_kernel<8, uint32_t><<<grid, block, 0, stream>>>(xb, x_stride, table, T, n_heads, half, sign,
                                                             (uint32_t)n_items);
    else if (pairs == 8)
        rope_kernel<8, size_t><<<grid, block, 0, stream>>>(xb, x_stride, table, T, n_heads, half, sign, n_items);
    else if (narrow)
        rope_kernel<1, uint32_t><<<grid, block, 0, stream>>>(xb, x_stride, table, T, n_heads, half, sign,
                                                             (uint32_t)n_items);
    else
        rope_kernel<1, size_t><<<grid, block, 0, stream>>>(xb, x_stride, table, T, n_heads, half, sign, n_items);
    cudaCheck(cudaGetLastError());
}

extern "C" void rope_forward_cuda(void *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta,
                                  cudaStream_t stream) {
    rope_launch(x, x_stride, B, T, n_heads, d, pos0, theta, 1.0f, stream);
}

extern "C" void rope_backward_cuda(void *dx, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta,
                                   cudaStream_t stream) {
    rope_launch(dx, x_stride, B, T, n_heads, d, pos0, theta, -1.0f, stream);
}
