// cblas_sgemm.c (tests/gpu/fallback): C = alpha op(A) op(B) + beta C, row- or column-major, sums in double.
// Slow and exact enough to serve as the CPU reference's matrix product in the GPU test binaries.
#include <stdlib.h>

#include "cblas.h"

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                 float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (order == CblasColMajor) { // C^T = op(B)^T op(A)^T in row-major terms
        cblas_sgemm(CblasRowMajor, tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
        return;
    }
    double *row = malloc((size_t)(N > 0 ? N : 1) * sizeof(double));
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) row[j] = 0.0;
        for (int p = 0; p < K; p++) {
            double a = ta == CblasNoTrans ? A[(size_t)i * lda + p] : A[(size_t)p * lda + i];
            if (a == 0.0) continue;
            if (tb == CblasNoTrans) {
                const float *b = B + (size_t)p * ldb;
                for (int j = 0; j < N; j++) row[j] += a * b[j];
            } else {
                for (int j = 0; j < N; j++) row[j] += a * B[(size_t)j * ldb + p];
            }
        }
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) c[j] = (float)(alpha * row[j] + (beta != 0.0f ? (double)beta * c[j] : 0.0));
    }
    free(row);
}
