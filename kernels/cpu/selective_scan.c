// selective_scan.c: Mamba-1 selective scan (spec §7.2 steps 4-8), fp32 state, optional SiLU gate.
//
// One (batch, channel) pair at a time, time walked in order, the N states of the channel on the stack: the
// recurrence is sequential in t, and each channel's N-vector is the unit that vectorises. What does not
// depend on the state (delta = softplus(dt), the SiLU gate and their derivatives) is computed for a chunk
// of SCAN_TCHUNK time steps at once, in loops that vectorise (fast_expf_ / fast_log1pf_, no libm calls);
// the loops over n are kept free of calls and of running sums (per-n terms, summed afterwards by dot_ /
// sum_ in lanes). Every value depends only on the inputs and the shapes (deterministic).
#include <math.h>
#include <string.h>

#include "cpu_math.h"
#include "ops.h"

#define SCAN_TCHUNK 64

// The bodies are instantiated with N a compile-time constant for the usual state sizes (mamba-ssm's default
// 16, and 8), so that the short loops over n compile to straight vector code without remainder loops.
#define SCAN_INLINE static inline __attribute__((always_inline))
#define SCAN_DISPATCH_N(N, BODY)                                                                                 \
    do {                                                                                                       \
        switch (N) {                                                                                           \
        case 8: BODY(8); break;                                                                                \
        case 16: BODY(16); break;                                                                              \
        default: BODY(N); break;                                                                               \
        }                                                                                                      \
    } while (0)

// delta_t = softplus(dt_raw_t + dt_bias) and delta_t u_t of channel e for the nt timesteps of a chunk starting
// at row bt0: the forward and the backward's state recomputation form them identically.
static inline void chunk_deltas(float *delta, float *delta_u, const float *dt_raw, const float *u, float bias,
                                size_t bt0, int nt, int E, int e) {
    for (int i = 0; i < nt; i++) {
        size_t idx = (bt0 + i) * E + e;
        delta[i] = softplusf_(dt_raw[idx] + bias);
        delta_u[i] = delta[i] * u[idx];
    }
}

SCAN_INLINE void scan_forward_body(float *y, float *state_out, const float *u, const float *dt_raw,
                                   const float *dt_bias, const float *A_log, const float *ssm_B,
                                   const float *ssm_C, int bc_stride, const float *D, const float *z,
                                   int z_stride, int B, int T, int E, int N) {
    float A[SCOUT_SCAN_MAX_N], h[SCOUT_SCAN_MAX_N];
    float delta[SCAN_TCHUNK], delta_u[SCAN_TCHUNK], gate[SCAN_TCHUNK];
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++) {
            for (int n = 0; n < N; n++) {
                A[n] = -expf(A_log[(size_t)e * N + n]);
                h[n] = 0.0f;
            }
            for (int t0 = 0; t0 < T; t0 += SCAN_TCHUNK) {
                const int nt = T - t0 < SCAN_TCHUNK ? T - t0 : SCAN_TCHUNK;
                const size_t bt0 = (size_t)b * T + t0;
                chunk_deltas(delta, delta_u, dt_raw, u, dt_bias[e], bt0, nt, E, e);
                if (z)
                    for (int i = 0; i < nt; i++) gate[i] = siluf_(z[(bt0 + i) * z_stride + e]);
                for (int i = 0; i < nt; i++) {
                    size_t bt = bt0 + i, idx = bt * E + e;
                    const float *Bt = ssm_B + bt * bc_stride, *Ct = ssm_C + bt * bc_stride;
                    const float dl = delta[i], dlu = delta_u[i];
                    for (int n = 0; n < N; n++) h[n] = fast_expf_(dl * A[n]) * h[n] + dlu * Bt[n];
                    float out = dot_(Ct, h, N) + D[e] * u[idx];
                    if (z) out *= gate[i];
                    y[idx] = out;
                }
            }
            if (state_out) memcpy(state_out + ((size_t)b * E + e) * N, h, (size_t)N * sizeof(float));
        }
}

SCOUT_SIMD_CLONES
void selective_scan_forward_cpu(float *y, float *state_out, const float *u, const float *dt_raw,
                                const float *dt_bias, const float *A_log, const float *ssm_B,
                                const float *ssm_C, int bc_stride, const float *D, const float *z, int z_stride,
                                int B, int T, int E, int N) {
#define FWD(N_) scan_forward_body(y, state_out, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, \
                                  B, T, E, N_)
    SCAN_DISPATCH_N(N, FWD);
#undef FWD
}

// Backward of one channel, in reverse time, with g = dL/dh_t carried backwards through h_t = a_t h_{t-1} + ...:
//   g_t      = dyp_t C_t + a_{t+1} g_{t+1}          (dyp: gradient of the pre-gate output)
//   ddelta_t = sum_n g_t (h_{t-1} a_t A + B_t u_t)  dA += g_t h_{t-1} a_t delta_t
//   dB_t    += g_t delta_t u_t                       dC_t += dyp_t h_t
//   du_t     = dyp_t D + sum_n g_t delta_t B_t       dD += dyp_t u_t
// and dA_log = dA * A (A = -exp(A_log)), d(dt_raw) = ddelta softplus'(dt_raw + bias). The states h_t are
// recomputed into ws first (h_{t-1} cannot be recovered stably from h_t), with the forward's arithmetic, so
// they are the forward's states bit for bit.
SCAN_INLINE void scan_backward_body(float *du, float *ddt_raw, float *dssm_B, float *dssm_C, float *dz,
                                    float *dA_log, float *dD, float *ddt_bias, const float *dy, const float *u,
                                    const float *dt_raw, const float *dt_bias, const float *A_log,
                                    const float *ssm_B, const float *ssm_C, int bc_stride, const float *D,
                                    const float *z, int z_stride, void *ws, int B, int T, int E, int N) {
    float *hs = (float *)ws; // [T, N] states of the current channel
    float A[SCOUT_SCAN_MAX_N], g[SCOUT_SCAN_MAX_N], dA[SCOUT_SCAN_MAX_N], a[SCOUT_SCAN_MAX_N];
    float t_ddelta[SCOUT_SCAN_MAX_N], t_du[SCOUT_SCAN_MAX_N], zero[SCOUT_SCAN_MAX_N];
    float delta[SCAN_TCHUNK], delta_u[SCAN_TCHUNK], sp_grad[SCAN_TCHUNK], gate[SCAN_TCHUNK],
        gate_grad[SCAN_TCHUNK];
    for (int n = 0; n < N; n++) zero[n] = 0.0f;

    // dB and dC are sums over channels, written: clear their columns once, then every channel adds in.
    for (size_t bt = 0; bt < (size_t)B * T; bt++) {
        memset(dssm_B + bt * bc_stride, 0, (size_t)N * sizeof(float));
        memset(dssm_C + bt * bc_stride, 0, (size_t)N * sizeof(float));
    }
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++) {
            for (int n = 0; n < N; n++) {
                A[n] = -expf(A_log[(size_t)e * N + n]);
                g[n] = 0.0f;
                dA[n] = 0.0f;
            }
            // Recompute the forward states of this channel (h_{-1} = 0, as in the forward).
            for (int t0 = 0; t0 < T; t0 += SCAN_TCHUNK) {
                const int nt = T - t0 < SCAN_TCHUNK ? T - t0 : SCAN_TCHUNK;
                const size_t bt0 = (size_t)b * T + t0;
                chunk_deltas(delta, delta_u, dt_raw, u, dt_bias[e], bt0, nt, E, e);
                for (int i = 0; i < nt; i++) {
                    const int t = t0 + i;
                    const float *Bt = ssm_B + (bt0 + i) * bc_stride;
                    const float *hprev = t > 0 ? hs + (size_t)(t - 1) * N : zero;
                    float *ht = hs + (size_t)t * N;
                    const float dl = delta[i], dlu = delta_u[i];
                    for (int n = 0; n < N; n++) ht[n] = fast_expf_(dl * A[n]) * hprev[n] + dlu * Bt[n];
                }
            }
            float dD_e = 0.0f, ddt_bias_e = 0.0f;
            // Reverse time, chunk by chunk from the end (each chunk walked backwards).
            for (int t0 = ((T - 1) / SCAN_TCHUNK) * SCAN_TCHUNK; t0 >= 0; t0 -= SCAN_TCHUNK) {
                const int nt = T - t0 < SCAN_TCHUNK ? T - t0 : SCAN_TCHUNK;
                const size_t bt0 = (size_t)b * T + t0;
                for (int i = 0; i < nt; i++) {
                    float x = dt_raw[(bt0 + i) * E + e] + dt_bias[e];
                    delta[i] = softplusf_(x);
                    sp_grad[i] = softplus_gradf_(x);
                }
                if (z)
                    for (int i = 0; i < nt; i++) {
                        float zt = z[(bt0 + i) * z_stride + e];
                        gate[i] = siluf_(zt);
                        gate_grad[i] = silu_gradf_(zt);
                    }
                for (int i = nt - 1; i >= 0; i--) {
                    const int t = t0 + i;
                    size_t bt = bt0 + i, idx = bt * E + e;
                    const float *Bt = ssm_B + bt * bc_stride, *Ct = ssm_C + bt * bc_stride;
                    float *dBt = dssm_B + bt * bc_stride, *dCt = dssm_C + bt * bc_stride;
                    const float *ht = hs + (size_t)t * N, *hprev = t > 0 ? hs + (size_t)(t - 1) * N : zero;
                    const float dl = delta[i], ut = u[idx];

                    float dyp = dy[idx];
                    if (z) { // y = ypre * silu(z): the pre-gate output (as the forward forms it) is needed for dz
                        float ypre = dot_(Ct, ht, N) + D[e] * ut;
                        dz[bt * z_stride + e] = dyp * ypre * gate_grad[i];
                        dyp *= gate[i];
                    }
                    dD_e += dyp * ut;
                    for (int n = 0; n < N; n++) a[n] = fast_expf_(dl * A[n]);
                    for (int n = 0; n < N; n++) {
                        float gn = g[n] + dyp * Ct[n], hp = hprev[n];
                        dCt[n] += dyp * ht[n];
                        t_ddelta[n] = gn * (hp * a[n] * A[n] + Bt[n] * ut);
                        dA[n] += gn * hp * a[n] * dl;
                        dBt[n] += gn * dl * ut;
                        t_du[n] = gn * dl * Bt[n];
                        g[n] = gn * a[n]; // now a_t g_t, the part of dL/dh_{t-1} that flows through the recurrence
                    }
                    du[idx] = dyp * D[e] + sum_(t_du, N);
                    float dx = sum_(t_ddelta, N) * sp_grad[i];
                    ddt_raw[idx] = dx;
                    ddt_bias_e += dx;
                }
            }
            for (int n = 0; n < N; n++) dA_log[(size_t)e * N + n] += dA[n] * A[n];
            dD[e] += dD_e;
            ddt_bias[e] += ddt_bias_e;
        }
}

SCOUT_SIMD_CLONES
void selective_scan_backward_cpu(float *du, float *ddt_raw, float *dssm_B, float *dssm_C, float *dz,
                                 float *dA_log, float *dD, float *ddt_bias, const float *dy, const float *u,
                                 const float *dt_raw, const float *dt_bias, const float *A_log,
                                 const float *ssm_B, const float *ssm_C, int bc_stride, const float *D,
                                 const float *z, int z_stride, void *ws, int B, int T, int E, int N) {
#define BWD(N_) scan_backward_body(du, ddt_raw, dssm_B, dssm_C, dz, dA_log, dD, ddt_bias, dy, u, dt_raw, dt_bias, \
                                   A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, ws, B, T, E, N_)
    SCAN_DISPATCH_N(N, BWD);
#undef BWD
}

// One channel's T states, reused channel after channel.
size_t selective_scan_backward_workspace_size_cpu(int B, int T, int E, int N) {
    (void)B, (void)E;
    return (size_t)T * N * sizeof(float);
}
