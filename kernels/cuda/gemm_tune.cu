// gemm_tune.cu: choosing among cuBLASLt's candidate algorithms by timing them, once per machine.
//
// Why: cuBLASLt's heuristic ranks its candidates with a model, and for this project's products on the H200 its
// first choice ran up to 14% slower than the best of its first eight (the [16384, 1024] x [1024, 5632] forward:
// 292.7 against 256.3 us; BENCHMARKS.md, sixth round). Timing the eight costs a few milliseconds per
// configuration on first use, and the choice is written to a file (kernels/gemm_cache.h) so that every later
// process on the machine runs the same kernels: a rerun or a resumed run then reproduces the first run's bits,
// which a fresh measurement near a tie would not guarantee.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/gemm_tune.cuh"
#include "gemm_cache.h"

static const int kRounds = 3;        // timing rounds, candidates interleaved: a clock ramp-up hits every candidate
static const int kCallsPerRound = 4; // products per timed round
static const float kMinGain = 0.01f; // a later-ranked candidate must beat the best so far by 1%, so that near-ties
                                     // keep the heuristic's order rather than the noise's

static int g_state = -1; // -1 not initialised, 0 tuning off, 1 on
static gemm_cache g_cache;
static int g_said_tuning = 0, g_said_write_error = 0;

static void tune_init(void) {
    const char *env = getenv("SCOUT_CUDA_GEMM_TUNE");
    g_state = !(env && strcmp(env, "0") == 0);
    if (!g_state) return;
    int dev = 0;
    cudaDeviceProp prop;
    cudaCheck(cudaGetDevice(&dev));
    cudaCheck(cudaGetDeviceProperties(&prop, dev));
    // The library version is in the name because the serialised algorithm is only valid for the version that
    // wrote it; the SM count because two boards of one name may differ in it (and so in the best tiling).
    char version[96], path[4096];
    snprintf(version, sizeof version, "sm%d%d-%dSMs-cublasLt%zu", prop.major, prop.minor, prop.multiProcessorCount,
             cublasLtGetVersion());
    gemm_cache_default_path(path, sizeof path, prop.name, version);
    if (gemm_cache_load(&g_cache, path) < 0)
        fprintf(stderr, "scout-cuda: cannot read the GEMM choices in %s (%s); timing them again\n", path,
                strerror(errno));
}

// The fastest time each candidate reached over interleaved rounds decides. Returns the index of the
// chosen candidate, or -1 when none could run.
static int time_candidates(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
                           cublasLtMatrixLayout_t ld, const cublasLtMatmulHeuristicResult_t *cand, int n_cand,
                           const void *A, const void *B, void *D, float beta, cudaStream_t stream) {
    scout_cuda_context *ctx = scout_cuda_ctx();
    static cudaEvent_t ev[2];
    if (!ev[0]) cudaCheck(cudaEventCreate(&ev[0])), cudaCheck(cudaEventCreate(&ev[1]));
    const float alpha = 1.0f;
    float best_ms[16];
    bool ok[16];
    for (int i = 0; i < n_cand; i++) {
        // One untimed call each: loads the kernel's module, and leaves out a candidate that cannot run.
        ok[i] = cublasLtMatmul(ctx->lt, desc, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &cand[i].algo,
                               ctx->lt_workspace, ctx->lt_workspace_size, stream) == CUBLAS_STATUS_SUCCESS;
        best_ms[i] = 1e30f;
    }
    for (int r = 0; r < kRounds; r++)
        for (int i = 0; i < n_cand; i++) {
            if (!ok[i]) continue;
            cudaCheck(cudaEventRecord(ev[0], stream));
            for (int c = 0; c < kCallsPerRound; c++)
                cublasCheck(cublasLtMatmul(ctx->lt, desc, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &cand[i].algo,
                                           ctx->lt_workspace, ctx->lt_workspace_size, stream));
            cudaCheck(cudaEventRecord(ev[1], stream));
            cudaCheck(cudaEventSynchronize(ev[1]));
            float ms = 0.0f;
            cudaCheck(cudaEventElapsedTime(&ms, ev[0], ev[1]));
            if (ms < best_ms[i]) best_ms[i] = ms;
        }
    int chosen = -1;
    for (int i = 0; i < n_cand; i++) {
        if (!ok[i]) continue;
        if (chosen < 0 || best_ms[i] < (1.0f - kMinGain) * best_ms[chosen]) chosen = i;
    }
    return chosen;
}

cublasLtMatmulAlgo_t gemm_tune_choose(const char *key, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la,
                                      cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t ld,
                                      const cublasLtMatmulHeuristicResult_t *cand, int n_cand, const void *A,
                                      const void *B, size_t d_bytes, float beta, cudaStream_t stream) {
    if (n_cand <= 1) return cand[0].algo;
    if (g_state < 0) tune_init();
    if (!g_state) return cand[0].algo;
    if (n_cand > 16) n_cand = 16;
    scout_cuda_context *ctx = scout_cuda_ctx();

    const uint64_t *saved = gemm_cache_find(&g_cache, key);
    if (saved) {
        cublasLtMatmulAlgo_t algo;
        memcpy(algo.data, saved, sizeof(algo.data));
        // A file from another setup (edited, or a library that reused the version number) must not hand us an
        // algorithm that cannot run this configuration: cuBLASLt checks it, and we time again if it objects.
        cublasLtMatmulHeuristicResult_t check;
        if (cublasLtMatmulAlgoCheck(ctx->lt, desc, la, lb, ld, ld, &algo, &check) == CUBLAS_STATUS_SUCCESS &&
            check.workspaceSize <= ctx->lt_workspace_size)
            return algo;
    }

    // The scratch D (C too when beta != 0: C = D) is the caller's D's size, allocated for the timing only and
    // freed at once; it stays outside the model's allocator, so reported peaks do not count it.
    void *D = NULL;
    if (cudaMalloc(&D, d_bytes) != cudaSuccess) {
        (void)cudaGetLastError(); // clear the allocation error (not a sticky one)
        return cand[0].algo;
    }
    cudaCheck(cudaMemsetAsync(D, 0, d_bytes, stream));
    if (!g_said_tuning) {
        g_said_tuning = 1;
        fprintf(stderr,
                "scout-cuda: timing cuBLASLt's candidates for each new matrix-product shape, choices kept in %s "
                "(SCOUT_CUDA_GEMM_TUNE=0: the heuristic's first)\n",
                g_cache.path[0] ? g_cache.path : "memory (no HOME or XDG_CACHE_HOME)");
    }
    int chosen = time_candidates(desc, la, lb, ld, cand, n_cand, A, B, D, beta, stream);
    cudaCheck(cudaFree(D));
    if (chosen < 0) return cand[0].algo; // none ran in the timing: let the caller's real call report it
    int err = gemm_cache_add(&g_cache, key, cand[chosen].algo.data);
    if (err && !g_said_write_error) {
        g_said_write_error = 1;
        fprintf(stderr, "scout-cuda: cannot write the GEMM choices to %s (%s); they are kept for this process only\n",
                g_cache.path, strerror(err));
    }
    return cand[chosen].algo;
}
