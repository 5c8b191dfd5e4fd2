// rmsnorm.c: RMSNorm (spec §6.4), y = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps).
//
// The row statistics are sums in double (C is up to a few thousand and this is the reference), taken in
// RMS_LANES independent partial sums so that they vectorise; the order depends on C alone (deterministic).
#include <math.h>

#include "cpu_math.h"
#include "ops.h"

#define RMS_LANES 8

// sum_c a[c] b[c] c3[c] in double (c3 = NULL: sum_c a[c] b[c]).
static inline double row_sum_d(const float *a, const float *b, const float *c3, int C) {
    double lane[RMS_LANES] = {0};
    int c = 0;
    if (c3) {
        for (; c + RMS_LANES <= C; c += RMS_LANES)
            SCOUT_UNROLL(RMS_LANES)
            for (int j = 0; j < RMS_LANES; j++) lane[j] += (double)a[c + j] * b[c + j] * c3[c + j];
    } else {
        for (; c + RMS_LANES <= C; c += RMS_LANES)
            SCOUT_UNROLL(RMS_LANES)
            for (int j = 0; j < RMS_LANES; j++) lane[j] += (double)a[c + j] * b[c + j];
    }
    double s = ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
    for (; c < C; c++) s += c3 ? (double)a[c] * b[c] * c3[c] : (double)a[c] * b[c];
    return s;
}

void rmsnorm_forward_cpu(float *out, float *rstd, const float *x, const float *w, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *yr = out + (size_t)n * C;
        double ss = row_sum_d(xr, xr, NULL, C);
        float r = (float)(1.0 / sqrt(ss / C + eps));
        rstd[n] = r;
        for (int c = 0; c < C; c++) yr[c] = xr[c] * r * w[c];
    }
}

// With g = dout * w and r = rstd: dx = r g - r^3 x mean(g x);  dw += dout x r.
void rmsnorm_backward_cpu(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, void *ws, int N, int C, int dx_mode) {
    (void)ws;
    const int add = dx_mode == SCOUT_DX_ADD;
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *gr = dout + (size_t)n * C;
        float *dxr = dx + (size_t)n * C;
        float r = rstd[n];
        double gx = row_sum_d(gr, w, xr, C);
        float k = (float)(gx / C) * r * r * r;
        for (int c = 0; c < C; c++) {
            const float d = r * gr[c] * w[c] - k * xr[c];
            dxr[c] = add ? dxr[c] + d : d;
            dw[c] += gr[c] * xr[c] * r;
        }
    }
}

// dw is reduced row by row into the caller's accumulator: no scratch on CPU (a GPU keeps per-block partials).
size_t rmsnorm_backward_workspace_size_cpu(int N, int C) {
    (void)N, (void)C;
    return 0;
}
