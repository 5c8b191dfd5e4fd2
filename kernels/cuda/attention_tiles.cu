// attention_tiles.cu: which tile shape each tensor-core attention kernel runs (attention.cuh's Tile<> and
// TileChoice, shared by swa_attention.cu and checkpoint_attention.cu): the measured default, SCOUT_ATTN_TILES
// over it (read once), and the setters and names tests/gpu/bench_gpu uses to time every shape.
#include "cuda/attention.cuh"

namespace attn {

// The default shapes, by name (see Tile<>), the fastest on an H200 over the five cases of tests/gpu/bench_gpu
// --attn-tiles (scout_swa_470m's window and checkpoint attention at 8 x 2048 and 1 x 32768, causal 1 x 32768;
// BENCHMARKS.md, 2026-11-28): all three with 128-row blocks of 4 warps of 32 rows, each fragment read from
// shared memory feeding two mma. Against the original "fwd=64x64,dq=64x64,dkdv=64x64": forward -6% (swa 8 x 2K)
// to -15% (causal 32K), backward -10% (swa 8 x 2K) to -14% (causal 32K); the checkpoint backward at 8 x 2K is
// the one case a little slower (+2%).
static const char *const kDefaultTiles = "fwd=128x64w4,dq=128x64w4,dkdv=128x64w4";
// Where the warpgroup-MMA kernels exist (sm_90a build on an sm_90 GPU, attention_sm90.cuh), these instead: the
// fastest over the same five cases on the H200 (BENCHMARKS.md, 2026-11-29): one warpgroup of 64 rows per block
// for the backward kernels, 2 / 3 blocks per SM (two warpgroups per block were 10-25% slower: they stall on
// each other at every barrier); for the forward the two-warpgroup blocks by a hair (better at 32K, 3% worse at
// 2K than wg64x64s4b3). The dk/dv kernel's 4-stage ring (eighth round, after the kernels' RoPE epilogues and
// self-row copies): every case's backward 1-3% faster than with 3 stages in each of four runs (window 8 x 2048
// 0.505-0.509 against 0.514-0.519 ms, checkpoint 32K 1.83-1.86 against 1.85-1.89).
static const char *const kDefaultTilesSm90 = "fwd=wg128x64s4b2,dq=wg64x64s3b3,dkdv=wg64x64s4b2";

// What the compilation of the running device's code saw: 1 where the warpgroup kernels exist (sm_90a).
static __global__ void attn_wg_probe_kernel(int *built) {
#ifdef SCOUT_WGMMA_DEVICE
    *built = 1;
#else
    *built = 0;
#endif
}

// Whether this build runs the warpgroup kernels on the current device: attn_wg_probe_kernel reports what its
// compilation saw (a build without sm_90a code, or a device that is not sm_90, runs the mma.sync ones). Asked once.
static bool wgmma_available() {
    static const bool ok = [] {
        int *d = NULL, h = 0;
        cudaCheck(cudaMalloc((void **)&d, sizeof(int)));
        cudaCheck(cudaMemset(d, 0, sizeof(int)));
        attn_wg_probe_kernel<<<1, 1>>>(d);
        const bool launched = cudaGetLastError() == cudaSuccess; // no image for this device: not available
        if (launched) cudaCheck(cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost));
        cudaCheck(cudaFree(d));
        return launched && h == 1;
    }();
    return ok;
}
template <class List> static bool is_wgmma(int i) {
    bool wgmma = false;
    List::visit(i, [&](auto t) { wgmma = decltype(t)::kWgmma; });
    return wgmma;
}

// spec: comma-separated KERNEL=SHAPE with KERNEL fwd, dq or dkdv, e.g. "fwd=128x64w4,dkdv=128x64"; kernels it
// does not name keep the default shape. 0 and *out set, or -1 and a message on stderr listing the shapes.
template <class List> static int parse_one(const char *kernel, const char *name, size_t len, int *out) {
    const int i = List::find(name, len);
    if (i >= 0) {
        *out = i;
        return 0;
    }
    fprintf(stderr, "[SCOUT CUDA] attention tiles: no %s shape \"%.*s\"; the shapes are:", kernel, (int)len, name);
    for (int j = 0; j < List::kCount; j++)
        List::visit(j, [](auto t) {
            char buf[32];
            decltype(t)::name(buf, sizeof buf);
            fprintf(stderr, " %s", buf);
        });
    fprintf(stderr, "\n");
    return -1;
}
static int parse_tiles_over(const char *spec, TileChoice *tc) {
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        const size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = (const char *)memchr(p, '=', n);
        const size_t kn = eq ? (size_t)(eq - p) : n, vn = eq ? n - kn - 1 : 0;
        auto is = [&](const char *kernel) { return eq && kn == strlen(kernel) && strncmp(p, kernel, kn) == 0; };
        int rc = -1;
        if (is("fwd")) rc = parse_one<FwdTiles>("fwd", eq + 1, vn, &tc->fwd);
        else if (is("dq")) rc = parse_one<DqTiles>("dq", eq + 1, vn, &tc->dq);
        else if (is("dkdv")) rc = parse_one<DkdvTiles>("dkdv", eq + 1, vn, &tc->dkdv);
        else fprintf(stderr, "[SCOUT CUDA] attention tiles: \"%.*s\" is not fwd=, dq= or dkdv=SHAPE\n", (int)n, p);
        if (rc != 0) return -1;
        p = end ? end + 1 : p + n;
    }
    return 0;
}
// The default, then spec over it.
static int parse_tiles(const char *spec, TileChoice *tc) {
    TileChoice d = {0, 0, 0};
    const bool sm90 = wgmma_available();
    if (parse_tiles_over(sm90 ? kDefaultTilesSm90 : kDefaultTiles, &d) != 0 || parse_tiles_over(spec, &d) != 0)
        return -1;
    if (!sm90 && (is_wgmma<FwdTiles>(d.fwd) || is_wgmma<DqTiles>(d.dq) || is_wgmma<DkdvTiles>(d.dkdv))) {
        fprintf(stderr, "[SCOUT CUDA] attention tiles \"%s\": the wg shapes need an sm_90 GPU and a build for "
                        "sm_90a (make CUDA_ARCH=sm_90a)\n", spec);
        return -1;
    }
    *tc = d;
    return 0;
}

TileChoice &tile_choice() {
    static TileChoice tc = [] {
        TileChoice c;
        const char *env = getenv("SCOUT_ATTN_TILES");
        scout_require(parse_tiles(env ? env : "", &c) == 0, "SCOUT_ATTN_TILES=\"%s\" is not valid", env ? env : "");
        return c;
    }();
    return tc;
}

} // namespace attn

// Sets the shapes (spec as SCOUT_ATTN_TILES; "" = the default) for the launches that follow: 0, or -1 and
// nothing changed when spec is not valid. For benchmarks (tests/gpu/bench_gpu); not thread-safe against
// concurrent launches.
extern "C" int scout_cuda_attention_set_tiles(const char *spec) {
    attn::TileChoice c;
    if (attn::parse_tiles(spec ? spec : "", &c) != 0) return -1;
    attn::tile_choice() = c;
    return 0;
}

// The name of shape i of kernel 0 (fwd), 1 (dq) or 2 (dkdv), or NULL past the last; a static buffer.
extern "C" const char *scout_cuda_attention_tile_name(int kernel, int i) {
    static char buf[32];
    auto name = [&](auto t) { decltype(t)::name(buf, sizeof buf); };
    if (i < 0) return NULL;
    if (kernel == 0 && i < attn::FwdTiles::kCount) attn::FwdTiles::visit(i, name);
    else if (kernel == 1 && i < attn::DqTiles::kCount) attn::DqTiles::visit(i, name);
    else if (kernel == 2 && i < attn::DkdvTiles::kCount) attn::DkdvTiles::visit(i, name);
    else return NULL;
    return buf;
}

// The shapes in use, as a spec ("fwd=64x64,dq=64x64,dkdv=64x64"); a static buffer.
extern "C" const char *scout_cuda_attention_tiles(void) {
    static char buf[128];
    char f[32], q[32], kv[32];
    const attn::TileChoice c = attn::tile_choice();
    attn::FwdTiles::visit(c.fwd, [&](auto t) { decltype(t)::name(f, sizeof f); });
    attn::DqTiles::visit(c.dq, [&](auto t) { decltype(t)::name(q, sizeof q); });
    attn::DkdvTiles::visit(c.dkdv, [&](auto t) { decltype(t)::name(kv, sizeof kv); });
    snprintf(buf, sizeof buf, "fwd=%s,dq=%s,dkdv=%s", f, q, kv);
    return buf;
}

// 1 when the warpgroup-MMA kernels run here (sm_90a build, sm_90 GPU), else 0.
extern "C" int scout_cuda_attention_wgmma(void) { return attn::wgmma_available() ? 1 : 0; }
