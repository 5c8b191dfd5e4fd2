// wgmma.cuh: thin wrappers over Hopper's warpgroup-level tensor-core instruction (wgmma.mma_async, sm_90a) as
// the attention kernels use it: m64n64k16, bf16 inputs, fp32 accumulators, B (and optionally A) read straight
// from shared memory through a matrix descriptor. Under SCOUT_CUDA_EMU the same functions run on the CPU
// emulator (tests/gpu/emu), which implements the layouts below, so a kernel that indexes them wrongly fails
// there; kernels/cuda/wgmma_selftest.cu checks the emulator's reading of the layouts against the device.
//
// One warpgroup (4 consecutive warps, 128 threads) issues each wgmma together. Layouts (PTX ISA, "Register
// Fragments and Shared Memory Matrix Layouts" of wgmma), thread x of the warpgroup, warp w = x / 32, lane l,
// g = l / 4, t = l % 4:
// - D (64 x 64 fp32), d[8][4]: d[j][e] = D[16 w + g + 8 (e / 2)][8 j + 2 t + e % 2] -- per warp exactly the C
//   fragments of eight mma.m16n8 tiles (mma.cuh), so the flash-attention code that works on those works here.
// - A from registers (64 x 16 bf16), a[4]: warp w holds rows 16 w .. 16 w + 15 in mma.m16n8k16's A layout.
// - Shared-memory tiles: rows of 64 bf16 (128 bytes), "128-byte swizzle": the 16-byte chunk c of row r is
//   stored at chunk c ^ (r % 8), the tile 1024-byte aligned. (The same swizzle spreads cp.async's writes and
//   the tensor core's reads over all banks.) One such tile [R][64] serves as
//     K-major operand: its rows are the M (A) or N (B) index, its columns K;
//     MN-major operand (B only, "transposed"): its rows are K, its columns N.
//   so a K or V tile is the B of S = Q K^T (K-major) and of O = P V (MN-major) without being copied twice.
//   A k-step (16 of K) starts 32 bytes further (K-major) or 16 rows = 2048 bytes further (MN-major).
#ifndef SCOUT_CUDA_WGMMA_CUH
#define SCOUT_CUDA_WGMMA_CUH

#include "cuda/common.cuh"

// The warpgroup kernels exist only where the compiler targets sm_90a (the "a" features are not forward
// compatible); elsewhere they compile to a trap and the launchers never pick them (attention_sm90_built()).
#if defined(SCOUT_CUDA_EMU) || (defined(__CUDA_ARCH_FEAT_SM90_ALL))
#define SCOUT_WGMMA_DEVICE 1
#endif

namespace wg {

constexpr int kRowBytes = 128;  // one tile row: 64 bf16
constexpr int kAtomBytes = 1024; // eight rows: the swizzle pattern's period, and the tiles' alignment

// The first 1024-byte aligned byte at or after p (dynamic shared memory is only 16-byte aligned): the swizzle is
// a function of the shared-memory address, so the tiles must start on its period. Alignment in the shared
// window, which is what the tensor core sees (the emulator's host addresses: tests/gpu/emu aligns them so).
__device__ __forceinline__ unsigned char *align_smem(unsigned char *p) {
#ifdef SCOUT_CUDA_EMU
    const uint32_t a = (uint32_t)(uintptr_t)p;
#else
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
#endif
    return p + ((kAtomBytes - (a & (kAtomBytes - 1))) & (kAtomBytes - 1));
}

// Element offset of (row, col) in a swizzled [R][64] bf16 tile.
__host__ __device__ __forceinline__ int swz(int row, int col) {
    return row * 64 + ((((col >> 3) ^ row) & 7) << 3) + (col & 7);
}

// Matrix descriptor of a swizzled smem tile: start address, leading and stride byte offsets (all >> 4), swizzle
// mode 1 = 128 bytes. K-major: eight-row groups 1024 bytes apart (stride offset); the leading offset is unused
// with this swizzle. MN-major with N = 64 (one swizzle atom wide): the eight-row groups of K are 1024 bytes
// apart; that stride is put in both offsets, so the descriptor reads the same whichever of the two the unit
// takes for it. A kernel builds one per tile buffer up front and steps it with `+ bytes` (one integer add on
// the address field: the k-steps, stages and row offsets), instead of converting a pointer per product (that
// conversion was ~6 instructions per wgmma, a fifth of the backward kernels' instruction count).
struct Desc {
#ifdef SCOUT_CUDA_EMU
    const char *p; // the emulator reads the tile through the pointer
    __device__ Desc operator+(int bytes) const { return Desc{p + bytes}; }
#else
    // The low word (address >> 4, leading byte offset); the high word (stride byte offset 1024, 128-byte swizzle)
    // is the same for every tile here, kDescHi, and joined in the asm: 32-bit adds instead of 64-bit ones with a
    // carry, and values the compiler can keep in uniform registers.
    uint32_t lo;
    __device__ Desc operator+(int bytes) const { return Desc{lo + (uint32_t)(bytes >> 4)}; }
#endif
};
constexpr uint32_t kDescHi = (uint32_t)(kAtomBytes >> 4) | (1u << 30);
__device__ __forceinline__ Desc desc(const floatX *tile, bool mn_major) {
#ifdef SCOUT_CUDA_EMU
    (void)mn_major;
    return Desc{(const char *)tile};
#else
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(tile);
    const uint32_t lbo = mn_major ? kAtomBytes >> 4 : 1;
    return Desc{((addr & 0x3FFFF) >> 4) | (lbo << 16)};
#endif
}
// The descriptor of k-step kk: K-major 16 columns (32 bytes) further, MN-major 16 rows (2048 bytes).
template <bool MN_MAJOR> __device__ __forceinline__ Desc kstep(Desc d, int kk) {
    return d + (MN_MAJOR ? kk * 16 * kRowBytes : kk * 32);
}

// Orders this thread's register writes (accumulators, A fragments) before the next wgmma reads them.
__device__ __forceinline__ void fence() {
#if defined(SCOUT_WGMMA_DEVICE) && !defined(SCOUT_CUDA_EMU)
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void commit() {
#ifdef SCOUT_CUDA_EMU
    emu_wgmma_commit();
#elif defined(SCOUT_WGMMA_DEVICE)
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void wait() {
#ifdef SCOUT_CUDA_EMU
    emu_wgmma_wait(N);
#elif defined(SCOUT_WGMMA_DEVICE)
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// Makes this thread's completed generic-proxy writes to shared memory (cp.async, st.shared) visible to the
// async proxy that wgmma reads its shared-memory operands through; then a barrier for the other threads'.
__device__ __forceinline__ void fence_smem_for_async() {
#if defined(SCOUT_WGMMA_DEVICE) && !defined(SCOUT_CUDA_EMU)
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
// Keeps the compiler from moving reads of the accumulators across the wgmma that writes them asynchronously.
__device__ __forceinline__ void pin(float (&d)[8][4]) {
#if defined(SCOUT_WGMMA_DEVICE) && !defined(SCOUT_CUDA_EMU)
#pragma unroll
    for (int j = 0; j < 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) asm volatile("" : "+f"(d[j][e])::"memory");
#else
    (void)d;
#endif
}

#define SCOUT_WG_D32                                                                                          \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
    "%23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define SCOUT_WG_D32_OPS(d)                                                                                        \
    "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),      \
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),  \
        "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]),  \
        "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]),  \
        "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])

// d (+)= A B, A (64 x 16) the K-major smem tile of descriptor a (its row 0 = the warpgroup's row 0, column 0 =
// this k-step), B (16 x 64) the smem tile of b, K-major (B = tile^T: rows n, columns k) or MN-major (B = tile:
// rows k), its descriptor made with mn_major = B_MN_MAJOR. accumulate = false: d = A B.
template <bool B_MN_MAJOR>
__device__ __forceinline__ void mma_ss(float (&d)[8][4], Desc a, Desc b, bool accumulate) {
#ifdef SCOUT_CUDA_EMU
    emu_wgmma_m64n64k16(&d[0][0], NULL, a.p, b.p, B_MN_MAJOR, accumulate);
#elif defined(SCOUT_WGMMA_DEVICE)
    asm volatile("{\n.reg .pred p;\n.reg .b64 da, db;\nsetp.ne.b32 p, %35, 0;\n"
                 "mov.b64 da, {%32, %34};\nmov.b64 db, {%33, %34};\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " SCOUT_WG_D32
                 ", da, db, p, 1, 1, 0, %36;\n}\n"
                 : SCOUT_WG_D32_OPS(d)
                 : "r"(a.lo), "r"(b.lo), "r"(kDescHi), "r"((int)accumulate), "n"(B_MN_MAJOR ? 1 : 0));
#else
    (void)d, (void)a, (void)b, (void)accumulate;
    __trap();
#endif
}

// The same with A from registers (a: this thread's A fragment of the k-step, see above).
template <bool B_MN_MAJOR>
__device__ __forceinline__ void mma_rs(float (&d)[8][4], const uint32_t (&a)[4], Desc b, bool accumulate) {
#ifdef SCOUT_CUDA_EMU
    emu_wgmma_m64n64k16(&d[0][0], a, NULL, b.p, B_MN_MAJOR, accumulate);
#elif defined(SCOUT_WGMMA_DEVICE)
    asm volatile("{\n.reg .pred p;\n.reg .b64 db;\nsetp.ne.b32 p, %38, 0;\n"
                 "mov.b64 db, {%36, %37};\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " SCOUT_WG_D32
                 ", {%32, %33, %34, %35}, db, p, 1, 1, %39;\n}\n"
                 : SCOUT_WG_D32_OPS(d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b.lo), "r"(kDescHi), "r"((int)accumulate),
                   "n"(B_MN_MAJOR ? 1 : 0));
#else
    (void)d, (void)a, (void)b, (void)accumulate;
    __trap();
#endif
}

} // namespace wg

#endif
