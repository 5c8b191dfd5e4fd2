// cpu_math.h: scalar helpers shared by the fp32 CPU ops (internal to kernels/cpu, not part of the API).
#ifndef SCOUT_CPU_MATH_H
#define SCOUT_CPU_MATH_H

#include <math.h>

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float siluf_(float x) { return x * sigmoidf_(x); }

// d silu(x) / dx = s + x s (1 - s), s = sigmoid(x).
static inline float silu_gradf_(float x) {
    float s = sigmoidf_(x);
    return s * (1.0f + x * (1.0f - s));
}

// Mamba's dt activation: identity above 20 (mamba-ssm, ggml and our CUDA kernels must share this threshold,
// spec §7.2), log1p(exp(x)) below. Its derivative is sigmoid(x) below the threshold and 1 above.
#define SCOUT_SOFTPLUS_THRESHOLD 20.0f
static inline float softplusf_(float x) { return x > SCOUT_SOFTPLUS_THRESHOLD ? x : log1pf(expf(x)); }
static inline float softplus_gradf_(float x) { return x > SCOUT_SOFTPLUS_THRESHOLD ? 1.0f : sigmoidf_(x); }

#endif
