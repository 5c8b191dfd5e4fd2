// cpu_math.h: scalar helpers shared by the fp32 CPU ops (internal to kernels/cpu, not part of the API).
//
// Everything here is a static inline function of plain float / int arithmetic with no calls and no branches
// that depend on data, so that GCC vectorises the loops that use it at the project's -O2
// -fvect-cost-model=dynamic without -ffast-math (a libm expf() call never vectorises). Each lane computes
// the same IEEE operations as the scalar code, so a result does not depend on whether or how wide the loop
// was vectorised.
#ifndef SCOUT_CPU_MATH_H
#define SCOUT_CPU_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// SCOUT_UNROLL(n) before a loop of n "lanes" (independent partial sums over a fixed count): GCC unrolls it
// fully at -O2, so that SLP vectorises it and the lanes stay in registers instead of a stack array.
#define SCOUT_PRAGMA_(x) _Pragma(#x)
#define SCOUT_UNROLL(n) SCOUT_PRAGMA_(GCC unroll n)

// SCOUT_SIMD_CLONES before the definition of a hot, purely vectorisable op: on x86-64 with GCC the function
// is compiled three times, for AVX-512, AVX2 and the x86-64 baseline (SSE2), and the dynamic loader picks
// the widest the CPU has (an ifunc; the project flags stay -O2 with no -march). fp-contract=off keeps the
// AVX-512 clone from fusing a * b + c into an FMA, so every clone performs the same IEEE operations in the
// same order and returns the same bits as the baseline: the choice of clone changes the speed, never the
// result. Elsewhere (another compiler or architecture), or with -DSCOUT_NO_SIMD_CLONES, it is empty.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(SCOUT_NO_SIMD_CLONES)
#define SCOUT_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#else
#define SCOUT_SIMD_CLONES
#endif

static inline uint32_t f32_bits_(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float f32_from_bits_(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

// exp(x) in float, the fast path of every exp in the CPU ops (softmax, cross-entropy, sigmoid, the scan).
//
// Method (Cephes expf): k = round(x / ln 2) with the 1.5 * 2^23 shifter, r = x - k ln 2 in two parts
// (Cody-Waite: k * SCOUT_LN2_HI is exact for |k| < 2^15, so r carries no cancellation error), |r| <= ln2/2,
// exp(r) = 1 + r + r^2 P(r) with Cephes's degree-5 minimax P, then the result times 2^k, built in the
// exponent field. 2^k is applied as two factors 2^(k>>1) * 2^(k - (k>>1)) so that k from -151 to 128 needs
// no special case: the first product is exact, the second rounds once, into the subnormal range too.
//
// Accuracy, against libm's exp in double over all 2^32 floats (checked once; tests/unit/test_ops_loss_optim.c
// repeats it on a dense sample): below 1 ulp (max 0.99 ulp, relative 8.2e-8) wherever exp(x) is a normal
// float (-87.33 < x < 88.72); in the subnormal range the absolute error is below 2^-149; exp(0) = 1 exactly.
// Special values: x < -104 (where exp(x) < 2^-150 rounds to 0) and -inf give +0; x > 88.73 and +inf give
// +inf; NaN gives NaN. libm's expf is correctly rounded (0.5 ulp); the difference is far below what the ops'
// fp32 sums already carry.
#define SCOUT_LN2_HI 0.693359375f        // 355/512, 9 significant bits
#define SCOUT_LN2_LO (-2.12194440e-4f)   // ln 2 - SCOUT_LN2_HI
#define SCOUT_LOG2E 1.44269504088896341f
static inline float fast_expf_(float x) {
    const float shifter = 12582912.0f; // 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits
    float t = x * SCOUT_LOG2E + shifter;
    float kf = t - shifter;
    int32_t k = (int32_t)(f32_bits_(t) - f32_bits_(shifter)); // t's mantissa holds 2^22 + k exactly
    float r = x - kf * SCOUT_LN2_HI;
    r = r - kf * SCOUT_LN2_LO;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t k1 = k >> 1, k2 = k - k1; // arithmetic shift: k1 = floor(k / 2)
    float s1 = f32_from_bits_((uint32_t)(k1 + 127) << 23), s2 = f32_from_bits_((uint32_t)(k2 + 127) << 23);
    uint32_t y = f32_bits_(p * s1 * s2);
    // Out of [-104, 89] k leaves [-151, 128] and y is garbage; there the result is 0 or inf. Bit masks, not
    // branches: GCC would sink the arithmetic into a branch that it then cannot if-convert (the arithmetic
    // "could trap" under the default -ftrapping-math). NaN fails both tests and stays NaN.
    uint32_t under = -(uint32_t)(x < -104.0f), over = -(uint32_t)(x > 89.0f);
    y &= ~(under | over);
    y |= over & 0x7f800000u;
    return f32_from_bits_(y);
}

// sum_i a[i] b[i] in float, in DOT_LANES independent partial sums so that it vectorises and does not wait on
// one chain of adds: lane l sums the products i = l mod DOT_LANES, the lanes are added pairwise, then the
// tail (d mod DOT_LANES) in order. The order depends on d alone (deterministic).
#define DOT_LANES 8
static inline float dot_(const float *a, const float *b, int d) {
    float acc[DOT_LANES] = {0};
    int i = 0;
    for (; i + DOT_LANES <= d; i += DOT_LANES)
        SCOUT_UNROLL(DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) acc[l] += a[i + l] * b[i + l];
    float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

// sum_i a[i], in the lanes and order of dot_.
static inline float sum_(const float *a, int d) {
    float acc[DOT_LANES] = {0};
    int i = 0;
    for (; i + DOT_LANES <= d; i += DOT_LANES)
        SCOUT_UNROLL(DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) acc[l] += a[i + l];
    float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < d; i++) s += a[i];
    return s;
}

// 1 / (1 + exp(-x)): 0 for x < -88.7 (exp(-x) = inf), 1 for large x.
static inline float sigmoidf_(float x) { return 1.0f / (1.0f + fast_expf_(-x)); }

static inline float siluf_(float x) { return x * sigmoidf_(x); }

// d silu(x) / dx = s + x s (1 - s), s = sigmoid(x).
static inline float silu_gradf_(float x) {
    float s = sigmoidf_(x);
    return s * (1.0f + x * (1.0f - s));
}

// log(1 + y) for y >= 0, the partner of fast_expf_ in softplus. u = 1 + y is rounded, and the rounding error
// is put back to first order: log1p(y) = log(u) + (y - (u - 1)) / u (exact when u = 1, where it gives y).
// log(u) = e ln 2 + log(m) with u = 2^e m, m in [sqrt(1/2), sqrt(2)), and log(m) from Cephes's logf
// polynomial in f = m - 1. Branch-free like fast_expf_. Accuracy against libm's log1p in double, over every
// float (checked once; tests/unit/test_ops_loss_optim.c repeats it on a sample): max 1.25 ulp for y in
// [0, 1e30], and softplusf_ below max 1.99 ulp for x in [-110, 20]. y = +inf gives +inf, NaN gives NaN.
static inline float fast_log1pf_(float y) {
    float u = 1.0f + y;
    float corr = (y - (u - 1.0f)) / u;
    uint32_t ub = f32_bits_(u);
    int32_t e = (int32_t)(ub >> 23) - 127;
    float m = f32_from_bits_((ub & 0x007fffffu) | 0x3f800000u); // [1, 2)
    uint32_t big = -(uint32_t)(m > 1.41421356f);                 // m -> m / 2, e -> e + 1
    m = f32_from_bits_(f32_bits_(m) - (big & 0x00800000u));
    e += (int32_t)(big & 1u);
    float f = m - 1.0f, f2 = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float ef = (float)e;
    float r = f + (f2 * f * p - 0.5f * f2 + ef * SCOUT_LN2_LO) + ef * SCOUT_LN2_HI;
    r = r + corr;
    // u = +inf (y = +inf or y huge): the exponent field 255 gives garbage; NaN keeps its NaN through f.
    uint32_t inf = -(uint32_t)(u == INFINITY);
    return f32_from_bits_((f32_bits_(r) & ~inf) | (inf & 0x7f800000u));
}

// Mamba's dt activation: identity above 20 (mamba-ssm, ggml and our CUDA kernels must share this threshold,
// spec §7.2), log1p(exp(x)) below. Its derivative is sigmoid(x) below the threshold and 1 above.
#define SCOUT_SOFTPLUS_THRESHOLD 20.0f
// Both are computed for every x and the branch chosen by a bit mask (select_f_): with a plain ?: GCC would
// move the arithmetic into a branch that it then cannot if-convert (see fast_expf_), and the loop would not
// vectorise.
static inline float select_f_(int cond, float a, float b) { // cond ? a : b, without a branch
    uint32_t mask = -(uint32_t)(cond != 0);
    return f32_from_bits_((f32_bits_(a) & mask) | (f32_bits_(b) & ~mask));
}
static inline float softplusf_(float x) {
    return select_f_(x > SCOUT_SOFTPLUS_THRESHOLD, x, fast_log1pf_(fast_expf_(x)));
}
static inline float softplus_gradf_(float x) { return select_f_(x > SCOUT_SOFTPLUS_THRESHOLD, 1.0f, sigmoidf_(x)); }

#endif
