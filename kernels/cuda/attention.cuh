// attention.cuh: the flash-style attention kernels shared by swa_attention.cu (D1, sliding window) and
// checkpoint_attention.cu (D2, self + checkpoints). Both are "one softmax over a key set S_i"; they differ only
// in how S_i is enumerated, which a small policy struct (SwaKeys, CkptKeys) answers: which compact keys a query
// tile can see, where key c lives in k/v, which (query, key) pairs are valid, which queries can see a key
// tile, and whether the softmax is seeded with the self term.
//
// Tensor-core path (head dim 64, 16-byte aligned tensors), FA2-style (anchors §5):
// - forward: a block owns BM queries of one (b, h), 16 or 32 rows per warp (one or two mma row tiles), and
//   loops over BN-key tiles of its key range only: for the window, keys [q0 - W + 1, q0 + BM - 1], so tiles
//   outside the band are never loaded; for checkpoints, the compact rows K[s-1::s] it can see, gathered by
//   row. K/V tiles stream through a 2- or 3-stage cp.async pipeline. S = Q K^T, online softmax in fp32 with
//   the scale (in log2 units) folded into the exponent's FMA, P packed to bf16 straight from the S
//   accumulators into the A operand of P V. Only tiles that cross the window edges / the checkpoint bound are
//   masked, and a warp skips the tiles none of its rows can see. The per-row log-sum-exp is saved.
//   Checkpoint rows start from the self term: running max = q_i.k_i scale, sum = 1, accumulator = v_i.
// - backward, deterministic: dQ and dK/dV are computed by separate kernels instead of accumulating dQ with
//   atomics (FA2) or ordered semaphores (FA3's deterministic mode): a dq kernel over query tiles (recomputes
//   P from Q, K and the saved lse; dP = dO V^T; dS = P (dP - Delta); dQ = dS K) and a dk/dv kernel over key
//   tiles that loops over the query tiles (and GQA heads) that can see its keys (dV += P^T dO, dK += dS^T Q).
//   Every output element is written by exactly one thread, once. The price is recomputing S and dP in both
//   kernels (7 instead of 5 tile products); Delta = rowsum(dO o O) comes from a small first kernel. Both
//   kernels stream the other side 16 rows (one mma k-step) at a time: S, dP for 16 keys (dq) or 16 queries
//   (dk/dv) are turned into the A operand of the next product at once, so the live registers do not grow
//   with the tile and the warp's accumulators can be two row tiles deep.
//   For checkpoint attention the dk/dv kernel handles the checkpoint rows (their self term is one more pair
//   of the key tile, see CkptKeys::grad_valid); the other rows only have the self term, which the dq kernel
//   writes from the fragments it holds (n_h = n_kv), or with GQA (a sum over the group's heads) a row kernel
//   computes (8 lanes per row, 16-byte accesses).
// Tile shapes are template parameters (Tile<>): each kernel is instantiated for a few shapes and one is picked
// per kernel at run time (TileChoice: SCOUT_ATTN_TILES, read once, or scout_cuda_attention_set_tiles(), which
// tests/gpu/bench_gpu uses to time them all). The results of every shape agree with the CPU reference to
// rounding (accumulation order differs) and each is deterministic.
// General path (any even head dim up to 256, any alignment): one warp per query row (forward, dq) or key row
// (dk/dv), fp32 dot products by warp shuffles, exactly the CPU reference's loops. Slow, but it makes every
// head dim correct, and SCOUT_CUDA_ATTENTION_GENERAL forces it for testing the fast path against it.
#ifndef SCOUT_CUDA_ATTENTION_CUH
#define SCOUT_CUDA_ATTENTION_CUH

#include <math.h>

#include "cuda/common.cuh"
#include "cuda/mma.cuh"

int scout_cuda_attention_general_(void); // backend_cuda.cu: the SCOUT_CUDA_ATTENTION_GENERAL flag
// rope.cu: the (cos, sin) table [T][d / 2] of RoPE's angles that rope_forward / rope_backward use (cached).
const float2 *rope_angle_table(int T, int d, int pos0, float theta, cudaStream_t stream);

namespace attn {

constexpr int kPad = 8;          // bf16 of row padding: rows 144 bytes apart, so ldmatrix's 8 rows hit 8 bank groups
constexpr int kMaxPerLane = 8;   // general path: head dim up to 32 * 8
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- tile shapes ------------------------------------------------------------------------------------------

// Tile<OWN, STREAM, WARPS, STAGES, MIN_BLOCKS>: a block owns OWN rows (queries for the forward and dq kernels,
// keys for the dk/dv kernel), split among WARPS warps in MT = OWN / (16 WARPS) mma row tiles of 16 rows each,
// and streams the other side through shared memory in tiles of STREAM rows, STAGES of them in flight
// (cp.async). Why the knobs:
// - MT = 2 lets every B fragment read from shared memory (ldmatrix) feed two mma instead of one (FA2's
//   128-query blocks of 4 warps), halving shared-memory reads per FLOP, for more registers per thread.
// - larger OWN shares each streamed tile (one global read, one cp.async pass, one barrier) among more rows.
// - larger STREAM halves the barriers and loop overhead per key, and the forward's per-tile softmax
//   bookkeeping (running-max shuffles, rescale of the accumulator), for more shared memory.
// - STAGES = 3 keeps two tiles in flight instead of one: with few blocks per SM an iteration can be shorter
//   than a global-memory latency.
// - MIN_BLOCKS is the occupancy __launch_bounds__ asks ptxas for: it caps the registers at 64K / (32 WARPS
//   MIN_BLOCKS); chosen per shape so that nothing spills (checked with nvcc -Xptxas -v) but 4 bytes in the
//   checkpoint forward of the 128-register shapes.
// Named "OWNxSTREAM", plus "wWARPS" when a warp owns more than 16 rows and "sSTAGES" when STAGES > 2:
// "128x64w4" is 128 queries (keys for dk/dv) per block, 4 warps of 32 rows, 64-row streamed tiles, double
// buffered. MIN_BLOCKS is not in the name: one per shape.
template <int OWN, int STREAM, int WARPS, int STAGES, int MIN_BLOCKS>
struct Tile {
    static constexpr bool kWgmma = false; // mma.sync kernels (WgTile<> in attention_sm90.cuh: warpgroup MMA)
    static constexpr int kOwn = OWN, kStream = STREAM, kWarps = WARPS, kThreads = 32 * WARPS;
    static constexpr int kMT = OWN / (16 * WARPS), kStages = STAGES, kMinBlocks = MIN_BLOCKS;
    static_assert(kMT >= 1 && kMT * 16 * WARPS == OWN, "a warp owns whole 16-row mma tiles");
    static_assert(STREAM % 16 == 0, "streamed tiles are whole 16-row k-steps");
    static_assert(STAGES >= 2, "at least double buffering");
    static void name(char *buf, size_t n) {
        int k = snprintf(buf, n, "%dx%d", OWN, STREAM);
        if (kMT > 1) k += snprintf(buf + k, n - k, "w%d", WARPS);
        if (STAGES > 2) snprintf(buf + k, n - k, "s%d", STAGES);
    }
};

template <int WG, int STREAM, int STAGES, int MIN_BLOCKS> struct WgTile; // attention_sm90.cuh

// A list of the shapes a kernel is instantiated for; visit(i, f) calls f(Tile{}) with the i-th.
template <class... Ts>
struct TileList {
    static constexpr int kCount = sizeof...(Ts);
    template <class F> static void visit(int i, F &&f) {
        int n = 0;
        ((n++ == i ? (f(Ts{}), 0) : 0), ...);
    }
    // Index of the shape called `name`, or -1.
    static int find(const char *name, size_t len) {
        int found = -1;
        for (int i = 0; i < kCount; i++)
            visit(i, [&](auto t) {
                char buf[32];
                decltype(t)::name(buf, sizeof buf);
                if (strlen(buf) == len && strncmp(buf, name, len) == 0) found = i;
            });
        return found;
    }
};

// The instantiated shapes per kernel; the first of each is the original 64 x 64, 4-warp, double-buffered one;
// the "wg" ones (attention_sm90.cuh, sm_90a only) at the end, named wgOWNxSTREAMsSTAGESbMIN_BLOCKS.
// MIN_BLOCKS is the most blocks per SM that shared memory allows (228 KB per SM, 1 KB of it reserved per
// block) and that ptxas fits in registers without spilling (nvcc 13, sm_90, -Xptxas -v). Where that budget is
// 128 registers the dq kernel re-reads its dO fragments and the dk/dv kernel its K, V fragments per 16-row
// chunk (see kHoldDO, kHoldK, kHoldV). Per shape: registers per thread (the larger of the two policies),
// dynamic shared memory per block, resident warps per SM.
using FwdTiles = TileList<Tile<64, 64, 4, 2, 4>,   // "64x64":    128 regs, 45 KB: 4 blocks, 16 warps
                          Tile<128, 64, 8, 2, 2>,  // "128x64":   128 regs, 54 KB: 2 blocks, 16 warps
                          Tile<128, 64, 4, 2, 2>,  // "128x64w4": 237 regs, 54 KB: 2 blocks,  8 warps x 32 rows
                          Tile<64, 128, 4, 2, 2>,  // "64x128":   190 regs, 81 KB: 2 blocks,  8 warps
                          Tile<64, 64, 4, 3, 3>,   // "64x64s3":  146 regs, 63 KB: 3 blocks, 12 warps
                          Tile<128, 64, 8, 3, 2>,  // "128x64s3": 128 regs, 72 KB: 2 blocks, 16 warps
                          WgTile<1, 64, 4, 3>,     // "wg64x64s4b3":  115 regs, 73 KB, 12 warps
                          WgTile<2, 64, 4, 2>>;    // "wg128x64s4b2": 114 regs, 81 KB, 16 warps
using DqTiles = TileList<Tile<64, 64, 4, 2, 4>,    // "64x64":    126 regs, 54 KB: 4 blocks, 16 warps
                         Tile<128, 64, 8, 2, 2>,   // "128x64":   126 regs, 72 KB: 2 blocks, 16 warps
                         Tile<128, 64, 4, 2, 2>,   // "128x64w4": 218 regs, 72 KB: 2 blocks,  8 warps x 32 rows
                         Tile<64, 128, 4, 2, 2>,   // "64x128":   132 regs, 90 KB: 2 blocks,  8 warps
                         Tile<64, 64, 4, 3, 3>,    // "64x64s3":  126 regs, 72 KB: 3 blocks, 12 warps
                         Tile<128, 128, 8, 2, 2>,  // "128x128": 126 regs, 108 KB: 2 blocks, 16 warps
                         WgTile<1, 64, 3, 3>,      // "wg64x64s3b3":  156 regs, 65 KB, 12 warps
                         WgTile<1, 64, 4, 2>,      // "wg64x64s4b2":  156 regs, 81 KB,  8 warps
                         WgTile<2, 64, 3, 1>>;     // "wg128x64s3b1": 156 regs, 81 KB,  8 warps
using DkdvTiles = TileList<Tile<64, 64, 4, 2, 4>,    // "64x64":    128 regs, 55 KB: 4 blocks, 16 warps
                           Tile<128, 64, 8, 2, 2>,   // "128x64":   128 regs, 73 KB: 2 blocks, 16 warps
                           Tile<128, 64, 4, 2, 2>,   // "128x64w4": 255 regs, 73 KB: 2 blocks,  8 warps x 32 rows
                           Tile<64, 128, 4, 2, 2>,   // "64x128":   179 regs, 92 KB: 2 blocks,  8 warps
                           Tile<64, 64, 4, 3, 3>,    // "64x64s3":  168 regs, 74 KB: 3 blocks, 12 warps
                           Tile<128, 128, 8, 2, 2>,  // "128x128": 128 regs, 110 KB: 2 blocks, 16 warps
                           WgTile<1, 64, 3, 2>,      // "wg64x64s3b2":  200 regs, 66 KB,  8 warps (b3: serialised)
                           WgTile<1, 64, 4, 2>,      // "wg64x64s4b2":  192 regs, 82 KB,  8 warps
                           WgTile<2, 64, 3, 1>>;     // "wg128x64s3b1": 208 regs, 82 KB,  8 warps

// The shape each kernel uses (indices into the lists above). Defined in attention_tiles.cu: the default, then
// SCOUT_ATTN_TILES (read on first use), then scout_cuda_attention_set_tiles() calls.
struct TileChoice {
    int fwd, dq, dkdv;
};
TileChoice &tile_choice();

// ---- key-set policies ------------------------------------------------------------------------------------

// D1: query i sees keys i - window < j <= i. Compact key j is row j.
struct SwaKeys {
    int T, window;
    static constexpr bool kSelfSeed = false;
    static constexpr bool kSplitQueries = false; // a key tile's queries span window + BN: balanced already
    __host__ __device__ int n_keys() const { return T; }
    __host__ __device__ int key_row(int j) const { return j; }
    __host__ __device__ int key_row_step() const { return 1; } // key_row(j + 1) - key_row(j)
    __host__ __device__ bool valid(int i, int j) const { return j <= i && j > i - window; }
    // Keys any query of [q0, q1) can see: [key_begin(q0), key_end(q1)).
    __host__ __device__ int key_begin(int q0) const { return q0 - window + 1 > 0 ? q0 - window + 1 : 0; }
    __host__ __device__ int key_end(int q1) const { return q1 < T ? q1 : T; }
    // Every pair of queries [q0, q1) x keys [k0, k1) valid: no mask needed for the tile.
    __host__ __device__ bool all_valid(int q0, int q1, int k0, int k1) const {
        return k1 - 1 <= q0 && k0 > q1 - 1 - window;
    }
    // For dK, dV: the pairs (query i, key j) whose softmax term reaches key j, and the queries with such a
    // pair for some key of [k0, k1): [query_begin(k0), query_end(k1)).
    __host__ __device__ bool grad_valid(int i, int j) const { return valid(i, j); }
    __host__ __device__ bool self_only(int /*i*/) const { return false; } // no self seed
    __host__ __device__ int query_begin(int k0) const { return k0; }
    __host__ __device__ int query_end(int k1) const { return k1 - 1 + window < T ? k1 - 1 + window : T; }
};

// D2: query i sees itself (the seed) and checkpoints c = (m+1) seg - 1 with m < i / seg. Compact key m is row
// (m+1) seg - 1; there are T / seg of them.
struct CkptKeys {
    int T, seg;
    static constexpr bool kSelfSeed = true;
    static constexpr bool kSplitQueries = true; // key tile m's queries: key_row(m BN) .. T (see dkdv_split_chunk)
    __host__ __device__ int n_keys() const { return T / seg; }
    __host__ __device__ int key_row(int m) const { return (m + 1) * seg - 1; }
    __host__ __device__ int key_row_step() const { return seg; }
    __host__ __device__ bool valid(int i, int m) const { return key_row(m) < i; } // m < i / seg, no division
    __host__ __device__ int key_begin(int /*q0*/) const { return 0; }
    __host__ __device__ int key_end(int q1) const { return ((q1 < T ? q1 : T) - 1) / seg; }
    __host__ __device__ bool all_valid(int q0, int /*q1*/, int /*k0*/, int k1) const { return valid(q0, k1 - 1); }
    // For dK, dV the self term of a checkpoint row (its softmax's seed) is the pair (key_row(m), m): one more
    // pair of compact key m, so the dk/dv kernel handles it as any other (rows that are no checkpoint have
    // only the self term, computed by attn_ckpt_self_dkdv_kernel).
    __host__ __device__ bool grad_valid(int i, int m) const { return key_row(m) <= i; }
    // Row i's dk, dv have the self term only: it is no checkpoint.
    __host__ __device__ bool self_only(int i) const { return (i + 1) % seg != 0; }
    __host__ __device__ int query_begin(int k0) const { return key_row(k0); }
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

// Elements col, col + 1 (col even) of a 4-byte aligned bf16 row in one 4-byte load: the self terms of checkpoint
// attention read a thread's 32 columns of a row this way (two 2-byte loads each were ~400 loads per thread in
// the forward's prologue).
__device__ __forceinline__ uint32_t ld_pair(const floatX *p) { return *reinterpret_cast<const uint32_t *>(p); }

// RoPE's backward folded into the backward kernels' stores of dq and dk (rope != NULL): one row's 16 values of
// a 64-wide head as an MMA fragment holds them, x[nt][e] = column nt * 8 + 2 tq + e, so that n-tiles nt and nt + 4
// hold the rotated pairs (c, c + 32); rotated by minus the angle of the row's position, in fp32 before the one
// rounding to bf16, from rope.cu's table (cos, sin of [T][32] angles): what rope_backward would do to the stored
// values, without its pass over q's and k's columns (~1.2 ms per step of scout_swa_470m at 8 x 2048). The
// angles of a row (this thread's 8 of them) are loaded once for all that row's stores.
struct RopeRow {
    float2 a[4][2]; // (cos, sin) of columns nt * 8 + 2 tq + e, nt < 4
};
__device__ __forceinline__ void rope_row_load(RopeRow &rr, const float2 *rope, int pos, int tq) {
    const float2 *cs = rope + (size_t)pos * 32 + 2 * tq;
#pragma unroll
    for (int nt = 0; nt < 4; nt++) rr.a[nt][0] = cs[nt * 8], rr.a[nt][1] = cs[nt * 8 + 1];
}
// The same rotation for the row kernels that give each of eight consecutive lanes 8 adjacent columns of a row
// (lane `sub` % 8 holds columns 8 sub .. 8 sub + 7): column c's partner c + 32 is in lane sub ^ 4, read by a
// shuffle, so every lane of the warp must call this.
__device__ __forceinline__ void rope_back_lanes8(float (&x)[8], const float2 *rope, int pos, int sub) {
    const float2 *cs = rope + (size_t)pos * 32 + (sub % 4) * 8;
#pragma unroll
    for (int c = 0; c < 8; c++) {
        const float other = __shfl_xor_sync(0xffffffffu, x[c], 4);
        const float2 a = cs[c];
        x[c] = sub < 4 ? x[c] * a.x + other * a.y : x[c] * a.x - other * a.y;
    }
}
// Rotates the row's fragment x back by the angles rr holds: each pair (c, c + 32) is (x[nt], x[nt + 4]).
__device__ __forceinline__ void rope_rotate_frag(float (&x)[8][2], const RopeRow &rr) {
#pragma unroll
    for (int nt = 0; nt < 4; nt++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const float2 a = rr.a[nt][e];
            const float g1 = x[nt][e], g2 = x[nt + 4][e];
            x[nt][e] = g1 * a.x + g2 * a.y;
            x[nt + 4][e] = g2 * a.x - g1 * a.y;
        }
}
// Stores x into the row at `row`, rotated first by rr's angles when `rotate`. A flag and a reference rather than a
// pointer that may be NULL: `rope ? &rr : NULL` took the angles' address, which put the dq kernels' two rows of
// angles in local memory (a 128-byte stack frame: stored right after their loads, so the stores waited for the
// loads that were meant to run under the last products, then read back before every rotation: ~45% of the
// stall samples of checkpoint attention's warpgroup dq kernel at 8 x 2048, ncu).
__device__ __forceinline__ void store_frag_row(floatX *row, float (&x)[8][2], bool rotate, const RopeRow &rr, int tq) {
    if (rotate) rope_rotate_frag(x, rr);
#pragma unroll
    for (int nt = 0; nt < 8; nt++)
        *reinterpret_cast<uint32_t *>(row + nt * 8 + 2 * tq) = pack_bf16(x[nt][0], x[nt][1]);
}

// The columns a thread holds, in both the A-fragment layout (a0..a3 of k-step kk) and the C layout (tiles nt =
// 2kk, 2kk+1): column(kk, half, e) = 16 kk + 8 half + 2 (lane % 4) + e. A row-vector dot product of a thread's
// values of a row with a global row x is therefore a quad-local partial sum; pair(kk, half) returns the thread's
// two bf16 of columns 16 kk + 8 half + 2 (lane % 4) + (0, 1) of the row, wherever they are held. pair_dot takes
// the other row's pairs from a second such accessor (registers, say), row_dot reads them from the global row x.
template <int D, class PairA, class PairX> __device__ __forceinline__ float pair_dot(PairA pair, PairX xpair) {
    float s = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const uint32_t w = pair(kk, half), xv = xpair(kk, half);
            s += bf_lo(w) * bf_lo(xv) + bf_hi(w) * bf_hi(xv);
        }
    return s;
}
template <int D, class Pair> __device__ __forceinline__ float row_dot(Pair pair, const floatX *x) {
    const int tq = threadIdx.x % 4;
    return pair_dot<D>(pair, [&](int kk, int half) { return ld_pair(x + kk * 16 + half * 8 + 2 * tq); });
}
// ... of row r (0: row g, 1: row g + 8) of A fragments held in registers.
template <int D>
__device__ __forceinline__ float frag_row_dot(const uint32_t (&f)[D / 16][4], int r, const floatX *x) {
    return row_dot<D>([&](int kk, int half) { return f[kk][r + 2 * half]; }, x);
}

// One step of the online softmax for row half r (rows g, g + 8) of N8 C-fragment tiles x of raw logits, in log2
// units: the max is taken on the raw logits (scale > 0) and the scale folded into the exponent, p = 2^(x scale -
// m), one FMA. Turns x into p, updates the running max m and this thread's part of the row sum l, and returns the
// factor the row's accumulator must be rescaled by. A row with no valid key yet keeps m = -inf and contributes
// nothing. (Both forward kernels, mma.sync and warpgroup.)
template <int N8>
__device__ __forceinline__ float softmax_update(float (&x)[N8][4], int r, float &m, float &l, float scale_log2) {
    float mx = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < N8; nt++) mx = fmaxf(mx, fmaxf(x[nt][2 * r], x[nt][2 * r + 1]));
    const float m_new = fmaxf(m, quad_max(mx) * scale_log2);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    const float rescale = exp2_approx(m - m_use);
    m = m_new;
    float sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < N8; nt++)
#pragma unroll
        for (int e = 2 * r; e < 2 * r + 2; e++) {
            x[nt][e] = exp2_approx(fmaf(x[nt][e], scale_log2, -m_use));
            sum += x[nt][e];
        }
    l = l * rescale + sum;
    return rescale;
}

// The A fragment of one k-step from the C fragments of its two 16x8 column halves (see mma.cuh), in bf16.
__device__ __forceinline__ void pack_a_frag(uint32_t (&a)[4], const float (&c0)[4], const float (&c1)[4]) {
    a[0] = pack_bf16(c0[0], c0[1]), a[1] = pack_bf16(c0[2], c0[3]);
    a[2] = pack_bf16(c1[0], c1[1]), a[3] = pack_bf16(c1[2], c1[3]);
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

// The A fragments of MT row tiles (rows row0 + 16 mt ..) x D columns of a row-major smem tile of pitch LD.
template <int MT, int D, int LD>
__device__ __forceinline__ void load_a_frags(uint32_t (&f)[MT][D / 16][4], const floatX *tile, int row0) {
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) ldmatrix_x4(f[mt][kk], a_frag_addr(tile, LD, row0 + mt * 16, kk * 16));
}

// The two products of a backward chunk, for this warp's MT row tiles: s = A X_c^T and t = B Y_c^T, where X_c, Y_c
// are the 16 streamed rows [16 c, 16 c + 16) of the smem tiles X, Y (pitch LD) and A, B the warp's fragments.
// The dq kernel's S and dP ((A, B) = (Q, dO) against (K, V)); the dk/dv kernel's S^T and dP^T ((K, V) against
// (Q, dO)).
template <int MT, int D, int LD>
__device__ __forceinline__ void chunk_products(float (&s)[MT][2][4], float (&t)[MT][2][4],
                                               const uint32_t (&a)[MT][D / 16][4], const uint32_t (&b)[MT][D / 16][4],
                                               const floatX *X, const floatX *Y, int c) {
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int n = 0; n < 2; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[mt][n][e] = t[mt][n][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        uint32_t xf[4], yf[4];
        ldmatrix_x4(xf, bt_frag_addr(X, LD, c * 16, kk * 16));
        ldmatrix_x4(yf, bt_frag_addr(Y, LD, c * 16, kk * 16));
        const uint32_t x0[2] = {xf[0], xf[1]}, x1[2] = {xf[2], xf[3]};
        const uint32_t y0[2] = {yf[0], yf[1]}, y1[2] = {yf[2], yf[3]};
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            mma_bf16_16816(s[mt][0], a[mt][kk], x0);
            mma_bf16_16816(s[mt][1], a[mt][kk], x1);
            mma_bf16_16816(t[mt][0], b[mt][kk], y0);
            mma_bf16_16816(t[mt][1], b[mt][kk], y1);
        }
    }
}

// Copies rows [r0, r0 + R) of a [., D] bf16 tensor (row r at base + row_of(r) * stride) into a smem tile of
// pitch D + kPad with cp.async; rows r >= n_rows are zero-filled.
// NT = the block's threads, each copying R * D / 8 / NT chunks of 16 bytes. Not unrolled: the copies are
// issued inside the main loops, where unrolled address arithmetic costs registers that the 128-register
// shapes do not have.
template <int D, int R, int NT, class RowOf>
__device__ __forceinline__ void load_tile_async(floatX *tile, const floatX *base, size_t stride, int r0, int n_rows,
                                                RowOf row_of) {
    constexpr int LD = D + kPad, CHUNKS = D / 8;
    static_assert(R * CHUNKS % NT == 0, "whole chunks per thread");
#pragma unroll 1
    for (int it = 0; it < R * CHUNKS / NT; it++) {
        const int c = threadIdx.x + it * NT;
        const int r = c / CHUNKS, col = (c % CHUNKS) * 8;
        const bool ok = r0 + r < n_rows;
        const size_t row = ok ? (size_t)row_of(r0 + r) : 0; // a valid address even when nothing is read
        cp_async<16>(tile + r * LD + col, base + row * stride + col, ok);
    }
}

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels: Delta

// delta[b, h, i] = dO[b, i, h, :] . O[b, i, h, :], head dim 64 and 16-byte aligned tensors: eight lanes per
// row, one 16-byte load of each tensor per lane, so every 128-byte row is read whole; rows are taken in the
// order of delta (b, h, i), so the stores of a warp are contiguous. (One warp per row with 2-byte loads ran at
// a quarter of the memory bandwidth: 62 us at B=8, T=2048, 16 heads.)
template <int D>
static __global__ void attn_delta_vec_kernel(float *delta, const floatX *dout, const floatX *out, int T, int n_h,
                                             size_t n_rows) {
    static_assert(D == 8 * 8, "eight lanes of eight elements");
    const size_t r_raw = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 8;
    const int sub = threadIdx.x % 8;
    const bool ok = r_raw < n_rows; // out-of-range lanes read row 0 and store nothing (they stay in the shuffles)
    const size_t r = ok ? r_raw : 0;
    const int i = (int)(r % T), h = (int)((r / T) % n_h);
    const size_t b = r / T / n_h;
    const size_t off = ((b * T + i) * n_h + h) * D + sub * 8;
    const x128 a = load128(dout + off), o = load128(out + off);
    float s = 0.0f;
#pragma unroll
    for (int c = 0; c < 8; c++) s += bf2f(a[c]) * bf2f(o[c]);
#pragma unroll
    for (int x = 1; x < 8; x <<= 1) s += __shfl_xor_sync(0xffffffffu, s, x);
    if (ok && sub == 0) delta[r] = s;
}

// The same for any head dim and alignment: one warp per (b, i, h) row.
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
//
// Row bookkeeping shared by the three kernels: warp w owns the block's rows [w0, w0 + 16 MT) with w0 = row0 +
// 16 MT w; its row tile mt covers rows w0 + 16 mt + (0..15), and a thread holds rows g and g + 8 of each
// (r = 0, 1 below), i.e. row w0 + 16 mt + g + 8 r. The backward kernels take the key-set policy as a
// __grid_constant__ parameter: its fields are read from the parameter bank where used instead of being held in
// registers through the loop, without which ptxas spilled at a 128-register budget (the forward spills with it).

// Block geometry shared by the forward and dq kernels (mma.sync and warpgroup): query tile qt (last-first when
// reverse) of head h of batch b, its kv head, the row strides (ldq of q / dq, ldkv of k / v / dk / dv, and out /
// dO's n_h D), the offsets of (b, row 0, h) in q / dq and in out / dO, the (b, kv head) bases of k and v, and the
// key tiles [t_begin, t_end) of the compact keys [key_begin, kend) its queries can see.
template <int D, int BM, int BN> struct QueryBlock {
    int h, b, kvh, q0, kend, t_begin, t_end;
    size_t q_stride, kv_stride, o_stride, q_off, o_off;
    const floatX *kb, *vb;
    template <class Keys>
    __device__ __forceinline__ QueryBlock(const floatX *k, const floatX *v, int T, int n_h, int n_kv, int ldq, int ldkv,
                                          const Keys &keys, int reverse) {
        const int qt = reverse ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
        h = blockIdx.y, b = blockIdx.z, kvh = h / (n_h / n_kv), q0 = qt * BM;
        q_stride = (size_t)ldq, kv_stride = (size_t)ldkv, o_stride = (size_t)n_h * D;
        q_off = (size_t)b * T * q_stride + (size_t)h * D;
        o_off = (size_t)b * T * o_stride + (size_t)h * D;
        kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
        vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
        const int kbeg = keys.key_begin(q0);
        kend = keys.key_end(q0 + BM);
        t_begin = kbeg / BN, t_end = kend > kbeg ? (kend + BN - 1) / BN : t_begin;
    }
};

// Block geometry shared by the dk/dv kernels: key tile [k0, k1) of kv head kvh of batch b (blockIdx.y = kv head +
// n_kv x split when the queries are split, see dkdv_split_chunk), and the query tiles [qt_begin, qt_end) it loops
// over for each of the group's heads (n_iter iterations); empty: a split with no pair (the reduce kernel skips it
// by the same test).
template <int D, int BN, int BM> struct DkdvBlock {
    int kvh, split, b, group, n_keys, k0, k1, qt_begin, qt_end, n_iter;
    bool empty;
    size_t q_stride, kv_stride, o_stride; // of q, of k / v / dk / dv, of dO (as QueryBlock)
    const floatX *kb, *vb;
    template <class Keys>
    __device__ __forceinline__ DkdvBlock(const floatX *k, const floatX *v, int T, int n_h, int n_kv, int ldq, int ldkv,
                                         const Keys &keys, int q_chunk, bool split_queries) {
        kvh = blockIdx.y % n_kv, split = blockIdx.y / n_kv, b = blockIdx.z, group = n_h / n_kv;
        n_keys = keys.n_keys(), k0 = blockIdx.x * BN, k1 = min(k0 + BN, n_keys);
        q_stride = (size_t)ldq, kv_stride = (size_t)ldkv, o_stride = (size_t)n_h * D;
        kb = k + (size_t)b * T * kv_stride + (size_t)kvh * D;
        vb = v + (size_t)b * T * kv_stride + (size_t)kvh * D;
        int qbeg = keys.query_begin(k0), qend = min(T, keys.query_end(k1));
        if (split_queries) qbeg = max(qbeg, split * q_chunk), qend = min(qend, (split + 1) * q_chunk);
        empty = split_queries && qend <= qbeg;
        qt_begin = qbeg / BM, qt_end = qend > qbeg ? (qend + BM - 1) / BM : qt_begin;
        n_iter = group * (qt_end - qt_begin);
    }
};

// Forward. Grid (query tiles, n_h, B), Cfg::kWarps warps. Dynamic smem: the Q tile, Cfg::kStages stages of K,
// V tiles. reverse: take the query tiles last-first (in causal and checkpoint attention the late tiles see the
// most keys, so they start first and the tail is short).
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_fwd_mma_kernel(floatX *out, float *lse, const floatX *q, const floatX *k, const floatX *v, int T, int n_h,
                        int n_kv, int ldq, int ldkv, Keys keys, float scale_log2, int reverse) {
    constexpr int BM = Cfg::kOwn, BN = Cfg::kStream, MT = Cfg::kMT, NT = Cfg::kThreads, S = Cfg::kStages;
    constexpr int LD = D + kPad;
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sQ = (floatX *)attn_smem; // [BM][LD]
    floatX *sK = sQ + BM * LD;        // [S][BN][LD]
    floatX *sV = sK + S * BN * LD;    // [S][BN][LD]

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const QueryBlock<D, BM, BN> blk(k, v, T, n_h, n_kv, ldq, ldkv, keys, reverse);
    const int h = blk.h, b = blk.b, q0 = blk.q0, kend = blk.kend, t_begin = blk.t_begin, t_end = blk.t_end;
    const int w0 = q0 + warp * 16 * MT;
    const size_t q_stride = blk.q_stride, kv_stride = blk.kv_stride;
    const floatX *qb = q + blk.q_off, *kb = blk.kb, *vb = blk.vb;
    // The keys this warp's rows can see (none when its rows start past T): tiles outside are skipped.
    const bool w_rows = w0 < T;
    const int wkbeg = keys.key_begin(w0), wkend = keys.key_end(min(w0 + 16 * MT, T));
    auto krow = [&](int j) { return keys.key_row(j); };
    auto load_kv = [&](int t) { // key tile t into its stage
        const int st = (t - t_begin) % S;
        load_tile_async<D, BN, NT>(sK + st * BN * LD, kb, kv_stride, t * BN, kend, krow);
        load_tile_async<D, BN, NT>(sV + st * BN * LD, vb, kv_stride, t * BN, kend, krow);
    };

    // Pipeline (S stages, one cp.async group per key tile; Q rides with the first): tiles t + 1 .. t + S - 1
    // are in flight while tile t is used.
    load_tile_async<D, BM, NT>(sQ, qb, q_stride, q0, T, [](int i) { return i; });
#pragma unroll
    for (int st = 0; st < S - 1; st++) {
        if (t_begin + st < t_end) load_kv(t_begin + st);
        cp_async_commit(); // possibly empty: the group count stays uniform
    }
    cp_async_wait<S - 2>();
    __syncthreads();

    uint32_t qf[MT][D / 16][4];
    load_a_frags<MT, D, LD>(qf, sQ, w0 - q0);

    float o[MT][D / 8][4];
    float m_r[MT][2], l_r[MT][2]; // running max (log2 units, scaled) and this thread's part of the row sum
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int i = w0 + mt * 16 + g + 8 * r;
            if (Keys::kSelfSeed) {
                // Seed with the self term: m = q_i.k_i scale, l = 1 (counted once per quad), acc = v_i.
                const bool ok = i < T;
                const floatX *ki = kb + (size_t)(ok ? i : 0) * kv_stride;
                const floatX *vi = vb + (size_t)(ok ? i : 0) * kv_stride;
                const float dot = quad_sum(frag_row_dot<D>(qf[mt], r, ki));
                m_r[mt][r] = ok ? dot * scale_log2 : 0.0f;
                l_r[mt][r] = tq == 0 ? 1.0f : 0.0f;
#pragma unroll
                for (int nt = 0; nt < D / 8; nt++) {
                    const int col = nt * 8 + 2 * tq;
                    const uint32_t vv = ld_pair(vi + col);
                    o[mt][nt][2 * r] = ok ? bf_lo(vv) : 0.0f;
                    o[mt][nt][2 * r + 1] = ok ? bf_hi(vv) : 0.0f;
                }
            } else {
                m_r[mt][r] = -INFINITY;
                l_r[mt][r] = 0.0f;
#pragma unroll
                for (int nt = 0; nt < D / 8; nt++) o[mt][nt][2 * r] = o[mt][nt][2 * r + 1] = 0.0f;
            }
        }

    for (int t = t_begin; t < t_end; t++) {
        cp_async_wait<S - 2>(); // tile t is in (only the S - 2 groups after it may be pending) ...
        __syncthreads();        // ... for every thread, and all are done with tile t - 1, whose stage is refilled
        if (t + S - 1 < t_end) load_kv(t + S - 1);
        cp_async_commit();
        const int st = (t - t_begin) % S;
        const floatX *cK = sK + st * BN * LD, *cV = sV + st * BN * LD;

        const int k0 = t * BN;
        if (w_rows && k0 < wkend && k0 + BN > wkbeg) { // warp-uniform
            // S = Q K^T: 16 MT rows x BN keys per warp; each K fragment feeds MT row tiles.
            float s[MT][BN / 8][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < BN / 8; nt++) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
                for (int np = 0; np < BN / 16; np++) {
                    uint32_t kf[4];
                    ldmatrix_x4(kf, bt_frag_addr(cK, LD, np * 16, kk * 16));
                    const uint32_t b0[2] = {kf[0], kf[1]}, b1[2] = {kf[2], kf[3]};
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma_bf16_16816(s[mt][2 * np], qf[mt][kk], b0);
                        mma_bf16_16816(s[mt][2 * np + 1], qf[mt][kk], b1);
                    }
                }
            // Mask only tiles that cross the key set's edges (for this warp's rows).
            const bool full = keys.all_valid(w0, w0 + 16 * MT, k0, k0 + BN) && k0 + BN <= kend;
            if (!full) {
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int nt = 0; nt < BN / 8; nt++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            const int j = k0 + nt * 8 + 2 * tq + (e & 1), i = w0 + mt * 16 + g + 8 * (e >> 1);
                            if (!(j < kend && keys.valid(i, j))) s[mt][nt][e] = -INFINITY;
                        }
            }
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    const float rescale = softmax_update(s[mt], r, m_r[mt][r], l_r[mt][r], scale_log2);
#pragma unroll
                    for (int nt = 0; nt < D / 8; nt++) o[mt][nt][2 * r] *= rescale, o[mt][nt][2 * r + 1] *= rescale;
                }
            // O += P V, P from the S accumulators (bf16), V via ldmatrix.trans, each fragment for MT row tiles.
#pragma unroll
            for (int kk = 0; kk < BN / 16; kk++) {
                uint32_t pa[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) pack_a_frag(pa[mt], s[mt][2 * kk], s[mt][2 * kk + 1]);
#pragma unroll
                for (int dp = 0; dp < D / 16; dp++) {
                    uint32_t vf[4];
                    ldmatrix_x4_trans(vf, b_frag_addr_trans(cV, LD, kk * 16, dp * 16));
                    const uint32_t b0[2] = {vf[0], vf[1]}, b1[2] = {vf[2], vf[3]};
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma_bf16_16816(o[mt][2 * dp], pa[mt], b0);
                        mma_bf16_16816(o[mt][2 * dp + 1], pa[mt], b1);
                    }
                }
            }
        }
    }

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const float l = quad_sum(l_r[mt][r]);
            const int i = w0 + mt * 16 + g + 8 * r;
            if (i >= T) continue;
            const float inv = l > 0.0f ? 1.0f / l : 0.0f;
            floatX *orow = out + ((size_t)b * T + i) * blk.o_stride + (size_t)h * D;
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) {
                __nv_bfloat162 pair = __floats2bfloat162_rn(o[mt][nt][2 * r] * inv, o[mt][nt][2 * r + 1] * inv);
                *reinterpret_cast<__nv_bfloat162 *>(orow + nt * 8 + 2 * tq) = pair;
            }
            if (tq == 0) lse[((size_t)b * n_h + h) * T + i] = (m_r[mt][r] + log2f(l)) * kLn2;
        }
}

// dQ. Grid (query tiles, n_h, B), Cfg::kWarps warps. Dynamic smem: Q, dO tiles, Cfg::kStages stages of K, V
// tiles.
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_bwd_dq_mma_kernel(floatX *dq, const floatX *dout, const floatX *q, const floatX *k, const floatX *v,
                           const float *lse, const float *delta, int T, int n_h, int n_kv, int ldq, int ldkv,
                           const __grid_constant__ Keys keys, float scale_log2, float scale, int reverse,
                           floatX *self_dk, floatX *self_dv, const float2 *rope) {
    constexpr int BM = Cfg::kOwn, BN = Cfg::kStream, MT = Cfg::kMT, NT = Cfg::kThreads, S = Cfg::kStages;
    constexpr int LD = D + kPad;
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sQ = (floatX *)attn_smem; // [BM][LD]
    floatX *sdO = sQ + BM * LD;       // [BM][LD]
    floatX *sK = sdO + BM * LD;       // [S][BN][LD]
    floatX *sV = sK + S * BN * LD;    // [S][BN][LD]

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const QueryBlock<D, BM, BN> blk(k, v, T, n_h, n_kv, ldq, ldkv, keys, reverse);
    const int h = blk.h, b = blk.b, kvh = blk.kvh, q0 = blk.q0, kend = blk.kend, t_begin = blk.t_begin,
              t_end = blk.t_end;
    const int w0 = q0 + warp * 16 * MT;
    const size_t q_stride = blk.q_stride, kv_stride = blk.kv_stride;
    const floatX *qb = q + blk.q_off, *dob = dout + blk.o_off, *kb = blk.kb, *vb = blk.vb;
    const bool w_rows = w0 < T;
    const int wkbeg = keys.key_begin(w0), wkend = keys.key_end(min(w0 + 16 * MT, T));
    auto krow = [&](int j) { return keys.key_row(j); };
    auto load_kv = [&](int t) { // key tile t into its stage
        const int st = (t - t_begin) % S;
        load_tile_async<D, BN, NT>(sK + st * BN * LD, kb, kv_stride, t * BN, kend, krow);
        load_tile_async<D, BN, NT>(sV + st * BN * LD, vb, kv_stride, t * BN, kend, krow);
    };

    // Pipeline as in the forward; Q and dO ride with the first key tile.
    load_tile_async<D, BM, NT>(sQ, qb, q_stride, q0, T, [](int i) { return i; });
    load_tile_async<D, BM, NT>(sdO, dob, blk.o_stride, q0, T, [](int i) { return i; });
#pragma unroll
    for (int st = 0; st < S - 1; st++) {
        if (t_begin + st < t_end) load_kv(t_begin + st);
        cp_async_commit();
    }
    cp_async_wait<S - 2>();
    __syncthreads();

    // The A fragments of this warp's Q and dO rows, held in registers; under a 128-register budget
    // (MIN_BLOCKS) the dO ones are re-read from shared memory for every 16-key chunk instead (4 more ldmatrix
    // to the chunk's 12): holding them there spills.
    constexpr bool kHoldDO = 65536 / (NT * Cfg::kMinBlocks) > 128;
    static_assert(kHoldDO || MT == 1, "a 128-register budget fits one row tile per warp");
    uint32_t qf[MT][D / 16][4], dof[MT][D / 16][4];
    load_a_frags<MT, D, LD>(qf, sQ, w0 - q0);
    load_a_frags<MT, D, LD>(dof, sdO, w0 - q0);
    float lse2[MT][2], dlt[MT][2];
    float self_p[MT][2], self_ds[MT][2]; // checkpoint attention, no GQA: the self-only rows' dk, dv terms
    float dqa[MT][D / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int nt = 0; nt < D / 8; nt++) dqa[mt][nt][0] = dqa[mt][nt][1] = dqa[mt][nt][2] = dqa[mt][nt][3] = 0.0f;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int i = w0 + mt * 16 + g + 8 * r;
            const bool ok = i < T;
            lse2[mt][r] = ok ? lse[((size_t)b * n_h + h) * T + i] * kLog2e : 0.0f;
            dlt[mt][r] = ok ? delta[((size_t)b * n_h + h) * T + i] : 0.0f;
            if (Keys::kSelfSeed) {
                // Self term: dq_i += dl_self k_i (the scale is applied once at the end).
                const floatX *ki = kb + (size_t)(ok ? i : 0) * kv_stride;
                const floatX *vi = vb + (size_t)(ok ? i : 0) * kv_stride;
                const float l2 = quad_sum(frag_row_dot<D>(qf[mt], r, ki)) * scale_log2;
                const float dp = quad_sum(frag_row_dot<D>(dof[mt], r, vi));
                const float p = ok ? exp2f(l2 - lse2[mt][r]) : 0.0f;
                const float dl = p * (dp - dlt[mt][r]);
#pragma unroll
                for (int nt = 0; nt < D / 8; nt++) {
                    const int col = nt * 8 + 2 * tq;
                    const uint32_t kv = ld_pair(ki + col);
                    dqa[mt][nt][2 * r] += dl * bf_lo(kv);
                    dqa[mt][nt][2 * r + 1] += dl * bf_hi(kv);
                }
                // Without GQA (self_dk != NULL) a row that is no checkpoint has only this term in its dk, dv:
                // dk_i = scale dl q_i, dv_i = p dO_i, from the q_i, dO_i fragments already here (the separate row
                // kernel read q, dO, k, v again: 58 us at 8 x 2048).
                // Stored after the main loop (self_p < 0: none), with the row's dq and RoPE angles.
                self_p[mt][r] = self_dk && ok && keys.self_only(i) ? p : -1.0f;
                self_ds[mt][r] = dl * scale;
            }
        }

    for (int t = t_begin; t < t_end; t++) {
        cp_async_wait<S - 2>();
        __syncthreads();
        if (t + S - 1 < t_end) load_kv(t + S - 1);
        cp_async_commit();
        const int st = (t - t_begin) % S;
        const floatX *cK = sK + st * BN * LD, *cV = sV + st * BN * LD;

        const int k0 = t * BN;
        if (w_rows && k0 < wkend && k0 + BN > wkbeg) { // warp-uniform
            // Rows past T are masked too: their lse is a stand-in 0, so P could overflow.
            const bool full =
                keys.all_valid(w0, w0 + 16 * MT, k0, k0 + BN) && k0 + BN <= kend && w0 + 16 * MT <= T;
            // 16 keys at a time: S, dP for them, dS = P (dP - Delta), then dQ += dS K with dS as the A operand
            // of exactly one k-step. Not unrolled: unrolled, ptxas hoists the next chunk's loads and needs
            // ~10-25 more registers, which costs a block per SM (see DqTiles), and is no faster on the H200
            // even with that block given (64x64 at 2 and 3 blocks per SM, unrolled 2x and 4x: within 1%).
#pragma unroll 1
            for (int c = 0; c < BN / 16; c++) {
                if (!kHoldDO) load_a_frags<MT, D, LD>(dof, sdO, w0 - q0);
                float s[MT][2][4], dp[MT][2][4];
                chunk_products<MT, D, LD>(s, dp, qf, dof, cK, cV, c);
                // P, then the mask in one branch around the whole chunk (a test per element compiled to a
                // branch and a reconvergence per element, 3 instructions each even when nothing is masked),
                // then dS.
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int n = 0; n < 2; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++)
                            s[mt][n][e] = exp2_approx(fmaf(s[mt][n][e], scale_log2, -lse2[mt][e >> 1]));
                if (!full) {
#pragma unroll
                    for (int mt = 0; mt < MT; mt++)
#pragma unroll
                        for (int n = 0; n < 2; n++)
#pragma unroll
                            for (int e = 0; e < 4; e++) {
                                const int j = k0 + c * 16 + n * 8 + 2 * tq + (e & 1);
                                const int i = w0 + mt * 16 + g + 8 * (e >> 1);
                                s[mt][n][e] = i < T && j < kend && keys.valid(i, j) ? s[mt][n][e] : 0.0f;
                            }
                }
                uint32_t da[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
#pragma unroll
                    for (int n = 0; n < 2; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++) s[mt][n][e] *= dp[mt][n][e] - dlt[mt][e >> 1];
                    pack_a_frag(da[mt], s[mt][0], s[mt][1]);
                }
                // dQ += dS K: K (rows = keys = k) via ldmatrix.trans.
#pragma unroll
                for (int dpi = 0; dpi < D / 16; dpi++) {
                    uint32_t kf[4];
                    ldmatrix_x4_trans(kf, b_frag_addr_trans(cK, LD, c * 16, dpi * 16));
                    const uint32_t b0[2] = {kf[0], kf[1]}, b1[2] = {kf[2], kf[3]};
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma_bf16_16816(dqa[mt][2 * dpi], da[mt], b0);
                        mma_bf16_16816(dqa[mt][2 * dpi + 1], da[mt], b1);
                    }
                }
            }
        }
    }

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int i = w0 + mt * 16 + g + 8 * r;
            if (i >= T) continue;
            RopeRow rr;
            if (rope) rope_row_load(rr, rope, i, tq);
            floatX *row = dq + ((size_t)b * T + i) * q_stride + (size_t)h * D;
            float x[8][2];
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++)
                x[nt][0] = dqa[mt][nt][2 * r] * scale, x[nt][1] = dqa[mt][nt][2 * r + 1] * scale;
            store_frag_row(row, x, rope != NULL, rr, tq);
            if (Keys::kSelfSeed && self_p[mt][r] >= 0.0f) {
                floatX *dkr = self_dk + ((size_t)b * T + i) * kv_stride + (size_t)kvh * D;
                floatX *dvr = self_dv + ((size_t)b * T + i) * kv_stride + (size_t)kvh * D;
                const float ds = self_ds[mt][r], p = self_p[mt][r];
#pragma unroll
                for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
                    for (int half = 0; half < 2; half++) { // column (2 kk + half) 8 + 2 tq: n-tile 2 kk + half
                        const int col = kk * 16 + half * 8 + 2 * tq;
                        const uint32_t qw = qf[mt][kk][r + 2 * half], ow = dof[mt][kk][r + 2 * half];
                        x[2 * kk + half][0] = ds * bf_lo(qw), x[2 * kk + half][1] = ds * bf_hi(qw);
                        *reinterpret_cast<uint32_t *>(dvr + col) = pack_bf16(p * bf_lo(ow), p * bf_hi(ow));
                    }
                store_frag_row(dkr, x, rope != NULL, rr, tq);
            }
        }
}

// dK, dV for the compact keys. Grid (key tiles, n_kv, B), Cfg::kWarps warps of 16 MT keys; loops over the
// heads of the GQA group and the query tiles that can see the key tile. Dynamic smem: K, V tiles;
// Cfg::kStages stages of Q, dO tiles with their lse and Delta (cp.async as well: a plain load would stall the
// warps that store it to shared memory for a global-memory latency every iteration).
template <int D, class Cfg, class Keys>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    attn_bwd_dkdv_mma_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q, const floatX *k,
                             const floatX *v, const float *lse, const float *delta, int T, int n_h, int n_kv,
                             int ldq, int ldkv, const __grid_constant__ Keys keys, float scale_log2, float scale,
                             int q_chunk, float *part, const float2 *rope) {
    constexpr int BN = Cfg::kOwn, BM = Cfg::kStream, MT = Cfg::kMT, NT = Cfg::kThreads, S = Cfg::kStages;
    constexpr int LD = D + kPad;
    extern __shared__ __align__(16) unsigned char attn_smem[];
    floatX *sK = (floatX *)attn_smem;          // [BN][LD]
    floatX *sV = sK + BN * LD;                 // [BN][LD]
    floatX *sQ = sV + BN * LD;                 // [S][BM][LD]
    floatX *sdO = sQ + S * BM * LD;            // [S][BM][LD]
    float *sL = (float *)(sdO + S * BM * LD); // [S][BM] lse (natural log)
    float *sD = sL + S * BM;                   // [S][BM]

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    // Split (part != NULL): blockIdx.y = kv head + n_kv x split, and the block takes only the queries of
    // [split q_chunk, (split + 1) q_chunk) (a multiple of BM: whole query tiles), storing fp32 partial sums
    // for attn_dkdv_reduce_kernel; see dkdv_split_chunk.
    const DkdvBlock<D, BN, BM> blk(k, v, T, n_h, n_kv, ldq, ldkv, keys, q_chunk, part != NULL);
    if (blk.empty) return;
    const int kvh = blk.kvh, split = blk.split, b = blk.b, group = blk.group, n_keys = blk.n_keys, k0 = blk.k0,
              k1 = blk.k1, qt_begin = blk.qt_begin, qt_end = blk.qt_end, n_iter = blk.n_iter;
    const int w0 = k0 + warp * 16 * MT; // this warp's keys [w0, w0 + 16 MT)
    const size_t q_stride = blk.q_stride, kv_stride = blk.kv_stride;
    const floatX *kb = blk.kb, *vb = blk.vb;
    // The queries that can see this warp's keys (none when its keys start past n_keys): tiles outside are
    // skipped.
    const bool w_keys = w0 < n_keys;
    const int wqbeg = keys.query_begin(w0), wqend = w_keys ? min(T, keys.query_end(min(w0 + 16 * MT, n_keys))) : 0;
    auto krow = [&](int j) { return keys.key_row(j); };
    auto ident = [](int i) { return i; };

    // One iteration = (head of the group, query tile), query tiles inner. The loads run S - 1 iterations ahead
    // of the compute; each side steps its own position (a division by the tile count per iteration cost
    // registers that the 128-register shapes do not have).
    int ld_hh = 0, ld_qt = qt_begin; // the next iteration to load
    auto load_next = [&](int it) {   // ... which is iteration it: its Q, dO tiles and statistics into its stage
        const int buf = it % S;
        const int h = kvh * group + ld_hh, q0 = ld_qt * BM;
        if (++ld_qt == qt_end) ld_qt = qt_begin, ld_hh++;
        const floatX *qb = q + (size_t)b * T * q_stride + (size_t)h * D;
        const floatX *dob = dout + (size_t)b * T * blk.o_stride + (size_t)h * D;
        load_tile_async<D, BM, NT>(sQ + buf * BM * LD, qb, q_stride, q0, T, ident);
        load_tile_async<D, BM, NT>(sdO + buf * BM * LD, dob, blk.o_stride, q0, T, ident);
        const size_t stat = ((size_t)b * n_h + h) * T;
        for (int c = threadIdx.x; c < BM; c += NT) {
            const int i = q0 + c;
            const bool ok = i < T; // zero-filled past T (those queries are masked)
            cp_async<4>(sL + buf * BM + c, lse + stat + (ok ? i : 0), ok);
            cp_async<4>(sD + buf * BM + c, delta + stat + (ok ? i : 0), ok);
        }
    };

    // Pipeline as in the forward, over iterations; K and V ride with the first.
    load_tile_async<D, BN, NT>(sK, kb, kv_stride, k0, k1, krow);
    load_tile_async<D, BN, NT>(sV, vb, kv_stride, k0, k1, krow);
#pragma unroll
    for (int st = 0; st < S - 1; st++) {
        if (st < n_iter) load_next(st);
        cp_async_commit();
    }
    cp_async_wait<S - 2>();
    __syncthreads();

    // The A fragments of this warp's K and V rows, held in registers where they fit: with two row tiles per
    // warp the V ones, under a 128-register budget both, are re-read from shared memory for every 16-query
    // chunk instead (4 MT more ldmatrix each to the chunk's 16 MT); holding them there spills.
    constexpr bool kBudget128 = 65536 / (NT * Cfg::kMinBlocks) <= 128;
    constexpr bool kHoldK = !kBudget128, kHoldV = !kBudget128 && MT == 1;
    uint32_t kf[MT][D / 16][4], vf[MT][D / 16][4];
    if (kHoldK) load_a_frags<MT, D, LD>(kf, sK, w0 - k0);
    if (kHoldV) load_a_frags<MT, D, LD>(vf, sV, w0 - k0);
    float dka[MT][D / 8][4], dva[MT][D / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int nt = 0; nt < D / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) dka[mt][nt][e] = dva[mt][nt][e] = 0.0f;

    for (int it = 0, qt = qt_begin; it < n_iter; it++, qt = qt + 1 == qt_end ? qt_begin : qt + 1) {
        cp_async_wait<S - 2>();
        __syncthreads();
        if (it + S - 1 < n_iter) load_next(it + S - 1);
        cp_async_commit();
        const int buf = it % S;
        const int q0 = qt * BM;
        const floatX *cQ = sQ + buf * BM * LD, *cdO = sdO + buf * BM * LD;
        const float *cL = sL + buf * BM, *cD = sD + buf * BM;

        if (w_keys && q0 < wqend && q0 + BM > wqbeg) { // warp-uniform
            // Queries past T are masked too: their Q, dO rows are zeros but dS must not be NaN. (Keys past
            // n_keys need no test: a valid pair with a query before T has a key before n_keys.)
            const bool full = keys.all_valid(q0, q0 + BM, w0, w0 + 16 * MT) && q0 + BM <= T;
            // 16 queries at a time: S^T = K Q^T and dP^T = V dO^T for them (16 MT keys x 16 queries per
            // warp), P^T and dS^T, then dV += P^T dO and dK += dS^T Q with those as the A operands of one k-step.
#pragma unroll 1 // as in the dq kernel
            for (int c = 0; c < BM / 16; c++) {
                if (!kHoldK) load_a_frags<MT, D, LD>(kf, sK, w0 - k0);
                if (!kHoldV) load_a_frags<MT, D, LD>(vf, sV, w0 - k0);
                float st[MT][2][4], dpt[MT][2][4];
                chunk_products<MT, D, LD>(st, dpt, kf, vf, cQ, cdO, c);
                // The statistics of this thread's 4 query columns c16 + 8 n + 2 tq + (0, 1).
                float l2[2][2], dl[2][2];
#pragma unroll
                for (int n = 0; n < 2; n++) {
                    const float2 lv = *reinterpret_cast<const float2 *>(cL + c * 16 + n * 8 + 2 * tq);
                    const float2 dv2 = *reinterpret_cast<const float2 *>(cD + c * 16 + n * 8 + 2 * tq);
                    l2[n][0] = lv.x * kLog2e, l2[n][1] = lv.y * kLog2e;
                    dl[n][0] = dv2.x, dl[n][1] = dv2.y;
                }
                // P^T, the mask in one branch around the chunk (see the dq kernel), then dS^T.
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int n = 0; n < 2; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++)
                            st[mt][n][e] = exp2_approx(fmaf(st[mt][n][e], scale_log2, -l2[n][e & 1]));
                if (!full) {
#pragma unroll
                    for (int mt = 0; mt < MT; mt++)
#pragma unroll
                        for (int n = 0; n < 2; n++)
#pragma unroll
                            for (int e = 0; e < 4; e++) {
                                const int i = q0 + c * 16 + n * 8 + 2 * tq + (e & 1);
                                const int j = w0 + mt * 16 + g + 8 * (e >> 1);
                                st[mt][n][e] = i < T && keys.grad_valid(i, j) ? st[mt][n][e] : 0.0f;
                            }
                }
                uint32_t pa[MT][4], da[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
#pragma unroll
                    for (int n = 0; n < 2; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++) dpt[mt][n][e] = st[mt][n][e] * (dpt[mt][n][e] - dl[n][e & 1]);
                    pack_a_frag(pa[mt], st[mt][0], st[mt][1]);
                    pack_a_frag(da[mt], dpt[mt][0], dpt[mt][1]);
                }
                // B operands via ldmatrix.trans of the row-major tiles (k = queries).
#pragma unroll
                for (int dpi = 0; dpi < D / 16; dpi++) {
                    uint32_t of4[4], qf4[4];
                    ldmatrix_x4_trans(of4, b_frag_addr_trans(cdO, LD, c * 16, dpi * 16));
                    ldmatrix_x4_trans(qf4, b_frag_addr_trans(cQ, LD, c * 16, dpi * 16));
                    const uint32_t o0f[2] = {of4[0], of4[1]}, o1f[2] = {of4[2], of4[3]};
                    const uint32_t q0f[2] = {qf4[0], qf4[1]}, q1f[2] = {qf4[2], qf4[3]};
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma_bf16_16816(dva[mt][2 * dpi], pa[mt], o0f);
                        mma_bf16_16816(dva[mt][2 * dpi + 1], pa[mt], o1f);
                        mma_bf16_16816(dka[mt][2 * dpi], da[mt], q0f);
                        mma_bf16_16816(dka[mt][2 * dpi + 1], da[mt], q1f);
                    }
                }
            }
        }
    }

    if (part) { // fp32 partial sums, [2][n_split][B][n_kv][n_keys][D] (dk, then dv), scaled as below
        const size_t plane = (size_t)gridDim.z * n_kv * n_keys * D, n_split = gridDim.y / n_kv;
        float *pk = part + (split * plane) + ((size_t)b * n_kv + kvh) * n_keys * D, *pv = pk + n_split * plane;
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const int j = w0 + mt * 16 + g + 8 * r;
                if (j >= n_keys) continue;
#pragma unroll
                for (int nt = 0; nt < D / 8; nt++) {
                    const int col = nt * 8 + 2 * tq;
                    *reinterpret_cast<float2 *>(pk + (size_t)j * D + col) =
                        make_float2(dka[mt][nt][2 * r] * scale, dka[mt][nt][2 * r + 1] * scale);
                    *reinterpret_cast<float2 *>(pv + (size_t)j * D + col) =
                        make_float2(dva[mt][nt][2 * r], dva[mt][nt][2 * r + 1]);
                }
            }
        return;
    }
    // Rounded to bf16 pairs first, so that the address arithmetic below does not need registers on top of
    // the fp32 accumulators (at a 128-register budget it would spill); dk rotated back through RoPE before.
    uint32_t dkp[MT][D / 8][2], dvp[MT][D / 8][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float x[8][2];
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) {
                x[nt][0] = dka[mt][nt][2 * r] * scale, x[nt][1] = dka[mt][nt][2 * r + 1] * scale;
                dvp[mt][nt][r] = pack_bf16(dva[mt][nt][2 * r], dva[mt][nt][2 * r + 1]);
            }
            const int j = w0 + mt * 16 + g + 8 * r;
            if (rope) {
                RopeRow rr;
                rope_row_load(rr, rope, keys.key_row(j < n_keys ? j : 0), tq);
                rope_rotate_frag(x, rr);
            }
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) dkp[mt][nt][r] = pack_bf16(x[nt][0], x[nt][1]);
        }
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int j = w0 + mt * 16 + g + 8 * r;
            if (j >= n_keys) continue;
            const size_t off = ((size_t)b * T + keys.key_row(j)) * kv_stride + (size_t)kvh * D;
#pragma unroll
            for (int nt = 0; nt < D / 8; nt++) {
                const int col = nt * 8 + 2 * tq;
                *reinterpret_cast<uint32_t *>(dk + off + col) = dkp[mt][nt][r];
                *reinterpret_cast<uint32_t *>(dv + off + col) = dvp[mt][nt][r];
            }
        }
}

// The split dk/dv kernel's partial sums of key j over the splits whose query range holds a pair of it, in split
// order (deterministic), rounded to bf16 into the key's row of dk, dv. One thread per 8 columns of (b, kv head,
// key). The skip test is the dk/dv kernel's for an empty block, per key (a key of an empty block has no pair
// there either; a key with no pair in a non-empty block has a zero partial, skipped or not).
template <int D, class Keys>
__global__ void attn_dkdv_reduce_kernel(floatX *dk, floatX *dv, const float *part, int B, int T, int n_kv, int ldkv,
                                        const __grid_constant__ Keys keys, int q_chunk, int n_split,
                                        const float2 *rope) {
    static_assert(D == 64, "eight threads of eight columns per row; columns c and c + 32 are RoPE's pairs");
    const int n_keys = keys.n_keys();
    const size_t idx_raw = (size_t)blockIdx.x * blockDim.x + threadIdx.x, n = (size_t)B * n_kv * n_keys * (D / 8);
    // Out-of-range threads sum row 0 and store nothing: RoPE's partner is read through a shuffle by all lanes.
    const bool store = idx_raw < n;
    const size_t idx = store ? idx_raw : 0;
    const int c8 = (int)(idx % (D / 8));
    const size_t row = idx / (D / 8); // (b n_kv + kvh) n_keys + j
    const int j = (int)(row % n_keys), kvh = (int)((row / n_keys) % n_kv);
    const size_t b = row / n_keys / n_kv;
    const int qb = keys.query_begin(j), qe = min(T, keys.query_end(j + 1));
    const size_t plane = (size_t)B * n_kv * n_keys * D;
    float sk[8], sv[8];
#pragma unroll
    for (int c = 0; c < 8; c++) sk[c] = sv[c] = 0.0f;
    for (int s = 0; s < n_split; s++) {
        if (max(qb, s * q_chunk) >= min(qe, (s + 1) * q_chunk)) continue;
        const float4 *pk = reinterpret_cast<const float4 *>(part + s * plane + row * D + c8 * 8);
        const float4 *pv = reinterpret_cast<const float4 *>(part + (n_split + s) * plane + row * D + c8 * 8);
        const float4 k4[2] = {pk[0], pk[1]}, v4[2] = {pv[0], pv[1]};
        const float *kf = &k4[0].x, *vf = &v4[0].x; // float4[2]: 8 contiguous floats
#pragma unroll
        for (int c = 0; c < 8; c++) sk[c] += kf[c], sv[c] += vf[c];
    }
    const int pos = keys.key_row(j);
    if (rope) rope_back_lanes8(sk, rope, pos, c8); // eight threads per row (c8 = lane % 8)
    if (!store) return;
    x128 ko, vo;
#pragma unroll
    for (int c = 0; c < 8; c++) ko[c] = f2bf(sk[c]), vo[c] = f2bf(sv[c]);
    const size_t off = (b * T + pos) * ldkv + (size_t)kvh * D + c8 * 8;
    store128(dk + off, ko);
    store128(dv + off, vo);
}

// Checkpoint attention, tensor-core path: the self term of every row that is not a checkpoint (the only term
// those rows' dk / dv have): dk_j = scale sum_h dl_jh q_jh, dv_j = sum_h p_jh dO_jh over the GQA group, with
// p = exp(q.k scale - lse), dl = p (dO.v - Delta). Eight lanes per (b, j, kv head) row, 8 head-dim elements
// (16 bytes) each, so every load is a full 128-byte row; the dot products reduce over the 8 lanes.
template <int D>
__global__ void attn_ckpt_self_dkdv_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q,
                                           const floatX *k, const floatX *v, const float *lse, const float *delta,
                                           int B, int T, int n_h, int n_kv, int ldq, int ldkv, int seg, float scale,
                                           const float2 *rope) {
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
    const size_t kvoff = ((size_t)b * T + j) * ldkv + (size_t)kvh * D + col; // in k, v, dk, dv
    const x128 kx = load128(k + kvoff), vx = load128(v + kvoff);
    float dka[8], dva[8];
#pragma unroll
    for (int c = 0; c < 8; c++) dka[c] = dva[c] = 0.0f;
    for (int hh = 0; hh < group; hh++) {
        const int h = kvh * group + hh;
        const size_t qoff = ((size_t)b * T + j) * ldq + (size_t)h * D + col;
        const size_t ooff = (((size_t)b * T + j) * n_h + h) * D + col;
        const x128 qx = load128(q + qoff), ox = load128(dout + ooff);
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
    if (rope) rope_back_lanes8(dka, rope, j, sub); // all lanes take part (out-of-range ones on row 0)
    if (!store_row || is_ckpt) return;
    x128 ko, vo;
#pragma unroll
    for (int c = 0; c < 8; c++) ko[c] = f2bf(dka[c]), vo[c] = f2bf(dva[c]);
    store128(dk + kvoff, ko);
    store128(dv + kvoff, vo);
}

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels: general path (one warp per row, lanes over the head dim)

// Forward, one warp per query row (b, i, h).
template <class Keys>
__global__ void attn_fwd_general_kernel(floatX *out, float *lse, const floatX *q, const floatX *k, const floatX *v,
                                        int B, int T, int n_h, int n_kv, int d, int ldq, int ldkv, Keys keys,
                                        float scale) {
    const size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= (size_t)B * T * n_h) return;
    const int lane = threadIdx.x % 32;
    const int h = (int)(row % n_h), i = (int)((row / n_h) % T), b = (int)(row / n_h / T);
    const int kvh = h / (n_h / n_kv);
    const size_t kv_stride = (size_t)ldkv;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * d;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * d;
    const floatX *qr = q + ((size_t)b * T + i) * ldq + (size_t)h * d; // row * d is out's (b, i, h) row
    float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++) {
        const int col = lane + 32 * c;
        qv[c] = col < d ? bf2f(qr[col]) : 0.0f;
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
                                           int n_h, int n_kv, int d, int ldq, int ldkv, Keys keys, float scale) {
    const size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= (size_t)B * T * n_h) return;
    const int lane = threadIdx.x % 32;
    const int h = (int)(row % n_h), i = (int)((row / n_h) % T), b = (int)(row / n_h / T);
    const int kvh = h / (n_h / n_kv);
    const size_t kv_stride = (size_t)ldkv;
    const floatX *kb = k + (size_t)b * T * kv_stride + (size_t)kvh * d;
    const floatX *vb = v + (size_t)b * T * kv_stride + (size_t)kvh * d;
    const size_t stat = ((size_t)b * n_h + h) * T + i;
    const size_t qoff = ((size_t)b * T + i) * ldq + (size_t)h * d; // of q and dq; row * d is dout's
    const float row_lse = lse[stat], dlt = delta[stat];
    float qv[kMaxPerLane], dov[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++) {
        const int col = lane + 32 * c;
        qv[c] = col < d ? bf2f(q[qoff + col]) : 0.0f;
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
        if (lane + 32 * c < d) dq[qoff + lane + 32 * c] = f2bf(acc[c]);
}

// dK, dV, one warp per key row (b, j, kv head), summing over the group's heads and the queries that see key
// j: the window's j..j+W-1, or for checkpoint attention the query j itself (self) and, when j is a
// checkpoint, every later query.
template <class Keys>
__global__ void attn_bwd_dkdv_general_kernel(floatX *dk, floatX *dv, const floatX *dout, const floatX *q,
                                             const floatX *k, const floatX *v, const float *lse, const float *delta,
                                             int B, int T, int n_h, int n_kv, int d, int ldq, int ldkv, Keys keys,
                                             float scale) {
    const size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= (size_t)B * T * n_kv) return;
    const int lane = threadIdx.x % 32;
    const int kvh = (int)(row % n_kv), j = (int)((row / n_kv) % T), b = (int)(row / n_kv / T);
    const int group = n_h / n_kv;
    bool is_ckpt = false;
    if constexpr (Keys::kSelfSeed) is_ckpt = (j + 1) % keys.seg == 0;
    const size_t q_stride = (size_t)ldq, o_stride = (size_t)n_h * d;
    const size_t kvoff = ((size_t)b * T + j) * ldkv + (size_t)kvh * d; // of k, v, dk, dv
    float kv_k[kMaxPerLane], kv_v[kMaxPerLane], dka[kMaxPerLane], dva[kMaxPerLane];
#pragma unroll
    for (int c = 0; c < kMaxPerLane; c++) {
        const int col = lane + 32 * c;
        kv_k[c] = col < d ? bf2f(k[kvoff + col]) : 0.0f;
        kv_v[c] = col < d ? bf2f(v[kvoff + col]) : 0.0f;
        dka[c] = dva[c] = 0.0f;
    }
    for (int hh = 0; hh < group; hh++) {
        const int h = kvh * group + hh;
        auto step = [&](int i) { // attention_key_backward of the CPU reference, dk / dv part
            const floatX *qr = q + ((size_t)b * T + i) * q_stride + (size_t)h * d;
            const floatX *dor = dout + ((size_t)b * T + i) * o_stride + (size_t)h * d;
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
            dk[kvoff + lane + 32 * c] = f2bf(dka[c]);
            dv[kvoff + lane + 32 * c] = f2bf(dva[c]);
        }
}

} // namespace attn

#include "cuda/attention_sm90.cuh"

namespace attn {

// ----------------------------------------------------------------------------------------------------------
// kernel launchers (shared by both attentions)

constexpr int kMmaD = 64; // the head dim the tensor-core path is instantiated for (every SCOUT config)

// The tensor-core kernels copy 16-byte chunks: every tensor and every row (ldq, ldkv: multiples of 8) aligned.
static inline bool use_mma(int d, int ldq, int ldkv, const void *a, const void *b, const void *c, const void *e,
                           const void *f, const void *g2) {
    return d == kMmaD && !scout_cuda_attention_general_() && ldq % 8 == 0 && ldkv % 8 == 0 && aligned16(a) &&
           aligned16(b) && aligned16(c) && aligned16(e) && (!f || aligned16(f)) && (!g2 || aligned16(g2));
}

static inline void check_heads(int n_h, int n_kv, int d, int B, int ldq, int ldkv) {
    scout_require(ldq >= n_h * d && ldkv >= n_kv * d, "attention: row strides %d, %d under the heads' %d, %d", ldq,
                  ldkv, n_h * d, n_kv * d);
    scout_require(n_kv >= 1 && n_h % n_kv == 0, "attention: n_h = %d is not a multiple of n_kv = %d", n_h, n_kv);
    scout_require(d >= 2 && d % 2 == 0 && d <= 32 * kMaxPerLane, "attention: head dim %d not even or over %d", d,
                  32 * kMaxPerLane);
    scout_require(n_h <= 65535 && B <= 65535, "attention: n_h = %d or B = %d over the grid limit", n_h, B);
}

// Dynamic shared memory per block of each tensor-core kernel for a tile shape (see the kernels' layouts).
// The warpgroup kernels' tiles are unpadded (swizzled) and start 1024-byte aligned: up to 1008 bytes more.
template <class Cfg> constexpr size_t tile_row_bytes() {
    return (size_t)(kMmaD + (Cfg::kWgmma ? 0 : kPad)) * sizeof(floatX);
}
template <class Cfg> constexpr size_t align_slack() { return Cfg::kWgmma ? wg::kAtomBytes : 0; }
template <class Cfg> constexpr size_t fwd_smem_bytes() {
    return (size_t)(Cfg::kOwn + 2 * Cfg::kStages * Cfg::kStream) * tile_row_bytes<Cfg>() + align_slack<Cfg>();
}
template <class Cfg> constexpr size_t dq_smem_bytes() {
    return (size_t)(2 * Cfg::kOwn + 2 * Cfg::kStages * Cfg::kStream) * tile_row_bytes<Cfg>() + align_slack<Cfg>();
}
template <class Cfg> constexpr size_t dkdv_smem_bytes() {
    return (size_t)(2 * Cfg::kOwn + 2 * Cfg::kStages * Cfg::kStream) * tile_row_bytes<Cfg>() +
           2 * Cfg::kStages * Cfg::kStream * sizeof(float) + align_slack<Cfg>();
}
// The kernel of each shape: mma.sync (Tile<>) or warpgroup MMA (WgTile<>).
template <class Cfg, class Keys> constexpr auto fwd_kernel() {
    if constexpr (Cfg::kWgmma) return attn_fwd_wg_kernel<kMmaD, Cfg, Keys>;
    else return attn_fwd_mma_kernel<kMmaD, Cfg, Keys>;
}
template <class Cfg, class Keys> constexpr auto dq_kernel() {
    if constexpr (Cfg::kWgmma) return attn_bwd_dq_wg_kernel<kMmaD, Cfg, Keys>;
    else return attn_bwd_dq_mma_kernel<kMmaD, Cfg, Keys>;
}
template <class Cfg, class Keys> constexpr auto dkdv_kernel() {
    if constexpr (Cfg::kWgmma) return attn_bwd_dkdv_wg_kernel<kMmaD, Cfg, Keys>;
    else return attn_bwd_dkdv_mma_kernel<kMmaD, Cfg, Keys>;
}

// Lets `kernel` launch with `bytes` of dynamic shared memory (over 48 KB needs the opt-in), and asks for the
// largest shared-memory carveout of the unified L1, so that the blocks per SM the tile shape was sized for
// (Tile's MIN_BLOCKS) fit: the kernels stage all their tiles in shared memory and load with cp.async.cg, which
// bypasses L1. Called as the initialiser of a function-local static in the launch code, so once per kernel
// instantiation.
template <class Kernel> static bool smem_opt_in(Kernel kernel, size_t bytes) {
    cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                   (int)cudaSharedmemCarveoutMaxShared));
    return true;
}

template <class Keys>
static void attention_forward(void *out, float *lse, const void *q, const void *k, const void *v, int ldq, int ldkv,
                              int B, int T, int n_h, int n_kv, int d, Keys keys, int reverse, cudaStream_t stream) {
    if (B <= 0 || T <= 0 || n_h <= 0) return;
    check_heads(n_h, n_kv, d, B, ldq, ldkv);
    const float scale = 1.0f / sqrtf((float)d);
    if (use_mma(d, ldq, ldkv, out, q, k, v, NULL, NULL)) {
        FwdTiles::visit(tile_choice().fwd, [&](auto tile) {
            using Cfg = decltype(tile);
            auto kernel = fwd_kernel<Cfg, Keys>();
            constexpr size_t smem = fwd_smem_bytes<Cfg>();
            static const bool opted = smem_opt_in(kernel, smem);
            (void)opted;
            kernel<<<dim3(ceil_div(T, Cfg::kOwn), n_h, B), Cfg::kThreads, smem, stream>>>(
                (floatX *)out, lse, (const floatX *)q, (const floatX *)k, (const floatX *)v, T, n_h, n_kv, ldq, ldkv,
                keys, scale * kLog2e, reverse);
        });
    } else {
        size_t rows = (size_t)B * T * n_h;
        attn_fwd_general_kernel<Keys><<<(unsigned)ceil_div_sz(rows, 4), 128, 0, stream>>>(
            (floatX *)out, lse, (const floatX *)q, (const floatX *)k, (const floatX *)v, B, T, n_h, n_kv, d, ldq, ldkv,
            keys, scale);
    }
    cudaCheck(cudaGetLastError());
}

// The dk/dv kernel's split over queries (Keys::kSplitQueries, checkpoint attention): every query after a
// checkpoint sees it, so the block of the first key tile would loop over all T / BM query tiles and the last
// ones over a few; one block per key tile left most of the GPU idle behind the first tiles (1.9x the mean work
// at T = 2048, 2x at 32K, ncu). The queries are cut into at most kMaxSplit chunks of at least kMinChunk (whole
// tiles of every shape), and a block takes one (key tile, chunk). Returns the chunk in queries, 0 for no split.
constexpr int kMaxSplit = 8, kMinChunk = 1024, kChunkAlign = 128;
template <class Keys> static inline int dkdv_split_chunk(int T) {
    if (!Keys::kSplitQueries) return 0;
    int chunk = (T + kMaxSplit - 1) / kMaxSplit;
    chunk = (chunk + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
    if (chunk < kMinChunk) chunk = kMinChunk;
    return chunk >= T ? 0 : chunk;
}
// Workspace: Delta [B, n_h, T] fp32, then (split) the partial sums [2][n_split][B][n_kv][n_keys][D] fp32, which
// start at delta_ws_bytes (256-byte aligned).
static inline size_t delta_ws_bytes(int B, int T, int n_h) {
    return ((size_t)B * n_h * T * sizeof(float) + 255) / 256 * 256;
}
template <class Keys> static inline size_t attention_backward_workspace(int B, int T, int n_h, int n_kv, int d, Keys keys) {
    const size_t delta = delta_ws_bytes(B, T, n_h);
    const int chunk = dkdv_split_chunk<Keys>(T);
    if (!chunk) return delta;
    const size_t n_split = (size_t)((T + chunk - 1) / chunk);
    return delta + 2 * n_split * B * n_kv * keys.n_keys() * d * sizeof(float);
}

template <class Keys>
static void attention_backward(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                               const void *v, const void *out, const float *lse, void *ws, int ldq, int ldkv, int B,
                               int T, int n_h, int n_kv, int d, Keys keys, int reverse, float rope_theta,
                               cudaStream_t stream) {
    if (B <= 0 || T <= 0 || n_h <= 0) return;
    check_heads(n_h, n_kv, d, B, ldq, ldkv);
    const float scale = 1.0f / sqrtf((float)d);
    float *delta = (float *)ws; // [B, n_h, T]
    size_t rows = (size_t)B * T * n_h;
    if (d == kMmaD && aligned16(dout) && aligned16(out))
        attn_delta_vec_kernel<kMmaD><<<(unsigned)ceil_div_sz(rows * 8, 256), 256, 0, stream>>>(
            delta, (const floatX *)dout, (const floatX *)out, T, n_h, rows);
    else
        attn_delta_kernel<<<(unsigned)ceil_div_sz(rows, 8), 256, 0, stream>>>(delta, (const floatX *)dout,
                                                                             (const floatX *)out, T, n_h, d, rows);
    cudaCheck(cudaGetLastError());
    const size_t kv_rows = (size_t)B * T * n_kv;
    if (use_mma(d, ldq, ldkv, dq, dk, dv, dout, q, k) && aligned16(v)) {
        // RoPE's backward in the kernels' stores of dq, dk (positions 0..T-1, the forward's table).
        const float2 *rope = rope_theta > 0.0f ? rope_angle_table(T, d, 0, rope_theta, stream) : NULL;
        // Checkpoint attention without GQA: the dq kernel writes the self-only rows of dk, dv too.
        const bool fuse_self = Keys::kSelfSeed && n_h == n_kv;
        // The dk/dv kernels (and their reduction) run on a second stream beside the dq kernel: they read the same
        // inputs and write disjoint rows (dq; the self-only rows of dk, dv; the key rows or the workspace's
        // partial sums), and each can fill the SMs the other's tail leaves idle (window backward 0.52 -> 0.50 ms at
        // 8 x 2048, sixth round). Where the dq kernel's grid fills every SM (checkpoint attention at 8 x 2048) the
        // two barely overlap: the backward then takes their sum (ncu, eighth round).
        const int n_keys = keys.n_keys();
        cudaStream_t kv_stream = n_keys > 0 ? scout_cuda_fork(stream) : stream;
        DqTiles::visit(tile_choice().dq, [&](auto tile) {
            using Cfg = decltype(tile);
            auto kernel = dq_kernel<Cfg, Keys>();
            constexpr size_t smem = dq_smem_bytes<Cfg>();
            static const bool opted = smem_opt_in(kernel, smem);
            (void)opted;
            kernel<<<dim3(ceil_div(T, Cfg::kOwn), n_h, B), Cfg::kThreads, smem, stream>>>(
                (floatX *)dq, (const floatX *)dout, (const floatX *)q, (const floatX *)k, (const floatX *)v, lse,
                delta, T, n_h, n_kv, ldq, ldkv, keys, scale * kLog2e, scale, reverse, fuse_self ? (floatX *)dk : NULL,
                fuse_self ? (floatX *)dv : NULL, rope);
        });
        cudaCheck(cudaGetLastError());
        if (n_keys > 0) {
            const int chunk = dkdv_split_chunk<Keys>(T), n_split = chunk ? ceil_div(T, chunk) : 1;
            float *part = chunk ? (float *)((char *)ws + delta_ws_bytes(B, T, n_h)) : NULL;
            scout_require((size_t)n_kv * n_split <= 65535, "attention: n_kv = %d x %d splits over the grid limit",
                          n_kv, n_split);
            DkdvTiles::visit(tile_choice().dkdv, [&](auto tile) {
                using Cfg = decltype(tile);
                auto kernel = dkdv_kernel<Cfg, Keys>();
                constexpr size_t smem = dkdv_smem_bytes<Cfg>();
                static const bool opted = smem_opt_in(kernel, smem);
                (void)opted;
                kernel<<<dim3(ceil_div(n_keys, Cfg::kOwn), n_kv * n_split, B), Cfg::kThreads, smem, kv_stream>>>(
                    (floatX *)dk, (floatX *)dv, (const floatX *)dout, (const floatX *)q, (const floatX *)k,
                    (const floatX *)v, lse, delta, T, n_h, n_kv, ldq, ldkv, keys, scale * kLog2e, scale, chunk, part,
                    rope);
            });
            cudaCheck(cudaGetLastError());
            if (part) {
                const size_t threads = (size_t)B * n_kv * n_keys * (kMmaD / 8);
                attn_dkdv_reduce_kernel<kMmaD, Keys><<<(unsigned)ceil_div_sz(threads, 256), 256, 0, kv_stream>>>(
                    (floatX *)dk, (floatX *)dv, part, B, T, n_kv, ldkv, keys, chunk, n_split, rope);
                cudaCheck(cudaGetLastError());
            }
            scout_cuda_join(stream);
        }
        if constexpr (Keys::kSelfSeed) { // the rows that are no checkpoint, with GQA: self term only
            if (!fuse_self) {
                attn_ckpt_self_dkdv_kernel<kMmaD><<<(unsigned)ceil_div_sz(kv_rows * 8, 256), 256, 0, stream>>>(
                    (floatX *)dk, (floatX *)dv, (const floatX *)dout, (const floatX *)q, (const floatX *)k,
                    (const floatX *)v, lse, delta, B, T, n_h, n_kv, ldq, ldkv, keys.seg, scale, rope);
                cudaCheck(cudaGetLastError());
            }
        }
    } else {
        attn_bwd_dq_general_kernel<Keys><<<(unsigned)ceil_div_sz(rows, 4), 128, 0, stream>>>(
            (floatX *)dq, (const floatX *)dout, (const floatX *)q, (const floatX *)k, (const floatX *)v, lse, delta, B,
            T, n_h, n_kv, d, ldq, ldkv, keys, scale);
        cudaCheck(cudaGetLastError());
        attn_bwd_dkdv_general_kernel<Keys><<<(unsigned)ceil_div_sz(kv_rows, 4), 128, 0, stream>>>(
            (floatX *)dk, (floatX *)dv, (const floatX *)dout, (const floatX *)q, (const floatX *)k, (const floatX *)v,
            lse, delta, B, T, n_h, n_kv, d, ldq, ldkv, keys, scale);
        cudaCheck(cudaGetLastError());
        if (rope_theta > 0.0f) { // the general kernels leave RoPE's backward to its own op
            rope_backward_cuda(dq, ldq, B, T, n_h, d, 0, rope_theta, stream);
            rope_backward_cuda(dk, ldkv, B, T, n_kv, d, 0, rope_theta, stream);
        }
    }
}

} // namespace attn

#endif
