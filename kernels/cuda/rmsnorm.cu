// rmsnorm.cu: RMSNorm (spec §6.4), out = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps) in fp32, and its
// backward dx = rstd g w - rstd^3 x mean(g w x), dw += sum_rows g x rstd.
//
// Forward: one warp per row (C is a few thousand at most, so a warp's 32 lanes with 16-byte loads cover a row
// in a few steps, and the row statistic needs only warp shuffles). rstd is saved in fp32 for the backward.
// When C is a multiple of 256 up to 1024 (the 0.4-0.5B SCOUT configs), the row lives in registers (CH 16-byte chunks
// per lane, all loads issued at once) and w in registers for all the warp's rows: each tensor is read once, from
// memory, with C / 256 loads in flight per lane; the loop versions read every row twice (the second time from
// L1) and issue one load at a time, which held the backward at ~2.5 TB/s.
// Backward, deterministic: dw is a sum over all N rows, which a float atomicAdd per block would make
// run-to-run variable. Instead each block owns kRowsPerBlock consecutive rows: its warps write dx for those
// rows and sum g x rstd in shared memory, one fp32 row per warp, which the block adds in warp order into a
// per-block partial row of the workspace; column_sum (common.cuh) adds the partials to dw in a fixed order.
#include "cuda/common.cuh"

static const int kRowsPerBlock = 32;
static const int kWarps = 8;

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// One warp per row; VEC = 8 when rows are 16-byte aligned (C % 8 == 0, aligned pointers), else 1.
template <int VEC>
__global__ void rmsnorm_forward_kernel(floatX *out, float *rstd, const floatX *x, const floatX *w, int N, int C,
                                       float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return; // whole warps leave together: no shuffle is left half-attended
    const floatX *xr = x + (size_t)row * C;
    floatX *yr = out + (size_t)row * C;
    float ss = 0.0f;
    for (int c = lane * VEC; c < C; c += 32 * VEC) {
        if (VEC == 8) {
            x128 v = load128(xr + c);
            for (int k = 0; k < 8; k++) ss += bf2f(v[k]) * bf2f(v[k]);
        } else {
            float v = bf2f(xr[c]);
            ss += v * v;
        }
    }
    ss = warp_reduce_sum(ss);
    float r = rsqrtf(ss / C + eps);
    if (lane == 0) rstd[row] = r;
    for (int c = lane * VEC; c < C; c += 32 * VEC) {
        if (VEC == 8) {
            x128 v = load128(xr + c), vw = load128(w + c), o;
            for (int k = 0; k < 8; k++) o[k] = f2bf(bf2f(v[k]) * r * bf2f(vw[k]));
            store128(yr + c, o);
        } else {
            yr[c] = f2bf(bf2f(xr[c]) * r * bf2f(w[c]));
        }
    }
}

// Block b: rows [b * kRowsPerBlock, ...), warp per row (rows row0 + warp, row0 + warp + kWarps, ...): dx, and
// the row's g x rstd added into the warp's own fp32 row of shared memory (each column always by the same lane,
// so no two threads ever write one address). Then the block adds its kWarps rows in warp order and writes
// partial[b, :]. One pass over dout and x: a second pass that re-read the block's rows column by column (the
// first version) made the op ~4x slower than its memory traffic.
//
// Column c of a shared row sits at dw_slot<VEC>(c, C): with VEC = 8 a lane owns 8 adjacent columns, which at
// their natural addresses would put lanes 0, 4, 8, ... on one bank (8-way conflicts on every update); stored
// as [8][C / 8] the 32 lanes touch 32 consecutive words.
template <int VEC> __device__ __forceinline__ int dw_slot(int c, int C) {
    return VEC == 8 ? (c % 8) * (C / 8) + c / 8 : c;
}

// The end of both backward kernels: after the block's barrier, its kWarps shared dw rows added in warp order into
// the block's partial row (column c of a shared row at dw_slot<VEC>(c, C)).
template <int VEC>
__device__ __forceinline__ void write_dw_partial(float *partial, const float *dw_rows, int C) {
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < kWarps; k++) acc += dw_rows[(size_t)k * C + dw_slot<VEC>(c, C)];
        partial[(size_t)blockIdx.x * C + c] = acc;
    }
}

template <int VEC, bool ADD>
__global__ void rmsnorm_backward_kernel(floatX *dx, float *partial, const floatX *dout, const floatX *x,
                                        const floatX *w, const float *rstd, int N, int C) {
    extern __shared__ float dw_rows[]; // [kWarps, C]
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int row0 = blockIdx.x * kRowsPerBlock, row1 = min(row0 + kRowsPerBlock, N);
    float *dw_mine = dw_rows + (size_t)warp * C;
    for (int c = lane * VEC; c < C; c += 32 * VEC)
        for (int k = 0; k < VEC; k++) dw_mine[dw_slot<VEC>(c + k, C)] = 0.0f;
    for (int row = row0 + warp; row < row1; row += kWarps) {
        const floatX *xr = x + (size_t)row * C, *gr = dout + (size_t)row * C;
        floatX *dxr = dx + (size_t)row * C;
        float r = rstd[row], gx = 0.0f;
        for (int c = lane * VEC; c < C; c += 32 * VEC) {
            if (VEC == 8) {
                x128 vx = load128(xr + c), vg = load128(gr + c), vw = load128(w + c);
                for (int k = 0; k < 8; k++) gx += bf2f(vg[k]) * bf2f(vw[k]) * bf2f(vx[k]);
            } else {
                gx += bf2f(gr[c]) * bf2f(w[c]) * bf2f(xr[c]);
            }
        }
        gx = warp_reduce_sum(gx);
        float kk = gx / C * r * r * r;
        for (int c = lane * VEC; c < C; c += 32 * VEC) {
            if (VEC == 8) {
                x128 vx = load128(xr + c), vg = load128(gr + c), vw = load128(w + c), o;
                x128 old = ADD ? load128(dxr + c) : x128();
                for (int k = 0; k < 8; k++) {
                    float g = bf2f(vg[k]), xv = bf2f(vx[k]);
                    float d = r * g * bf2f(vw[k]) - kk * xv;
                    o[k] = f2bf(ADD ? bf2f(old[k]) + d : d);
                    dw_mine[dw_slot<VEC>(c + k, C)] += g * xv * r;
                }
                store128(dxr + c, o);
            } else {
                float g = bf2f(gr[c]), xv = bf2f(xr[c]);
                float d = r * g * bf2f(w[c]) - kk * xv;
                dxr[c] = f2bf(ADD ? bf2f(dxr[c]) + d : d);
                dw_mine[c] += g * xv * r;
            }
        }
    }
    __syncthreads();
    write_dw_partial<VEC>(partial, dw_rows, C);
}

// The same two kernels with the row in registers: lane l holds columns (32 ch + l) 8 .. + 8 for ch < CH (C = 256 CH):
// every load instruction of a warp reads 512 contiguous bytes. Same arithmetic, in the same order, as above.
template <int CH>
__global__ void __launch_bounds__(32 * kWarps, 2)
    rmsnorm_forward_reg_kernel(floatX *out, float *rstd, const floatX *x, const floatX *w, int N, float eps) {
    constexpr int C = 256 * CH;
    const int lane = threadIdx.x % 32, warps = gridDim.x * (blockDim.x / 32);
    x128 vw[CH];
#pragma unroll
    for (int ch = 0; ch < CH; ch++) vw[ch] = load128(w + (ch * 32 + lane) * 8);
    for (int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; row < N; row += warps) {
        const floatX *xr = x + (size_t)row * C;
        x128 vx[CH];
#pragma unroll
        for (int ch = 0; ch < CH; ch++) vx[ch] = load128(xr + (ch * 32 + lane) * 8);
        float ss = 0.0f;
#pragma unroll
        for (int ch = 0; ch < CH; ch++)
#pragma unroll
            for (int k = 0; k < 8; k++) ss += bf2f(vx[ch][k]) * bf2f(vx[ch][k]);
        ss = warp_reduce_sum(ss);
        const float r = rsqrtf(ss / C + eps);
        if (lane == 0) rstd[row] = r;
        floatX *yr = out + (size_t)row * C;
#pragma unroll
        for (int ch = 0; ch < CH; ch++) {
            x128 o;
#pragma unroll
            for (int k = 0; k < 8; k++) o[k] = f2bf(bf2f(vx[ch][k]) * r * bf2f(vw[ch][k]));
            store128(yr + (ch * 32 + lane) * 8, o);
        }
    }
}

template <int CH, bool ADD>
__global__ void __launch_bounds__(32 * kWarps, 2)
    rmsnorm_backward_reg_kernel(floatX *dx, float *partial, const floatX *dout, const floatX *x, const floatX *w,
                                const float *rstd, int N) {
    constexpr int C = 256 * CH;
    extern __shared__ float dw_rows[]; // [kWarps, C], columns at dw_slot<8>
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int row0 = blockIdx.x * kRowsPerBlock, row1 = min(row0 + kRowsPerBlock, N);
    float *dw_mine = dw_rows + (size_t)warp * C;
    x128 vw[CH];
#pragma unroll
    for (int ch = 0; ch < CH; ch++) {
        vw[ch] = load128(w + (ch * 32 + lane) * 8);
#pragma unroll
        for (int k = 0; k < 8; k++) dw_mine[dw_slot<8>((ch * 32 + lane) * 8 + k, C)] = 0.0f;
    }
    for (int row = row0 + warp; row < row1; row += kWarps) {
        const floatX *xr = x + (size_t)row * C, *gr = dout + (size_t)row * C;
        floatX *dxr = dx + (size_t)row * C;
        x128 vx[CH], vg[CH], old[CH];
#pragma unroll
        for (int ch = 0; ch < CH; ch++) {
            const int c = (ch * 32 + lane) * 8;
            vx[ch] = load128(xr + c), vg[ch] = load128(gr + c);
            if (ADD) old[ch] = load128(dxr + c);
        }
        const float r = rstd[row];
        float gx = 0.0f;
#pragma unroll
        for (int ch = 0; ch < CH; ch++)
#pragma unroll
            for (int k = 0; k < 8; k++) gx += bf2f(vg[ch][k]) * bf2f(vw[ch][k]) * bf2f(vx[ch][k]);
        gx = warp_reduce_sum(gx);
        const float kk = gx / C * r * r * r;
#pragma unroll
        for (int ch = 0; ch < CH; ch++) {
            const int c = (ch * 32 + lane) * 8;
            x128 o;
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const float g = bf2f(vg[ch][k]), xv = bf2f(vx[ch][k]);
                const float d = r * g * bf2f(vw[ch][k]) - kk * xv;
                o[k] = f2bf(ADD ? bf2f(old[ch][k]) + d : d);
                dw_mine[dw_slot<8>(c + k, C)] += g * xv * r;
            }
            store128(dxr + c, o);
        }
    }
    __syncthreads();
    write_dw_partial<8>(partial, dw_rows, C);
}

// CH of the register kernels for C, or 0 when they do not apply (C not a multiple of 256, or over 1024: the
// row, its gradient and w would not fit in the 128 registers that let two blocks share an SM).
static int reg_chunks(int C) { return C % 256 == 0 && C / 256 >= 1 && C / 256 <= 4 ? C / 256 : 0; }

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

static bool rows16(const void *p, int C) { return aligned16(p) && C % 8 == 0; }

// A grid-stride loop over rows: each warp keeps w in registers for two rows (with eight, too few warps were left
// to keep enough loads in flight: 20.5 us per 16384 x 1024 call either way, ~3.3 TB/s).
template <int CH>
static void forward_reg(void *out, float *rstd, const void *x, const void *w, int N, float eps, cudaStream_t stream) {
    rmsnorm_forward_reg_kernel<CH><<<ceil_div(N, kWarps * 2), 32 * kWarps, 0, stream>>>(
        (floatX *)out, rstd, (const floatX *)x, (const floatX *)w, N, eps);
}

extern "C" void rmsnorm_forward_cuda(void *out, float *rstd, const void *x, const void *w, int N, int C, float eps,
                                     cudaStream_t stream) {
    if (N <= 0 || C <= 0) return;
    const int block = 32 * kWarps;
    const int grid = ceil_div(N, kWarps);
    const int ch = rows16(out, C) && rows16(x, C) && aligned16(w) ? reg_chunks(C) : 0;
    if (ch) {
        switch (ch) {
        case 1: forward_reg<1>(out, rstd, x, w, N, eps, stream); break;
        case 2: forward_reg<2>(out, rstd, x, w, N, eps, stream); break;
        case 3: forward_reg<3>(out, rstd, x, w, N, eps, stream); break;
        default: forward_reg<4>(out, rstd, x, w, N, eps, stream); break;
        }
    } else if (rows16(out, C) && rows16(x, C) && aligned16(w))
        rmsnorm_forward_kernel<8><<<grid, block, 0, stream>>>((floatX *)out, rstd, (const floatX *)x,
                                                              (const floatX *)w, N, C, eps);
    else
        rmsnorm_forward_kernel<1><<<grid, block, 0, stream>>>((floatX *)out, rstd, (const floatX *)x,
                                                              (const floatX *)w, N, C, eps);
    cudaCheck(cudaGetLastError());
}

// Workspace: one fp32 partial row of dw per block of kRowsPerBlock rows.
extern "C" size_t rmsnorm_backward_workspace_size_cuda(int N, int C) {
    if (N <= 0 || C <= 0) return 0;
    return (size_t)ceil_div(N, kRowsPerBlock) * C * sizeof(float);
}

// Launches kernel K with `smem` bytes of dynamic shared memory, its limit raised first when that is over the
// default (once per kernel and size, see raise_smem_limit).
template <auto K, class... Args>
static void launch_with_smem(int n_blocks, size_t smem, cudaStream_t stream, Args... args) {
    raise_smem_limit<K>(smem);
    K<<<n_blocks, 32 * kWarps, smem, stream>>>(args...);
    cudaCheck(cudaGetLastError());
}

// The kernel instance for (VEC, ADD), resp. (CH, ADD).
template <int VEC, bool ADD>
static void launch_backward(floatX *dx, float *partial, const floatX *dout, const floatX *x, const floatX *w,
                            const float *rstd, int N, int C, int n_blocks, size_t smem, cudaStream_t stream) {
    launch_with_smem<rmsnorm_backward_kernel<VEC, ADD>>(n_blocks, smem, stream, dx, partial, dout, x, w, rstd, N, C);
}
template <int CH, bool ADD>
static void launch_backward_reg(floatX *dx, float *partial, const floatX *dout, const floatX *x, const floatX *w,
                                const float *rstd, int N, int n_blocks, size_t smem, cudaStream_t stream) {
    launch_with_smem<rmsnorm_backward_reg_kernel<CH, ADD>>(n_blocks, smem, stream, dx, partial, dout, x, w, rstd, N);
}

extern "C" void rmsnorm_backward_cuda(void *dx, float *dw, const void *dout, const void *x, const void *w,
                                      const float *rstd, void *ws, int N, int C, int dx_mode, cudaStream_t stream) {
    if (N <= 0 || C <= 0) return;
    float *partial = (float *)ws;
    const int n_blocks = ceil_div(N, kRowsPerBlock);
    const size_t smem = (size_t)kWarps * C * sizeof(float);
    scout_require(smem <= (size_t)scout_cuda_ctx()->max_smem_optin,
                  "rmsnorm: C = %d needs %zu bytes of shared memory per block, over the device's %d", C, smem,
                  scout_cuda_ctx()->max_smem_optin);
    floatX *d = (floatX *)dx;
    const floatX *g = (const floatX *)dout, *xx = (const floatX *)x, *ww = (const floatX *)w;
    const bool v8 = rows16(dx, C) && rows16(dout, C) && rows16(x, C) && aligned16(w);
    const bool add = dx_mode == SCOUT_DX_ADD;
    const int ch = v8 ? reg_chunks(C) : 0;
    if (ch) {
        switch (ch * 2 + add) {
        case 2: launch_backward_reg<1, false>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        case 3: launch_backward_reg<1, true>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        case 4: launch_backward_reg<2, false>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        case 5: launch_backward_reg<2, true>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        case 6: launch_backward_reg<3, false>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        case 7: launch_backward_reg<3, true>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        case 8: launch_backward_reg<4, false>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        default: launch_backward_reg<4, true>(d, partial, g, xx, ww, rstd, N, n_blocks, smem, stream); break;
        }
    } else if (v8 && add) launch_backward<8, true>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    else if (v8) launch_backward<8, false>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    else if (add) launch_backward<1, true>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    else launch_backward<1, false>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    column_sum(ColSumAdd{dw}, partial, n_blocks, C, stream);
}
