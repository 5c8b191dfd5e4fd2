// rmsnorm.cu: RMSNorm (spec §6.4), out = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps) in fp32, and its
// backward dx = rstd g w - rstd^3 x mean(g w x), dw += sum_rows g x rstd.
//
// Forward: one warp per row (C is a few thousand at most, so a warp's 32 lanes with 16-byte loads cover a row
// in a few steps, and the row statistic needs only warp shuffles). rstd is saved in fp32 for the backward.
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
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < kWarps; k++) acc += dw_rows[(size_t)k * C + dw_slot<VEC>(c, C)];
        partial[(size_t)blockIdx.x * C + c] = acc;
    }
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

static bool rows16(const void *p, int C) { return aligned16(p) && C % 8 == 0; }

extern "C" void rmsnorm_forward_cuda(void *out, float *rstd, const void *x, const void *w, int N, int C, float eps,
                                     cudaStream_t stream) {
    if (N <= 0 || C <= 0) return;
    const int block = 32 * kWarps;
    const int grid = ceil_div(N, kWarps);
    if (rows16(out, C) && rows16(x, C) && aligned16(w))
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

// The kernel instance for (VEC, ADD), its dynamic shared-memory limit raised once to the largest size asked for.
template <int VEC, bool ADD>
static void launch_backward(floatX *dx, float *partial, const floatX *dout, const floatX *x, const floatX *w,
                            const float *rstd, int N, int C, int n_blocks, size_t smem, cudaStream_t stream) {
    static size_t smem_set = 48 << 10; // the default limit
    if (smem > smem_set) {
        cudaCheck(cudaFuncSetAttribute(rmsnorm_backward_kernel<VEC, ADD>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        smem_set = smem;
    }
    rmsnorm_backward_kernel<VEC, ADD><<<n_blocks, 32 * kWarps, smem, stream>>>(dx, partial, dout, x, w, rstd, N, C);
    cudaCheck(cudaGetLastError());
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
    if (v8 && add) launch_backward<8, true>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    else if (v8) launch_backward<8, false>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    else if (add) launch_backward<1, true>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    else launch_backward<1, false>(d, partial, g, xx, ww, rstd, N, C, n_blocks, smem, stream);
    column_sum(ColSumAdd{dw}, partial, n_blocks, C, stream);
}
