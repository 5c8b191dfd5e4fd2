// linear.cu: y = x W^T (+ b) and its backward through cuBLASLt (bf16 operands, fp32 accumulation), plus the
// bias gradient.
//
// cuBLASLt is column-major; a row-major [R, C] buffer is a column-major C x R matrix with ld = C, so
//   forward  out^T [C_out x N]  = W^T [C_out x C_in] . x^T [C_in x N]          (A = W transposed, bias epilogue)
//   dx^T     [C_in x N]         = W   [C_in x C_out] . dout^T [C_out x N]
//   dW^T     [C_in x C_out]    += x^T [C_in x N]     . dout [N x C_out]          (fp32 output, beta = 1)
// The weight gradient is accumulated straight into the fp32 gradient buffer (C = D, beta = 1), so
// micro-batches add up without a bf16 round trip (D3). The bias gradient is a column sum of dout done by our
// own two-stage kernel (fixed-order partials, then an in-order sum into db): cuBLASLt's BGRADB epilogue would
// overwrite rather than accumulate.
//
// Descriptors are built per call, as llm.c does; cuBLASLt caches its heuristic results internally. The
// alignment of every pointer is passed in the preference so that the heuristic never picks a kernel that
// assumes more alignment than a slice of a buffer has.
#include "cuda/common.cuh"

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

__global__ void bias_grad_reduce_kernel(float *db, const float *partial, int n_blocks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.0f;
    for (int b = 0; b < n_blocks; b++) acc += partial[(size_t)b * C + c];
    db[c] += acc;
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

// D [m x n] (column-major, ld = ldd) = op(A) op(B) + beta D, op(A) m x k, op(B) k x n, all operands bf16;
// D bf16 or fp32; bias (bf16, length m) added by the epilogue when not NULL.
static void matmul_lt(void *D, cudaDataType d_type, int ldd, const floatX *A, bool trans_a, int lda, const floatX *B,
                      bool trans_b, int ldb, int m, int n, int k, const floatX *bias, float beta, cudaStream_t stream) {
    scout_cuda_context *ctx = scout_cuda_ctx();
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulPreference_t pref;
    cublasCheck(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    if (bias) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        cudaDataType bias_type = CUDA_R_16BF;
        cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
        cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
        cublasCheck(
            cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    }
    // Layouts describe the stored matrices; the transpose is the descriptor's business.
    cublasCheck(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, trans_a ? k : m, trans_a ? m : k, lda));
    cublasCheck(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, trans_b ? n : k, trans_b ? k : n, ldb));
    cublasCheck(cublasLtMatrixLayoutCreate(&ld, d_type, m, n, ldd));

    cublasCheck(cublasLtMatmulPreferenceCreate(&pref));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                     &ctx->lt_workspace_size, sizeof(ctx->lt_workspace_size)));
    uint32_t al_a = alignment_of(A), al_b = alignment_of(B), al_d = alignment_of(D);
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a,
                                                     sizeof(al_a)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b,
                                                     sizeof(al_b)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d,
                                                     sizeof(al_d)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d,
                                                     sizeof(al_d)));

    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
    cublasCheck(cublasLtMatmulAlgoGetHeuristic(ctx->lt, desc, la, lb, ld, ld, pref, 1, &heur, &found));
    scout_require(found > 0, "cuBLASLt found no algorithm for m=%d n=%d k=%d (trans %d %d, bias %d, D %s)", m, n, k,
                  trans_a, trans_b, bias != NULL, d_type == CUDA_R_32F ? "fp32" : "bf16");
    const float alpha = 1.0f;
    cublasCheck(cublasLtMatmul(ctx->lt, desc, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &heur.algo,
                               ctx->lt_workspace, ctx->lt_workspace_size, stream));
    cublasCheck(cublasLtMatmulPreferenceDestroy(pref));
    cublasCheck(cublasLtMatrixLayoutDestroy(la));
    cublasCheck(cublasLtMatrixLayoutDestroy(lb));
    cublasCheck(cublasLtMatrixLayoutDestroy(ld));
    cublasCheck(cublasLtMatmulDescDestroy(desc));
}

// ----------------------------------------------------------------------------------------------------------
// op entry points

extern "C" void linear_forward_cuda(void *out, const void *x, const void *W, const void *bias, int N, int C_in,
                                    int C_out, cudaStream_t stream) {
    if (N <= 0 || C_out <= 0) return;
    // out^T [C_out x N] = (W [C_in x C_out col-major])^T . x^T [C_in x N]
    matmul_lt(out, CUDA_R_16BF, C_out, (const floatX *)W, true, C_in, (const floatX *)x, false, C_in, C_out, N, C_in,
              (const floatX *)bias, 0.0f, stream);
}

// Workspace: the bias gradient's partial column sums, one fp32 row per kRowsPerBlock rows of dout.
extern "C" size_t linear_backward_workspace_size_cuda(int N, int C_in, int C_out) {
    (void)C_in;
    if (N <= 0 || C_out <= 0) return 0;
    return (size_t)ceil_div(N, kRowsPerBlock) * C_out * sizeof(float);
}

extern "C" void linear_backward_cuda(void *dx, float *dW, float *db, const void *dout, const void *x, const void *W,
                                     void *ws, int N, int C_in, int C_out, cudaStream_t stream) {
    if (N <= 0 || C_in <= 0 || C_out <= 0) return;
    // dx^T [C_in x N] = W [C_in x C_out] . dout^T [C_out x N]   (written: beta = 0)
    matmul_lt(dx, CUDA_R_16BF, C_in, (const floatX *)W, false, C_in, (const floatX *)dout, false, C_out, C_in, N,
              C_out, NULL, 0.0f, stream);
    // dW^T [C_in x C_out] += x^T [C_in x N] . (dout^T [C_out x N])^T   (accumulated in fp32: beta = 1)
    matmul_lt(dW, CUDA_R_32F, C_in, (const floatX *)x, false, C_in, (const floatX *)dout, true, C_out, C_in, C_out, N,
              NULL, 1.0f, stream);
    if (!db) return;
    float *partial = (float *)ws;
    const int n_blocks = ceil_div(N, kRowsPerBlock);
    scout_require(n_blocks <= 65535, "linear: N = %d rows is over the bias-gradient grid limit", N);
    bias_grad_partial_kernel<<<dim3(ceil_div(C_out, 256), n_blocks), 256, 0, stream>>>(partial, (const floatX *)dout,
                                                                                      N, C_out);
    cudaCheck(cudaGetLastError());
    bias_grad_reduce_kernel<<<ceil_div(C_out, 256), 256, 0, stream>>>(db, partial, n_blocks, C_out);
    cudaCheck(cudaGetLastError());
}
