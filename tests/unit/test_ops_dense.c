// test_ops_dense.c: embedding, rmsnorm, linear, swiglu, silu, add, copy_rows against double oracles and
// finite differences (method and tolerances: test_ops_harness.c).
#include "ops_harness.h"

#include "ops.h"

// ---- embedding ------------------------------------------------------------------------------------------

typedef struct {
    double *emb, *out;
    const int32_t *tok;
    const float *R;
    int N, C;
} emb_ctx;

static void emb_oracle(emb_ctx *c) {
    for (int n = 0; n < c->N; n++)
        for (int j = 0; j < c->C; j++) c->out[(size_t)n * c->C + j] = c->emb[(size_t)c->tok[n] * c->C + j];
}

static double emb_loss(void *p) {
    emb_ctx *c = p;
    emb_oracle(c);
    return dot_loss(c->out, c->R, (size_t)c->N * c->C);
}

static void test_embedding(int N, int V, int C) {
    char op[64];
    snprintf(op, sizeof op, "embedding N=%d V=%d C=%d", N, V, C);
    int32_t *tok = malloc(N * sizeof(int32_t));
    for (int n = 0; n < N; n++) tok[n] = rng_int(V); // N > V repeats tokens: rows must add up
    size_t no = (size_t)N * C, ne = (size_t)V * C;
    float *emb = grandom(ne, -1, 1), *out = galloc(no), *R = grandom(no, -1, 1);
    float *demb = grandom(ne, -1, 1), *base = malloc(ne * sizeof(float));
    memcpy(base, demb, ne * sizeof(float));

    embedding_forward_cpu(out, tok, emb, N, C);
    emb_ctx c = {to_double(emb, ne), malloc(no * sizeof(double)), tok, R, N, C};
    emb_oracle(&c);
    report(op, "forward", rel_err(out, c.out, no), FWD_TOL);

    embedding_backward_cpu(demb, R, tok, NULL, N, C);
    check_grad(op, "demb (+=)", emb_loss, &c, c.emb, ne, demb, base);
    CHECK(guards_intact(out) && guards_intact(demb));
    free(tok), free(base), free(c.emb), free(c.out);
    gfree(emb), gfree(out), gfree(R), gfree(demb);
}

// ---- rmsnorm --------------------------------------------------------------------------------------------

typedef struct {
    double *x, *w, *out, *rstd;
    const float *R;
    int N, C;
    double eps;
} rms_ctx;

static void rms_oracle(rms_ctx *c) {
    for (int n = 0; n < c->N; n++) {
        const double *x = c->x + (size_t)n * c->C;
        double ms = 0.0;
        for (int j = 0; j < c->C; j++) ms += x[j] * x[j];
        double r = 1.0 / sqrt(ms / c->C + c->eps);
        c->rstd[n] = r;
        for (int j = 0; j < c->C; j++) c->out[(size_t)n * c->C + j] = x[j] * r * c->w[j];
    }
}

static double rms_loss(void *p) {
    rms_ctx *c = p;
    rms_oracle(c);
    return dot_loss(c->out, c->R, (size_t)c->N * c->C);
}

// For an op's SCOUT_DX_ADD mode: a random buffer for the op to add into, and want = that buffer + dx (the
// gradient its SCOUT_DX_WRITE mode wrote), in double.
static float *dx_add_start(const float *dx, size_t n, double **want) {
    float *acc = grandom(n, -1, 1);
    *want = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) (*want)[i] = (double)acc[i] + dx[i];
    return acc;
}

static void test_rmsnorm(int N, int C, float eps) {
    char op[64];
    snprintf(op, sizeof op, "rmsnorm N=%d C=%d eps=%g", N, C, eps);
    size_t n = (size_t)N * C;
    float *x = grandom(n, -2, 2), *w = grandom(C, 0.5, 1.5), *out = galloc(n), *rstd = galloc(N);
    float *R = grandom(n, -1, 1), *dx = galloc(n), *dw = grandom(C, -1, 1), *base = malloc(C * sizeof(float));
    memcpy(base, dw, C * sizeof(float));
    fill_nan(dx, n);

    rmsnorm_forward_cpu(out, rstd, x, w, N, C, eps);
    rms_ctx c = {
        to_double(x, n), to_double(w, C), malloc(n * sizeof(double)), malloc(N * sizeof(double)), R, N, C, eps};
    rms_oracle(&c);
    report(op, "forward", rel_err(out, c.out, n), FWD_TOL);
    report(op, "rstd", rel_err(rstd, c.rstd, N), FWD_TOL);

    rmsnorm_backward_cpu(dx, dw, R, x, w, rstd, NULL, N, C, SCOUT_DX_WRITE);
    check_grad(op, "dx", rms_loss, &c, c.x, n, dx, NULL);
    check_grad(op, "dw (+=)", rms_loss, &c, c.w, C, dw, base);
    // SCOUT_DX_ADD: the same gradient added to what dx held (dw accumulates once more; it was checked above).
    double *want;
    float *acc = dx_add_start(dx, n, &want);
    rmsnorm_backward_cpu(acc, dw, R, x, w, rstd, NULL, N, C, SCOUT_DX_ADD);
    report(op, "dx (add mode)", rel_err(acc, want, n), FWD_TOL);
    free(want), gfree(acc);
    CHECK(guards_intact(out) && guards_intact(rstd) && guards_intact(dx) && guards_intact(dw));
    free(base), free(c.x), free(c.w), free(c.out), free(c.rstd);
    gfree(x), gfree(w), gfree(out), gfree(rstd), gfree(R), gfree(dx), gfree(dw);
}

// ---- linear ---------------------------------------------------------------------------------------------

typedef struct {
    double *x, *W, *b, *out; // b NULL: no bias
    const float *R;
    int N, C_in, C_out;
} lin_ctx;

static void lin_oracle(lin_ctx *c) {
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->C_out; o++) {
            double s = c->b ? c->b[o] : 0.0;
            for (int i = 0; i < c->C_in; i++)
                s += c->x[(size_t)n * c->C_in + i] * c->W[(size_t)o * c->C_in + i];
            c->out[(size_t)n * c->C_out + o] = s;
        }
}

static double lin_loss(void *p) {
    lin_ctx *c = p;
    lin_oracle(c);
    return dot_loss(c->out, c->R, (size_t)c->N * c->C_out);
}

static void test_linear(int N, int C_in, int C_out, int with_bias) {
    char op[64];
    snprintf(op, sizeof op, "linear N=%d in=%d out=%d%s", N, C_in, C_out, with_bias ? " +bias" : "");
    size_t nx = (size_t)N * C_in, nw = (size_t)C_out * C_in, no = (size_t)N * C_out;
    float *x = grandom(nx, -1, 1), *W = grandom(nw, -1, 1), *b = with_bias ? grandom(C_out, -1, 1) : NULL;
    float *out = galloc(no), *R = grandom(no, -1, 1), *dx = galloc(nx), *dW = grandom(nw, -1, 1);
    float *db = with_bias ? grandom(C_out, -1, 1) : NULL;
    float *dW0 = malloc(nw * sizeof(float)), *db0 = malloc(C_out * sizeof(float));
    memcpy(dW0, dW, nw * sizeof(float));
    if (db) memcpy(db0, db, C_out * sizeof(float));
    fill_nan(dx, nx);

    linear_forward_cpu(out, x, W, b, N, C_in, C_out);
    lin_ctx c = {to_double(x, nx),
                 to_double(W, nw),
                 b ? to_double(b, C_out) : NULL,
                 malloc(no * sizeof(double)),
                 R,
                 N,
                 C_in,
                 C_out};
    lin_oracle(&c);
    report(op, "forward", rel_err(out, c.out, no), FWD_TOL);

    if (!b) { // the residual form: out = residual + x W^T, against the oracle plus the residual
        float *res = grandom(no, -1, 1), *out_res = galloc(no);
        double *want = malloc(no * sizeof(double));
        for (size_t i = 0; i < no; i++) want[i] = c.out[i] + res[i];
        linear_residual_forward_cpu(out_res, x, W, res, N, C_in, C_out);
        report(op, "forward + residual", rel_err(out_res, want, no), FWD_TOL);
        CHECK(guards_intact(out_res));
        free(want), gfree(res), gfree(out_res);
    }

    linear_backward_cpu(dx, dW, db, R, x, W, NULL, N, C_in, C_out, SCOUT_DX_WRITE);
    check_grad(op, "dx", lin_loss, &c, c.x, nx, dx, NULL);
    check_grad(op, "dW (+=)", lin_loss, &c, c.W, nw, dW, dW0);
    if (b) check_grad(op, "db (+=)", lin_loss, &c, c.b, C_out, db, db0);
    double *want;
    float *acc = dx_add_start(dx, nx, &want);
    linear_backward_cpu(acc, dW, db, R, x, W, NULL, N, C_in, C_out, SCOUT_DX_ADD);
    report(op, "dx (add mode)", rel_err(acc, want, nx), FWD_TOL);
    free(want), gfree(acc);
    CHECK(guards_intact(out) && guards_intact(dx) && guards_intact(dW) && (!db || guards_intact(db)));
    free(dW0), free(db0), free(c.x), free(c.W), free(c.b), free(c.out);
    gfree(x), gfree(W), gfree(b), gfree(out), gfree(R), gfree(dx), gfree(dW), gfree(db);
}

// ---- swiglu ---------------------------------------------------------------------------------------------

typedef struct {
    double *gate, *up, *out; // gate/up with row stride `stride`
    const float *R;
    int N, inter, stride;
} swiglu_ctx;

static void swiglu_oracle(swiglu_ctx *c) {
    for (int n = 0; n < c->N; n++)
        for (int i = 0; i < c->inter; i++) {
            double g = c->gate[(size_t)n * c->stride + i], u = c->up[(size_t)n * c->stride + i];
            c->out[(size_t)n * c->inter + i] = g / (1.0 + exp(-g)) * u;
        }
}

static double swiglu_loss(void *p) {
    swiglu_ctx *c = p;
    swiglu_oracle(c);
    return dot_loss(c->out, c->R, (size_t)c->N * c->inter);
}

// fused = 1: gate and up are the two halves of one [N, 2I] buffer; else two [N, I] buffers.
static void test_swiglu(int N, int inter, int fused) {
    char op[64];
    snprintf(op, sizeof op, "swiglu N=%d I=%d %s", N, inter, fused ? "fused [N,2I]" : "split");
    int stride = fused ? 2 * inter : inter;
    size_t nin = (size_t)N * stride, no = (size_t)N * inter;
    float *in1 = grandom(nin, -3, 3), *in2 = fused ? NULL : grandom(nin, -3, 3);
    float *gate = in1, *up = fused ? in1 + inter : in2;
    float *out = galloc(no), *R = grandom(no, -1, 1);
    float *d1 = galloc(nin), *d2 = fused ? NULL : galloc(nin);
    float *dgate = d1, *dup = fused ? d1 + inter : d2;
    fill_nan(d1, nin);
    if (d2) fill_nan(d2, nin);

    swiglu_forward_cpu(out, gate, up, stride, N, inter);
    double *in1d = to_double(in1, nin), *in2d = fused ? NULL : to_double(in2, nin);
    swiglu_ctx c = {in1d, fused ? in1d + inter : in2d, malloc(no * sizeof(double)), R, N, inter, stride};
    swiglu_oracle(&c);
    report(op, "forward", rel_err(out, c.out, no), FWD_TOL);

    swiglu_backward_cpu(dgate, dup, R, gate, up, stride, N, inter);
    if (fused) { // one FD sweep over the whole fused buffer checks both halves
        check_grad(op, "d[gate|up]", swiglu_loss, &c, in1d, nin, d1, NULL);
    } else {
        check_grad(op, "dgate", swiglu_loss, &c, c.gate, nin, dgate, NULL);
        check_grad(op, "dup", swiglu_loss, &c, c.up, nin, dup, NULL);
    }
    // In place (dgate = gate, dup = up) gives the same gradients.
    swiglu_backward_cpu(gate, up, R, gate, up, stride, N, inter);
    CHECK(rel_err_f(in1, d1, nin) == 0.0 && (fused || rel_err_f(in2, d2, nin) == 0.0));
    CHECK(guards_intact(out) && guards_intact(d1) && (fused || guards_intact(d2)));
    free(in1d), free(in2d), free(c.out);
    gfree(in1), gfree(in2), gfree(out), gfree(R), gfree(d1), gfree(d2);
}

// ---- silu -----------------------------------------------------------------------------------------------

typedef struct {
    double *x, *out;
    const float *R;
    size_t n;
} silu_ctx;

static double silu_loss(void *p) {
    silu_ctx *c = p;
    for (size_t i = 0; i < c->n; i++) c->out[i] = c->x[i] / (1.0 + exp(-c->x[i]));
    return dot_loss(c->out, c->R, c->n);
}

static void test_silu(size_t n) {
    char op[64];
    snprintf(op, sizeof op, "silu n=%zu", n);
    float *x = grandom(n, -6, 6), *out = galloc(n), *R = grandom(n, -1, 1), *dx = galloc(n);
    fill_nan(dx, n);
    silu_forward_cpu(out, x, n);
    silu_ctx c = {to_double(x, n), malloc(n * sizeof(double)), R, n};
    silu_loss(&c);
    report(op, "forward", rel_err(out, c.out, n), FWD_TOL);
    silu_backward_cpu(dx, R, x, n);
    check_grad(op, "dx", silu_loss, &c, c.x, n, dx, NULL);
    // In place (forward out = x, backward dx = dout) gives the same values.
    float *y = galloc(n);
    memcpy(y, x, n * sizeof(float));
    silu_forward_cpu(y, y, n);
    CHECK(rel_err_f(y, out, n) == 0.0);
    memcpy(y, R, n * sizeof(float));
    silu_backward_cpu(y, y, x, n);
    CHECK(rel_err_f(y, dx, n) == 0.0);
    CHECK(guards_intact(out) && guards_intact(dx) && guards_intact(y));
    free(c.x), free(c.out);
    gfree(x), gfree(out), gfree(R), gfree(dx), gfree(y);
}

// ---- small helpers: known answers -----------------------------------------------------------------------

static void test_add_and_copy_rows(void) {
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, out[5];
    add_cpu(out, a, b, 5);
    CHECK(out[0] == 11 && out[4] == 55);
    add_cpu(a, a, b, 5); // residual add in place
    CHECK(a[0] == 11 && a[2] == 33 && a[4] == 55);

    // Columns [1, 3) of a [3, 4] matrix into a contiguous [3, 2], and back into a [3, 5] one.
    float src[12], mid[6], dst[15];
    for (int i = 0; i < 12; i++) src[i] = (float)i;
    for (int i = 0; i < 15; i++) dst[i] = -1;
    copy_rows_cpu(mid, 2, src + 1, 4, 3, 2);
    CHECK(mid[0] == 1 && mid[1] == 2 && mid[2] == 5 && mid[3] == 6 && mid[4] == 9 && mid[5] == 10);
    copy_rows_cpu(dst + 3, 5, mid, 2, 3, 2);
    CHECK(dst[3] == 1 && dst[4] == 2 && dst[8] == 5 && dst[13] == 9 && dst[14] == 10);
    CHECK(dst[0] == -1 && dst[2] == -1 && dst[5] == -1 && dst[7] == -1 && dst[12] == -1); // rest untouched
}

int main(int argc, char **argv) {
    (void)argc;
    rng_seed(11);
    test_embedding(1, 3, 4);
    test_embedding(7, 5, 8);
    test_embedding(37, 11, 64);

    test_rmsnorm(1, 4, 1e-6f);
    test_rmsnorm(7, 8, 1e-6f);
    test_rmsnorm(37, 64, 1e-5f);

    test_linear(1, 4, 3, 1);
    test_linear(7, 5, 3, 0);
    test_linear(37, 64, 24, 1);

    test_swiglu(1, 4, 0);
    test_swiglu(7, 8, 1);
    test_swiglu(37, 24, 0);
    test_swiglu(37, 24, 1);

    test_silu(1);
    test_silu(333);

    test_add_and_copy_rows();
    return check_summary(argv[0]);
}
