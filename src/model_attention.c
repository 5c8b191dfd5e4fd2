// model_attention.c: the attention branches: q/k/v projections (with qwen2's biases when the table has
// them), RoPE at positions 0..T-1 on q and k (§6.5; one table shared by every attention), the attention op
// (sliding window / full causal, D1, or checkpoint, D2), and o_proj.
#include "log.h"
#include "model_internal.h"

int model_attention_window(const model *m, int layer, int T) {
    // A window >= T is plain causal attention (the op treats it so); qwen2 full-attention layers use T.
    return config_layer_is_swa(&m->cfg, layer) ? m->cfg.sliding_window : T;
}

// Projection weights of one attention; first_role is PR_MIX_Q or PR_CK_Q, followed by K, V, O in the
// role enum. Biases exist only for qwen2's local attention (PR_MIX_*_BIAS).
typedef struct attn_params {
    const void *wq, *wk, *wv, *wo;    // [QD, H], [KD, H], [KD, H], [H, QD]
    const void *bq, *bk, *bv;         // [QD], [KD], [KD] or NULL
    float *gq, *gk, *gv, *go;         // fp32 gradients, same shapes
    float *gbq, *gbk, *gbv;
} attn_params;

static attn_params attn_params_of(const model *m, int layer, int first_role) {
    attn_params p = {
        .wq = model_w(m, layer, first_role), .wk = model_w(m, layer, first_role + 1),
        .wv = model_w(m, layer, first_role + 2), .wo = model_w(m, layer, first_role + 3),
        .gq = model_g(m, layer, first_role), .gk = model_g(m, layer, first_role + 1),
        .gv = model_g(m, layer, first_role + 2), .go = model_g(m, layer, first_role + 3),
    };
    if (first_role == PR_MIX_Q) {
        p.bq = model_w(m, layer, PR_MIX_Q_BIAS), p.bk = model_w(m, layer, PR_MIX_K_BIAS);
        p.bv = model_w(m, layer, PR_MIX_V_BIAS);
        p.gbq = model_g(m, layer, PR_MIX_Q_BIAS), p.gbk = model_g(m, layer, PR_MIX_K_BIAS);
        p.gbv = model_g(m, layer, PR_MIX_V_BIAS);
    }
    if (!p.wq || !p.wk || !p.wv || !p.wo) die(SCOUT_EXIT_FAIL, "internal: layer %d has no attention at role %d", layer, first_role);
    return p;
}

void attention_branch_forward(model *m, int layer, int kind, int first_role, attn_acts *a, const void *x, void *out,
                              int B, int T) {
    const scout_backend *be = m->be;
    const model_config *c = &m->cfg;
    const int N = B * T, H = c->hidden_size, nh = c->n_heads, nkv = c->n_kv_heads, d = c->head_dim;
    const int QD = nh * d, KD = nkv * d;
    const float theta = (float)c->rope_theta;
    attn_params p = attn_params_of(m, layer, first_role);

    be->linear_forward(a->q, x, p.wq, p.bq, N, H, QD);
    be->linear_forward(a->k, x, p.wk, p.bk, N, H, KD);
    be->linear_forward(a->v, x, p.wv, p.bv, N, H, KD);
    be->rope_forward(a->q, B, T, nh, d, 0, theta); // positions restart at 0 in every block (D2)
    be->rope_forward(a->k, B, T, nkv, d, 0, theta);
    if (kind == BRANCH_CHECKPOINT)
        be->checkpoint_attention_forward(a->out, a->lse, a->q, a->k, a->v, B, T, nh, nkv, d, c->selection_window);
    else
        be->swa_attention_forward(a->out, a->lse, a->q, a->k, a->v, B, T, nh, nkv, d,
                                  model_attention_window(m, layer, T));
    be->linear_forward(out, a->out, p.wo, NULL, N, QD, H);
}

void attention_branch_backward(model *m, int layer, int kind, int first_role, const attn_acts *a, const void *x,
                               const void *dout, void *dx, int B, int T) {
    const scout_backend *be = m->be;
    const model_config *c = &m->cfg;
    model_grad_acts *g = &m->gacts;
    const int N = B * T, H = c->hidden_size, nh = c->n_heads, nkv = c->n_kv_heads, d = c->head_dim;
    const int QD = nh * d, KD = nkv * d;
    const float theta = (float)c->rope_theta;
    attn_params p = attn_params_of(m, layer, first_role);

    be->linear_backward(g->datt, p.go, NULL, dout, a->out, p.wo, m->ws, N, QD, H, SCOUT_DX_WRITE);
    if (kind == BRANCH_CHECKPOINT)
        be->checkpoint_attention_backward(g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v, a->out, a->lse, m->ws, B, T,
                                          nh, nkv, d, c->selection_window);
    else
        be->swa_attention_backward(g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v, a->out, a->lse, m->ws, B, T, nh,
                                   nkv, d, model_attention_window(m, layer, T));
    // The saved q, k carry RoPE; the projections' gradients need d(pre-RoPE q, k).
    be->rope_backward(g->dq, B, T, nh, d, 0, theta);
    be->rope_backward(g->dk, B, T, nkv, d, 0, theta);
    // x feeds three projections: dx = dq Wq + dk Wk + dv Wv, the last two added in place.
    be->linear_backward(dx, p.gq, p.gbq, g->dq, x, p.wq, m->ws, N, H, QD, SCOUT_DX_WRITE);
    be->linear_backward(dx, p.gk, p.gbk, g->dk, x, p.wk, m->ws, N, H, KD, SCOUT_DX_ADD);
    be->linear_backward(dx, p.gv, p.gbv, g->dv, x, p.wv, m->ws, N, H, KD, SCOUT_DX_ADD);
}
