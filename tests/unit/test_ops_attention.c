// test_ops_attention.c: sliding-window (D1), full causal and checkpoint (D2) attention: double oracles,
// finite differences of the backward (method and tolerances: test_ops_harness.c), and known answers that
// pin down exactly which keys each query sees.
#include "ops_harness.h"

#include "ops.h"

// ---- the key sets, written straight from spec/model.md --------------------------------------------------

typedef int (*mask_fn)(int i, int j, int param); // 1 when query i attends to key j

static int swa_mask(int i, int j, int W) { return j <= i && j > i - W; }          // D1: i - W < j <= i
static int causal_mask(int i, int j, int unused) { return (void)unused, j <= i; } // plain causal
static int ckpt_mask(int i, int j, int s) { return j == i || ((j + 1) % s == 0 && j < i); } // D2

typedef enum { ATTN_SWA, ATTN_CKPT } attn_kind;

// ---- oracle: for every query, scores against ALL T keys, masked, two-pass softmax -----------------------

typedef struct {
    double *q, *k, *v, *out, *lse;
    const float *R;
    int B, T, n_h, n_kv, d, param;
    mask_fn mask;
} attn_ctx;

static void attn_oracle_row(const attn_ctx *c, int b, int h, int i, double *o, double *lse) {
    int g = h / (c->n_h / c->n_kv);
    const double *qi = c->q + (((size_t)b * c->T + i) * c->n_h + h) * c->d;
    double mx = -INFINITY, sum = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            for (int x = 0; x < c->d; x++) o[x] = 0.0;
        for (int j = 0; j < c->T; j++) {
            if (!c->mask(i, j, c->param)) continue;
            const double *kj = c->k + (((size_t)b * c->T + j) * c->n_kv + g) * c->d;
            const double *vj = c->v + (((size_t)b * c->T + j) * c->n_kv + g) * c->d;
            double s = 0.0;
            for (int x = 0; x < c->d; x++) s += qi[x] * kj[x];
            s /= sqrt((double)c->d);
            if (pass == 0) {
                mx = fmax(mx, s);
            } else {
                double p = exp(s - mx);
                sum += p;
                for (int x = 0; x < c->d; x++) o[x] += p * vj[x];
            }
        }
    }
    for (int x = 0; x < c->d; x++) o[x] /= sum;
    *lse = mx + log(sum);
}

static void attn_oracle(attn_ctx *c) {
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->n_h; h++)
            for (int i = 0; i < c->T; i++)
                attn_oracle_row(c, b, h, i, c->out + (((size_t)b * c->T + i) * c->n_h + h) * c->d,
                                c->lse + ((size_t)b * c->n_h + h) * c->T + i);
}

static double attn_loss(void *p) {
    attn_ctx *c = p;
    attn_oracle(c);
    return dot_loss(c->out, c->R, (size_t)c->B * c->T * c->n_h * c->d);
}

// ldq / ldkv: row strides of q / dq and k / v / dk / dv (n_h d and n_kv d for contiguous tensors).
static void run_forward_ld(attn_kind kind, float *out, float *lse, const float *q, const float *k, const float *v,
                           int ldq, int ldkv, int B, int T, int n_h, int n_kv, int d, int param) {
    if (kind == ATTN_SWA)
        swa_attention_forward_cpu(out, lse, q, k, v, ldq, ldkv, B, T, n_h, n_kv, d, param);
    else
        checkpoint_attention_forward_cpu(out, lse, q, k, v, ldq, ldkv, B, T, n_h, n_kv, d, param);
}
static void run_forward(attn_kind kind, float *out, float *lse, const float *q, const float *k, const float *v,
                        int B, int T, int n_h, int n_kv, int d, int param) {
    run_forward_ld(kind, out, lse, q, k, v, n_h * d, n_kv * d, B, T, n_h, n_kv, d, param);
}

static void run_backward_ld(attn_kind kind, float *dq, float *dk, float *dv, const float *dout, const float *q,
                            const float *k, const float *v, const float *out, const float *lse, int ldq, int ldkv,
                            int B, int T, int n_h, int n_kv, int d, int param, float rope_theta) {
    if (kind == ATTN_SWA)
        swa_attention_backward_cpu(dq, dk, dv, dout, q, k, v, out, lse, NULL, ldq, ldkv, B, T, n_h, n_kv, d, param,
                                   rope_theta);
    else
        checkpoint_attention_backward_cpu(dq, dk, dv, dout, q, k, v, out, lse, NULL, ldq, ldkv, B, T, n_h, n_kv, d,
                                          param, rope_theta);
}
static void run_backward(attn_kind kind, float *dq, float *dk, float *dv, const float *dout, const float *q,
                         const float *k, const float *v, const float *out, const float *lse, int B, int T,
                         int n_h, int n_kv, int d, int param) {
    run_backward_ld(kind, dq, dk, dv, dout, q, k, v, out, lse, n_h * d, n_kv * d, B, T, n_h, n_kv, d, param, 0.0f);
}

// The stacked layout the model uses: q, k, v as column blocks of one [B*T, ld] buffer (here with 3 columns of
// padding after v, which must stay untouched), dq / dk / dv likewise. The results must be the contiguous
// ones to the bit: the same sums in the same order, only the addresses differ.
static void check_stacked(attn_kind kind, const char *op, const float *q, const float *k, const float *v,
                          const float *dout, const float *out, const float *lse, const float *dq, const float *dk,
                          const float *dv, int B, int T, int n_h, int n_kv, int d, int param) {
    const int QD = n_h * d, KD = n_kv * d, ld = QD + 2 * KD + 3;
    const size_t rows = (size_t)B * T, nq = rows * QD, nl = (size_t)B * n_h * T;
    float *qkv = galloc(rows * ld), *dqkv = galloc(rows * ld), *out2 = galloc(nq), *lse2 = galloc(nl);
    fill_nan(qkv, rows * ld), fill_nan(dqkv, rows * ld);
    for (size_t r = 0; r < rows; r++) {
        memcpy(qkv + r * ld, q + r * QD, QD * sizeof(float));
        memcpy(qkv + r * ld + QD, k + r * KD, KD * sizeof(float));
        memcpy(qkv + r * ld + QD + KD, v + r * KD, KD * sizeof(float));
    }
    run_forward_ld(kind, out2, lse2, qkv, qkv + QD, qkv + QD + KD, ld, ld, B, T, n_h, n_kv, d, param);
    int same = memcmp(out2, out, nq * sizeof(float)) == 0 && memcmp(lse2, lse, nl * sizeof(float)) == 0;
    // With rope_theta the op also takes dq, dk back through RoPE: the contiguous results, then rope_backward.
    const float theta = 1e4f;
    run_backward_ld(kind, dqkv, dqkv + QD, dqkv + QD + KD, dout, qkv, qkv + QD, qkv + QD + KD, out2, lse2, ld, ld, B,
                    T, n_h, n_kv, d, param, theta);
    float *dq_r = galloc(nq), *dk_r = galloc(rows * KD);
    memcpy(dq_r, dq, nq * sizeof(float)), memcpy(dk_r, dk, rows * KD * sizeof(float));
    rope_backward_cpu(dq_r, QD, B, T, n_h, d, 0, theta);
    rope_backward_cpu(dk_r, KD, B, T, n_kv, d, 0, theta);
    for (size_t r = 0; r < rows; r++) {
        same &= memcmp(dqkv + r * ld, dq_r + r * QD, QD * sizeof(float)) == 0;
        same &= memcmp(dqkv + r * ld + QD, dk_r + r * KD, KD * sizeof(float)) == 0;
        same &= memcmp(dqkv + r * ld + QD + KD, dv + r * KD, KD * sizeof(float)) == 0;
        for (int c = QD + 2 * KD; c < ld; c++) same &= isnan(dqkv[r * ld + c]); // the padding: untouched
    }
    report(op, "stacked, RoPE bwd", same ? 0.0 : 1.0, 0.0);
    CHECK(guards_intact(qkv) && guards_intact(dqkv) && guards_intact(out2) && guards_intact(lse2));
    gfree(qkv), gfree(dqkv), gfree(out2), gfree(lse2), gfree(dq_r), gfree(dk_r);
}

// Forward against the oracle built on `mask`, then the three gradients against finite differences.
static void test_attention(attn_kind kind, mask_fn mask, const char *name, int B, int T, int n_h, int n_kv,
                           int d, int param) {
    char op[96];
    snprintf(op, sizeof op, "%s B=%d T=%d h=%d/%d d=%d %s=%d", name, B, T, n_h, n_kv, d,
             kind == ATTN_SWA ? "W" : "s", param);
    size_t nq = (size_t)B * T * n_h * d, nk = (size_t)B * T * n_kv * d, nl = (size_t)B * n_h * T;
    float *q = grandom(nq, -1.5, 1.5), *k = grandom(nk, -1.5, 1.5), *v = grandom(nk, -1, 1);
    float *out = galloc(nq), *lse = galloc(nl), *R = grandom(nq, -1, 1);
    float *dq = galloc(nq), *dk = galloc(nk), *dv = galloc(nk);
    fill_nan(dq, nq), fill_nan(dk, nk), fill_nan(dv, nk);

    run_forward(kind, out, lse, q, k, v, B, T, n_h, n_kv, d, param);
    attn_ctx c = {to_double(q, nq),
                  to_double(k, nk),
                  to_double(v, nk),
                  malloc(nq * sizeof(double)),
                  malloc(nl * sizeof(double)),
                  R,
                  B,
                  T,
                  n_h,
                  n_kv,
                  d,
                  param,
                  mask};
    attn_oracle(&c);
    report(op, "forward", rel_err(out, c.out, nq), FWD_TOL);
    report(op, "lse", rel_err(lse, c.lse, nl), FWD_TOL);

    run_backward(kind, dq, dk, dv, R, q, k, v, out, lse, B, T, n_h, n_kv, d, param);
    check_grad(op, "dq", attn_loss, &c, c.q, nq, dq, NULL);
    check_grad(op, "dk", attn_loss, &c, c.k, nk, dk, NULL);
    check_grad(op, "dv", attn_loss, &c, c.v, nk, dv, NULL);
    check_stacked(kind, op, q, k, v, R, out, lse, dq, dk, dv, B, T, n_h, n_kv, d, param);
    CHECK(guards_intact(out) && guards_intact(lse) && guards_intact(dq) && guards_intact(dk) &&
          guards_intact(dv));
    free(c.q), free(c.k), free(c.v), free(c.out), free(c.lse);
    gfree(q), gfree(k), gfree(v), gfree(out), gfree(lse), gfree(R), gfree(dq), gfree(dk), gfree(dv);
}

// ---- known answers: which keys does each query see? -----------------------------------------------------
//
// With d >= T and v_j = (g+1) e_j for KV head g, output row i is sum_j p_j (g+1) e_j: entry j is nonzero
// exactly when query i attends to key j, and the row sums to g+1, which names the KV head used (GQA).
// With q = 0 all logits are 0, so the weights are exactly 1/|S_i| and lse = log |S_i|.

typedef struct {
    float *q, *k, *v, *out, *lse;
    int T, n_h, n_kv, d;
} onehot_case;

static onehot_case onehot_setup(int T, int n_h, int n_kv, int d, int zero_q) {
    onehot_case oc = {galloc((size_t)T * n_h * d),
                      grandom((size_t)T * n_kv * d, -1, 1),
                      galloc((size_t)T * n_kv * d),
                      galloc((size_t)T * n_h * d),
                      galloc((size_t)n_h * T),
                      T,
                      n_h,
                      n_kv,
                      d};
    if (zero_q)
        memset(oc.q, 0, (size_t)T * n_h * d * sizeof(float));
    else
        fill_uniform(oc.q, (size_t)T * n_h * d, -1, 1);
    memset(oc.v, 0, (size_t)T * n_kv * d * sizeof(float));
    for (int j = 0; j < T; j++)
        for (int g = 0; g < n_kv; g++) oc.v[((size_t)j * n_kv + g) * d + j] = (float)(g + 1);
    return oc;
}

static void onehot_free(onehot_case *oc) {
    gfree(oc->q), gfree(oc->k), gfree(oc->v), gfree(oc->out), gfree(oc->lse);
}

// Checks that query i of head h saw exactly the keys `expected(i, j)` says, and returns 1 when it did.
static int onehot_row_ok(const onehot_case *oc, int h, int i, mask_fn expected, int param, int zero_q) {
    int g = h / (oc->n_h / oc->n_kv), ok = 1, count = 0;
    const float *o = oc->out + ((size_t)i * oc->n_h + h) * oc->d;
    double sum = 0.0;
    for (int j = 0; j < oc->T; j++) count += expected(i, j, param);
    for (int j = 0; j < oc->d; j++) {
        int want = j < oc->T && expected(i, j, param);
        if (want ? !(o[j] > 0.0f) : o[j] != 0.0f) ok = 0; // unseen keys get exactly zero weight
        if (want && zero_q && fabs(o[j] - (g + 1.0) / count) > 1e-6) ok = 0;
        sum += o[j];
    }
    if (fabs(sum - (g + 1)) > 1e-5) ok = 0;
    if (zero_q && fabs(oc->lse[(size_t)h * oc->T + i] - log((double)count)) > 1e-6) ok = 0;
    return ok;
}

static void test_swa_window_set(int T, int n_h, int n_kv, int d, int W, int zero_q) {
    onehot_case oc = onehot_setup(T, n_h, n_kv, d, zero_q);
    swa_attention_forward_cpu(oc.out, oc.lse, oc.q, oc.k, oc.v, n_h * d, n_kv * d, 1, T, n_h, n_kv, d, W);
    int bad = 0;
    for (int h = 0; h < n_h; h++)
        for (int i = 0; i < T; i++) bad += !onehot_row_ok(&oc, h, i, swa_mask, W, zero_q);
    if (bad) fprintf(stderr, "swa key set wrong in %d rows (T=%d W=%d)\n", bad, T, W);
    CHECK_EQ_INT(bad, 0);
    onehot_free(&oc);
}

static void test_ckpt_key_set(int T, int n_h, int n_kv, int d, int s, int zero_q) {
    onehot_case oc = onehot_setup(T, n_h, n_kv, d, zero_q);
    checkpoint_attention_forward_cpu(oc.out, oc.lse, oc.q, oc.k, oc.v, n_h * d, n_kv * d, 1, T, n_h, n_kv, d, s);
    int bad = 0;
    for (int h = 0; h < n_h; h++)
        for (int i = 0; i < T; i++) bad += !onehot_row_ok(&oc, h, i, ckpt_mask, s, zero_q);
    if (bad) fprintf(stderr, "checkpoint key set wrong in %d rows (T=%d s=%d)\n", bad, T, s);
    CHECK_EQ_INT(bad, 0);
    onehot_free(&oc);
}

// The s = 10 examples of spec §6.7, as literal key lists (not derived from any rule in code).
static const int *spec_example_keys;
static int spec_example_mask(int i, int j, int unused) {
    (void)unused, (void)i;
    for (const int *p = spec_example_keys; *p >= 0; p++)
        if (*p == j) return 1;
    return 0;
}

static void test_ckpt_spec_examples(void) {
    static const int k0[] = {0, -1}, k5[] = {5, -1}, k9[] = {9, -1}, k10[] = {9, 10, -1}, k19[] = {9, 19, -1},
                     k20[] = {9, 19, 20, -1}, k29[] = {9, 19, 29, -1}, k30[] = {9, 19, 29, 30, -1},
                     k36[] = {9, 19, 29, 36, -1};
    static const struct {
        int i;
        const int *keys;
    } ex[] = {{0, k0}, {5, k5}, {9, k9}, {10, k10}, {19, k19}, {20, k20}, {29, k29}, {30, k30}, {36, k36}};
    const int T = 37, d = 64; // T not a multiple of s
    for (int zq = 0; zq < 2; zq++) {
        onehot_case oc = onehot_setup(T, 2, 1, d, zq);
        checkpoint_attention_forward_cpu(oc.out, oc.lse, oc.q, oc.k, oc.v, 2 * d, d, 1, T, 2, 1, d, 10);
        for (size_t e = 0; e < sizeof ex / sizeof ex[0]; e++) {
            spec_example_keys = ex[e].keys;
            for (int h = 0; h < 2; h++) {
                int ok = onehot_row_ok(&oc, h, ex[e].i, spec_example_mask, 0, zq);
                if (!ok)
                    fprintf(stderr, "spec §6.7 example: token %d, head %d sees the wrong keys\n", ex[e].i, h);
                CHECK(ok);
            }
        }
        onehot_free(&oc);
    }
}

// ---- long sequences: the O(T W) and O(T^2/s) kernels at T = 20000 (a T x T buffer: 1.6 GB) ------

static void test_long_sequence(attn_kind kind, mask_fn mask, int T, int param) {
    const int n_h = 2, n_kv = 1, d = 4;
    size_t nq = (size_t)T * n_h * d, nk = (size_t)T * n_kv * d;
    float *q = grandom(nq, -1, 1), *k = grandom(nk, -1, 1), *v = grandom(nk, -1, 1);
    float *out = galloc(nq), *lse = galloc((size_t)n_h * T), *dq = galloc(nq), *dk = galloc(nk),
          *dv = galloc(nk);
    run_forward(kind, out, lse, q, k, v, 1, T, n_h, n_kv, d, param);
    run_backward(kind, dq, dk, dv, out, q, k, v, out, lse, 1, T, n_h, n_kv, d,
                 param); // dout = out: any will do
    attn_ctx c = {to_double(q, nq),
                  to_double(k, nk),
                  to_double(v, nk),
                  NULL,
                  NULL,
                  NULL,
                  1,
                  T,
                  n_h,
                  n_kv,
                  d,
                  param,
                  mask};
    const int rows[] = {0, 1, param - 1, param, T / 2, T - 2, T - 1};
    double worst = 0.0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (int h = 0; h < n_h; h++) {
            double o[4], l;
            attn_oracle_row(&c, 0, h, rows[r], o, &l);
            worst = fmax(worst, rel_err(out + ((size_t)rows[r] * n_h + h) * d, o, d));
        }
    char op[64];
    snprintf(op, sizeof op, "%s T=%d %s=%d", kind == ATTN_SWA ? "swa" : "checkpoint", T,
             kind == ATTN_SWA ? "W" : "s", param);
    report(op, "forward, 7 rows", worst, FWD_TOL);
    int finite = 1;
    for (size_t i = 0; i < nq; i++) finite &= isfinite(dq[i]);
    for (size_t i = 0; i < nk; i++) finite &= isfinite(dk[i]) && isfinite(dv[i]);
    CHECK(finite);
    free(c.q), free(c.k), free(c.v);
    gfree(q), gfree(k), gfree(v), gfree(out), gfree(lse), gfree(dq), gfree(dk), gfree(dv);
}

int main(int argc, char **argv) {
    (void)argc;
    rng_seed(17);

    // Sliding window (D1), GQA in several, windows of 1 (self only), small, and larger than T.
    test_attention(ATTN_SWA, swa_mask, "swa", 1, 1, 1, 1, 4, 1);
    test_attention(ATTN_SWA, swa_mask, "swa", 2, 7, 2, 1, 4, 3);
    test_attention(ATTN_SWA, swa_mask, "swa", 1, 37, 4, 2, 8, 5);
    test_attention(ATTN_SWA, swa_mask, "swa", 1, 37, 2, 2, 8, 1);
    test_attention(ATTN_SWA, swa_mask, "swa", 1, 20, 1, 1, 64, 6);
    // Full causal attention (qwen2 baselines) is the SWA with W >= T, checked against a causal-only oracle.
    test_attention(ATTN_SWA, causal_mask, "causal", 2, 7, 2, 2, 8, 7);
    test_attention(ATTN_SWA, causal_mask, "causal", 1, 37, 3, 1, 4, 1 << 30);

    // Checkpoint attention (D2): s = 10 with T not a multiple of s, s = 1 (every earlier token), s > T (self
    // only).
    test_attention(ATTN_CKPT, ckpt_mask, "checkpoint", 1, 1, 1, 1, 4, 10);
    test_attention(ATTN_CKPT, ckpt_mask, "checkpoint", 2, 7, 2, 1, 4, 3);
    test_attention(ATTN_CKPT, ckpt_mask, "checkpoint", 1, 37, 4, 2, 8, 10);
    test_attention(ATTN_CKPT, ckpt_mask, "checkpoint", 1, 37, 2, 2, 8, 1);
    test_attention(ATTN_CKPT, ckpt_mask, "checkpoint", 1, 37, 2, 1, 8, 4);
    test_attention(ATTN_CKPT, ckpt_mask, "checkpoint", 1, 20, 1, 1, 64, 5);
    test_attention(ATTN_CKPT, ckpt_mask, "checkpoint", 1, 12, 2, 2, 4, 13);
    // With s = 1 every earlier token is a checkpoint: the same function as full causal attention.
    test_attention(ATTN_CKPT, causal_mask, "checkpoint s=1 vs causal", 1, 7, 2, 1, 8, 1);

    // Known answers for the key sets (d = 64 >= T, one-hot values), random and zero queries.
    for (int zq = 0; zq < 2; zq++) {
        test_swa_window_set(37, 4, 2, 64, 1, zq);
        test_swa_window_set(37, 4, 2, 64, 5, zq);
        test_swa_window_set(37, 2, 1, 64, 10, zq);
        test_swa_window_set(37, 2, 2, 64, 37, zq);
        test_swa_window_set(25, 4, 1, 32, 40, zq); // window larger than T
        test_swa_window_set(1, 2, 1, 4, 3, zq);
        test_ckpt_key_set(37, 4, 2, 64, 10, zq);
        test_ckpt_key_set(37, 2, 1, 64, 3, zq);
        test_ckpt_key_set(37, 2, 2, 64, 1, zq);
        test_ckpt_key_set(20, 2, 1, 32, 40, zq); // s > T: self only
        test_ckpt_key_set(7, 4, 4, 8, 2, zq);
    }
    test_ckpt_spec_examples();

    test_long_sequence(ATTN_SWA, swa_mask, 20000, 7);
    test_long_sequence(ATTN_CKPT, ckpt_mask, 20000, 1000);
    return check_summary(argv[0]);
}
