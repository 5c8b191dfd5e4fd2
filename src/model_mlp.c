// model_mlp.c: the SwiGLU MLP branch (§6.3): down_proj(silu(gate_proj(x)) * up_proj(x)), no biases.
//
// gate and up are two products into two [N, I] buffers (the swiglu op reads them with row stride I). One
// product by the stacked [2I, H] weight would need gate_proj and up_proj adjacent in the parameter
// buffer, which the 16-float alignment of params.h does not promise for every I*H; on a CPU the two
// products cost the same as one.
#include "log.h"
#include "model_internal.h"

void mlp_branch_forward(model *m, int layer, int first_role, mlp_acts *a, const void *x, void *out, int N) {
    const scout_backend *be = m->be;
    const int H = m->cfg.hidden_size, I = m->cfg.intermediate_size;
    const void *wg = model_w(m, layer, first_role), *wu = model_w(m, layer, first_role + 1);
    const void *wd = model_w(m, layer, first_role + 2);
    if (!wg || !wu || !wd) die(SCOUT_EXIT_FAIL, "internal: layer %d has no MLP at role %d", layer, first_role);

    be->linear_forward(a->gate, x, wg, NULL, N, H, I);
    be->linear_forward(a->up, x, wu, NULL, N, H, I);
    be->swiglu_forward(a->h, a->gate, a->up, I, N, I);
    be->linear_forward(out, a->h, wd, NULL, N, I, H);
}

void mlp_branch_backward(model *m, int layer, int first_role, const mlp_acts *a, const void *x, const void *dout,
                         void *dx, int N) {
    const scout_backend *be = m->be;
    model_grad_acts *g = &m->gacts;
    const int H = m->cfg.hidden_size, I = m->cfg.intermediate_size;
    const void *wg = model_w(m, layer, first_role), *wu = model_w(m, layer, first_role + 1);
    const void *wd = model_w(m, layer, first_role + 2);

    be->linear_backward(g->dh, model_g(m, layer, first_role + 2), NULL, dout, a->h, wd, m->ws, N, I, H,
                        SCOUT_DX_WRITE);
    be->swiglu_backward(g->dgate, g->dup, g->dh, a->gate, a->up, I, N, I);
    // x feeds gate_proj and up_proj: dx is the sum of both products' dx, the second added in place.
    be->linear_backward(dx, model_g(m, layer, first_role), NULL, g->dgate, x, wg, m->ws, N, H, I, SCOUT_DX_WRITE);
    be->linear_backward(dx, model_g(m, layer, first_role + 1), NULL, g->dup, x, wu, m->ws, N, H, I, SCOUT_DX_ADD);
}
