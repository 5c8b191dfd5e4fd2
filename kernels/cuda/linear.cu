// linear.cu: y = x W^T (+ b) and its backward through cuBLASLt (bf16 operands, fp32 accumulation), plus the
// bias gradient.
//
// cuBLASLt is column-major; a row-major [R, C] buffer is a column-major C x R matrix with ld = C, so
//   forward  out^T [C_out x N]  = W^T [C_out x C_in] . x^T [C_in x N]          (A = W transposed, bias epilogue)
//   dx^T     [C_in x N]         = W   [C_in x C_out] . dout^T [C_out x N]
//   dW^T     [C_in x C_out]    += x^T [C_in x N]     . dout [N x C_out]          (fp32 output, beta = 1)
// The weight gradient is accumulated straight into the fp32 gradient buffer (C = D, beta = 1), so
// micro-batches add up without a bf16 round trip (D3). The bias gradient is a column sum of dout done by our
// own two-stage kernel (fixed-order partials, then column_sum's fixed-order sum into db): cuBLASLt's BGRADB epilogue would
// overwrite rather than accumulate.
//
// Descriptors and the algorithm are cached per GEMM configuration (plan_get). The alignment of every pointer is
// part of the configuration and passed in the preference, so that the heuristic never picks a kernel that
// assumes more alignment than a slice of a buffer has. The algorithm is the fastest of the heuristic's first
// candidates, timed once per machine (gemm_tune.cu).
#include "cuda/common.cuh"
#include "cuda/gemm_tune.cuh"
#include "gemm_cache.h"

static const int kRowsPerBlock = 64;

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// Grid (column blocks, row blocks): partial[row block, c] = sum of dout[rows of the block, c].
__global__ void bias_grad_partial_kernel(float *partial, const floatX *dout, int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    int r0 = blockIdx.y * kRowsPerBlock, r1 = min(r0 + kRowsPerBlock, N);
    float acc = 0.0f;
    for (int r = r0; r < r1; r++) acc += bf2f(dout[(size_t)r * C + c]);
    partial[(size_t)blockIdx.y * C + c] = acc;
}

// ----------------------------------------------------------------------------------------------------------
// cuBLASLt

// Largest power of two (at most 256) that divides the address.
static uint32_t alignment_of(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && (a % al) != 0) al >>= 1;
    return al;
}

// One GEMM configuration: everything the heuristic's answer depends on. Pointers are not part of it, only
// their alignments (a slice of a buffer may be less aligned than the buffer).
typedef struct {
    cudaDataType d_type;
    int trans_a, trans_b, m, n, k, lda, ldb, ldd, has_bias;
    int reads_c; // beta != 0: the epilogue reads C, which can change which candidate is fastest
    uint32_t al_a, al_b, al_c, al_d;
} plan_key;

// How many of the heuristic's candidates are timed: eight is what it offers for this project's shapes on the
// H200 (asked for 64), and the best of them was 3-5% faster over a step's products than its first.
static const int kCandidates = 8;

// A cached plan: the descriptors and the algorithm for one key, built on the key's first call and kept for the
// life of the process. Building them costs tens of microseconds of host time per call (five creates, a dozen
// attributes and the heuristic query), about as long as a 1024 x 1024 product takes on the GPU for a 16K-row
// micro-batch, so a per-call build left the GPU waiting for the host through the forward.
typedef struct {
    plan_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

// A model uses a few dozen shapes (every layer repeats the same ones); a full table means shapes keep changing,
// so the oldest plans are dropped round-robin rather than failing.
#define PLAN_CAP 256
static gemm_plan g_plans[PLAN_CAP];
static int g_n_plans = 0, g_next_evict = 0;

static void plan_destroy(gemm_plan *p) {
    cublasCheck(cublasLtMatrixLayoutDestroy(p->la));
    cublasCheck(cublasLtMatrixLayoutDestroy(p->lb));
    cublasCheck(cublasLtMatrixLayoutDestroy(p->ld));
    cublasCheck(cublasLtMatmulDescDestroy(p->desc));
}

// The configuration as one word: the tuning file's key (gemm_cache.h).
static void key_text(char *out, size_t n, const plan_key *k) {
    snprintf(out, n, "%s/t%d%d/m%d/n%d/k%d/ld%d.%d.%d/bias%d/c%d/al%u.%u.%u.%u",
             k->d_type == CUDA_R_32F ? "f32" : "bf16", k->trans_a, k->trans_b, k->m, k->n, k->k, k->lda, k->ldb,
             k->ldd, k->has_bias, k->reads_c, k->al_a, k->al_b, k->al_c, k->al_d);
}

// A, B and bias are the call's operands (read by the tuning's timed products), beta its beta.
static void plan_build(gemm_plan *p, const plan_key *key, const void *A, const void *B, const void *bias, float beta,
                       cudaStream_t stream) {
    scout_cuda_context *ctx = scout_cuda_ctx();
    p->key = *key;
    cublasCheck(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = key->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = key->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasCheck(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    cublasCheck(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    if (key->has_bias) {
        // The heuristic only needs to know there is a bias; its pointer is set on every call (matmul_lt), and here
        // for the tuning's timed products (gemm_tune_choose).
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        cudaDataType bias_type = CUDA_R_16BF;
        cublasCheck(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
        cublasCheck(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                   sizeof(bias_type)));
        cublasCheck(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    }
    // Layouts describe the stored matrices; the transpose is the descriptor's business.
    const int m = key->m, n = key->n, k = key->k;
    cublasCheck(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_16BF, key->trans_a ? k : m, key->trans_a ? m : k, key->lda));
    cublasCheck(cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_16BF, key->trans_b ? n : k, key->trans_b ? k : n, key->ldb));
    cublasCheck(cublasLtMatrixLayoutCreate(&p->ld, key->d_type, m, n, key->ldd));

    cublasLtMatmulPreference_t pref;
    cublasCheck(cublasLtMatmulPreferenceCreate(&pref));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                     &ctx->lt_workspace_size, sizeof(ctx->lt_workspace_size)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key->al_a,
                                                     sizeof(key->al_a)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key->al_b,
                                                     sizeof(key->al_b)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key->al_c,
                                                     sizeof(key->al_c)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key->al_d,
                                                     sizeof(key->al_d)));
    cublasLtMatmulHeuristicResult_t heur[kCandidates];
    int found = 0;
    cublasCheck(cublasLtMatmulAlgoGetHeuristic(ctx->lt, p->desc, p->la, p->lb, p->ld, p->ld, pref, kCandidates, heur,
                                               &found));
    cublasCheck(cublasLtMatmulPreferenceDestroy(pref));
    scout_require(found > 0, "cuBLASLt found no algorithm for m=%d n=%d k=%d (trans %d %d, bias %d, D %s)", m, n, k,
                  key->trans_a, key->trans_b, key->has_bias, key->d_type == CUDA_R_32F ? "fp32" : "bf16");
    char text[GEMM_CACHE_KEY_MAX];
    key_text(text, sizeof text, key);
    const size_t d_bytes = (size_t)key->ldd * n * (key->d_type == CUDA_R_32F ? 4 : 2);
    p->algo = gemm_tune_choose(text, p->desc, p->la, p->lb, p->ld, heur, found, A, B, d_bytes, beta, stream);
}

static gemm_plan *plan_get(const plan_key *key, const void *A, const void *B, const void *bias, float beta,
                           cudaStream_t stream) {
    for (int i = 0; i < g_n_plans; i++)
        if (memcmp(&g_plans[i].key, key, sizeof(*key)) == 0) return &g_plans[i];
    gemm_plan *p;
    if (g_n_plans < PLAN_CAP) {
        p = &g_plans[g_n_plans++];
    } else {
        p = &g_plans[g_next_evict];
        g_next_evict = (g_next_evict + 1) % PLAN_CAP;
        // The stream may still be running a product with these descriptors: cuBLASLt reads them at enqueue
        // time only, so destroying them after the call returned is safe.
        plan_destroy(p);
    }
    plan_build(p, key, A, B, bias, beta, stream);
    return p;
}

// D [m x n] (column-major, ld = ldd) = op(A) op(B) + beta C, op(A) m x k, op(B) k x n, all operands bf16;
// C has D's type and layout and is D itself when NULL; D bf16 or fp32; bias (bf16, length m) added by the
// epilogue when not NULL.
static void matmul_lt(void *D, cudaDataType d_type, int ldd, const floatX *A, bool trans_a, int lda, const floatX *B,
                      bool trans_b, int ldb, int m, int n, int k, const floatX *bias, const void *C, float beta,
                      cudaStream_t stream) {
    if (!C) C = D;
    scout_cuda_context *ctx = scout_cuda_ctx();
    plan_key key;
    memset(&key, 0, sizeof(key)); // padding too: keys are compared with memcmp
    key.d_type = d_type;
    key.trans_a = trans_a, key.trans_b = trans_b;
    key.m = m, key.n = n, key.k = k, key.lda = lda, key.ldb = ldb, key.ldd = ldd;
    key.has_bias = bias != NULL;
    key.reads_c = beta != 0.0f;
    key.al_a = alignment_of(A), key.al_b = alignment_of(B), key.al_c = alignment_of(C), key.al_d = alignment_of(D);
    gemm_plan *p = plan_get(&key, A, B, bias, beta, stream);
    if (bias)
        cublasCheck(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    const float alpha = 1.0f;
    cublasCheck(cublasLtMatmul(ctx->lt, p->desc, &alpha, A, p->la, B, p->lb, &beta, C, p->ld, D, p->ld, &p->algo,
                               ctx->lt_workspace, ctx->lt_workspace_size, stream));
}

// ----------------------------------------------------------------------------------------------------------
// op entry points

extern "C" void linear_forward_cuda(void *out, const void *x, const void *W, const void *bias, int N, int C_in,
                                    int C_out, cudaStream_t stream) {
    if (N <= 0 || C_out <= 0) return;
    // out^T [C_out x N] = (W [C_in x C_out col-major])^T . x^T [C_in x N]
    matmul_lt(out, CUDA_R_16BF, C_out, (const floatX *)W, true, C_in, (const floatX *)x, false, C_in, C_out, N, C_in,
              (const floatX *)bias, NULL, 0.0f, stream);
}

extern "C" void linear_residual_forward_cuda(void *out, const void *x, const void *W, const void *residual, int N,
                                             int C_in, int C_out, cudaStream_t stream) {
    if (N <= 0 || C_out <= 0) return;
    // As linear_forward_cuda with C = residual, beta = 1: the epilogue adds the residual to the fp32 product and
    // rounds once, and the separate add pass over [N, C_out] (two reads and a write) is gone.
    matmul_lt(out, CUDA_R_16BF, C_out, (const floatX *)W, true, C_in, (const floatX *)x, false, C_in, C_out, N, C_in,
              NULL, residual, 1.0f, stream);
}

// Workspace: the bias gradient's partial column sums, one fp32 row per kRowsPerBlock rows of dout.
extern "C" size_t linear_backward_workspace_size_cuda(int N, int C_in, int C_out) {
    (void)C_in;
    if (N <= 0 || C_out <= 0) return 0;
    return (size_t)ceil_div(N, kRowsPerBlock) * C_out * sizeof(float);
}

extern "C" void linear_backward_cuda(void *dx, float *dW, float *db, const void *dout, const void *x, const void *W,
                                     void *ws, int N, int C_in, int C_out, int dx_mode, cudaStream_t stream) {
    if (N <= 0 || C_in <= 0 || C_out <= 0) return;
    // dx^T [C_in x N] (+)= W [C_in x C_out] . dout^T [C_out x N]   (beta = 0: written; 1: accumulated, the sum
    // formed in fp32 by the epilogue and rounded to bf16 once)
    matmul_lt(dx, CUDA_R_16BF, C_in, (const floatX *)W, false, C_in, (const floatX *)dout, false, C_out, C_in, N,
              C_out, NULL, NULL, dx_mode == SCOUT_DX_ADD ? 1.0f : 0.0f, stream);
    // dW^T [C_in x C_out] += x^T [C_in x N] . (dout^T [C_out x N])^T   (accumulated in fp32: beta = 1). On one
    // stream after dx: beside it on a second stream measured 0.5-1% slower per step of scout_swa_470m at 8 x 2048
    // on the H200 (BENCHMARKS.md, sixth round): two full-GPU products only contend.
    matmul_lt(dW, CUDA_R_32F, C_in, (const floatX *)x, false, C_in, (const floatX *)dout, true, C_out, C_in, C_out, N,
              NULL, NULL, 1.0f, stream);
    if (!db) return;
    float *partial = (float *)ws;
    const int n_blocks = ceil_div(N, kRowsPerBlock);
    scout_require(n_blocks <= 65535, "linear: N = %d rows is over the bias-gradient grid limit", N);
    bias_grad_partial_kernel<<<dim3(ceil_div(C_out, 256), n_blocks), 256, 0, stream>>>(partial, (const floatX *)dout,
                                                                                      N, C_out);
    cudaCheck(cudaGetLastError());
    column_sum(ColSumAdd{db}, partial, n_blocks, C_out, stream);
}
