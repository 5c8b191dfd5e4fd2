// test_ops_loss_optim.c: the CPU backend's fast exp / log1p (kernels/cpu/cpu_math.h, against libm in double),
// cross-entropy (double oracle, finite differences, known answers, in place, fused), AdamW (PyTorch's
// algorithm in double over several steps, known answers) and the global gradient norm / clip factor (method
// and tolerances: test_ops_harness.c).
#include <float.h>

#include "ops_harness.h"

#include "cpu/cpu_math.h"
#include "cpu/ops_cpu.h"
#include "ops.h"

// ---- fast_expf_ / fast_log1pf_ / softplusf_ (cpu_math.h) ---------------------------------------------------

// Error of a float result in units in the last place of the double reference (ulp of a float at its
// magnitude; below FLT_MIN the subnormal spacing 2^-149).
static double ulp_err(float got, double ref) {
    if (isnan(got) || isnan(ref)) return isnan(got) && isnan(ref) ? 0.0 : INFINITY;
    if (ref == 0.0) return got == 0.0f ? 0.0 : INFINITY;
    int e = ilogb(ref);
    return fabs((double)got - ref) / ldexp(1.0, (e < -126 ? -126 : e) - 23);
}

// Every float x whose bit pattern is a multiple of `step` in [lo, hi] (same sign), a dense sample that is
// uniform in the float encoding: all magnitudes, tiny to large, get their share.
typedef struct {
    double worst_ulp, worst_rel;
    float at;
    long n;
} acc_stats;

static void sweep(float lo, float hi, uint32_t step, float (*f)(float), double (*ref)(double), acc_stats *st) {
    uint32_t a, b;
    memcpy(&a, &lo, 4), memcpy(&b, &hi, 4);
    if (a > b) { // negative range: larger bit patterns are more negative
        uint32_t t = a;
        a = b, b = t;
    }
    for (uint32_t u = a; u <= b && u >= a; u += step) {
        float x;
        memcpy(&x, &u, 4);
        double r = ref(x);
        float y = f(x);
        double e = ulp_err(y, r);
        if (e > st->worst_ulp) st->worst_ulp = e, st->at = x;
        if (fabs(r) >= FLT_MIN && fabs(y - r) / fabs(r) > st->worst_rel) st->worst_rel = fabs(y - r) / fabs(r);
        st->n++;
    }
}

static float f_exp(float x) { return fast_expf_(x); }
static float f_log1p(float x) { return fast_log1pf_(x); }
static float f_softplus(float x) { return softplusf_(x); }
static double d_softplus(double x) { return x > 20.0 ? x : log1p(exp(x)); }

static void test_fast_math(void) {
    // exp: the whole float range that does not over- or underflow, both signs, ~5.8M points (an exhaustive
    // run over all 2^32 floats, done once, gave max 0.990 ulp / relative 8.2e-8 for normal results and an
    // absolute error below 2^-149 for subnormal ones). The bound checked: 1 ulp.
    acc_stats e = {0};
    sweep(0.0f, 88.72f, 389, f_exp, exp, &e);
    sweep(-0.0f, -103.9f, 389, f_exp, exp, &e);
    fprintf(stderr, "  %-38s %ld points: max %.3f ulp (at %.9g), max rel err %.2e for normal results\n",
            "fast_expf_ vs exp", e.n, e.worst_ulp, e.at, e.worst_rel);
    CHECK(e.worst_ulp <= 1.0 && e.worst_rel <= 1.2e-7);
    // A dense uniform grid in x over the range cross-entropy and softmax use (x - max <= 0).
    acc_stats g = {0};
    for (int i = 0; i <= 1 << 21; i++) {
        float x = (float)(-104.0 * i / (1 << 21));
        double err = ulp_err(fast_expf_(x), exp(x));
        if (err > g.worst_ulp) g.worst_ulp = err, g.at = x;
    }
    fprintf(stderr, "  %-38s 2^21+1 points on [-104, 0]: max %.3f ulp (at %.9g)\n", "fast_expf_ vs exp", g.worst_ulp,
            g.at);
    CHECK(g.worst_ulp <= 1.0);
    // Special values: exact 1 at 0, overflow to inf, underflow to +0, NaN through.
    CHECK(fast_expf_(0.0f) == 1.0f && fast_expf_(-0.0f) == 1.0f);
    CHECK(fast_expf_(INFINITY) == INFINITY && fast_expf_(88.73f) == INFINITY && fast_expf_(1e30f) == INFINITY);
    CHECK(isfinite(fast_expf_(88.72f)) && fast_expf_(88.72f) > 3.3e38f);
    CHECK(fast_expf_(-INFINITY) == 0.0f && fast_expf_(-104.0f) == 0.0f && fast_expf_(-1e30f) == 0.0f);
    CHECK(fast_expf_(-103.0f) > 0.0f); // subnormal, not flushed
    CHECK(isnan(fast_expf_(NAN)));

    // log1p on [0, 1e30] and softplus = log1p(exp(x)) (identity above 20) on [-110, 20] (exhaustive runs: max
    // 1.25 and 1.99 ulp). The bound checked: 2 ulp.
    acc_stats l = {0}, sp = {0};
    sweep(0.0f, 1e30f, 389, f_log1p, log1p, &l);
    sweep(-0.0f, -110.0f, 389, f_softplus, d_softplus, &sp);
    sweep(0.0f, 30.0f, 389, f_softplus, d_softplus, &sp);
    fprintf(stderr, "  %-38s %ld points: max %.3f ulp (at %.9g)\n", "fast_log1pf_ vs log1p", l.n, l.worst_ulp, l.at);
    fprintf(stderr, "  %-38s %ld points: max %.3f ulp (at %.9g)\n", "softplusf_ vs log1p(exp)", sp.n, sp.worst_ulp,
            sp.at);
    CHECK(l.worst_ulp <= 2.0 && sp.worst_ulp <= 2.0);
    CHECK(fast_log1pf_(0.0f) == 0.0f && fast_log1pf_(INFINITY) == INFINITY && isnan(fast_log1pf_(NAN)));
    CHECK(softplusf_(25.0f) == 25.0f && softplusf_(-200.0f) == 0.0f && isnan(softplusf_(NAN)));
}

// ---- cross-entropy --------------------------------------------------------------------------------------

typedef struct {
    double *logits, *losses;
    const int32_t *targets;
    int N, V;
    double dloss; // the objective is dloss * sum_n loss_n (dloss = 1/N: the mean)
} ce_ctx;

static void ce_oracle(ce_ctx *c) {
    for (int n = 0; n < c->N; n++) {
        const double *row = c->logits + (size_t)n * c->V;
        double mx = row[0], s = 0.0;
        for (int v = 1; v < c->V; v++) mx = fmax(mx, row[v]);
        for (int v = 0; v < c->V; v++) s += exp(row[v] - mx);
        c->losses[n] = mx + log(s) - row[c->targets[n]];
    }
}

static double ce_loss(void *p) {
    ce_ctx *c = p;
    ce_oracle(c);
    double s = 0.0;
    for (int n = 0; n < c->N; n++) s += c->losses[n];
    return c->dloss * s;
}

static void test_cross_entropy(int N, int V, double spread, int fd) {
    char op[64];
    snprintf(op, sizeof op, "cross_entropy N=%d V=%d", N, V);
    size_t nl = (size_t)N * V;
    float *logits = grandom(nl, -spread, spread), *losses = galloc(N), *dlogits = galloc(nl);
    int32_t *targets = malloc(N * sizeof(int32_t));
    for (int n = 0; n < N; n++) targets[n] = rng_int(V);
    fill_nan(dlogits, nl);

    cross_entropy_forward_cpu(losses, logits, targets, N, V);
    ce_ctx c = {to_double(logits, nl), malloc(N * sizeof(double)), targets, N, V, 1.0 / N};
    ce_oracle(&c);
    report(op, "losses", rel_err(losses, c.losses, N), FWD_TOL);

    cross_entropy_backward_cpu(dlogits, logits, targets, (float)(1.0 / N), N, V);
    if (fd) check_grad(op, "dlogits", ce_loss, &c, c.logits, nl, dlogits, NULL);
    // Each row of softmax - onehot sums to zero.
    double worst = 0.0;
    for (int n = 0; n < N; n++) {
        double s = 0.0;
        for (int v = 0; v < V; v++) s += dlogits[(size_t)n * V + v];
        worst = fmax(worst, fabs(s) * N);
    }
    report(op, "rows of dlogits sum 0", worst, FWD_TOL);
    // The fused op (forward and backward at once, as training calls it) gives the same bits, out of place
    // and in place.
    float *flosses = galloc(N), *fdl = galloc(nl), *inplace = galloc(nl);
    memcpy(inplace, logits, nl * sizeof(float));
    fill_nan(fdl, nl);
    cross_entropy_fused_cpu(flosses, fdl, logits, targets, (float)(1.0 / N), N, V);
    CHECK(memcmp(flosses, losses, N * sizeof(float)) == 0 && memcmp(fdl, dlogits, nl * sizeof(float)) == 0);
    cross_entropy_fused_cpu(flosses, inplace, inplace, targets, (float)(1.0 / N), N, V);
    CHECK(memcmp(flosses, losses, N * sizeof(float)) == 0 && memcmp(inplace, dlogits, nl * sizeof(float)) == 0);
    CHECK(guards_intact(flosses) && guards_intact(fdl) && guards_intact(inplace));
    gfree(flosses), gfree(fdl), gfree(inplace);
    // In place (the llm.c way, saving a [N, V] buffer) gives the same bits.
    cross_entropy_backward_cpu(logits, logits, targets, (float)(1.0 / N), N, V);
    CHECK(memcmp(logits, dlogits, nl * sizeof(float)) == 0);
    CHECK(guards_intact(logits) && guards_intact(losses) && guards_intact(dlogits));
    free(targets), free(c.logits), free(c.losses);
    gfree(logits), gfree(losses), gfree(dlogits);
}

static void test_cross_entropy_known_answers(void) {
    // Uniform logits: loss = ln V, gradient (1/V - onehot) * dloss.
    enum { V = 32000 };
    float *row = galloc(V), loss, *d = galloc(V);
    for (int v = 0; v < V; v++) row[v] = 3.25f;
    int32_t t = 123;
    cross_entropy_forward_cpu(&loss, row, &t, 1, V);
    CHECK_CLOSE(loss, log((double)V), 0, 1e-6);
    cross_entropy_backward_cpu(d, row, &t, 0.5f, 1, V);
    CHECK_CLOSE(d[0], 0.5 / V, 0, 1e-5);
    CHECK_CLOSE(d[t], 0.5 / V - 0.5, 0, 1e-6);

    // Huge logits do not overflow (max subtracted): [1000, 0, -1000].
    float big[3] = {1000.0f, 0.0f, -1000.0f}, l3[3], dbig[3];
    int32_t tg[3] = {0, 1, 2};
    float rows[9];
    for (int r = 0; r < 3; r++) memcpy(rows + 3 * r, big, sizeof big);
    cross_entropy_forward_cpu(l3, rows, tg, 3, 3);
    CHECK_CLOSE(l3[0], 0.0, 1e-6, 0);
    CHECK_CLOSE(l3[1], 1000.0, 0, 1e-6);
    CHECK_CLOSE(l3[2], 2000.0, 0, 1e-6);
    cross_entropy_backward_cpu(dbig, big, tg + 1, 1.0f, 1, 3);
    CHECK(dbig[0] == 1.0f && dbig[1] == -1.0f && dbig[2] == 0.0f); // softmax = onehot(0), target 1
    CHECK_CLOSE(cross_entropy_mean(l3, 3), 1000.0, 0, 1e-6); // (0 + 1000 + 2000) / 3
    gfree(row), gfree(d);
}

// ---- AdamW ----------------------------------------------------------------------------------------------

typedef struct {
    double lr, beta1, beta2, eps, wd, grad_scale;
} adamw_hp;

// torch.optim.AdamW (single tensor, not amsgrad), written as its documentation states it, in double.
static void adamw_oracle(double *p, const double *g_raw, double *m, double *v, size_t n, adamw_hp hp,
                         int step) {
    for (size_t i = 0; i < n; i++) {
        double g = g_raw[i] * hp.grad_scale;
        p[i] *= 1.0 - hp.lr * hp.wd;
        m[i] = hp.beta1 * m[i] + (1.0 - hp.beta1) * g;
        v[i] = hp.beta2 * v[i] + (1.0 - hp.beta2) * g * g;
        double mhat = m[i] / (1.0 - pow(hp.beta1, step)), vhat = v[i] / (1.0 - pow(hp.beta2, step));
        p[i] -= hp.lr * mhat / (sqrt(vhat) + hp.eps);
    }
}

// Each step starts the oracle from the float state and compares the update p_new - p_old (not p itself,
// whose magnitude would hide an update of size lr), and the moments.
static void test_adamw_vs_oracle(size_t n, adamw_hp hp, int steps) {
    char op[64];
    snprintf(op, sizeof op, "adamw n=%zu lr=%g wd=%g scale=%g", n, hp.lr, hp.wd, hp.grad_scale);
    float *p = grandom(n, -1, 1), *m = galloc(n), *v = galloc(n), *g = galloc(n), *upd = galloc(n);
    memset(m, 0, n * sizeof(float)), memset(v, 0, n * sizeof(float));
    double eu = 0, em = 0, ev = 0;
    for (int step = 1; step <= steps; step++) {
        fill_uniform(g, n, -2, 2);
        if (step == 2) g[0] = 0.0f; // a zero gradient: the update comes from the moments alone
        double *pd = to_double(p, n), *md = to_double(m, n), *vd = to_double(v, n), *gd = to_double(g, n);
        double *ud = malloc(n * sizeof(double));
        memcpy(upd, p, n * sizeof(float));
        adamw_step_cpu(p, g, m, v, n, (float)hp.lr, (float)hp.beta1, (float)hp.beta2, (float)hp.eps,
                       (float)hp.wd, (float)hp.grad_scale, step);
        adamw_oracle(pd, gd, md, vd, n, hp, step);
        for (size_t i = 0; i < n; i++) {
            ud[i] = pd[i] - upd[i];
            upd[i] = p[i] - upd[i];
        }
        eu = fmax(eu, rel_err(upd, ud, n)), em = fmax(em, rel_err(m, md, n)), ev = fmax(ev, rel_err(v, vd, n));
        free(pd), free(md), free(vd), free(gd), free(ud);
    }
    report(op, "param update", eu, FWD_TOL);
    report(op, "m", em, FWD_TOL);
    report(op, "v", ev, FWD_TOL);
    CHECK(guards_intact(p) && guards_intact(m) && guards_intact(v));
    gfree(p), gfree(m), gfree(v), gfree(g), gfree(upd);
}

static void test_adamw_known_answers(void) {
    // Step 1, no decay: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) ~ lr * sign(g).
    float p[3] = {1.0f, 1.0f, 1.0f}, g[3] = {0.5f, -3.0f, 1e-3f}, m[3] = {0}, v[3] = {0};
    adamw_step_cpu(p, g, m, v, 3, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f, 1.0f, 1);
    CHECK_CLOSE(p[0], 1.0 - 1e-3, 0, 1e-7);
    CHECK_CLOSE(p[1], 1.0 + 1e-3, 0, 1e-7);
    CHECK_CLOSE(p[2], 1.0 - 1e-3 * 1e-3 / (1e-3 + 1e-8), 0, 1e-7);
    CHECK_CLOSE(m[1], -0.3, 0, 1e-6);
    CHECK_CLOSE(v[1], 0.45, 0, 1e-6);

    // Decoupled decay alone (zero gradient, zero moments): p *= 1 - lr wd, D5's 0.1 at lr 3e-4.
    float q[2] = {2.0f, -4.0f}, z[2] = {0}, mz[2] = {0}, vz[2] = {0};
    adamw_step_cpu(q, z, mz, vz, 2, 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 1);
    CHECK_CLOSE(q[0], 2.0 * (1.0 - 3e-5), 0, 1e-7);
    CHECK_CLOSE(q[1], -4.0 * (1.0 - 3e-5), 0, 1e-7);

    // grad_scale s on g is the same step as scale 1 on s*g (the clip factor is applied inside the step).
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, ga[4] = {0.4f, -0.8f, 1.2f, 2.0f}, gb[4];
    float ma[4] = {0}, va[4] = {0}, mb[4] = {0}, vb[4] = {0};
    for (int i = 0; i < 4; i++) gb[i] = ga[i] * 0.25f; // exact in binary
    adamw_step_cpu(a, ga, ma, va, 4, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.25f, 1);
    adamw_step_cpu(b, gb, mb, vb, 4, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 1);
    CHECK(memcmp(a, b, sizeof a) == 0 && memcmp(ma, mb, sizeof ma) == 0 && memcmp(va, vb, sizeof va) == 0);
}

// ---- global norm and clipping ---------------------------------------------------------------------------

static void test_global_norm(void) {
    float t1[2] = {3.0f, 4.0f}, t2[1] = {12.0f};
    const float *ts[2] = {t1, t2};
    size_t ns[2] = {2, 1};
    CHECK_CLOSE(global_norm_cpu(ts, ns, 2, NULL), 13.0, 0, 1e-7);
    CHECK_CLOSE(global_norm_cpu(ts, ns, 1, NULL), 5.0, 0, 1e-7);
    size_t zero = 0;
    CHECK(global_norm_cpu(ts, &zero, 1, NULL) == 0.0f);

    // Several random tensors, one of them large, against a double sum.
    enum { K = 4 };
    size_t sizes[K] = {1, 7, 1000, 1 << 20};
    float *bufs[K];
    const float *cb[K];
    double ss = 0.0;
    for (int k = 0; k < K; k++) {
        bufs[k] = grandom(sizes[k], -1, 1);
        cb[k] = bufs[k];
        for (size_t i = 0; i < sizes[k]; i++) ss += (double)bufs[k][i] * bufs[k][i];
    }
    double want = sqrt(ss);
    report("global_norm 4 tensors, 1M values", "norm", fabs(global_norm_cpu(cb, sizes, K, NULL) - want) / want,
           FWD_TOL);
    for (int k = 0; k < K; k++) gfree(bufs[k]);

    // Clip factor min(1, clip / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_.
    CHECK_CLOSE(grad_clip_scale(13.0f, 1.0f), 1.0 / (13.0 + 1e-6), 0, 1e-7);
    CHECK(grad_clip_scale(0.5f, 1.0f) == 1.0f);
    CHECK(grad_clip_scale(0.0f, 1.0f) == 1.0f);
}

int main(int argc, char **argv) {
    (void)argc;
    rng_seed(23);
    test_fast_math();
    test_cross_entropy_known_answers();
    test_cross_entropy(1, 2, 3.0, 1);
    test_cross_entropy(7, 37, 3.0, 1);
    test_cross_entropy(5, 1000, 8.0, 1);
    test_cross_entropy(3, 32000, 20.0, 0); // the real vocabulary: forward and row sums, FD would be 96k sweeps
    // Logits 100+ apart: most exps underflow to 0 (V not a multiple of the op's 16 lanes or 512 blocks).
    test_cross_entropy(3, 50, 60.0, 1);
    test_cross_entropy(2, 4099, 100.0, 0);

    test_adamw_known_answers();
    // Updates are compared at lr ~ 0.1: at D5's 3e-4 an update is ~5000 float ulps of a parameter near 1,
    // so storing it in the fp32 parameter alone would cost ~2e-4 relative, hiding the op's own error.
    test_adamw_vs_oracle(37, (adamw_hp){0.1, 0.9, 0.95, 1e-8, 0.1, 1.0}, 5);
    test_adamw_vs_oracle(1000, (adamw_hp){0.05, 0.9, 0.95, 1e-8, 0.0, 0.37}, 5);
    test_adamw_vs_oracle(7, (adamw_hp){0.1, 0.8, 0.99, 1e-6, 0.5, 2.0}, 3);

    test_global_norm();
    return check_summary(argv[0]);
}
