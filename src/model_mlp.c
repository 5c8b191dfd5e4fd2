// model_mlp.c: the SwiGLU MLP branch (§6.3): down_proj(silu(gate_proj(x)) * up_proj(x)), no biases.
//
// gate_proj and up_proj are stacked in the parameter buffer (params.h), so they are one product by the
// [2I, H] matrix into one [N, 2I] buffer whose row is [gate (I) | up (I)]; the swiglu op reads the halves
// with row stride 2I. One product of 2I columns instead of two of I runs nearer the GPU's peak, and the
// backward's dx is one product over 2I instead of two with an accumulation pass between them.
#include "log.h"
#include "model_internal.h"

void mlp_branch_forward(model *m, int layer, int first_role, mlp_acts *a, const void *x, const void *res, void *out,
                        int N) {
    const scout_backend *be = m->be;
    const int H = m->cfg.hidden_size, I = m->cfg.intermediate_size;
    const void *wgu = model_stacked_w(m, layer, first_role, 2), *wd = model_w(m, layer, first_role + 2);
    if (!wgu || !wd) die(SCOUT_EXIT_FAIL, "internal: layer %d has no MLP at role %d", layer, first_role);

    be->linear_forward(a->gate, x, wgu, NULL, N, H, 2 * I); // a->up = a->gate + I: the right half of each row
    be->swiglu_forward(a->h, a->gate, a->up, 2 * I, N, I);
    be->linear_residual_forward(out, a->h, wd, res, N, I, H);
}

void mlp_branch_backward(model *m, int layer, int first_role, const mlp_acts *a, const void *x, const void *dout,
                         void *dx, int N) {
    const scout_backend *be = m->be;
    model_grad_acts *g = &m->gacts;
    const int H = m->cfg.hidden_size, I = m->cfg.intermediate_size;
    const void *wgu = model_stacked_w(m, layer, first_role, 2), *wd = model_w(m, layer, first_role + 2);

    be->linear_backward(g->dh, model_g(m, layer, first_role + 2), NULL, dout, a->h, wd, m->ws, N, I, H,
                        SCOUT_DX_WRITE);
    be->swiglu_backward(g->dgate, g->dup, g->dh, a->gate, a->up, 2 * I, N, I);
    // The stacked weight's gradient is the stacked [gate_proj; up_proj] gradient (same layout as the weights).
    be->linear_backward(dx, model_g(m, layer, first_role), NULL, g->dgate, x, wgu, m->ws, N, H, 2 * I,
                        SCOUT_DX_WRITE);
}
