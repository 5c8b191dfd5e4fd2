// silu.c: SiLU activation, out = x * sigmoid(x) (the Mamba conv output activation), and its backward.
#include "cpu_math.h"
#include "ops.h"

SCOUT_SIMD_CLONES
void silu_forward_cpu(float *out, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = siluf_(x[i]);
}

SCOUT_SIMD_CLONES
void silu_backward_cpu(float *dx, const float *dout, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = dout[i] * silu_gradf_(x[i]);
}
