// causal_conv1d.cu: Mamba's causal depthwise conv1d with bias (spec §7.2 step 2), channel-last layout
// [B, T, E] with x read out of the in_proj output (row stride x_stride = 2E), and its backward.
//
// Both directions: one thread per 8 channels (16-byte loads; 1 channel when rows are not 16-byte aligned) and a
// chunk of timesteps of one sequence, walked in order; consecutive threads take consecutive channel groups, so
// every row read is coalesced and the K rows around a timestep stay in L1. (One thread per output, the first
// version, ran at a sixth of the memory bandwidth: two-byte loads and hundreds of thousands of tiny blocks.)
// The backward writes dx and keeps the K weight-gradient sums and the bias-gradient sum of its chunk in
// registers; those go to a fixed slot of the workspace, and column_sum adds the chunks in order into dw / db. No atomics, so the result is
// deterministic (mamba-ssm's kDeterministic mode does the same with per-batch partials). Taps K <= kMaxK.
#include "cuda/common.cuh"

static const int kChunkT = 32;  // timesteps per thread in the backward (one partial row per chunk)
static const int kChunkTF = 16; // timesteps per thread in the forward
static const int kMaxK = 8;

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// VEC channels per thread: 8 (one 16-byte load per row) when every row is 16-byte aligned, else 1. KMAX: the
// register arrays' tap count, 4 (Mamba's width: the backward then needs 93 registers instead of 166) or kMaxK.
template <int VEC> struct ConvVec {
    float v[VEC];
};
template <int VEC> __device__ __forceinline__ ConvVec<VEC> load_vec(const floatX *p) {
    ConvVec<VEC> r;
    if (VEC == 8) {
        x128 a = load128(p);
        for (int k = 0; k < 8; k++) r.v[k] = bf2f(a[k]);
    } else {
        for (int k = 0; k < VEC; k++) r.v[k] = bf2f(p[k]);
    }
    return r;
}
template <int VEC> __device__ __forceinline__ void store_vec(floatX *p, const float *v) {
    if (VEC == 8) {
        x128 a;
        for (int k = 0; k < 8; k++) a[k] = f2bf(v[k]);
        store128(p, a);
    } else {
        for (int k = 0; k < VEC; k++) p[k] = f2bf(v[k]);
    }
}

// Grid (B * chunks of kChunkTF timesteps, channel groups): the chunks on x, whose limit is 2^31 - 1 (y's is
// 65535, which long micro-batches pass). Thread: VEC channels from e0, the chunk's timesteps.
// out = bias + sum_j w[j] x[t - K + 1 + j] in tap order, as the CPU reference adds.
template <int VEC, int KMAX>
__global__ void conv1d_forward_kernel(floatX *out, const floatX *x, int x_stride, const floatX *w,
                                      const floatX *bias, int T, int E, int K) {
    const int e0 = (blockIdx.y * blockDim.x + threadIdx.x) * VEC;
    if (e0 >= E) return;
    const int chunks_per_seq = (T + kChunkTF - 1) / kChunkTF;
    const int b = blockIdx.x / chunks_per_seq, t0 = (blockIdx.x % chunks_per_seq) * kChunkTF;
    const int t1 = min(t0 + kChunkTF, T);
    const size_t seq = (size_t)b * T;
    float wj[KMAX][VEC], b0[VEC];
#pragma unroll
    for (int j = 0; j < KMAX; j++)
        for (int k = 0; k < VEC; k++) wj[j][k] = j < K ? bf2f(w[(size_t)(e0 + k) * K + j]) : 0.0f;
    for (int k = 0; k < VEC; k++) b0[k] = bias ? bf2f(bias[e0 + k]) : 0.0f;
    for (int t = t0; t < t1; t++) {
        float o[VEC];
        for (int k = 0; k < VEC; k++) o[k] = b0[k];
#pragma unroll
        for (int j = 0; j < KMAX; j++) {
            const int src = t - K + 1 + j;
            if (j >= K || src < 0) continue; // zero padding before the sequence
            ConvVec<VEC> xv = load_vec<VEC>(x + (seq + src) * x_stride + e0);
            for (int k = 0; k < VEC; k++) o[k] += wj[j][k] * xv.v[k];
        }
        store_vec<VEC>(out + (seq + t) * E + e0, o);
    }
}

// Grid (B * chunks per sequence, channel groups). partial[(chunk * (K + 1) + j) * E + e]: the chunk's sum for
// dw[e, j] (j < K) and db[e] (j = K).
template <int VEC, int KMAX>
__global__ void conv1d_backward_kernel(floatX *dx, float *partial, const floatX *dout, const floatX *x,
                                       int x_stride, const floatX *w, int T, int E, int K) {
    const int e0 = (blockIdx.y * blockDim.x + threadIdx.x) * VEC;
    if (e0 >= E) return;
    const int chunks_per_seq = (T + kChunkT - 1) / kChunkT;
    const int chunk = blockIdx.x, b = chunk / chunks_per_seq;
    const int t0 = (chunk % chunks_per_seq) * kChunkT, t1 = min(t0 + kChunkT, T);
    const size_t seq = (size_t)b * T;
    float wj[KMAX][VEC], dw[KMAX][VEC], db[VEC];
#pragma unroll
    for (int j = 0; j < KMAX; j++)
        for (int k = 0; k < VEC; k++) {
            wj[j][k] = j < K ? bf2f(w[(size_t)(e0 + k) * K + j]) : 0.0f;
            dw[j][k] = 0.0f;
        }
    for (int k = 0; k < VEC; k++) db[k] = 0.0f;
    for (int t = t0; t < t1; t++) {
        // dx[t] = sum_j w[j] dout[t + K-1-j]: input t feeds output t + K-1-j through tap j.
        float acc[VEC];
        for (int k = 0; k < VEC; k++) acc[k] = 0.0f;
#pragma unroll
        for (int j = 0; j < KMAX; j++) {
            const int dst = t + K - 1 - j;
            if (j >= K || dst >= T) continue;
            ConvVec<VEC> g = load_vec<VEC>(dout + (seq + dst) * E + e0);
            for (int k = 0; k < VEC; k++) acc[k] += wj[j][k] * g.v[k];
        }
        store_vec<VEC>(dx + (seq + t) * x_stride + e0, acc);
        ConvVec<VEC> g = load_vec<VEC>(dout + (seq + t) * E + e0);
#pragma unroll
        for (int j = 0; j < KMAX; j++) {
            const int src = t - K + 1 + j;
            if (j >= K || src < 0) continue;
            ConvVec<VEC> xv = load_vec<VEC>(x + (seq + src) * x_stride + e0);
            for (int k = 0; k < VEC; k++) dw[j][k] += g.v[k] * xv.v[k];
        }
        for (int k = 0; k < VEC; k++) db[k] += g.v[k];
    }
#pragma unroll
    for (int j = 0; j < KMAX; j++)
        if (j < K)
            for (int k = 0; k < VEC; k++) partial[((size_t)chunk * (K + 1) + j) * E + e0 + k] = dw[j][k];
    for (int k = 0; k < VEC; k++) partial[((size_t)chunk * (K + 1) + K) * E + e0 + k] = db[k];
}

// column_sum's store for the partials seen as [n_chunks, (K + 1) E]: column j E + e is dw[e, j] (j < K) or db[e].
struct ConvParamStore {
    float *dw, *db;
    int E, K;
    __device__ void operator()(int col, float sum) const {
        int j = col / E, e = col % E;
        if (j < K) dw[(size_t)e * K + j] += sum;
        else if (db) db[e] += sum;
    }
};

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

// 16-byte rows: every row start of x, out / dx and dout on a 16-byte boundary.
static bool conv_vec8(int E, int x_stride, const void *a, const void *b, const void *c) {
    return E % 8 == 0 && x_stride % 8 == 0 && aligned16(a) && aligned16(b) && (!c || aligned16(c));
}

extern "C" void causal_conv1d_forward_cuda(void *out, const void *x, int x_stride, const void *w, const void *bias,
                                           int B, int T, int E, int K, cudaStream_t stream) {
    if (B <= 0 || T <= 0 || E <= 0) return;
    scout_require(K >= 1 && K <= kMaxK, "causal_conv1d: kernel width %d outside 1..%d", K, kMaxK);
    const int block = 128, chunks = B * ceil_div(T, kChunkTF);
    floatX *o = (floatX *)out;
    const floatX *xx = (const floatX *)x, *ww = (const floatX *)w, *bb = (const floatX *)bias;
    const bool v8 = conv_vec8(E, x_stride, out, x, NULL);
    const dim3 grid(chunks, ceil_div(E, (v8 ? 8 : 1) * block));
    if (v8 && K <= 4) conv1d_forward_kernel<8, 4><<<grid, block, 0, stream>>>(o, xx, x_stride, ww, bb, T, E, K);
    else if (v8) conv1d_forward_kernel<8, kMaxK><<<grid, block, 0, stream>>>(o, xx, x_stride, ww, bb, T, E, K);
    else conv1d_forward_kernel<1, kMaxK><<<grid, block, 0, stream>>>(o, xx, x_stride, ww, bb, T, E, K);
    cudaCheck(cudaGetLastError());
}

static int conv_chunks(int B, int T) { return B * ceil_div(T, kChunkT); }

// Workspace: (K + 1) fp32 partial sums per channel and chunk of kChunkT timesteps.
extern "C" size_t causal_conv1d_backward_workspace_size_cuda(int B, int T, int E, int K) {
    if (B <= 0 || T <= 0 || E <= 0) return 0;
    return (size_t)conv_chunks(B, T) * (K + 1) * E * sizeof(float);
}

extern "C" void causal_conv1d_backward_cuda(void *dx, float *dw, float *db, const void *dout, const void *x,
                                            int x_stride, const void *w, void *ws, int B, int T, int E, int K,
                                            cudaStream_t stream) {
    if (B <= 0 || T <= 0 || E <= 0) return;
    scout_require(K >= 1 && K <= kMaxK, "causal_conv1d: kernel width %d outside 1..%d", K, kMaxK);
    float *partial = (float *)ws;
    const int block = 128, n_chunks = conv_chunks(B, T);
    floatX *dxx = (floatX *)dx;
    const floatX *g = (const floatX *)dout, *xx = (const floatX *)x, *ww = (const floatX *)w;
    const bool v8 = conv_vec8(E, x_stride, dx, x, dout);
    const dim3 grid(n_chunks, ceil_div(E, (v8 ? 8 : 1) * block));
    if (v8 && K <= 4)
        conv1d_backward_kernel<8, 4><<<grid, block, 0, stream>>>(dxx, partial, g, xx, x_stride, ww, T, E, K);
    else if (v8)
        conv1d_backward_kernel<8, kMaxK><<<grid, block, 0, stream>>>(dxx, partial, g, xx, x_stride, ww, T, E, K);
    else
        conv1d_backward_kernel<1, kMaxK><<<grid, block, 0, stream>>>(dxx, partial, g, xx, x_stride, ww, T, E, K);
    cudaCheck(cudaGetLastError());
    column_sum(ConvParamStore{dw, db, E, K}, partial, n_chunks, (K + 1) * E, stream);
}
