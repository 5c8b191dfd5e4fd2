// cuda_emu.h: a CPU emulator of the small part of CUDA that kernels/cuda/ uses, so the kernels can be run
// and debugged on a machine without a GPU (tests/gpu/emu/run.sh). It is force-included (g++ -include) in
// front of every kernels/cuda/*.cu after tests/gpu/emu/preprocess.py has rewritten `k<<<g, b, s, st>>>(...)`
// into emu_launch(...) calls and `extern __shared__ T name[];` into a pointer to the launch's dynamic
// shared memory.
//
// Model: blocks of a launch run one after another; the threads of a block are fibers (ucontext) scheduled
// cooperatively. __syncthreads() and every warp-collective (shuffles, ldmatrix, mma) are barriers: a fiber
// stops there until every live thread of the block (of the warp) has arrived, so a missing or divergent
// barrier shows as a reported deadlock, and a warp collective issued while some lanes of the warp have
// exited is reported as an error (both are undefined behaviour on the device). `__shared__` variables become
// `static` (shared by the fibers of the running block). Dynamic shared memory and cudaMalloc'd memory are
// filled with 0xFF bytes (NaN in bf16 and fp32) so reads of never-written memory show in the results.
//
// Arithmetic is the host's IEEE fp32; the device's approximate exp2f / rsqrtf and the tensor cores' fp32
// accumulation differ in the last bits, which is what the device run is for.
#ifndef SCOUT_CUDA_EMU_H
#define SCOUT_CUDA_EMU_H

#include <cuda_runtime_api.h>
#include <cuda_bf16.h>
#include <vector_types.h>
#include <vector_functions.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <functional>

#define SCOUT_CUDA_EMU 1

#undef __shared__
#define __shared__ static
#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __host__
#define __host__
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
#ifndef __grid_constant__
#define __grid_constant__
#endif

// ---- thread identity -------------------------------------------------------------------------------------

struct emu_thread_ids {
    uint3 threadIdx;
    uint3 blockIdx;
    dim3 blockDim;
    dim3 gridDim;
};
const emu_thread_ids &emu_ids(void);
#define threadIdx (emu_ids().threadIdx)
#define blockIdx (emu_ids().blockIdx)
#define blockDim (emu_ids().blockDim)
#define gridDim (emu_ids().gridDim)
#define warpSize 32

// ---- barriers and warp collectives (emu_runtime.cpp) -----------------------------------------------------

void emu_syncthreads(void);
void emu_syncwarp(void);
int emu_lane(void);
// Warp exchange: every lane deposits `words` 64-bit words, waits for the whole warp, and may then read every
// lane's deposit until the matching emu_warp_release().
uint64_t *emu_warp_deposit(const uint64_t *words, int n_words);
const uint64_t *emu_warp_slot(int lane);
void emu_warp_release(void);
char *emu_dyn_smem(void);
void emu_fatal(const char *fmt, ...);

#define __syncthreads() emu_syncthreads()
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
    (void)mask;
    emu_syncwarp();
}

template <class T> static inline uint64_t emu_bits_(T v) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t w = 0;
    memcpy(&w, &v, sizeof(T));
    return w;
}
template <class T> static inline T emu_from_bits_(uint64_t w) {
    T v;
    memcpy(&v, &w, sizeof(T));
    return v;
}
template <class T> static inline T emu_shfl_from_(T v, int src_lane) {
    uint64_t w = emu_bits_(v);
    emu_warp_deposit(&w, 1);
    T r = emu_from_bits_<T>(emu_warp_slot(src_lane)[0]);
    emu_warp_release();
    return r;
}
template <class T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    (void)mask;
    int lane = emu_lane(), base = lane & ~(width - 1);
    return emu_shfl_from_(v, base + (src & (width - 1)));
}
template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    (void)mask;
    int lane = emu_lane(), base = lane & ~(width - 1);
    int src = lane ^ lane_mask;
    if (src >= base + width) src = lane;
    return emu_shfl_from_(v, src);
}
template <class T> static inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    int lane = emu_lane(), base = lane & ~(width - 1);
    int src = lane - (int)delta;
    if (src < base) src = lane;
    return emu_shfl_from_(v, src);
}
template <class T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    int lane = emu_lane(), base = lane & ~(width - 1);
    int src = lane + (int)delta;
    if (src >= base + width) src = lane;
    return emu_shfl_from_(v, src);
}
static inline unsigned __ballot_sync(unsigned mask, int pred) {
    (void)mask;
    uint64_t w = pred ? 1 : 0;
    emu_warp_deposit(&w, 1);
    unsigned r = 0;
    for (int l = 0; l < 32; l++)
        if (emu_warp_slot(l)[0]) r |= 1u << l;
    emu_warp_release();
    return r;
}

// ---- device math and bit helpers ---------------------------------------------------------------------------

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
// The correctly rounded single operations (never contracted into an FMA on the device): the host's IEEE ones.
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float x) { return sqrtf(x); }
// __expf and __logf: glibc declares them (its internal names of expf and logf).
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static inline unsigned __float_as_uint(float x) { return emu_bits_(x) & 0xffffffffu; }
static inline float __uint_as_float(unsigned u) { return emu_from_bits_<float>(u); }
static inline int __float_as_int(float x) { return (int)__float_as_uint(x); }
static inline float __int_as_float(int i) { return __uint_as_float((unsigned)i); }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
template <class T> static inline T __ldg(const T *p) { return *p; }
using std::max;
using std::min;

static inline int atomicAdd(int *p, int v) { int o = *p; *p = o + v; return o; }
static inline unsigned atomicAdd(unsigned *p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
static inline float atomicAdd(float *p, float v) { float o = *p; *p = o + v; return o; }

// ---- tensor-core fragments, exactly as the PTX ISA lays them out ------------------------------------------
// (kernels/cuda/mma.cuh calls these instead of its inline PTX when SCOUT_CUDA_EMU is defined.)

static inline float emu_bf16_lo_(uint32_t u) { return __uint_as_float(u << 16); }
static inline float emu_bf16_hi_(uint32_t u) { return __uint_as_float(u & 0xffff0000u); }

// The 16x16 A operand of a warp from every lane's a0..a3 (s[0..3] of its deposit), in mma.m16n8k16's layout (also
// wgmma's register A, per warp): lane l, g = l/4, t = l%4 holds a0 = A[g][2t..2t+1], a1 = A[g+8][2t..],
// a2 = A[g][2t+8..], a3 = A[g+8][2t+8..], the lower column in the low half.
static inline void emu_a_frags_(float A[16][16]) {
    for (int l = 0; l < 32; l++) {
        const uint64_t *s = emu_warp_slot(l);
        const int g = l >> 2, t = l & 3;
        for (int q = 0; q < 4; q++) {
            const int r = g + 8 * (q & 1), c = 2 * t + 8 * (q >> 1);
            A[r][c] = emu_bf16_lo_((uint32_t)s[q]), A[r][c + 1] = emu_bf16_hi_((uint32_t)s[q]);
        }
    }
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: d = A (16x16) B (16x8) + c. Lane l, g = l/4, t = l%4:
// a0 = A[g][2t..2t+1], a1 = A[g+8][2t..], a2 = A[g][2t+8..], a3 = A[g+8][2t+8..] (lower column in the low half);
// b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]; c/d 0,1 = C[g][2t..2t+1], c/d 2,3 = C[g+8][2t..2t+1].
static inline void emu_mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
    uint64_t w[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
    emu_warp_deposit(w, 6);
    float A[16][16], B[16][8];
    emu_a_frags_(A);
    for (int l = 0; l < 32; l++) {
        const uint64_t *s = emu_warp_slot(l);
        int g = l >> 2, t = l & 3;
        uint32_t b0 = (uint32_t)s[4], b1 = (uint32_t)s[5];
        B[2 * t][g] = emu_bf16_lo_(b0), B[2 * t + 1][g] = emu_bf16_hi_(b0);
        B[2 * t + 8][g] = emu_bf16_lo_(b1), B[2 * t + 9][g] = emu_bf16_hi_(b1);
    }
    emu_warp_release();
    int lane = emu_lane(), g = lane >> 2, t = lane & 3;
    const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int i = 0; i < 4; i++) {
        float s = c[i];
        for (int k = 0; k < 16; k++) s += A[rows[i]][k] * B[k][cols[i]];
        d[i] = s;
    }
}

// ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16: lanes 8j..8j+7 give the row addresses of matrix j;
// lane l receives in r[j] row l/4, columns 2(l%4), 2(l%4)+1 of matrix j, or with .trans rows 2(l%4), 2(l%4)+1
// of column l/4.
static inline void emu_ldmatrix(uint32_t *r, int n_mat, const void *row_addr, bool trans) {
    uint64_t w = (uint64_t)(uintptr_t)row_addr;
    emu_warp_deposit(&w, 1);
    int lane = emu_lane(), g = lane >> 2, t = lane & 3;
    for (int j = 0; j < n_mat; j++) {
        uint16_t lo, hi;
        if (!trans) {
            const uint16_t *row = (const uint16_t *)(uintptr_t)emu_warp_slot(8 * j + g)[0];
            lo = row[2 * t], hi = row[2 * t + 1];
        } else {
            const uint16_t *r0 = (const uint16_t *)(uintptr_t)emu_warp_slot(8 * j + 2 * t)[0];
            const uint16_t *r1 = (const uint16_t *)(uintptr_t)emu_warp_slot(8 * j + 2 * t + 1)[0];
            lo = r0[g], hi = r1[g];
        }
        r[j] = (uint32_t)lo | ((uint32_t)hi << 16);
    }
    emu_warp_release();
}

// wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 as kernels/cuda/wgmma.cuh uses it (its comment has the
// layouts), asynchronous as on the device: emu_wgmma_m64n64k16 only records the product in the thread's queue,
// emu_wgmma_commit closes a group, and emu_wgmma_wait(n) computes the products of all but the n newest groups,
// reading A (registers or shared memory) and B then, and writing the accumulators then. So a kernel that reads
// an accumulator before the wait that covers its product, or overwrites an operand (registers, or a shared-memory
// tile refilled by the next copy) before it, computes wrong values here, as it may on the device; products left
// without a wait at the end of a thread are reported. Operands: shared-memory tiles of 128-byte rows with the
// 128-byte swizzle, which XORs address bits 4-6 with bits 7-9 (the tiles are 1024-byte aligned, so that is chunk ^ row % 8). A from the registers of the calling
// warp (a_regs) or from a K-major tile (a_smem); B a K-major or MN-major tile. Warp w of the warpgroup computes
// rows 16 w .. 16 w + 15, which need only its own A fragments: a warp collective is enough here.
static inline const uint16_t *emu_swizzled_(const void *logical) {
    uintptr_t a = (uintptr_t)logical;
    return (const uint16_t *)(a ^ (((a >> 7) & 7) << 4));
}
static inline void emu_wgmma_exec_(float *d, const uint32_t *a_regs, const void *a_smem, const void *b_smem,
                                    bool b_mn_major, bool accumulate) {
    float A[16][16], B[16][64];
    const int warp_in_group = (int)(threadIdx.x / 32) % 4;
    if (a_regs) {
        uint64_t w[4] = {a_regs[0], a_regs[1], a_regs[2], a_regs[3]};
        emu_warp_deposit(w, 4);
        emu_a_frags_(A);
        emu_warp_release();
    } else {
        if ((uintptr_t)a_smem % 16) emu_fatal("wgmma: A tile at %p not 16-byte aligned", a_smem);
        for (int r = 0; r < 16; r++)
            for (int k = 0; k < 16; k++) {
                const char *x = (const char *)a_smem + (16 * warp_in_group + r) * 128 + 2 * k;
                A[r][k] = emu_bf16_lo_(*emu_swizzled_(x));
            }
    }
    if ((uintptr_t)b_smem % 16) emu_fatal("wgmma: B tile at %p not 16-byte aligned", b_smem);
    for (int k = 0; k < 16; k++)
        for (int n = 0; n < 64; n++) {
            const char *x = (const char *)b_smem + (b_mn_major ? k * 128 + 2 * n : n * 128 + 2 * k);
            B[k][n] = emu_bf16_lo_(*emu_swizzled_(x));
        }
    const int lane = emu_lane(), g = lane >> 2, t = lane & 3;
    for (int j = 0; j < 8; j++)
        for (int e = 0; e < 4; e++) {
            const int r = g + 8 * (e >> 1), c = 8 * j + 2 * t + (e & 1);
            float s = accumulate ? d[4 * j + e] : 0.0f;
            for (int k = 0; k < 16; k++) s += A[r][k] * B[k][c];
            d[4 * j + e] = s;
        }
}

struct emu_wg_op {
    float *d;
    const uint32_t *a_regs;
    const void *a_smem, *b_smem;
    bool b_mn_major, accumulate;
    int group; // the number of commits before it: it belongs to the group the next commit closes
};
struct emu_wg_queue {
    emu_wg_op ops[64];
    int n_ops, n_committed;
};
emu_wg_queue &emu_wg(void); // the running thread's (emu_runtime.cpp)
static inline void emu_wgmma_m64n64k16(float *d, const uint32_t *a_regs, const void *a_smem, const void *b_smem,
                                       bool b_mn_major, bool accumulate) {
    emu_wg_queue &q = emu_wg();
    if (q.n_ops == 64) emu_fatal("more than 64 wgmma in flight in one thread");
    q.ops[q.n_ops++] = emu_wg_op{d, a_regs, a_smem, b_smem, b_mn_major, accumulate, q.n_committed};
}
static inline void emu_wgmma_commit(void) { emu_wg().n_committed++; }
static inline void emu_wgmma_wait(int n_pending) {
    emu_wg_queue &q = emu_wg();
    int kept = 0;
    for (int i = 0; i < q.n_ops; i++) {
        const emu_wg_op o = q.ops[i];
        if (o.group < q.n_committed - n_pending)
            emu_wgmma_exec_(o.d, o.a_regs, o.a_smem, o.b_smem, o.b_mn_major, o.accumulate);
        else
            q.ops[kept++] = o;
    }
    q.n_ops = kept;
}

// ---- kernel launch --------------------------------------------------------------------------------------

void emu_launch(dim3 grid, dim3 block, size_t dyn_smem, cudaStream_t stream, std::function<void()> body);

// cuda_runtime.h's C++ overload (the C one takes const void *).
template <class T> static inline cudaError_t cudaFuncSetAttribute(T *entry, cudaFuncAttribute attr, int value) {
    return cudaFuncSetAttribute((const void *)entry, attr, value);
}

#endif
