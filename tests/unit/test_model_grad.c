// test_model_grad.c: the whole model against the double-precision oracle of test_model_ref.h, for every
// architecture on tiny 256-word configs: the float loss equals the oracle's, and the float gradient of
// every parameter tensor equals central differences of the oracle's loss. Also: two runs give
// bit-identical losses and gradients; micro-batch gradients accumulate (+=); a tied head's gradient lands
// in the embedding.
//
// Gradient checks, per tensor (every tensor of the model):
//   - the element with the largest |analytic gradient| and one random element: per-element central
//     differences;
//   - a random +-1 direction u over the whole tensor: (L(p + e u) - L(p - e u)) / 2e against g . u, which
//     sees every element's gradient at once (a missing or misplaced gradient on any subset shows);
// The error of a tensor is max |analytic - fd| / max |analytic| over its samples (the direction error is
// normalised by sum |g_i|). Step size: the oracle's loss (~5.5) carries ~1e-14 of rounding, so a central
// difference with step eps has noise ~1e-14 / eps. Most tensors have gradients ~1e-3..1e-1 and eps = 1e-6
// is exact to ~1e-8 of them; but at init the Mamba dt path (dt_proj, A_log) has gradients ~1e-9 (B and C
// are tiny), where eps = 1e-6 would leave 1% noise. So eps = 1e-9 / (the tensor's largest gradient),
// clamped to [1e-6, 1e-2]: noise stays ~1e-5 of the gradient scale, and the truncation error (eps^2 times
// the third derivative) stays below that too (measured: 1e-5 at eps = 1e-2 on dt_proj.bias). The analytic
// side is a float backward through a few layers, whose error is ~1e-6 of the gradient scale (the worst
// case is printed). Tolerance 1e-3: 100x above both, while a wrong term (a missed branch, a wrong key set,
// a stride error) changes a gradient by a good fraction of itself.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "test_model_ref.h"

#define FD_EPS_MIN 1e-6
#define FD_EPS_MAX 1e-2
#define GRAD_TOL 1e-3
#define LOSS_TOL 1e-5

// The model's float parameters, made less symmetric than the init (norm weights 1, D 1, ...) so that every
// tensor's gradient is generic: each value gets a small random offset.
static void perturb_params(model *m, float *host) {
    model_get_params(m, host);
    for (int i = 0; i < m->pt.n; i++) {
        const param_tensor *t = &m->pt.t[i];
        for (size_t k = 0; k < t->numel; k++) host[t->offset + k] += 0.02f * (float)((double)(rng_next() >> 11) * 0x1p-53 - 0.5);
    }
    model_set_params(m, host);
}

static double oracle(const ref_model *r, const int32_t *in, const int32_t *tgt, int B, int T) { return ref_loss(r, in, tgt, B, T); }

static void check_arch(const char *label, const char *cfg_name, const char *overrides, int B, int T) {
    model_config c;
    ref_config(&c, cfg_name, overrides);
    model m;
    model_build(&m, &c, scout_backend_cpu(), B, T, 0);
    model_init_params(&m, 3407);
    float *host = params_alloc(&m.pt);
    perturb_params(&m, host);

    const int N = B * T;
    int32_t *in = malloc(sizeof(int32_t) * N), *tgt = malloc(sizeof(int32_t) * N);
    random_tokens(in, N, c.vocab_size);
    random_tokens(tgt, N, c.vocab_size);

    // Loss: float model vs double oracle.
    double *p = malloc(sizeof(double) * m.pt.n_floats);
    for (size_t i = 0; i < m.pt.n_floats; i++) p[i] = host[i];
    ref_model r = {&c, &m.pt, p};
    const double ref = oracle(&r, in, tgt, B, T);
    const float fwd = model_forward(&m, in, tgt, B, T, NULL);
    fprintf(stderr, "  %-22s loss %.7f, oracle %.7f, rel err %.1e\n", label, fwd, ref, fabs(fwd - ref) / ref);
    CHECK(fabs(fwd - ref) <= LOSS_TOL * ref);

    // Analytic gradients; the same again must be bit-identical (determinism), and a second accumulation
    // doubles them (+= semantics with loss_scale).
    model_zero_grad(&m);
    const float l1 = model_forward_backward(&m, in, tgt, B, T, 1.0f);
    float *g = malloc(sizeof(float) * m.pt.n_floats), *g2 = malloc(sizeof(float) * m.pt.n_floats);
    m.be->download(g, m.grads, sizeof(float) * m.pt.n_floats);
    CHECK(l1 == fwd);
    model_zero_grad(&m);
    const float l2 = model_forward_backward(&m, in, tgt, B, T, 1.0f);
    m.be->download(g2, m.grads, sizeof(float) * m.pt.n_floats);
    CHECK(l2 == l1);
    CHECK(memcmp(g, g2, sizeof(float) * m.pt.n_floats) == 0);
    model_forward_backward(&m, in, tgt, B, T, 0.5f);
    m.be->download(g2, m.grads, sizeof(float) * m.pt.n_floats);
    double acc_err = 0.0, gmax = 0.0;
    for (size_t i = 0; i < m.pt.n_floats; i++) {
        acc_err = fmax(acc_err, fabs((double)g2[i] - 1.5 * g[i]));
        gmax = fmax(gmax, fabs(g[i]));
    }
    CHECK(acc_err <= 1e-5 * gmax);

    double worst = 0.0;
    const char *worst_name = "";
    for (int ti = 0; ti < m.pt.n; ti++) {
        const param_tensor *t = &m.pt.t[ti];
        const float *gt = g + t->offset;
        double *pt = p + t->offset;
        size_t imax = 0;
        double scale = 0.0, l1norm = 0.0;
        for (size_t k = 0; k < t->numel; k++) {
            if (fabs(gt[k]) > scale) scale = fabs(gt[k]), imax = k;
            l1norm += fabs(gt[k]);
        }
        CHECK(scale > 0.0); // every tensor takes part in the loss
        const double FD_EPS = fmin(FD_EPS_MAX, fmax(FD_EPS_MIN, 1e-9 / scale));
        double err = 0.0;
        size_t idx[2] = {imax, (size_t)(rng_next() % t->numel)};
        for (int s = 0; s < 2; s++) {
            const size_t k = idx[s];
            const double x0 = pt[k];
            pt[k] = x0 + FD_EPS;
            const double lp = oracle(&r, in, tgt, B, T);
            pt[k] = x0 - FD_EPS;
            const double lm = oracle(&r, in, tgt, B, T);
            pt[k] = x0;
            err = fmax(err, fabs((lp - lm) / (2 * FD_EPS) - gt[k]) / scale);
        }
        // Random +-1 direction over the whole tensor.
        signed char *u = malloc(t->numel);
        double gu = 0.0;
        for (size_t k = 0; k < t->numel; k++) u[k] = (rng_next() >> 63) ? 1 : -1, gu += u[k] * (double)gt[k];
        for (size_t k = 0; k < t->numel; k++) pt[k] += FD_EPS * u[k];
        const double lp = oracle(&r, in, tgt, B, T);
        for (size_t k = 0; k < t->numel; k++) pt[k] -= 2 * FD_EPS * u[k];
        const double lm = oracle(&r, in, tgt, B, T);
        for (size_t k = 0; k < t->numel; k++) pt[k] = host[t->offset + k];
        free(u);
        err = fmax(err, fabs((lp - lm) / (2 * FD_EPS) - gu) / l1norm);
        if (err > GRAD_TOL) fprintf(stderr, "    %s: gradient error %.2e  <-- FAIL\n", t->name, err);
        CHECK(err <= GRAD_TOL);
        if (err > worst) worst = err, worst_name = t->name;
    }
    fprintf(stderr, "  %-22s %d tensors, worst gradient error %.1e (%s)\n", label, m.pt.n, worst, worst_name);

    free(in), free(tgt), free(p), free(g), free(g2), free(host);
    model_free(&m);
    config_free(&c);
}

int main(int argc, char **argv) {
    (void)argc;
    test_rng_state = 12345;
    // T = 21: longer than the window (16) and not a multiple of s (4); B = 2.
    check_arch("scout_swa", "scout_swa_tiny_v256", NULL, 2, 21);
    check_arch("scout_swa untied GQA", "scout_swa_tiny_v256", "{\"tie_word_embeddings\": false, \"num_key_value_heads\": 1}", 2, 21);
    check_arch("scout_mamba", "scout_mamba_tiny_v256", NULL, 2, 21);
    check_arch("qwen2 full", "qwen2_tiny_v256", NULL, 2, 21);
    check_arch("qwen2 all-SWA", "qwen2_swa_tiny", "{\"vocab_size\": 256, \"num_hidden_layers\": 2}", 2, 21);
    check_arch("qwen2 alternating", "qwen2_alternate_swa_tiny", "{\"vocab_size\": 256, \"num_hidden_layers\": 2}", 2, 21);
    check_arch("mamba", "mamba_tiny_v256", NULL, 2, 21);
    return check_summary(argv[0]);
}
