// wgmma_selftest.cu: checks wgmma.cuh's reading of the warpgroup-MMA layouts on the device (and, built against
// tests/gpu/emu, the emulator's): a 64 x 64 x 64 product D = A B in four k-steps, for each of A from shared
// memory or from registers x B K-major or MN-major, against a host reference. tests/gpu/test_gpu_ops prints it
// as the first rows of the attention part, so that a wrong descriptor or fragment layout is named as such
// instead of showing as an attention error.
#include "cuda/attention.cuh"
#include "cuda/ops_cuda.cuh"

namespace {

// a, bm: [64][64] row-major bf16 in global memory (A = a; B = bm, rows k). d: [64][64] fp32.
template <bool A_REGS, bool B_MN>
__global__ void wgmma_selftest_kernel(float *d, const floatX *a, const floatX *bm) {
    extern __shared__ __align__(16) unsigned char st_smem[];
    floatX *sA = (floatX *)wg::align_smem(st_smem); // [64][64] K-major: rows m, columns k
    floatX *sB = sA + 64 * 64;                        // K-major: rows n, columns k; MN-major: rows k, columns n
    for (int i = threadIdx.x; i < 64 * 64; i += blockDim.x) {
        const int r = i / 64, c = i % 64;
        sA[wg::swz(r, c)] = a[i];
        sB[wg::swz(r, c)] = B_MN ? bm[i] : bm[c * 64 + r]; // K-major holds B^T
    }
    wg::fence_smem_for_async();
    __syncthreads();
    const int w = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    float acc[8][4];
    uint32_t af[4][4];
    for (int kk = 0; kk < 4; kk++) // this thread's A fragments of k-step kk (mma.m16n8k16's A layout)
        for (int q = 0; q < 4; q++) {
            const int r = 16 * w + g + 8 * (q & 1), c = 16 * kk + 8 * (q >> 1) + 2 * t;
            af[kk][q] = pack_bf16(bf2f(a[r * 64 + c]), bf2f(a[r * 64 + c + 1]));
        }
    wg::fence();
    for (int kk = 0; kk < 4; kk++) {
        const wg::Desc da = wg::desc(sA, false), db = wg::desc(sB, B_MN);
        if (A_REGS) wg::mma_rs<B_MN>(acc, af[kk], wg::kstep<B_MN>(db, kk), kk > 0);
        else wg::mma_ss<B_MN>(acc, wg::kstep<false>(da, kk), wg::kstep<B_MN>(db, kk), kk > 0);
    }
    wg::commit();
    wg::wait<0>();
    wg::pin(acc);
    for (int j = 0; j < 8; j++)
        for (int e = 0; e < 4; e++) d[(16 * w + g + 8 * (e >> 1)) * 64 + 8 * j + 2 * t + (e & 1)] = acc[j][e];
}

template <bool A_REGS, bool B_MN> void launch(float *d, const floatX *a, const floatX *b) {
    const size_t smem = 2 * 64 * 64 * sizeof(floatX) + wg::kAtomBytes;
    wgmma_selftest_kernel<A_REGS, B_MN><<<1, 128, smem>>>(d, a, b);
    cudaCheck(cudaGetLastError());
}

} // namespace

// err[v] = max |D - A B| / max |A B| for v = 2 A_REGS + B_MN_MAJOR (A smem / registers x B K- / MN-major).
// Returns 0, or -1 when this build or device has no warpgroup MMA (err untouched).
extern "C" int scout_cuda_wgmma_selftest(double err[4]) {
    if (!scout_cuda_attention_wgmma()) return -1;
    uint16_t ha[64 * 64], hb[64 * 64];
    uint32_t x = 12345u;
    auto rnd = [&]() { // bf16 of a uniform in [-2, 2): exact products, so only the sums round
        x = x * 1664525u + 1013904223u;
        const float f = ((x >> 8) * (1.0f / 16777216.0f)) * 4.0f - 2.0f;
        uint32_t u;
        memcpy(&u, &f, 4);
        return (uint16_t)(u >> 16);
    };
    for (int i = 0; i < 64 * 64; i++) ha[i] = rnd(), hb[i] = rnd();
    auto f32 = [](uint16_t h) {
        const uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    };
    double ref[64 * 64], mref = 0.0;
    for (int m = 0; m < 64; m++)
        for (int n = 0; n < 64; n++) {
            double s = 0.0;
            for (int k = 0; k < 64; k++) s += (double)f32(ha[m * 64 + k]) * f32(hb[k * 64 + n]);
            ref[m * 64 + n] = s;
            mref = fmax(mref, fabs(s));
        }
    floatX *da, *db;
    float *dd;
    cudaCheck(cudaMalloc((void **)&da, sizeof ha));
    cudaCheck(cudaMalloc((void **)&db, sizeof hb));
    cudaCheck(cudaMalloc((void **)&dd, 64 * 64 * sizeof(float)));
    cudaCheck(cudaMemcpy(da, ha, sizeof ha, cudaMemcpyHostToDevice));
    cudaCheck(cudaMemcpy(db, hb, sizeof hb, cudaMemcpyHostToDevice));
    for (int v = 0; v < 4; v++) {
        cudaCheck(cudaMemset(dd, 0xFF, 64 * 64 * sizeof(float))); // NaN: an element never written shows
        if (v == 0) launch<false, false>(dd, da, db);
        if (v == 1) launch<false, true>(dd, da, db);
        if (v == 2) launch<true, false>(dd, da, db);
        if (v == 3) launch<true, true>(dd, da, db);
        static float hd[64 * 64];
        cudaCheck(cudaMemcpy(hd, dd, sizeof hd, cudaMemcpyDeviceToHost));
        double e = 0.0;
        for (int i = 0; i < 64 * 64; i++) {
            const double diff = fabs((double)hd[i] - ref[i]);
            e = diff != diff ? INFINITY : fmax(e, diff);
        }
        err[v] = e / mref;
    }
    cudaCheck(cudaFree(da));
    cudaCheck(cudaFree(db));
    cudaCheck(cudaFree(dd));
    return 0;
}
