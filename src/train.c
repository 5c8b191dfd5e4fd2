// train.c: see train.h.
#include "train.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "config.h"
#include "data.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "progress.h"
#include "sig.h"
#include "xio.h"
#ifdef SCOUT_CUDA
#include <cuda_runtime_api.h>

#include "cuda/ops_cuda.cuh"
#endif

#define TRAINER_FORMAT "scout-train"
#define TRAINER_VERSION 1
#define READER_WINDOW 8 // files per shuffling window (n_chunks of the reference)

typedef struct run {
    train_options *o;
    recipe rc;
    schedule sch;
    model_config cfg;
    model m;
    adamw_config opt;
    data_reader data;
    const char *data_source;  // the shard glob, or "-" for stdin
    char *out_dir;            // checkpoints (NULL: none)
    uint64_t step;            // optimizer steps completed
    int32_t *blocks;          // [micro_batch, T+1]
    int32_t *inputs, *targets; // [micro_batch, T]
    int32_t *val_blocks;      // [n_val_blocks, T+1]
    int n_val_blocks;
    char *ckpt_dir;           // the checkpoint resumed from, or NULL
    char *metrics_path;       // NULL: no metrics file
    metrics_log metrics;
    progress_line progress;
    double unigram;           // unigram entropy of the training tokens, < 0 when not computed
    double flops_per_token;
    float val_loss;
    int has_val;
} run;

// ---- the recipe and options in trainer.json -------------------------------------------------------------

static json_t *recipe_to_json(const recipe *r) {
    return json_pack("{s:i, s:i, s:i, s:I, s:f, s:f, s:f, s:I, s:f, s:f, s:I, s:b}", "seq_len", r->seq_len,
                     "global_batch", r->global_batch, "micro_batch", r->micro_batch, "tokens", (json_int_t)r->tokens,
                     "lr", r->lr, "min_lr", r->min_lr, "warmup_fraction", r->warmup_fraction, "warmup_tokens",
                     (json_int_t)r->warmup_tokens, "weight_decay", r->weight_decay, "clip", r->clip, "seed",
                     (json_int_t)r->seed, "no_decay_1d", r->no_decay_1d);
}

static void recipe_from_json(recipe *r, const json_t *j, const char *where) {
    json_int_t tokens, warmup_tokens, seed;
    int no_decay;
    json_error_t je;
    if (json_unpack_ex((json_t *)j, &je, JSON_STRICT, "{s:i, s:i, s:i, s:I, s:F, s:F, s:F, s:I, s:F, s:F, s:I, s:b}",
                       "seq_len", &r->seq_len, "global_batch", &r->global_batch, "micro_batch", &r->micro_batch,
                       "tokens", &tokens, "lr", &r->lr, "min_lr", &r->min_lr, "warmup_fraction",
                       &r->warmup_fraction, "warmup_tokens", &warmup_tokens, "weight_decay", &r->weight_decay,
                       "clip", &r->clip, "seed", &seed, "no_decay_1d", &no_decay) != 0)
        die(SCOUT_EXIT_DATA, "%s: recipe: %s", where, je.text);
    r->tokens = (uint64_t)tokens, r->warmup_tokens = (uint64_t)warmup_tokens, r->seed = (uint64_t)seed;
    r->no_decay_1d = no_decay;
}

// Resuming: every recipe field not given on the command line comes from the checkpoint. A field given
// with another value is honoured, with a warning, because it changes the run.
static void merge_recipe(run *R, const recipe *saved, const char *where) {
    const train_options *o = R->o;
    recipe *r = &R->rc;
    int changed = 0;
#define MERGE(bit, field)                                                                                       \
    do {                                                                                                        \
        if (!(o->rc_set & (bit))) r->field = saved->field;                                                      \
        else if (r->field != saved->field) changed = 1;                                                         \
    } while (0)
    MERGE(RF_SEQ_LEN, seq_len);
    MERGE(RF_GLOBAL_BATCH, global_batch);
    MERGE(RF_MICRO_BATCH, micro_batch);
    MERGE(RF_TOKENS, tokens);
    MERGE(RF_LR, lr);
    MERGE(RF_MIN_LR, min_lr);
    MERGE(RF_WARMUP, warmup_fraction);
    MERGE(RF_WARMUP, warmup_tokens);
    MERGE(RF_WD, weight_decay);
    MERGE(RF_CLIP, clip);
    MERGE(RF_SEED, seed);
    MERGE(RF_NO_DECAY_1D, no_decay_1d);
#undef MERGE
    if (changed) log_warn("the command line changes the recipe saved in %s: the run will not match an uninterrupted one", where);
}

// The options that are not the recipe but shape the run, kept so that `--resume DIR` alone continues it.
static json_t *options_to_json(const run *R) {
    const train_options *o = R->o;
    json_t *j = json_object();
    json_object_set_new(j, "data", json_string(R->data_source));
    json_object_set_new(j, "val_data", o->val_data ? json_string(o->val_data) : json_null());
    json_object_set_new(j, "val_every", json_integer(o->val_every));
    json_object_set_new(j, "val_batches", json_integer(o->val_batches));
    json_object_set_new(j, "save_every", json_integer(o->save_every));
    json_object_set_new(j, "peak_tflops", json_real(o->peak_tflops));
    json_object_set_new(j, "recompute", json_boolean(o->recompute > 0));
    return j;
}

static void merge_options(train_options *o, const json_t *saved) {
    const json_t *v;
    if (!o->data && (v = json_object_get(saved, "data")) && json_is_string(v) && strcmp(json_string_value(v), "-") != 0)
        o->data = xstrdup(json_string_value(v));
    if (!o->val_data && (v = json_object_get(saved, "val_data")) && json_is_string(v)) o->val_data = xstrdup(json_string_value(v));
    if (o->val_every < 0 && json_is_integer(v = json_object_get(saved, "val_every"))) o->val_every = json_integer_value(v);
    if (o->val_batches <= 0 && json_is_integer(v = json_object_get(saved, "val_batches"))) o->val_batches = (int)json_integer_value(v);
    if (o->save_every < 0 && json_is_integer(v = json_object_get(saved, "save_every"))) o->save_every = json_integer_value(v);
    if (o->peak_tflops <= 0 && json_is_real(v = json_object_get(saved, "peak_tflops"))) o->peak_tflops = json_real_value(v);
    // Recompute changes memory and time, never a result: a resume may turn it on or off freely.
    if (o->recompute < 0 && json_is_boolean(v = json_object_get(saved, "recompute"))) o->recompute = json_is_true(v);
}

static json_t *trainer_json(const run *R) {
    const train_options *o = R->o;
    json_t *j = json_object();
    json_object_set_new(j, "format", json_string(TRAINER_FORMAT));
    json_object_set_new(j, "version", json_integer(TRAINER_VERSION));
    json_object_set_new(j, "step", json_integer((json_int_t)R->step));
    json_object_set_new(j, "tokens", json_integer((json_int_t)(R->step * (uint64_t)R->rc.global_batch * (uint64_t)R->rc.seq_len)));
    json_object_set_new(j, "micro_iterations", json_integer((json_int_t)(R->step * (uint64_t)R->sch.accum)));
    json_object_set_new(j, "model_type", json_string(config_arch_name(R->cfg.arch)));
    json_object_set_new(j, "recipe", recipe_to_json(&R->rc));
    json_object_set_new(j, "options", options_to_json(R));
    json_t *d = data_cursor_to_json(&R->data);
    // The only random state that outlives a step is the data reader's shuffling generator, inside the cursor;
    // it is repeated here under "rng" for readers of the format.
    json_object_set_new(j, "rng", json_pack("{s:O?}", "data_shuffle", json_object_get(d, "rng")));
    json_object_set_new(j, "data", d);
    json_t *args = json_array();
    for (int i = 0; i < o->argc; i++) json_array_append_new(args, json_string(o->argv[i]));
    json_object_set_new(j, "args", args);
    return j;
}

// ---- data -----------------------------------------------------------------------------------------------

static data_options reader_options(const run *R, int shuffle) {
    return (data_options){.block_size = R->rc.seq_len + 1, .seed = R->rc.seed, .rank = 0, .world_size = 1,
                          .n_chunks = READER_WINDOW, .shuffle = shuffle, .vocab_size = (uint32_t)R->cfg.vocab_size};
}

static void open_training_data(run *R) {
    data_options opt = reader_options(R, 1);
    if (R->o->data) {
        data_open_shards(&R->data, R->o->data, &opt);
        R->data_source = R->o->data;
    } else {
        if (isatty(0))
            die(SCOUT_EXIT_USAGE, "no training data: give --data 'DIR/train_*.bin' or pipe a packed stream on stdin");
        data_open_stream(&R->data, "-", &opt);
        R->data_source = "-";
    }
}

// Splits blocks [B, T+1] into inputs = block[0:T] and targets = block[1:T+1].
static void split_blocks(const int32_t *blocks, int32_t *inputs, int32_t *targets, int B, int T) {
    for (int b = 0; b < B; b++) {
        memcpy(inputs + (size_t)b * T, blocks + (size_t)b * (T + 1), sizeof(int32_t) * T);
        memcpy(targets + (size_t)b * T, blocks + (size_t)b * (T + 1) + 1, sizeof(int32_t) * T);
    }
}

// The validation blocks: the first val_batches micro-batches of the validation shards in order, read once
// (they are the same at every evaluation) and kept in memory.
static void load_validation(run *R) {
    data_reader v;
    data_options opt = reader_options(R, 0);
    data_open_shards(&v, R->o->val_data, &opt);
    // Shards never end (the reader wraps); stop at the blocks they hold so nothing is counted twice.
    const uint64_t avail = (uint64_t)v.n_files * v.n_blocks;
    uint64_t want = (uint64_t)R->o->val_batches * (uint64_t)R->rc.micro_batch;
    if (want > avail) want = avail;
    R->n_val_blocks = (int)want;
    R->val_blocks = xmalloc(sizeof(int32_t) * want * (size_t)(R->rc.seq_len + 1));
    data_next_batch(&v, R->val_blocks, R->n_val_blocks);
    data_close(&v);
}

// Mean loss over every position of the validation blocks.
static float validate(run *R) {
    const int B = R->rc.micro_batch, T = R->rc.seq_len;
    double sum = 0.0;
    for (int b0 = 0; b0 < R->n_val_blocks; b0 += B) {
        const int nb = R->n_val_blocks - b0 < B ? R->n_val_blocks - b0 : B;
        split_blocks(R->val_blocks + (size_t)b0 * (T + 1), R->inputs, R->targets, nb, T);
        sum += (double)model_forward(&R->m, R->inputs, R->targets, nb, T, NULL) * nb;
    }
    return (float)(sum / R->n_val_blocks);
}

// ---- checkpoints ----------------------------------------------------------------------------------------

static void save(run *R) {
    if (!R->out_dir) return;
    json_t *t = trainer_json(R);
    ckpt_save(R->out_dir, R->step, &R->m, &R->cfg, t);
    json_decref(t);
    log_info("checkpoint %s/step_%08llu", R->out_dir, (unsigned long long)R->step);
}

// Sets up the model and the position from --resume, --init or a fresh init.
static void start_state(run *R, const char *ckpt_dir, json_t *trainer) {
    if (ckpt_dir) {
        ckpt_load_state(ckpt_dir, &R->m);
        R->step = (uint64_t)json_integer_value(json_object_get(trainer, "step"));
        // The forward copy (bf16 on CUDA) as the last AdamW step rounded it, not rounded afresh from the master:
        // the resumed run then equals the uninterrupted one bit for bit on the GPU too. No-op on the CPU.
        model_round_weights(&R->m, (int)R->step);
        char err[512];
        if (data_cursor_from_json(&R->data, json_object_get(trainer, "data"), err, sizeof err) != 0)
            die(SCOUT_EXIT_DATA, "%s: cannot continue the data stream: %s", ckpt_dir, err);
        log_info("resumed from %s at step %llu", ckpt_dir, (unsigned long long)R->step);
    } else if (R->o->init) {
        ckpt_load_weights(R->o->init, &R->m);
        log_info("weights from %s", R->o->init);
    } else {
        model_init_params(&R->m, R->rc.seed);
    }
}

// ---- the run --------------------------------------------------------------------------------------------

void train_fix_blas_kernels(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("SCOUT_BLAS_REEXEC")) return; // chosen by the user, or done once
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("SCOUT_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    log_debug("cannot re-execute with OPENBLAS_CORETYPE=%s; keeping the generic kernels", want); // exec failed
}

static void load_config(run *R, const char *ckpt_dir) {
    char *ckpt_cfg = NULL;
    if (ckpt_dir) {
        size_t n = strlen(ckpt_dir) + 16;
        ckpt_cfg = xmalloc(n);
        snprintf(ckpt_cfg, n, "%s/config.json", ckpt_dir);
    }
    config_load(&R->cfg, R->o->model_path ? R->o->model_path : ckpt_cfg);
    if (ckpt_cfg && R->o->model_path) {
        model_config saved;
        config_load(&saved, ckpt_cfg);
        if (saved.arch != R->cfg.arch)
            die(SCOUT_EXIT_DATA, "%s: the checkpoint is a %s model, --model %s is a %s model", ckpt_dir,
                config_arch_name(saved.arch), R->o->model_path, config_arch_name(R->cfg.arch));
        if (saved.json_len != R->cfg.json_len || memcmp(saved.json_text, R->cfg.json_text, saved.json_len) != 0)
            log_warn("--model %s differs from the checkpoint's config.json", R->o->model_path);
        config_free(&saved);
    }
    free(ckpt_cfg);
}

static void resolve_output(run *R, const char *ckpt_dir) {
    const train_options *o = R->o;
    if (o->out_dir) {
        R->out_dir = xstrdup(o->out_dir);
    } else if (ckpt_dir) { // a resumed run keeps writing into its run directory
        R->out_dir = xstrdup(ckpt_dir);
        char *slash = strrchr(R->out_dir, '/');
        if (slash && slash != R->out_dir) *slash = 0;
        else strcpy(R->out_dir, ".");
    }
    if (!ckpt_dir && R->out_dir && ckpt_run_has_checkpoint(R->out_dir))
        die(SCOUT_EXIT_USAGE, "%s already holds checkpoints of a run: continue it with --resume %s, or choose another -o",
            R->out_dir, R->out_dir);
}

// "1.23 GiB", or "4.5 MiB" below 1 GiB: tiny test models and large runs in one format.
static const char *bytes_str(char buf[32], size_t bytes) {
    if (bytes >= (size_t)1 << 30) snprintf(buf, 32, "%.2f GiB", (double)bytes / (1 << 30));
    else snprintf(buf, 32, "%.1f MiB", (double)bytes / (1 << 20));
    return buf;
}

static void print_start(const run *R) {
    char summary[256];
    config_summary(&R->cfg, summary, sizeof summary);
    log_info("model: %s, %zu parameters", summary, R->m.pt.n_params);
    log_info("recipe: %d x %d tokens per step (micro-batch %d, %d accumulation), %llu steps, %llu tokens, lr %.3g -> %.3g, "
             "warmup %llu micro-iterations, wd %.3g%s, clip %.3g, seed %llu",
             R->rc.global_batch, R->rc.seq_len, R->rc.micro_batch, R->sch.accum, (unsigned long long)R->sch.steps,
             (unsigned long long)R->rc.tokens, R->rc.lr, R->rc.min_lr, (unsigned long long)R->sch.warmup_iters,
             R->rc.weight_decay, R->rc.no_decay_1d ? " (not on 1-D tensors)" : "", R->rc.clip,
             (unsigned long long)R->rc.seed);
    log_info("data: %s", R->data_source);
    char b1[32], b2[32], b3[32], b4[32];
    log_info("activations: %s (%s); activation gradients %s, op workspace %s; %s in all with the parameters and "
             "optimizer", bytes_str(b1, R->m.act_bytes), R->m.recompute ? "recompute per layer" : "every layer kept",
             bytes_str(b2, R->m.gact_bytes), bytes_str(b3, R->m.ws_bytes), bytes_str(b4, model_memory_bytes(&R->m)));
    if (!strcmp(R->m.be->name, "cpu"))
        log_info("device: cpu, %d threads, OpenBLAS %s kernels", openblas_get_num_threads(), openblas_get_corename());
#ifdef SCOUT_CUDA
    if (!strcmp(R->m.be->name, "cuda")) {
        struct cudaDeviceProp prop;
        int dev = 0;
        const char *name = cudaGetDevice(&dev) == cudaSuccess && cudaGetDeviceProperties(&prop, dev) == cudaSuccess
                               ? prop.name : "?";
        size_t live;
        scout_cuda_alloc_stats(&live, NULL);
        log_info("device: cuda %d (%s), bf16 activations and forward weights, fp32 master, moments and gradients; "
                 "%.2f GiB allocated", dev, name, (double)live / (1 << 30));
    }
#endif
}

// The memory report at the end of a run: everything is allocated up front, so what is held now is the peak
// of the run. CUDA counts its allocations (and the device's own use); the CPU reports what the model holds.
static void print_memory(const run *R) {
#ifdef SCOUT_CUDA
    if (!strcmp(R->m.be->name, "cuda")) {
        size_t live, peak;
        scout_cuda_alloc_stats(&live, &peak);
        log_info("peak device memory: %.2f GiB allocated by the model (parameters, optimizer, activations, workspace); "
                 "%.2f GiB in use on the device", (double)peak / (1 << 30), (double)scout_cuda_device_used() / (1 << 30));
        return;
    }
#endif
    char b[32];
    log_info("peak memory: %s held by the model (parameters, optimizer, activations, workspace)",
             bytes_str(b, model_memory_bytes(&R->m)));
}

const char *train_default_device(void) {
#ifdef SCOUT_CUDA
    if (scout_cuda_device_count() > 0) return "cuda";
#endif
    return "cpu";
}

// Everything before the first step: backend, checkpoint, recipe, config, model, data, state, reports.
static void setup(run *R, train_options *o) {
    memset(R, 0, sizeof *R);
    R->o = o;
    R->rc = o->rc;
    R->unigram = -1.0;

    if (!o->device) o->device = train_default_device();
    const scout_backend *be = scout_backend_get(o->device);
    if (!be) {
        if (!strcmp(o->device, "cuda"))
            die(SCOUT_EXIT_USAGE, "--device cuda: this build has no CUDA (built without nvcc, or with CUDA=0)");
        die(SCOUT_EXIT_USAGE, "--device %s: unknown device (cpu, cuda)", o->device);
    }
#ifdef SCOUT_CUDA
    if (!strcmp(be->name, "cuda") && scout_cuda_device_count() < 1)
        die(SCOUT_EXIT_USAGE, "--device cuda: no CUDA device is visible (no GPU, or no driver)");
#endif
    if (!strcmp(be->name, "cpu")) {
        // Matrix products on every core unless OPENBLAS_NUM_THREADS says otherwise; results are reproducible
        // for a given thread count.
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (!getenv("OPENBLAS_NUM_THREADS")) openblas_set_num_threads(ncpu > 0 ? (int)ncpu : 1);
    }

    R->ckpt_dir = o->resume ? ckpt_resolve(o->resume) : NULL;
    json_t *trainer = R->ckpt_dir ? ckpt_read_trainer(R->ckpt_dir) : NULL;
    if (trainer) {
        recipe saved;
        recipe_from_json(&saved, json_object_get(trainer, "recipe"), R->ckpt_dir);
        merge_recipe(R, &saved, R->ckpt_dir);
        if (json_is_object(json_object_get(trainer, "options"))) merge_options(o, json_object_get(trainer, "options"));
    }
    if (o->val_every < 0) o->val_every = 0;
    if (o->save_every < 0) o->save_every = 0;
    if (o->val_batches <= 0) o->val_batches = 16;
    if (o->recompute < 0) o->recompute = 0;
    if (!o->model_path && !R->ckpt_dir) die(SCOUT_EXIT_USAGE, "--model CONFIG.json is required (or --resume a checkpoint)");

    load_config(R, R->ckpt_dir);
    char err[512];
    if (schedule_init(&R->sch, &R->rc, 1, err, sizeof err) != 0) die(SCOUT_EXIT_USAGE, "%s", err);
    resolve_output(R, R->ckpt_dir);

    const int B = R->rc.micro_batch, T = R->rc.seq_len;
    model_build(&R->m, &R->cfg, be, B, T, o->recompute ? MODEL_RECOMPUTE : 0);
    R->opt = (adamw_config){.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = (float)R->rc.weight_decay,
                            .no_decay_1d = R->rc.no_decay_1d, .clip = (float)R->rc.clip};
    R->flops_per_token = params_train_flops_per_token(&R->m.pt, T);
    R->blocks = xmalloc(sizeof(int32_t) * (size_t)B * (T + 1));
    R->inputs = xmalloc(sizeof(int32_t) * (size_t)B * T);
    R->targets = xmalloc(sizeof(int32_t) * (size_t)B * T);

    open_training_data(R);
    if (o->val_data) load_validation(R);
    start_state(R, R->ckpt_dir, trainer);
    if (trainer) json_decref(trainer);
    print_start(R);
    if (o->report_unigram) {
        if (!o->data) die(SCOUT_EXIT_USAGE, "--report-unigram-entropy needs --data shards (a stream is read only once)");
        uint64_t n;
        R->unigram = unigram_entropy_of_shards(o->data, (uint32_t)R->cfg.vocab_size, &n);
        log_info("unigram entropy of the training tokens: %.4f nats (%llu tokens)", R->unigram, (unsigned long long)n);
    }

    if (o->metrics_path) R->metrics_path = xstrdup(o->metrics_path);
    else if (R->out_dir) {
        R->metrics_path = xmalloc(strlen(R->out_dir) + 16);
        sprintf(R->metrics_path, "%s/metrics.jsonl", R->out_dir);
    }
    metrics_init(&R->metrics, R->metrics_path, R->ckpt_dir ? (int64_t)R->step : -1);
    progress_line_init(&R->progress, R->sch.steps);
}

// One optimizer step: accum micro-iterations of forward/backward, then clipped AdamW. Fills the step's
// loss, lr and gradient norm into rec; returns 0 (taking no step) when a data stream ends first.
static int train_step(run *R, step_record *rec) {
    const int B = R->rc.micro_batch, T = R->rc.seq_len;
    model_zero_grad(&R->m);
    double loss_sum = 0.0, lr = 0.0;
    for (int micro = 0; micro < R->sch.accum; micro++) {
        // lr is set before every micro-iteration; the optimizer step uses the last one's (§11.2).
        lr = schedule_lr(&R->sch, R->step * (uint64_t)R->sch.accum + (uint64_t)micro);
        if (data_next_batch(&R->data, R->blocks, B) < B) return 0;
        split_blocks(R->blocks, R->inputs, R->targets, B, T);
        loss_sum += model_forward_backward(&R->m, R->inputs, R->targets, B, T, 1.0f / (float)R->sch.accum);
    }
    const float loss = (float)(loss_sum / R->sch.accum);
    if (!isfinite(loss))
        die(SCOUT_EXIT_FAIL, "step %llu: the loss is %g; training diverged (try a lower --lr)",
            (unsigned long long)R->step + 1, (double)loss);
    const float norm = model_update(&R->m, &R->opt, (float)lr, (int)(R->step + 1));
    R->step++;
    *rec = (step_record){.step = R->step, .tokens = R->step * (uint64_t)R->rc.global_batch * (uint64_t)T,
                         .loss = loss, .lr = lr, .grad_norm = norm, .mfu = -1.0};
    return 1;
}

// Steps until the budget, a signal, or the end of a stream. Returns the exit code.
static int train_loop(run *R) {
    const train_options *o = R->o;
    const double peak = o->peak_tflops > 0 ? o->peak_tflops * 1e12 : 0.0;
    const double tokens_per_step = (double)R->rc.global_batch * R->rc.seq_len;
    int dir_made = 0;
#ifdef SCOUT_CUDA
    int first_step = 1;
#endif
    sig_install_flag();
    while (R->step < R->sch.steps) {
        const double t0 = now_seconds();
        step_record rec;
        if (!train_step(R, &rec)) {
            log_warn("the data stream ended after %llu steps, before the budget's %llu", (unsigned long long)R->step,
                     (unsigned long long)R->sch.steps);
            save(R);
            return SCOUT_EXIT_OK;
        }
        const int last = R->step == R->sch.steps;
        if (o->val_data && (last || (o->val_every > 0 && R->step % (uint64_t)o->val_every == 0))) {
            rec.val_loss = R->val_loss = validate(R);
            rec.has_val = R->has_val = 1;
        }
        const double dt = now_seconds() - t0;
        rec.tok_per_s = tokens_per_step / dt;
        if (peak > 0) rec.mfu = R->flops_per_token * rec.tok_per_s / peak;
#ifdef SCOUT_CUDA
        // SCOUT_CUDA_PROFILE: the per-op table leaves out this process's first step (lazy module loading,
        // cuBLASLt's caches).
        if (!strcmp(R->m.be->name, "cuda") && first_step) scout_cuda_profile_reset();
        first_step = 0;
#endif
        // The run directory appears with the first step's record: a run that fails before it leaves nothing.
        if (R->out_dir && !dir_made) ckpt_make_dir(R->out_dir), dir_made = 1;
        metrics_write(&R->metrics, &rec);
        progress_line_step(&R->progress, &rec, dt);

        const int sig = sig_pending();
        if (last || sig || (o->save_every > 0 && R->step % (uint64_t)o->save_every == 0)) save(R);
        if (sig) {
            log_warn("stopped by signal %d at step %llu%s", sig, (unsigned long long)R->step,
                     R->out_dir ? "; continue with --resume" : " (no -o: nothing saved)");
            return sig_exit_code(sig);
        }
    }
    return SCOUT_EXIT_OK;
}

int train_run(train_options *o) {
    run R;
    setup(&R, o);
    const int exit_code = train_loop(&R);
    print_memory(&R);
    metrics_close(&R.metrics);
    if (exit_code == SCOUT_EXIT_OK && R.has_val && R.unigram >= 0)
        log_info("final validation loss %.4f nats, unigram entropy of the training tokens %.4f nats: %s",
                 (double)R.val_loss, R.unigram, R.val_loss < R.unigram ? "below it, the model uses context" : "NOT below it");
    else if (exit_code == SCOUT_EXIT_OK && R.has_val)
        log_info("final validation loss %.4f nats", (double)R.val_loss);

    data_close(&R.data);
    model_free(&R.m);
    config_free(&R.cfg);
    free(R.blocks), free(R.inputs), free(R.targets), free(R.val_blocks);
    free(R.out_dir), free(R.metrics_path), free(R.ckpt_dir);
    return exit_code;
}
