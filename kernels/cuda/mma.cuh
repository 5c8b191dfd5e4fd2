// mma.cuh: thin wrappers over the sm_80+ warp-level tensor-core and async-copy instructions the attention
// kernels use (mma.sync m16n8k16 bf16 -> fp32, ldmatrix, cp.async, ex2.approx), with their fragment layouts
// documented once here. Under SCOUT_CUDA_EMU (tests/gpu/emu) the same functions run on the CPU emulator, which
// implements the PTX ISA's layouts, so a kernel that indexes fragments wrongly fails there as it would on the
// device.
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"), lane l, g = l / 4, t = l % 4, two bf16 per
// 32-bit register with the lower column in the low half:
//   A 16x16 (row-major): a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, 2t+9], a3 = A[g+8][2t+8, 2t+9]
//   B 16x8  (k x n):     b0 = B[2t, 2t+1][g],  b1 = B[2t+8, 2t+9][g]
//   C/D 16x8 fp32:       c0, c1 = C[g][2t, 2t+1], c2, c3 = C[g+8][2t, 2t+1]
// So the C fragments of two adjacent 16x8 tiles (columns 16k..16k+15) are, once packed to bf16, exactly the A
// fragment of k-step k: the flash-attention trick that feeds P = softmax(S) back into P.V without shared memory.
#ifndef SCOUT_CUDA_MMA_CUH
#define SCOUT_CUDA_MMA_CUH

#include "cuda/common.cuh"

// d += A . B for one 16x8x16 tile.
__device__ __forceinline__ void mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2]) {
#ifdef SCOUT_CUDA_EMU
    emu_mma_m16n8k16_bf16(d, a, b, d);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// Four 8x8 bf16 matrices from shared memory: lanes 8j..8j+7 pass the addresses of the 8 rows of matrix j (16
// contiguous bytes each); lane l receives row l/4, columns 2(l%4), 2(l%4)+1 of matrix j in r[j].
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *smem_row) {
#ifdef SCOUT_CUDA_EMU
    emu_ldmatrix(r, 4, smem_row, false);
#else
    uint32_t addr = (uint32_t)__cvta_generic_to_shared(smem_row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
#endif
}

// The same, transposed: lane l receives rows 2(l%4), 2(l%4)+1 of column l/4 of matrix j.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void *smem_row) {
#ifdef SCOUT_CUDA_EMU
    emu_ldmatrix(r, 4, smem_row, true);
#else
    uint32_t addr = (uint32_t)__cvta_generic_to_shared(smem_row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
#endif
}

// BYTES (16: bf16 tile rows; 4: per-row fp32 statistics, which need not be 16-byte aligned) global -> shared
// without passing through registers; when !valid the destination is zero-filled (src-size 0) and src is not
// read. 16 bytes go .cg (L2 only: tiles are read once per block), 4 bytes .ca (the only size .cg lacks).
// Completion: cp_async_commit() closes a group, cp_async_wait<n>() waits until at most n groups are pending.
template <int BYTES> __device__ __forceinline__ void cp_async(void *smem_dst, const void *gmem_src, bool valid) {
    static_assert(BYTES == 16 || BYTES == 4, "cp.async of 16 or 4 bytes");
#ifdef SCOUT_CUDA_EMU
    if (valid) memcpy(smem_dst, gmem_src, BYTES);
    else memset(smem_dst, 0, BYTES);
#else
    uint32_t addr = (uint32_t)__cvta_generic_to_shared(smem_dst);
    if constexpr (BYTES == 16)
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(gmem_src), "r"(valid ? 16 : 0));
    else
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(addr), "l"(gmem_src), "r"(valid ? 4 : 0));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifndef SCOUT_CUDA_EMU
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int n> __device__ __forceinline__ void cp_async_wait() {
#ifndef SCOUT_CUDA_EMU
    asm volatile("cp.async.wait_group %0;\n" ::"n"(n));
#endif
}

// Two floats -> one register of two bf16 (lo in the low half), as A fragments want them.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

#endif
