// linear.c: y = x W^T (+ b) and its backward, through OpenBLAS sgemm (row-major, W as [out, in]).
#include <cblas.h>

#include "ops.h"

void linear_forward_cpu(float *out, const float *x, const float *W, const float *bias, int N, int C_in,
                        int C_out) {
    // out[N, C_out] = x[N, C_in] · W[C_out, C_in]^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C_out, C_in, 1.0f, x, C_in, W, C_in, 0.0f, out,
                C_out);
    if (!bias) return;
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * C_out;
        for (int o = 0; o < C_out; o++) row[o] += bias[o];
    }
}

void linear_residual_forward_cpu(float *out, const float *x, const float *W, const float *residual, int N, int C_in,
                                 int C_out) {
    linear_forward_cpu(out, x, W, NULL, N, C_in, C_out);
    // residual + product, in that order: the same sums as the product followed by add_cpu(out, residual, out).
    const size_t n = (size_t)N * C_out;
    for (size_t i = 0; i < n; i++) out[i] = residual[i] + out[i];
}

void linear_backward_cpu(float *dx, float *dW, float *db, const float *dout, const float *x, const float *W,
                         void *ws, int N, int C_in, int C_out, int dx_mode) {
    (void)ws;
    // dx[N, C_in] (+)= dout[N, C_out] · W[C_out, C_in]       (beta = 0: written; 1: accumulated)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C_in, C_out, 1.0f, dout, C_out, W, C_in,
                dx_mode == SCOUT_DX_ADD ? 1.0f : 0.0f, dx, C_in);
    // dW[C_out, C_in] += dout[N, C_out]^T · x[N, C_in]       (accumulated: beta = 1)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C_out, C_in, N, 1.0f, dout, C_out, x, C_in, 1.0f, dW,
                C_in);
    if (!db) return;
    for (int n = 0; n < N; n++) {
        const float *row = dout + (size_t)n * C_out;
        for (int o = 0; o < C_out; o++) db[o] += row[o];
    }
}

// OpenBLAS manages its own buffers; a GPU needs cuBLASLt workspace and bias-gradient partials.
size_t linear_backward_workspace_size_cpu(int N, int C_in, int C_out) {
    (void)N, (void)C_in, (void)C_out;
    return 0;
}
