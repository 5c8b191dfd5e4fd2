// model_attention.c: the attention branches: q/k/v projections (with qwen2's biases when the table has
// them), RoPE at positions 0..T-1 on q and k (§6.5; one table shared by every attention), the attention op
// (sliding window / full causal, D1, or checkpoint, D2), and o_proj.
//
// q_proj, k_proj and v_proj are stacked in the parameter buffer (params.h), so the three projections are one
// product by the [QD + 2 KD, H] matrix into one [N, QD + 2 KD] buffer whose rows are [q | k | v]; RoPE rotates
// the q and k heads of each row in one pass (they are adjacent), and the attention reads q, k, v with that row
// stride. The backward writes dq, dk, dv into the same layout, so dx and the weight gradient are one product
// each. (Three 1024-wide products ran at 77-83% of the GPU's bf16 peak, the stacked 3072-wide one runs as the
// MLP's do.)
#include "log.h"
#include "model_internal.h"

int model_attention_window(const model *m, int layer, int T) {
    // A window >= T is plain causal attention (the op treats it so); qwen2 full-attention layers use T.
    return config_layer_is_swa(&m->cfg, layer) ? m->cfg.sliding_window : T;
}

// Projection weights of one attention; first_role is PR_MIX_Q or PR_CK_Q, followed by K, V, O in the
// role enum. Biases exist only for qwen2's local attention (PR_MIX_*_BIAS).
typedef struct attn_params {
    const void *wqkv, *wo;  // [QD + 2 KD, H] (q_proj, k_proj, v_proj stacked), [H, QD]
    const void *bqkv;       // [QD + 2 KD] stacked biases, or NULL
    float *gqkv, *go, *gbqkv; // fp32 gradients, same shapes (same layout)
} attn_params;

static attn_params attn_params_of(const model *m, int layer, int first_role) {
    attn_params p = {
        .wqkv = model_stacked_w(m, layer, first_role, 3), .wo = model_w(m, layer, first_role + 3),
        .gqkv = model_g(m, layer, first_role), .go = model_g(m, layer, first_role + 3),
    };
    if (first_role == PR_MIX_Q) {
        p.bqkv = model_stacked_w(m, layer, PR_MIX_Q_BIAS, 3);
        p.gbqkv = model_g(m, layer, PR_MIX_Q_BIAS);
    }
    if (!p.wqkv || !p.wo) die(SCOUT_EXIT_FAIL, "internal: layer %d has no attention at role %d", layer, first_role);
    return p;
}

void attention_branch_forward(model *m, int layer, int kind, int first_role, attn_acts *a, const void *x,
                              const void *res, void *out, int B, int T) {
    const scout_backend *be = m->be;
    const model_config *c = &m->cfg;
    const int N = B * T, H = c->hidden_size, nh = c->n_heads, nkv = c->n_kv_heads, d = c->head_dim;
    const int QD = nh * d, QKV = QD + 2 * nkv * d;
    const float theta = (float)c->rope_theta;
    attn_params p = attn_params_of(m, layer, first_role);

    be->linear_forward(a->q, x, p.wqkv, p.bqkv, N, H, QKV);    // a->k, a->v are column blocks of its rows
    be->rope_forward(a->q, QKV, B, T, nh + nkv, d, 0, theta); // q and k; positions restart at 0 per block (D2)
    if (kind == BRANCH_CHECKPOINT)
        be->checkpoint_attention_forward(a->out, a->lse, a->q, a->k, a->v, QKV, QKV, B, T, nh, nkv, d,
                                         c->selection_window);
    else
        be->swa_attention_forward(a->out, a->lse, a->q, a->k, a->v, QKV, QKV, B, T, nh, nkv, d,
                                  model_attention_window(m, layer, T));
    be->linear_residual_forward(out, a->out, p.wo, res, N, QD, H);
}

void attention_branch_backward(model *m, int layer, int kind, int first_role, const attn_acts *a, const void *x,
                               const void *dout, void *dx, int B, int T) {
    const scout_backend *be = m->be;
    const model_config *c = &m->cfg;
    model_grad_acts *g = &m->gacts;
    const int N = B * T, H = c->hidden_size, nh = c->n_heads, nkv = c->n_kv_heads, d = c->head_dim;
    const int QD = nh * d, QKV = QD + 2 * nkv * d;
    const float theta = (float)c->rope_theta;
    attn_params p = attn_params_of(m, layer, first_role);

    be->linear_backward(g->datt, p.go, NULL, dout, a->out, p.wo, m->ws, N, QD, H, SCOUT_DX_WRITE);
    // The saved q, k carry RoPE and the projections' gradients need d(pre-RoPE q, k): the op applies RoPE's
    // backward to dq, dk itself (theta), on the GPU in its kernels' stores instead of a pass of its own.
    if (kind == BRANCH_CHECKPOINT)
        be->checkpoint_attention_backward(g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v, a->out, a->lse, m->ws, QKV,
                                          QKV, B, T, nh, nkv, d, c->selection_window, theta);
    else
        be->swa_attention_backward(g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v, a->out, a->lse, m->ws, QKV, QKV,
                                   B, T, nh, nkv, d, model_attention_window(m, layer, T), theta);
    // x feeds the stacked projection: dx = [dq | dk | dv] [Wq; Wk; Wv], one product.
    be->linear_backward(dx, p.gqkv, p.gbqkv, g->dq, x, p.wqkv, m->ws, N, H, QKV, SCOUT_DX_WRITE);
}
