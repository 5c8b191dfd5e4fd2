// attention.cuh: the flash-style attention kernels shared by swa_attention.cu (D1, sliding window) and
// checkpoint_attention.cu (D2, self + checkpoints). Both are "one softmax over a key set S_i"; they differ only
// in how S_i is enumerated, which a small policy struct (SwaKeys, CkptKeys) answers: which compact keys a query
// tile can see, where key c lives in k/v, which (query, key) pairs are valid, which queries can see a key
// tile, and whether the softmax is seeded with the self term.
//
// Tensor-core path (head dim 64, 16-byte aligned tensors), FA2-style (anchors §5):
// - forward: a block of 4 warps owns 64 queries (16 per warp, as mma row tiles) of one (b, h) and loops over
//   64-key tiles of its key range only: for the window, keys [q0 - W + 1, q0 + 63], so tiles outside the band
//   are never loaded; for checkpoints, the compact rows K[s-1::s] it can see, gathered by row. K/V tiles are
//   double-buffered with cp.async. S = Q K^T, online softmax in fp32 with the scale (in log2 units) applied
//   before the running max, P packed to bf16 straight from the S accumulators into the A operand of P V.
//   Only tiles that cross the window edges / the checkpoint bound are masked. The per-row log-sum-exp is saved.
//   Checkpoint rows start from the self term: running max = q_i.k_i scale, sum = 1, accumulator = v_i.
// - backward, deterministic: dQ and dK/dV are computed by separate kernels instead of accumulating dQ with
//   atomics (FA2) or ordered semaphores (FA3's deterministic mode): a dq kernel over query tiles (recomputes
//   P from Q, K and the saved lse; dP = dO V^T; dS = P (dP - Delta); dQ = dS K) and a dk/dv kernel over key
//   tiles that loops over the query tiles (and GQA heads) that can see its keys (dV += P^T dO, dK += dS^T Q).
//   Every output element is written by exactly one thread, once. The price is recomputing S and dP in both
//   kernels (7 instead of 5 tile products); Delta = rowsum(dO o O) comes from a small first kernel.
//   For checkpoint attention the dk/dv kernel handles the checkpoint rows (adding their self term); the other
//   rows only have the self term, which a row kernel computes (8 lanes per row, 16-byte accesses).
// General path (any even head dim up to 256, any alignment): one warp per query row (forward, dq) or key row
// (dk/dv), fp32 dot products by warp shuffles, exactly the CPU reference's loops. Slow, but it makes every
// head dim correct, and SCOUT_CUDA_ATTENTION_GENERAL forces it for testing the fast path against it.
#ifndef SCOUT_CUDA_ATTENTION_CUH
#define SCOUT_CUDA_ATTENTION_CUH

#include <math.h>

#include "cuda/common.cuh"
#include "cuda/mma.cuh"

int scout_cuda_attention_general_(void); // backend_cuda.cu: the SCOUT_CUDA_ATTENTION_GENERAL flag

namespace attn {

constexpr int kBM = 64;          // queries per tile (4 warps x 16 rows)
constexpr int kBN = 64;          // keys per tile
constexpr int kWarps = 4;
constexpr int kPad = 8;          // bf16 of row padding: rows 144 bytes apart, so ldmatrix's 8 rows hit 8 bank groups
constexpr int kMaxPerLane = 8;   // general path: head dim up to 32 * 8
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- key-set policies ------------------------------------------------------------------------------------

// D1: query i sees keys i - window < j <= i. Compact key j is row j.
struct SwaKeys {
    int T, window;
    static constexpr bool kSelfSeed = false;
    __host__ __device__ int n_keys() const { return T; }
    __host__ __device__ int key_row(int j) const { return j; }
    __host__ __device__ bool valid(int i, int j) const { return j <= i && j > i - window; }
    // Keys any query of [q0, q1) can see: [key_begin(q0), key_end(q1)).
    __host__ __device__ int key_begin(int q0) const { return q0 - window + 1 > 0 ? q0 - window + 1 : 0; }
    __host__ __device__ int key_end(int q1) const { return q1 < T ? q1 : T; }
    // Every pair of queries [q0, q1) x keys [k0, k1) valid: no mask needed for the tile.
    __host__ __device__ bool all_valid(int q0, int q1, int k0, int k1) const {
        return k1 - 1 <= q0 && k0 > q1 - 1 - window;
    }
    // Queries that can see some key of [k0, k1): [query_begin(k0), query_end(k1)).
    __host__ __device__ int query_begin(int k0) const { return k0; }
    __host__ __device__ int query_end(int k1) const { return k1 - 1 + window < T ? k1 - 1 + window : T; }
};

// D2: query i sees itself (the seed) and checkpoints c = (m+1) seg - 1 with m < i / seg. Compact key m is row
// (m+1) seg - 1; there are T / seg of them.
struct CkptKeys {
    int T, seg;
    static constexpr bool kSelfSeed = true;
    __host__ __device__ int n_keys() const { return T / seg; }
    __host__ __device__ int key_row(int m) const { return (m + 1) * seg - 1; }
    __host__ __device__ bool valid(int i, int m) const { return m < i / seg; }
    __host__ __device__ int key_begin(int /*q0*/) const { return 0; }
    __host__ __device__ int key_end(int q1) const { return ((q1 < T ? q1 : T) - 1) / seg; }
    __host__ __device__ bool all_valid(int q0, int /*q1*/, int /*k0*/, int k1) const { return k1 - 1 < q0 / seg; }
    __host__ __device__ int query_begin(int k0) const { return (k0 + 1) * seg; }
    __host__ __device__ int query_end(int /*k1*/) const { return T; }
};

// ---- small helpers --------------------------------------------------------------------------------------------

__device__ __forceinline__ float bf_lo(uint32_t u) { return __uint_as_float(u << 16); }
__device__ __forceinline__ float bf_hi(uint32_t u) { return __uint_as_float(u & 0xffff0000u); }

__device__ __forceinline__ float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}
__device__ __forceinline__ float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

// The columns a thread holds, in both the A-fragment layout (a0..a3 of k-step kk) and the C layout (tiles nt =
// 2kk, 2kk+1): column(kk, half, e) = 16 kk + 8 half + 2 (lane % 4) + e. A row-vector dot product of a thread's
// A fragments for row r (0: row g, 1: row g + 8) with a global row x is therefore a quad-local partial sum.
template <int D>
__device__ __forceinline__ float frag_row_dot(const uint32_t (&f)[D / 16][4], int r, const floatX *x) {
    const int tq = threadIdx.x % 4;
    float s = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const uint32_t w = f[kk][r + 2 * half];
            const int col = kk * 16 + half * 8 + 2 * tq;
            s += bf_lo(w) * bf2f(x[col]) + bf_hi(w) * bf2f(x[col + 1]);
        }
    return s;
}

// Lane address for ldmatrix_x4 of a 16x16 block at (row0, col0) of a row-major smem tile with pitch ld,
// as an A operand (matrices: rows 0-7 / 8-15 x cols 0-7, then cols 8-15) ...
__device__ __forceinline__ const floatX *a_frag_addr(const floatX *tile, int ld, int row0, int col0) {
    const int lane = threadIdx.x % 32;
    return tile + (row0 + (lane & 7) + ((lane >> 3) & 1) * 8) * ld + col0 + (lane >> 4) * 8;
}
// ... as the B operands of two n-tiles when the tile's rows are n (keys) and its columns k (head dim), i.e.
// B = tile^T: r0, r1 = (b0, b1) of rows row0..row0+7, r2, r3 of rows row0+8..row0+15 ...
__device__ __forceinline__ const floatX *bt_frag_addr(const floatX *tile, int ld, int row0, int col0) {
    const int lane = threadIdx.x % 32;
    return tile + (row0 + (lane & 7) + (lane >> 4) * 8) * ld + col0 + ((lane >> 3) & 1) * 8;
}
// ... and (with ldmatrix .trans) as the B operands of two n-tiles when the tile's rows are k and its columns
// n: r0, r1 = (b0, b1) of columns col0..col0+7, r2, r3 of columns col0+8..col0+15.
__device__ __forceinline__ const floatX *b_frag_addr_trans(const floatX *tile, int ld, int row0, int col0) {
    const int lane = threadIdx.x % 32;
    return tile + (row0 + (lane & 7) + ((lane >> 3) & 1) * 8) * ld + col0 + (lane >> 4) * 8;
}

// Copies rows [r0, r0 + R) of a [., D] bf16 tensor (row r at base + row_of(r) * stride) into a smem tile of
// pitch D + kPad with cp.async; rows r >= n_rows are zero-filled.
template <int D, int R, class RowOf>
__device__ __forceinline__ void load_tile_async(floatX *tile, const floatX *base, size_t stride, int r0, int n_rows,
                                                RowOf row_of) {
    constexpr int LD = D + kPad, CHUNKS = D / 8;
    for (int c = threadIdx.x; c < R * CHUNKS; c += blockDim.x) {
        const int r = c / CHUNKS, col = (c % CHUNKS) * 8;
        const bool ok = r0 + r < n_rows;
        const size_t row = ok ? (size_t)row_of(r0 + r) : 0; // a valid address even when nothing is read
        cp_async16(tile + r * LD + col, base + row * stride + col, ok);
    }
}

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels: Delta

// delta[b, h, i] = dO[b, i, h, :] . O[b, i, h, :]; one warp per (b, i, h) row.
static __global__ void attn_delta_kernel(float *delta, const floatX *dout, const floatX *out, int T, int n_h, int d,
                                  size_t n_rows) {
    size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= n_rows) return;
    const int lane = threadIdx.x % 32;
    const floatX *a = dout + row * d, *o = out + row * d;
    float s = 0.0f;
    for (int c = lane; c < d; c += 32) s += bf2f(a[c]) * bf2f(o[c]);
    s = warp_reduce_sum(s);
    const int h = (int)(row % n_h);
    const size_t bi = row / n_h;
    const size_t b = bi / T, i = bi % T;
    if (lane == 0) delta[(b * n_h + h) * T + i] = s;
}

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels: tensor-core path

// Forward. Grid (query tiles, n_h, B), 4 warps. reverse: take the query tiles last-first (checkpoint
// attention's late tiles see the most keys, so they start first and the tail is short).
template <int D, class Keys>
__global__ void __launch_bounds__(kWarps * 32)
    attn_fwd_mma_kernel(floatX *out, float *lse, const floatX *q, const floatX *k, const floatX *v, int T, int n_h,
                        int n_kv, Keys keys, float scale_log2, int reverse) {
    constexpr int LD = D + kPad;
    __shared__ __align__(16) floatX sQ[kBM * LD];
    __shared__ __align__(16) floatX sK[2][kBN * LD];
    __shared__ __align__(16) floatX sV[2][kBN * LD];

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const int qt = reverse ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (n_h / n_kv);
    const int q0 = qt * kBM;
    const size_t q_stride = (size_t)n_h * D, kv_stride = (size_t)n_kv * D;
    const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const int kbeg = keys.key_begin(q0), kend = keys.key_end(q0 + kBM);
    const int t_begin = kbeg / kBN, t_end = kend > kbeg ? (kend + kBN - 1) / kBN : t_begin;
    auto krow = [&](int j) { return keys.key_row(j); };

    load_tile_async<D, kBM>(sQ, qb, q_stride, q0, T, [](int i) { return i; });
    if (t_begin < t_end) {
        load_tile_async<D, kBN>(sK[0], kb, kv_stride, t_begin * kBN, kend, krow);
        load_tile_async<D, kBN>(sV[0], vb, kv_stride, t_begin * kBN, kend, krow);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    uint32_t qf[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) ldmatrix_x4(qf[kk], a_frag_addr(sQ, LD, warp * 16, kk * 16));

    float o[D / 8][4];
    float m_r[2], l_r[2];
    const int row_i[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = row_i[r];
        if (Keys::kSelfSeed) {
            // Seed with the self term: m = q_i.k_i scale, l = 1 (counted once per quad), acc = v_i.
            const bool ok = i < T;
            const floatX *ki = kb + (size_t)(ok ? i : 0) * kv_stride, *vi = vb + (size_t)(ok ? i : 0) * kv_stride;
            const float dot = quad_sum(frag_row_dot<D>(qf, r, ki));
            m_r[r] = ok ? dot * scale_log2 : 0.0f;
            l_r[r] = tq == 0 ? 1.0f : 0.0f;
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) {
                const int col = nt * 8 + 2 * tq;
                o[nt][2 * r] = ok ? bf2f(vi[col]) : 0.0f;
                o[nt][2 * r + 1] = ok ? bf2f(vi[col + 1]) : 0.0f;
            }
        } else {
            m_r[r] = -INFINITY;
            l_r[r] = 0.0f;
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) o[nt][2 * r] = o[nt][2 * r + 1] = 0.0f;
        }
    }

    for (int t = t_begin; t < t_end; t++) {
        const int buf = (t - t_begin) & 1;
        if (t + 1 < t_end) {
            load_tile_async<D, kBN>(sK[buf ^ 1], kb, kv_stride, (t + 1) * kBN, kend, krow);
            load_tile_async<D, kBN>(sV[buf ^ 1], vb, kv_stride, (t + 1) * kBN, kend, krow);
        }
        cp_async_commit();

        // S = Q K^T: 16 rows x 64 keys per warp.
        float s[kBN / 8][4];
#pragma unroll
        for (int nt = 0; nt < kBN / 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
            for (int np = 0; np < kBN / 16; np++) {
                uint32_t kf[4];
                ldmatrix_x4(kf, bt_frag_addr(sK[buf], LD, np * 16, kk * 16));
                const uint32_t b0[2] = {kf[0], kf[1]}, b1[2] = {kf[2], kf[3]};
                mma_bf16_16816(s[2 * np], qf[kk], b0);
                mma_bf16_16816(s[2 * np + 1], qf[kk], b1);
            }
        // Scale (log2 units) before the max; mask only tiles that cross the key set's edges.
        const int k0 = t * kBN;
        const bool full = keys.all_valid(q0, q0 + kBM, k0, k0 + kBN) && k0 + kBN <= kend;
#pragma unroll
        for (int nt = 0; nt < kBN / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float x = s[nt][e] * scale_log2;
                if (!full) {
                    const int j = k0 + nt * 8 + 2 * tq + (e & 1), i = row_i[e >> 1];
                    if (!(j < kend && keys.valid(i, j))) x = -INFINITY;
                }
                s[nt][e] = x;
            }
        // Online softmax, per row; a row with no valid key yet keeps m = -inf and contributes nothing.
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < kBN / 8; nt++) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
            mx = quad_max(mx);
            const float m_new = fmaxf(m_r[r], mx);
            const float m_use = m_new == -INFINITY ? 0.0f : m_new;
            const float rescale = exp2f(m_r[r] - m_use);
            m_r[r] = m_new;
            float sum = 0.0f;
#pragma unroll
            for (int nt = 0; nt < kBN / 8; nt++) {
                s[nt][2 * r] = exp2f(s[nt][2 * r] - m_use);
                s[nt][2 * r + 1] = exp2f(s[nt][2 * r + 1] - m_use);
                sum += s[nt][2 * r] + s[nt][2 * r + 1];
            }
            l_r[r] = l_r[r] * rescale + sum;
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) o[nt][2 * r] *= rescale, o[nt][2 * r + 1] *= rescale;
        }
        // O += P V, P from the S accumulators (bf16), V via ldmatrix.trans.
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++) {
            const uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                    pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t vf[4];
                ldmatrix_x4_trans(vf, b_frag_addr_trans(sV[buf], LD, kk * 16, dp * 16));
                const uint32_t b0[2] = {vf[0], vf[1]}, b1[2] = {vf[2], vf[3]};
                mma_bf16_16816(o[2 * dp], pa, b0);
                mma_bf16_16816(o[2 * dp + 1], pa, b1);
            }
        }
        cp_async_wait<0>();
        __syncthreads(); // the next tile is in; everyone is done with this one before it is overwritten
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float l = quad_sum(l_r[r]);
        const int i = row_i[r];
        if (i >= T) continue;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        floatX *orow = out + ((size_t)b * T + i) * q_stride + (size_t)h * D;
#pragma unroll
        for (int nt = 0; nt < D / 8; nt++) {
            __nv_bfloat162 pair = __floats2bfloat162_rn(o[nt][2 * r] * inv, o[nt][2 * r + 1] * inv);
            *reinterpret_cast<__nv_bfloat162 *>(orow + nt * 8 + 2 * tq) = pair;
        }
        if (tq == 0) lse[((size_t)b * n_h + h) * T + i] = (m_r[r] + log2f(l)) * kLn2;
    }
}

// dQ. Grid (query tiles, n_h, B), 4 warps; dynamic smem: Q, dO tiles, double-buffered K, V tiles.
template <int D, class Keys>
__global__ void __launch_bounds__(kWarps * 32)
    attn_bwd_dq_mma_kernel(floatX *dq, const floatX *dout, const floatX *q, const floatX *k, const floatX *v,
                           const float *lse, const float *delta, int T, int n_h, int n_kv, Keys keys, float scale_log2,
                           float scale, int reverse) {
    constexpr int LD = D + kPad;
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sQ = (floatX *)attn_smem;
    floatX *sdO = sQ + kBM * LD;
    floatX *sK = sdO + kBM * LD; // [2][kBN * LD]
    floatX *sV = sK + 2 * kBN * LD;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const int qt = reverse ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (n_h / n_kv);
    const int q0 = qt * kBM;
    const size_t q_stride = (size_t)n_h * D, kv_stride = (size_t)n_kv * D;
    const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
    const floatX *dob = dout + (size_t)b * T * q_stride + (size_t)h * D;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const int kbeg = keys.key_begin(q0), kend = keys.key_end(q0 + kBM);
    const int t_begin = kbeg / kBN, t_end = kend > kbeg ? (kend + kBN - 1) / kBN : t_begin;
    auto krow = [&](int j) { return keys.key_row(j); };

    load_tile_async<D, kBM>(sQ, qb, q_stride, q0, T, [](int i) { return i; });
    load_tile_async<D, kBM>(sdO, dob, q_stride, q0, T, [](int i) { return i; });
    if (t_begin < t_end) {
        load_tile_async<D, kBN>(sK, kb, kv_stride, t_begin * kBN, kend, krow);
        load_tile_async<D, kBN>(sV, vb, kv_stride, t_begin * kBN, kend, krow);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    uint32_t qf[D / 16][4], dof[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        ldmatrix_x4(qf[kk], a_frag_addr(sQ, LD, warp * 16, kk * 16));
        ldmatrix_x4(dof[kk], a_frag_addr(sdO, LD, warp * 16, kk * 16));
    }
    const int row_i[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    float lse2[2], dlt[2];
    float dqa[D / 8][4];
#pragma unroll
    for (int nt = 0; nt < D / 8; nt++) dqa[nt][0] = dqa[nt][1] = dqa[nt][2] = dqa[nt][3] = 0.0f;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = row_i[r];
        const bool ok = i < T;
        lse2[r] = ok ? lse[((size_t)b * n_h + h) * T + i] * kLog2e : 0.0f;
        dlt[r] = ok ? delta[((size_t)b * n_h + h) * T + i] : 0.0f;
        if (Keys::kSelfSeed) {
            // Self term: dq_i += dl_self k_i (the scale is applied once at the end).
            const floatX *ki = kb + (size_t)(ok ? i : 0) * kv_stride, *vi = vb + (size_t)(ok ? i : 0) * kv_stride;
            const float l2 = quad_sum(frag_row_dot<D>(qf, r, ki)) * scale_log2;
            const float dp = quad_sum(frag_row_dot<D>(dof, r, vi));
            const float p = ok ? exp2f(l2 - lse2[r]) : 0.0f;
            const float dl = p * (dp - dlt[r]);
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) {
                const int col = nt * 8 + 2 * tq;
                dqa[nt][2 * r] += dl * bf2f(ki[col]);
                dqa[nt][2 * r + 1] += dl * bf2f(ki[col + 1]);
            }
        }
    }

    for (int t = t_begin; t < t_end; t++) {
        const int buf = (t - t_begin) & 1;
        floatX *cK = sK + buf * kBN * LD, *cV = sV + buf * kBN * LD;
        if (t + 1 < t_end) {
            load_tile_async<D, kBN>(sK + (buf ^ 1) * kBN * LD, kb, kv_stride, (t + 1) * kBN, kend, krow);
            load_tile_async<D, kBN>(sV + (buf ^ 1) * kBN * LD, vb, kv_stride, (t + 1) * kBN, kend, krow);
        }
        cp_async_commit();

        float s[kBN / 8][4], dp[kBN / 8][4];
#pragma unroll
        for (int nt = 0; nt < kBN / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] = dp[nt][e] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
            for (int np = 0; np < kBN / 16; np++) {
                uint32_t kf[4], vf[4];
                ldmatrix_x4(kf, bt_frag_addr(cK, LD, np * 16, kk * 16));
                ldmatrix_x4(vf, bt_frag_addr(cV, LD, np * 16, kk * 16));
                const uint32_t k0f[2] = {kf[0], kf[1]}, k1f[2] = {kf[2], kf[3]};
                const uint32_t v0f[2] = {vf[0], vf[1]}, v1f[2] = {vf[2], vf[3]};
                mma_bf16_16816(s[2 * np], qf[kk], k0f);
                mma_bf16_16816(s[2 * np + 1], qf[kk], k1f);
                mma_bf16_16816(dp[2 * np], dof[kk], v0f);
                mma_bf16_16816(dp[2 * np + 1], dof[kk], v1f);
            }
        const int k0 = t * kBN;
        const bool full = keys.all_valid(q0, q0 + kBM, k0, k0 + kBN) && k0 + kBN <= kend && q0 + kBM <= T;
        // dS = P (dP - Delta), P = exp(S scale - lse) recomputed; masked pairs get P = 0.
#pragma unroll
        for (int nt = 0; nt < kBN / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int r = e >> 1;
                float p = exp2f(s[nt][e] * scale_log2 - lse2[r]);
                if (!full) {
                    const int j = k0 + nt * 8 + 2 * tq + (e & 1), i = row_i[r];
                    if (!(i < T && j < kend && keys.valid(i, j))) p = 0.0f;
                }
                s[nt][e] = p * (dp[nt][e] - dlt[r]);
            }
        // dQ += dS K: dS packed as the A operand, K (rows = keys = k) via ldmatrix.trans.
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++) {
            const uint32_t da[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                    pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int dpi = 0; dpi < D / 16; dpi++) {
                uint32_t kf[4];
                ldmatrix_x4_trans(kf, b_frag_addr_trans(cK, LD, kk * 16, dpi * 16));
                const uint32_t b0[2] = {kf[0], kf[1]}, b1[2] = {kf[2], kf[3]};
                mma_bf16_16816(dqa[2 * dpi], da, b0);
                mma_bf16_16816(dqa[2 * dpi + 1], da, b1);
            }
        }
        cp_async_wait<0>();
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = row_i[r];
        if (i >= T) continue;
        floatX *row = dq + ((size_t)b * T + i) * q_stride + (size_t)h * D;
#pragma unroll
        for (int nt = 0; nt < D / 8; nt++)
            *reinterpret_cast<__nv_bfloat162 *>(row + nt * 8 + 2 * tq) =
                __floats2bfloat162_rn(dqa[nt][2 * r] * scale, dqa[nt][2 * r + 1] * scale);
    }
}

// dK, dV for the compact keys. Grid (key tiles, n_kv, B), 4 warps x 16 keys; loops over the heads of the GQA
// group and the query tiles that can see the key tile. Dynamic smem: K, V tiles; double-buffered Q, dO tiles
// with their lse (log2 units) and Delta.
template <int D, class Keys>
__global__ void __launch_bounds__(kWarps * 32)
    attn_bwd_dkdv_mma_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q, const floatX *k,
                             const floatX *v, const float *lse, const float *delta, int T, int n_h, int n_kv,
                             Keys keys, float scale_log2, float scale) {
    constexpr int LD = D + kPad;
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sK = (floatX *)attn_smem;
    floatX *sV = sK + kBN * LD;
    floatX *sQ = sV + kBN * LD;      // [2][kBM * LD]
    floatX *sdO = sQ + 2 * kBM * LD; // [2][kBM * LD]
    float *sL = (float *)(sdO + 2 * kBM * LD); // [2][kBM]
    float *sD = sL + 2 * kBM;                  // [2][kBM]

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const int kvh = blockIdx.y, b = blockIdx.z, group = n_h / n_kv;
    const int n_keys = keys.n_keys();
    const int k0 = blockIdx.x * kBN, k1 = min(k0 + kBN, n_keys);
    const size_t q_stride = (size_t)n_h * D, kv_stride = (size_t)n_kv * D;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const int qbeg = keys.query_begin(k0), qend = min(T, keys.query_end(k1));
    const int qt_begin = qbeg / kBM, qt_end = qend > qbeg ? (qend + kBM - 1) / kBM : qt_begin;
    const int n_qt = qt_end - qt_begin, n_iter = group * n_qt;
    auto krow = [&](int j) { return keys.key_row(j); };
    auto ident = [](int i) { return i; };

    // One iteration = (head of the group, query tile): its Q, dO tiles and per-query statistics.
    auto load_iter = [&](int it, int buf) {
        const int h = kvh * group + it / n_qt, q0 = (qt_begin + it % n_qt) * kBM;
        const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
        const floatX *dob = dout + (size_t)b * T * q_stride + (size_t)h * D;
        load_tile_async<D, kBM>(sQ + buf * kBM * LD, qb, q_stride, q0, T, ident);
        load_tile_async<D, kBM>(sdO + buf * kBM * LD, dob, q_stride, q0, T, ident);
        for (int c = threadIdx.x; c < kBM; c += blockDim.x) {
            const int i = q0 + c;
            const bool ok = i < T;
            sL[buf * kBM + c] = ok ? lse[((size_t)b * n_h + h) * T + i] * kLog2e : 0.0f;
            sD[buf * kBM + c] = ok ? delta[((size_t)b * n_h + h) * T + i] : 0.0f;
        }
    };

    load_tile_async<D, kBN>(sK, kb, kv_stride, k0, k1, krow);
    load_tile_async<D, kBN>(sV, vb, kv_stride, k0, k1, krow);
    if (n_iter > 0) load_iter(0, 0);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    uint32_t kf[D / 16][4], vf[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        ldmatrix_x4(kf[kk], a_frag_addr(sK, LD, warp * 16, kk * 16));
        ldmatrix_x4(vf[kk], a_frag_addr(sV, LD, warp * 16, kk * 16));
    }
    const int key_j[2] = {k0 + warp * 16 + g, k0 + warp * 16 + g + 8};
    float dka[D / 8][4], dva[D / 8][4];
#pragma unroll
    for (int nt = 0; nt < D / 8; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) dka[nt][e] = dva[nt][e] = 0.0f;

    for (int it = 0; it < n_iter; it++) {
        const int buf = it & 1;
        const int q0 = (qt_begin + it % n_qt) * kBM;
        const floatX *cQ = sQ + buf * kBM * LD, *cdO = sdO + buf * kBM * LD;
        const float *cL = sL + buf * kBM, *cD = sD + buf * kBM;
        if (it + 1 < n_iter) load_iter(it + 1, buf ^ 1);
        cp_async_commit();

        // S^T = K Q^T and dP^T = V dO^T: 16 keys x 64 queries per warp.
        float st[kBM / 8][4], dpt[kBM / 8][4];
#pragma unroll
        for (int nt = 0; nt < kBM / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) st[nt][e] = dpt[nt][e] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
            for (int np = 0; np < kBM / 16; np++) {
                uint32_t qf4[4], of4[4];
                ldmatrix_x4(qf4, bt_frag_addr(cQ, LD, np * 16, kk * 16));
                ldmatrix_x4(of4, bt_frag_addr(cdO, LD, np * 16, kk * 16));
                const uint32_t q0f[2] = {qf4[0], qf4[1]}, q1f[2] = {qf4[2], qf4[3]};
                const uint32_t o0f[2] = {of4[0], of4[1]}, o1f[2] = {of4[2], of4[3]};
                mma_bf16_16816(st[2 * np], kf[kk], q0f);
                mma_bf16_16816(st[2 * np + 1], kf[kk], q1f);
                mma_bf16_16816(dpt[2 * np], vf[kk], o0f);
                mma_bf16_16816(dpt[2 * np + 1], vf[kk], o1f);
            }
        const bool full = keys.all_valid(q0, q0 + kBM, k0, k0 + kBN) && k0 + kBN <= n_keys && q0 + kBM <= T;
        // P^T (kept in st) and dS^T (kept in dpt).
#pragma unroll
        for (int nt = 0; nt < kBM / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int c = nt * 8 + 2 * tq + (e & 1);
                float p = exp2f(st[nt][e] * scale_log2 - cL[c]);
                if (!full) {
                    const int i = q0 + c, j = key_j[e >> 1];
                    if (!(i < T && j < n_keys && keys.valid(i, j))) p = 0.0f;
                }
                st[nt][e] = p;
                dpt[nt][e] = p * (dpt[nt][e] - cD[c]);
            }
        // dV += P^T dO and dK += dS^T Q: k = queries, B operands via ldmatrix.trans of the row-major tiles.
#pragma unroll
        for (int kk = 0; kk < kBM / 16; kk++) {
            const uint32_t pa[4] = {pack_bf16(st[2 * kk][0], st[2 * kk][1]), pack_bf16(st[2 * kk][2], st[2 * kk][3]),
                                    pack_bf16(st[2 * kk + 1][0], st[2 * kk + 1][1]),
                                    pack_bf16(st[2 * kk + 1][2], st[2 * kk + 1][3])};
            const uint32_t da[4] = {pack_bf16(dpt[2 * kk][0], dpt[2 * kk][1]),
                                    pack_bf16(dpt[2 * kk][2], dpt[2 * kk][3]),
                                    pack_bf16(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]),
                                    pack_bf16(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3])};
#pragma unroll
            for (int dpi = 0; dpi < D / 16; dpi++) {
                uint32_t of4[4], qf4[4];
                ldmatrix_x4_trans(of4, b_frag_addr_trans(cdO, LD, kk * 16, dpi * 16));
                ldmatrix_x4_trans(qf4, b_frag_addr_trans(cQ, LD, kk * 16, dpi * 16));
                const uint32_t o0f[2] = {of4[0], of4[1]}, o1f[2] = {of4[2], of4[3]};
                const uint32_t q0f[2] = {qf4[0], qf4[1]}, q1f[2] = {qf4[2], qf4[3]};
                mma_bf16_16816(dva[2 * dpi], pa, o0f);
                mma_bf16_16816(dva[2 * dpi + 1], pa, o1f);
                mma_bf16_16816(dka[2 * dpi], da, q0f);
                mma_bf16_16816(dka[2 * dpi + 1], da, q1f);
            }
        }
        cp_async_wait<0>();
        __syncthreads();
    }

    // Checkpoint rows also have their own query's self term, from every head of the group.
    if (Keys::kSelfSeed) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int j = key_j[r];
            const bool ok = j < n_keys;
            const int row = ok ? keys.key_row(j) : 0;
            const floatX *kr = kb + (size_t)row * kv_stride, *vr = vb + (size_t)row * kv_stride;
            for (int hh = 0; hh < group; hh++) {
                const int h = kvh * group + hh;
                const floatX *qr = q + ((size_t)b * T + row) * q_stride + (size_t)h * D;
                const floatX *dor = dout + ((size_t)b * T + row) * q_stride + (size_t)h * D;
                float qk = 0.0f, dov = 0.0f;
#pragma unroll
                for (int nt = 0; nt < D / 8; nt++) {
                    const int col = nt * 8 + 2 * tq;
                    qk += bf2f(qr[col]) * bf2f(kr[col]) + bf2f(qr[col + 1]) * bf2f(kr[col + 1]);
                    dov += bf2f(dor[col]) * bf2f(vr[col]) + bf2f(dor[col + 1]) * bf2f(vr[col + 1]);
                }
                qk = quad_sum(qk);
                dov = quad_sum(dov);
                const size_t stat = ((size_t)b * n_h + h) * T + row;
                const float p = ok ? exp2f(qk * scale_log2 - lse[stat] * kLog2e) : 0.0f;
                const float dl = ok ? p * (dov - delta[stat]) : 0.0f;
#pragma unroll
                for (int nt = 0; nt < D / 8; nt++) {
                    const int col = nt * 8 + 2 * tq;
                    dka[nt][2 * r] += dl * bf2f(qr[col]);
                    dka[nt][2 * r + 1] += dl * bf2f(qr[col + 1]);
                    dva[nt][2 * r] += p * bf2f(dor[col]);
                    dva[nt][2 * r + 1] += p * bf2f(dor[col + 1]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int j = key_j[r];
        if (j >= n_keys) continue;
        const size_t off = ((size_t)b * T + keys.key_row(j)) * kv_stride + (size_t)kvh * D;
#pragma unroll
        for (int nt = 0; nt < D / 8; nt++) {
            const int col = nt * 8 + 2 * tq;
            *reinterpret_cast<__nv_bfloat162 *>(dk + off + col) =
                __floats2bfloat162_rn(dka[nt][2 * r] * scale, dka[nt][2 * r + 1] * scale);
            *reinterpret_cast<__nv_bfloat162 *>(dv + off + col) =
                __floats2bfloat162_rn(dva[nt][2 * r], dva[nt][2 * r + 1]);
        }
    }
}

// Checkpoint attention, tensor-core path: the self term of every row that is not a checkpoint (the only term
// those rows' dk / dv have): dk_j = scale sum_h dl_jh q_jh, dv_j = sum_h p_jh dO_jh over the GQA group, with
// p = exp(q.k scale - lse), dl = p (dO.v - Delta). Eight lanes per (b, j, kv head) row, 8 head-dim elements
// (16 bytes) each, so every load is a full 128-byte row; the dot products reduce over the 8 lanes.
template <int D>
__global__ void attn_ckpt_self_dkdv_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q,
                                           const floatX *k, const floatX *v, const float *lse, const float *delta,
                                           int B, int T, int n_h, int n_kv, int seg, float scale) {
    static_assert(D == 8 * 8, "eight lanes of eight elements");
    const size_t n_rows = (size_t)B * T * n_kv;
    const size_t row_raw = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 8;
    const int sub = threadIdx.x % 8, col = sub * 8;
    // Out-of-range groups compute on row 0 and store nothing: every lane stays in the shuffles below.
    const bool store_row = row_raw < n_rows;
    const size_t row = store_row ? row_raw : 0;
    const int kvh = (int)(row % n_kv), j = (int)((row / n_kv) % T), b = (int)(row / n_kv / T);
    const bool is_ckpt = (j + 1) % seg == 0; // the dk/dv tensor-core kernel owns these rows
    const int group = n_h / n_kv;
    const x128 kx = load128(k + row * D + col), vx = load128(v + row * D + col);
    float dka[8], dva[8];
#pragma unroll
    for (int c = 0; c < 8; c++) dka[c] = dva[c] = 0.0f;
    for (int hh = 0; hh < group; hh++) {
        const int h = kvh * group + hh;
        const size_t qoff = (((size_t)b * T + j) * n_h + h) * D + col;
        const x128 qx = load128(q + qoff), ox = load128(dout + qoff);
        float qk = 0.0f, dp = 0.0f;
#pragma unroll
        for (int c = 0; c < 8; c++) qk += bf2f(qx[c]) * bf2f(kx[c]), dp += bf2f(ox[c]) * bf2f(vx[c]);
#pragma unroll
        for (int off = 1; off < 8; off <<= 1) {
            qk += __shfl_xor_sync(0xffffffffu, qk, off);
            dp += __shfl_xor_sync(0xffffffffu, dp, off);
        }
        const size_t stat = ((size_t)b * n_h + h) * T + j;
        const float p = expf(qk * scale - lse[stat]);
        const float dl = p * (dp - delta[stat]) * scale;
#pragma unroll
        for (int c = 0; c < 8; c++) dka[c] += dl * bf2f(qx[c]), dva[c] += p * bf2f(ox[c]);
    }
    if (!store_row || is_ckpt) return;
    x128 ko, vo;
#pragma unroll
    for (int c = 0; c < 8; c++) ko[c] = f2bf(dka[c]), vo[c] = f2bf(dva[c]);
    store128(dk + row * D + col, ko);
    store128(dv + row * D + col, vo);
}

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels: general path (one warp per row, lanes over the head dim)

// Forward, one warp per query row (b, i, h).
template <class Keys>
__global__ void attn_fwd_general_kernel(floatX *out, float *lse, const floatX *q, const floatX *k, const floatX *v,
                                        int B, int T, int n_h, int n_kv, int d, Keys keys, float scale) {
    const size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= (size_t)B * T * n_h) return;
    const int lane = threadIdx.x % 32;
    const int h = (int)(row % n_h), i = (int)((row / n_h) % T), b = (int)(row / n_h / T);
    const int kvh = h / (n_h / n_kv);
    const size_t kv_stride = (size_t)n_kv * d;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * d;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * d;
    float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++) {
        const int col = lane + 32 * c;
        qv[c] = col < d ? bf2f(q[row * d + col]) : 0.0f;
        acc[c] = 0.0f;
    }
    auto logit = [&](int key_row) {
        const floatX *kr = kb + (size_t)key_row * kv_stride;
        float s = 0.0f;
#pragma unroll
        for (int c = 0; c < kMaxPerLane; c++)
            if (lane + 32 * c < d) s += qv[c] * bf2f(kr[lane + 32 * c]);
        return warp_reduce_sum(s) * scale;
    };
    float m = -INFINITY, l = 0.0f;
    auto push = [&](float x, int key_row) { // softmax_push of kernels/cpu/attention_row.h
        const floatX *vr = vb + (size_t)key_row * kv_stride;
        if (x > m) {
            const float rescale = expf(m - x);
            l *= rescale;
#pragma unroll
            for (int c = 0; c < kMaxPerLane; c++) acc[c] *= rescale;
            m = x;
        }
        const float p = expf(x - m);
        l += p;
#pragma unroll
        for (int c = 0; c < kMaxPerLane; c++)
            if (lane + 32 * c < d) acc[c] += p * bf2f(vr[lane + 32 * c]);
    };
    if constexpr (Keys::kSelfSeed) {
        m = logit(i);
        l = 1.0f;
#pragma unroll
        for (int c = 0; c < kMaxPerLane; c++)
            if (lane + 32 * c < d) acc[c] = bf2f(vb[(size_t)i * kv_stride + lane + 32 * c]);
        for (int j = 0; j < keys.n_keys() && keys.valid(i, j); j++) push(logit(keys.key_row(j)), keys.key_row(j));
    } else {
        for (int j = keys.key_begin(i); j <= i; j++) push(logit(j), j);
    }
    const float inv = 1.0f / l;
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++)
        if (lane + 32 * c < d) out[row * d + lane + 32 * c] = f2bf(acc[c] * inv);
    if (lane == 0) lse[((size_t)b * n_h + h) * T + i] = m + logf(l);
}

// dQ, one warp per query row (b, i, h).
template <class Keys>
__global__ void attn_bwd_dq_general_kernel(floatX *dq, const floatX *dout, const floatX *q, const floatX *k,
                                           const floatX *v, const float *lse, const float *delta, int B, int T,
                                           int n_h, int n_kv, int d, Keys keys, float scale) {
    const size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= (size_t)B * T * n_h) return;
    const int lane = threadIdx.x % 32;
    const int h = (int)(row % n_h), i = (int)((row / n_h) % T), b = (int)(row / n_h / T);
    const int kvh = h / (n_h / n_kv);
    const size_t kv_stride = (size_t)n_kv * d;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * d;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * d;
    const size_t stat = ((size_t)b * n_h + h) * T + i;
    const float row_lse = lse[stat], dlt = delta[stat];
    float qv[kMaxPerLane], dov[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++) {
        const int col = lane + 32 * c;
        qv[c] = col < d ? bf2f(q[row * d + col]) : 0.0f;
        dov[c] = col < d ? bf2f(dout[row * d + col]) : 0.0f;
        acc[c] = 0.0f;
    }
    auto step = [&](int key_row) { // attention_key_backward of the CPU reference, dq part
        const floatX *kr = kb + (size_t)key_row * kv_stride, *vr = vb + (size_t)key_row * kv_stride;
        float qk = 0.0f, dp = 0.0f;
#pragma unroll
        for (int c = 0; c < kMaxPerLane; c++)
            if (lane + 32 * c < d) {
                qk += qv[c] * bf2f(kr[lane + 32 * c]);
                dp += dov[c] * bf2f(vr[lane + 32 * c]);
            }
        const float p = expf(warp_reduce_sum(qk) * scale - row_lse);
        const float dl = p * (warp_reduce_sum(dp) - dlt) * scale;
#pragma unroll
        for (int c = 0; c < kMaxPerLane; c++)
            if (lane + 32 * c < d) acc[c] += dl * bf2f(kr[lane + 32 * c]);
    };
    if constexpr (Keys::kSelfSeed) {
        step(i);
        for (int j = 0; j < keys.n_keys() && keys.valid(i, j); j++) step(keys.key_row(j));
    } else {
        for (int j = keys.key_begin(i); j <= i; j++) step(j);
    }
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++)
        if (lane + 32 * c < d) dq[row * d + lane + 32 * c] = f2bf(acc[c]);
}

// dK, dV, one warp per key row (b, j, kv head), summing over the group's heads and the queries that see key
// j: the window's j..j+W-1, or for checkpoint attention the query j itself (self) and, when j is a
// checkpoint, every later query.
template <class Keys>
__global__ void attn_bwd_dkdv_general_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q,
                                             const floatX *k, const floatX *v, const float *lse, const float *delta,
                                             int B, int T, int n_h, int n_kv, int d, Keys keys, float scale) {
    const size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= (size_t)B * T * n_kv) return;
    const int lane = threadIdx.x % 32;
    const int kvh = (int)(row % n_kv), j = (int)((row / n_kv) % T), b = (int)(row / n_kv / T);
    const int group = n_h / n_kv;
    bool is_ckpt = false;
    if constexpr (Keys::kSelfSeed) is_ckpt = (j + 1) % keys.seg == 0;
    const size_t q_stride = (size_t)n_h * d;
    float kv_k[kMaxPerLane], kv_v[kMaxPerLane], dka[kMaxPerLane], dva[kMaxPerLane];
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++) {
        const int col = lane + 32 * c;
        kv_k[c] = col < d ? bf2f(k[row * d + col]) : 0.0f;
        kv_v[c] = col < d ? bf2f(v[row * d + col]) : 0.0f;
        dka[c] = dva[c] = 0.0f;
    }
    for (int hh = 0; hh < group; hh++) {
        const int h = kvh * group + hh;
        auto step = [&](int i) { // attention_key_backward of the CPU reference, dk / dv part
            const floatX *qr = q + ((size_t)b * T + i) * q_stride + (size_t)h * d;
            const floatX *dor = dout + ((size_t)b * T + i) * q_stride + (size_t)h * d;
            const size_t stat = ((size_t)b * n_h + h) * T + i;
            float qk = 0.0f, dp = 0.0f;
#pragma unroll
            for (int c = 0; c < kMaxPerLane; c++)
                if (lane + 32 * c < d) {
                    qk += bf2f(qr[lane + 32 * c]) * kv_k[c];
                    dp += bf2f(dor[lane + 32 * c]) * kv_v[c];
                }
            const float p = expf(warp_reduce_sum(qk) * scale - lse[stat]);
            const float dl = p * (warp_reduce_sum(dp) - delta[stat]) * scale;
#pragma unroll
            for (int c = 0; c < kMaxPerLane; c++)
                if (lane + 32 * c < d) {
                    dka[c] += dl * bf2f(qr[lane + 32 * c]);
                    dva[c] += p * bf2f(dor[lane + 32 * c]);
                }
        };
        if constexpr (Keys::kSelfSeed) {
            step(j);
            if (is_ckpt)
                for (int i = j + 1; i < T; i++) step(i);
        } else {
            for (int i = j; i < keys.query_end(j + 1); i++) step(i);
        }
    }
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++)
        if (lane + 32 * c < d) {
            dk[row * d + lane + 32 * c] = f2bf(dka[c]);
            dv[row * d + lane + 32 * c] = f2bf(dva[c]);
        }
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers (shared by both attentions)

constexpr int kMmaD = 64; // the head dim the tensor-core path is instantiated for (every SCOUT config)

static inline bool use_mma(int d, const void *a, const void *b, const void *c, const void *e, const void *f,
                           const void *g2) {
    return d == kMmaD && !scout_cuda_attention_general_() && aligned16(a) && aligned16(b) && aligned16(c) &&
           aligned16(e) && (!f || aligned16(f)) && (!g2 || aligned16(g2));
}

static inline void check_heads(int n_h, int n_kv, int d, int B) {
    scout_require(n_kv >= 1 && n_h % n_kv == 0, "attention: n_h = %d is not a multiple of n_kv = %d", n_h, n_kv);
    scout_require(d >= 2 && d % 2 == 0 && d <= 32 * kMaxPerLane, "attention: head dim %d not even or over %d", d,
                  32 * kMaxPerLane);
    scout_require(n_h <= 65535 && B <= 65535, "attention: n_h = %d or B = %d over the grid limit", n_h, B);
}

template <class Keys>
static void attention_forward(void *out, float *lse, const void *q, const void *k, const void *v, int B, int T,
                              int n_h, int n_kv, int d, Keys keys, int reverse, cudaStream_t stream) {
    if (B <= 0 || T <= 0 || n_h <= 0) return;
    check_heads(n_h, n_kv, d, B);
    const float scale = 1.0f / sqrtf((float)d);
    if (use_mma(d, out, q, k, v, NULL, NULL)) {
        dim3 grid(ceil_div(T, kBM), n_h, B);
        attn_fwd_mma_kernel<kMmaD, Keys><<<grid, kWarps * 32, 0, stream>>>((floatX *)out, lse, (const floatX *)q,
                                                                          (const floatX *)k, (const floatX *)v, T, n_h,
                                                                          n_kv, keys, scale * kLog2e, reverse);
    } else {
        size_t rows = (size_t)B * T * n_h;
        attn_fwd_general_kernel<Keys><<<(unsigned)ceil_div_sz(rows, 4), 128, 0, stream>>>(
            (floatX *)out, lse, (const floatX *)q, (const floatX *)k, (const floatX *)v, B, T, n_h, n_kv, d, keys,
            scale);
    }
    cudaCheck(cudaGetLastError());
}

static inline size_t attention_backward_workspace(int B, int T, int n_h) { return (size_t)B * n_h * T * sizeof(float); }

template <class Keys>
static void attention_backward(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                               const void *v, const void *out, const float *lse, void *ws, int B, int T, int n_h,
                               int n_kv, int d, Keys keys, int reverse, cudaStream_t stream) {
    if (B <= 0 || T <= 0 || n_h <= 0) return;
    check_heads(n_h, n_kv, d, B);
    const float scale = 1.0f / sqrtf((float)d);
    float *delta = (float *)ws; // [B, n_h, T]
    size_t rows = (size_t)B * T * n_h;
    attn_delta_kernel<<<(unsigned)ceil_div_sz(rows, 8), 256, 0, stream>>>(delta, (const floatX *)dout,
                                                                         (const floatX *)out, T, n_h, d, rows);
    cudaCheck(cudaGetLastError());
    const size_t kv_rows = (size_t)B * T * n_kv;
    if (use_mma(d, dq, dk, dv, dout, q, k) && aligned16(v)) {
        constexpr int LD = kMmaD + kPad;
        const size_t dq_smem = (size_t)(2 * kBM + 4 * kBN) * LD * sizeof(floatX);
        const size_t dkdv_smem = (size_t)(2 * kBN + 4 * kBM) * LD * sizeof(floatX) + 4 * kBM * sizeof(float);
        auto dq_kernel = attn_bwd_dq_mma_kernel<kMmaD, Keys>;
        auto dkdv_kernel = attn_bwd_dkdv_mma_kernel<kMmaD, Keys>;
        static bool smem_set = false; // once per instantiation: the sizes are compile-time constants
        if (!smem_set) {
            cudaCheck(cudaFuncSetAttribute(dq_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)dq_smem));
            cudaCheck(cudaFuncSetAttribute(dkdv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)dkdv_smem));
            smem_set = true;
        }
        dq_kernel<<<dim3(ceil_div(T, kBM), n_h, B), kWarps * 32, dq_smem, stream>>>(
            (floatX *)dq, (const floatX *)dout, (const floatX *)q, (const floatX *)k, (const floatX *)v, lse, delta, T,
            n_h, n_kv, keys, scale * kLog2e, scale, reverse);
        cudaCheck(cudaGetLastError());
        const int n_keys = keys.n_keys();
        if (n_keys > 0) {
            dkdv_kernel<<<dim3(ceil_div(n_keys, kBN), n_kv, B), kWarps * 32, dkdv_smem, stream>>>(
                (floatX *)dk, (floatX *)dv, (const floatX *)dout, (const floatX *)q, (const floatX *)k,
                (const floatX *)v, lse, delta, T, n_h, n_kv, keys, scale * kLog2e, scale);
            cudaCheck(cudaGetLastError());
        }
        if constexpr (Keys::kSelfSeed) { // the rows that are no checkpoint: self term only
            attn_ckpt_self_dkdv_kernel<kMmaD><<<(unsigned)ceil_div_sz(kv_rows * 8, 256), 256, 0, stream>>>(
                (floatX *)dk, (floatX *)dv, (const floatX *)dout, (const floatX *)q, (const floatX *)k,
                (const floatX *)v, lse, delta, B, T, n_h, n_kv, keys.seg, scale);
            cudaCheck(cudaGetLastError());
        }
    } else {
        attn_bwd_dq_general_kernel<Keys><<<(unsigned)ceil_div_sz(rows, 4), 128, 0, stream>>>(
            (floatX *)dq, (const floatX *)dout, (const floatX *)q, (const floatX *)k, (const floatX *)v, lse, delta, B,
            T, n_h, n_kv, d, keys, scale);
        cudaCheck(cudaGetLastError());
        attn_bwd_dkdv_general_kernel<Keys><<<(unsigned)ceil_div_sz(kv_rows, 4), 128, 0, stream>>>(
            (floatX *)dk, (floatX *)dv, (const floatX *)dout, (const floatX *)q, (const floatX *)k, (const floatX *)v,
            lse, delta, B, T, n_h, n_kv, d, keys, scale);
        cudaCheck(cudaGetLastError());
    }
}

} // namespace attn

#endif
