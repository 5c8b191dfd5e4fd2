// causal_conv1d.cu: Mamba's causal depthwise conv1d with bias (spec §7.2 step 2), channel-last layout
// [B, T, E] with x read out of the in_proj output (row stride x_stride = 2E), and its backward.
//
// Forward: one thread per output (b, t, e); consecutive threads take consecutive channels, so each of the K
// taps is a coalesced row read (the K rows a block needs stay in L1). Backward: one thread per channel and
// chunk of kChunkT timesteps of one sequence, walking its timesteps in order: it writes dx and keeps the K
// weight-gradient sums and the bias-gradient sum of its chunk in registers; those go to a fixed slot of the
// workspace, and a second kernel adds the chunks in order into dw / db. No atomics, so the result is
// deterministic (mamba-ssm's kDeterministic mode does the same with per-batch partials). Taps K <= kMaxK.
#include "cuda/common.cuh"

static const int kChunkT = 64;
static const int kMaxK = 8;

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// Grid (B * T rows, channel blocks).
__global__ void conv1d_forward_kernel(floatX *out, const floatX *x, int x_stride, const floatX *w,
                                      const floatX *bias, int T, int E, int K) {
    int e = blockIdx.y * blockDim.x + threadIdx.x;
    if (e >= E) return;
    size_t bt = blockIdx.x;
    int t = (int)(bt % T);
    float o = bias ? bf2f(bias[e]) : 0.0f;
    for (int j = 0; j < K; j++) {
        int src = t - K + 1 + j;
        if (src < 0) continue; // zero padding before the sequence
        o += bf2f(w[(size_t)e * K + j]) * bf2f(x[(bt - t + src) * x_stride + e]);
    }
    out[bt * E + e] = f2bf(o);
}

// Grid (channel blocks, B * chunks per sequence). partial[(chunk * (K + 1) + j) * E + e]: the chunk's sum for
// dw[e, j] (j < K) and db[e] (j = K).
__global__ void conv1d_backward_kernel(floatX *dx, float *partial, const floatX *dout, const floatX *x,
                                       int x_stride, const floatX *w, int T, int E, int K) {
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= E) return;
    const int chunks_per_seq = (T + kChunkT - 1) / kChunkT;
    const int chunk = blockIdx.y, b = chunk / chunks_per_seq;
    const int t0 = (chunk % chunks_per_seq) * kChunkT, t1 = min(t0 + kChunkT, T);
    const size_t seq = (size_t)b * T;
    float wj[kMaxK], dw[kMaxK];
#pragma unroll
    for (int j = 0; j < kMaxK; j++) {
        wj[j] = j < K ? bf2f(w[(size_t)e * K + j]) : 0.0f;
        dw[j] = 0.0f;
    }
    float db = 0.0f;
    for (int t = t0; t < t1; t++) {
        // dx[t] = sum_j w[j] dout[t + K-1-j]: input t feeds output t + K-1-j through tap j.
        float acc = 0.0f;
#pragma unroll
        for (int j = 0; j < kMaxK; j++) {
            int dst = t + K - 1 - j;
            if (j < K && dst < T) acc += wj[j] * bf2f(dout[(seq + dst) * E + e]);
        }
        dx[(seq + t) * x_stride + e] = f2bf(acc);
        float g = bf2f(dout[(seq + t) * E + e]);
#pragma unroll
        for (int j = 0; j < kMaxK; j++) {
            int src = t - K + 1 + j;
            if (j < K && src >= 0) dw[j] += g * bf2f(x[(seq + src) * x_stride + e]);
        }
        db += g;
    }
#pragma unroll
    for (int j = 0; j < kMaxK; j++)
        if (j < K) partial[((size_t)chunk * (K + 1) + j) * E + e] = dw[j];
    partial[((size_t)chunk * (K + 1) + K) * E + e] = db;
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

extern "C" void causal_conv1d_forward_cuda(void *out, const void *x, int x_stride, const void *w, const void *bias,
                                           int B, int T, int E, int K, cudaStream_t stream) {
    if (B <= 0 || T <= 0 || E <= 0) return;
    const int block = 128;
    dim3 grid(B * T, ceil_div(E, block));
    conv1d_forward_kernel<<<grid, block, 0, stream>>>((floatX *)out, (const floatX *)x, x_stride, (const floatX *)w,
                                                      (const floatX *)bias, T, E, K);
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
    scout_require(conv_chunks(B, T) <= 65535, "causal_conv1d: B * T = %d timesteps is over the grid limit", B * T);
    float *partial = (float *)ws;
    const int block = 128, n_chunks = conv_chunks(B, T);
    conv1d_backward_kernel<<<dim3(ceil_div(E, block), n_chunks), block, 0, stream>>>(
        (floatX *)dx, partial, (const floatX *)dout, (const floatX *)x, x_stride, (const floatX *)w, T, E, K);
    cudaCheck(cudaGetLastError());
    column_sum(ConvParamStore{dw, db, E, K}, partial, n_chunks, (K + 1) * E, stream);
}
