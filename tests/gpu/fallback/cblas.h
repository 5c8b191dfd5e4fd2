// cblas.h (tests/gpu/fallback): the one CBLAS routine the CPU reference uses (kernels/cpu/linear.c), for the
// self-contained GPU test binaries that scripts/gpu-check.sh builds: the device machine has the CUDA toolkit but
// not OpenBLAS. cblas_sgemm.c implements it plainly, accumulating in double.
#ifndef SCOUT_FALLBACK_CBLAS_H
#define SCOUT_FALLBACK_CBLAS_H

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                 float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
