// test_model_recompute.c: activation recomputation per layer (MODEL_RECOMPUTE) changes memory, never a result.
// For every architecture, on its tiny config with 3 layers (a first, a middle and a last layer: the last one
// is not recomputed, the others are), one model built without and one with recompute from the same init:
//   - the layout: with recompute every layer has its own input residual res[0] and shares everything else
//     with layer 0; the activation allocation is smaller;
//   - bit-identical results: forward-only losses and logits; two accumulated micro-batches of
//     forward/backward (losses and every gradient, memcmp), at the capacity and at a smaller batch that
//     uses a prefix of the buffers; an AdamW step (master weights and moments); the loss after it; and a
//     forward-only call after a backward (the shared set left in another layer's state);
// T = 21 and 13: longer than the window (16) or not, neither a multiple of the segment size s = 4.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "test_model_ref.h"

// 1 when the host copies of two device buffers of n floats are bit-identical.
static int same_floats(const model *a, const float *da, const model *b, const float *db, size_t n) {
    float *ha = malloc(n * sizeof(float)), *hb = malloc(n * sizeof(float));
    a->be->download(ha, da, n * sizeof(float));
    b->be->download(hb, db, n * sizeof(float));
    const int same = memcmp(ha, hb, n * sizeof(float)) == 0;
    free(ha), free(hb);
    return same;
}

static int in_allocation(const model *m, const void *p, size_t bytes) {
    const char *lo = m->act_mem, *q = p;
    return q >= lo && q + bytes <= lo + m->act_bytes;
}

static void check_layout(const model *keep, const model *rc) {
    const int L = rc->cfg.n_layers;
    const size_t NH = (size_t)rc->max_rows * rc->cfg.hidden_size * rc->be->act_size;
    CHECK(!keep->recompute && rc->recompute);
    CHECK(rc->act_bytes < keep->act_bytes);
    // What L - 1 layers no longer hold: at least all but their input residual.
    const size_t saved = keep->act_bytes - rc->act_bytes;
    CHECK(saved >= (size_t)(L - 1) * (size_t)(2 * rc->n_branches - 1) * NH);
    for (int l = 0; l < L; l++) {
        const layer_acts *A = &rc->acts.layer[l], *A0 = &rc->acts.layer[0], *K = &keep->acts.layer[l];
        CHECK(in_allocation(rc, A->res[0], NH));
        for (int k = 0; k < l; k++) CHECK(A->res[0] != rc->acts.layer[k].res[0]);
        if (l > 0) {
            layer_acts shared = *A;
            shared.res[0] = A0->res[0];
            CHECK(memcmp(&shared, A0, sizeof shared) == 0);
            CHECK(K->norm[0] != keep->acts.layer[0].norm[0]); // without recompute, layers have their own
        }
    }
    CHECK(rc->acts.final_res != rc->acts.layer[L - 1].res[0]);
    CHECK(model_memory_bytes(keep) - model_memory_bytes(rc) == saved);
}

// Forward/backward on both models, accumulating; checks the losses and the gradients equal bit for bit.
static void check_step(model *keep, model *rc, int B, int T, float scale, const char *label) {
    const int N = B * T, V = keep->cfg.vocab_size;
    int32_t *in = malloc(sizeof(int32_t) * N), *tgt = malloc(sizeof(int32_t) * N);
    random_tokens(in, N, V);
    random_tokens(tgt, N, V);
    const float l0 = model_forward_backward(keep, in, tgt, B, T, scale);
    const float l1 = model_forward_backward(rc, in, tgt, B, T, scale);
    if (memcmp(&l0, &l1, sizeof l0) != 0) fprintf(stderr, "    %s: loss %.9g vs %.9g with recompute\n", label, l0, l1);
    CHECK(memcmp(&l0, &l1, sizeof l0) == 0);
    const int grads_same = same_floats(keep, keep->grads, rc, rc->grads, keep->pt.n_floats);
    if (!grads_same) fprintf(stderr, "    %s: gradients differ with recompute\n", label);
    CHECK(grads_same);
    free(in), free(tgt);
}

// Forward only, with targets and logits: bit-identical.
static void check_forward(model *keep, model *rc, int B, int T) {
    const int N = B * T, V = keep->cfg.vocab_size;
    int32_t *in = malloc(sizeof(int32_t) * N), *tgt = malloc(sizeof(int32_t) * N);
    float *lg0 = malloc(sizeof(float) * (size_t)N * V), *lg1 = malloc(sizeof(float) * (size_t)N * V);
    random_tokens(in, N, V);
    random_tokens(tgt, N, V);
    const float l0 = model_forward(keep, in, tgt, B, T, lg0);
    const float l1 = model_forward(rc, in, tgt, B, T, lg1);
    CHECK(memcmp(&l0, &l1, sizeof l0) == 0);
    CHECK(memcmp(lg0, lg1, sizeof(float) * (size_t)N * V) == 0);
    CHECK(l0 > 0.0f);
    free(in), free(tgt), free(lg0), free(lg1);
}

static void check_arch(const char *cfg_name, const char *overrides) {
    const int B = 2, T = 21;
    model_config c;
    ref_config(&c, cfg_name, overrides);
    model keep, rc;
    model_build(&keep, &c, scout_backend_cpu(), B, T, 0);
    model_build(&rc, &c, scout_backend_cpu(), B, T, MODEL_RECOMPUTE);
    model_init_params(&keep, 3407);
    model_init_params(&rc, 3407);
    fprintf(stderr, "  %-26s %d layers: activations %zu bytes, %zu with recompute\n", cfg_name, c.n_layers,
            keep.act_bytes, rc.act_bytes);

    check_layout(&keep, &rc);
    check_forward(&keep, &rc, B, T);

    model_zero_grad(&keep), model_zero_grad(&rc);
    check_step(&keep, &rc, B, T, 0.5f, cfg_name);
    check_step(&keep, &rc, 1, 13, 0.5f, cfg_name); // a smaller batch: a prefix of every buffer
    const adamw_config oc = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .clip = 1.0f};
    const float n0 = model_update(&keep, &oc, 1e-3f, 1);
    const float n1 = model_update(&rc, &oc, 1e-3f, 1);
    CHECK(memcmp(&n0, &n1, sizeof n0) == 0);
    CHECK(same_floats(&keep, keep.master, &rc, rc.master, keep.pt.n_floats));
    CHECK(same_floats(&keep, keep.adam_m, &rc, rc.adam_m, keep.pt.n_floats));
    CHECK(same_floats(&keep, keep.adam_v, &rc, rc.adam_v, keep.pt.n_floats));

    // The updated weights, a new step; then a forward-only call after the backward.
    model_zero_grad(&keep), model_zero_grad(&rc);
    check_step(&keep, &rc, B, T, 1.0f, cfg_name);
    check_forward(&keep, &rc, B, T);
    check_forward(&keep, &rc, 1, 13);

    model_free(&keep);
    model_free(&rc);
    config_free(&c);
}

// One layer: recompute has nothing to share, and nothing to rerun (the last layer never is).
static void check_one_layer(void) {
    model_config c;
    ref_config(&c, "scout_swa_tiny", "{\"num_hidden_layers\": 1}");
    model keep, rc;
    model_build(&keep, &c, scout_backend_cpu(), 2, 21, 0);
    model_build(&rc, &c, scout_backend_cpu(), 2, 21, MODEL_RECOMPUTE);
    CHECK(rc.act_bytes == keep.act_bytes);
    model_init_params(&keep, 1);
    model_init_params(&rc, 1);
    model_zero_grad(&keep), model_zero_grad(&rc);
    check_step(&keep, &rc, 2, 21, 1.0f, "one layer");
    model_free(&keep);
    model_free(&rc);
    config_free(&c);
}

int main(int argc, char **argv) {
    (void)argc;
    test_rng_state = 4242;
    static const char *three = "{\"num_hidden_layers\": 3}";
    check_arch("scout_swa_tiny", three);
    check_arch("scout_mamba_tiny", three);
    check_arch("qwen2_tiny", three);
    check_arch("qwen2_swa_tiny", three);
    check_arch("qwen2_alternate_swa_tiny", three);
    check_arch("mamba_tiny", three);
    check_arch("scout_swa_tiny_v256", "{\"num_hidden_layers\": 4, \"tie_word_embeddings\": false}");
    check_one_layer();
    return check_summary(argv[0]);
}
