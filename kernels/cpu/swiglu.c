// swiglu.c: the gated MLP activation out = silu(gate) * up (spec §6.3), gate/up split or fused.
#include "cpu_math.h"
#include "ops.h"

SCOUT_SIMD_CLONES
void swiglu_forward_cpu(float *out, const float *gate, const float *up, int in_stride, int N, int inter) {
    for (int n = 0; n < N; n++) {
        const float *g = gate + (size_t)n * in_stride, *u = up + (size_t)n * in_stride;
        float *o = out + (size_t)n * inter;
        for (int i = 0; i < inter; i++) o[i] = siluf_(g[i]) * u[i];
    }
}

SCOUT_SIMD_CLONES
void swiglu_backward_cpu(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                         int in_stride, int N, int inter) {
    for (int n = 0; n < N; n++) {
        const float *g = gate + (size_t)n * in_stride, *u = up + (size_t)n * in_stride;
        const float *go = dout + (size_t)n * inter;
        float *dg = dgate + (size_t)n * in_stride, *du = dup + (size_t)n * in_stride;
        for (int i = 0; i < inter; i++) {
            float gi = g[i], ui = u[i]; // read both before writing either: the op may run in place
            dg[i] = go[i] * ui * silu_gradf_(gi);
            du[i] = go[i] * siluf_(gi);
        }
    }
}
