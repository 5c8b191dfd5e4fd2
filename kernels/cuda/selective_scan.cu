// selective_scan.cu: Mamba-1 selective scan (spec §7.2 steps 4-8), forward and backward, fp32 state,
// deterministic.
//
// The recurrence h_t = a_t h_{t-1} + b_t (a_t = exp(delta_t A), b_t = delta_t u_t B_t) is linear, so it is
// computed as a parallel scan over time with the associative operator (a1, b1) o (a0, b0) = (a1 a0, a1 b0 + b1),
// the design of mamba-ssm's selective_scan (anchors §4.1-4.2), adapted to our channel-last [B, T, E] layout:
//
// - A block owns kChannels = 16 channels of one sequence (a warp per channel) and walks the sequence in chunks
//   of L = 32 * kItems timesteps: lane l of a warp holds timesteps l*kItems .. l*kItems + kItems - 1 of the
//   chunk, combines them sequentially, and a 5-step warp shuffle scan joins the 32 lanes. The state entering a
//   chunk is carried from the previous chunk in shared memory (per channel and state index n), so one pass
//   over the sequence does the whole scan with no workspace (the forward op has none).
// - Channel-last rows are read cooperatively: 16 channels x 2 bytes = one 32-byte sector per timestep, then
//   transposed through shared memory into per-channel rows in which lane l's items sit at k * 32 + l (bank
//   conflict free reads); B_t and C_t (shared by all channels) are staged the same way, as [N][L].
// - The state index n is the outer loop inside a chunk, as in mamba-ssm: per n the lane keeps only kItems
//   values, so N can be anything up to SCOUT_SCAN_MAX_N (256) with a smaller chunk for large N.
//
// The backward recomputes instead of storing states: a first pass (the forward kernel in "states" mode) saves
// only the state at every chunk boundary, [B, E, T/L, N] fp32 in the workspace; then the backward kernel walks
// the chunks in reverse. Per chunk and n it recomputes h over the chunk (forward scan from the saved boundary
// state) and the adjoint g_t = dyp_t C_t + a_{t+1} g_{t+1} (a reverse scan with the same operator, carried
// across chunks as a_{t0} g_{t0}), and forms every gradient of spec/CPU reference from h_{t-1}, h_t, g_t.
// dB_t / dC_t are sums over all E channels: the 16 warps of a block are summed in shared memory in channel
// order, and the ceil(E/16) channel groups are partials [E/16, B, T, 2N] in the workspace, summed in order by a
// last kernel; dA_log, dD and dt_bias sums over time stay in the block and over the batch go through per-batch
// partials. No float atomics anywhere, so results are bit-identical run to run.
#include "cuda/common.cuh"
#include "ops.h" // SCOUT_SCAN_MAX_N

static const int kChannels = 16;                // channels (warps) per block
static const int kFwdNG = 4;                    // state indices per unrolled step, forward
static const int kBwdNG = 2;                    // and backward (more registers per index there)
static const float kLog2e = 1.4426950408889634f; // exp(x) = exp2(x log2 e): A is pre-scaled once per (chunk, n)

// ----------------------------------------------------------------------------------------------------------
// shared helpers

// Position of chunk timestep t in a transposed row: lane t / kItems, item t % kItems, stored at item * 32 + lane.
template <int kItems> __device__ __forceinline__ int tile_pos(int t) { return (t % kItems) * 32 + t / kItems; }

// Cooperative load of a [L, kChannels] slice of a channel-last tensor into per-channel rows (pitch P).
// Timesteps past T and channels past E read as 0.
template <int kItems>
__device__ __forceinline__ void load_channels(float *dst, const floatX *src, int stride, size_t row0, int t0, int T,
                                              int e0, int E) {
    constexpr int L = 32 * kItems, P = L + 1;
    for (int idx = threadIdx.x; idx < L * kChannels; idx += blockDim.x) {
        int t = idx / kChannels, c = idx % kChannels;
        float v = 0.0f;
        if (t0 + t < T && e0 + c < E) v = bf2f(src[(row0 + t0 + t) * stride + e0 + c]);
        dst[c * P + tile_pos<kItems>(t)] = v;
    }
}

// The same for the first N columns of B / C, into [N][P].
template <int kItems>
__device__ __forceinline__ void load_states(float *dst, const floatX *src, int stride, size_t row0, int t0, int T,
                                            int N) {
    constexpr int L = 32 * kItems, P = L + 1;
    for (int idx = threadIdx.x; idx < L * N; idx += blockDim.x) {
        int t = idx / N, n = idx % N;
        float v = 0.0f;
        if (t0 + t < T) v = bf2f(src[(row0 + t0 + t) * stride + n]);
        dst[n * P + tile_pos<kItems>(t)] = v;
    }
}

// Inverse of load_channels for an output tile.
template <int kItems>
__device__ __forceinline__ void store_channels(floatX *dst, int stride, const float *src, size_t row0, int t0, int T,
                                               int e0, int E) {
    constexpr int L = 32 * kItems, P = L + 1;
    for (int idx = threadIdx.x; idx < L * kChannels; idx += blockDim.x) {
        int t = idx / kChannels, c = idx % kChannels;
        if (t0 + t < T && e0 + c < E) dst[(row0 + t0 + t) * stride + e0 + c] = f2bf(src[c * P + tile_pos<kItems>(t)]);
    }
}

// Inclusive scan over the warp's lanes of affine maps h -> pa h + pb (lane 0 first): on return lane l holds the
// composition of the maps of lanes 0..l.
__device__ __forceinline__ void warp_scan_forward(float &pa, float &pb) {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
        float ap = __shfl_up_sync(0xffffffffu, pa, off), bp = __shfl_up_sync(0xffffffffu, pb, off);
        if (lane >= off) {
            pb = pa * bp + pb;
            pa = pa * ap;
        }
    }
}

// The mirror image for the adjoint, which runs from the last lane to the first: on return lane l holds the
// composition of the maps of lanes l..31 (g_first_of_lane = qb + qa * g_after_lane_31).
__device__ __forceinline__ void warp_scan_reverse(float &qa, float &qb) {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
        float ra = __shfl_down_sync(0xffffffffu, qa, off), rb = __shfl_down_sync(0xffffffffu, qb, off);
        if (lane + off < 32) {
            qb = qb + qa * rb;
            qa = qa * ra;
        }
    }
}

// ----------------------------------------------------------------------------------------------------------
// CUDA kernels

// Forward. Grid (ceil(E / kChannels), B), kChannels warps. kWriteY: compute y (the op); kSaveStates: write the
// state at the end of every chunk to chunk_states [B, E, n_chunks, N] (the backward's first pass, which needs
// no y). state_out: the final state [B, E, N], or NULL.
//
// The state index is walked kNG at a time in one unrolled, branch-free body: the kNG scans are independent, so
// their shuffle chains overlap instead of each waiting out the shuffle latency alone. Indices n >= N in the last
// group compute on zeros (a = 1, b = 0) and write nothing. The carried state is double-buffered by chunk parity
// (read s_h[chunk & 1], write the other), so no lane can overwrite a value another lane still has to read.
template <int kItems, bool kHasZ, bool kWriteY, bool kSaveStates>
__global__ void __launch_bounds__(kChannels * 32, 1)
    selective_scan_fwd_kernel(floatX *y, float *state_out, float *chunk_states, const floatX *u, const floatX *dt_raw,
                              const float *dt_bias, const float *A_log, const floatX *ssm_B, const floatX *ssm_C,
                              int bc_stride, const float *D, const floatX *z, int z_stride, int T, int E, int N) {
    constexpr int L = 32 * kItems, P = L + 1, kNG = kFwdNG;
    extern __shared__ float smem[];
    float *s_delta = smem;                                   // [kChannels][P] softplus(dt_raw + dt_bias)
    float *s_u = s_delta + kChannels * P;                    // [kChannels][P] u, then y
    float *s_z = s_u + kChannels * P;                        // [kChannels][P] z (kHasZ)
    float *s_B = s_z + (kHasZ ? kChannels * P : 0);          // [N][P]
    float *s_C = s_B + N * P;                                // [N][P] (kWriteY)
    float *s_A = s_C + (kWriteY ? N * P : 0);                // [kChannels][N] A = -exp(A_log), times log2(e)
    float *s_h = s_A + kChannels * N;                        // [2][kChannels][N] state carried across chunks

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int b = blockIdx.y, e0 = blockIdx.x * kChannels, e = e0 + warp;
    const bool active = e < E;
    const size_t row0 = (size_t)b * T;
    const int n_chunks = (T + L - 1) / L;
    const float Dv = active ? D[e] : 0.0f;

    for (int n = lane; n < N; n += 32) {
        s_A[warp * N + n] = active ? -expf(A_log[(size_t)e * N + n]) * kLog2e : 0.0f;
        s_h[warp * N + n] = 0.0f;
    }

    for (int chunk = 0; chunk < n_chunks; chunk++) {
        const int t0 = chunk * L;
        const float *h_in = s_h + (chunk & 1) * kChannels * N + warp * N;
        float *h_out = s_h + ((chunk + 1) & 1) * kChannels * N + warp * N;
        __syncthreads(); // the previous chunk is done with the tiles
        // delta = softplus(dt_raw + dt_bias) is formed while loading; padded timesteps get delta = 0, i.e. the
        // identity map (a = 1, b = 0), so they never change the state.
        for (int idx = threadIdx.x; idx < L * kChannels; idx += blockDim.x) {
            int t = idx / kChannels, c = idx % kChannels;
            float dv = 0.0f;
            if (t0 + t < T && e0 + c < E)
                dv = softplusf_(bf2f(dt_raw[(row0 + t0 + t) * E + e0 + c]) + dt_bias[e0 + c]);
            s_delta[c * P + tile_pos<kItems>(t)] = dv;
        }
        load_channels<kItems>(s_u, u, E, row0, t0, T, e0, E);
        if (kHasZ) load_channels<kItems>(s_z, z, z_stride, row0, t0, T, e0, E);
        load_states<kItems>(s_B, ssm_B, bc_stride, row0, t0, T, N);
        if (kWriteY) load_states<kItems>(s_C, ssm_C, bc_stride, row0, t0, T, N);
        __syncthreads();

        float delta[kItems], du[kItems], yv[kItems];
#pragma unroll
        for (int k = 0; k < kItems; k++) {
            const int p = warp * P + k * 32 + lane;
            float uu = s_u[p];
            delta[k] = s_delta[p];
            du[k] = delta[k] * uu;
            yv[k] = Dv * uu;
        }
        for (int n0 = 0; n0 < N; n0 += kNG) {
#pragma unroll
            for (int q = 0; q < kNG; q++) {
                const int n = n0 + q;
                const bool nv = n < N;
                const int nn = nv ? n : 0;
                const float A2 = nv ? s_A[warp * N + nn] : 0.0f;
                float a[kItems], bx[kItems];
                float pa = 1.0f, pb = 0.0f; // this lane's items as one map h -> pa h + pb
#pragma unroll
                for (int k = 0; k < kItems; k++) {
                    a[k] = exp2f(delta[k] * A2);
                    bx[k] = nv ? du[k] * s_B[nn * P + k * 32 + lane] : 0.0f;
                    pb = a[k] * pb + bx[k];
                    pa = a[k] * pa;
                }
                warp_scan_forward(pa, pb);
                const float h_carry = nv ? h_in[nn] : 0.0f;
                if (kWriteY) {
                    // State entering this lane's first item: the exclusive prefix applied to the carried state.
                    float ea = __shfl_up_sync(0xffffffffu, pa, 1), eb = __shfl_up_sync(0xffffffffu, pb, 1);
                    if (lane == 0) ea = 1.0f, eb = 0.0f;
                    float h = ea * h_carry + eb;
#pragma unroll
                    for (int k = 0; k < kItems; k++) {
                        h = a[k] * h + bx[k];
                        yv[k] += (nv ? s_C[nn * P + k * 32 + lane] : 0.0f) * h;
                    }
                }
                const float h_end = __shfl_sync(0xffffffffu, pa * h_carry + pb, 31);
                if (lane == 0 && nv) {
                    h_out[n] = h_end;
                    if (kSaveStates && active) chunk_states[(((size_t)b * E + e) * n_chunks + chunk) * N + n] = h_end;
                }
            }
        }
        if (kWriteY) {
#pragma unroll
            for (int k = 0; k < kItems; k++) {
                const int p = warp * P + k * 32 + lane;
                float out = yv[k];
                if (kHasZ) out *= siluf_(s_z[p]);
                s_u[p] = out; // only this lane ever reads position p of this row
            }
            __syncthreads();
            store_channels<kItems>(y, E, s_u, row0, t0, T, e0, E);
        }
    }
    if (state_out && active) {
        __syncwarp(); // lane 0 wrote the last states
        const float *h_fin = s_h + (n_chunks & 1) * kChannels * N + warp * N;
        for (int n = lane; n < N; n += 32) state_out[((size_t)b * E + e) * N + n] = h_fin[n];
    }
}

// Backward. Same grid. chunk_states from the states pass; writes du, ddt_raw, dz (E columns), the channel
// group's dB/dC partial dbc_partial[group, b, t, 0..2N) and the per-sequence parameter partials
// param_partial[b, e, 0..N+2) = (dA (before the chain rule through A_log), dD, d dt_bias).
//
// State indices go kNG at a time as in the forward. The channel sum of dB_t / dC_t for those kNG indices goes
// through shared memory once per group (one barrier pair per kNG indices) into the chunk's [2N][L] tile, which
// is written to the workspace in one coalesced pass per chunk.
template <int kItems, bool kHasZ>
__global__ void __launch_bounds__(kChannels * 32, 1)
    selective_scan_bwd_kernel(floatX *du_out, floatX *ddt_out, floatX *dz_out, float *dbc_partial,
                              float *param_partial, const float *chunk_states, const floatX *dy, const floatX *u,
                              const floatX *dt_raw, const float *dt_bias, const float *A_log, const floatX *ssm_B,
                              const floatX *ssm_C, int bc_stride, const float *D, const floatX *z, int z_stride,
                              int B, int T, int E, int N) {
    constexpr int L = 32 * kItems, P = L + 1, kNG = kBwdNG;
    extern __shared__ float smem[];
    float *s_x = smem;                              // [kChannels][P] dt_raw + dt_bias, then ddt_raw
    float *s_u = s_x + kChannels * P;               // [kChannels][P] u, then du
    float *s_dy = s_u + kChannels * P;              // [kChannels][P] dy
    float *s_z = s_dy + kChannels * P;              // [kChannels][P] z, then dz (kHasZ)
    float *s_B = s_z + (kHasZ ? kChannels * P : 0); // [N][P]
    float *s_C = s_B + N * P;                       // [N][P]
    float *s_red = s_C + N * P;                     // [2][kNG][kChannels][P] dB_t, dC_t per channel, kNG indices
    float *s_dbc = s_red + 2 * kNG * kChannels * P; // [2N][L + 1] the block's channel sums for the chunk
    float *s_A = s_dbc + 2 * N * (L + 1);           // [kChannels][N] A = -exp(A_log)
    float *s_g = s_A + kChannels * N;               // [2][kChannels][N] adjoint carry a_{t0} g_{t0}
    float *s_dA = s_g + 2 * kChannels * N;          // [kChannels][N] dA summed over the chunks so far

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int b = blockIdx.y, e0 = blockIdx.x * kChannels, e = e0 + warp;
    const bool active = e < E;
    const size_t row0 = (size_t)b * T;
    const int n_chunks = (T + L - 1) / L;
    const float Dv = active ? D[e] : 0.0f;
    float dD_acc = 0.0f, ddt_bias_acc = 0.0f;

    for (int n = lane; n < N; n += 32) {
        s_A[warp * N + n] = active ? -expf(A_log[(size_t)e * N + n]) : 0.0f;
        s_g[warp * N + n] = 0.0f;
        s_dA[warp * N + n] = 0.0f;
    }

    for (int chunk = n_chunks - 1; chunk >= 0; chunk--) {
        const int t0 = chunk * L, it = n_chunks - 1 - chunk;
        const float *g_in = s_g + (it & 1) * kChannels * N + warp * N;
        float *g_out = s_g + ((it + 1) & 1) * kChannels * N + warp * N;
        __syncthreads();
        for (int idx = threadIdx.x; idx < L * kChannels; idx += blockDim.x) {
            int t = idx / kChannels, c = idx % kChannels;
            float xv = 0.0f;
            if (t0 + t < T && e0 + c < E) xv = bf2f(dt_raw[(row0 + t0 + t) * E + e0 + c]) + dt_bias[e0 + c];
            s_x[c * P + tile_pos<kItems>(t)] = xv;
        }
        load_channels<kItems>(s_u, u, E, row0, t0, T, e0, E);
        load_channels<kItems>(s_dy, dy, E, row0, t0, T, e0, E);
        if (kHasZ) load_channels<kItems>(s_z, z, z_stride, row0, t0, T, e0, E);
        load_states<kItems>(s_B, ssm_B, bc_stride, row0, t0, T, N);
        load_states<kItems>(s_C, ssm_C, bc_stride, row0, t0, T, N);
        __syncthreads();

        float delta[kItems], uu[kItems], dyp[kItems], du[kItems], ddelta[kItems], ypre[kItems];
#pragma unroll
        for (int k = 0; k < kItems; k++) {
            const int p = warp * P + k * 32 + lane;
            const bool valid = t0 + lane * kItems + k < T;
            delta[k] = valid ? softplusf_(s_x[p]) : 0.0f; // padded timesteps: identity maps, zero gradients
            uu[k] = s_u[p];
            dyp[k] = s_dy[p];
            if (kHasZ) dyp[k] *= siluf_(s_z[p]); // gradient of the pre-gate output
            du[k] = dyp[k] * Dv;
            ddelta[k] = 0.0f;
            ypre[k] = Dv * uu[k];
        }
        for (int n0 = 0; n0 < N; n0 += kNG) {
#pragma unroll
            for (int q = 0; q < kNG; q++) {
                // Indices past N compute on zeros (B = C = 0, A = 0: identity maps, zero adjoint) and write nothing.
                const int n = n0 + q;
                const bool nv = n < N;
                const int nn = nv ? n : 0;
                const float A = nv ? s_A[warp * N + nn] : 0.0f, A2 = A * kLog2e;
                // Forward over the chunk from the saved boundary state.
                float a[kItems], bx[kItems], h[kItems];
                float pa = 1.0f, pb = 0.0f;
#pragma unroll
                for (int k = 0; k < kItems; k++) {
                    a[k] = exp2f(delta[k] * A2);
                    bx[k] = nv ? delta[k] * uu[k] * s_B[nn * P + k * 32 + lane] : 0.0f;
                    pb = a[k] * pb + bx[k];
                    pa = a[k] * pa;
                }
                warp_scan_forward(pa, pb);
                const float h_init =
                    chunk > 0 && active && nv ? chunk_states[(((size_t)b * E + e) * n_chunks + chunk - 1) * N + nn] : 0.0f;
                float ea = __shfl_up_sync(0xffffffffu, pa, 1), eb = __shfl_up_sync(0xffffffffu, pb, 1);
                if (lane == 0) ea = 1.0f, eb = 0.0f;
                const float h_start = ea * h_init + eb; // h_{t-1} of this lane's first item
                float hh = h_start;
#pragma unroll
                for (int k = 0; k < kItems; k++) {
                    hh = a[k] * hh + bx[k];
                    h[k] = hh;
                    if (kHasZ) ypre[k] += (nv ? s_C[nn * P + k * 32 + lane] : 0.0f) * hh;
                }

                // Adjoint: g_t = dyp_t C_t + alpha_t g_{t+1}, alpha_t = a_{t+1}. The chunk's last timestep takes
                // alpha = 1 and, as g_{t+1}, the carry a_{t1} g_{t1} from the chunk after it.
                const float a_next_lane = __shfl_down_sync(0xffffffffu, a[0], 1);
                float qa = 1.0f, qb = 0.0f; // this lane's items as one map g_after_lane -> g_first_item
#pragma unroll
                for (int k = kItems - 1; k >= 0; k--) {
                    float alpha = k < kItems - 1 ? a[k + 1] : (lane < 31 ? a_next_lane : 1.0f);
                    float beta = nv ? dyp[k] * s_C[nn * P + k * 32 + lane] : 0.0f;
                    qb = beta + alpha * qb;
                    qa = alpha * qa;
                }
                warp_scan_reverse(qa, qb);
                float fa = __shfl_down_sync(0xffffffffu, qa, 1), fb = __shfl_down_sync(0xffffffffu, qb, 1);
                if (lane == 31) fa = 1.0f, fb = 0.0f;
                const float g_carry = nv ? g_in[nn] : 0.0f;
                float g = fb + fa * g_carry; // g at the timestep after this lane's last item (g_carry for lane 31)
                float dA_acc = 0.0f;
#pragma unroll
                for (int k = kItems - 1; k >= 0; k--) {
                    const int p = k * 32 + lane;
                    float alpha = k < kItems - 1 ? a[k + 1] : (lane < 31 ? a_next_lane : 1.0f);
                    const float Bn = nv ? s_B[nn * P + p] : 0.0f, Cn = nv ? s_C[nn * P + p] : 0.0f;
                    g = dyp[k] * Cn + alpha * g; // g_t
                    const float hp = k > 0 ? h[k - 1] : h_start;
                    ddelta[k] += g * (hp * a[k] * A + Bn * uu[k]);
                    du[k] += g * delta[k] * Bn;
                    dA_acc += g * hp * a[k] * delta[k];
                    s_red[((0 * kNG + q) * kChannels + warp) * P + p] = g * delta[k] * uu[k]; // this channel's dB_t[n]
                    s_red[((1 * kNG + q) * kChannels + warp) * P + p] = dyp[k] * h[k];        // and dC_t[n]
                }
                // Carry for the chunk before: a_{t0} g_{t0}, from lane 0's first item.
                const float g_next = __shfl_sync(0xffffffffu, a[0] * g, 0);
                dA_acc = warp_reduce_sum(dA_acc);
                if (lane == 0 && nv) {
                    g_out[n] = g_next;
                    s_dA[warp * N + n] += dA_acc;
                }
            }
            __syncthreads(); // s_red complete for these kNG indices
            // Sum the block's channels in channel order (inactive channels contributed zeros), by tile position p
            // so that consecutive threads read consecutive words.
            for (int idx = threadIdx.x; idx < 2 * kNG * L; idx += blockDim.x) {
                const int p = idx % L, q = (idx / L) % kNG, which = idx / (kNG * L); // which 0: dB, 1: dC
                const int n = n0 + q;
                if (n >= N) continue;
                float sum = 0.0f;
                for (int c = 0; c < kChannels; c++) sum += s_red[((which * kNG + q) * kChannels + c) * P + p];
                const int t = (p % 32) * kItems + p / 32; // inverse of tile_pos
                s_dbc[(which * N + n) * (L + 1) + t] = sum;
            }
            __syncthreads(); // s_red is rewritten by the next group
        }
        // Per-timestep outputs of the chunk, back through the tiles.
#pragma unroll
        for (int k = 0; k < kItems; k++) {
            const int p = warp * P + k * 32 + lane;
            const bool valid = t0 + lane * kItems + k < T;
            const float x = s_x[p];
            const float ddt = valid ? ddelta[k] * softplus_gradf_(x) : 0.0f;
            if (kHasZ) s_z[p] = s_dy[p] * ypre[k] * silu_gradf_(s_z[p]);
            s_x[p] = ddt;
            s_u[p] = du[k];
            dD_acc += dyp[k] * uu[k];
            ddt_bias_acc += ddt;
        }
        __syncthreads();
        store_channels<kItems>(ddt_out, E, s_x, row0, t0, T, e0, E);
        store_channels<kItems>(du_out, E, s_u, row0, t0, T, e0, E);
        if (kHasZ) store_channels<kItems>(dz_out, z_stride, s_z, row0, t0, T, e0, E);
        // The chunk's rows of this group's dB/dC partial are contiguous: one coalesced pass.
        float *dst = dbc_partial + (((size_t)blockIdx.x * B + b) * T + t0) * (2 * N);
        const int rows = min(L, T - t0);
        for (int idx = threadIdx.x; idx < rows * 2 * N; idx += blockDim.x) {
            const int t = idx / (2 * N), j = idx % (2 * N);
            dst[idx] = s_dbc[j * (L + 1) + t];
        }
    }
    dD_acc = warp_reduce_sum(dD_acc);
    ddt_bias_acc = warp_reduce_sum(ddt_bias_acc);
    __syncwarp();
    if (active) {
        float *pp = param_partial + ((size_t)b * E + e) * (N + 2);
        for (int n = lane; n < N; n += 32) pp[n] = s_dA[warp * N + n];
        if (lane == 0) pp[N] = dD_acc, pp[N + 1] = ddt_bias_acc;
    }
}

// dB / dC: sum of the channel-group partials in group order, written as bf16 into the strided outputs.
__global__ void scan_dbc_reduce_kernel(floatX *dssm_B, floatX *dssm_C, int bc_stride, const float *dbc_partial,
                                       int n_groups, int B, int T, int N) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t total = (size_t)B * T * 2 * N;
    if (idx >= total) return;
    const int j = (int)(idx % (2 * N));
    const size_t bt = idx / (2 * N);
    float s = 0.0f;
    for (int g = 0; g < n_groups; g++) s += dbc_partial[(size_t)g * total + idx];
    if (j < N) dssm_B[bt * bc_stride + j] = f2bf(s);
    else dssm_C[bt * bc_stride + j - N] = f2bf(s);
}

// dA_log[e, n] += sum_b dA_b[e, n] * A[e, n] (A = -exp(A_log): the chain rule), dD[e] and ddt_bias[e] += sum_b,
// in batch order, as the CPU reference adds them sequence by sequence.
__global__ void scan_param_reduce_kernel(float *dA_log, float *dD, float *ddt_bias, const float *A_log,
                                         const float *param_partial, int B, int E, int N) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= E * (N + 2)) return;
    const int e = idx / (N + 2), j = idx % (N + 2);
    if (j < N) {
        const float A = -expf(A_log[(size_t)e * N + j]);
        float acc = dA_log[(size_t)e * N + j];
        for (int b = 0; b < B; b++) acc += param_partial[((size_t)b * E + e) * (N + 2) + j] * A;
        dA_log[(size_t)e * N + j] = acc;
    } else {
        float *dst = j == N ? dD + e : ddt_bias + e;
        float acc = *dst;
        for (int b = 0; b < B; b++) acc += param_partial[((size_t)b * E + e) * (N + 2) + j];
        *dst = acc;
    }
}

// ----------------------------------------------------------------------------------------------------------
// kernel launchers

// Timesteps per lane: as many as keep the staged B/C tiles (which grow with N) to about 100 KB of shared
// memory, at most 4 (more items per lane amortise the scan's shuffles but cost registers).
static int scan_items(int N) {
    if (N <= 48) return 4;
    if (N <= 96) return 2;
    return 1;
}

static size_t fwd_smem_bytes(int items, bool has_z, bool write_y, int N) {
    size_t P = 32 * items + 1;
    return ((2 + (has_z ? 1 : 0)) * kChannels * P + (write_y ? 2 : 1) * (size_t)N * P + 3 * (size_t)kChannels * N) *
           sizeof(float);
}
static size_t bwd_smem_bytes(int items, bool has_z, int N) {
    size_t L = 32 * items, P = L + 1;
    return ((3 + (has_z ? 1 : 0)) * kChannels * P + 2 * (size_t)N * P + 2 * kBwdNG * kChannels * P +
            2 * (size_t)N * (L + 1) + 4 * (size_t)kChannels * N) *
           sizeof(float);
}

template <int kItems, bool kHasZ, bool kWriteY, bool kSaveStates>
static void launch_fwd(floatX *y, float *state_out, float *chunk_states, const void *u, const void *dt_raw,
                       const float *dt_bias, const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride,
                       const float *D, const void *z, int z_stride, int B, int T, int E, int N, cudaStream_t stream) {
    size_t smem = fwd_smem_bytes(kItems, kHasZ, kWriteY, N);
    auto kernel = selective_scan_fwd_kernel<kItems, kHasZ, kWriteY, kSaveStates>;
    cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid(ceil_div(E, kChannels), B);
    kernel<<<grid, kChannels * 32, smem, stream>>>(y, state_out, chunk_states, (const floatX *)u, (const floatX *)dt_raw,
                                                   dt_bias, A_log, (const floatX *)ssm_B, (const floatX *)ssm_C,
                                                   bc_stride, D, (const floatX *)z, z_stride, T, E, N);
    cudaCheck(cudaGetLastError());
}

// Dispatch on the run-time item count (and z) to the compile-time kernels.
template <bool kWriteY, bool kSaveStates>
static void scan_forward_dispatch(floatX *y, float *state_out, float *chunk_states, const void *u, const void *dt_raw,
                                  const float *dt_bias, const float *A_log, const void *ssm_B, const void *ssm_C,
                                  int bc_stride, const float *D, const void *z, int z_stride, int B, int T, int E,
                                  int N, cudaStream_t stream) {
    const int items = scan_items(N);
    const bool has_z = z != NULL;
#define SCAN_FWD(I, Z)                                                                                            \
    launch_fwd<I, Z, kWriteY, kSaveStates>(y, state_out, chunk_states, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C,   \
                                           bc_stride, D, z, z_stride, B, T, E, N, stream)
    if (items == 4) has_z ? SCAN_FWD(4, true) : SCAN_FWD(4, false);
    else if (items == 2) has_z ? SCAN_FWD(2, true) : SCAN_FWD(2, false);
    else has_z ? SCAN_FWD(1, true) : SCAN_FWD(1, false);
#undef SCAN_FWD
}

static void check_scan_shape(int B, int E, int N) {
    scout_require(N >= 1 && N <= SCOUT_SCAN_MAX_N, "selective_scan: N = %d outside 1..%d", N, SCOUT_SCAN_MAX_N);
    scout_require(B <= 65535, "selective_scan: batch %d over the grid limit", B);
    (void)E;
}

extern "C" void selective_scan_forward_cuda(void *y, float *state_out, const void *u, const void *dt_raw,
                                            const float *dt_bias, const float *A_log, const void *ssm_B,
                                            const void *ssm_C, int bc_stride, const float *D, const void *z,
                                            int z_stride, int B, int T, int E, int N, cudaStream_t stream) {
    if (B <= 0 || E <= 0) return;
    check_scan_shape(B, E, N);
    if (T <= 0) { // no timesteps: the final state is the initial one
        if (state_out) cudaCheck(cudaMemsetAsync(state_out, 0, (size_t)B * E * N * sizeof(float), stream));
        return;
    }
    scan_forward_dispatch<true, false>((floatX *)y, state_out, NULL, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C,
                                       bc_stride, D, z, z_stride, B, T, E, N, stream);
}

// Workspace layout, each part 256-byte aligned: chunk-boundary states [B, E, n_chunks, N]; dB/dC partials
// [ceil(E/16), B, T, 2N]; parameter partials [B, E, N + 2] (all fp32).
static size_t align256(size_t x) { return (x + 255) / 256 * 256; }
static size_t states_bytes(int B, int T, int E, int N) {
    int L = 32 * scan_items(N);
    return align256((size_t)B * E * ceil_div(T, L) * N * sizeof(float));
}
static size_t dbc_bytes(int B, int T, int E, int N) {
    return align256((size_t)ceil_div(E, kChannels) * B * T * 2 * N * sizeof(float));
}
static size_t param_bytes(int B, int E, int N) { return align256((size_t)B * E * (N + 2) * sizeof(float)); }

extern "C" size_t selective_scan_backward_workspace_size_cuda(int B, int T, int E, int N) {
    if (B <= 0 || T <= 0 || E <= 0 || N <= 0) return 0;
    return states_bytes(B, T, E, N) + dbc_bytes(B, T, E, N) + param_bytes(B, E, N);
}

template <int kItems, bool kHasZ>
static void launch_bwd(floatX *du, floatX *ddt, floatX *dz, float *dbc, float *params, const float *states,
                       const void *dy, const void *u, const void *dt_raw, const float *dt_bias, const float *A_log,
                       const void *ssm_B, const void *ssm_C, int bc_stride, const float *D, const void *z,
                       int z_stride, int B, int T, int E, int N, cudaStream_t stream) {
    size_t smem = bwd_smem_bytes(kItems, kHasZ, N);
    auto kernel = selective_scan_bwd_kernel<kItems, kHasZ>;
    cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid(ceil_div(E, kChannels), B);
    kernel<<<grid, kChannels * 32, smem, stream>>>(du, ddt, dz, dbc, params, states, (const floatX *)dy, (const floatX *)u,
                                                   (const floatX *)dt_raw, dt_bias, A_log, (const floatX *)ssm_B,
                                                   (const floatX *)ssm_C, bc_stride, D, (const floatX *)z, z_stride, B,
                                                   T, E, N);
    cudaCheck(cudaGetLastError());
}

extern "C" void selective_scan_backward_cuda(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz,
                                             float *dA_log, float *dD, float *ddt_bias, const void *dy, const void *u,
                                             const void *dt_raw, const float *dt_bias, const float *A_log,
                                             const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                                             const void *z, int z_stride, void *ws, int B, int T, int E, int N,
                                             cudaStream_t stream) {
    if (B <= 0 || T <= 0 || E <= 0) return;
    check_scan_shape(B, E, N);
    char *p = (char *)ws;
    float *states = (float *)p;
    float *dbc = (float *)(p + states_bytes(B, T, E, N));
    float *params = (float *)(p + states_bytes(B, T, E, N) + dbc_bytes(B, T, E, N));

    // Pass 1: the state at every chunk boundary (no y).
    scan_forward_dispatch<false, true>(NULL, NULL, states, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, NULL,
                                       0, B, T, E, N, stream); // the state does not depend on the gate z
    // Pass 2: reverse over chunks, all per-timestep gradients and the partial sums.
    const int items = scan_items(N);
    const bool has_z = z != NULL;
#define SCAN_BWD(I, Z)                                                                                                 \
    launch_bwd<I, Z>((floatX *)du, (floatX *)ddt_raw, (floatX *)dz, dbc, params, states, dy, u, dt_raw, dt_bias, A_log, \
                     ssm_B, ssm_C, bc_stride, D, z, z_stride, B, T, E, N, stream)
    if (items == 4) has_z ? SCAN_BWD(4, true) : SCAN_BWD(4, false);
    else if (items == 2) has_z ? SCAN_BWD(2, true) : SCAN_BWD(2, false);
    else has_z ? SCAN_BWD(1, true) : SCAN_BWD(1, false);
#undef SCAN_BWD
    // Pass 3: the cross-channel and cross-batch sums, in fixed order.
    size_t total = (size_t)B * T * 2 * N;
    scan_dbc_reduce_kernel<<<(unsigned)ceil_div_sz(total, 256), 256, 0, stream>>>(
        (floatX *)dssm_B, (floatX *)dssm_C, bc_stride, dbc, ceil_div(E, kChannels), B, T, N);
    cudaCheck(cudaGetLastError());
    scan_param_reduce_kernel<<<ceil_div(E * (N + 2), 256), 256, 0, stream>>>(dA_log, dD, ddt_bias, A_log, params, B,
                                                                             E, N);
    cudaCheck(cudaGetLastError());
}
