// selective_scan.cu: Mamba-1 selective scan (spec §7.2 steps 4-8), forward and backward, fp32 state,
// deterministic (no float atomics: every sum has a fixed order, results are bit-identical run to run).
//
// h_t = a_t h_{t-1} + b_t with a_t = exp(delta_t A), b_t = delta_t u_t B_t is linear in h, so a stretch of
// timesteps is summarised by an affine map h_end = Q h_start + h_local, Q = prod a_t = exp(A sum delta_t): the
// time axis can be cut into pieces that are scanned independently and joined afterwards. Two designs, both on
// our channel-last [B, T, E] layout:
//
// The span path (N <= 16, every SCOUT model: N = 16 or 8), the fast one. Lanes are channels: a warp is 32
// consecutive channels (one 64-byte row segment per timestep and tensor, coalesced, no transposes) and B_t /
// C_t are the same for all its lanes (staged once per block in shared memory, read as broadcasts). A thread
// owns one channel and a span of kSpan = 128 consecutive timesteps and walks them sequentially with all N
// states in registers (N independent FMA chains, no shuffle scan at all); the spans are joined by a small
// sequential combine over the T / 128 span summaries:
//   forward:  1. summaries (local end state, sum of delta) per span; 2. combine: the true state entering every
//             span; 3. the span again from that state, writing y (and the final state).
//   backward: 1. summaries, with the adjoint's too (R below) and the local state at every 32-step segment end;
//             2. combine, states forward and adjoint carries backward over the spans; 3. per span, segments
//             last to first: phase A forward over the segment (states in registers: dC, dz and the state
//             entering each run of 8 steps, saved), phase B backward over the runs with the state index outer
//             (per run and n: a and h again from the saved state, then the adjoint and every gradient);
//             4. the fixed-order sums of the per-warp dB / dC partials and of the per-span dA, dD, dt-bias.
//   a_t is computed twice in the forward and three times in the backward: the only states kept are the span
//   and run boundaries (the MUFU exp is the scarcest unit, but each pass is a short sequential loop).
//
// The tile path (N > 16, kept as the general fallback up to SCOUT_SCAN_MAX_N = 256): the design of mamba-ssm
// (anchors §4.1-4.2). A block owns kChannels = 16 channels of one sequence (a warp per channel) and walks the
// sequence in chunks of 32 * kItems timesteps; lane l holds kItems consecutive timesteps, and a 5-step warp
// shuffle scan with (a1, b1) o (a0, b0) = (a1 a0, a1 b0 + b1) joins the lanes; the state is carried from chunk
// to chunk in shared memory. Channel rows are transposed through shared memory into per-channel rows. The
// state index is the outer loop in a chunk, so any N works (smaller chunks for large N). Its backward saves
// the state at every chunk boundary (a states pass of the forward kernel), walks the chunks in reverse,
// recomputes h per chunk, runs the adjoint as a reverse shuffle scan, and sums dB / dC over the block's
// channels in shared memory and over channel groups through workspace partials. Per (chunk, n) its ~100
// instructions per warp are two thirds scan and bookkeeping, which is why the span path exists.
#include "cuda/common.cuh"
#include "ops.h" // SCOUT_SCAN_MAX_N

static const float kLog2e = 1.4426950408889634f; // exp(x) = exp2(x log2 e): A is pre-scaled by log2 e
static size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// ==========================================================================================================
// The span path (N <= kSpanMaxN): lanes are channels, each thread walks a span of timesteps sequentially
// ==========================================================================================================

static const int kSpanMaxN = 16;                 // larger N takes the tile path below
static const int kSW = 4;                        // warps per block
static const int kSThreads = 32 * kSW;           // threads = channels per block
static const int kSpan = 128;                    // timesteps per thread (the unit of the cross-span combine)
static const int kSeg = 32;                      // backward: timesteps per staged segment
static const int kSegs = kSpan / kSeg;           // segments per span
static const int kRun = 8;                       // backward: timesteps per run (register arrays of phase B)
static const int kRuns = kSeg / kRun;            // runs per segment
// s_col row pitch: its reads are broadcasts, so no padding (the staging writes conflict instead, a few per
// segment; 4 more floats per row would take the backward kernel past 75 KB, 2 blocks per SM instead of 3).
static const int kColPitch = kSeg;
static const int kRedPitch = 36;                 // s_red row pitch: float4 reads of 8 lanes hit 8 bank quads
static const float kLn2 = 0.6931471805599453f;

// Everything the span kernels read, passed by value (one kernel parameter instead of fifteen).
struct ScanArgs {
    const floatX *u, *dt_raw, *ssm_B, *ssm_C, *z, *dy; // [B, T, E] / [B, T, bc_stride] / [B, T, z_stride]
    const float *dt_bias, *A_log, *D;                  // [E], [E, N], [E]
    int bc_stride, z_stride, B, T, E, N, n_spans;
};

// Span record rows: a record is [rows][E] fp32 per (b, span), channel fastest so a warp's accesses are one
// 128-byte line. Forward: rows [0, NT) the span's local end state h (from h = 0 at the span start), replaced
// by the combine kernel with the true state entering the span; row NT the span's sum of delta. Backward: for
// every segment i, rows i (NT+1) + [0, NT) the local state at the END of segment i (from 0 at the span start,
// cumulative over segments 0..i) and row i (NT+1) + NT the sum of delta over segments 0..i; group kSegs - 1
// is the span's (its h rows are replaced by the state entering the span); then rows kSegs (NT+1) + [0, NT)
// the span's local adjoint carry R (below), replaced by the carry entering the span from the right.
template <int NT> struct SpanRec {
    static constexpr int fwd_rows = NT + 1;
    static constexpr int bwd_rows = kSegs * (NT + 1) + NT;
    __host__ __device__ static constexpr int seg_h(int i) { return i * (NT + 1); } // + n
    __host__ __device__ static constexpr int seg_sd(int i) { return i * (NT + 1) + NT; }
    static constexpr int carry = kSegs * (NT + 1);                      // + n
};

__device__ __forceinline__ size_t rec_at(int b, int span, int n_spans, int rows, int row, int E, int e) {
    return ((size_t)(b * n_spans + span) * rows + row) * E + e;
}

// 1 / x, one MUFU.RCP (about 1 ulp): the IEEE division's slow path is a subroutine call that costs registers.
__device__ __forceinline__ float rcp_approx(float x) {
#ifdef SCOUT_CUDA_EMU
    return 1.0f / x;
#else
    float y;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
#endif
}

// The per-(t, channel) functions, computed once per timestep and pass (so 1/N of the per-state work each):
// libdevice's log1pf(expf(x)) is ~70 instructions, as much as 4 per state. These take ~25, same thresholds as
// common.cuh's. e = e^-|x| in (0, 1]: 2^(-|x| log2 e) with the rounding residual of the product (two FMAs,
// log2 e split into float hi + lo) put back to first order, else the error grows as |x| 2^-24; log1p(e) =
// 2 atanh(s), s = e / (2 + e) <= 1/3, as the odd series to s^13 (the first omitted term is below 2^-26 of the
// sum). Checked on the host against double over x in [-40, 25] with exact exp2 / reciprocal: softplus and
// sigmoid within 5 ulp (libm's float log1pf(expf) 2 ulp); the device's MUFU adds about 2.
__device__ __forceinline__ float exp_neg_abs(float x) {
    const float ax = -fabsf(x), t = ax * kLog2e;
    const float res = fmaf(ax, 1.925963e-8f, fmaf(ax, kLog2e, -t)); // ax log2 e - t, log2 e - kLog2e = 1.926e-8
    const float e0 = exp2_approx(t);
    return fmaf(e0, res * kLn2, e0); // 2^res = 1 + res ln 2 (|res| < 2^-17)
}
__device__ __forceinline__ float softplus_from(float x, float e) { // e = exp_neg_abs(x)
    const float s = e * rcp_approx(2.0f + e), s2 = s * s;
    float q = 1.0f / 13.0f;
    q = fmaf(q, s2, 1.0f / 11.0f);
    q = fmaf(q, s2, 1.0f / 9.0f);
    q = fmaf(q, s2, 1.0f / 7.0f);
    q = fmaf(q, s2, 1.0f / 5.0f);
    q = fmaf(q, s2, 1.0f / 3.0f);
    q = fmaf(q, s2, 1.0f);
    return x > SCOUT_SOFTPLUS_THRESHOLD ? x : fmaxf(x, 0.0f) + 2.0f * s * q;
}
__device__ __forceinline__ float sigmoid_from(float x, float e) { // e = exp_neg_abs(x)
    const float r = rcp_approx(1.0f + e);
    return x >= 0.0f ? r : e * r;
}
__device__ __forceinline__ float softplus_fast(float x) { return softplus_from(x, exp_neg_abs(x)); }
__device__ __forceinline__ float sigmoid_fast(float x) { return sigmoid_from(x, exp_neg_abs(x)); }
__device__ __forceinline__ float silu_fast(float x) { return x * sigmoid_fast(x); }
__device__ __forceinline__ float silu_grad_of(float x, float s) { return s * fmaf(x, 1.0f - s, 1.0f); } // s = sigmoid(x)

// A log2(e) for this thread's channel (A = -exp(A_log)); 0 for padded state indices and idle lanes, which
// makes a = 1: with B_t = C_t = 0 there (stage_bc) their state and adjoint stay 0 and contribute nothing.
template <int NT> __device__ __forceinline__ void load_A2(float (&A2)[NT], const ScanArgs &p, int e, bool active) {
#pragma unroll
    for (int n = 0; n < NT; n++) A2[n] = active && n < p.N ? -expf(p.A_log[(size_t)e * p.N + n]) * kLog2e : 0.0f;
}

// NT consecutive floats of shared memory (16-byte aligned) into registers, 4 per instruction.
template <int CNT> __device__ __forceinline__ void lds_vec(float (&dst)[CNT], const float *src) {
#pragma unroll
    for (int i = 0; i < CNT / 4; i++) {
        float4 v = reinterpret_cast<const float4 *>(src)[i];
        dst[4 * i] = v.x, dst[4 * i + 1] = v.y, dst[4 * i + 2] = v.z, dst[4 * i + 3] = v.w;
    }
}

// Stage B_t and C_t, t in [t0, t0 + L), of sequence b as fp32: s_row[t][0, NT) = B_t, s_row[t][NT, 2NT) = C_t
// (kC; else rows of NT), and with kCol also by state index, s_col[c][t] (pitch kColPitch). Zero past T and for
// n >= N, so padded timesteps and state indices compute on zeros. A block-wide loop: barriers are the caller's.
template <int NT, bool kC, bool kCol>
__device__ __forceinline__ void stage_bc(float *s_row, float *s_col, int L, const ScanArgs &p, int b, int t0) {
    constexpr int W = (kC ? 2 : 1) * NT;
    for (int idx = threadIdx.x; idx < L * W; idx += blockDim.x) {
        const int t = idx / W, c = idx % W, n = c % NT;
        float v = 0.0f;
        if (t0 + t < p.T && n < p.N) {
            const floatX *src = c < NT ? p.ssm_B : p.ssm_C;
            v = bf2f(src[((size_t)b * p.T + t0 + t) * p.bc_stride + n]);
        }
        s_row[t * W + c] = v;
        if (kCol) s_col[c * kColPitch + t] = v;
    }
}

// Sum over the 32 lanes (channels) of ROWS values per lane, which the lanes wrote to red[row][lane] (pitch
// kRedPitch) before a __syncwarp. Lane j adds the ROWS entries [q ROWS, (q+1) ROWS) of row j % ROWS, q = j /
// ROWS (float4 reads; the 8 lanes of a read phase hit 8 distinct bank quads), then xor shuffles join the 32 /
// ROWS parts of each row: every lane returns the full sum of row j % ROWS, always in the same order.
template <int ROWS> __device__ __forceinline__ float reduce_rows(const float *red, int lane) {
    static_assert(ROWS == 8 || ROWS == 16 || ROWS == 32, "reduce_rows: 8, 16 or 32 rows");
    const float4 *src = reinterpret_cast<const float4 *>(red + (lane % ROWS) * kRedPitch + (lane / ROWS) * ROWS);
    float part[ROWS / 4];
#pragma unroll
    for (int i = 0; i < ROWS / 4; i++) {
        float4 v = src[i];
        part[i] = (v.x + v.y) + (v.z + v.w);
    }
#pragma unroll
    for (int w = 1; w < ROWS / 4; w *= 2) // pairwise: a short dependency chain
#pragma unroll
        for (int i = 0; i + w < ROWS / 4; i += 2 * w) part[i] += part[i + w];
    float s = part[0];
#pragma unroll
    for (int off = ROWS; off < 32; off *= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
    return s;
}

// One thread's channel of the [B, T, E] inputs from row = b T + t0 on: timestep t0 + k is at [k E] (z: [k
// z_stride]), 32-bit offsets (k < kSpan), so the loops do no 64-bit index arithmetic.
struct ChanIn {
    const floatX *u, *dt, *dy, *z;
    int E, z_stride;
    __device__ __forceinline__ ChanIn(const ScanArgs &p, size_t row, int e) {
        const size_t i = row * p.E + e;
        u = p.u + i, dt = p.dt_raw + i;
        dy = p.dy ? p.dy + i : NULL, z = p.z ? p.z + row * p.z_stride + e : NULL;
        E = p.E, z_stride = p.z_stride;
    }
};

// The inputs of kL timesteps t .. t + kL - 1 (relative to the ChanIn's row), loaded together so that their
// latencies overlap; dt_raw + dt_bias as x. Timesteps at or past nt, and idle lanes, read as 0.
template <int kL, bool kDy, bool kHasZ> struct StepLoads {
    float x[kL], u[kL], dy[kL], z[kL];
    __device__ __forceinline__ void load(const ChanIn &c, int t, int nt, bool active, float dtb) {
#pragma unroll
        for (int k = 0; k < kL; k++) {
            const bool ok = active && t + k < nt;
            const int i = (t + k) * c.E;
            x[k] = ok ? bf2f(c.dt[i]) + dtb : 0.0f;
            u[k] = ok ? bf2f(c.u[i]) : 0.0f;
            dy[k] = kDy && ok ? bf2f(c.dy[i]) : 0.0f;
            z[k] = kHasZ && ok ? bf2f(c.z[(t + k) * c.z_stride]) : 0.0f;
        }
    }
};

// ---- pass 1: span summaries -------------------------------------------------------------------------------
// Grid (ceil(E / 128), n_spans, B), a thread per (b, span, channel) walking its kSpan timesteps in order with
// all NT states in registers (NT independent FMA chains), from h = 0:
//   h_n   <- a_n h_n + delta u B_n                     a_n = exp(delta A_n), the local end state
//   P_n   <- P_n a_n,  R_n += P_n dyp C_n  (kBwd)      R = a_{t0} g_{t0} if no gradient came from after the span
// so the span is summarised as the affine maps h_end = Q h_start + h_local and carry_out = Q carry_in + R with
// Q_n = prod a = exp(A_n sum delta), stored in the span record (SpanRec). The backward also stores the local
// state at every segment end (its kernel then restarts any segment with one exp per state).
template <int NT, bool kBwd, bool kHasZ>
__global__ void __launch_bounds__(kSThreads, 4) scan_span_summary_kernel(float *rec, const ScanArgs p) {
    // kL timesteps of inputs are loaded at once; the backward's 4 NT live accumulators leave room for 4 only.
    constexpr int W = (kBwd ? 2 : 1) * NT, kL = kBwd ? 4 : 8, rows = kBwd ? SpanRec<NT>::bwd_rows : SpanRec<NT>::fwd_rows;
    __shared__ __align__(16) float s_bc[kSpan * W]; // [kSpan][W] B_t (and C_t)
    const int e = blockIdx.x * kSThreads + threadIdx.x, span = blockIdx.y, b = blockIdx.z;
    const int t0 = span * kSpan, nt = min(kSpan, p.T - t0), ntr = (nt + kL - 1) / kL * kL;
    stage_bc<NT, kBwd, false>(s_bc, NULL, kSpan, p, b, t0);
    __syncthreads();
    const bool active = e < p.E;
    const float dtb = active ? p.dt_bias[e] : 0.0f;
    float A2[NT], h[NT], P[NT], R[NT];
    load_A2<NT>(A2, p, e, active);
#pragma unroll
    for (int n = 0; n < NT; n++) h[n] = 0.0f, P[n] = 1.0f, R[n] = 0.0f;
    float sd = 0.0f; // sum of delta from the span start
    const ChanIn c(p, (size_t)b * p.T + t0, e);
    float *rp = rec + rec_at(b, span, p.n_spans, rows, 0, p.E, e); // this thread's record column: row r at [r E]
    auto write_group = [&](int i) { // the local state at the end of segment i (backward)
        if (!active) return;
#pragma unroll
        for (int n = 0; n < NT; n++) rp[(SpanRec<NT>::seg_h(i) + n) * p.E] = h[n];
        rp[SpanRec<NT>::seg_sd(i) * p.E] = sd;
    };
    for (int t = 0; t < ntr; t += kL) {
        StepLoads<kL, kBwd, kBwd && kHasZ> in;
        in.load(c, t, nt, active, dtb);
#pragma unroll
        for (int k = 0; k < kL; k++) {
            const float dl = active && t + k < nt ? softplus_fast(in.x[k]) : 0.0f, du = dl * in.u[k];
            sd += dl;
            float Bv[NT];
            lds_vec<NT>(Bv, s_bc + (t + k) * W);
            float dyp = 0.0f, Cv[NT];
            if (kBwd) {
                lds_vec<NT>(Cv, s_bc + (t + k) * W + NT);
                dyp = kHasZ ? in.dy[k] * silu_fast(in.z[k]) : in.dy[k];
            }
#pragma unroll
            for (int n = 0; n < NT; n++) {
                const float a = exp2_approx(dl * A2[n]);
                h[n] = fmaf(a, h[n], du * Bv[n]);
                if (kBwd) {
                    P[n] *= a;
                    R[n] = fmaf(P[n], dyp * Cv[n], R[n]);
                }
            }
            if (kBwd && k == kL - 1 && (t + k) % kSeg == kSeg - 1) write_group((t + k) / kSeg);
        }
    }
    if (!active) return;
    if (kBwd) {
        for (int i = ntr / kSeg; i < kSegs; i++) write_group(i); // segments the loop did not finish
#pragma unroll
        for (int n = 0; n < NT; n++) rp[(SpanRec<NT>::carry + n) * p.E] = R[n];
    } else {
#pragma unroll
        for (int n = 0; n < NT; n++) rp[n * p.E] = h[n];
        rp[NT * p.E] = sd;
    }
}

// ---- pass 2: combine the spans in order ---------------------------------------------------------------------
// Grid (ceil(E / 128), NT (forward) or 2 NT (backward), B). Row j < NT: state n = j, forward over the spans,
// H <- Q H + h_local, writing the state entering each span over h_local. Row j >= NT: adjoint n = j - NT,
// backward over the spans, G <- Q G + R, writing the carry entering each span from the right over R. The
// records of 8 spans are loaded before the dependent chain runs over them (the chain is one FMA per span).
template <int NT, bool kBwd>
__global__ void __launch_bounds__(kSThreads) scan_span_combine_kernel(float *rec, const float *A_log, int E, int N,
                                                                      int n_spans) {
    constexpr int rows = kBwd ? SpanRec<NT>::bwd_rows : SpanRec<NT>::fwd_rows, kU = 8;
    constexpr int h_row = kBwd ? SpanRec<NT>::seg_h(kSegs - 1) : 0, sd_row = kBwd ? SpanRec<NT>::seg_sd(kSegs - 1) : NT;
    const int e = blockIdx.x * kSThreads + threadIdx.x, j = blockIdx.y, b = blockIdx.z;
    if (e >= E) return; // no collectives below
    const bool states = j < NT;
    const int n = states ? j : j - NT;
    const int row = states ? h_row + n : SpanRec<NT>::carry + n;
    const float A2 = n < N ? -expf(A_log[(size_t)e * N + n]) * kLog2e : 0.0f;
    float H = 0.0f;
    for (int s0 = 0; s0 < n_spans; s0 += kU) {
        float v[kU], sd[kU];
        size_t at[kU];
#pragma unroll
        for (int k = 0; k < kU; k++) {
            const int s = states ? s0 + k : n_spans - 1 - (s0 + k); // the adjoint runs from the last span
            const bool ok = s0 + k < n_spans;
            at[k] = rec_at(b, ok ? s : 0, n_spans, rows, row, E, e);
            v[k] = ok ? rec[at[k]] : 0.0f;
            sd[k] = ok ? rec[rec_at(b, s, n_spans, rows, sd_row, E, e)] : 0.0f;
        }
#pragma unroll
        for (int k = 0; k < kU; k++) {
            if (s0 + k >= n_spans) break;
            rec[at[k]] = H;
            H = fmaf(exp2_approx(A2 * sd[k]), H, v[k]);
        }
    }
}

// ---- pass 3 (forward): the output ---------------------------------------------------------------------------
// Same grid as pass 1. Each thread walks its span again from the true entering state (rec, or 0 when the
// sequence is one span and rec is NULL): y_t = (sum_n C_t,n h_t,n + D u_t) silu(z_t). The thread of the last
// span writes the final state.
template <int NT, bool kHasZ>
__global__ void __launch_bounds__(kSThreads, 4) scan_span_forward_kernel(floatX *y, float *state_out, const float *rec,
                                                                      const ScanArgs p) {
    constexpr int W = 2 * NT, kL = 8;
    __shared__ __align__(16) float s_bc[kSpan * W]; // [kSpan][2 NT]
    const int e = blockIdx.x * kSThreads + threadIdx.x, span = blockIdx.y, b = blockIdx.z;
    const int t0 = span * kSpan, nt = min(kSpan, p.T - t0), ntr = (nt + kL - 1) / kL * kL;
    stage_bc<NT, true, false>(s_bc, NULL, kSpan, p, b, t0);
    __syncthreads();
    const bool active = e < p.E;
    const float dtb = active ? p.dt_bias[e] : 0.0f, Dv = active ? p.D[e] : 0.0f;
    float A2[NT], h[NT];
    load_A2<NT>(A2, p, e, active);
    const float *rp = rec ? rec + rec_at(b, span, p.n_spans, SpanRec<NT>::fwd_rows, 0, p.E, e) : NULL;
#pragma unroll
    for (int n = 0; n < NT; n++) h[n] = rp && active ? rp[n * p.E] : 0.0f;
    const ChanIn c(p, (size_t)b * p.T + t0, e);
    floatX *yp = y + ((size_t)b * p.T + t0) * p.E + e;
    for (int t = 0; t < ntr; t += kL) {
        StepLoads<kL, false, kHasZ> in;
        in.load(c, t, nt, active, dtb);
#pragma unroll
        for (int k = 0; k < kL; k++) {
            const bool ok = active && t + k < nt;
            const float delta = ok ? softplus_fast(in.x[k]) : 0.0f, du = delta * in.u[k];
            float Bv[NT], Cv[NT];
            lds_vec<NT>(Bv, s_bc + (t + k) * W);
            lds_vec<NT>(Cv, s_bc + (t + k) * W + NT);
            float yv = Dv * in.u[k];
#pragma unroll
            for (int n = 0; n < NT; n++) {
                h[n] = fmaf(exp2_approx(delta * A2[n]), h[n], du * Bv[n]);
                yv = fmaf(Cv[n], h[n], yv);
            }
            if (kHasZ) yv *= silu_fast(in.z[k]);
            if (ok) yp[(t + k) * p.E] = f2bf(yv);
        }
    }
    if (state_out && active && span == p.n_spans - 1)
#pragma unroll
        for (int n = 0; n < NT; n++)
            if (n < p.N) state_out[((size_t)b * p.E + e) * p.N + n] = h[n];
}

// ---- pass 3 (backward): all gradients -----------------------------------------------------------------------
// Same grid, a thread per (b, span, channel), walking the span's segments from the last to the first. The
// adjoint carry (a_{t+1} g_{t+1}, from the combine for the span's last timestep) flows from segment to
// segment in the thread; the state entering segment i is Q h_span + h_local(end of segment i - 1), one exp per
// state from the record. Per segment of kSeg timesteps:
//   phase A, forward, all NT states in registers: h_t; the pre-gate output (for dz); dC_t = sum over the
//     warp's 32 channels of dyp_t h_t (a reduction through shared memory per timestep); and the state
//     entering every run of kRun timesteps, saved in shared memory;
//   phase B, runs from the last to the first, state index outer: per (run, n) the kRun a_t and h_t again from
//     the saved state (registers), then the adjoint backwards, g_t = dyp_t C_t + carry, carry = a_t g_t, with
//       ddelta_t += g_t h_{t-1} a_t A_n + u_t g_t B_t,n     dA_n += g_t h_{t-1} a_t delta_t
//       du_t     += delta_t g_t B_t,n                     dB_t,n = sum over channels of g_t delta_t u_t
//     (ddelta and du as S1_t = sum_n g h_{t-1} a A and S2_t = sum_n g B: ddelta = S1 + u S2, du = delta S2).
// So every a_t is computed twice here and once in pass 1, and no state is stored beyond the run boundaries.
// dB / dC are written per warp (32 channels) as partials, dC_part [G][B][T][NT] and dB_part [G][B][NT][T]
// (G = ceil(E / 32)), summed in order by the reduce kernel; dA, dD and the dt-bias gradient of the span go to
// param_part [B][n_spans][NT + 2][E]. Every sum has a fixed order: the results are bit-identical run to run.
template <int NT> struct SpanBwdSmem { // float offsets into the dynamic shared memory
    static constexpr int row = 0;                              // [kSeg][2 NT]    B_t, C_t by timestep (phase A)
    static constexpr int col = row + kSeg * 2 * NT;            // [2 NT][kColPitch] the same by state (phase B)
    static constexpr int warp0 = col + 2 * NT * kColPitch;     // per warp, at warp0 + w * per_warp:
    static constexpr int hb = 0;                               //   [kRuns][NT][32]  state entering each run
    static constexpr int red = hb + kRuns * NT * 32;           //   [red_rows][kRedPitch] reduction scratch
    static constexpr int red_rows = NT > 2 * kRun ? NT : 2 * kRun; // NT (phase A) or 2 kRun (phase B) rows
    static constexpr int A2 = red + red_rows * kRedPitch;      //   [NT][32]         A_n log2 e
    static constexpr int g = A2 + NT * 32;                     //   [NT][32]         adjoint carry
    static constexpr int dA = g + NT * 32;                     //   [NT][32]         dA_n of the span so far
    static constexpr int per_warp = dA + NT * 32;
    static constexpr int total = warp0 + kSW * per_warp;
};

template <int NT, bool kHasZ>
__global__ void __launch_bounds__(kSThreads, 3) scan_span_backward_kernel(floatX *du_out, floatX *ddt_out, floatX *dz_out,
                                                                       float *dC_part, float *dB_part,
                                                                       float *param_part, const float *rec,
                                                                       const ScanArgs p) {
    static_assert(NT >= kRun && NT % 8 == 0, "span backward: NT 8 or 16");
    using S = SpanBwdSmem<NT>;
    constexpr int rows = SpanRec<NT>::bwd_rows;
    extern __shared__ __align__(16) float smem[];
    float *s_row = smem + S::row, *s_col = smem + S::col;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *s_w = smem + S::warp0 + warp * S::per_warp;
    float *s_hb = s_w + S::hb, *s_red = s_w + S::red, *s_A2 = s_w + S::A2, *s_g = s_w + S::g, *s_dA = s_w + S::dA;

    const int e = blockIdx.x * kSThreads + threadIdx.x, span = blockIdx.y, b = blockIdx.z;
    const int grp = blockIdx.x * kSW + warp, G = (p.E + 31) / 32; // this warp's 32-channel group
    const bool active = e < p.E, warp_active = grp < G;
    const int t_span = span * kSpan, nt_span = min(kSpan, p.T - t_span);
    const float dtb = active ? p.dt_bias[e] : 0.0f, Dv = active ? p.D[e] : 0.0f;
    // This thread's columns (32-bit offsets from here on): the span record (row r at [r E]), the inputs and
    // per-timestep outputs from the span start (timestep t at [t E] / [t z_stride]), and this warp's rows of
    // the dC / dB partials from the span start (dC_t,n at [t NT + n], lane offset added; dB_t,n at [n T + t]).
    const float *rp = rec + rec_at(b, span, p.n_spans, rows, 0, p.E, e);
    const size_t row_span = (size_t)b * p.T + t_span;
    const ChanIn c(p, row_span, e);
    floatX *du_p = du_out + row_span * p.E + e, *ddt_p = ddt_out + row_span * p.E + e;
    floatX *dz_p = dz_out + row_span * p.z_stride + e; // only if kHasZ
    float *dC_p = dC_part + (((size_t)grp * p.B + b) * p.T + t_span) * NT + lane;
    float *dB_w = dB_part + ((size_t)grp * p.B + b) * NT * p.T + t_span;
    {
        float A2[NT];
        load_A2<NT>(A2, p, e, active);
#pragma unroll
        for (int n = 0; n < NT; n++) {
            s_A2[n * 32 + lane] = A2[n];
            s_g[n * 32 + lane] = active ? rp[(SpanRec<NT>::carry + n) * p.E] : 0.0f;
            s_dA[n * 32 + lane] = 0.0f;
        }
    }
    float dD_acc = 0.0f, ddtb_acc = 0.0f;

    for (int i = (nt_span + kSeg - 1) / kSeg - 1; i >= 0; i--) {
        const int ts = i * kSeg, nts = min(kSeg, nt_span - ts); // segment start within the span, length
        __syncthreads(); // every warp is done with the previous segment's s_row / s_col
        stage_bc<NT, true, true>(s_row, s_col, kSeg, p, b, t_span + ts);
        __syncthreads();
        if (!warp_active) continue; // no barriers until the loop's next iteration

        // ---- phase A: forward over the segment, all states in registers
        float A2[NT], h[NT];
#pragma unroll
        for (int n = 0; n < NT; n++) A2[n] = s_A2[n * 32 + lane];
#pragma unroll
        for (int n = 0; n < NT; n++) {
            float H = active ? rp[(SpanRec<NT>::seg_h(kSegs - 1) + n) * p.E] : 0.0f;
            if (i > 0 && active) {
                const float sd = rp[SpanRec<NT>::seg_sd(i - 1) * p.E], hl = rp[(SpanRec<NT>::seg_h(i - 1) + n) * p.E];
                H = fmaf(exp2_approx(A2[n] * sd), H, hl);
            }
            h[n] = H;
            s_hb[n * 32 + lane] = H; // run 0
        }
        for (int r = 0; r < kRuns; r++) {
            const int tr = r * kRun;
            StepLoads<kRun, true, kHasZ> in;
            in.load(c, ts + tr, ts + nts, active, dtb);
#pragma unroll
            for (int k = 0; k < kRun; k++) {
                const int t = tr + k;
                const bool ok = active && t < nts;
                const float delta = ok ? softplus_fast(in.x[k]) : 0.0f, du = delta * in.u[k];
                // sigmoid(z) once for the gate (dyp, as silu_fast forms it in the other passes) and for dz.
                const float sz = kHasZ ? sigmoid_fast(in.z[k]) : 1.0f, dyp = kHasZ ? in.dy[k] * (in.z[k] * sz) : in.dy[k];
                float Bv[NT], Cv[NT];
                lds_vec<NT>(Bv, s_row + t * 2 * NT);
                lds_vec<NT>(Cv, s_row + t * 2 * NT + NT);
                float yp = Dv * in.u[k]; // the pre-gate output, for dz
#pragma unroll
                for (int n = 0; n < NT; n++) {
                    h[n] = fmaf(exp2_approx(delta * A2[n]), h[n], du * Bv[n]);
                    yp = fmaf(Cv[n], h[n], yp);
                    s_red[n * kRedPitch + lane] = dyp * h[n]; // this channel's dC_t,n
                }
                __syncwarp();
                const float dC = reduce_rows<NT>(s_red, lane); // lane j: the warp's dC_t,j (j < NT)
                if (lane < NT && t < nts) dC_p[(ts + t) * NT] = dC;
                __syncwarp(); // s_red is rewritten for the next timestep
                if (kHasZ && ok) dz_p[(ts + t) * p.z_stride] = f2bf(in.dy[k] * yp * silu_grad_of(in.z[k], sz));
            }
            if (r + 1 < kRuns)
#pragma unroll
                for (int n = 0; n < NT; n++) s_hb[((r + 1) * NT + n) * 32 + lane] = h[n];
        }

        // ---- phase B: runs backwards, state index outer
        for (int r = kRuns - 1; r >= 0; r--) {
            const int tr = r * kRun;
            // Per timestep: delta, delta u, dyp, u and softplus'(x) (ddt at the end), S1 / S2 (sums over n).
            float delta[kRun], du[kRun], dyp[kRun], uu[kRun], spg[kRun], S1[kRun], S2[kRun];
            {
                StepLoads<kRun, true, kHasZ> in;
                in.load(c, ts + tr, ts + nts, active, dtb);
#pragma unroll
                for (int k = 0; k < kRun; k++) {
                    const bool ok = active && tr + k < nts;
                    const float ex = exp_neg_abs(in.x[k]);
                    delta[k] = ok ? softplus_from(in.x[k], ex) : 0.0f;
                    spg[k] = in.x[k] > SCOUT_SOFTPLUS_THRESHOLD ? 1.0f : sigmoid_from(in.x[k], ex);
                    uu[k] = in.u[k];
                    du[k] = delta[k] * in.u[k];
                    dyp[k] = kHasZ ? in.dy[k] * silu_fast(in.z[k]) : in.dy[k];
                    S1[k] = 0.0f, S2[k] = 0.0f;
                }
            }
            // Two state indices per iteration: their chains interleave, and one reduction serves both.
            for (int n0 = 0; n0 < NT; n0 += 2) {
#pragma unroll
                for (int q = 0; q < 2; q++) {
                    const int n = n0 + q;
                    const float A2n = s_A2[n * 32 + lane], An = A2n * kLn2;
                    const float hprev = s_hb[(r * NT + n) * 32 + lane];
                    float Bv[kRun], Cv[kRun], a[kRun], hs[kRun];
                    lds_vec<kRun>(Bv, s_col + n * kColPitch + tr);
                    lds_vec<kRun>(Cv, s_col + (NT + n) * kColPitch + tr);
                    float hh = hprev;
#pragma unroll
                    for (int k = 0; k < kRun; k++) {
                        a[k] = exp2_approx(delta[k] * A2n);
                        hh = fmaf(a[k], hh, du[k] * Bv[k]);
                        hs[k] = hh;
                    }
                    float carry = s_g[n * 32 + lane], dAn = 0.0f;
#pragma unroll
                    for (int k = kRun - 1; k >= 0; k--) {
                        const float g = fmaf(dyp[k], Cv[k], carry);
                        const float gp = g * ((k > 0 ? hs[k - 1] : hprev) * a[k]); // g_t h_{t-1} a_t
                        S1[k] = fmaf(gp, An, S1[k]);
                        S2[k] = fmaf(g, Bv[k], S2[k]);
                        dAn = fmaf(gp, delta[k], dAn);
                        s_red[(q * kRun + k) * kRedPitch + lane] = g * du[k]; // this channel's dB_t,n
                        carry = a[k] * g;
                    }
                    s_g[n * 32 + lane] = carry;
                    s_dA[n * 32 + lane] += dAn;
                }
                __syncwarp();
                // Lane j < 2 kRun: the warp's dB_t,n for n = n0 + j / kRun, t = tr + j % kRun.
                const float dB = reduce_rows<2 * kRun>(s_red, lane);
                if (lane < 2 * kRun && tr + lane % kRun < nts) dB_w[(n0 + lane / kRun) * p.T + ts + tr + lane % kRun] = dB;
                __syncwarp();
            }
            // The run's per-timestep gradients.
#pragma unroll
            for (int k = 0; k < kRun; k++) {
                if (!(active && tr + k < nts)) continue;
                const float ddt = fmaf(uu[k], S2[k], S1[k]) * spg[k]; // ddelta softplus'(x)
                const int at = (ts + tr + k) * p.E;
                ddt_p[at] = f2bf(ddt);
                du_p[at] = f2bf(fmaf(dyp[k], Dv, delta[k] * S2[k]));
                dD_acc = fmaf(dyp[k], uu[k], dD_acc);
                ddtb_acc += ddt;
            }
        }
    }
    if (!active) return;
    float *pp = param_part + rec_at(b, span, p.n_spans, NT + 2, 0, p.E, e);
#pragma unroll
    for (int n = 0; n < NT; n++) pp[n * p.E] = s_dA[n * 32 + lane];
    pp[NT * p.E] = dD_acc;
    pp[(NT + 1) * p.E] = ddtb_acc;
}

// ---- pass 4 (backward): the fixed-order sums ----------------------------------------------------------------
// dB / dC: blockIdx.y 0 sums dC_part [G][B][T][NT] (thread per (b, t, n)), 1 sums dB_part [G][B][NT][T]
// (thread per (b, n, t)), over the G channel groups in order, into the strided bf16 outputs (n < N only).
__global__ void scan_span_dbc_reduce_kernel(floatX *dssm_B, floatX *dssm_C, int bc_stride, const float *dC_part,
                                            const float *dB_part, int G, int B, int T, int N, int NT) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x, total = (size_t)B * T * NT;
    if (idx >= total) return;
    const bool is_B = blockIdx.y == 1;
    const float *src = is_B ? dB_part : dC_part;
    float s = 0.0f;
#pragma unroll 8
    for (int g = 0; g < G; g++) s += src[(size_t)g * total + idx];
    if (is_B) {
        const int t = (int)(idx % T), n = (int)((idx / T) % NT), b = (int)(idx / ((size_t)T * NT));
        if (n < N) dssm_B[((size_t)b * T + t) * bc_stride + n] = f2bf(s);
    } else {
        const int n = (int)(idx % NT);
        if (n < N) dssm_C[(idx / NT) * bc_stride + n] = f2bf(s);
    }
}

// dA_log[e, n] += (sum over b and spans of dA) A (A = -exp(A_log): the chain rule), dD[e] and ddt_bias[e] +=
// their sums; partials [B][n_spans][NT + 2][E] added in (b, span) order. A thread per (j, e), j < NT + 2.
__global__ void scan_span_param_reduce_kernel(float *dA_log, float *dD, float *ddt_bias, const float *A_log,
                                              const float *param_part, int B, int n_spans, int E, int N, int NT) {
    const int e = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y;
    if (e >= E || (j >= N && j < NT)) return;
    float s = 0.0f;
#pragma unroll 8
    for (int bs = 0; bs < B * n_spans; bs++) s += param_part[((size_t)bs * (NT + 2) + j) * E + e];
    if (j < N) dA_log[(size_t)e * N + j] += s * -expf(A_log[(size_t)e * N + j]);
    else if (j == NT) dD[e] += s;
    else ddt_bias[e] += s;
}

// ==========================================================================================================
// The tile path (N > kSpanMaxN): a warp per channel, lanes along time, shuffle scans
// ==========================================================================================================

static const int kChannels = 16; // channels (warps) per block
static const int kFwdNG = 4;     // state indices per unrolled step, forward
static const int kBwdNG = 2;     // and backward (more registers per index there)

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
// tile path launchers

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
    constexpr auto kernel = selective_scan_fwd_kernel<kItems, kHasZ, kWriteY, kSaveStates>;
    raise_smem_limit<kernel>(smem);
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


static void tile_forward(void *y, float *state_out, const void *u, const void *dt_raw, const float *dt_bias,
                         const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                         const void *z, int z_stride, int B, int T, int E, int N, cudaStream_t stream) {
    scan_forward_dispatch<true, false>((floatX *)y, state_out, NULL, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C,
                                       bc_stride, D, z, z_stride, B, T, E, N, stream);
}

// Tile-path workspace, each part 256-byte aligned: chunk-boundary states [B, E, n_chunks, N]; dB/dC partials
// [ceil(E/16), B, T, 2N]; parameter partials [B, E, N + 2] (all fp32).
static size_t states_bytes(int B, int T, int E, int N) {
    int L = 32 * scan_items(N);
    return align256((size_t)B * E * ceil_div(T, L) * N * sizeof(float));
}
static size_t dbc_bytes(int B, int T, int E, int N) {
    return align256((size_t)ceil_div(E, kChannels) * B * T * 2 * N * sizeof(float));
}
static size_t param_bytes(int B, int E, int N) { return align256((size_t)B * E * (N + 2) * sizeof(float)); }

static size_t tile_workspace_size(int B, int T, int E, int N) {
    return states_bytes(B, T, E, N) + dbc_bytes(B, T, E, N) + param_bytes(B, E, N);
}

template <int kItems, bool kHasZ>
static void launch_bwd(floatX *du, floatX *ddt, floatX *dz, float *dbc, float *params, const float *states,
                       const void *dy, const void *u, const void *dt_raw, const float *dt_bias, const float *A_log,
                       const void *ssm_B, const void *ssm_C, int bc_stride, const float *D, const void *z,
                       int z_stride, int B, int T, int E, int N, cudaStream_t stream) {
    size_t smem = bwd_smem_bytes(kItems, kHasZ, N);
    constexpr auto kernel = selective_scan_bwd_kernel<kItems, kHasZ>;
    raise_smem_limit<kernel>(smem);
    dim3 grid(ceil_div(E, kChannels), B);
    kernel<<<grid, kChannels * 32, smem, stream>>>(du, ddt, dz, dbc, params, states, (const floatX *)dy, (const floatX *)u,
                                                   (const floatX *)dt_raw, dt_bias, A_log, (const floatX *)ssm_B,
                                                   (const floatX *)ssm_C, bc_stride, D, (const floatX *)z, z_stride, B,
                                                   T, E, N);
    cudaCheck(cudaGetLastError());
}

static void tile_backward(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz, float *dA_log, float *dD,
                          float *ddt_bias, const void *dy, const void *u, const void *dt_raw, const float *dt_bias,
                          const float *A_log, const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                          const void *z, int z_stride, void *ws, int B, int T, int E, int N, cudaStream_t stream) {
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

// ----------------------------------------------------------------------------------------------------------
// span path launchers

static int span_nt(int N) { return N <= 8 ? 8 : 16; } // state indices the kernels compute (N padded with zeros)
static int span_count(int T) { return ceil_div(T, kSpan); }

// Backward workspace, each part 256-byte aligned (fp32): span records [B][n_spans][kSegs (NT+1) + NT][E]; dC
// partials [G][B][T][NT] and dB partials [G][B][NT][T], G = ceil(E / 32); parameter partials
// [B][n_spans][NT + 2][E]. About 240 MB at B=8 T=2048 E=2048 N=16 (the dB / dC partials are 134 MB of it).
static size_t span_rec_bytes(int B, int T, int E, int NT) {
    return align256((size_t)B * span_count(T) * (kSegs * (NT + 1) + NT) * E * sizeof(float));
}
static size_t span_part_bytes(int B, int T, int E, int NT) { // each of dC and dB
    return align256((size_t)ceil_div(E, 32) * B * T * NT * sizeof(float));
}
static size_t span_param_bytes(int B, int T, int E, int NT) {
    return align256((size_t)B * span_count(T) * (NT + 2) * E * sizeof(float));
}
static size_t span_workspace_size(int B, int T, int E, int N) {
    const int NT = span_nt(N);
    return span_rec_bytes(B, T, E, NT) + 2 * span_part_bytes(B, T, E, NT) + span_param_bytes(B, T, E, NT);
}

// The forward op has no workspace argument, and the span path needs its span records ([B][n_spans][NT+1][E]
// fp32, 17 MB at B=8 T=2048 E=2048 N=16) between its passes: a buffer owned by this file, grown when a larger
// shape comes (cudaFree synchronises the device, so the old buffer is no longer in use; growth happens on the
// first calls only). Like the backend, it assumes one stream issues the scan at a time.
static float *g_fwd_rec = NULL;
static size_t g_fwd_rec_bytes = 0;
static float *fwd_rec_buffer(size_t bytes) {
    if (bytes > g_fwd_rec_bytes) {
        if (g_fwd_rec) cudaCheck(cudaFree(g_fwd_rec));
        cudaCheck(cudaMalloc((void **)&g_fwd_rec, bytes));
        g_fwd_rec_bytes = bytes;
    }
    return g_fwd_rec;
}

static ScanArgs span_args(const void *u, const void *dt_raw, const float *dt_bias, const float *A_log,
                          const void *ssm_B, const void *ssm_C, int bc_stride, const float *D, const void *z,
                          int z_stride, const void *dy, int B, int T, int E, int N) {
    ScanArgs p;
    p.u = (const floatX *)u, p.dt_raw = (const floatX *)dt_raw, p.ssm_B = (const floatX *)ssm_B;
    p.ssm_C = (const floatX *)ssm_C, p.z = (const floatX *)z, p.dy = (const floatX *)dy;
    p.dt_bias = dt_bias, p.A_log = A_log, p.D = D;
    p.bc_stride = bc_stride, p.z_stride = z_stride, p.B = B, p.T = T, p.E = E, p.N = N, p.n_spans = span_count(T);
    return p;
}

template <int NT, bool kHasZ>
static void span_forward(floatX *y, float *state_out, const ScanArgs &p, cudaStream_t stream) {
    const dim3 grid(ceil_div(p.E, kSThreads), p.n_spans, p.B);
    float *rec = NULL; // one span: it starts from h = 0, nothing to combine
    if (p.n_spans > 1) {
        rec = fwd_rec_buffer((size_t)p.B * p.n_spans * SpanRec<NT>::fwd_rows * p.E * sizeof(float));
        scan_span_summary_kernel<NT, false, false><<<grid, kSThreads, 0, stream>>>(rec, p);
        cudaCheck(cudaGetLastError());
        scan_span_combine_kernel<NT, false><<<dim3(grid.x, NT, p.B), kSThreads, 0, stream>>>(rec, p.A_log, p.E, p.N,
                                                                                            p.n_spans);
        cudaCheck(cudaGetLastError());
    }
    scan_span_forward_kernel<NT, kHasZ><<<grid, kSThreads, 0, stream>>>(y, state_out, rec, p);
    cudaCheck(cudaGetLastError());
}

template <int NT, bool kHasZ>
static void span_backward(floatX *du, floatX *ddt_raw, floatX *dssm_B, floatX *dssm_C, floatX *dz, float *dA_log,
                          float *dD, float *ddt_bias, const ScanArgs &p, void *ws, cudaStream_t stream) {
    const int B = p.B, T = p.T, E = p.E;
    char *w = (char *)ws;
    float *rec = (float *)w;
    float *dC_part = (float *)(w + span_rec_bytes(B, T, E, NT));
    float *dB_part = (float *)(w + span_rec_bytes(B, T, E, NT) + span_part_bytes(B, T, E, NT));
    float *params = (float *)(w + span_rec_bytes(B, T, E, NT) + 2 * span_part_bytes(B, T, E, NT));
    const dim3 grid(ceil_div(E, kSThreads), p.n_spans, B);

    scan_span_summary_kernel<NT, true, kHasZ><<<grid, kSThreads, 0, stream>>>(rec, p);
    cudaCheck(cudaGetLastError());
    scan_span_combine_kernel<NT, true><<<dim3(grid.x, 2 * NT, B), kSThreads, 0, stream>>>(rec, p.A_log, E, p.N,
                                                                                         p.n_spans);
    cudaCheck(cudaGetLastError());
    const size_t smem = SpanBwdSmem<NT>::total * sizeof(float);
    constexpr auto kernel = scan_span_backward_kernel<NT, kHasZ>;
    raise_smem_limit<kernel>(smem);
    kernel<<<grid, kSThreads, smem, stream>>>(du, ddt_raw, dz, dC_part, dB_part, params, rec, p);
    cudaCheck(cudaGetLastError());
    const size_t total = (size_t)B * T * NT;
    scan_span_dbc_reduce_kernel<<<dim3((unsigned)ceil_div_sz(total, 256), 2), 256, 0, stream>>>(
        dssm_B, dssm_C, p.bc_stride, dC_part, dB_part, ceil_div(E, 32), B, T, p.N, NT);
    cudaCheck(cudaGetLastError());
    scan_span_param_reduce_kernel<<<dim3(ceil_div(E, 128), NT + 2), 128, 0, stream>>>(dA_log, dD, ddt_bias, p.A_log,
                                                                                     params, B, p.n_spans, E, p.N, NT);
    cudaCheck(cudaGetLastError());
}

// ----------------------------------------------------------------------------------------------------------
// the ops

static void check_scan_shape(int B, int T, int E, int N) {
    scout_require(N >= 1 && N <= SCOUT_SCAN_MAX_N, "selective_scan: N = %d outside 1..%d", N, SCOUT_SCAN_MAX_N);
    scout_require(B <= 65535, "selective_scan: batch %d over the grid limit", B);
    scout_require(N > kSpanMaxN || span_count(T) <= 65535, "selective_scan: T = %d over the grid limit", T);
    (void)E;
}

extern "C" void selective_scan_forward_cuda(void *y, float *state_out, const void *u, const void *dt_raw,
                                            const float *dt_bias, const float *A_log, const void *ssm_B,
                                            const void *ssm_C, int bc_stride, const float *D, const void *z,
                                            int z_stride, int B, int T, int E, int N, cudaStream_t stream) {
    if (B <= 0 || E <= 0) return;
    check_scan_shape(B, T, E, N);
    if (T <= 0) { // no timesteps: the final state is the initial one
        if (state_out) cudaCheck(cudaMemsetAsync(state_out, 0, (size_t)B * E * N * sizeof(float), stream));
        return;
    }
    if (N > kSpanMaxN) {
        tile_forward(y, state_out, u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, B, T, E, N,
                     stream);
        return;
    }
    const ScanArgs p = span_args(u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, NULL, B, T, E, N);
    floatX *yx = (floatX *)y;
    if (span_nt(N) == 8) z ? span_forward<8, true>(yx, state_out, p, stream) : span_forward<8, false>(yx, state_out, p, stream);
    else z ? span_forward<16, true>(yx, state_out, p, stream) : span_forward<16, false>(yx, state_out, p, stream);
}

extern "C" size_t selective_scan_backward_workspace_size_cuda(int B, int T, int E, int N) {
    if (B <= 0 || T <= 0 || E <= 0 || N <= 0) return 0;
    return N <= kSpanMaxN ? span_workspace_size(B, T, E, N) : tile_workspace_size(B, T, E, N);
}

extern "C" void selective_scan_backward_cuda(void *du, void *ddt_raw, void *dssm_B, void *dssm_C, void *dz,
                                             float *dA_log, float *dD, float *ddt_bias, const void *dy, const void *u,
                                             const void *dt_raw, const float *dt_bias, const float *A_log,
                                             const void *ssm_B, const void *ssm_C, int bc_stride, const float *D,
                                             const void *z, int z_stride, void *ws, int B, int T, int E, int N,
                                             cudaStream_t stream) {
    if (B <= 0 || T <= 0 || E <= 0) return;
    check_scan_shape(B, T, E, N);
    if (N > kSpanMaxN) {
        tile_backward(du, ddt_raw, dssm_B, dssm_C, dz, dA_log, dD, ddt_bias, dy, u, dt_raw, dt_bias, A_log, ssm_B,
                      ssm_C, bc_stride, D, z, z_stride, ws, B, T, E, N, stream);
        return;
    }
    const ScanArgs p = span_args(u, dt_raw, dt_bias, A_log, ssm_B, ssm_C, bc_stride, D, z, z_stride, dy, B, T, E, N);
    floatX *dux = (floatX *)du, *ddtx = (floatX *)ddt_raw, *dBx = (floatX *)dssm_B, *dCx = (floatX *)dssm_C;
    floatX *dzx = (floatX *)dz;
#define SPAN_BWD(NT, Z) span_backward<NT, Z>(dux, ddtx, dBx, dCx, dzx, dA_log, dD, ddt_bias, p, ws, stream)
    if (span_nt(N) == 8) z ? SPAN_BWD(8, true) : SPAN_BWD(8, false);
    else z ? SPAN_BWD(16, true) : SPAN_BWD(16, false);
#undef SPAN_BWD
}
