// attention_sm90.cuh: the attention kernels of attention.cuh (forward, dq, dk/dv; same key-set policies, same
// arguments, same results to rounding) on Hopper's warpgroup MMA (wgmma.cuh) instead of mma.sync. Included by
// attention.cuh; the launchers there pick these for the WgTile<> shapes.
//
// Why: mma.sync kernels top out near FlashAttention-2's speed on an H200 (200-285 TFLOP/s, BENCHMARKS.md):
// every 16x8x16 product is an instruction of its warp, with its operands moved from shared memory into
// registers by ldmatrix first. A wgmma multiplies 64 x 64 x 16 for a whole warpgroup with its B operand (and
// optionally A) read by the tensor core straight from shared memory, so the instruction count per FLOP drops
// ~16x and no registers hold K, V, Q or dO tiles.
// Structure: a warpgroup (4 warps) owns 64 rows (queries, or keys for dk/dv), a block WG warpgroups; the other
// side streams through a cp.async pipeline into 128-byte-swizzled tiles (wgmma.cuh), each tile serving as the
// K-major operand of one product and the MN-major operand of another (K: S = Q K^T and dQ = dS K; V: dP = dO V^T
// and O = P V; Q, dO: S^T, dP^T and dK, dV). Per streamed tile the products of one step are issued together
// and waited for before the softmax arithmetic (no intra-warpgroup overlap, FA3's next step); with two or more
// warpgroups per SM one group's arithmetic overlaps another's products. The arithmetic between the products is
// attention.cuh's line for line, on the same fragment layouts (a warpgroup's accumulator is per warp eight
// mma.m16n8 C fragments): masking only tiles that cross the key set's edges, the online softmax in log2 units,
// P and dS packed to bf16 into the A operand of the next product, deterministic dQ / dK, dV.
#ifndef SCOUT_CUDA_ATTENTION_SM90_CUH
#define SCOUT_CUDA_ATTENTION_SM90_CUH

#include "cuda/wgmma.cuh"

namespace attn {

// WgTile<WG, STREAM, STAGES, MIN_BLOCKS>: a block of WG warpgroups owns 64 WG rows and streams the other side in
// tiles of STREAM rows (a multiple of 64: the products' N), STAGES of them in flight. Named "wgOWNxSTREAM"
// (plus "sSTAGES" when more than 2).
template <int WG, int STREAM, int STAGES, int MIN_BLOCKS>
struct WgTile {
    static constexpr bool kWgmma = true;
    static constexpr int kWG = WG, kOwn = 64 * WG, kStream = STREAM, kWarps = 4 * WG, kThreads = 128 * WG;
    static constexpr int kStages = STAGES, kMinBlocks = MIN_BLOCKS;
    static_assert(STREAM % 64 == 0, "streamed tiles of whole 64-column products");
    static_assert(STAGES >= 2, "at least double buffering");
    static void name(char *buf, size_t n) {
        int k = snprintf(buf, n, "wg%dx%d", 64 * WG, STREAM);
        if (STAGES > 2) snprintf(buf + k, n - k, "s%d", STAGES);
    }
};

// Copies rows [r0, r0 + R) of a [., 64] bf16 tensor (row r at base + row_of(r) * stride) into a swizzled smem
// tile with cp.async; rows r >= n_rows are zero-filled. NT threads, R * 8 / NT chunks of 16 bytes each.
template <int R, int NT, class RowOf>
__device__ __forceinline__ void load_tile_swz(floatX *tile, const floatX *base, size_t stride, int r0, int n_rows,
                                              RowOf row_of) {
    static_assert(R * 8 % NT == 0, "whole chunks per thread");
#pragma unroll 1
    for (int it = 0; it < R * 8 / NT; it++) {
        const int c = threadIdx.x + it * NT;
        const int r = c / 8, ch = c % 8;
        const bool ok = r0 + r < n_rows;
        const size_t row = ok ? (size_t)row_of(r0 + r) : 0;
        cp_async<16>(tile + r * 64 + ((ch ^ (r & 7)) << 3), base + row * stride + ch * 8, ok);
    }
}

// Elements (row, col), (row, col + 1) of a swizzled tile (col even), as one register of two bf16.
__device__ __forceinline__ uint32_t swz_pair(const floatX *tile, int row, int col) {
    return *reinterpret_cast<const uint32_t *>(tile + wg::swz(row, col));
}

// frag_row_dot (attention.cuh) for a row of a swizzled smem tile: this thread's 16 columns of row `row` (the
// A-fragment columns 16 kk + 8 half + 2 (lane % 4) + 0, 1) dotted with the global row x; a quad-local partial.
template <int D>
__device__ __forceinline__ float swz_row_dot(const floatX *tile, int row, const floatX *x) {
    const int tq = threadIdx.x % 4;
    float s = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int col = kk * 16 + half * 8 + 2 * tq;
            const uint32_t w = swz_pair(tile, row, col), xv = ld_pair(x + col);
            s += bf_lo(w) * bf_lo(xv) + bf_hi(w) * bf_hi(xv);
        }
    return s;
}

__device__ __forceinline__ void zero_acc(float (&d)[8][4]) {
#pragma unroll
    for (int j = 0; j < 8; j++) d[j][0] = d[j][1] = d[j][2] = d[j][3] = 0.0f;
}

// Row bookkeeping: warpgroup wgi = threadIdx.x / 128 owns the block's rows [row0 + 64 wgi, + 64); its warp
// wq = (threadIdx.x / 32) % 4 computes rows + 16 wq + (0..15), and a thread holds rows g and g + 8 of those
// (r = 0, 1), i.e. row gr0 + 16 wq + g + 8 r with gr0 the warpgroup's first row.

// Forward. Grid (query tiles, n_h, B). Dynamic smem (1024-byte aligned inside): Q [BM][64], then kStages stages
// of K [BN][64] and V [BN][64], all swizzled.
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_fwd_wg_kernel(floatX *out, float *lse, const floatX *q, const floatX *k, const floatX *v, int T, int n_h,
                       int n_kv, Keys keys, float scale_log2, int reverse) {
    static_assert(D == 64, "rows of 128 bytes");
    constexpr int BM = Cfg::kOwn, BN = Cfg::kStream, NB = BN / 64, NT = Cfg::kThreads, S = Cfg::kStages;
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sQ = (floatX *)wg::align_smem(attn_smem); // [BM][64]
    floatX *sK = sQ + BM * 64;                         // [S][BN][64]
    floatX *sV = sK + S * BN * 64;                     // [S][BN][64]

    const int wgi = threadIdx.x / 128, wq = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, g = lane >> 2,
              tq = lane & 3;
    const int qt = reverse ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (n_h / n_kv);
    const int q0 = qt * BM, gr0 = q0 + 64 * wgi, w0 = gr0 + 16 * wq;
    const size_t q_stride = (size_t)n_h * D, kv_stride = (size_t)n_kv * D;
    const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const int kbeg = keys.key_begin(q0), kend = keys.key_end(q0 + BM);
    const int t_begin = kbeg / BN, t_end = kend > kbeg ? (kend + BN - 1) / BN : t_begin;
    // The keys this warpgroup's rows can see: tiles outside are skipped (wgmma is warpgroup-wide, so the test is
    // per warpgroup, not per warp).
    const bool g_rows = gr0 < T;
    const int gkbeg = keys.key_begin(gr0), gkend = keys.key_end(min(gr0 + 64, T));
    const floatX *gQ = sQ + 64 * wgi * 64;
    auto krow = [&](int j) { return keys.key_row(j); };
    auto load_kv = [&](int t) {
        const int st = (t - t_begin) % S;
        load_tile_swz<BN, NT>(sK + st * BN * 64, kb, kv_stride, t * BN, kend, krow);
        load_tile_swz<BN, NT>(sV + st * BN * 64, vb, kv_stride, t * BN, kend, krow);
    };

    load_tile_swz<BM, NT>(sQ, qb, q_stride, q0, T, [](int i) { return i; });
#pragma unroll
    for (int st = 0; st < S - 1; st++) {
        if (t_begin + st < t_end) load_kv(t_begin + st);
        cp_async_commit();
    }
    cp_async_wait<S - 2>();
    wg::fence_smem_for_async();
    __syncthreads();

    float o[8][4];
    float m_r[2], l_r[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = w0 + g + 8 * r;
        if (Keys::kSelfSeed) {
            const bool ok = i < T;
            const floatX *ki = kb + (size_t)(ok ? i : 0) * kv_stride;
            const floatX *vi = vb + (size_t)(ok ? i : 0) * kv_stride;
            const float dot = quad_sum(swz_row_dot<D>(sQ, i - q0, ki));
            m_r[r] = ok ? dot * scale_log2 : 0.0f;
            l_r[r] = tq == 0 ? 1.0f : 0.0f;
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                const uint32_t vv = ld_pair(vi + nt * 8 + 2 * tq);
                o[nt][2 * r] = ok ? bf_lo(vv) : 0.0f;
                o[nt][2 * r + 1] = ok ? bf_hi(vv) : 0.0f;
            }
        } else {
            m_r[r] = -INFINITY;
            l_r[r] = 0.0f;
#pragma unroll
            for (int nt = 0; nt < 8; nt++) o[nt][2 * r] = o[nt][2 * r + 1] = 0.0f;
        }
    }

    for (int t = t_begin; t < t_end; t++) {
        cp_async_wait<S - 2>();
        wg::fence_smem_for_async();
        __syncthreads();
        if (t + S - 1 < t_end) load_kv(t + S - 1);
        cp_async_commit();
        const int st = (t - t_begin) % S;
        const floatX *cK = sK + st * BN * 64, *cV = sV + st * BN * 64;
        const int k0 = t * BN;
        if (!(g_rows && k0 < gkend && k0 + BN > gkbeg)) continue; // warpgroup-uniform

        // S = Q K^T: 64 rows x BN keys per warpgroup, NB products of 64 keys.
        float s[NB][8][4];
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
            for (int nb = 0; nb < NB; nb++)
                wg::mma_ss<false>(s[nb], wg::kstep<false>(gQ, kk), wg::kstep<false>(cK + nb * 64 * 64, kk), kk > 0);
        wg::commit();
        wg::wait<0>();
#pragma unroll
        for (int nb = 0; nb < NB; nb++) wg::pin(s[nb]);

        const bool full = keys.all_valid(w0, w0 + 16, k0, k0 + BN) && k0 + BN <= kend;
        if (!full) {
#pragma unroll
            for (int nb = 0; nb < NB; nb++)
#pragma unroll
                for (int nt = 0; nt < 8; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int j = k0 + nb * 64 + nt * 8 + 2 * tq + (e & 1), i = w0 + g + 8 * (e >> 1);
                        if (!(j < kend && keys.valid(i, j))) s[nb][nt][e] = -INFINITY;
                    }
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = -INFINITY;
#pragma unroll
            for (int nb = 0; nb < NB; nb++)
#pragma unroll
                for (int nt = 0; nt < 8; nt++) mx = fmaxf(mx, fmaxf(s[nb][nt][2 * r], s[nb][nt][2 * r + 1]));
            const float m_new = fmaxf(m_r[r], quad_max(mx) * scale_log2);
            const float m_use = m_new == -INFINITY ? 0.0f : m_new;
            const float rescale = exp2_approx(m_r[r] - m_use);
            m_r[r] = m_new;
            float sum = 0.0f;
#pragma unroll
            for (int nb = 0; nb < NB; nb++)
#pragma unroll
                for (int nt = 0; nt < 8; nt++)
#pragma unroll
                    for (int e = 2 * r; e < 2 * r + 2; e++) {
                        s[nb][nt][e] = exp2_approx(fmaf(s[nb][nt][e], scale_log2, -m_use));
                        sum += s[nb][nt][e];
                    }
            l_r[r] = l_r[r] * rescale + sum;
#pragma unroll
            for (int nt = 0; nt < 8; nt++) o[nt][2 * r] *= rescale, o[nt][2 * r + 1] *= rescale;
        }
        // O += P V: P from the S accumulators, 16 keys per k-step; V's tile MN-major (rows = keys = k).
        uint32_t pa[BN / 16][4];
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) pack_a_frag(pa[kk], s[kk / 4][2 * (kk % 4)], s[kk / 4][2 * (kk % 4) + 1]);
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) wg::mma_rs<true>(o, pa[kk], wg::kstep<true>(cV, kk), true);
        wg::commit();
        wg::wait<0>();
        wg::pin(o);
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float l = quad_sum(l_r[r]);
        const int i = w0 + g + 8 * r;
        if (i >= T) continue;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        floatX *orow = out + ((size_t)b * T + i) * q_stride + (size_t)h * D;
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
            *reinterpret_cast<__nv_bfloat162 *>(orow + nt * 8 + 2 * tq) =
                __floats2bfloat162_rn(o[nt][2 * r] * inv, o[nt][2 * r + 1] * inv);
        if (tq == 0) lse[((size_t)b * n_h + h) * T + i] = (m_r[r] + log2f(l)) * kLn2;
    }
}

// dQ. Grid (query tiles, n_h, B). Dynamic smem: Q [BM][64], dO [BM][64], kStages stages of K, V [BN][64].
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_bwd_dq_wg_kernel(floatX *dq, const floatX *dout, const floatX *q, const floatX *k, const floatX *v,
                          const float *lse, const float *delta, int T, int n_h, int n_kv,
                          const __grid_constant__ Keys keys, float scale_log2, float scale, int reverse,
                          floatX *self_dk, floatX *self_dv) {
    static_assert(D == 64, "rows of 128 bytes");
    constexpr int BM = Cfg::kOwn, BN = Cfg::kStream, NT = Cfg::kThreads, S = Cfg::kStages;
    static_assert(BN == 64, "one 64-key product per step");
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sQ = (floatX *)wg::align_smem(attn_smem); // [BM][64]
    floatX *sdO = sQ + BM * 64;                        // [BM][64]
    floatX *sK = sdO + BM * 64;                        // [S][BN][64]
    floatX *sV = sK + S * BN * 64;                     // [S][BN][64]

    const int wgi = threadIdx.x / 128, wq = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, g = lane >> 2,
              tq = lane & 3;
    const int qt = reverse ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (n_h / n_kv);
    const int q0 = qt * BM, gr0 = q0 + 64 * wgi, w0 = gr0 + 16 * wq;
    const size_t q_stride = (size_t)n_h * D, kv_stride = (size_t)n_kv * D;
    const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
    const floatX *dob = dout + (size_t)b * T * q_stride + (size_t)h * D;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const int kbeg = keys.key_begin(q0), kend = keys.key_end(q0 + BM);
    const int t_begin = kbeg / BN, t_end = kend > kbeg ? (kend + BN - 1) / BN : t_begin;
    const bool g_rows = gr0 < T;
    const int gkbeg = keys.key_begin(gr0), gkend = keys.key_end(min(gr0 + 64, T));
    const floatX *gQ = sQ + 64 * wgi * 64, *gdO = sdO + 64 * wgi * 64;
    auto krow = [&](int j) { return keys.key_row(j); };
    auto load_kv = [&](int t) {
        const int st = (t - t_begin) % S;
        load_tile_swz<BN, NT>(sK + st * BN * 64, kb, kv_stride, t * BN, kend, krow);
        load_tile_swz<BN, NT>(sV + st * BN * 64, vb, kv_stride, t * BN, kend, krow);
    };

    load_tile_swz<BM, NT>(sQ, qb, q_stride, q0, T, [](int i) { return i; });
    load_tile_swz<BM, NT>(sdO, dob, q_stride, q0, T, [](int i) { return i; });
#pragma unroll
    for (int st = 0; st < S - 1; st++) {
        if (t_begin + st < t_end) load_kv(t_begin + st);
        cp_async_commit();
    }
    cp_async_wait<S - 2>();
    wg::fence_smem_for_async();
    __syncthreads();

    float lse2[2], dlt[2];
    float dqa[8][4];
    zero_acc(dqa);
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = w0 + g + 8 * r;
        const bool ok = i < T;
        lse2[r] = ok ? lse[((size_t)b * n_h + h) * T + i] * kLog2e : 0.0f;
        dlt[r] = ok ? delta[((size_t)b * n_h + h) * T + i] : 0.0f;
        if (Keys::kSelfSeed) { // as in attn_bwd_dq_mma_kernel, with q_i, dO_i read from the swizzled tiles
            const floatX *ki = kb + (size_t)(ok ? i : 0) * kv_stride;
            const floatX *vi = vb + (size_t)(ok ? i : 0) * kv_stride;
            const float l2 = quad_sum(swz_row_dot<D>(sQ, i - q0, ki)) * scale_log2;
            const float dp = quad_sum(swz_row_dot<D>(sdO, i - q0, vi));
            const float p = ok ? exp2f(l2 - lse2[r]) : 0.0f;
            const float dl = p * (dp - dlt[r]);
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                const uint32_t kv = ld_pair(ki + nt * 8 + 2 * tq);
                dqa[nt][2 * r] += dl * bf_lo(kv);
                dqa[nt][2 * r + 1] += dl * bf_hi(kv);
            }
            if (self_dk && ok && keys.self_only(i)) {
                floatX *dkr = self_dk + ((size_t)b * T + i) * kv_stride + (size_t)kvh * D;
                floatX *dvr = self_dv + ((size_t)b * T + i) * kv_stride + (size_t)kvh * D;
                const float ds = dl * scale;
#pragma unroll
                for (int nt = 0; nt < 8; nt++) {
                    const int col = nt * 8 + 2 * tq;
                    const uint32_t qw = swz_pair(sQ, i - q0, col), ow = swz_pair(sdO, i - q0, col);
                    *reinterpret_cast<uint32_t *>(dkr + col) = pack_bf16(ds * bf_lo(qw), ds * bf_hi(qw));
                    *reinterpret_cast<uint32_t *>(dvr + col) = pack_bf16(p * bf_lo(ow), p * bf_hi(ow));
                }
            }
        }
    }

    for (int t = t_begin; t < t_end; t++) {
        cp_async_wait<S - 2>();
        wg::fence_smem_for_async();
        __syncthreads();
        if (t + S - 1 < t_end) load_kv(t + S - 1);
        cp_async_commit();
        const int st = (t - t_begin) % S;
        const floatX *cK = sK + st * BN * 64, *cV = sV + st * BN * 64;
        const int k0 = t * BN;
        if (!(g_rows && k0 < gkend && k0 + BN > gkbeg)) continue; // warpgroup-uniform

        // S = Q K^T and dP = dO V^T for the tile's 64 keys.
        float s[8][4], dp[8][4];
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            wg::mma_ss<false>(s, wg::kstep<false>(gQ, kk), wg::kstep<false>(cK, kk), kk > 0);
            wg::mma_ss<false>(dp, wg::kstep<false>(gdO, kk), wg::kstep<false>(cV, kk), kk > 0);
        }
        wg::commit();
        wg::wait<0>();
        wg::pin(s);
        wg::pin(dp);

        // Rows past T are masked too: their lse is a stand-in 0, so P could overflow.
        const bool full = keys.all_valid(w0, w0 + 16, k0, k0 + BN) && k0 + BN <= kend && w0 + 16 <= T;
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] = exp2_approx(fmaf(s[nt][e], scale_log2, -lse2[e >> 1]));
        if (!full) {
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int j = k0 + nt * 8 + 2 * tq + (e & 1), i = w0 + g + 8 * (e >> 1);
                    s[nt][e] = i < T && j < kend && keys.valid(i, j) ? s[nt][e] : 0.0f;
                }
        }
        uint32_t da[4][4];
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] *= dp[nt][e] - dlt[e >> 1];
#pragma unroll
        for (int kk = 0; kk < 4; kk++) pack_a_frag(da[kk], s[2 * kk], s[2 * kk + 1]);
        // dQ += dS K: K's tile MN-major (rows = keys = k).
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) wg::mma_rs<true>(dqa, da[kk], wg::kstep<true>(cK, kk), true);
        wg::commit();
        wg::wait<0>();
        wg::pin(dqa);
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = w0 + g + 8 * r;
        if (i >= T) continue;
        floatX *row = dq + ((size_t)b * T + i) * q_stride + (size_t)h * D;
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
            *reinterpret_cast<__nv_bfloat162 *>(row + nt * 8 + 2 * tq) =
                __floats2bfloat162_rn(dqa[nt][2 * r] * scale, dqa[nt][2 * r + 1] * scale);
    }
}

// dK, dV for the compact keys. Grid (key tiles, n_kv x splits, B); loops over the heads of the GQA group and
// the query tiles that can see the block's keys, as attn_bwd_dkdv_mma_kernel (same split and partial sums).
// Dynamic smem: K [BN][64], V [BN][64], kStages stages of Q, dO [BM][64], then their lse and Delta [BM] each.
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_bwd_dkdv_wg_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q, const floatX *k,
                            const floatX *v, const float *lse, const float *delta, int T, int n_h, int n_kv,
                            const __grid_constant__ Keys keys, float scale_log2, float scale, int q_chunk,
                            float *part) {
    static_assert(D == 64, "rows of 128 bytes");
    constexpr int BN = Cfg::kOwn, BM = Cfg::kStream, NT = Cfg::kThreads, S = Cfg::kStages;
    static_assert(BM == 64, "one 64-query product per step");
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sK = (floatX *)wg::align_smem(attn_smem); // [BN][64]
    floatX *sV = sK + BN * 64;                         // [BN][64]
    floatX *sQ = sV + BN * 64;                         // [S][BM][64]
    floatX *sdO = sQ + S * BM * 64;                    // [S][BM][64]
    float *sL = (float *)(sdO + S * BM * 64);          // [S][BM] lse (natural log)
    float *sD = sL + S * BM;                           // [S][BM]

    const int wgi = threadIdx.x / 128, wq = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, g = lane >> 2,
              tq = lane & 3;
    const int kvh = blockIdx.y % n_kv, split = blockIdx.y / n_kv, b = blockIdx.z, group = n_h / n_kv;
    const int n_keys = keys.n_keys();
    const int k0 = blockIdx.x * BN, k1 = min(k0 + BN, n_keys);
    const int gk0 = k0 + 64 * wgi, w0 = gk0 + 16 * wq; // this warpgroup's keys [gk0, gk0 + 64), warp's [w0, +16)
    const size_t q_stride = (size_t)n_h * D, kv_stride = (size_t)n_kv * D;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
    int qbeg = keys.query_begin(k0), qend = min(T, keys.query_end(k1));
    if (part) qbeg = max(qbeg, split * q_chunk), qend = min(qend, (split + 1) * q_chunk);
    if (part && qend <= qbeg) return; // no pair in this split: attn_dkdv_reduce_kernel skips it (same test)
    const int qt_begin = qbeg / BM, qt_end = qend > qbeg ? (qend + BM - 1) / BM : qt_begin;
    const int n_iter = group * (qt_end - qt_begin);
    const bool g_keys = gk0 < n_keys;
    const int gqbeg = keys.query_begin(gk0), gqend = g_keys ? min(T, keys.query_end(min(gk0 + 64, n_keys))) : 0;
    const floatX *gK = sK + 64 * wgi * 64, *gV = sV + 64 * wgi * 64;
    auto krow = [&](int j) { return keys.key_row(j); };
    auto ident = [](int i) { return i; };

    int ld_hh = 0, ld_qt = qt_begin;
    auto load_next = [&](int it) {
        const int buf = it % S;
        const int h = kvh * group + ld_hh, q0 = ld_qt * BM;
        if (++ld_qt == qt_end) ld_qt = qt_begin, ld_hh++;
        const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
        const floatX *dob = dout + (size_t)b * T * q_stride + (size_t)h * D;
        load_tile_swz<BM, NT>(sQ + buf * BM * 64, qb, q_stride, q0, T, ident);
        load_tile_swz<BM, NT>(sdO + buf * BM * 64, dob, q_stride, q0, T, ident);
        const size_t stat = ((size_t)b * n_h + h) * T;
        for (int c = threadIdx.x; c < BM; c += NT) {
            const int i = q0 + c;
            const bool ok = i < T;
            cp_async<4>(sL + buf * BM + c, lse + stat + (ok ? i : 0), ok);
            cp_async<4>(sD + buf * BM + c, delta + stat + (ok ? i : 0), ok);
        }
    };

    load_tile_swz<BN, NT>(sK, kb, kv_stride, k0, k1, krow);
    load_tile_swz<BN, NT>(sV, vb, kv_stride, k0, k1, krow);
#pragma unroll
    for (int st = 0; st < S - 1; st++) {
        if (st < n_iter) load_next(st);
        cp_async_commit();
    }

    float dka[8][4], dva[8][4];
    zero_acc(dka);
    zero_acc(dva);
    for (int it = 0, qt = qt_begin; it < n_iter; it++, qt = qt + 1 == qt_end ? qt_begin : qt + 1) {
        cp_async_wait<S - 2>();
        wg::fence_smem_for_async();
        __syncthreads();
        if (it + S - 1 < n_iter) load_next(it + S - 1);
        cp_async_commit();
        const int buf = it % S;
        const int q0 = qt * BM;
        const floatX *cQ = sQ + buf * BM * 64, *cdO = sdO + buf * BM * 64;
        const float *cL = sL + buf * BM, *cD = sD + buf * BM;
        if (!(g_keys && q0 < gqend && q0 + BM > gqbeg)) continue; // warpgroup-uniform

        // S^T = K Q^T and dP^T = V dO^T: 64 keys x 64 queries per warpgroup.
        float st[8][4], dpt[8][4];
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            wg::mma_ss<false>(st, wg::kstep<false>(gK, kk), wg::kstep<false>(cQ, kk), kk > 0);
            wg::mma_ss<false>(dpt, wg::kstep<false>(gV, kk), wg::kstep<false>(cdO, kk), kk > 0);
        }
        wg::commit();
        wg::wait<0>();
        wg::pin(st);
        wg::pin(dpt);

        // Queries past T are masked too (zero rows, but dS must not be NaN).
        const bool full = keys.all_valid(q0, q0 + BM, w0, w0 + 16) && q0 + BM <= T;
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            const float2 lv = *reinterpret_cast<const float2 *>(cL + nt * 8 + 2 * tq);
            const float l2[2] = {lv.x * kLog2e, lv.y * kLog2e};
#pragma unroll
            for (int e = 0; e < 4; e++) st[nt][e] = exp2_approx(fmaf(st[nt][e], scale_log2, -l2[e & 1]));
        }
        if (!full) {
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int i = q0 + nt * 8 + 2 * tq + (e & 1), j = w0 + g + 8 * (e >> 1);
                    st[nt][e] = i < T && keys.grad_valid(i, j) ? st[nt][e] : 0.0f;
                }
        }
        uint32_t pa[4][4], da[4][4];
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            const float2 dv2 = *reinterpret_cast<const float2 *>(cD + nt * 8 + 2 * tq);
            const float dl[2] = {dv2.x, dv2.y};
#pragma unroll
            for (int e = 0; e < 4; e++) dpt[nt][e] = st[nt][e] * (dpt[nt][e] - dl[e & 1]);
        }
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            pack_a_frag(pa[kk], st[2 * kk], st[2 * kk + 1]);
            pack_a_frag(da[kk], dpt[2 * kk], dpt[2 * kk + 1]);
        }
        // dV += P^T dO, dK += dS^T Q: the Q, dO tiles MN-major (rows = queries = k).
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            wg::mma_rs<true>(dva, pa[kk], wg::kstep<true>(cdO, kk), true);
            wg::mma_rs<true>(dka, da[kk], wg::kstep<true>(cQ, kk), true);
        }
        wg::commit();
        wg::wait<0>();
        wg::pin(dva);
        wg::pin(dka);
    }

    if (part) { // fp32 partial sums, [2][n_split][B][n_kv][n_keys][D] (dk, then dv), as the mma kernel
        const size_t plane = (size_t)gridDim.z * n_kv * n_keys * D, n_split = gridDim.y / n_kv;
        float *pk = part + (split * plane) + ((size_t)b * n_kv + kvh) * n_keys * D, *pv = pk + n_split * plane;
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int j = w0 + g + 8 * r;
            if (j >= n_keys) continue;
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                const int col = nt * 8 + 2 * tq;
                *reinterpret_cast<float2 *>(pk + (size_t)j * D + col) =
                    make_float2(dka[nt][2 * r] * scale, dka[nt][2 * r + 1] * scale);
                *reinterpret_cast<float2 *>(pv + (size_t)j * D + col) = make_float2(dva[nt][2 * r], dva[nt][2 * r + 1]);
            }
        }
        return;
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int j = w0 + g + 8 * r;
        if (j >= n_keys) continue;
        const size_t off = ((size_t)b * T + keys.key_row(j)) * kv_stride + (size_t)kvh * D;
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            const int col = nt * 8 + 2 * tq;
            *reinterpret_cast<uint32_t *>(dk + off + col) = pack_bf16(dka[nt][2 * r] * scale, dka[nt][2 * r + 1] * scale);
            *reinterpret_cast<uint32_t *>(dv + off + col) = pack_bf16(dva[nt][2 * r], dva[nt][2 * r + 1]);
        }
    }
}

// Whether this build has the warpgroup kernels for this device (compiled for sm_90a and running on an sm_90
// GPU): a one-thread kernel reports what its compilation saw; asked once.
static __global__ void attn_wg_probe_kernel(int *built) {
#ifdef SCOUT_WGMMA_DEVICE
    *built = 1;
#else
    *built = 0;
#endif
}

} // namespace attn

#endif
