// attention_sm90.cuh: the attention kernels of attention.cuh (forward, dq, dk/dv; same key-set policies, same
// arguments, same results to rounding) on Hopper's warpgroup MMA (wgmma.cuh) instead of mma.sync. Included by
// attention.cuh; the launchers there pick these for the WgTile<> shapes, the default on an H100 / H200.
//
// Why: the mma.sync kernels top out near FlashAttention-2's speed on an H200 (200-285 TFLOP/s, BENCHMARKS.md):
// every 16x8x16 product is an instruction of its warp, with its operands moved from shared memory into
// registers by ldmatrix first. A wgmma multiplies 64 x 64 x 16 for a whole warpgroup with its B operand (and
// optionally A) read by the tensor core straight from shared memory, so the instruction count per FLOP drops
// ~16x, no registers hold K, V, Q or dO tiles, and the products run asynchronously.
// Structure: a warpgroup (4 warps) owns 64 rows (queries, or keys for dk/dv), a block WG warpgroups; the other
// side streams through a cp.async ring into 128-byte-swizzled tiles (wgmma.cuh), each tile serving as the
// K-major operand of one product and the MN-major operand of another (K: S = Q K^T and dQ = dS K; V: dP = dO V^T
// and O = P V; Q, dO: S^T, dP^T and dK, dV). The products of a step overlap the warpgroup's own arithmetic as
// in FlashAttention-3 (each kernel's pipeline comment says how), and other blocks' on the same SM. The
// arithmetic between the products is attention.cuh's line for line, on the same fragment layouts (a
// warpgroup's accumulator is per warp eight mma.m16n8 C fragments): masking only tiles that cross the key
// set's edges, the online softmax in log2 units, P and dS packed to bf16 into the A operand of the next
// product, deterministic dQ / dK, dV (two kernels, no atomics).
// What the H200 says (ncu, scout_swa_470m's window attention at 8 x 2048): the backward kernels execute 540-560
// TFLOP/s (7 products where the atomic FA2 / FA3 backward has 5), the forward 410; they are issue-bound (42-57%
// of cycles issue), the softmax arithmetic about half of the instructions. Things that were measured to matter:
// ptxas serialises every wgmma of a kernel if an accumulator may be touched while its product is in flight or a
// product / wait sits on a path it cannot prove uniform (hence the straight-line steps and the pins); building
// descriptors per product and 64-bit address arithmetic per copied chunk were a quarter of the instructions.
#ifndef SCOUT_CUDA_ATTENTION_SM90_CUH
#define SCOUT_CUDA_ATTENTION_SM90_CUH

#include "cuda/wgmma.cuh"

namespace attn {

// WgTile<WG, STREAM, STAGES, MIN_BLOCKS>: a block of WG warpgroups owns 64 WG rows and streams the other side in
// tiles of STREAM = 64 rows (one product's N), STAGES of them in flight, and asks for MIN_BLOCKS
// blocks per SM (__launch_bounds__). Named "wgOWNxSTREAMsSTAGESbMIN_BLOCKS".
template <int WG, int STREAM, int STAGES, int MIN_BLOCKS>
struct WgTile {
    static constexpr bool kWgmma = true;
    static constexpr int kWG = WG, kOwn = 64 * WG, kStream = STREAM, kWarps = 4 * WG, kThreads = 128 * WG;
    static constexpr int kStages = STAGES, kMinBlocks = MIN_BLOCKS;
    static_assert(STREAM == 64, "streamed tiles of one 64-column product (every kernel's step assumes it)");
    static_assert(STAGES >= 2, "at least double buffering");
    static void name(char *buf, size_t n) { snprintf(buf, n, "wg%dx%ds%db%d", 64 * WG, STREAM, STAGES, MIN_BLOCKS); }
};

// Copies rows [r0, r0 + R) of a [., 64] bf16 tensor into a swizzled smem tile with cp.async, row r at base +
// row_of(r) * stride where row_of is linear with slope row_step (the key policies' key_row); rows r >= n_rows
// are zero-filled. NT threads, R * 8 / NT chunks of 16 bytes each: thread x copies chunk x % 8 of rows x / 8 +
// i NT / 8, so its swizzled column (chunk ^ row % 8) is the same for every i, and the source of chunk i is one
// pointer add from chunk 0's (these copies' 64-bit address arithmetic was a fifth of the backward's instructions).
template <int R, int NT, class RowOf>
__device__ __forceinline__ void load_tile_swz(floatX *tile, const floatX *base, size_t stride, int r0, int n_rows,
                                              RowOf row_of, int row_step) {
    static_assert(R * 8 % NT == 0 && NT / 8 % 8 == 0, "whole chunks per thread, rows stepping by whole atoms");
    const int ch = threadIdx.x % 8, rt = threadIdx.x / 8;
    floatX *dst = tile + rt * 64 + ((ch ^ (rt & 7)) << 3);
    const floatX *src = base + (size_t)row_of(r0 + rt) * stride + ch * 8;
    const size_t src_step = (size_t)(NT / 8) * row_step * stride;
#pragma unroll
    for (int i = 0; i < R * 8 / NT; i++) {
        const bool ok = r0 + rt + i * (NT / 8) < n_rows;
        cp_async<16>(dst + i * (NT / 8) * 64, ok ? src + i * src_step : base, ok); // base: a valid address
    }
}

// Key tile t (compact keys [64 t, 64 t + 64) below kend, at the policy's rows) of K and V into stage st of the
// rings sK, sV: the forward's and the dq kernel's streamed side.
template <int NT, class Keys>
__device__ __forceinline__ void load_kv_swz(floatX *sK, floatX *sV, int st, const floatX *kb, const floatX *vb,
                                            size_t kv_stride, int t, int kend, const Keys &keys) {
    auto krow = [&](int j) { return keys.key_row(j); };
    load_tile_swz<64, NT>(sK + st * 64 * 64, kb, kv_stride, t * 64, kend, krow, keys.key_row_step());
    load_tile_swz<64, NT>(sV + st * 64 * 64, vb, kv_stride, t * 64, kend, krow, keys.key_row_step());
}

// Elements (row, col), (row, col + 1) of a swizzled tile (col even), as one register of two bf16.
__device__ __forceinline__ uint32_t swz_pair(const floatX *tile, int row, int col) {
    return *reinterpret_cast<const uint32_t *>(tile + wg::swz(row, col));
}

// row_dot (attention.cuh) of row ra of swizzled tile a with row rb of swizzled tile b: the thread's quad-partial
// sum over its columns 16 kk + 8 half + 2 (lane % 4) + (0, 1).
template <int D> __device__ __forceinline__ float swz_rows_dot(const floatX *a, int ra, const floatX *b, int rb) {
    const int tq = threadIdx.x % 4;
    return pair_dot<D>([&](int kk, int half) { return swz_pair(a, ra, kk * 16 + half * 8 + 2 * tq); },
                       [&](int kk, int half) { return swz_pair(b, rb, kk * 16 + half * 8 + 2 * tq); });
}

// Checkpoint attention's self term needs k_i, v_i of the block's own query rows [q0, q0 + BM). They are copied
// with the prologue's Q into the two stages of the key ring that the prologue leaves empty (stages P, P + 1 of
// sK and sV, P = the tiles loaded ahead), which the first step only refills after its barrier, when every thread
// is done with the self term. The first version loaded each thread's 32 columns of its two rows with 4-byte
// loads into registers (two rows' pairs from 8 rows per warp instruction: half of every sector wasted), and
// those loads were the kernels' largest stall after the prologue's barrier (ncu, 8 x 2048).
template <int BM, int NT, int BN>
__device__ __forceinline__ void load_self_rows(floatX *sK_free, floatX *sV_free, const floatX *kb, const floatX *vb,
                                               size_t kv_stride, int q0, int T) {
    static_assert(BM <= 2 * BN, "the two free stages hold the block's rows");
    auto ident = [](int i) { return i; };
    load_tile_swz<BM, NT>(sK_free, kb, kv_stride, q0, T, ident, 1);
    load_tile_swz<BM, NT>(sV_free, vb, kv_stride, q0, T, ident, 1);
}

// x = A B^T and y = C E^T over the head dim (D / 16 k-steps, every operand a K-major tile), as two commit groups
// with x's first, so that a wait<1> returns with x done while y may still run: S and dP in the dq kernel, S^T
// and dP^T in the dk/dv kernel.
template <int D>
__device__ __forceinline__ void issue_two_products(float (&x)[8][4], wg::Desc a, wg::Desc b, float (&y)[8][4],
                                                   wg::Desc c, wg::Desc e) {
    wg::fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) wg::mma_ss<false>(x, wg::kstep<false>(a, kk), wg::kstep<false>(b, kk), kk > 0);
    wg::commit();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) wg::mma_ss<false>(y, wg::kstep<false>(c, kk), wg::kstep<false>(e, kk), kk > 0);
    wg::commit();
}

__device__ __forceinline__ void zero_acc(float (&d)[8][4]) {
#pragma unroll
    for (int j = 0; j < 8; j++) d[j][0] = d[j][1] = d[j][2] = d[j][3] = 0.0f;
}

// Row bookkeeping: warpgroup wgi = threadIdx.x / 128 owns the block's rows [row0 + 64 wgi, + 64); its warp
// wq = (threadIdx.x / 32) % 4 computes rows + 16 wq + (0..15), and a thread holds rows g and g + 8 of those
// (r = 0, 1), i.e. row w0 + g + 8 r with w0 = row0 + 64 wgi + 16 wq.

// Forward. Grid (query tiles, n_h, B). Dynamic smem (1024-byte aligned inside): Q [BM][64], then kStages stages
// of K [BN][64] and V [BN][64], all swizzled.
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_fwd_wg_kernel(floatX *out, float *lse, const floatX *q, const floatX *k, const floatX *v, int T, int n_h,
                       int n_kv, int ldq, int ldkv, Keys keys, float scale_log2, int reverse) {
    static_assert(D == 64, "rows of 128 bytes");
    constexpr int BM = Cfg::kOwn, BN = Cfg::kStream, NT = Cfg::kThreads, S = Cfg::kStages;
    static_assert(BN == 64, "one 64-key product per step");
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sQ = (floatX *)wg::align_smem(attn_smem); // [BM][64]
    floatX *sK = sQ + BM * 64;                         // [S][BN][64]
    floatX *sV = sK + S * BN * 64;                     // [S][BN][64]

    // (wgi a constant 0 with one warpgroup: the operand descriptors then stay warp-uniform, in uniform registers)
    const int wgi = Cfg::kWG == 1 ? 0 : threadIdx.x / 128, wq = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32,
              g = lane >> 2, tq = lane & 3;
    const QueryBlock<D, BM, BN> blk(k, v, T, n_h, n_kv, ldq, ldkv, keys, reverse);
    const int h = blk.h, b = blk.b, q0 = blk.q0, kend = blk.kend, t_begin = blk.t_begin, t_end = blk.t_end;
    const int w0 = q0 + 64 * wgi + 16 * wq; // this warp's rows [w0, w0 + 16)
    const size_t q_stride = blk.q_stride, kv_stride = blk.kv_stride;
    const floatX *qb = q + blk.q_off, *kb = blk.kb, *vb = blk.vb;
    const floatX *gQ = sQ + 64 * wgi * 64;
    auto load_kv = [&](int t) { load_kv_swz<NT>(sK, sV, (t - t_begin) % S, kb, vb, kv_stride, t, kend, keys); };

    // Pipeline (FA3's intra-warpgroup overlap): in step t the tensor core computes S of key tile t, then P V of
    // tile t - 1, while the warpgroup rescales o between the two and then runs the softmax of tile t as soon as S
    // is done, with P V still in flight; P (bf16 A fragments) is packed once P V has finished. Every step waits for
    // all it issued, so at the barrier of step t only tiles t - 1 (V) and t (K) are in use and the ring of
    // kStages = 4 buffers refills tile t - 2's with tile t + 2, loaded two steps ahead.
    static_assert(S == 4, "the forward's pipeline: 4 stages");
    load_tile_swz<BM, NT>(sQ, qb, q_stride, q0, T, [](int i) { return i; }, 1);
    floatX *sKs = sK + 2 * BN * 64, *sVs = sV + 2 * BN * 64; // the self seed's k_i, v_i: stages 2, 3 (see above)
    if (Keys::kSelfSeed) load_self_rows<BM, NT, BN>(sKs, sVs, kb, vb, kv_stride, q0, T);
    if (t_begin < t_end) load_kv(t_begin);
    cp_async_commit();
    if (t_begin + 1 < t_end) load_kv(t_begin + 1);
    cp_async_commit();
    cp_async_wait<1>(); // Q and the self rows (with tile t_begin) for the self seed below
    __syncthreads();

    float o[8][4];
    float m_r[2], l_r[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = w0 + g + 8 * r;
        if (Keys::kSelfSeed) {
            const bool ok = i < T;
            const float dot = quad_sum(swz_rows_dot<D>(sQ, i - q0, sKs, i - q0));
            m_r[r] = ok ? dot * scale_log2 : 0.0f;
            l_r[r] = tq == 0 ? 1.0f : 0.0f;
#pragma unroll
            for (int nt = 0; nt < 8; nt++) { // v_i (zero past T: the tile's zero fill)
                const uint32_t vw = swz_pair(sVs, i - q0, nt * 8 + 2 * tq);
                o[nt][2 * r] = bf_lo(vw);
                o[nt][2 * r + 1] = bf_hi(vw);
            }
        } else {
            m_r[r] = -INFINITY;
            l_r[r] = 0.0f;
#pragma unroll
            for (int nt = 0; nt < 8; nt++) o[nt][2 * r] = o[nt][2 * r + 1] = 0.0f;
        }
    }

    // Descriptors of the operand tiles (stepped per stage and k-step by integer adds, see wgmma.cuh).
    const wg::Desc dQ = wg::desc(gQ, false), dK0 = wg::desc(sK, false), dV0 = wg::desc(sV, true);
    float s[8][4];                 // S, then P of the current tile
    uint32_t pa[BN / 16][4];       // P of the previous tile as bf16 A fragments, 16 keys per k-step
    float scale_o[2] = {1.0f, 1.0f}; // the previous tile's rescale of o, per row r
    // o and the statistics are initialised before the first product is issued (ptxas serialises every wgmma of a
    // kernel where a plain instruction writes an accumulator while products are in flight; without the pin the
    // compiler may sink the initialisation past the issue).
    wg::pin(o);
    // o = o scale_o + P V of key tile t (its V in stage t); committed.
    auto issue_pv = [&](int t) {
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) o[nt][e] *= scale_o[e >> 1];
        const wg::Desc dV = dV0 + ((t - t_begin) % S) * BN * wg::kRowBytes;
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) wg::mma_rs<true>(o, pa[kk], wg::kstep<true>(dV, kk), true);
        wg::commit();
    };
    // Step t. Straight-line on purpose (first is a constant at both calls): every step issues the same products
    // and waits for them the same way (tiles no row of the warpgroup sees are computed and masked whole instead
    // of skipped), because ptxas serialises all wgmma of a kernel when a product or a wait sits on a path it
    // cannot prove uniform, or when an accumulator is touched while a product writing it may be in flight.
    auto step = [&](bool first, int t) {
        cp_async_wait<1>(); // tile t is in (for this thread) ...
        wg::fence_smem_for_async();
        __syncthreads(); // ... for all, and every warpgroup is done with tile t - 2
        if (t + 2 < t_end) load_kv(t + 2);
        cp_async_commit();
        const wg::Desc dK = dK0 + ((t - t_begin) % S) * BN * wg::kRowBytes;
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++)
            wg::mma_ss<false>(s, wg::kstep<false>(dQ, kk), wg::kstep<false>(dK, kk), kk > 0);
        wg::commit();
        if (!first) {
            issue_pv(t - 1);
            wg::wait<1>(); // S done; P V may run on
        } else {
            wg::wait<0>();
        }
        wg::pin(s);
        const int k0 = t * BN;
        const bool full = keys.all_valid(w0, w0 + 16, k0, k0 + BN) && k0 + BN <= kend;
        if (!full) {
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int j = k0 + nt * 8 + 2 * tq + (e & 1), i = w0 + g + 8 * (e >> 1);
                    if (!(j < kend && keys.valid(i, j))) s[nt][e] = -INFINITY;
                }
        }
#pragma unroll
        for (int r = 0; r < 2; r++) // o is rescaled before the next P V (until then it is busy with this one's)
            scale_o[r] = softmax_update(s, r, m_r[r], l_r[r], scale_log2);
        wg::wait<0>(); // P V of tile t - 1 done: o and pa are free
        wg::pin(o);
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) pack_a_frag(pa[kk], s[2 * kk], s[2 * kk + 1]);
    };
    if (t_begin < t_end) {
        step(true, t_begin);
        for (int t = t_begin + 1; t < t_end; t++) step(false, t);
        issue_pv(t_end - 1);
        wg::wait<0>();
        wg::pin(o);
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float l = quad_sum(l_r[r]);
        const int i = w0 + g + 8 * r;
        if (i >= T) continue;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        floatX *orow = out + ((size_t)b * T + i) * blk.o_stride + (size_t)h * D;
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
                          const float *lse, const float *delta, int T, int n_h, int n_kv, int ldq, int ldkv,
                          const __grid_constant__ Keys keys, float scale_log2, float scale, int reverse,
                          floatX *self_dk, floatX *self_dv, const float2 *rope) {
    static_assert(D == 64, "rows of 128 bytes");
    constexpr int BM = Cfg::kOwn, BN = Cfg::kStream, NT = Cfg::kThreads, S = Cfg::kStages;
    static_assert(BN == 64, "one 64-key product per step");
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sQ = (floatX *)wg::align_smem(attn_smem); // [BM][64]
    floatX *sdO = sQ + BM * 64;                        // [BM][64]
    floatX *sK = sdO + BM * 64;                        // [S][BN][64]
    floatX *sV = sK + S * BN * 64;                     // [S][BN][64]

    // (wgi a constant 0 with one warpgroup: the operand descriptors then stay warp-uniform, in uniform registers)
    const int wgi = Cfg::kWG == 1 ? 0 : threadIdx.x / 128, wq = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32,
              g = lane >> 2, tq = lane & 3;
    const QueryBlock<D, BM, BN> blk(k, v, T, n_h, n_kv, ldq, ldkv, keys, reverse);
    const int h = blk.h, b = blk.b, kvh = blk.kvh, q0 = blk.q0, kend = blk.kend, t_begin = blk.t_begin,
              t_end = blk.t_end;
    const int w0 = q0 + 64 * wgi + 16 * wq; // this warp's rows [w0, w0 + 16)
    const size_t q_stride = blk.q_stride, kv_stride = blk.kv_stride;
    const floatX *qb = q + blk.q_off, *dob = dout + blk.o_off, *kb = blk.kb, *vb = blk.vb;
    const floatX *gQ = sQ + 64 * wgi * 64, *gdO = sdO + 64 * wgi * 64;
    auto load_kv = [&](int t) { load_kv_swz<NT>(sK, sV, (t - t_begin) % S, kb, vb, kv_stride, t, kend, keys); };

    // Pipeline (as FA3's backward, without its atomics): step t issues S = Q K^T and dP = dO V^T as two groups,
    // computes P as soon as S is done (dP still in flight), dS once dP is, and issues dQ += dS K, which runs on
    // through the next step's barrier and loads. So at the barrier of step t the tiles t - 1 (K, read by that dQ
    // product) and t are in use, and the ring of kStages buffers refills tile t - 2's with tile t + P, P =
    // kStages - 2 steps ahead. Straight-line (see the forward): every key tile of the block's range is computed
    // and masked, none skipped.
    constexpr int P = S - 2;
    static_assert(P >= 1, "the backward's pipeline: 3 or more stages");
    load_tile_swz<BM, NT>(sQ, qb, q_stride, q0, T, [](int i) { return i; }, 1);
    load_tile_swz<BM, NT>(sdO, dob, blk.o_stride, q0, T, [](int i) { return i; }, 1);
    floatX *sKs = sK + P * BN * 64, *sVs = sV + P * BN * 64; // the self terms' k_i, v_i: stages P, P + 1
    if (Keys::kSelfSeed) load_self_rows<BM, NT, BN>(sKs, sVs, kb, vb, kv_stride, q0, T);
#pragma unroll
    for (int i = 0; i < P; i++) {
        if (t_begin + i < t_end) load_kv(t_begin + i);
        cp_async_commit();
    }
    // The rows' statistics, loaded before the wait for the tiles, so that the latencies overlap.
    float lse2[2], dlt[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = w0 + g + 8 * r;
        const bool ok = i < T;
        lse2[r] = ok ? lse[((size_t)b * n_h + h) * T + i] * kLog2e : 0.0f;
        dlt[r] = ok ? delta[((size_t)b * n_h + h) * T + i] : 0.0f;
    }
    cp_async_wait<P - 1>(); // Q, dO and the self rows (with the first key tile) for the self terms below
    __syncthreads();

    float self_p[2], self_ds[2]; // checkpoint attention, no GQA: the self-only rows' dk, dv terms (p < 0: none)
    float dqa[8][4];
    zero_acc(dqa);
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = w0 + g + 8 * r;
        const bool ok = i < T;
        if (Keys::kSelfSeed) { // as in attn_bwd_dq_mma_kernel, with q_i, dO_i read from the swizzled tiles
            const float l2 = quad_sum(swz_rows_dot<D>(sQ, i - q0, sKs, i - q0)) * scale_log2;
            const float dp = quad_sum(swz_rows_dot<D>(sdO, i - q0, sVs, i - q0));
            const float p = ok ? exp2f(l2 - lse2[r]) : 0.0f;
            const float dl = p * (dp - dlt[r]);
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                const uint32_t kw = swz_pair(sKs, i - q0, nt * 8 + 2 * tq);
                dqa[nt][2 * r] += dl * bf_lo(kw);
                dqa[nt][2 * r + 1] += dl * bf_hi(kw);
            }
            // Stored after the main loop, with the row's dq and RoPE angles (Q, dO stay in shared memory).
            self_p[r] = self_dk && ok && keys.self_only(i) ? p : -1.0f;
            self_ds[r] = dl * scale;
        }
    }

    // Descriptors of the operand tiles: Q, dO (A), K, V (B, K-major) and K again as dQ's MN-major B.
    const wg::Desc dQg = wg::desc(gQ, false), dOg = wg::desc(gdO, false);
    const wg::Desc dK0 = wg::desc(sK, false), dV0 = wg::desc(sV, false), dKt0 = wg::desc(sK, true);
    float s[8][4], dp[8][4];
    uint32_t da[4][4]; // dS as A fragments: read by the dQ product until the next step's first wait
    wg::pin(dqa); // initialised (and seeded) before the first product is issued (see the forward)
    auto step = [&](int t) {
        cp_async_wait<P - 1>(); // tile t is in (for this thread) ...
        wg::fence_smem_for_async();
        __syncthreads(); // ... for all, and every warpgroup is done with tile t - 2
        if (t + P < t_end) load_kv(t + P);
        cp_async_commit();
        const int st_bytes = ((t - t_begin) % S) * BN * wg::kRowBytes;
        const wg::Desc dK = dK0 + st_bytes, dV = dV0 + st_bytes, dKt = dKt0 + st_bytes;
        issue_two_products<D>(s, dQg, dK, dp, dOg, dV);
        wg::wait<1>(); // S (and the previous dQ product); dP may run on
        wg::pin(s);
        const int k0 = t * BN;
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
        wg::wait<0>(); // dP
        wg::pin(dp);
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[nt][e] *= dp[nt][e] - dlt[e >> 1];
#pragma unroll
        for (int kk = 0; kk < 4; kk++) pack_a_frag(da[kk], s[2 * kk], s[2 * kk + 1]);
        // dQ += dS K: K's tile MN-major (rows = keys = k); in flight until the next step's wait.
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) wg::mma_rs<true>(dqa, da[kk], wg::kstep<true>(dKt, kk), true);
        wg::commit();
    };
    for (int t = t_begin; t < t_end; t++) step(t);
    // The epilogue's RoPE angles, loaded while the last products run (loaded after the wait, each block paid a
    // memory latency on top of its last product).
    RopeRow rr[2];
#pragma unroll
    for (int r = 0; r < 2; r++)
        if (rope) rope_row_load(rr[r], rope, min(w0 + g + 8 * r, T - 1), tq);
    wg::wait<0>();
    wg::pin(dqa);

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = w0 + g + 8 * r;
        if (i >= T) continue;
        floatX *row = dq + ((size_t)b * T + i) * q_stride + (size_t)h * D;
        float x[8][2];
#pragma unroll
        for (int nt = 0; nt < 8; nt++) x[nt][0] = dqa[nt][2 * r] * scale, x[nt][1] = dqa[nt][2 * r + 1] * scale;
        store_frag_row(row, x, rope != NULL, rr[r], tq);
        if (Keys::kSelfSeed && self_p[r] >= 0.0f) {
            floatX *dkr = self_dk + ((size_t)b * T + i) * kv_stride + (size_t)kvh * D;
            floatX *dvr = self_dv + ((size_t)b * T + i) * kv_stride + (size_t)kvh * D;
            const float ds = self_ds[r], p = self_p[r];
#pragma unroll
            for (int nt = 0; nt < 8; nt++) {
                const int col = nt * 8 + 2 * tq;
                const uint32_t qw = swz_pair(sQ, i - q0, col), ow = swz_pair(sdO, i - q0, col);
                x[nt][0] = ds * bf_lo(qw), x[nt][1] = ds * bf_hi(qw);
                *reinterpret_cast<uint32_t *>(dvr + col) = pack_bf16(p * bf_lo(ow), p * bf_hi(ow));
            }
            store_frag_row(dkr, x, rope != NULL, rr[r], tq);
        }
    }
}

// dK, dV for the compact keys. Grid (key tiles, n_kv x splits, B); loops over the heads of the GQA group and
// the query tiles that can see the block's keys, as attn_bwd_dkdv_mma_kernel (same split and partial sums).
// Dynamic smem: K [BN][64], V [BN][64], kStages stages of Q, dO [BM][64], then their lse and Delta [BM] each.
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_bwd_dkdv_wg_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q, const floatX *k,
                            const floatX *v, const float *lse, const float *delta, int T, int n_h, int n_kv,
                            int ldq, int ldkv, const __grid_constant__ Keys keys, float scale_log2, float scale,
                            int q_chunk, float *part, const float2 *rope) {
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

    // (wgi a constant 0 with one warpgroup: the operand descriptors then stay warp-uniform, in uniform registers)
    const int wgi = Cfg::kWG == 1 ? 0 : threadIdx.x / 128, wq = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32,
              g = lane >> 2, tq = lane & 3;
    const DkdvBlock<D, BN, BM> blk(k, v, T, n_h, n_kv, ldq, ldkv, keys, q_chunk, part != NULL);
    if (blk.empty) return;
    const int kvh = blk.kvh, split = blk.split, b = blk.b, group = blk.group, n_keys = blk.n_keys, k0 = blk.k0,
              k1 = blk.k1, qt_begin = blk.qt_begin, qt_end = blk.qt_end, n_iter = blk.n_iter;
    const int w0 = k0 + 64 * wgi + 16 * wq; // this warp's keys [w0, w0 + 16)
    const size_t q_stride = blk.q_stride, kv_stride = blk.kv_stride;
    const floatX *kb = blk.kb, *vb = blk.vb;
    const floatX *gK = sK + 64 * wgi * 64, *gV = sV + 64 * wgi * 64;
    auto krow = [&](int j) { return keys.key_row(j); };
    auto ident = [](int i) { return i; };

    int ld_hh = 0, ld_qt = qt_begin;
    auto load_next = [&](int it) {
        const int buf = it % S;
        const int h = kvh * group + ld_hh, q0 = ld_qt * BM;
        if (++ld_qt == qt_end) ld_qt = qt_begin, ld_hh++;
        const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
        const floatX *dob = dout + (size_t)b * T * blk.o_stride + (size_t)h * D;
        load_tile_swz<BM, NT>(sQ + buf * BM * 64, qb, q_stride, q0, T, ident, 1);
        load_tile_swz<BM, NT>(sdO + buf * BM * 64, dob, blk.o_stride, q0, T, ident, 1);
        const size_t stat = ((size_t)b * n_h + h) * T;
        static_assert(BM <= NT, "one statistic per thread at most");
        if (threadIdx.x < BM) {
            const int c = threadIdx.x;
            const int i = q0 + c;
            const bool ok = i < T;
            cp_async<4>(sL + buf * BM + c, lse + stat + (ok ? i : 0), ok);
            cp_async<4>(sD + buf * BM + c, delta + stat + (ok ? i : 0), ok);
        }
    };

    // Pipeline as in the dq kernel: step it issues S^T = K Q^T and dP^T = V dO^T as two groups, computes P^T as
    // soon as S^T is done and issues dV += P^T dO while dP^T finishes, then dS^T and dK += dS^T Q; dK, dV run on
    // through the next step's barrier. So at the barrier of step it the tiles of it - 1 (Q, dO) and it are in
    // use and the ring of kStages buffers refills it - 2's with it + P, P = kStages - 2. Straight-line: every
    // query tile of the block's range is computed and masked, none skipped.
    constexpr int P = S - 2;
    static_assert(P >= 1, "the backward's pipeline: 3 or more stages");
    load_tile_swz<BN, NT>(sK, kb, kv_stride, k0, k1, krow, keys.key_row_step());
    load_tile_swz<BN, NT>(sV, vb, kv_stride, k0, k1, krow, keys.key_row_step());
#pragma unroll
    for (int i = 0; i < P; i++) {
        if (i < n_iter) load_next(i);
        cp_async_commit();
    }

    // Descriptors: K, V (A), the Q, dO stages (B, K-major), and the same stages as dK's, dV's MN-major B.
    const wg::Desc dKg = wg::desc(gK, false), dVg = wg::desc(gV, false);
    const wg::Desc dQ0 = wg::desc(sQ, false), dO0 = wg::desc(sdO, false), dQt0 = wg::desc(sQ, true),
                   dOt0 = wg::desc(sdO, true);
    float dka[8][4], dva[8][4], st[8][4], dpt[8][4];
    uint32_t pa[4][4], da[4][4]; // P^T, dS^T as A fragments: read by the dV, dK products until the next wait
    zero_acc(dka);
    zero_acc(dva);
    wg::pin(dka); // initialised before the first product is issued (see the forward)
    wg::pin(dva);
    auto step = [&](int it, int qt) {
        cp_async_wait<P - 1>(); // iteration it's tiles are in (for this thread) ...
        wg::fence_smem_for_async();
        __syncthreads(); // ... for all, and every warpgroup is done with iteration it - 2's
        if (it + P < n_iter) load_next(it + P);
        cp_async_commit();
        const int buf = it % S, q0 = qt * BM;
        const int buf_bytes = buf * BM * wg::kRowBytes;
        const wg::Desc dQ = dQ0 + buf_bytes, dO = dO0 + buf_bytes, dQt = dQt0 + buf_bytes, dOt = dOt0 + buf_bytes;
        const float *cL = sL + buf * BM, *cD = sD + buf * BM;
        issue_two_products<D>(st, dKg, dQ, dpt, dVg, dO);
        wg::wait<1>(); // S^T (and the previous dK, dV products); dP^T may run on
        wg::pin(st);
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
#pragma unroll
        for (int kk = 0; kk < 4; kk++) pack_a_frag(pa[kk], st[2 * kk], st[2 * kk + 1]);
        // dV += P^T dO: dO's tile MN-major (rows = queries = k).
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) wg::mma_rs<true>(dva, pa[kk], wg::kstep<true>(dOt, kk), true);
        wg::commit();
        wg::wait<1>(); // dP^T; dV may run on
        wg::pin(dpt);
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            const float2 dv2 = *reinterpret_cast<const float2 *>(cD + nt * 8 + 2 * tq);
            const float dl[2] = {dv2.x, dv2.y};
#pragma unroll
            for (int e = 0; e < 4; e++) dpt[nt][e] = st[nt][e] * (dpt[nt][e] - dl[e & 1]);
        }
#pragma unroll
        for (int kk = 0; kk < 4; kk++) pack_a_frag(da[kk], dpt[2 * kk], dpt[2 * kk + 1]);
        // dK += dS^T Q: Q's tile MN-major.
        wg::fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) wg::mma_rs<true>(dka, da[kk], wg::kstep<true>(dQt, kk), true);
        wg::commit();
    };
    for (int it = 0, qt = qt_begin; it < n_iter; it++) {
        step(it, qt);
        qt = qt + 1 == qt_end ? qt_begin : qt + 1;
    }
    RopeRow rr[2]; // the epilogue's RoPE angles, loaded while the last products run (as the dq kernel)
#pragma unroll
    for (int r = 0; r < 2; r++)
        if (rope && !part) rope_row_load(rr[r], rope, keys.key_row(min(w0 + g + 8 * r, n_keys - 1)), tq);
    wg::wait<0>();
    wg::pin(dka);
    wg::pin(dva);

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
        const int pos = keys.key_row(j);
        const size_t off = ((size_t)b * T + pos) * kv_stride + (size_t)kvh * D;
        float x[8][2];
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            const int col = nt * 8 + 2 * tq;
            x[nt][0] = dka[nt][2 * r] * scale, x[nt][1] = dka[nt][2 * r + 1] * scale;
            *reinterpret_cast<uint32_t *>(dv + off + col) = pack_bf16(dva[nt][2 * r], dva[nt][2 * r + 1]);
        }
        store_frag_row(dk + off, x, rope != NULL, rr[r], tq);
    }
}

} // namespace attn

#endif
