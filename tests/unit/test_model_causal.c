// test_model_causal.c: properties of the whole model that follow from the attention rules (spec/model.md D1,
// D2), checked through the model's logits:
//   - causality, every architecture: changing token p never changes the logits at positions < p (bit for
//     bit), nor anything of another sequence of the batch; T = 37 is longer than the window (16) and not a
//     multiple of s (4);
//   - the exact receptive field of a one-layer SCOUT-SWA with a window smaller than s: token p reaches
//     position i iff i is in its window (p <= i < p + W) or some checkpoint c = ms - 1 with c < i lies in
//     that window. This sees the D1 window size (W keys, self included), the strict c < i, the grid anchored
//     at position 0, and the self term, through the model's own wiring;
//   - the same for a one-layer all-SWA qwen2: exactly p <= i < p + W;
//   - the head in several chunks: the loss equals the cross-entropy of the logits it returns.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "test_model_ref.h"

typedef struct fixture {
    model_config c;
    model m;
    int B, T, V;
    int32_t *in;
    float *base, *pert; // [B*T, V] logits
} fixture;

static void fixture_open(fixture *f, const char *name, const char *overrides, int B, int T) {
    ref_config(&f->c, name, overrides);
    model_build(&f->m, &f->c, scout_backend_cpu(), B, T, 0);
    model_init_params(&f->m, 3407);
    f->B = B, f->T = T, f->V = f->c.vocab_size;
    f->in = malloc(sizeof(int32_t) * B * T);
    for (int i = 0; i < B * T; i++) f->in[i] = (int32_t)(rng_next() % (uint64_t)f->V);
    f->base = malloc(sizeof(float) * (size_t)B * T * f->V);
    f->pert = malloc(sizeof(float) * (size_t)B * T * f->V);
    model_forward(&f->m, f->in, NULL, B, T, f->base);
}

static void fixture_close(fixture *f) {
    free(f->in), free(f->base), free(f->pert);
    model_free(&f->m);
    config_free(&f->c);
}

// Logits with token p of sequence b changed; changed[i] = 1 where row i of sequence b differs from the
// base. Returns 1 when every other sequence's logits are bit-identical to the base.
static int perturb(fixture *f, int b, int p, int *changed) {
    const int T = f->T, V = f->V;
    const int32_t old = f->in[b * T + p];
    f->in[b * T + p] = (old + 1 + (int32_t)(rng_next() % (uint64_t)(V - 1))) % V;
    model_forward(&f->m, f->in, NULL, f->B, T, f->pert);
    f->in[b * T + p] = old;
    int others_same = 1;
    for (int s = 0; s < f->B; s++)
        for (int i = 0; i < T; i++) {
            size_t off = ((size_t)s * T + i) * V;
            int same = memcmp(f->base + off, f->pert + off, sizeof(float) * V) == 0;
            if (s == b) changed[i] = !same;
            else if (!same) others_same = 0;
        }
    return others_same;
}

static void test_causality(const char *label, const char *name, const char *overrides) {
    fixture f;
    fixture_open(&f, name, overrides, 2, 37);
    static const int positions[] = {0, 3, 4, 7, 15, 16, 17, 20, 35, 36};
    int changed[37], bad = 0;
    for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
        const int p = positions[k];
        CHECK(perturb(&f, 1, p, changed));
        for (int i = 0; i < p; i++) bad += changed[i];
        CHECK(changed[p]); // the token's own position sees it
        if (p + 1 < f.T) CHECK(changed[p + 1]);
    }
    fprintf(stderr, "  causality %-22s %s\n", label, bad ? "FAIL: a change reached an earlier position" : "ok");
    CHECK_EQ_INT(bad, 0);
    fixture_close(&f);
}

// One layer, window W < s: the set of positions token p reaches, exactly.
static int scout_swa_reaches(int p, int i, int W, int s) {
    if (i < p) return 0;
    if (i < p + W) return 1; // the SWA window of i holds p (and so does its self term in the checkpoint attention)
    for (int c = s - 1; c < i; c += s) // a checkpoint before i whose window holds p
        if (c >= p && c < p + W) return 1;
    return 0;
}

static void test_receptive_field(const char *label, const char *name, const char *overrides, int W, int s) {
    fixture f;
    fixture_open(&f, name, overrides, 1, 23);
    int changed[23], mismatches = 0;
    for (int p = 0; p < f.T; p++) {
        perturb(&f, 0, p, changed);
        for (int i = 0; i < f.T; i++) {
            const int want = s ? scout_swa_reaches(p, i, W, s) : (i >= p && i < p + W);
            if (changed[i] != want) {
                if (mismatches++ < 5)
                    fprintf(stderr, "    %s: token %d %s position %d\n", label, p, changed[i] ? "reaches" : "does not reach",
                            i);
            }
        }
    }
    fprintf(stderr, "  receptive field %-16s W=%d s=%d over T=23: %s\n", label, W, s, mismatches ? "FAIL" : "exact");
    CHECK_EQ_INT(mismatches, 0);
    fixture_close(&f);
}

// 8 x 40 = 320 rows over a 32000-word head of 262 rows per chunk: two chunks.
static void test_head_chunks(void) {
    fixture f;
    fixture_open(&f, "scout_swa_tiny", NULL, 8, 40);
    CHECK(f.m.head_rows < f.B * f.T);
    const int N = f.B * f.T, V = f.V;
    int32_t *tgt = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) tgt[i] = (int32_t)(rng_next() % (uint64_t)V);
    const float loss = model_forward(&f.m, f.in, tgt, f.B, f.T, f.pert);
    CHECK(memcmp(f.base, f.pert, sizeof(float) * (size_t)N * V) == 0); // targets change nothing upstream
    double sum = 0.0;
    for (int n = 0; n < N; n++) {
        const float *row = f.pert + (size_t)n * V;
        double mx = -INFINITY, s = 0.0;
        for (int v = 0; v < V; v++) mx = fmax(mx, row[v]);
        for (int v = 0; v < V; v++) s += exp(row[v] - mx);
        sum += mx + log(s) - row[tgt[n]];
    }
    fprintf(stderr, "  head in %d-row chunks: loss %.7f, from the logits %.7f\n", f.m.head_rows, loss, sum / N);
    CHECK_CLOSE(loss, sum / N, 0, 1e-6);
    model_zero_grad(&f.m);
    CHECK(model_forward_backward(&f.m, f.in, tgt, f.B, f.T, 1.0f) == loss);
    free(tgt);
    fixture_close(&f);
}

int main(int argc, char **argv) {
    (void)argc;
    test_rng_state = 777;
    test_causality("scout_swa", "scout_swa_tiny", NULL);
    test_causality("scout_mamba", "scout_mamba_tiny", NULL);
    test_causality("qwen2 full", "qwen2_tiny", NULL);
    test_causality("qwen2 all-SWA", "qwen2_swa_tiny", NULL);
    test_causality("qwen2 alternating", "qwen2_alternate_swa_tiny", NULL);
    test_causality("mamba", "mamba_tiny", NULL);
    test_receptive_field("scout_swa", "scout_swa_tiny_v256", "{\"num_hidden_layers\": 1, \"sliding_window\": 2, \"selection_window_size\": 5}", 2, 5);
    test_receptive_field("scout_swa", "scout_swa_tiny_v256", "{\"num_hidden_layers\": 1, \"sliding_window\": 3, \"selection_window_size\": 4}", 3, 4);
    test_receptive_field("qwen2 all-SWA", "qwen2_swa_tiny", "{\"vocab_size\": 256, \"num_hidden_layers\": 1, \"sliding_window\": 3}", 3, 0);
    test_head_chunks();
    return check_summary(argv[0]);
}
