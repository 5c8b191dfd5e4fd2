// ops_harness.h: what every op test shares: a seeded RNG, guarded buffers that catch out-of-bounds
// writes, error metrics, and the double-precision finite-difference gradient check.
//
// Header-only: each test_ops_*.c includes it; test_ops_harness.c checks the harness itself can fail.
//
// The method, for every op: a naive double-precision oracle of the forward written from spec/model.md inside
// the test; the float op's forward is compared with it; the scalar loss L = sum(out * R), R random, is
// differentiated by central differences of the oracle in double; the float backward, fed dout = R, must
// match. Errors are normalised by the largest reference magnitude of the tensor (as ggml's NMSE-style
// checks): max_i |got_i - ref_i| / max_i |ref_i|.
//
// Tolerances: forward 1e-5, backward 1e-4. fp32 ops with accumulations of at most a few hundred terms
// land near 1e-7..1e-6 (measured values are printed); a central difference in double with eps = 1e-6 is
// exact to ~1e-9 (truncation eps^2 f''' ~ 1e-12, cancellation 1e-16 |L| / eps ~ 1e-9). So the
// tolerances leave 10-100x headroom over fp32 noise, while any real mistake (a missing term, a wrong
// index, an off-by-one key) moves a gradient by at least ~1/T or 1/W relative, i.e. > 1e-2.
#ifndef SCOUT_OPS_HARNESS_H
#define SCOUT_OPS_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define FWD_TOL 1e-5
#define BWD_TOL 1e-4
#define FD_EPS 1e-6

// ---- RNG: splitmix64, so every run sees the same inputs -------------------------------------------------

static uint64_t rng_state_ = 0x5C0u;

static inline void rng_seed(uint64_t seed) { rng_state_ = seed; }

static inline uint64_t rng_next(void) {
    uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [lo, hi).
static inline double rng_uniform(double lo, double hi) {
    return lo + (hi - lo) * (double)(rng_next() >> 11) * 0x1p-53;
}

static inline int rng_int(int n) { return (int)(rng_next() % (uint64_t)n); }

static inline void fill_uniform(float *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_uniform(lo, hi);
}

// ---- guarded buffers: 16 sentinel floats either side; an op writing out of bounds breaks them -----------

#define GUARD 16
#define SENTINEL (-12345.678f)

typedef struct {
    size_t n;
    float pad_[14]; // header of 64 bytes, so the payload keeps 64-byte alignment
} guard_header;

static inline float *galloc(size_t n) {
    guard_header *hdr = malloc(sizeof(guard_header) + (n + 2 * GUARD) * sizeof(float));
    if (!hdr) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    hdr->n = n;
    float *lo = (float *)(hdr + 1);
    for (size_t i = 0; i < n + 2 * GUARD; i++) lo[i] = SENTINEL;
    return lo + GUARD;
}

// 1 when both guards still hold the sentinel.
static inline int guards_intact(const float *p) {
    const guard_header *hdr = (const guard_header *)(p - GUARD) - 1;
    for (int i = 0; i < GUARD; i++)
        if (p[-1 - i] != SENTINEL || p[hdr->n + i] != SENTINEL) return 0;
    return 1;
}

static inline void gfree(float *p) {
    if (p) free((guard_header *)(p - GUARD) - 1);
}

// A guarded copy of n random values in [lo, hi).
static inline float *grandom(size_t n, double lo, double hi) {
    float *p = galloc(n);
    fill_uniform(p, n, lo, hi);
    return p;
}

// Fills with NaN: a "written" output the op fails to overwrite, or an op reading it before writing, shows.
static inline void fill_nan(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static inline double *to_double(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

// ---- error metrics --------------------------------------------------------------------------------------

// max |got - ref| / max |ref| (NaN in got counts as infinite error).
static inline double rel_err(const float *got, const double *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (isnan(got[i])) e = INFINITY;
        if (e > num) num = e;
        if (fabs(ref[i]) > den) den = fabs(ref[i]);
    }
    return den > 0.0 ? num / den : num;
}

// Same, with float references (e.g. two float ops that must agree).
static inline double rel_err_f(const float *got, const float *ref, size_t n) {
    double *r = to_double(ref, n);
    double e = rel_err(got, r, n);
    free(r);
    return e;
}

// Prints one result line and checks it; returns err so callers can track the worst case.
static inline double report(const char *op, const char *what, double err, double tol) {
    fprintf(stderr, "  %-38s %-16s max rel err %.2e  (tol %.0e)%s\n", op, what, err, tol,
            err <= tol ? "" : "  <-- FAIL");
    CHECK(err <= tol);
    return err;
}

// ---- finite differences ---------------------------------------------------------------------------------

// The oracle loss as a function of its inputs, which live in ctx; x below is one of them, perturbed in place.
typedef double (*oracle_loss_fn)(void *ctx);

// Central differences of f with respect to every element of x[n] (x is restored afterwards).
static inline void fd_grad(oracle_loss_fn f, void *ctx, double *x, size_t n, double *grad) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + FD_EPS;
        double lp = f(ctx);
        x[i] = x0 - FD_EPS;
        double lm = f(ctx);
        x[i] = x0;
        grad[i] = (lp - lm) / (2.0 * FD_EPS);
    }
}

// Checks an analytic float gradient of input x (n elements, given to the op as dout = R) against finite
// differences of the oracle loss; `base` is subtracted first (the accumulator's value before the backward,
// for gradients that are accumulated with +=; NULL for written ones).
static inline double check_grad(const char *op, const char *what, oracle_loss_fn f, void *ctx, double *x,
                                size_t n, const float *analytic, const float *base) {
    double *fd = malloc((n ? n : 1) * sizeof(double));
    fd_grad(f, ctx, x, n, fd);
    float *got = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) got[i] = base ? analytic[i] - base[i] : analytic[i];
    double err = report(op, what, rel_err(got, fd, n), BWD_TOL);
    free(fd);
    free(got);
    return err;
}

// Sum of out * R in double: the scalar every oracle loss returns.
static inline double dot_loss(const double *out, const float *R, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += out[i] * R[i];
    return s;
}

#endif
