// test_ops_harness.c: the harness of ops_harness.h tests itself: the checker passes a correct gradient,
// catches a wrong one, and the guards catch stray writes.
#include "ops_harness.h"

// ---- self-test: the checker passes a correct gradient and catches a wrong one ---------------------------

typedef struct {
    double *x;
    const float *R;
    size_t n;
} cube_ctx;

// L = sum R_i x_i^3 x_{i+1}: dL/dx_i = 3 R_i x_i^2 x_{i+1} + R_{i-1} x_{i-1}^3.
static double cube_loss(void *p) {
    cube_ctx *c = p;
    double s = 0.0;
    for (size_t i = 0; i < c->n; i++)
        s += c->R[i] * c->x[i] * c->x[i] * c->x[i] * (i + 1 < c->n ? c->x[i + 1] : 1.0);
    return s;
}

int main(int argc, char **argv) {
    (void)argc;
    rng_seed(1);
    size_t n = 9;
    float *xf = grandom(n, -1, 1), *R = grandom(n, -1, 1), *g = galloc(n);
    cube_ctx c = {to_double(xf, n), R, n};
    for (size_t i = 0; i < n; i++) {
        double next = i + 1 < n ? c.x[i + 1] : 1.0;
        g[i] = (float)(3.0 * R[i] * c.x[i] * c.x[i] * next + (i > 0 ? R[i - 1] * pow(c.x[i - 1], 3) : 0.0));
    }
    check_grad("harness", "correct gradient", cube_loss, &c, c.x, n, g, NULL);

    // A gradient missing one term (the largest of the cross terms) must be flagged, and a NaN too (checked
    // directly, not through report(), which would count the expected failure).
    double *fd = malloc(n * sizeof(double));
    fd_grad(cube_loss, &c, c.x, n, fd);
    size_t worst = 1;
    for (size_t i = 1; i < n; i++)
        if (fabs(R[i - 1] * pow(c.x[i - 1], 3)) > fabs(R[worst - 1] * pow(c.x[worst - 1], 3))) worst = i;
    g[worst] -= (float)(R[worst - 1] * pow(c.x[worst - 1], 3));
    CHECK(rel_err(g, fd, n) > BWD_TOL);
    g[4] = NAN;
    CHECK(isinf(rel_err(g, fd, n)));

    // Guards: intact, then broken by a write one past the end, and one before the start.
    CHECK(guards_intact(xf));
    xf[n] = 0.0f;
    CHECK(!guards_intact(xf));
    xf[n] = SENTINEL;
    CHECK(guards_intact(xf));
    xf[-1] = 0.0f;
    CHECK(!guards_intact(xf));
    xf[-1] = SENTINEL;

    // Same seed, same stream.
    rng_seed(7);
    uint64_t a = rng_next();
    rng_seed(7);
    CHECK(a == rng_next());

    free(fd);
    free(c.x);
    gfree(xf), gfree(R), gfree(g);
    return check_summary(argv[0]);
}
