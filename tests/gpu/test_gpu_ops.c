// test_gpu_ops.c: every CUDA op of the backend table against the fp32 CPU op, on fresh random inputs at
// several shapes (odd sizes, T = 1, windows longer than T, T not a multiple of s, GQA, head dims 64 and 16,
// strided slices, in-place calls), forward and every backward output.
//
// For each case: random inputs are drawn and rounded to bf16 where the GPU takes bf16, so both backends see the
// same numbers; the CPU op runs in fp32; the GPU op runs twice through scout_backend_cuda(), each time on freshly
// uploaded inputs, outputs poisoned with a NaN pattern (or, for accumulating outputs, prefilled with the same
// random values the CPU accumulates into), guard zones around every buffer, and a NaN-poisoned workspace. Then
// per output:
//   err      ||gpu - cpu||_2 / ||cpu||_2 over the elements the op writes, against its bound: 1e-5 for fp32
//            outputs (fp32 arithmetic on identical inputs, differing only in summation order), 2e-2 for bf16
//            outputs (one bf16 rounding is 2^-9 relative; a real indexing or masking bug is >> 2e-2);
//   written  every element the op must write was written (no poison left), every element it must not touch
//            still holds what was there, both guard zones intact;
//   det      the two runs are bit-identical.
// Prints one table row per output, exits 1 on any failure. `--filter SUBSTR` runs the matching ops only;
// `--quick` runs the small shapes only (the CPU emulator, tests/gpu/emu/run.sh, uses it).
#include <stdarg.h>

#include "gpu_harness.h"

static const scout_backend *G; // the CUDA table
static int g_failures = 0, g_rows = 0, g_quick = 0;
static const char *g_filter = NULL;
static uint64_t g_seed = 1234;

#define BF16_BOUND 2e-2
#define FP32_BOUND 1e-5

// ---- the case framework ---------------------------------------------------------------------------------------

enum { R_IN, R_OUT, R_ACC, R_INOUT };

typedef struct {
    const char *name;
    int kind, role;
    size_t n;
    const void *host; // R_IN / R_INOUT: input values; R_ACC: the prefill (floats, or int32 for K_I32)
    const float *ref; // outputs: the CPU result, in the same layout
    // Written region of an output: when stride > 0, element e is written iff (e % stride) - c0 in [0, cols);
    // the others must keep what was there (poison for R_OUT, the input for R_INOUT).
    int stride, c0, cols;
    double bound;
    int exact_neighbour; // bf16 output that must be one of the two bf16 neighbours of ref (stochastic rounding)
    dtensor d;
    unsigned char *got[2];
    int guards[2];
} tens;

typedef void (*launch_fn)(tens *t, void *ctx, void *ws);

static int selected(const char *op) { return !g_filter || strstr(op, g_filter) != NULL; }

static int in_region(const tens *t, size_t e) {
    if (t->stride <= 0) return 1;
    int c = (int)(e % (size_t)t->stride) - t->c0;
    return c >= 0 && c < t->cols;
}

static void print_row(const char *op, const char *shape, const char *out, double err, double bound, int written,
                      int det, int ok) {
    printf("%-22s %-40s %-9s %10.3e %8.1e  %-7s %-6s %s\n", op, shape, out, err, bound,
           written ? "yes" : "NO", det ? "yes" : "NO", ok ? "ok" : "FAIL");
    g_rows++;
    if (!ok) g_failures++;
}

// Runs the case: twice (fresh inputs, poisoned or prefilled outputs, poisoned workspace), then checks.
static void run_case(const char *op, const char *shape, tens *t, int nt, size_t ws_bytes, launch_fn launch,
                     void *ctx) {
    void *ws = NULL;
    if (ws_bytes) GPU_CHECK(cudaMalloc(&ws, ws_bytes));
    for (int i = 0; i < nt; i++) t[i].d = dt_alloc(t[i].kind, t[i].n);
    for (int run = 0; run < 2; run++) {
        if (ws) GPU_CHECK(cudaMemset(ws, 0xFF, ws_bytes)); // NaN: an op must not rely on a zeroed workspace
        for (int i = 0; i < nt; i++) {
            if (t[i].role == R_OUT) dt_poison(&t[i].d);
            else dt_upload(&t[i].d, t[i].host);
        }
        launch(t, ctx, ws);
        GPU_CHECK(cudaDeviceSynchronize());
        GPU_CHECK(cudaGetLastError());
        for (int i = 0; i < nt; i++)
            if (t[i].role != R_IN) t[i].got[run] = dt_download_raw(&t[i].d, &t[i].guards[run]);
    }
    for (int i = 0; i < nt; i++) {
        tens *x = &t[i];
        if (x->role == R_IN) continue;
        size_t bytes = x->n * x->d.esize;
        int det = memcmp(x->got[0], x->got[1], bytes) == 0;
        int written = x->guards[0] && x->guards[1];
        double num = 0.0, den = 0.0;
        int neighbours_ok = 1;
        for (size_t e = 0; e < x->n; e++) {
            const int must = in_region(x, e);
            if (!must) { // untouched: still the poison, or still the input
                if (x->role == R_OUT) written &= raw_is_poison(x->got[0], x->kind, e);
                else {
                    float in = ((const float *)x->host)[e];
                    float got = raw_get(x->got[0], x->kind, e);
                    written &= memcmp(&in, &got, 4) == 0 || (x->kind == K_BF16 && bf_round(in) == got);
                }
                continue;
            }
            if (raw_is_poison(x->got[0], x->kind, e)) {
                written = 0;
                continue;
            }
            float g = raw_get(x->got[0], x->kind, e);
            double r = x->ref[e];
            if (isnan(g)) num = INFINITY;
            num += ((double)g - r) * ((double)g - r);
            den += r * r;
            if (x->exact_neighbour) {
                // Stochastic rounding: g must be bf16(ref) rounded down or up, i.e. within one bf16 step of ref
                // (2^(e-8) for ref = m 2^e, m in [0.5, 1)); the slack covers a last-bit difference of the masters.
                int ex;
                frexp(r, &ex);
                if (fabs((double)g - r) > ldexp(1.0, ex - 8) * (1.0 + 1e-6)) neighbours_ok = 0;
            }
        }
        double err = den > 0.0 ? sqrt(num / den) : sqrt(num);
        int ok = written && det && err <= x->bound && neighbours_ok;
        print_row(op, shape, x->name, err, x->bound, written, det, ok);
        if (x->exact_neighbour && !neighbours_ok) printf("    %s: a value is not a bf16 neighbour of the fp32 master\n", x->name);
        free(x->got[0]);
        free(x->got[1]);
    }
    for (int i = 0; i < nt; i++) dt_free(&t[i].d);
    if (ws) GPU_CHECK(cudaFree(ws));
}

static const char *fmt(const char *f, ...) {
    static char buf[8][128];
    static int k = 0;
    char *b = buf[k++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, 128, f, ap);
    va_end(ap);
    return b;
}

static float *zeros(size_t n) { return (float *)calloc(n ? n : 1, sizeof(float)); }
#define P(i) ((void *)t[i].d.p)
#define PF(i) ((float *)t[i].d.p)
#define PI(i) ((int32_t *)t[i].d.p)

// ---- conversions ----------------------------------------------------------------------------------------------

static void launch_f2b(tens *t, void *ctx, void *ws) {
    (void)ctx, (void)ws;
    G->f32_to_act(P(1), PF(0), t[0].n);
}
static void launch_b2f(tens *t, void *ctx, void *ws) {
    (void)ctx, (void)ws;
    G->act_to_f32(PF(1), P(0), t[0].n);
}
static void test_conversions(void) {
    if (!selected("convert")) return;
    size_t n = 1000003;
    float *x = host_random(n, -100, 100, 0);
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-40f, x[3] = 3.0e38f; // zero, negative zero, denormal, near the top
    float *xr = host_copy(x, n);
    host_round_bf16(xr, n);
    tens a[2] = {{"x", K_F32, R_IN, n, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"act", K_BF16, R_OUT, n, NULL, xr, 0, 0, 0, 0.0, 0, {0}, {0}, {0}}};
    run_case("f32_to_act", fmt("n=%zu", n), a, 2, 0, launch_f2b, NULL);
    tens b[2] = {{"act", K_BF16, R_IN, n, xr, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"f32", K_F32, R_OUT, n, NULL, xr, 0, 0, 0, 0.0, 0, {0}, {0}, {0}}};
    run_case("act_to_f32", fmt("n=%zu", n), b, 2, 0, launch_b2f, NULL);
    free(x), free(xr);
}

// ---- embedding ------------------------------------------------------------------------------------------------

typedef struct { int N, C, V; } emb_ctx;
static void launch_emb_fwd(tens *t, void *c, void *ws) {
    emb_ctx *e = c;
    (void)ws;
    G->embedding_forward(P(2), PI(0), P(1), e->N, e->C);
}
static void launch_emb_bwd(tens *t, void *c, void *ws) {
    emb_ctx *e = c;
    G->embedding_backward(PF(2), P(1), PI(0), ws, e->N, e->C);
}
static void test_embedding(int N, int C, int V) {
    if (!selected("embedding")) return;
    emb_ctx e = {N, C, V};
    int32_t *tok = malloc((size_t)N * 4);
    for (int i = 0; i < N; i++) tok[i] = rng_int(V);
    tok[N - 1] = tok[0]; // a repeated token even at small N
    float *emb = host_random((size_t)V * C, -1, 1, 1), *out = zeros((size_t)N * C);
    embedding_forward_cpu(out, tok, emb, N, C);
    tens f[3] = {{"tokens", K_I32, R_IN, (size_t)N, tok, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"emb", K_BF16, R_IN, (size_t)V * C, emb, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"out", K_BF16, R_OUT, (size_t)N * C, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
    run_case("embedding_forward", fmt("N=%d C=%d V=%d", N, C, V), f, 3, 0, launch_emb_fwd, &e);
    float *dout = host_random((size_t)N * C, -1, 1, 1), *demb0 = host_random((size_t)V * C, -1, 1, 0);
    float *demb = host_copy(demb0, (size_t)V * C);
    embedding_backward_cpu(demb, dout, tok, NULL, N, C);
    tens b[3] = {{"tokens", K_I32, R_IN, (size_t)N, tok, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"dout", K_BF16, R_IN, (size_t)N * C, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"demb+=", K_F32, R_ACC, (size_t)V * C, demb0, demb, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("embedding_backward", fmt("N=%d C=%d V=%d", N, C, V), b, 3, G->embedding_backward_workspace_size(N, C),
             launch_emb_bwd, &e);
    free(tok), free(emb), free(out), free(dout), free(demb0), free(demb);
}

// ---- rmsnorm --------------------------------------------------------------------------------------------------

typedef struct { int N, C, dx_mode; } nc_ctx;
static void launch_rms_fwd(tens *t, void *c, void *ws) {
    nc_ctx *e = c;
    (void)ws;
    G->rmsnorm_forward(P(2), PF(3), P(0), P(1), e->N, e->C, 1e-6f);
}
static void launch_rms_bwd(tens *t, void *c, void *ws) {
    nc_ctx *e = c;
    G->rmsnorm_backward(P(4), PF(5), P(0), P(1), P(2), PF(3), ws, e->N, e->C, e->dx_mode);
}
// dx_mode SCOUT_DX_ADD: dx starts from random bf16 values that the op adds to.
static void test_rmsnorm(int N, int C, int dx_mode) {
    if (!selected("rmsnorm")) return;
    nc_ctx e = {N, C, dx_mode};
    const int add = dx_mode == SCOUT_DX_ADD;
    size_t nc = (size_t)N * C;
    float *x = host_random(nc, -2, 2, 1), *w = host_random((size_t)C, 0.5, 1.5, 1);
    float *out = zeros(nc), *rstd = zeros((size_t)N);
    rmsnorm_forward_cpu(out, rstd, x, w, N, C, 1e-6f);
    tens f[4] = {{"x", K_BF16, R_IN, nc, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"w", K_BF16, R_IN, (size_t)C, w, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"out", K_BF16, R_OUT, nc, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                 {"rstd", K_F32, R_OUT, (size_t)N, NULL, rstd, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    if (!add) run_case("rmsnorm_forward", fmt("N=%d C=%d", N, C), f, 4, 0, launch_rms_fwd, &e);
    float *dout = host_random(nc, -1, 1, 1), *dw0 = host_random((size_t)C, -1, 1, 0);
    float *dx0 = add ? host_random(nc, -1, 1, 1) : NULL, *dx = add ? host_copy(dx0, nc) : zeros(nc);
    float *dw = host_copy(dw0, (size_t)C);
    rmsnorm_backward_cpu(dx, dw, dout, x, w, rstd, NULL, N, C, dx_mode);
    tens b[6] = {{"dout", K_BF16, R_IN, nc, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"x", K_BF16, R_IN, nc, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"w", K_BF16, R_IN, (size_t)C, w, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"rstd", K_F32, R_IN, (size_t)N, rstd, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {add ? "dx+=" : "dx", K_BF16, add ? R_ACC : R_OUT, nc, dx0, dx, 0, 0, 0, BF16_BOUND, 0, {0}, {0},
                  {0}},
                 {"dw+=", K_F32, R_ACC, (size_t)C, dw0, dw, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("rmsnorm_backward", fmt("N=%d C=%d%s", N, C, add ? " dx+=" : ""), b, 6,
             G->rmsnorm_backward_workspace_size(N, C), launch_rms_bwd, &e);
    free(x), free(w), free(out), free(rstd), free(dout), free(dx0), free(dx), free(dw0), free(dw);
}

// ---- linear ---------------------------------------------------------------------------------------------------

typedef struct { int N, Cin, Cout, bias, dx_mode; } lin_ctx;
static void launch_lin_fwd(tens *t, void *c, void *ws) {
    lin_ctx *e = c;
    (void)ws;
    G->linear_forward(P(3), P(0), P(1), e->bias ? P(2) : NULL, e->N, e->Cin, e->Cout);
}
static void launch_lin_res_fwd(tens *t, void *c, void *ws) {
    lin_ctx *e = c;
    (void)ws;
    G->linear_residual_forward(P(3), P(0), P(1), P(2), e->N, e->Cin, e->Cout);
}
static void launch_lin_bwd(tens *t, void *c, void *ws) {
    lin_ctx *e = c;
    G->linear_backward(P(3), PF(4), e->bias ? PF(5) : NULL, P(0), P(1), P(2), ws, e->N, e->Cin, e->Cout,
                       e->dx_mode);
}
static void test_linear(int N, int Cin, int Cout, int bias, int dx_mode) {
    if (!selected("linear")) return;
    lin_ctx e = {N, Cin, Cout, bias, dx_mode};
    const int add = dx_mode == SCOUT_DX_ADD;
    float *x = host_random((size_t)N * Cin, -1, 1, 1), *W = host_random((size_t)Cout * Cin, -0.5, 0.5, 1);
    float *bb = host_random((size_t)Cout, -1, 1, 1), *out = zeros((size_t)N * Cout);
    linear_forward_cpu(out, x, W, bias ? bb : NULL, N, Cin, Cout);
    tens f[4] = {{"x", K_BF16, R_IN, (size_t)N * Cin, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"W", K_BF16, R_IN, (size_t)Cout * Cin, W, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"b", K_BF16, R_IN, (size_t)Cout, bb, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"out", K_BF16, R_OUT, (size_t)N * Cout, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
    const char *shape = fmt("N=%d Cin=%d Cout=%d%s", N, Cin, Cout, bias ? " bias" : "");
    if (!add) run_case("linear_forward", shape, f, 4, 0, launch_lin_fwd, &e);
    if (!add && !bias) { // the residual form: the residual added in the product's epilogue
        float *res = host_random((size_t)N * Cout, -1, 1, 1), *out_res = zeros((size_t)N * Cout);
        linear_residual_forward_cpu(out_res, x, W, res, N, Cin, Cout);
        tens r[4] = {{"x", K_BF16, R_IN, (size_t)N * Cin, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"W", K_BF16, R_IN, (size_t)Cout * Cin, W, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"residual", K_BF16, R_IN, (size_t)N * Cout, res, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_OUT, (size_t)N * Cout, NULL, out_res, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("linear_residual_forward", shape, r, 4, 0, launch_lin_res_fwd, &e);
        free(res), free(out_res);
    }
    float *dout = host_random((size_t)N * Cout, -1, 1, 1);
    float *dx0 = add ? host_random((size_t)N * Cin, -1, 1, 1) : NULL;
    float *dx = add ? host_copy(dx0, (size_t)N * Cin) : zeros((size_t)N * Cin);
    float *dW0 = host_random((size_t)Cout * Cin, -1, 1, 0), *db0 = host_random((size_t)Cout, -1, 1, 0);
    float *dW = host_copy(dW0, (size_t)Cout * Cin), *db = host_copy(db0, (size_t)Cout);
    linear_backward_cpu(dx, dW, bias ? db : NULL, dout, x, W, NULL, N, Cin, Cout, dx_mode);
    tens b[6] = {{"dout", K_BF16, R_IN, (size_t)N * Cout, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"x", K_BF16, R_IN, (size_t)N * Cin, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"W", K_BF16, R_IN, (size_t)Cout * Cin, W, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {add ? "dx+=" : "dx", K_BF16, add ? R_ACC : R_OUT, (size_t)N * Cin, dx0, dx, 0, 0, 0, BF16_BOUND, 0,
                  {0}, {0}, {0}},
                 {"dW+=", K_F32, R_ACC, (size_t)Cout * Cin, dW0, dW, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}},
                 {"db+=", K_F32, R_ACC, (size_t)Cout, db0, db, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("linear_backward", add ? fmt("%s dx+=", shape) : shape, b, bias ? 6 : 5,
             G->linear_backward_workspace_size(N, Cin, Cout), launch_lin_bwd, &e);
    free(x), free(W), free(bb), free(out), free(dout), free(dx0), free(dx), free(dW0), free(db0), free(dW), free(db);
}

// ---- rope -----------------------------------------------------------------------------------------------------

typedef struct { int B, T, H, d, pos0, ld; float theta; } rope_ctx;
static void launch_rope_fwd(tens *t, void *c, void *ws) {
    rope_ctx *e = c;
    (void)ws;
    G->rope_forward(P(0), e->ld, e->B, e->T, e->H, e->d, e->pos0, e->theta);
}
static void launch_rope_bwd(tens *t, void *c, void *ws) {
    rope_ctx *e = c;
    (void)ws;
    G->rope_backward(P(0), e->ld, e->B, e->T, e->H, e->d, e->pos0, e->theta);
}
// ld: the row stride (H d: contiguous; more: the heads are the first H d columns of longer rows, the rest of
// each row must stay as it was).
static void test_rope(int B, int T, int H, int d, int pos0, float theta, int ld) {
    if (!selected("rope")) return;
    rope_ctx e = {B, T, H, d, pos0, ld, theta};
    size_t n = (size_t)B * T * ld;
    float *x = host_random(n, -2, 2, 1), *y = host_copy(x, n), *z = host_copy(x, n);
    rope_forward_cpu(y, ld, B, T, H, d, pos0, theta);
    rope_backward_cpu(z, ld, B, T, H, d, pos0, theta);
    const char *shape = fmt("B=%d T=%d H=%d d=%d pos0=%d%s", B, T, H, d, pos0, ld > H * d ? fmt(" ld=%d", ld) : "");
    const int stride = ld > H * d ? ld : 0;
    tens f[1] = {{"x(inplace)", K_BF16, R_INOUT, n, x, y, stride, 0, H * d, BF16_BOUND, 0, {0}, {0}, {0}}};
    run_case("rope_forward", shape, f, 1, 0, launch_rope_fwd, &e);
    tens b[1] = {{"dx(inplace)", K_BF16, R_INOUT, n, x, z, stride, 0, H * d, BF16_BOUND, 0, {0}, {0}, {0}}};
    run_case("rope_backward", shape, b, 1, 0, launch_rope_bwd, &e);
    free(x), free(y), free(z);
}

// ---- attention ------------------------------------------------------------------------------------------------

// stacked: q, k, v are the column blocks of one [B T, ld] tensor (ld = QD + 2 KD + 8, as the model's stacked
// projection output plus 8 columns that must stay untouched), dq / dk / dv likewise; else three contiguous ones.
// theta > 0: the backward also takes dq, dk back through RoPE (rope_theta of the op), as the model calls it.
typedef struct {
    int B, T, nh, nkv, d, arg, ckpt, general, stacked, ldq, ldkv;
    float theta;
} att_ctx;
// Column block `blk` (0 q, 1 k, 2 v) of the stacked tensor at device pointer p.
static void *att_col(const att_ctx *e, void *p, int blk) {
    const int QD = e->nh * e->d, KD = e->nkv * e->d;
    return (char *)p + (size_t)(blk == 0 ? 0 : blk == 1 ? QD : QD + KD) * 2;
}
// Tensors: stacked fwd {qkv, out, lse}, bwd {dout, qkv, out, lse, dqkv}; else fwd {q, k, v, out, lse}, bwd {dout,
// q, k, v, out, lse, dq, dk, dv}.
static void launch_att_fwd(tens *t, void *c, void *ws) {
    att_ctx *e = c;
    (void)ws;
    int old = scout_cuda_set_flag(SCOUT_CUDA_ATTENTION_GENERAL, e->general);
    const int s = e->stacked;
    void *q = s ? att_col(e, P(0), 0) : P(0), *k = s ? att_col(e, P(0), 1) : P(1), *v = s ? att_col(e, P(0), 2) : P(2);
    void *out = P(s ? 1 : 3);
    float *lse = PF(s ? 2 : 4);
    if (e->ckpt)
        G->checkpoint_attention_forward(out, lse, q, k, v, e->ldq, e->ldkv, e->B, e->T, e->nh, e->nkv, e->d, e->arg);
    else G->swa_attention_forward(out, lse, q, k, v, e->ldq, e->ldkv, e->B, e->T, e->nh, e->nkv, e->d, e->arg);
    scout_cuda_set_flag(SCOUT_CUDA_ATTENTION_GENERAL, old);
}
static void launch_att_bwd(tens *t, void *c, void *ws) {
    att_ctx *e = c;
    int old = scout_cuda_set_flag(SCOUT_CUDA_ATTENTION_GENERAL, e->general);
    const int s = e->stacked;
    void *q = s ? att_col(e, P(1), 0) : P(1), *k = s ? att_col(e, P(1), 1) : P(2), *v = s ? att_col(e, P(1), 2) : P(3);
    void *out = P(s ? 2 : 4), *dq = s ? att_col(e, P(4), 0) : P(6), *dk = s ? att_col(e, P(4), 1) : P(7);
    void *dv = s ? att_col(e, P(4), 2) : P(8);
    float *lse = PF(s ? 3 : 5);
    if (e->ckpt)
        G->checkpoint_attention_backward(dq, dk, dv, P(0), q, k, v, out, lse, ws, e->ldq, e->ldkv, e->B, e->T, e->nh,
                                         e->nkv, e->d, e->arg, e->theta);
    else
        G->swa_attention_backward(dq, dk, dv, P(0), q, k, v, out, lse, ws, e->ldq, e->ldkv, e->B, e->T, e->nh, e->nkv,
                                  e->d, e->arg, e->theta);
    scout_cuda_set_flag(SCOUT_CUDA_ATTENTION_GENERAL, old);
}
// Packs q [rows, QD], k, v [rows, KD] into the stacked [rows, ld] layout (the 8 spare columns random).
static float *att_stack(const float *q, const float *k, const float *v, size_t rows, int QD, int KD, int ld) {
    float *s = host_random(rows * ld, -1, 1, 1);
    for (size_t r = 0; r < rows; r++) {
        memcpy(s + r * ld, q + r * QD, (size_t)QD * sizeof(float));
        memcpy(s + r * ld + QD, k + r * KD, (size_t)KD * sizeof(float));
        memcpy(s + r * ld + QD + KD, v + r * KD, (size_t)KD * sizeof(float));
    }
    return s;
}
static const char *g_att_tag = ""; // appended to the attention rows' shapes (see attention_cases)
static void test_attention(int ckpt, int B, int T, int nh, int nkv, int d, int arg, int general, int stacked,
                           float theta) {
    const char *op_f = ckpt ? "ckpt_attn_forward" : "swa_attn_forward";
    const char *op_b = ckpt ? "ckpt_attn_backward" : "swa_attn_backward";
    if (!selected(op_f) && !selected(op_b)) return;
    const int QD = nh * d, KD = nkv * d, ld = QD + 2 * KD + 8;
    att_ctx e = {B, T, nh, nkv, d, arg, ckpt, general, stacked, stacked ? ld : QD, stacked ? ld : KD, theta};
    size_t nq = (size_t)B * T * nh * d, nk = (size_t)B * T * nkv * d, nl = (size_t)B * nh * T, rows = (size_t)B * T;
    float *q = host_random(nq, -2, 2, 1), *k = host_random(nk, -2, 2, 1), *v = host_random(nk, -1, 1, 1);
    float *qkv = stacked ? att_stack(q, k, v, rows, QD, KD, ld) : NULL;
    float *out = zeros(nq), *lse = zeros(nl);
    const float *cq = stacked ? qkv : q, *ck = stacked ? qkv + QD : k, *cv = stacked ? qkv + QD + KD : v;
    if (ckpt) checkpoint_attention_forward_cpu(out, lse, cq, ck, cv, e.ldq, e.ldkv, B, T, nh, nkv, d, arg);
    else swa_attention_forward_cpu(out, lse, cq, ck, cv, e.ldq, e.ldkv, B, T, nh, nkv, d, arg);
    const char *shape = fmt("B=%d T=%d nh=%d nkv=%d d=%d %s=%d%s%s%s%s", B, T, nh, nkv, d, ckpt ? "s" : "W", arg,
                            general ? " general" : "", stacked ? " stacked" : "", theta > 0 ? " rope" : "", g_att_tag);
    if (stacked) {
        tens f[3] = {{"qkv", K_BF16, R_IN, rows * ld, qkv, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_OUT, nq, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                     {"lse", K_F32, R_OUT, nl, NULL, lse, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
        if (selected(op_f)) run_case(op_f, shape, f, 3, 0, launch_att_fwd, &e);
    } else {
        tens f[5] = {{"q", K_BF16, R_IN, nq, q, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"k", K_BF16, R_IN, nk, k, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"v", K_BF16, R_IN, nk, v, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_OUT, nq, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                     {"lse", K_F32, R_OUT, nl, NULL, lse, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
        if (selected(op_f)) run_case(op_f, shape, f, 5, 0, launch_att_fwd, &e);
    }
    // The backward takes the forward's out (rounded to bf16, as the GPU forward stores it) and lse.
    host_round_bf16(out, nq);
    float *dout = host_random(nq, -1, 1, 1), *dq = zeros(nq), *dk = zeros(nk), *dv = zeros(nk);
    size_t ws = ckpt ? G->checkpoint_attention_backward_workspace_size(B, T, nh, nkv, d, arg)
                     : G->swa_attention_backward_workspace_size(B, T, nh, nkv, d);
    if (stacked) {
        float *dqkv = zeros(rows * ld);
        if (ckpt)
            checkpoint_attention_backward_cpu(dqkv, dqkv + QD, dqkv + QD + KD, dout, cq, ck, cv, out, lse, NULL, ld, ld,
                                              B, T, nh, nkv, d, arg, theta);
        else
            swa_attention_backward_cpu(dqkv, dqkv + QD, dqkv + QD + KD, dout, cq, ck, cv, out, lse, NULL, ld, ld, B,
                                       T, nh, nkv, d, arg, theta);
        tens b[5] = {{"dout", K_BF16, R_IN, nq, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"qkv", K_BF16, R_IN, rows * ld, qkv, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_IN, nq, out, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"lse", K_F32, R_IN, nl, lse, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dqkv", K_BF16, R_OUT, rows * ld, NULL, dqkv, ld, 0, QD + 2 * KD, BF16_BOUND, 0, {0}, {0}, {0}}};
        if (selected(op_b)) run_case(op_b, shape, b, 5, ws, launch_att_bwd, &e);
        free(qkv), free(dqkv), free(q), free(k), free(v), free(out), free(lse), free(dout);
        free(dq), free(dk), free(dv);
        return;
    }
    if (ckpt)
        checkpoint_attention_backward_cpu(dq, dk, dv, dout, q, k, v, out, lse, NULL, QD, KD, B, T, nh, nkv, d, arg,
                                          theta);
    else swa_attention_backward_cpu(dq, dk, dv, dout, q, k, v, out, lse, NULL, QD, KD, B, T, nh, nkv, d, arg, theta);
    tens b[9] = {{"dout", K_BF16, R_IN, nq, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"q", K_BF16, R_IN, nq, q, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"k", K_BF16, R_IN, nk, k, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"v", K_BF16, R_IN, nk, v, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"out", K_BF16, R_IN, nq, out, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"lse", K_F32, R_IN, nl, lse, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"dq", K_BF16, R_OUT, nq, NULL, dq, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                 {"dk", K_BF16, R_OUT, nk, NULL, dk, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                 {"dv", K_BF16, R_OUT, nk, NULL, dv, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
    if (selected(op_b)) run_case(op_b, shape, b, 9, ws, launch_att_bwd, &e);
    free(q), free(k), free(v), free(out), free(lse), free(dout), free(dq), free(dk), free(dv);
}

// ---- causal conv1d --------------------------------------------------------------------------------------------

typedef struct { int B, T, E, K, xs, bias; } conv_ctx;
static void launch_conv_fwd(tens *t, void *c, void *ws) {
    conv_ctx *e = c;
    (void)ws;
    G->causal_conv1d_forward(P(3), P(0), e->xs, P(1), e->bias ? P(2) : NULL, e->B, e->T, e->E, e->K);
}
static void launch_conv_bwd(tens *t, void *c, void *ws) {
    conv_ctx *e = c;
    G->causal_conv1d_backward(P(3), PF(4), e->bias ? PF(5) : NULL, P(0), P(1), e->xs, P(2), ws, e->B, e->T, e->E,
                              e->K);
}
static void test_conv(int B, int T, int E, int K, int xs, int bias) {
    if (!selected("conv1d")) return;
    conv_ctx e = {B, T, E, K, xs, bias};
    size_t nx = (size_t)B * T * xs, no = (size_t)B * T * E;
    float *x = host_random(nx, -1, 1, 1), *w = host_random((size_t)E * K, -0.5, 0.5, 1);
    float *bb = host_random((size_t)E, -0.5, 0.5, 1), *out = zeros(no);
    causal_conv1d_forward_cpu(out, x, xs, w, bias ? bb : NULL, B, T, E, K);
    const char *shape = fmt("B=%d T=%d E=%d K=%d x_stride=%d%s", B, T, E, K, xs, bias ? " bias" : "");
    tens f[4] = {{"x", K_BF16, R_IN, nx, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"w", K_BF16, R_IN, (size_t)E * K, w, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"bias", K_BF16, R_IN, (size_t)E, bb, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"out", K_BF16, R_OUT, no, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
    run_case("conv1d_forward", shape, f, 4, 0, launch_conv_fwd, &e);
    float *dout = host_random(no, -1, 1, 1), *dx = zeros(nx);
    float *dw0 = host_random((size_t)E * K, -1, 1, 0), *db0 = host_random((size_t)E, -1, 1, 0);
    float *dw = host_copy(dw0, (size_t)E * K), *db = host_copy(db0, (size_t)E);
    causal_conv1d_backward_cpu(dx, dw, bias ? db : NULL, dout, x, xs, w, NULL, B, T, E, K);
    tens b[6] = {{"dout", K_BF16, R_IN, no, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"x", K_BF16, R_IN, nx, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"w", K_BF16, R_IN, (size_t)E * K, w, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"dx", K_BF16, R_OUT, nx, NULL, dx, xs, 0, E, BF16_BOUND, 0, {0}, {0}, {0}},
                 {"dw+=", K_F32, R_ACC, (size_t)E * K, dw0, dw, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}},
                 {"db+=", K_F32, R_ACC, (size_t)E, db0, db, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("conv1d_backward", shape, b, bias ? 6 : 5, G->causal_conv1d_backward_workspace_size(B, T, E, K),
             launch_conv_bwd, &e);
    free(x), free(w), free(bb), free(out), free(dout), free(dx), free(dw0), free(db0), free(dw), free(db);
}

// ---- silu, swiglu, add, copy_rows -------------------------------------------------------------------------------

typedef struct { size_t n; int inplace, offset; } ew_ctx;
static void launch_silu_fwd(tens *t, void *c, void *ws) {
    ew_ctx *e = c;
    (void)ws;
    if (e->inplace) G->silu_forward(P(0), P(0), e->n);
    else G->silu_forward(P(1), P(0), e->n);
}
static void launch_silu_bwd(tens *t, void *c, void *ws) {
    ew_ctx *e = c;
    (void)ws;
    if (e->inplace) G->silu_backward(P(1), P(1), P(0), e->n); // dx aliases dout
    else G->silu_backward(P(2), P(1), P(0), e->n);
}
static void test_silu(size_t n, int inplace) {
    if (!selected("silu")) return;
    ew_ctx e = {n, inplace, 0};
    float *x = host_random(n, -6, 6, 1), *y = zeros(n), *g = host_random(n, -1, 1, 1), *dx = zeros(n);
    silu_forward_cpu(y, x, n);
    silu_backward_cpu(dx, g, x, n);
    const char *shape = fmt("n=%zu%s", n, inplace ? " in-place" : "");
    if (inplace) {
        tens f[1] = {{"x->out", K_BF16, R_INOUT, n, x, y, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("silu_forward", shape, f, 1, 0, launch_silu_fwd, &e);
        tens b[2] = {{"x", K_BF16, R_IN, n, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dout->dx", K_BF16, R_INOUT, n, g, dx, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("silu_backward", shape, b, 2, 0, launch_silu_bwd, &e);
    } else {
        tens f[2] = {{"x", K_BF16, R_IN, n, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_OUT, n, NULL, y, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("silu_forward", shape, f, 2, 0, launch_silu_fwd, &e);
        tens b[3] = {{"x", K_BF16, R_IN, n, x, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dout", K_BF16, R_IN, n, g, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dx", K_BF16, R_OUT, n, NULL, dx, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("silu_backward", shape, b, 3, 0, launch_silu_bwd, &e);
    }
    free(x), free(y), free(g), free(dx);
}

typedef struct { int N, I, fused, inplace; } sw_ctx;
// Tensors: fused: [0] gu [N, 2I] (gate | up), [1] out / dout, [2] dgu; split: [0] gate, [1] up, [2] out / dout,
// [3] dgate, [4] dup.
static void launch_swiglu_fwd(tens *t, void *c, void *ws) {
    sw_ctx *e = c;
    (void)ws;
    if (e->fused) G->swiglu_forward(P(1), P(0), (uint16_t *)P(0) + e->I, 2 * e->I, e->N, e->I);
    else G->swiglu_forward(P(2), P(0), P(1), e->I, e->N, e->I);
}
static void launch_swiglu_bwd(tens *t, void *c, void *ws) {
    sw_ctx *e = c;
    (void)ws;
    if (e->fused && e->inplace)
        G->swiglu_backward(P(0), (uint16_t *)P(0) + e->I, P(1), P(0), (uint16_t *)P(0) + e->I, 2 * e->I, e->N, e->I);
    else if (e->fused)
        G->swiglu_backward(P(2), (uint16_t *)P(2) + e->I, P(1), P(0), (uint16_t *)P(0) + e->I, 2 * e->I, e->N, e->I);
    else G->swiglu_backward(P(3), P(4), P(2), P(0), P(1), e->I, e->N, e->I);
}
static void test_swiglu(int N, int I, int fused, int inplace) {
    if (!selected("swiglu")) return;
    sw_ctx e = {N, I, fused, inplace};
    const char *shape = fmt("N=%d I=%d %s", N, I, fused ? (inplace ? "fused in-place" : "fused") : "split");
    size_t ni = (size_t)N * I;
    if (fused) {
        float *gu = host_random(2 * ni, -4, 4, 1), *out = zeros(ni), *dout = host_random(ni, -1, 1, 1);
        float *dgu = host_copy(gu, 2 * ni);
        swiglu_forward_cpu(out, gu, gu + I, 2 * I, N, I);
        swiglu_backward_cpu(dgu, dgu + I, dout, dgu, dgu + I, 2 * I, N, I); // in place on a copy
        tens f[2] = {{"gate|up", K_BF16, R_IN, 2 * ni, gu, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_OUT, ni, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("swiglu_forward", shape, f, 2, 0, launch_swiglu_fwd, &e);
        if (inplace) {
            tens b[2] = {{"gu->dgu", K_BF16, R_INOUT, 2 * ni, gu, dgu, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                         {"dout", K_BF16, R_IN, ni, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}}};
            run_case("swiglu_backward", shape, b, 2, 0, launch_swiglu_bwd, &e);
        } else {
            tens b[3] = {{"gate|up", K_BF16, R_IN, 2 * ni, gu, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                         {"dout", K_BF16, R_IN, ni, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                         {"dgate|dup", K_BF16, R_OUT, 2 * ni, NULL, dgu, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
            run_case("swiglu_backward", shape, b, 3, 0, launch_swiglu_bwd, &e);
        }
        free(gu), free(out), free(dout), free(dgu);
    } else {
        float *g = host_random(ni, -4, 4, 1), *u = host_random(ni, -2, 2, 1), *out = zeros(ni);
        float *dout = host_random(ni, -1, 1, 1), *dg = zeros(ni), *du = zeros(ni);
        swiglu_forward_cpu(out, g, u, I, N, I);
        swiglu_backward_cpu(dg, du, dout, g, u, I, N, I);
        tens f[3] = {{"gate", K_BF16, R_IN, ni, g, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"up", K_BF16, R_IN, ni, u, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_OUT, ni, NULL, out, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("swiglu_forward", shape, f, 3, 0, launch_swiglu_fwd, &e);
        tens b[5] = {{"gate", K_BF16, R_IN, ni, g, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"up", K_BF16, R_IN, ni, u, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dout", K_BF16, R_IN, ni, dout, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dgate", K_BF16, R_OUT, ni, NULL, dg, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                     {"dup", K_BF16, R_OUT, ni, NULL, du, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("swiglu_backward", shape, b, 5, 0, launch_swiglu_bwd, &e);
        free(g), free(u), free(out), free(dout), free(dg), free(du);
    }
}

static void launch_add(tens *t, void *c, void *ws) {
    ew_ctx *e = c;
    (void)ws;
    // offset: every pointer one element in (2 bytes: the scalar path); inplace: out aliases a.
    uint16_t *a = (uint16_t *)P(0) + e->offset, *b = (uint16_t *)P(1) + e->offset;
    uint16_t *o = e->inplace ? a : (uint16_t *)P(2) + e->offset;
    G->add(o, a, b, e->n);
}
static void test_add(size_t n, int inplace, int offset) {
    if (!selected("add")) return;
    ew_ctx e = {n, inplace, offset};
    size_t m = n + offset;
    float *a = host_random(m, -3, 3, 1), *b = host_random(m, -3, 3, 1), *o = zeros(m);
    for (size_t i = 0; i < m; i++) o[i] = i < (size_t)offset ? 0.0f : a[i] + b[i];
    const char *shape = fmt("n=%zu%s%s", n, inplace ? " out=a" : "", offset ? " unaligned" : "");
    if (inplace) {
        for (size_t i = 0; i < (size_t)offset; i++) o[i] = a[i];
        tens t[2] = {{"a->out", K_BF16, R_INOUT, m, a, o, (int)m, offset, (int)n, BF16_BOUND, 0, {0}, {0}, {0}},
                     {"b", K_BF16, R_IN, m, b, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}}};
        run_case("add", shape, t, 2, 0, launch_add, &e);
    } else {
        tens t[3] = {{"a", K_BF16, R_IN, m, a, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"b", K_BF16, R_IN, m, b, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"out", K_BF16, R_OUT, m, NULL, o, (int)m, offset, (int)n, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("add", shape, t, 3, 0, launch_add, &e);
    }
    free(a), free(b), free(o);
}

typedef struct { int rows, cols, ds, ss; } cr_ctx;
static void launch_copy_rows(tens *t, void *c, void *ws) {
    cr_ctx *e = c;
    (void)ws;
    G->copy_rows(P(1), e->ds, P(0), e->ss, e->rows, e->cols);
}
static void test_copy_rows(int rows, int cols, int ds, int ss) {
    if (!selected("copy_rows")) return;
    cr_ctx e = {rows, cols, ds, ss};
    float *src = host_random((size_t)rows * ss, -1, 1, 1), *dst = zeros((size_t)rows * ds);
    copy_rows_cpu(dst, ds, src, ss, rows, cols);
    tens t[2] = {{"src", K_BF16, R_IN, (size_t)rows * ss, src, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"dst", K_BF16, R_OUT, (size_t)rows * ds, NULL, dst, ds, 0, cols, 0.0, 0, {0}, {0}, {0}}};
    run_case("copy_rows", fmt("rows=%d cols=%d dst_stride=%d src_stride=%d", rows, cols, ds, ss), t, 2, 0,
             launch_copy_rows, &e);
    free(src), free(dst);
}

// ---- selective scan -------------------------------------------------------------------------------------------

typedef struct { int B, T, E, N, r, has_z, state; } scan_ctx;
// Forward tensors: [0] u, [1] dt_raw, [2] dt_bias, [3] A_log, [4] xdbl [B,T,r+2N] (B, C inside), [5] D,
// [6] xz [B,T,2E] (z = second half), [7] y, [8] state_out.
static void launch_scan_fwd(tens *t, void *c, void *ws) {
    scan_ctx *e = c;
    (void)ws;
    int bcs = e->r + 2 * e->N;
    uint16_t *xd = (uint16_t *)P(4);
    G->selective_scan_forward(P(7), e->state ? PF(8) : NULL, P(0), P(1), PF(2), PF(3), xd + e->r, xd + e->r + e->N, bcs,
                              PF(5), e->has_z ? (uint16_t *)P(6) + e->E : NULL, 2 * e->E, e->B, e->T, e->E, e->N);
}
// Backward tensors: [0..6] as the forward, [7] dy, [8] du, [9] ddt_raw, [10] dxdbl (dB, dC inside), [11] dxz
// (dz inside), [12] dA_log, [13] dD, [14] ddt_bias.
static void launch_scan_bwd(tens *t, void *c, void *ws) {
    scan_ctx *e = c;
    int bcs = e->r + 2 * e->N;
    uint16_t *xd = (uint16_t *)P(4), *dxd = (uint16_t *)P(10);
    G->selective_scan_backward(P(8), P(9), dxd + e->r, dxd + e->r + e->N, e->has_z ? (uint16_t *)P(11) + e->E : NULL,
                               PF(12), PF(13), PF(14), P(7), P(0), P(1), PF(2), PF(3), xd + e->r, xd + e->r + e->N,
                               bcs, PF(5), e->has_z ? (uint16_t *)P(6) + e->E : NULL, 2 * e->E, ws, e->B, e->T, e->E,
                               e->N);
}
static void test_scan(int B, int T, int E, int N, int r, int has_z) {
    if (!selected("scan")) return;
    scan_ctx e = {B, T, E, N, r, has_z, 1};
    const int bcs = r + 2 * N;
    size_t nte = (size_t)B * T * E, nbc = (size_t)B * T * bcs, nxz = (size_t)B * T * 2 * E;
    float *u = host_random(nte, -1, 1, 1), *dt = host_random(nte, -4, 2, 1), *dtb = host_random((size_t)E, -2, 0, 0);
    dt[nte / 2] = 25.0f; // one step above the softplus threshold (identity there)
    float *Alog = malloc((size_t)E * N * sizeof(float));
    for (int i = 0; i < E; i++)
        for (int n = 0; n < N; n++) Alog[(size_t)i * N + n] = logf((float)(n + 1)) + (float)rng_uniform(-0.1, 0.1);
    float *xd = host_random(nbc, -1, 1, 1), *D = host_random((size_t)E, 0.5, 1.5, 0), *xz = host_random(nxz, -2, 2, 1);
    float *y = zeros(nte), *st = zeros((size_t)B * E * N);
    const float *z = has_z ? xz + E : NULL;
    selective_scan_forward_cpu(y, st, u, dt, dtb, Alog, xd + r, xd + r + N, bcs, D, z, 2 * E, B, T, E, N);
    const char *shape = fmt("B=%d T=%d E=%d N=%d r=%d%s", B, T, E, N, r, has_z ? " z" : "");
    tens f[9] = {{"u", K_BF16, R_IN, nte, u, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"dt_raw", K_BF16, R_IN, nte, dt, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"dt_bias", K_F32, R_IN, (size_t)E, dtb, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"A_log", K_F32, R_IN, (size_t)E * N, Alog, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"xdbl", K_BF16, R_IN, nbc, xd, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"D", K_F32, R_IN, (size_t)E, D, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"xz", K_BF16, R_IN, nxz, xz, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"y", K_BF16, R_OUT, nte, NULL, y, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                 {"state", K_F32, R_OUT, (size_t)B * E * N, NULL, st, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("scan_forward", shape, f, 9, 0, launch_scan_fwd, &e);

    float *dy = host_random(nte, -1, 1, 1), *du = zeros(nte), *ddt = zeros(nte);
    float *dxd = zeros(nbc), *dxz = zeros(nxz);
    float *dA0 = host_random((size_t)E * N, -1, 1, 0), *dD0 = host_random((size_t)E, -1, 1, 0);
    float *dtb0 = host_random((size_t)E, -1, 1, 0);
    float *dA = host_copy(dA0, (size_t)E * N), *dDv = host_copy(dD0, (size_t)E), *ddtb = host_copy(dtb0, (size_t)E);
    void *cws = malloc(selective_scan_backward_workspace_size_cpu(B, T, E, N) + 16);
    selective_scan_backward_cpu(du, ddt, dxd + r, dxd + r + N, has_z ? dxz + E : NULL, dA, dDv, ddtb, dy, u, dt, dtb,
                                Alog, xd + r, xd + r + N, bcs, D, z, 2 * E, cws, B, T, E, N);
    free(cws);
    tens b[15] = {f[0], f[1], f[2], f[3], f[4], f[5], f[6],
                  {"dy", K_BF16, R_IN, nte, dy, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                  {"du", K_BF16, R_OUT, nte, NULL, du, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                  {"ddt_raw", K_BF16, R_OUT, nte, NULL, ddt, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                  {"dB|dC", K_BF16, R_OUT, nbc, NULL, dxd, bcs, r, 2 * N, BF16_BOUND, 0, {0}, {0}, {0}},
                  {"dz", K_BF16, R_OUT, nxz, NULL, dxz, 2 * E, E, has_z ? E : 0, BF16_BOUND, 0, {0}, {0}, {0}},
                  {"dA_log+=", K_F32, R_ACC, (size_t)E * N, dA0, dA, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}},
                  {"dD+=", K_F32, R_ACC, (size_t)E, dD0, dDv, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}},
                  {"ddt_bias+=", K_F32, R_ACC, (size_t)E, dtb0, ddtb, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("scan_backward", shape, b, 15, G->selective_scan_backward_workspace_size(B, T, E, N), launch_scan_bwd, &e);
    free(u), free(dt), free(dtb), free(Alog), free(xd), free(D), free(xz), free(y), free(st), free(dy), free(du);
    free(ddt), free(dxd), free(dxz), free(dA0), free(dD0), free(dtb0), free(dA), free(dDv), free(ddtb);
}

// ---- cross-entropy ----------------------------------------------------------------------------------------------

typedef struct { int N, V, inplace, fused; float dloss; } ce_ctx;
static void launch_ce_fwd(tens *t, void *c, void *ws) {
    ce_ctx *e = c;
    (void)ws;
    G->cross_entropy_forward(PF(2), P(0), PI(1), e->N, e->V);
}
static void launch_ce_bwd(tens *t, void *c, void *ws) {
    ce_ctx *e = c;
    (void)ws;
    if (e->fused) cross_entropy_fused_cuda(PF(3), P(2), P(0), PI(1), e->dloss, e->N, e->V, scout_cuda_stream());
    else if (e->inplace) G->cross_entropy_backward(P(0), P(0), PI(1), e->dloss, e->N, e->V);
    else G->cross_entropy_backward(P(2), P(0), PI(1), e->dloss, e->N, e->V);
}
static void test_ce(int N, int V, int inplace) {
    if (!selected("cross_entropy")) return;
    ce_ctx e = {N, V, inplace, 0, 1.0f / N};
    float *lg = host_random((size_t)N * V, -6, 6, 1), *loss = zeros((size_t)N), *dl = zeros((size_t)N * V);
    int32_t *tg = malloc((size_t)N * 4);
    for (int i = 0; i < N; i++) tg[i] = rng_int(V);
    tg[0] = V - 1;
    cross_entropy_forward_cpu(loss, lg, tg, N, V);
    cross_entropy_backward_cpu(dl, lg, tg, e.dloss, N, V);
    const char *shape = fmt("N=%d V=%d%s", N, V, inplace ? " in-place" : "");
    tens f[3] = {{"logits", K_BF16, R_IN, (size_t)N * V, lg, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"targets", K_I32, R_IN, (size_t)N, tg, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"losses", K_F32, R_OUT, (size_t)N, NULL, loss, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("cross_entropy_fwd", shape, f, 3, 0, launch_ce_fwd, &e);
    if (inplace) {
        tens b[2] = {{"logits->dlogits", K_BF16, R_INOUT, (size_t)N * V, lg, dl, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                     {"targets", K_I32, R_IN, (size_t)N, tg, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}}};
        run_case("cross_entropy_bwd", shape, b, 2, 0, launch_ce_bwd, &e);
    } else {
        tens b[3] = {{"logits", K_BF16, R_IN, (size_t)N * V, lg, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"targets", K_I32, R_IN, (size_t)N, tg, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dlogits", K_BF16, R_OUT, (size_t)N * V, NULL, dl, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}}};
        run_case("cross_entropy_bwd", shape, b, 3, 0, launch_ce_bwd, &e);
        e.fused = 1;
        tens u[4] = {{"logits", K_BF16, R_IN, (size_t)N * V, lg, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"targets", K_I32, R_IN, (size_t)N, tg, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                     {"dlogits", K_BF16, R_OUT, (size_t)N * V, NULL, dl, 0, 0, 0, BF16_BOUND, 0, {0}, {0}, {0}},
                     {"losses", K_F32, R_OUT, (size_t)N, NULL, loss, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
        run_case("cross_entropy_fused", shape, u, 4, 0, launch_ce_bwd, &e);
    }
    free(lg), free(loss), free(dl), free(tg);
}

// ---- AdamW and global norm ----------------------------------------------------------------------------------------

typedef struct { size_t n; int step; uint32_t seed; int nearest; } adam_ctx;
static const float kLr = 1e-3f, kB1 = 0.9f, kB2 = 0.95f, kEps = 1e-8f, kWd = 0.1f, kScale = 0.7f;
static void launch_adamw(tens *t, void *c, void *ws) {
    adam_ctx *e = c;
    (void)ws;
    int old = scout_cuda_set_flag(SCOUT_CUDA_ADAMW_ROUND_NEAREST, e->nearest);
    G->adamw_step(PF(0), P(1), PF(2), PF(3), PF(4), e->n, kLr, kB1, kB2, kEps, kWd, kScale, e->step, e->seed);
    scout_cuda_set_flag(SCOUT_CUDA_ADAMW_ROUND_NEAREST, old);
}
static void test_adamw(size_t n, int step, int nearest) {
    if (!selected("adamw")) return;
    adam_ctx e = {n, step, 0xC0FFEEu + (uint32_t)step, nearest};
    float *p0 = host_random(n, -0.1, 0.1, 0), *g = host_random(n, -1, 1, 0);
    float *m0 = host_random(n, -0.1, 0.1, 0), *v0 = host_random(n, 0, 0.01, 0);
    float *p = host_copy(p0, n), *m = host_copy(m0, n), *v = host_copy(v0, n);
    adamw_step_cpu(p, g, m, v, n, kLr, kB1, kB2, kEps, kWd, kScale, step);
    float *w = host_copy(p, n);
    if (nearest) host_round_bf16(w, n);
    const char *shape = fmt("n=%zu step=%d %s", n, step, nearest ? "nearest" : "stochastic");
    tens t[5] = {{"master", K_F32, R_INOUT, n, p0, p, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}},
                 {"weights", K_BF16, R_OUT, n, NULL, nearest ? w : p, 0, 0, 0, BF16_BOUND, 1, {0}, {0}, {0}},
                 {"grad", K_F32, R_IN, n, g, NULL, 0, 0, 0, 0, 0, {0}, {0}, {0}},
                 {"m", K_F32, R_INOUT, n, m0, m, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}},
                 {"v", K_F32, R_INOUT, n, v0, v, 0, 0, 0, FP32_BOUND, 0, {0}, {0}, {0}}};
    run_case("adamw", shape, t, 5, 0, launch_adamw, &e);
    free(p0), free(g), free(m0), free(v0), free(p), free(m), free(v), free(w);
}

// Stochastic rounding is unbiased: over many equal values the mean of the rounded copies approaches the value,
// where round-to-nearest would be off by the full rounding error; and another seed gives other roundings.
static void test_adamw_stochastic(void) {
    if (!selected("adamw")) return;
    const size_t n = 1 << 20;
    float *p0 = malloc(n * sizeof(float)), *zero = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) p0[i] = 1.0f + 0x1p-9f; // a quarter of the way from 1 to the next bf16 (1 + 2^-7)
    dtensor dp = dt_alloc(K_F32, n), dw = dt_alloc(K_BF16, n), dg = dt_alloc(K_F32, n), dm = dt_alloc(K_F32, n),
            dv = dt_alloc(K_F32, n);
    double mean[2];
    unsigned char *raw[2];
    for (int s = 0; s < 2; s++) {
        dt_upload(&dp, p0), dt_upload(&dg, zero), dt_upload(&dm, zero), dt_upload(&dv, zero);
        // lr = 0 and zero gradients: the master stays exactly p0, only the rounding acts.
        G->adamw_step((float *)dp.p, dw.p, (float *)dg.p, (float *)dm.p, (float *)dv.p, n, 0.0f, kB1, kB2, kEps, 0.0f,
                      1.0f, 1, 1000u + (uint32_t)s);
        GPU_CHECK(cudaDeviceSynchronize());
        raw[s] = dt_download_raw(&dw, NULL);
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += raw_get(raw[s], K_BF16, i);
        mean[s] = sum / n;
    }
    double bias = fabs(mean[0] - (1.0 + 0x1p-9)) / 0x1p-7; // in units of one bf16 step
    int differ = memcmp(raw[0], raw[1], n * 2) != 0;
    int ok = bias < 0.01 && differ;
    print_row("adamw", "n=1048576 stochastic rounding", "mean", bias, 0.01, 1, differ, ok);
    if (!differ) printf("    two seeds gave identical roundings\n");
    free(raw[0]), free(raw[1]), free(p0), free(zero);
    dt_free(&dp), dt_free(&dw), dt_free(&dg), dt_free(&dm), dt_free(&dv);
}

// The batched step (the table's adamw_step_tensors) against one adamw_step per tensor on the same device: 150
// tensors (two launches of at most 128), one slice misaligned (its own launch), gaps between the slices: master,
// m, v and the bf16 copy must be bit-identical, gaps included (untouched by both).
static void test_adamw_tensors(void) {
    if (!selected("adamw")) return;
    enum { NT = 150 };
    adamw_tensor tl[NT];
    size_t n = 0;
    for (int i = 0; i < NT; i++) {
        const size_t numel = i == 7 ? 1000003 : i == 8 ? 3 : (size_t)(1 + (i * 7919) % 5000);
        n = (n + 15) / 16 * 16 + 16 * (i % 3) + (i == 40 ? 1 : 0); // 64-byte starts, gaps; tensor 40 misaligned
        tl[i] = (adamw_tensor){.offset = n, .numel = numel, .weight_decay = i % 5 ? kWd : 0.0f,
                               .seed = 0xABCDu + 977u * (uint32_t)i};
        n += numel;
    }
    float *p0 = host_random(n, -0.1, 0.1, 0), *g = host_random(n, -1, 1, 0);
    float *m0 = host_random(n, -0.1, 0.1, 0), *v0 = host_random(n, 0, 0.01, 0);
    float *w0 = host_random(n, -1, 1, 1); // the bf16 copy's prior content, as fp32 values that bf16 holds exactly
    unsigned char *raw[2][4];
    for (int way = 0; way < 2; way++) {
        dtensor d[4] = {dt_alloc(K_F32, n), dt_alloc(K_BF16, n), dt_alloc(K_F32, n), dt_alloc(K_F32, n)};
        dtensor dg = dt_alloc(K_F32, n);
        dt_upload(&d[0], p0), dt_upload(&d[1], w0), dt_upload(&d[2], m0), dt_upload(&d[3], v0), dt_upload(&dg, g);
        float *P = (float *)d[0].p, *M = (float *)d[2].p, *V = (float *)d[3].p, *Gr = (float *)dg.p;
        if (way == 0)
            G->adamw_step_tensors(P, d[1].p, Gr, M, V, tl, NT, kLr, kB1, kB2, kEps, kScale, 5);
        else
            for (int i = 0; i < NT; i++) {
                const size_t o = tl[i].offset;
                G->adamw_step(P + o, (char *)d[1].p + 2 * o, Gr + o, M + o, V + o, tl[i].numel, kLr, kB1, kB2, kEps,
                              tl[i].weight_decay, kScale, 5, tl[i].seed);
            }
        GPU_CHECK(cudaDeviceSynchronize());
        for (int k = 0; k < 4; k++) raw[way][k] = dt_download_raw(&d[k], NULL), dt_free(&d[k]);
        dt_free(&dg);
    }
    static const char *names[4] = {"master", "weights", "m", "v"};
    for (int k = 0; k < 4; k++) {
        const size_t bytes = n * (k == 1 ? 2 : 4);
        size_t differ = 0;
        for (size_t b = 0; b < bytes; b++) differ += raw[0][k][b] != raw[1][k][b];
        print_row("adamw_tensors", fmt("%d slices, n=%zu, vs per tensor", NT, n), names[k], (double)differ,
                  0.0, 1, 1, differ == 0);
        free(raw[0][k]), free(raw[1][k]);
    }
    free(p0), free(g), free(m0), free(v0), free(w0);
}

static void test_global_norm(void) {
    if (!selected("global_norm")) return;
    const int nt = 70; // more than one launch batch of 64 tensors
    size_t sizes[70];
    float *host[70];
    const float *dptr[70];
    dtensor d[70];
    for (int i = 0; i < nt; i++) {
        sizes[i] = i == 0 ? 1 : i == 1 ? 1000003 : i == 2 ? 4097 : (size_t)(1 + rng_int(20000));
        host[i] = host_random(sizes[i], -1, 1, 0);
        d[i] = dt_alloc(K_F32, sizes[i]);
        dt_upload(&d[i], host[i]);
        dptr[i] = (const float *)d[i].p;
    }
    float ref = global_norm_cpu((const float *const *)host, sizes, nt, NULL);
    size_t wsb = G->global_norm_workspace_size(nt);
    void *ws;
    GPU_CHECK(cudaMalloc(&ws, wsb));
    GPU_CHECK(cudaMemset(ws, 0xFF, wsb));
    float a = G->global_norm(dptr, sizes, nt, ws);
    GPU_CHECK(cudaMemset(ws, 0xFF, wsb));
    float b = G->global_norm(dptr, sizes, nt, ws);
    double err = fabs((double)a - ref) / ref;
    int det = memcmp(&a, &b, 4) == 0;
    print_row("global_norm", "70 tensors, 1 .. 1000003 elements", "norm", err, FP32_BOUND, 1, det,
              det && err <= FP32_BOUND);
    for (int i = 0; i < nt; i++) free(host[i]), dt_free(&d[i]);
    GPU_CHECK(cudaFree(ws));
}

// ---- main ---------------------------------------------------------------------------------------------------------

// The warpgroup-MMA layouts the "wg" attention kernels rely on (wgmma_selftest.cu), one row per operand layout,
// where this build and device have them: a wrong descriptor shows here by name before it shows as attention
// errors. Exact bf16 products summed in fp32: the bound is the fp32 one.
static void test_wgmma_layouts(void) {
    if (!selected("wgmma")) return;
    double err[4], again[4];
    if (scout_cuda_wgmma_selftest(err) != 0 || scout_cuda_wgmma_selftest(again) != 0) return;
    static const char *const names[4] = {"A smem, B K-major", "A smem, B MN-major", "A regs, B K-major",
                                         "A regs, B MN-major"};
    for (int v = 0; v < 4; v++)
        print_row("wgmma_m64n64k16", names[v], "d", err[v], FP32_BOUND, 1, err[v] == again[v], err[v] <= FP32_BOUND);
}

// Every attention case, with the tile shapes in use (g_att_tag names them in the rows when not the default).
static void attention_cases(void) {
    // (B, T, n_h, n_kv, d, W or s, force general path)
    test_attention(0, 2, 67, 4, 2, 64, 16, 0, 0, 0.0f);
    test_attention(0, 1, 1, 2, 2, 64, 5, 0, 0, 0.0f);
    test_attention(0, 1, 50, 2, 1, 64, 100, 0, 0, 0.0f);
    test_attention(0, 1, 130, 2, 2, 16, 33, 0, 0, 0.0f);
    test_attention(0, 2, 257, 2, 2, 64, 64, 0, 0, 0.0f);
    test_attention(0, 1, 96, 2, 2, 64, 1, 0, 0, 0.0f);
    test_attention(0, 1, 200, 2, 1, 64, 70, 1, 0, 0.0f);
    if (!g_quick) test_attention(0, 1, 300, 4, 4, 64, 1000, 0, 0, 0.0f);
    if (!g_quick)
        test_attention(0, 1, 2048, 2, 2, 64, 1024, 0, 0, 0.0f); // the real window, several key tiles per query tile
    test_attention(1, 2, 67, 4, 2, 64, 10, 0, 0, 0.0f);
    test_attention(1, 1, 1, 2, 2, 64, 3, 0, 0, 0.0f);
    test_attention(1, 1, 9, 2, 2, 64, 10, 0, 0, 0.0f);
    test_attention(1, 1, 130, 2, 2, 16, 10, 0, 0, 0.0f);
    test_attention(1, 1, 257, 2, 2, 64, 1, 0, 0, 0.0f);
    test_attention(1, 1, 200, 2, 2, 64, 7, 1, 0, 0.0f);
    if (!g_quick) test_attention(1, 2, 300, 2, 1, 64, 4, 0, 0, 0.0f);
    // The model's call: q, k, v (and dq, dk, dv) as column blocks of one stacked tensor and RoPE's backward
    // folded into the op, on the tensor-core kernels (with and without GQA: the checkpoint attention's fused self
    // term and its row kernel) and the general ones; then the model's layout without RoPE.
    test_attention(0, 2, 67, 4, 2, 64, 16, 0, 1, 1e6f);
    test_attention(0, 1, 200, 2, 2, 64, 70, 1, 1, 1e6f);
    test_attention(1, 2, 67, 4, 2, 64, 10, 0, 1, 1e6f);
    test_attention(1, 1, 257, 2, 2, 64, 1, 0, 1, 1e6f);
    test_attention(1, 1, 200, 2, 1, 64, 7, 1, 1, 1e6f);
    if (!g_quick) test_attention(1, 1, 2100, 2, 2, 64, 10, 0, 1, 1e6f); // T > 1024: the dk/dv split and its reduction
    test_attention(1, 2, 1500, 4, 2, 64, 10, 0, 1, 1e4f);                // the split with GQA, another theta
    test_attention(0, 2, 67, 4, 2, 64, 16, 0, 1, 0.0f);
    test_attention(1, 1, 200, 2, 1, 64, 7, 0, 0, 1e4f);                  // RoPE on contiguous q, k
    if (!g_quick) test_attention(1, 1, 2048, 2, 2, 64, 10, 0, 0, 0.0f); // the real s: 204 checkpoints, 4 key tiles
    // The dk/dv kernel's split over queries (T > 1024): two chunks, the second partial, with GQA and B = 2; then
    // eight chunks of 1152 queries (the first also in --quick, which the sanitizer runs)
    test_attention(1, 2, 1500, 4, 2, 64, 10, 0, 0, 0.0f);
    if (!g_quick) test_attention(1, 1, 9000, 2, 2, 64, 10, 0, 0, 0.0f);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) g_quick = 1;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) g_filter = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) g_seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--quick] [--filter OP] [--seed N]\n", argv[0]);
            return 2;
        }
    }
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        fprintf(stderr, "%s: no CUDA device\n", argv[0]);
        return 1;
    }
    struct cudaDeviceProp prop;
    GPU_CHECK(cudaGetDeviceProperties(&prop, 0));
    G = scout_backend_cuda();
    g_rng = g_seed;
    printf("device: %s, %d SMs; seed %llu%s\n", prop.name, prop.multiProcessorCount, (unsigned long long)g_seed,
           g_quick ? "; quick" : "");
    printf("%-22s %-40s %-9s %10s %8s  %-7s %-6s %s\n", "op", "shape", "output", "rel.err", "bound", "written", "det",
           "");

    test_conversions();
    test_embedding(37, 64, 50);
    test_embedding(5, 7, 3);
    if (!g_quick) test_embedding(2048, 256, 300);
    test_rmsnorm(1, 64, SCOUT_DX_WRITE);
    test_rmsnorm(7, 37, SCOUT_DX_WRITE);
    test_rmsnorm(37, 1000, SCOUT_DX_WRITE);
    test_rmsnorm(7, 37, SCOUT_DX_ADD);
    test_rmsnorm(37, 1000, SCOUT_DX_ADD);
    test_rmsnorm(37, 256, SCOUT_DX_WRITE); // C = 256 k <= 1024: the register kernels
    test_rmsnorm(70, 768, SCOUT_DX_ADD);
    if (!g_quick) test_rmsnorm(256, 1024, SCOUT_DX_WRITE);
    if (!g_quick) test_rmsnorm(300, 1024, SCOUT_DX_ADD);
    if (!g_quick) test_rmsnorm(40, 2048, SCOUT_DX_WRITE); // 64 KiB of shared memory: the opt-in path
    test_linear(64, 128, 96, 1, SCOUT_DX_WRITE);
    test_linear(37, 45, 29, 0, SCOUT_DX_WRITE);
    test_linear(37, 45, 29, 1, SCOUT_DX_WRITE);
    test_linear(64, 128, 96, 0, SCOUT_DX_ADD);
    test_linear(37, 45, 29, 1, SCOUT_DX_ADD);
    if (!g_quick) test_linear(512, 1024, 768, 1, SCOUT_DX_WRITE);
    if (!g_quick) test_linear(512, 1024, 1024, 0, SCOUT_DX_WRITE);
    test_rope(2, 37, 3, 64, 0, 1e6f, 3 * 64);
    test_rope(1, 5, 2, 8, 100, 10000.0f, 2 * 8);
    test_rope(2, 37, 3, 64, 0, 1e6f, 5 * 64); // q and k heads of a stacked q/k/v row: the v columns untouched
    test_rope(1, 5, 2, 8, 100, 10000.0f, 3 * 8 + 3); // odd stride: the one-pair path
    if (!g_quick) test_rope(1, 2048, 2, 64, 0, 1e6f, 2 * 64);
    // Attention with the default tile shapes (on an H100 / H200 with an sm_90a build: the warpgroup-MMA kernels),
    // then, where those are the warpgroup ones, again with the mma.sync kernels (what other GPUs run).
    test_wgmma_layouts();
    attention_cases();
    if (strstr(scout_cuda_attention_tiles(), "wg")) {
        if (scout_cuda_attention_set_tiles("fwd=128x64w4,dq=128x64w4,dkdv=128x64w4") != 0) {
            fprintf(stderr, "test_gpu_ops: the mma.sync tile shapes are not accepted\n");
            return 1;
        }
        g_att_tag = " mma.sync";
        attention_cases();
        scout_cuda_attention_set_tiles("");
        g_att_tag = "";
    }
    // causal conv1d: (B, T, E, K, x_stride, bias)
    test_conv(2, 37, 24, 4, 48, 1);
    test_conv(1, 1, 5, 4, 5, 0);
    test_conv(1, 70, 33, 3, 69, 1);
    test_conv(2, 45, 16, 6, 32, 1); // 16-byte rows with more taps than Mamba's 4: the general-width vector kernel
    if (!g_quick) test_conv(2, 300, 64, 4, 128, 1);
    test_silu(1000003, 0);
    test_silu(4096, 1);
    test_swiglu(37, 100, 0, 0);
    test_swiglu(64, 256, 1, 0);
    test_swiglu(64, 256, 1, 1);
    test_add(1000003, 0, 0);
    test_add(4099, 0, 1);
    test_add(4096, 1, 0);
    test_copy_rows(37, 13, 20, 40);
    test_copy_rows(64, 128, 128, 256);
    // selective scan: (B, T, E, N, r, z)
    test_scan(2, 37, 5, 4, 3, 1);
    test_scan(1, 1, 3, 16, 0, 1);
    test_scan(2, 300, 20, 16, 5, 1);
    test_scan(1, 600, 33, 7, 2, 0);
    test_scan(1, 130, 17, 64, 1, 1);
    test_scan(1, 70, 3, 200, 0, 0);
    if (!g_quick) test_scan(2, 2048, 64, 16, 8, 1); // 16 chunks of 128 timesteps, 4 channel groups
    test_ce(5, 32000, 0);
    test_ce(33, 1001, 0);
    test_ce(8, 32000, 1);
    test_ce(3, 32768, 1); // the longest row held in registers
    test_ce(3, 32776, 0); // one chunk longer: the online two-pass kernel
    test_ce(7, 64, 1);    // most of the register chunks empty
    test_ce(300, 4096, 1); // more rows than SMs: each block walks 2-3 rows through its two row buffers
    test_ce(270, 1000, 0);
    test_adamw(1000003, 1, 0);
    test_adamw(1000003, 10, 0);
    test_adamw(4097, 3, 1);
    test_adamw_stochastic();
    test_adamw_tensors();
    test_global_norm();

    printf("%d rows, %d failed\n", g_rows, g_failures);
    return g_failures ? 1 : 0;
}
