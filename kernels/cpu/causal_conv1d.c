// causal_conv1d.c: Mamba's causal depthwise conv1d with bias (spec §7.2 step 2), channel-last layout.
#include <string.h>

#include "ops.h"

// out[b,t,e] = bias[e] + sum_j w[e,j] x[b, t-K+1+j, e] over the taps that fall at or after t = 0.
void causal_conv1d_forward_cpu(float *out, const float *x, int x_stride, const float *w, const float *bias,
                               int B, int T, int E, int K) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * E;
            for (int e = 0; e < E; e++) o[e] = bias ? bias[e] : 0.0f;
            for (int j = 0; j < K; j++) {
                int src = t - K + 1 + j;
                if (src < 0) continue; // implicit zero padding before the sequence
                const float *xs = x + ((size_t)b * T + src) * x_stride;
                for (int e = 0; e < E; e++) o[e] += w[(size_t)e * K + j] * xs[e];
            }
        }
}

// Input position s feeds outputs t = s + K-1-j for every tap j with t < T, so
// dx[s] = sum_j w[e,j] dout[s+K-1-j];  dw[e,j] += sum_t dout[t] x[t-K+1+j];  db[e] += sum_t dout[t].
void causal_conv1d_backward_cpu(float *dx, float *dw, float *db, const float *dout, const float *x,
                                int x_stride, const float *w, void *ws, int B, int T, int E, int K) {
    (void)ws;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *g = dout + ((size_t)b * T + t) * E;
            float *dxs = dx + ((size_t)b * T + t) * x_stride;
            memset(dxs, 0, (size_t)E * sizeof(float)); // only the E used columns: the rest is another op's
            for (int j = 0; j < K; j++) {
                int dst = t + K - 1 - j; // the output this input feeds through tap j
                if (dst >= T) continue;
                const float *gd = dout + ((size_t)b * T + dst) * E;
                for (int e = 0; e < E; e++) dxs[e] += w[(size_t)e * K + j] * gd[e];
            }
            for (int j = 0; j < K; j++) {
                int src = t - K + 1 + j;
                if (src < 0) continue;
                const float *xs = x + ((size_t)b * T + src) * x_stride;
                for (int e = 0; e < E; e++) dw[(size_t)e * K + j] += g[e] * xs[e];
            }
            if (db)
                for (int e = 0; e < E; e++) db[e] += g[e];
        }
}

// dw/db reduce in place on CPU; a GPU keeps per-block partials for a deterministic reduction.
size_t causal_conv1d_backward_workspace_size_cpu(int B, int T, int E, int K) {
    (void)B, (void)T, (void)E, (void)K;
    return 0;
}
