// bench_gpu.c: the two ceilings of the GPU (device-to-device copy bandwidth, cuBLASLt bf16 GEMM rate) and the
// time of every attention / scan kernel at the shapes of scout_swa_470m and scout_mamba_430m, against them.
//
//   bench_gpu [--quick | --tiny]     (--quick: one small shape each; --tiny: a smoke run for the CPU emulator)
//   bench_gpu --attn-tiles [LIST]    only the attention kernels, once per tile-shape choice (attention.cuh's
//                                    Tile<>): LIST is ';'-separated SCOUT_ATTN_TILES specs, by default one
//                                    row per shape of each kernel; one table row per choice
//   --rope                           the attention backward also takes dq, dk back through RoPE (theta 1e6),
//                                    as the trainer calls it (default: without, as PyTorch's SDPA is timed)
//   --stacked                        q, k, v (and dq, dk, dv) as column blocks of one [B T, 3 n_h d] tensor, as
//                                    the model keeps them (default: three contiguous tensors)
//
// Method (.library/device/METHOD.md): random inputs (never zeros), warm-up runs, then CUDA events around each of
// kReps runs and the median. Every buffer is larger than the L2 (50 MB) or the kernel streams well past it, so
// repeated runs do not measure the cache. FLOPs are the useful ones, counted as flash-attention counts them:
// forward 4 d per (query, key) pair actually in the key set (QK^T and PV), backward 2.5x the forward (our
// backward recomputes S and dP in two kernels, 7 tile products where FA2 does 5: that overhead is not counted
// as useful work). The scan and conv are judged in GB/s of their minimal traffic (each input read once, each
// output written once) against the copy ceiling. Also prints whether two runs of each kernel gave bit-identical
// outputs (determinism at full size). BENCH_REPS=N (1-64) sets the timed runs, e.g. 1 under a profiler (ncu).
#include "gpu_harness.h"

static int g_quick = 0, g_tiny = 0;
static float g_rope_theta = 0.0f; // --rope: the backward folds RoPE's backward into its stores, as in training
static int kReps = 10;

static cudaStream_t S;
static cudaEvent_t ev0, ev1;

// Median of kReps timed calls of fn(ctx) in ms, after two warm-up calls.
static double time_ms(void (*fn)(void *), void *ctx) {
    double t[64];
    fn(ctx), fn(ctx);
    GPU_CHECK(cudaStreamSynchronize(S));
    for (int r = 0; r < kReps; r++) {
        GPU_CHECK(cudaEventRecord(ev0, S));
        fn(ctx);
        GPU_CHECK(cudaEventRecord(ev1, S));
        GPU_CHECK(cudaEventSynchronize(ev1));
        float ms;
        GPU_CHECK(cudaEventElapsedTime(&ms, ev0, ev1));
        t[r] = ms;
    }
    for (int i = 0; i < kReps; i++)
        for (int j = i + 1; j < kReps; j++)
            if (t[j] < t[i]) {
                double x = t[i];
                t[i] = t[j], t[j] = x;
            }
    return kReps % 2 ? t[kReps / 2] : 0.5 * (t[kReps / 2 - 1] + t[kReps / 2]);
}

// A device buffer of n random values (bf16 or fp32) in [lo, hi), generated on the host in chunks.
static void *dev_random(size_t n, int bf, double lo, double hi) {
    void *d;
    size_t es = bf ? 2 : 4;
    GPU_CHECK(cudaMalloc(&d, n * es + 16));
    const size_t chunk = (size_t)1 << 24;
    void *h = malloc(chunk * es);
    for (size_t o = 0; o < n; o += chunk) {
        size_t m = n - o < chunk ? n - o : chunk;
        for (size_t i = 0; i < m; i++) {
            float x = (float)rng_uniform(lo, hi);
            if (bf) ((uint16_t *)h)[i] = f2bf_bits(x);
            else ((float *)h)[i] = x;
        }
        GPU_CHECK(cudaMemcpy((char *)d + o * es, h, m * es, cudaMemcpyHostToDevice));
    }
    free(h);
    return d;
}
static void *dev_alloc(size_t bytes) {
    void *d;
    GPU_CHECK(cudaMalloc(&d, bytes ? bytes : 16));
    return d;
}

// FNV-1a of a device buffer, for the determinism check.
static uint64_t dev_hash(const void *d, size_t bytes) {
    unsigned char *h = malloc(bytes);
    GPU_CHECK(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
    uint64_t x = 1469598103934665603ull;
    for (size_t i = 0; i < bytes; i++) x = (x ^ h[i]) * 1099511628211ull;
    free(h);
    return x;
}

static double g_copy_gbs = 0.0, g_gemm_tflops = 0.0;

static void row(const char *kernel, const char *shape, double ms, double tflops, double gbs, int det) {
    char tf[32] = "-", gb[32] = "-", pct[32] = "-";
    if (tflops > 0) snprintf(tf, sizeof tf, "%.1f", tflops), snprintf(pct, sizeof pct, "%.0f%% gemm", 100 * tflops / g_gemm_tflops);
    if (gbs > 0) snprintf(gb, sizeof gb, "%.0f", gbs), snprintf(pct, sizeof pct, "%.0f%% copy", 100 * gbs / g_copy_gbs);
    printf("%-26s %-34s %9.3f %9s %8s %11s %5s\n", kernel, shape, ms, tf, gb, pct, det < 0 ? "-" : det ? "yes" : "NO");
    fflush(stdout);
}

// ---- ceilings -------------------------------------------------------------------------------------------------

typedef struct { void *a, *b; size_t bytes; } copy_ctx;
static void run_copy(void *c) {
    copy_ctx *x = c;
    GPU_CHECK(cudaMemcpyAsync(x->b, x->a, x->bytes, cudaMemcpyDeviceToDevice, S));
}
typedef struct { void *x, *w, *out; int n; } gemm_ctx;
static void run_gemm(void *c) {
    gemm_ctx *g = c;
    linear_forward_cuda(g->out, g->x, g->w, NULL, g->n, g->n, g->n, S);
}
static void ceilings(void) {
    copy_ctx c = {NULL, NULL, g_tiny ? (size_t)1 << 24 : (size_t)(g_quick ? 1 : 4) << 30};
    c.a = dev_alloc(c.bytes); // a copy's speed does not depend on the values: a byte pattern, not host RNG
    GPU_CHECK(cudaMemset(c.a, 0x3C, c.bytes));
    c.b = dev_alloc(c.bytes);
    double ms = time_ms(run_copy, &c);
    g_copy_gbs = 2.0 * c.bytes / (ms * 1e-3) / 1e9;
    printf("ceiling: device-to-device copy of %zu MiB: %.3f ms = %.0f GB/s (read + write)\n", c.bytes >> 20, ms,
           g_copy_gbs);
    GPU_CHECK(cudaFree(c.a));
    GPU_CHECK(cudaFree(c.b));
    gemm_ctx g = {NULL, NULL, NULL, g_tiny ? 64 : 8192};
    size_t nn = (size_t)g.n * g.n;
    g.x = dev_random(nn, 1, -1, 1), g.w = dev_random(nn, 1, -1, 1), g.out = dev_alloc(nn * 2);
    ms = time_ms(run_gemm, &g);
    g_gemm_tflops = 2.0 * g.n * (double)g.n * g.n / (ms * 1e-3) / 1e12;
    printf("ceiling: cuBLASLt bf16 GEMM %dx%dx%d (linear_forward_cuda, random data): %.3f ms = %.1f TFLOP/s\n", g.n, g.n,
           g.n, ms, g_gemm_tflops);
    GPU_CHECK(cudaFree(g.x));
    GPU_CHECK(cudaFree(g.w));
    GPU_CHECK(cudaFree(g.out));
}

// ---- attention ----------------------------------------------------------------------------------------------------

typedef struct {
    int ckpt, B, T, nh, nkv, d, arg;
    void *q, *k, *v, *out, *dout, *dq, *dk, *dv, *ws;
    float *lse;
    int stacked;   // --stacked: q, k, v (and dq, dk, dv) the column blocks of one [rows, 3 n_h d] tensor
    int ldq, ldkv; // row strides of q / dq and k, v / dk, dv (set by att_alloc)
} att_ctx;
static int g_stacked = 0;
static void run_att_fwd(void *c) {
    att_ctx *a = c;
    const int ldq = a->ldq, ldkv = a->ldkv;
    if (a->ckpt)
        checkpoint_attention_forward_cuda(a->out, a->lse, a->q, a->k, a->v, ldq, ldkv, a->B, a->T, a->nh, a->nkv, a->d,
                                          a->arg, S);
    else
        swa_attention_forward_cuda(a->out, a->lse, a->q, a->k, a->v, ldq, ldkv, a->B, a->T, a->nh, a->nkv, a->d, a->arg,
                                   S);
}
static void run_att_bwd(void *c) {
    att_ctx *a = c;
    const int ldq = a->ldq, ldkv = a->ldkv;
    if (a->ckpt)
        checkpoint_attention_backward_cuda(a->dq, a->dk, a->dv, a->dout, a->q, a->k, a->v, a->out, a->lse, a->ws, ldq,
                                           ldkv, a->B, a->T, a->nh, a->nkv, a->d, a->arg, g_rope_theta, S);
    else
        swa_attention_backward_cuda(a->dq, a->dk, a->dv, a->dout, a->q, a->k, a->v, a->out, a->lse, a->ws, ldq, ldkv,
                                    a->B, a->T, a->nh, a->nkv, a->d, a->arg, g_rope_theta, S);
}
// (query, key) pairs in the key sets of one (b, h): sum over i of |S_i|.
static double att_pairs(int ckpt, int T, int arg) {
    double p = 0.0;
    for (int i = 0; i < T; i++) p += ckpt ? (double)(i / arg + 1) : (double)(i + 1 < arg ? i + 1 : arg);
    return p;
}
// The buffers of a->nh x a->d attention over `rows` (B T) positions: random q, k, v, dO; out, dq, dk, dv, lse;
// ws_bytes of workspace. att_free releases them.
static void att_alloc(att_ctx *a, size_t rows, size_t ws_bytes) {
    const size_t n = rows * a->nh * a->d;
    a->stacked = g_stacked;
    if (g_stacked) { // as the model: q, k, v of one stacked projection's output [rows, QD + 2 KD] (nkv = nh here)
        a->ldq = a->ldkv = 3 * a->nh * a->d;
        char *qkv = dev_random(3 * n, 1, -1.5, 1.5), *dqkv = dev_alloc(3 * n * 2);
        a->q = qkv, a->k = qkv + (size_t)a->nh * a->d * 2, a->v = qkv + (size_t)2 * a->nh * a->d * 2;
        a->dq = dqkv, a->dk = dqkv + (size_t)a->nh * a->d * 2, a->dv = dqkv + (size_t)2 * a->nh * a->d * 2;
    } else {
        a->ldq = a->nh * a->d, a->ldkv = a->nkv * a->d;
        a->q = dev_random(n, 1, -2, 2), a->k = dev_random(n, 1, -2, 2), a->v = dev_random(n, 1, -1, 1);
        a->dq = dev_alloc(n * 2), a->dk = dev_alloc(n * 2), a->dv = dev_alloc(n * 2);
    }
    a->dout = dev_random(n, 1, -1, 1);
    a->out = dev_alloc(n * 2);
    a->lse = dev_alloc(rows * a->nh * 4);
    a->ws = dev_alloc(ws_bytes);
}
static void att_free(att_ctx *a) {
    // The first six are allocations either way; stacked, k, v, dk, dv point into the q and dq allocations.
    void *bufs[] = {a->q, a->out, a->dout, a->dq, a->lse, a->ws, a->k, a->v, a->dk, a->dv};
    for (int i = 0; i < (a->stacked ? 6 : 10); i++) GPU_CHECK(cudaFree(bufs[i]));
}
// The backward's outputs as whole regions of n elements per tensor, for the determinism and difference checks:
// dq, dk, dv, or the one stacked tensor (which holds all three). Returns the number of regions.
static int att_grad_regions(const att_ctx *a, size_t n, void *p[3], size_t elems[3]) {
    if (a->stacked) {
        p[0] = a->dq, elems[0] = 3 * n;
        return 1;
    }
    p[0] = a->dq, p[1] = a->dk, p[2] = a->dv;
    elems[0] = elems[1] = elems[2] = n;
    return 3;
}
static uint64_t att_grad_hash(const att_ctx *a, size_t n) {
    void *p[3];
    size_t elems[3];
    const int nr = att_grad_regions(a, n, p, elems);
    static const uint64_t mul[3] = {1, 31, 131};
    uint64_t h = 0;
    for (int r = 0; r < nr; r++) h ^= dev_hash(p[r], elems[r] * 2) * mul[r];
    return h;
}

static void bench_attention(int ckpt, int B, int T, int nh, int d, int arg) {
    att_ctx a = {.ckpt = ckpt, .B = B, .T = T, .nh = nh, .nkv = nh, .d = d, .arg = arg}; // buffers: att_alloc
    size_t n = (size_t)B * T * nh * d;
    att_alloc(&a, (size_t)B * T,
              ckpt ? checkpoint_attention_backward_workspace_size_cuda(B, T, nh, nh, d, arg)
                   : swa_attention_backward_workspace_size_cuda(B, T, nh, nh, d));
    const double flops = 4.0 * d * att_pairs(ckpt, T, arg) * B * nh;
    char shape[64];
    snprintf(shape, sizeof shape, "B=%d T=%d nh=%d d=%d %s=%d", B, T, nh, d, ckpt ? "s" : "W", arg);
    double ms = time_ms(run_att_fwd, &a);
    uint64_t h1 = dev_hash(a.out, n * 2);
    run_att_fwd(&a);
    int det = h1 == dev_hash(a.out, n * 2);
    row(ckpt ? "ckpt_attention fwd" : "swa_attention fwd", shape, ms, flops / (ms * 1e-3) / 1e12, 0, det);
    ms = time_ms(run_att_bwd, &a);
    h1 = att_grad_hash(&a, n);
    run_att_bwd(&a);
    det = h1 == att_grad_hash(&a, n);
    row(ckpt ? "ckpt_attention bwd" : "swa_attention bwd", shape, ms, 2.5 * flops / (ms * 1e-3) / 1e12, 0, det);
    att_free(&a);
}

// ---- attention tile shapes ------------------------------------------------------------------------------------
// One row per tile-shape choice: forward and backward time of each case below, all from one set of buffers
// (random inputs once, each case using a prefix); whether every output was bit-identical across two runs; and
// the largest difference of out / dq / dk / dv from the first row's, relative to the largest magnitude of that
// tensor (different shapes sum in a different order: ~1e-2 is rounding, ~1 a broken shape; a check on the
// device, where races that the CPU emulator serialises would show).


typedef struct { const char *name; int ckpt, B, T, arg; } att_case;

// The choices when none are given: the default, the original shapes, then every other shape of the forward and
// dq kernels (paired by index, dk/dv at its first shape) and of the dk/dv kernel (forward and dq at their
// first): the backward's differences between rows then belong to one kernel.
static int default_tile_specs(char specs[][128], int max) {
    int n = 0;
    scout_cuda_attention_set_tiles("");
    snprintf(specs[n++], 128, "%s", scout_cuda_attention_tiles());
    char f0b[32], q0b[32], k0b[32]; // copies: the names come in one static buffer
    snprintf(f0b, sizeof f0b, "%s", scout_cuda_attention_tile_name(0, 0));
    snprintf(q0b, sizeof q0b, "%s", scout_cuda_attention_tile_name(1, 0));
    snprintf(k0b, sizeof k0b, "%s", scout_cuda_attention_tile_name(2, 0));
    snprintf(specs[n], 128, "fwd=%s,dq=%s,dkdv=%s", f0b, q0b, k0b);
    if (strcmp(specs[n], specs[0]) != 0) n++;
    for (int i = 1; n < max; i++) {
        const char *f = scout_cuda_attention_tile_name(0, i);
        const int has_f = f != NULL;
        char fb[32];
        snprintf(fb, sizeof fb, "%s", has_f ? f : f0b);
        const char *q = scout_cuda_attention_tile_name(1, i);
        if (!has_f && !q) break;
        snprintf(specs[n++], 128, "fwd=%s,dq=%s,dkdv=%s", fb, q ? q : q0b, k0b);
    }
    for (int i = 1; n < max; i++) {
        const char *k = scout_cuda_attention_tile_name(2, i);
        if (!k) break;
        snprintf(specs[n++], 128, "fwd=%s,dq=%s,dkdv=%s", f0b, q0b, k);
    }
    return n;
}

// Host copies of a device tensor's bf16 bits.
static uint16_t *host_bits(const void *d, size_t n) {
    uint16_t *h = malloc(n * 2);
    GPU_CHECK(cudaMemcpy(h, d, n * 2, cudaMemcpyDeviceToHost));
    return h;
}
// max |a - ref| / max |ref|
static double rel_diff(const uint16_t *a, const uint16_t *ref, size_t n) {
    double md = 0.0, mr = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = bf_bits2f(ref[i]), d = fabs((double)bf_bits2f(a[i]) - r);
        if (d > md || d != d) md = d != d ? INFINITY : d;
        if (fabs(r) > mr) mr = fabs(r);
    }
    return mr > 0 ? md / mr : md;
}

static void bench_attention_tiles(const char *list) {
    const int nh = 16, d = 64, tiny = g_tiny;
    const att_case cases[] = {
        {"swa 8x2K", 0, tiny ? 2 : 8, tiny ? 200 : 2048, tiny ? 70 : 1024},   // scout_swa_470m: W 1024
        {"ckpt 8x2K", 1, tiny ? 2 : 8, tiny ? 200 : 2048, 10},                // its checkpoint attention, s 10
        {"swa 1x32K", 0, 1, tiny ? 300 : 32768, tiny ? 70 : 1024},
        {"ckpt 1x32K", 1, 1, tiny ? 300 : 32768, 10},
        {"causal 1x32K", 0, 1, tiny ? 300 : 32768, tiny ? 300 : 32768}, // W = T: the qwen2 baseline
    };
    enum { NC = sizeof cases / sizeof cases[0], MAXV = 64 };
    static char specs[MAXV][128];
    int nv = 0;
    if (list) {
        for (const char *p = list; *p && nv < MAXV;) {
            const char *e = strchr(p, ';');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > 0) snprintf(specs[nv++], 128, "%.*s", (int)n, p);
            p = e ? e + 1 : p + n;
        }
    } else nv = default_tile_specs(specs, MAXV);
    for (int v = 0; v < nv; v++)
        if (scout_cuda_attention_set_tiles(specs[v]) != 0) {
            fprintf(stderr, "bench_gpu: bad tile spec \"%s\"\n", specs[v]);
            exit(2);
        }

    size_t rows_max = 0; // B * T
    for (int c = 0; c < NC; c++)
        if ((size_t)cases[c].B * cases[c].T > rows_max) rows_max = (size_t)cases[c].B * cases[c].T;
    att_ctx a = {.nh = nh, .nkv = nh, .d = d}; // the case's ckpt, B, T, arg set per case below; buffers: att_alloc
    const size_t ws_swa = swa_attention_backward_workspace_size_cuda(1, (int)rows_max, nh, nh, d);
    // s = 10 as in the cases; (1, B T) needs at least what any (B, T) of the same rows does (more splits, as
    // many keys)
    const size_t ws_ckpt = checkpoint_attention_backward_workspace_size_cuda(1, (int)rows_max, nh, nh, d, 10);
    att_alloc(&a, rows_max, ws_swa > ws_ckpt ? ws_swa : ws_ckpt); // both grow with B * T
    uint16_t *ref[NC][4] = {{NULL}}; // the first row's outputs

    printf("attention tile shapes: ms and TFLOP/s per case (backward TFLOP/s: 2.5x the forward's useful FLOPs)\n");
    printf("cases:");
    for (int c = 0; c < NC; c++)
        printf("  %s = B=%d T=%d nh=%d d=%d %s=%d%s", cases[c].name, cases[c].B, cases[c].T, nh, d,
               cases[c].ckpt ? "s" : "W", cases[c].arg, c + 1 < NC ? ";" : "\n");
    printf("%-40s", "");
    for (int c = 0; c < NC; c++) printf(" | %-29s", cases[c].name);
    printf(" |\n%-40s", "tiles");
    for (int c = 0; c < NC; c++) printf(" | %7s %6s %7s %6s", "fwd ms", "TF/s", "bwd ms", "TF/s");
    printf(" | %3s %7s\n", "det", "diff");
    for (int v = 0; v < nv; v++) {
        scout_cuda_attention_set_tiles(specs[v]);
        printf("%-40s", scout_cuda_attention_tiles());
        fflush(stdout);
        int det = 1;
        double diff = 0.0;
        for (int c = 0; c < NC; c++) {
            a.ckpt = cases[c].ckpt, a.B = cases[c].B, a.T = cases[c].T, a.arg = cases[c].arg;
            const size_t n = (size_t)a.B * a.T * nh * d;
            const double flops = 4.0 * d * att_pairs(a.ckpt, a.T, a.arg) * a.B * nh;
            const double fms = time_ms(run_att_fwd, &a);
            uint16_t *o1 = host_bits(a.out, n);
            run_att_fwd(&a);
            uint16_t *o2 = host_bits(a.out, n);
            det &= memcmp(o1, o2, n * 2) == 0;
            free(o2);
            const double bms = time_ms(run_att_bwd, &a);
            void *gd[3];
            size_t ge[3];
            const int nr = att_grad_regions(&a, n, gd, ge);
            uint16_t *outs[4] = {o1};
            size_t out_n[4] = {n};
            for (int t = 0; t < nr; t++) outs[1 + t] = host_bits(gd[t], ge[t]), out_n[1 + t] = ge[t];
            run_att_bwd(&a);
            for (int t = 0; t < nr; t++) {
                uint16_t *g2 = host_bits(gd[t], ge[t]);
                det &= memcmp(outs[1 + t], g2, ge[t] * 2) == 0;
                free(g2);
            }
            for (int t = 0; t < 1 + nr; t++) {
                if (v == 0) ref[c][t] = outs[t];
                else {
                    double r = rel_diff(outs[t], ref[c][t], out_n[t]);
                    if (r > diff || r != r) diff = r;
                    free(outs[t]);
                }
            }
            printf(" | %7.3f %6.1f %7.3f %6.1f", fms, flops / (fms * 1e-3) / 1e12, bms,
                   2.5 * flops / (bms * 1e-3) / 1e12);
            fflush(stdout);
        }
        printf(" | %3s %7.1e\n", det ? "yes" : "NO", diff);
    }
    for (int c = 0; c < NC; c++)
        for (int t = 0; t < 4; t++) free(ref[c][t]);
    att_free(&a);
    scout_cuda_attention_set_tiles(""); // back to the default
}

// ---- selective scan and conv -------------------------------------------------------------------------------------

typedef struct {
    int B, T, E, N, r, K;
    void *u, *dt, *xd, *xz, *y, *dy, *du, *ddt, *dxd, *dxz, *ws, *conv_w, *conv_b, *conv_out;
    float *dt_bias, *A_log, *D, *dA, *dD, *ddtb, *state, *dcw, *dcb;
} scan_ctx;
static void run_scan_fwd(void *c) {
    scan_ctx *s = c;
    int bcs = s->r + 2 * s->N;
    selective_scan_forward_cuda(s->y, s->state, s->u, s->dt, s->dt_bias, s->A_log, (uint16_t *)s->xd + s->r,
                                (uint16_t *)s->xd + s->r + s->N, bcs, s->D, (uint16_t *)s->xz + s->E, 2 * s->E, s->B,
                                s->T, s->E, s->N, S);
}
static void run_scan_bwd(void *c) {
    scan_ctx *s = c;
    int bcs = s->r + 2 * s->N;
    selective_scan_backward_cuda(s->du, s->ddt, (uint16_t *)s->dxd + s->r, (uint16_t *)s->dxd + s->r + s->N,
                                 (uint16_t *)s->dxz + s->E, s->dA, s->dD, s->ddtb, s->dy, s->u, s->dt, s->dt_bias,
                                 s->A_log, (uint16_t *)s->xd + s->r, (uint16_t *)s->xd + s->r + s->N, bcs, s->D,
                                 (uint16_t *)s->xz + s->E, 2 * s->E, s->ws, s->B, s->T, s->E, s->N, S);
}
static void run_conv_fwd(void *c) {
    scan_ctx *s = c;
    causal_conv1d_forward_cuda(s->conv_out, s->xz, 2 * s->E, s->conv_w, s->conv_b, s->B, s->T, s->E, s->K, S);
}
static void run_conv_bwd(void *c) {
    scan_ctx *s = c;
    causal_conv1d_backward_cuda(s->dxz, s->dcw, s->dcb, s->dy, s->xz, 2 * s->E, s->conv_w, s->ws, s->B, s->T, s->E,
                                s->K, S);
}
static void bench_scan(int B, int T, int E, int N) {
    scan_ctx s;
    memset(&s, 0, sizeof s);
    s.B = B, s.T = T, s.E = E, s.N = N, s.r = 128, s.K = 4;
    size_t nte = (size_t)B * T * E, nbc = (size_t)B * T * (s.r + 2 * N), nxz = 2 * nte;
    s.u = dev_random(nte, 1, -1, 1), s.dt = dev_random(nte, 1, -4, 0), s.xd = dev_random(nbc, 1, -1, 1);
    s.xz = dev_random(nxz, 1, -2, 2), s.dy = dev_random(nte, 1, -1, 1);
    s.dt_bias = dev_random((size_t)E, 0, -4, -2), s.A_log = dev_random((size_t)E * N, 0, 0, 2.7);
    s.D = dev_random((size_t)E, 0, 0.5, 1.5);
    s.y = dev_alloc(nte * 2), s.du = dev_alloc(nte * 2), s.ddt = dev_alloc(nte * 2), s.dxd = dev_alloc(nbc * 2);
    s.dxz = dev_alloc(nxz * 2), s.state = dev_alloc((size_t)B * E * N * 4);
    s.dA = dev_random((size_t)E * N, 0, 0, 0), s.dD = dev_random((size_t)E, 0, 0, 0), s.ddtb = dev_random((size_t)E, 0, 0, 0);
    s.conv_w = dev_random((size_t)E * s.K, 1, -0.5, 0.5), s.conv_b = dev_random((size_t)E, 1, -0.5, 0.5);
    s.conv_out = dev_alloc(nte * 2);
    s.dcw = dev_random((size_t)E * s.K, 0, 0, 0), s.dcb = dev_random((size_t)E, 0, 0, 0);
    size_t ws = selective_scan_backward_workspace_size_cuda(B, T, E, N);
    size_t cws = causal_conv1d_backward_workspace_size_cuda(B, T, E, s.K);
    s.ws = dev_alloc(ws > cws ? ws : cws);
    char shape[64];
    snprintf(shape, sizeof shape, "B=%d T=%d E=%d N=%d", B, T, E, N);
    // Minimal traffic: forward reads u, dt, z and B, C rows, writes y; backward also reads dy and writes du, ddt,
    // dz, dB, dC.
    const double bc = (double)B * T * 2 * N * 2;
    double fwd_bytes = (double)nte * 2 * 4 + bc, bwd_bytes = (double)nte * 2 * 7 + 2 * bc;
    double ms = time_ms(run_scan_fwd, &s);
    uint64_t h = dev_hash(s.y, nte * 2);
    run_scan_fwd(&s);
    row("selective_scan fwd", shape, ms, 0, fwd_bytes / (ms * 1e-3) / 1e9, h == dev_hash(s.y, nte * 2));
    ms = time_ms(run_scan_bwd, &s);
    h = dev_hash(s.du, nte * 2) ^ dev_hash(s.ddt, nte * 2) * 31 ^ dev_hash(s.dxd, nbc * 2) * 131;
    run_scan_bwd(&s);
    int det = h == (dev_hash(s.du, nte * 2) ^ dev_hash(s.ddt, nte * 2) * 31 ^ dev_hash(s.dxd, nbc * 2) * 131);
    row("selective_scan bwd", shape, ms, 0, bwd_bytes / (ms * 1e-3) / 1e9, det);
    snprintf(shape, sizeof shape, "B=%d T=%d E=%d K=%d", B, T, E, s.K);
    ms = time_ms(run_conv_fwd, &s);
    row("causal_conv1d fwd", shape, ms, 0, (double)nte * 2 * 2 / (ms * 1e-3) / 1e9, -1);
    ms = time_ms(run_conv_bwd, &s);
    row("causal_conv1d bwd", shape, ms, 0, (double)nte * 2 * 3 / (ms * 1e-3) / 1e9, -1);
    void *bufs[] = {s.u, s.dt, s.xd, s.xz, s.dy, s.dt_bias, s.A_log, s.D, s.y, s.du, s.ddt, s.dxd, s.dxz, s.state,
                    s.dA, s.dD, s.ddtb, s.conv_w, s.conv_b, s.conv_out, s.dcw, s.dcb, s.ws};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) GPU_CHECK(cudaFree(bufs[i]));
}

int main(int argc, char **argv) {
    int attn_tiles = 0;
    const char *attn_list = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) g_quick = 1;
        else if (strcmp(argv[i], "--tiny") == 0) g_quick = g_tiny = 1, kReps = 1;
        else if (strcmp(argv[i], "--rope") == 0) g_rope_theta = 1e6f;
        else if (strcmp(argv[i], "--stacked") == 0) g_stacked = 1;
        else if (strcmp(argv[i], "--attn-tiles") == 0) {
            attn_tiles = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-') attn_list = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick | --tiny] [--rope] [--stacked] [--attn-tiles [SPEC;SPEC;...]]\n",
                    argv[0]);
            return 2;
        }
    }
    const char *reps = getenv("BENCH_REPS");
    if (reps) {
        kReps = atoi(reps);
        if (kReps < 1 || kReps > 64) {
            fprintf(stderr, "bench_gpu: BENCH_REPS=%s is not 1 to 64\n", reps);
            return 2;
        }
    }
    struct cudaDeviceProp prop;
    GPU_CHECK(cudaGetDeviceProperties(&prop, 0));
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv), cudaRuntimeGetVersion(&rt);
    printf("device: %s, %d SMs, %.0f MiB L2; driver API %d, runtime %d\n", prop.name, prop.multiProcessorCount,
           prop.l2CacheSize / 1048576.0, drv, rt);
    S = scout_cuda_stream();
    GPU_CHECK(cudaEventCreate(&ev0));
    GPU_CHECK(cudaEventCreate(&ev1));
    if (attn_tiles) {
        bench_attention_tiles(attn_list);
        return 0;
    }
    ceilings();
    printf("%-26s %-34s %9s %9s %8s %11s %5s\n", "kernel", "shape", "ms", "TFLOP/s", "GB/s", "of ceiling", "det");
    const int Ts[2][2] = {{8, 2048}, {1, 32768}};
    for (int c = 0; c < (g_quick ? 1 : 2); c++) {
        int B = g_quick ? 1 : Ts[c][0], T = g_tiny ? 200 : g_quick ? 1024 : Ts[c][1], nh = g_tiny ? 2 : 16;
        bench_attention(0, B, T, nh, 64, g_tiny ? 70 : 1024); // scout_swa_470m: n_h 16, d 64, W 1024
        bench_attention(1, B, T, nh, 64, 10);                 // and its checkpoint attention, s 10
    }
    for (int c = 0; c < (g_quick ? 1 : 2); c++) {
        int B = g_quick ? 1 : Ts[c][0], T = g_tiny ? 200 : g_quick ? 1024 : Ts[c][1];
        bench_scan(B, T, g_tiny ? 48 : 2048, 16); // scout_mamba_430m: E 2048, N 16 (r 128, conv k 4)
    }
    return 0;
}
