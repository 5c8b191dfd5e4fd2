// test_gpu_train.c: the trainer on the GPU against the trainer on the CPU (issue 5's acceptance), run by
// `make test-gpu` (tests/gpu/run.sh) and scripts/gpu-check.sh. For each tiny config (scout_swa, scout_mamba,
// qwen2 by default):
//
//   1. CPU run: the fp32 model (kernels/cpu through the backend table), the D4 init with a fixed seed, STEPS
//      optimizer steps of clipped AdamW with gradient accumulation on a fixed learnable token stream.
//   2. GPU run: the same init, data and recipe through the CUDA table (bf16 activations and forward weights,
//      fp32 master, moments, gradients). Every one of the STEPS losses within 2% of the CPU's (relative).
//   3. Determinism: a second GPU run from scratch gives bit-identical losses and final master weights, and so
//      does a third with activation recomputation per layer (MODEL_RECOMPUTE, scout-train --recompute).
//   4. Resume: the GPU run's checkpoint at step STEPS/2 (ckpt_save: master and moments downloaded into the
//      safetensors files of the CPU path) loaded into a fresh GPU model continues bit-identically (losses and
//      final weights) to the uninterrupted GPU run: the bf16 forward copy is re-rounded with the step's seeds.
//   5. Across devices: the GPU checkpoint continued on the CPU (10 steps) and the CPU checkpoint continued on the
//      GPU (to the end), each within 2% of the uninterrupted CPU run.
//
// The configs run in parallel, one child process each (--jobs 1: one after another in this process): the CPU
// reference is most of the time (its cross-entropy is one thread). CUDA is first touched in the children.
//
// Usage: test_gpu_train [--steps N] [--lr X] [--config PATH]... [--tmp DIR] [--jobs 1] [--cpu-only]; --usage prints the usage and exits 2 without
// touching the GPU (scripts/gpu-check.sh uses it to see whether a carried binary can start). Exit status 0 when
// every check passed.
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt.h"
#include "config.h"
#include "cuda/ops_cuda.cuh"
#include "model.h"
#include "ops.h"
#include "train.h"

#define MAX_STEPS 1000
#define REL_BOUND 0.02 // issue 5: the GPU losses within 2% of the CPU run's

// The recipe: micro-batches of B x T, ACCUM of them per optimizer step, AdamW (0.9, 0.95), linear warmup over
// WARMUP steps to LR (below) then constant, weight decay 0.1, clipping at 1.0.
enum { B = 4, T = 64, ACCUM = 2, WARMUP = 5, SUBSET = 256 };
#define XSTEPS 10 // steps of the cross-device continuations
// Peak learning rate (--lr), the training test's (tests/train.bats). At 3e-3 the tiny tied models (scout_swa_tiny,
// qwen2_tiny) reach a regime after step 30 where any bf16-level perturbation of the fp32 run (bf16 weights, logits,
// residual stream or its gradient, each simulated on the CPU) moves the loss by 0.5-1%, and the GPU run ended
// 1.4% / 2.4% above the CPU at step 48-49 (H200, 2026-11-28); at 2e-3 those simulations move it by < 0.2%.
static float LR = 2e-3f;
#define INIT_SEED 1234u
#define DATA_SEED 77u

static int g_fail = 0;
static int g_cpu_only = 0; // --cpu-only: the CPU run alone (to look at the recipe's losses without a GPU)

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// A learnable stream: ids from a fixed random subset of SUBSET words of the vocabulary; the next word is a fixed
// function of the current one with probability 3/4, else a random word of the subset. The loss falls from
// ln V through the unigram entropy (ln SUBSET) towards the chain's entropy, so 50 steps see real learning.
static int32_t *make_tokens(int V, size_t n) {
    uint64_t s = DATA_SEED;
    int32_t words[SUBSET], next[SUBSET];
    for (int i = 0; i < SUBSET; i++) words[i] = (int32_t)(splitmix(&s) % (uint64_t)V), next[i] = (int)(splitmix(&s) % SUBSET);
    int32_t *tok = malloc(n * sizeof *tok);
    int cur = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t r = splitmix(&s);
        cur = (r & 3) ? next[cur] : (int)((r >> 8) % SUBSET);
        tok[i] = words[cur];
    }
    return tok;
}

typedef struct job {
    const char *config_path;
    model_config cfg;
    int steps;
    int32_t *stream;        // every micro-batch's blocks of T+1 tokens, in order
    const char *tmp;        // checkpoint directory root
} job;

// Micro-batch it (0-based over the whole run) as inputs / targets [B, T].
static void batch(const job *J, int it, int32_t *in, int32_t *tgt) {
    const int32_t *blk = J->stream + (size_t)it * B * (T + 1);
    for (int b = 0; b < B; b++) {
        memcpy(in + (size_t)b * T, blk + (size_t)b * (T + 1), sizeof(int32_t) * T);
        memcpy(tgt + (size_t)b * T, blk + (size_t)b * (T + 1) + 1, sizeof(int32_t) * T);
    }
}

static float lr_at(int step) { return step <= WARMUP ? LR * (float)step / (float)WARMUP : LR; } // step 1-based

// Optimizer steps first+1 .. last of the recipe on m; losses[k] = the mean loss of step k+1.
static void train(model *m, const job *J, int first, int last, float *losses) {
    const adamw_config oc = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .no_decay_1d = 0,
                             .clip = 1.0f};
    int32_t in[B * T], tgt[B * T];
    for (int step = first + 1; step <= last; step++) {
        model_zero_grad(m);
        double sum = 0.0;
        for (int a = 0; a < ACCUM; a++) {
            batch(J, (step - 1) * ACCUM + a, in, tgt);
            sum += model_forward_backward(m, in, tgt, B, T, 1.0f / ACCUM);
        }
        losses[step - 1] = (float)(sum / ACCUM);
        model_update(m, &oc, lr_at(step), step);
    }
}

// A checkpoint of m after `step` into DIR/<tag>/step_%08d (the trainer's files; trainer.json minimal).
static char *save_ckpt(const job *J, const model *m, const char *tag, int step) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", J->tmp, tag);
    json_t *tr = json_pack("{s:i, s:{}, s:{}}", "step", step, "recipe", "data");
    ckpt_save(dir, (uint64_t)step, m, &J->cfg, tr);
    json_decref(tr);
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/step_%08d", dir, step);
    return p;
}

static float *host_master(const model *m) {
    float *h = malloc(m->pt.n_floats * sizeof(float));
    model_get_params(m, h);
    return h;
}

// A run continued on backend be from the checkpoint ckpt, saved at step `from` (the forward copy re-rounded with
// that step's seeds, as scout-train resumes), through step `to`, losses into losses[from .. to); returns its final
// master weights (host, the caller frees them).
static float *continue_run(const job *J, const scout_backend *be, const char *ckpt, int from, int to, float *losses) {
    model m;
    model_build(&m, &J->cfg, be, B, T, 0);
    ckpt_load_state(ckpt, &m);
    model_round_weights(&m, from);
    train(&m, J, from, to, losses);
    float *w = host_master(&m);
    model_free(&m);
    return w;
}

static void check(int ok, const char *cfg, const char *what) {
    printf("%-22s %-58s %s\n", cfg, what, ok ? "ok" : "FAIL");
    fflush(stdout);
    if (!ok) g_fail = 1;
}

// max over steps [from, to) of |a - b| / |b|.
static double max_rel(const float *a, const float *b, int from, int to, int *at) {
    double worst = 0.0;
    for (int i = from; i < to; i++) {
        const double r = fabs((double)a[i] - (double)b[i]) / fabs((double)b[i]);
        if (!(r <= worst)) worst = r, *at = i + 1; // NaN counts as worst
    }
    return worst;
}

static void run_config(job *J) {
    const scout_backend *cpu = scout_backend_cpu(), *gpu = scout_backend_get("cuda");
    const int S = J->steps, H = S / 2;
    char name[64];
    const char *base = strrchr(J->config_path, '/');
    snprintf(name, sizeof name, "%s", base ? base + 1 : J->config_path);
    char *dot = strrchr(name, '.');
    if (dot) *dot = 0;
    config_load(&J->cfg, J->config_path);
    J->stream = make_tokens(J->cfg.vocab_size, (size_t)S * ACCUM * B * (T + 1));

    float cpu_l[MAX_STEPS], gpu_l[MAX_STEPS], gpu2_l[MAX_STEPS], res_l[MAX_STEPS], x_cpu_l[MAX_STEPS],
        x_gpu_l[MAX_STEPS];
    model m;

    // 1. CPU, with its checkpoint at H.
    model_build(&m, &J->cfg, cpu, B, T, 0);
    model_init_params(&m, INIT_SEED);
    train(&m, J, 0, H, cpu_l);
    char tag[96];
    snprintf(tag, sizeof tag, "%s_cpu", name);
    char *cpu_ck = save_ckpt(J, &m, tag, H);
    train(&m, J, H, S, cpu_l);
    model_free(&m);
    if (g_cpu_only) {
        printf("%s: cpu losses", name);
        for (int i = 0; i < S; i++) printf(" %.4f", cpu_l[i]);
        printf("\n");
        free(cpu_ck), free(J->stream);
        config_free(&J->cfg);
        return;
    }

    // 2. GPU, with its checkpoint at H.
    model_build(&m, &J->cfg, gpu, B, T, 0);
    model_init_params(&m, INIT_SEED);
    train(&m, J, 0, H, gpu_l);
    snprintf(tag, sizeof tag, "%s_gpu", name);
    char *gpu_ck = save_ckpt(J, &m, tag, H);
    train(&m, J, H, S, gpu_l);
    float *w1 = host_master(&m);
    const size_t nf = m.pt.n_floats;
    model_free(&m);

    int at = 0;
    double rel = max_rel(gpu_l, cpu_l, 0, S, &at);
    printf("%s: loss  step 1: cpu %.5f gpu %.5f | step %d: cpu %.5f gpu %.5f | max rel diff %.2e at step %d\n", name,
           cpu_l[0], gpu_l[0], S, cpu_l[S - 1], gpu_l[S - 1], rel, at);
    printf("%s: losses (step: cpu gpu rel)", name);
    for (int i = 0; i < S; i++)
        if (i == 0 || (i + 1) % 5 == 0)
            printf(" %d: %.4f %.4f %.1e;", i + 1, cpu_l[i], gpu_l[i], fabs(gpu_l[i] - cpu_l[i]) / fabs(cpu_l[i]));
    printf("\n");
    char what[128];
    snprintf(what, sizeof what, "gpu vs cpu: %d losses within %.0f%% (max %.2e)", S, REL_BOUND * 100, rel);
    check(rel <= REL_BOUND, name, what);
    fflush(stdout);
    if (S >= 20) // the recipe's data is learnable: 20 steps take more than a nat off
        check(cpu_l[S - 1] < cpu_l[0] - 1.0f && gpu_l[S - 1] < gpu_l[0] - 1.0f, name, "the loss falls (by > 1 nat)");

    // 3. Determinism: a second GPU run from scratch, then a third with activation recomputation per layer
    // (scout-train --recompute): both the first run's losses and final master weights, bit for bit.
    static const struct { unsigned flags; const char *what; } reruns[] = {
        {0, "gpu rerun: losses and master weights bit-identical"},
        {MODEL_RECOMPUTE, "gpu with recompute per layer: losses and master weights bit-identical"},
    };
    for (size_t r = 0; r < sizeof reruns / sizeof reruns[0]; r++) {
        model_build(&m, &J->cfg, gpu, B, T, reruns[r].flags);
        model_init_params(&m, INIT_SEED);
        train(&m, J, 0, S, gpu2_l);
        float *w2 = host_master(&m);
        model_free(&m);
        check(!memcmp(gpu_l, gpu2_l, sizeof(float) * S) && !memcmp(w1, w2, nf * sizeof(float)), name, reruns[r].what);
        free(w2);
    }

    // 4. GPU resume from the GPU checkpoint.
    float *w3 = continue_run(J, gpu, gpu_ck, H, S, res_l);
    snprintf(what, sizeof what, "gpu resume at step %d: losses and weights bit-identical", H);
    check(!memcmp(gpu_l + H, res_l + H, sizeof(float) * (S - H)) && !memcmp(w1, w3, nf * sizeof(float)), name, what);

    // 5. Across devices, for XSTEPS steps (the CPU is the slow side).
    const int X = H + XSTEPS < S ? H + XSTEPS : S;
    free(continue_run(J, cpu, gpu_ck, H, X, x_cpu_l));
    rel = max_rel(x_cpu_l, cpu_l, H, X, &at);
    snprintf(what, sizeof what, "gpu checkpoint, %d steps on cpu: within %.0f%% (max %.2e)", X - H, REL_BOUND * 100, rel);
    check(rel <= REL_BOUND, name, what);
    free(continue_run(J, gpu, cpu_ck, H, S, x_gpu_l));
    rel = max_rel(x_gpu_l, cpu_l, H, S, &at);
    snprintf(what, sizeof what, "cpu checkpoint, %d steps on gpu: within %.0f%% (max %.2e)", S - H, REL_BOUND * 100, rel);
    check(rel <= REL_BOUND, name, what);

    free(w1), free(w3), free(cpu_ck), free(gpu_ck), free(J->stream);
    config_free(&J->cfg);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void usage(void) {
    fprintf(stderr, "usage: test_gpu_train [--steps N (2..%d, default 50)] [--lr X (default 2e-3)] [--config CONFIG.json]... [--tmp DIR] [--jobs 1] [--cpu-only]\n"
                    "  default configs: configs/scout_swa_tiny.json configs/scout_mamba_tiny.json configs/qwen2_tiny.json\n",
            MAX_STEPS);
}

int main(int argc, char **argv) {
    train_fix_blas_kernels(argv); // OpenBLAS's kernels for the CPU reference, as scout-train picks them
    int steps = 50;
    const char *configs[16];
    int n_configs = 0;
    const char *tmp_root = NULL;
    int jobs = 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--usage") || !strcmp(argv[i], "--help")) {
            usage();
            return 2;
        } else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
            steps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc && n_configs < 16) {
            configs[n_configs++] = argv[++i];
        } else if (!strcmp(argv[i], "--lr") && i + 1 < argc) {
            LR = (float)atof(argv[++i]);
        } else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
            jobs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--cpu-only")) {
            g_cpu_only = 1;
        } else if (!strcmp(argv[i], "--tmp") && i + 1 < argc) {
            tmp_root = argv[++i];
        } else {
            usage();
            return 2;
        }
    }
    if (steps < 2 || steps > MAX_STEPS) {
        usage();
        return 2;
    }
    if (n_configs == 0) {
        configs[n_configs++] = "configs/scout_swa_tiny.json";
        configs[n_configs++] = "configs/scout_mamba_tiny.json";
        configs[n_configs++] = "configs/qwen2_tiny.json";
    }
    // With children, CUDA must not be initialised here before the fork: they check the device themselves.
    if (jobs <= 1 && !g_cpu_only && scout_cuda_device_count() < 1) {
        fprintf(stderr, "test_gpu_train: no CUDA device visible\n");
        return 1;
    }
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/scout-gpu-train-XXXXXX", tmp_root ? tmp_root : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp"));
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "test_gpu_train: cannot create %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    printf("trainer on gpu vs cpu: %d optimizer steps of %d x %d x %d tokens, lr %.0e (warmup %d), clip 1, wd 0.1\n",
           steps, ACCUM, B, T, (double)LR, WARMUP);
    fflush(stdout);
    if (jobs <= 1) {
        for (int i = 0; i < n_configs; i++) {
            job J = {.config_path = configs[i], .steps = steps, .tmp = tmp};
            run_config(&J);
            fflush(stdout);
        }
    } else {
        // One child per config, its stdout into tmp/<i>.log, printed in config order once all have ended.
        pid_t pids[16];
        for (int i = 0; i < n_configs; i++) {
            char log[1100];
            snprintf(log, sizeof log, "%s/%d.log", tmp, i);
            pids[i] = fork();
            if (pids[i] < 0) {
                fprintf(stderr, "test_gpu_train: fork: %s\n", strerror(errno));
                return 1;
            }
            if (pids[i] == 0) {
                if (!freopen(log, "w", stdout)) _exit(3);
                if (!g_cpu_only && scout_cuda_device_count() < 1) {
                    printf("%s: no CUDA device visible\n", configs[i]);
                    g_fail = 1;
                } else {
                    job J = {.config_path = configs[i], .steps = steps, .tmp = tmp};
                    run_config(&J);
                }
                fflush(stdout);
                _exit(g_fail ? 1 : 0);
            }
        }
        for (int i = 0; i < n_configs; i++) {
            int st = 0;
            waitpid(pids[i], &st, 0);
            char log[1100], line[4096];
            snprintf(log, sizeof log, "%s/%d.log", tmp, i);
            FILE *f = fopen(log, "r");
            while (f && fgets(line, sizeof line, f)) fputs(line, stdout);
            if (f) fclose(f);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                printf("%-22s %-58s FAIL\n", configs[i], WIFEXITED(st) ? "checks failed" : "child process died");
                g_fail = 1;
            }
        }
    }
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("test_gpu_train: %s\n", g_fail ? "FAILED" : "all checks passed");
    return g_fail ? 1 : 0;
}
