// gpu_harness.h: what the GPU test and benchmark programs share: a seeded RNG, host bf16 rounding, and device
// tensors with guard zones, poisoning and raw downloads (header-only; the programs are C, linked against
// libscoutk.a and the CUDA runtime).
#ifndef SCOUT_GPU_HARNESS_H
#define SCOUT_GPU_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "cuda/ops_cuda.cuh"
#include "ops.h"

// ---- errors -------------------------------------------------------------------------------------------------

#define GPU_CHECK(call)                                                                                    \
    do {                                                                                                   \
        cudaError_t e_ = (call);                                                                           \
        if (e_ != cudaSuccess) {                                                                           \
            fprintf(stderr, "%s:%d: CUDA error %s in %s\n", __FILE__, __LINE__, cudaGetErrorString(e_), #call); \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)

// ---- RNG: splitmix64, reseeded per test case from the case's name and a run seed ---------------------------

static uint64_t g_rng = 0x5C0u;
static inline uint64_t rng_next(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double rng_uniform(double lo, double hi) { return lo + (hi - lo) * (double)(rng_next() >> 11) * 0x1p-53; }
static inline int rng_int(int n) { return (int)(rng_next() % (uint64_t)n); }

// ---- bf16 on the host: round to nearest even, as __float2bfloat16_rn ------------------------------------

static inline uint16_t f2bf_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (uint16_t)((u >> 16) | 0x40); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static inline float bf_bits2f(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}
static inline float bf_round(float x) { return bf_bits2f(f2bf_bits(x)); }

// Host arrays of n values drawn uniformly from [lo, hi), rounded to bf16 when bf (so that the CPU reference and
// the GPU see the same numbers).
static inline float *host_random(size_t n, double lo, double hi, int bf) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float x = (float)rng_uniform(lo, hi);
        p[i] = bf ? bf_round(x) : x;
    }
    return p;
}
static inline float *host_copy(const float *src, size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    memcpy(p, src, n * sizeof(float));
    return p;
}
static inline void host_round_bf16(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = bf_round(p[i]);
}

// ---- device tensors ----------------------------------------------------------------------------------------
// A tensor of n elements of 4 (fp32, int32) or 2 (bf16) bytes with kGuard elements of guard pattern on either
// side: a kernel writing out of bounds breaks a guard. Poison is a NaN with a payload no kernel computes, so
// "every element written" can be checked exactly.

enum { K_F32 = 0, K_BF16 = 1, K_I32 = 2 };
#define kGuard 64
static const uint32_t kGuard32 = 0x5A5A5A5Au;
static const uint16_t kGuard16 = 0x5A5Au;
static const uint32_t kPoison32 = 0x7FB7B7B7u;
static const uint16_t kPoison16 = 0x7FB7u;

typedef struct {
    int kind;
    size_t n, esize;
    unsigned char *base; // device, with guards
    unsigned char *p;    // device, the tensor
} dtensor;

static inline size_t kind_size(int kind) { return kind == K_BF16 ? 2 : 4; }

static inline void fill_pattern(unsigned char *host, size_t n, size_t esize, uint32_t pat32, uint16_t pat16) {
    for (size_t i = 0; i < n; i++) {
        if (esize == 4) memcpy(host + 4 * i, &pat32, 4);
        else memcpy(host + 2 * i, &pat16, 2);
    }
}

static inline dtensor dt_alloc(int kind, size_t n) {
    dtensor t;
    t.kind = kind;
    t.n = n;
    t.esize = kind_size(kind);
    size_t total = (n + 2 * kGuard) * t.esize;
    GPU_CHECK(cudaMalloc((void **)&t.base, total));
    unsigned char *h = (unsigned char *)malloc(total);
    fill_pattern(h, n + 2 * kGuard, t.esize, kGuard32, kGuard16);
    GPU_CHECK(cudaMemcpy(t.base, h, total, cudaMemcpyHostToDevice));
    free(h);
    t.p = t.base + kGuard * t.esize;
    return t;
}
static inline void dt_free(dtensor *t) {
    if (t->base) GPU_CHECK(cudaFree(t->base));
    t->base = t->p = NULL;
}

// Host fp32 (or int32 for K_I32) values -> device, converting to bf16 bits for K_BF16.
static inline void dt_upload(dtensor *t, const void *host) {
    if (t->n == 0) return;
    if (t->kind == K_BF16) {
        uint16_t *b = (uint16_t *)malloc(t->n * 2);
        const float *f = (const float *)host;
        for (size_t i = 0; i < t->n; i++) b[i] = f2bf_bits(f[i]);
        GPU_CHECK(cudaMemcpy(t->p, b, t->n * 2, cudaMemcpyHostToDevice));
        free(b);
    } else {
        GPU_CHECK(cudaMemcpy(t->p, host, t->n * 4, cudaMemcpyHostToDevice));
    }
}
static inline void dt_poison(dtensor *t) {
    if (t->n == 0) return;
    unsigned char *h = (unsigned char *)malloc(t->n * t->esize);
    fill_pattern(h, t->n, t->esize, kPoison32, kPoison16);
    GPU_CHECK(cudaMemcpy(t->p, h, t->n * t->esize, cudaMemcpyHostToDevice));
    free(h);
}
// Raw bytes of the tensor (n * esize), and whether both guard zones still hold the guard pattern.
static inline unsigned char *dt_download_raw(const dtensor *t, int *guards_ok) {
    size_t total = (t->n + 2 * kGuard) * t->esize;
    unsigned char *h = (unsigned char *)malloc(total);
    GPU_CHECK(cudaMemcpy(h, t->base, total, cudaMemcpyDeviceToHost));
    int ok = 1;
    for (size_t i = 0; i < kGuard; i++) {
        size_t lo = i, hi = kGuard + t->n + i;
        if (t->esize == 4) {
            uint32_t a, b;
            memcpy(&a, h + 4 * lo, 4);
            memcpy(&b, h + 4 * hi, 4);
            ok &= a == kGuard32 && b == kGuard32;
        } else {
            uint16_t a, b;
            memcpy(&a, h + 2 * lo, 2);
            memcpy(&b, h + 2 * hi, 2);
            ok &= a == kGuard16 && b == kGuard16;
        }
    }
    if (guards_ok) *guards_ok = ok;
    unsigned char *r = (unsigned char *)malloc(t->n * t->esize + 1);
    memcpy(r, h + kGuard * t->esize, t->n * t->esize);
    free(h);
    return r;
}
static inline float raw_get(const unsigned char *raw, int kind, size_t i) {
    if (kind == K_BF16) {
        uint16_t b;
        memcpy(&b, raw + 2 * i, 2);
        return bf_bits2f(b);
    }
    float f;
    memcpy(&f, raw + 4 * i, 4);
    return f;
}
static inline int raw_is_poison(const unsigned char *raw, int kind, size_t i) {
    if (kind == K_BF16) {
        uint16_t b;
        memcpy(&b, raw + 2 * i, 2);
        return b == kPoison16;
    }
    uint32_t u;
    memcpy(&u, raw + 4 * i, 4);
    return u == kPoison32;
}

#endif
