// model_mamba.c: the Mamba-1 mixer branch (spec §7.2), as the reference trains it (unfused path):
//
//   xz = in_proj(x)                        [N, 2E]: x part = columns [0, E), gate z = [E, 2E)
//   conv = conv1d(xz[:, :E]) + bias        causal depthwise, kernel k
//   u = SiLU(conv)                         [N, E]
//   xdbl = x_proj(u)                       [N, R+2S] = [dt (R) | B (S) | C (S)]
//   dt_raw = dt_proj.weight . xdbl[:, :R]  [N, E]; the scan adds dt_proj.bias and applies softplus
//   y = scan(u, dt_raw, A_log, B, C, D) * SiLU(z)
//   out = out_proj(y)                      [N, H]
//
// The conv and the scan read x, z, B and C in place out of xz and xdbl through row strides; only the dt
// columns are copied out, because dt_proj is a plain product that wants a contiguous input.
#include "log.h"
#include "model_internal.h"

typedef struct mamba_params {
    const void *w_in;     // [2E, H]
    const void *conv_w;   // [E, k]
    const void *conv_b;   // [E]
    const void *w_x;      // [R+2S, E]
    const void *w_dt;     // [E, R]
    const float *dt_bias; // [E] fp32 (master)
    const float *A_log;   // [E, S] fp32 (master)
    const float *D;       // [E] fp32 (master)
    const void *w_out;    // [H, E]
} mamba_params;

static mamba_params mamba_params_of(const model *m, int layer) {
    mamba_params p = {
        .w_in = model_w(m, layer, PR_MAMBA_IN),     .conv_w = model_w(m, layer, PR_MAMBA_CONV_W),
        .conv_b = model_w(m, layer, PR_MAMBA_CONV_B), .w_x = model_w(m, layer, PR_MAMBA_X),
        .w_dt = model_w(m, layer, PR_MAMBA_DT_W),   .dt_bias = model_w32(m, layer, PR_MAMBA_DT_B),
        .A_log = model_w32(m, layer, PR_MAMBA_A_LOG), .D = model_w32(m, layer, PR_MAMBA_D),
        .w_out = model_w(m, layer, PR_MAMBA_OUT),
    };
    if (!p.w_in || !p.conv_w || !p.w_x || !p.w_dt || !p.dt_bias || !p.A_log || !p.D || !p.w_out)
        die(SCOUT_EXIT_FAIL, "internal: layer %d has no Mamba mixer", layer);
    return p;
}

void mamba_branch_forward(model *m, int layer, mamba_acts *a, const void *x, const void *res, void *out, int B,
                          int T) {
    const scout_backend *be = m->be;
    const model_config *c = &m->cfg;
    const int N = B * T, H = c->hidden_size, E = c->mamba_inner, S = c->state_size, R = c->dt_rank;
    const int XD = R + 2 * S; // x_proj width
    const size_t as = be->act_size;
    mamba_params p = mamba_params_of(m, layer);

    be->linear_forward(a->xz, x, p.w_in, NULL, N, H, 2 * E);
    be->causal_conv1d_forward(a->conv, a->xz, 2 * E, p.conv_w, p.conv_b, B, T, E, c->conv_kernel);
    be->silu_forward(a->u, a->conv, (size_t)N * E);
    be->linear_forward(a->xdbl, a->u, p.w_x, NULL, N, E, XD);
    be->copy_rows(a->dt_in, R, a->xdbl, XD, N, R);
    be->linear_forward(a->dt_raw, a->dt_in, p.w_dt, NULL, N, R, E); // bias added by the scan (delta_bias)
    const char *xdbl = a->xdbl, *xz = a->xz;
    be->selective_scan_forward(a->y, NULL, a->u, a->dt_raw, p.dt_bias, p.A_log, xdbl + (size_t)R * as,
                               xdbl + (size_t)(R + S) * as, XD, p.D, xz + (size_t)E * as, 2 * E, B, T, E, S);
    be->linear_residual_forward(out, a->y, p.w_out, res, N, E, H);
}

void mamba_branch_backward(model *m, int layer, const mamba_acts *a, const void *x, const void *dout, void *dx,
                           int B, int T) {
    const scout_backend *be = m->be;
    const model_config *c = &m->cfg;
    model_grad_acts *g = &m->gacts;
    const int N = B * T, H = c->hidden_size, E = c->mamba_inner, S = c->state_size, R = c->dt_rank;
    const int XD = R + 2 * S;
    const size_t as = be->act_size;
    mamba_params p = mamba_params_of(m, layer);
    const char *xdbl = a->xdbl, *xz = a->xz;
    char *dxdbl = g->dxdbl, *dxz = g->dxz;

    be->linear_backward(g->dy, model_g(m, layer, PR_MAMBA_OUT), NULL, dout, a->y, p.w_out, m->ws, N, E, H,
                        SCOUT_DX_WRITE);
    // The scan writes du, d dt_raw, dB / dC into columns [R, R+2S) of dxdbl and dz into columns [E, 2E) of dxz.
    be->selective_scan_backward(g->du, g->ddt, dxdbl + (size_t)R * as, dxdbl + (size_t)(R + S) * as,
                                dxz + (size_t)E * as, model_g(m, layer, PR_MAMBA_A_LOG),
                                model_g(m, layer, PR_MAMBA_D), model_g(m, layer, PR_MAMBA_DT_B), g->dy, a->u,
                                a->dt_raw, p.dt_bias, p.A_log, xdbl + (size_t)R * as, xdbl + (size_t)(R + S) * as,
                                XD, p.D, xz + (size_t)E * as, 2 * E, m->ws, B, T, E, S);
    // dt_proj, then its input gradient back into the dt columns [0, R) of dxdbl.
    be->linear_backward(g->ddt_in, model_g(m, layer, PR_MAMBA_DT_W), NULL, g->ddt, a->dt_in, p.w_dt, m->ws, N, R, E,
                        SCOUT_DX_WRITE);
    be->copy_rows(g->dxdbl, XD, g->ddt_in, R, N, R);
    // u feeds both the scan and x_proj: du = scan's du + x_proj's dx, added in place.
    be->linear_backward(g->du, model_g(m, layer, PR_MAMBA_X), NULL, g->dxdbl, a->u, p.w_x, m->ws, N, E, XD,
                        SCOUT_DX_ADD);
    be->silu_backward(g->dconv, g->du, a->conv, (size_t)N * E);
    // The conv writes dx into columns [0, E) of dxz; the scan filled [E, 2E) with dz above.
    be->causal_conv1d_backward(g->dxz, model_g(m, layer, PR_MAMBA_CONV_W), model_g(m, layer, PR_MAMBA_CONV_B),
                               g->dconv, a->xz, 2 * E, p.conv_w, m->ws, B, T, E, c->conv_kernel);
    be->linear_backward(dx, model_g(m, layer, PR_MAMBA_IN), NULL, g->dxz, x, p.w_in, m->ws, N, H, 2 * E,
                        SCOUT_DX_WRITE);
}
