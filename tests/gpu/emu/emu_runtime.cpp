// emu_runtime.cpp: the CPU side of the CUDA emulator (cuda_emu.h says what it models): a fiber scheduler for
// the threads of a block, the CUDA runtime calls kernels/cuda/ makes, and a reference cuBLASLt matmul.
//
// Every "device" pointer is host memory, so cudaMemcpy of any kind is memcpy. Streams and events are tokens;
// work runs at launch time, in program order.
#include "cuda_emu.h"

// The runtime itself names the fields the kernels reach through these macros.
#undef threadIdx
#undef blockIdx
#undef blockDim
#undef gridDim
#undef warpSize

#include <cublasLt.h>

#include <stdarg.h>
#include <time.h>

#include <vector>

// ---- errors ------------------------------------------------------------------------------------------------

void emu_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cuda-emu: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

// ---- fibers: a minimal x86-64 context switch (callee-saved registers, MXCSR, x87 control word) ----------
// emu_switch(&save_sp, next_sp) stores the current stack pointer in save_sp and resumes next_sp. A new fiber's
// stack is laid out as if it had called emu_switch: its return address is emu_fiber_start, which calls
// r13(r12), i.e. fiber_main(fiber).

#if !defined(__x86_64__)
#error "the CUDA emulator's context switch is written for x86-64"
#endif

extern "C" void emu_switch(void **save_sp, void *next_sp);
extern "C" void emu_fiber_start(void);
__asm__(".text\n"
        ".globl emu_switch\n"
        "emu_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n  stmxcsr (%rsp)\n  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n  fldcw 4(%rsp)\n  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".globl emu_fiber_start\n"
        "emu_fiber_start:\n"
        "  movq %r12, %rdi\n  callq *%r13\n  ud2\n");

enum { F_RUN, F_WAIT_BLOCK, F_WAIT_WARP, F_DONE };

struct emu_fiber {
    void *sp;
    char *stack;
    int state;
    int linear; // linear thread index in the block
    emu_thread_ids ids;
    emu_wg_queue wg; // its wgmma products in flight (cuda_emu.h)
};

struct emu_warp {
    int n_lanes, n_done, arrived;
    uint64_t slots[32][8];
};

static const size_t kStackBytes = 256 * 1024;

static struct {
    std::vector<emu_fiber> fibers;
    std::vector<emu_warp> warps;
    int n_live, block_arrived;
    void *sched_sp;
    emu_fiber *cur;
    std::function<void()> *body;
    char *dyn_smem;
} S;

const emu_thread_ids &emu_ids(void) {
    if (!S.cur) emu_fatal("threadIdx/blockIdx read outside a kernel");
    return S.cur->ids;
}

int emu_lane(void) { return S.cur->linear & 31; }
char *emu_dyn_smem(void) { return S.dyn_smem; }
emu_wg_queue &emu_wg(void) { return S.cur->wg; }

static void yield_to_scheduler(void) { emu_switch(&S.cur->sp, S.sched_sp); }

static void fiber_main(void *arg) {
    emu_fiber *f = (emu_fiber *)arg;
    (*S.body)();
    if (f->wg.n_ops > 0) emu_fatal("thread %d exited with %d wgmma products never waited for", f->linear, f->wg.n_ops);
    f->state = F_DONE;
    S.n_live--;
    emu_warp &w = S.warps[f->linear / 32];
    w.n_done++;
    if (w.arrived > 0)
        emu_fatal("thread %d exited while other lanes of its warp wait in a warp collective", f->linear);
    if (S.block_arrived > 0 && S.block_arrived == S.n_live) { // the last one outside __syncthreads left
        S.block_arrived = 0;
        for (auto &g : S.fibers)
            if (g.state == F_WAIT_BLOCK) g.state = F_RUN;
    }
    emu_switch(&f->sp, S.sched_sp);
    emu_fatal("a finished fiber was resumed");
}

void emu_syncthreads(void) {
    S.block_arrived++;
    if (S.block_arrived == S.n_live) {
        S.block_arrived = 0;
        for (auto &g : S.fibers)
            if (g.state == F_WAIT_BLOCK) g.state = F_RUN;
        return;
    }
    S.cur->state = F_WAIT_BLOCK;
    yield_to_scheduler();
}

static void warp_barrier(void) {
    emu_fiber *f = S.cur;
    emu_warp &w = S.warps[f->linear / 32];
    if (w.n_done > 0) emu_fatal("warp collective in warp %d after %d of its lanes exited", f->linear / 32, w.n_done);
    w.arrived++;
    if (w.arrived == w.n_lanes) {
        w.arrived = 0;
        int first = (f->linear / 32) * 32;
        for (int l = 0; l < w.n_lanes; l++)
            if (S.fibers[first + l].state == F_WAIT_WARP) S.fibers[first + l].state = F_RUN;
        return;
    }
    f->state = F_WAIT_WARP;
    yield_to_scheduler();
}

void emu_syncwarp(void) { warp_barrier(); }

uint64_t *emu_warp_deposit(const uint64_t *words, int n_words) {
    if (n_words > 8) emu_fatal("warp deposit of %d words", n_words);
    emu_warp &w = S.warps[S.cur->linear / 32];
    uint64_t *slot = w.slots[S.cur->linear & 31];
    memcpy(slot, words, (size_t)n_words * sizeof(uint64_t));
    warp_barrier();
    return slot;
}

const uint64_t *emu_warp_slot(int lane) {
    emu_warp &w = S.warps[S.cur->linear / 32];
    if (lane < 0 || lane >= w.n_lanes) emu_fatal("warp collective reads lane %d of a %d-lane warp", lane, w.n_lanes);
    return w.slots[lane];
}

void emu_warp_release(void) { warp_barrier(); }

static void run_block(dim3 grid, dim3 block, uint3 bid, size_t dyn) {
    int n = (int)(block.x * block.y * block.z);
    for (int i = 0; i < n; i++) {
        emu_fiber &f = S.fibers[i];
        f.state = F_RUN;
        f.linear = i;
        f.ids.threadIdx = make_uint3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
        f.ids.blockIdx = bid;
        f.ids.blockDim = block;
        f.ids.gridDim = grid;
        f.wg.n_ops = f.wg.n_committed = 0;
        // Initial frame, from the 16-byte aligned top down: return address, rbp, rbx, r12, r13, r14, r15, the
        // MXCSR / x87 control words (see emu_switch).
        uint64_t *top = (uint64_t *)(((uintptr_t)(f.stack + kStackBytes)) & ~(uintptr_t)15);
        uint64_t *sp = top - 10;
        sp[0] = 0x037F00001F80ull;              // mxcsr = 0x1F80 (low 4 bytes), x87 cw = 0x037F
        sp[1] = 0;                              // r15
        sp[2] = 0;                              // r14
        sp[3] = (uint64_t)(uintptr_t)fiber_main; // r13: entry
        sp[4] = (uint64_t)(uintptr_t)&f;        // r12: argument
        sp[5] = 0;                              // rbx
        sp[6] = 0;                              // rbp
        sp[7] = (uint64_t)(uintptr_t)emu_fiber_start;
        f.sp = sp;
    }
    S.warps.assign((n + 31) / 32, emu_warp{});
    for (int w = 0; w < (n + 31) / 32; w++) S.warps[w].n_lanes = std::min(32, n - 32 * w);
    S.n_live = n;
    S.block_arrived = 0;
    if (dyn) memset(S.dyn_smem, 0xFF, dyn); // NaN: a read of shared memory nothing wrote shows up
    while (S.n_live > 0) {
        bool ran = false;
        for (int i = 0; i < n; i++) {
            if (S.fibers[i].state != F_RUN) continue;
            S.cur = &S.fibers[i];
            emu_switch(&S.sched_sp, S.fibers[i].sp);
            ran = true;
        }
        if (!ran && S.n_live > 0) {
            int wb = 0, ww = 0;
            for (int i = 0; i < n; i++) wb += S.fibers[i].state == F_WAIT_BLOCK, ww += S.fibers[i].state == F_WAIT_WARP;
            emu_fatal("deadlock in block (%u,%u,%u): %d threads wait in __syncthreads, %d in a warp collective, "
                      "%d exited", bid.x, bid.y, bid.z, wb, ww, n - S.n_live);
        }
    }
    S.cur = NULL;
}

void emu_launch(dim3 grid, dim3 block, size_t dyn_smem, cudaStream_t stream, std::function<void()> body) {
    (void)stream;
    int n = (int)(block.x * block.y * block.z);
    if (n <= 0 || n > 1024) emu_fatal("launch with %d threads per block", n);
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) emu_fatal("launch with an empty grid");
    if (dyn_smem > 227 * 1024) emu_fatal("launch with %zu bytes of dynamic shared memory", dyn_smem);
    if (S.cur) emu_fatal("kernel launch from inside a kernel");
    S.fibers.resize(n);
    for (auto &f : S.fibers)
        if (!f.stack) f.stack = (char *)malloc(kStackBytes);
    S.body = &body;
    // 1024-byte aligned as the device's shared window is: the 128-byte swizzle (wgmma) XORs address bits.
    S.dyn_smem = (char *)aligned_alloc(1024, dyn_smem ? (dyn_smem + 1023) / 1024 * 1024 : 1024);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) run_block(grid, block, make_uint3(x, y, z), dyn_smem);
    free(S.dyn_smem);
    S.dyn_smem = NULL;
}

// ---- CUDA runtime ----------------------------------------------------------------------------------------

extern "C" {

cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = aligned_alloc(256, bytes ? (bytes + 255) / 256 * 256 : 256);
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0xFF, bytes); // cudaMalloc'd memory is garbage: make it NaN
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    (void)kind;
    if (bytes) memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
    (void)s;
    return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t s) {
    (void)kind, (void)s;
    if (width > dpitch || width > spitch) return cudaErrorInvalidPitchValue;
    for (size_t r = 0; r < height; r++) memmove((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int v, size_t bytes) {
    memset(p, v, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t bytes, cudaStream_t s) {
    (void)s;
    return cudaMemset(p, v, bytes);
}
cudaError_t cudaStreamCreate(cudaStream_t *s) {
    static int token;
    *s = (cudaStream_t)&token;
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    (void)flags;
    return cudaStreamCreate(s);
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    (void)s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    (void)s;
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaPeekAtLastError(void) { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
cudaError_t cudaGetDevice(int *d) {
    *d = 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
    (void)d;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    (void)d;
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "CUDA emulator (CPU)");
    p->major = 9, p->minor = 0;
    p->multiProcessorCount = 132;
    p->sharedMemPerBlockOptin = 227 * 1024;
    p->sharedMemPerBlock = 48 * 1024;
    p->l2CacheSize = 50 * 1024 * 1024;
    p->warpSize = 32;
    p->totalGlobalMem = (size_t)16 << 30;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr attr, int d) {
    (void)d;
    switch (attr) {
    case cudaDevAttrMultiProcessorCount: *v = 132; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 227 * 1024; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = 48 * 1024; break;
    case cudaDevAttrComputeCapabilityMajor: *v = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; break;
    default: *v = 0;
    }
    return cudaSuccess;
}
cudaError_t cudaFuncSetAttribute(const void *f, cudaFuncAttribute attr, int value) {
    (void)f, (void)attr;
    if (value > 227 * 1024) return cudaErrorInvalidValue;
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total) {
    *free_b = (size_t)8 << 30, *total = (size_t)16 << 30;
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v) {
    *v = 13000;
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *v) {
    *v = 13000;
    return cudaSuccess;
}

struct emu_event {
    double t;
};
static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = (cudaEvent_t) new emu_event{0.0};
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    (void)flags;
    return cudaEventCreate(e);
}
// Every launch runs to completion when it is made, so one stream waiting on another has nothing to wait for.
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
    (void)s, (void)e, (void)flags;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete (emu_event *)e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    (void)s;
    ((emu_event *)e)->t = now_ms();
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    (void)e;
    return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    *ms = (float)(((emu_event *)b)->t - ((emu_event *)a)->t);
    return cudaSuccess;
}

} // extern "C"

// ---- cuBLASLt: a naive column-major GEMM behind the descriptors kernels/cuda/linear.cu sets ----------------

struct emu_lt_desc {
    cublasOperation_t ta, tb;
    cublasLtEpilogue_t epilogue;
    const void *bias;
    cudaDataType bias_type;
    bool bias_type_set;
};
struct emu_lt_layout {
    cudaDataType type;
    uint64_t rows, cols;
    int64_t ld;
};
static_assert(sizeof(emu_lt_desc) <= sizeof(cublasLtMatmulDescOpaque_t), "descriptor storage");
static_assert(sizeof(emu_lt_layout) <= sizeof(cublasLtMatrixLayoutOpaque_t), "layout storage");

static float lt_load(const void *p, cudaDataType t, size_t i) {
    if (t == CUDA_R_32F) return ((const float *)p)[i];
    if (t == CUDA_R_16BF) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    emu_fatal("cuBLASLt emulation: data type %d", (int)t);
    return 0.0f;
}
static void lt_store(void *p, cudaDataType t, size_t i, float v) {
    if (t == CUDA_R_32F) ((float *)p)[i] = v;
    else if (t == CUDA_R_16BF) ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
    else emu_fatal("cuBLASLt emulation: data type %d", (int)t);
}

extern "C" {

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
    static int token;
    *h = (cublasLtHandle_t)&token;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
    (void)h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t ct, cudaDataType_t st) {
    if (ct != CUBLAS_COMPUTE_32F || st != CUDA_R_32F) emu_fatal("cuBLASLt emulation: compute %d scale %d", ct, st);
    *d = new cublasLtMatmulDescOpaque_t();
    emu_lt_desc *e = (emu_lt_desc *)*d;
    e->ta = e->tb = CUBLAS_OP_N;
    e->epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    e->bias = NULL;
    e->bias_type_set = false;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                              const void *buf, size_t n) {
    emu_lt_desc *e = (emu_lt_desc *)d;
    switch (a) {
    case CUBLASLT_MATMUL_DESC_TRANSA: memcpy(&e->ta, buf, n); break;
    case CUBLASLT_MATMUL_DESC_TRANSB: memcpy(&e->tb, buf, n); break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE: memcpy(&e->epilogue, buf, n); break;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: memcpy(&e->bias, buf, n); break;
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: memcpy(&e->bias_type, buf, n), e->bias_type_set = true; break;
    default: emu_fatal("cuBLASLt emulation: descriptor attribute %d", (int)a);
    }
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType t, uint64_t rows, uint64_t cols,
                                          int64_t ld) {
    if (ld < (int64_t)rows) return CUBLAS_STATUS_INVALID_VALUE;
    *l = new cublasLtMatrixLayoutOpaque_t();
    *(emu_lt_layout *)*l = emu_lt_layout{t, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    *p = new cublasLtMatmulPreferenceOpaque_t();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t a, const void *buf,
                                                    size_t n) {
    (void)p, (void)a, (void)buf, (void)n;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t A,
                                              cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C,
                                              cublasLtMatrixLayout_t D, cublasLtMatmulPreference_t p, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *returned) {
    (void)h, (void)d, (void)A, (void)B, (void)C, (void)D, (void)p;
    if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
    memset(&results[0], 0, sizeof(results[0]));
    results[0].state = CUBLAS_STATUS_SUCCESS;
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Ad, const void *B, cublasLtMatrixLayout_t Bd, const void *beta,
                              const void *C, cublasLtMatrixLayout_t Cd, void *D, cublasLtMatrixLayout_t Dd,
                              const cublasLtMatmulAlgo_t *algo, void *ws, size_t ws_bytes, cudaStream_t s) {
    (void)h, (void)algo, (void)ws, (void)ws_bytes, (void)s;
    const emu_lt_desc *e = (const emu_lt_desc *)desc;
    const emu_lt_layout *la = (const emu_lt_layout *)Ad, *lb = (const emu_lt_layout *)Bd;
    const emu_lt_layout *lc = (const emu_lt_layout *)Cd, *ld = (const emu_lt_layout *)Dd;
    float al = *(const float *)alpha, be = *(const float *)beta;
    uint64_t m = ld->rows, n = ld->cols;
    uint64_t k = e->ta == CUBLAS_OP_N ? la->cols : la->rows;
    uint64_t am = e->ta == CUBLAS_OP_N ? la->rows : la->cols;
    uint64_t bk = e->tb == CUBLAS_OP_N ? lb->rows : lb->cols, bn = e->tb == CUBLAS_OP_N ? lb->cols : lb->rows;
    if (am != m || bk != k || bn != n || lc->rows != m || lc->cols != n) emu_fatal("cuBLASLt emulation: shapes");
    if (e->epilogue != CUBLASLT_EPILOGUE_DEFAULT && e->epilogue != CUBLASLT_EPILOGUE_BIAS)
        emu_fatal("cuBLASLt emulation: epilogue %d", (int)e->epilogue);
    cudaDataType bias_type = e->bias_type_set ? e->bias_type : ld->type;
    std::vector<float> out(m * n);
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t i = 0; i < m; i++) {
            float acc = 0.0f;
            for (uint64_t p = 0; p < k; p++) {
                size_t ia = e->ta == CUBLAS_OP_N ? i + p * la->ld : p + i * la->ld;
                size_t ib = e->tb == CUBLAS_OP_N ? p + j * lb->ld : j + p * lb->ld;
                acc += lt_load(A, la->type, ia) * lt_load(B, lb->type, ib);
            }
            float v = al * acc;
            if (be != 0.0f) v += be * lt_load(C, lc->type, i + j * lc->ld);
            if (e->epilogue == CUBLASLT_EPILOGUE_BIAS) v += lt_load(e->bias, bias_type, i);
            out[i + j * m] = v;
        }
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t i = 0; i < m; i++) lt_store(D, ld->type, i + j * ld->ld, out[i + j * m]);
    return CUBLAS_STATUS_SUCCESS;
}
// One candidate from the heuristic above, so the tuner (gemm_tune.cu) never times here; these two are linked in.
size_t cublasLtGetVersion(void) { return 0; }
cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t A,
                                       cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                       const cublasLtMatmulAlgo_t *algo, cublasLtMatmulHeuristicResult_t *result) {
    (void)h, (void)d, (void)A, (void)B, (void)C, (void)D, (void)algo;
    memset(result, 0, sizeof(*result));
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasLtGetStatusString(cublasStatus_t st) { return st == CUBLAS_STATUS_SUCCESS ? "success" : "error"; }

} // extern "C"
