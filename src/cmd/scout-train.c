// scout-train: trains a SCOUT (or baseline) model from packed shards or a packed stream, with the reference
// recipe (spec/model.md D5, §11), checkpoints (DESIGN.md format 4) and metrics JSONL (format 5).
// The loop is train.c; this file only turns the command line into train_options.
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "train.h"

enum {
    OPT_DATA = 256, OPT_VAL_DATA, OPT_VAL_EVERY, OPT_VAL_BATCHES, OPT_TRAIN_CONFIG, OPT_SEQ_LEN, OPT_GLOBAL_BATCH,
    OPT_MICRO_BATCH, OPT_TOKENS, OPT_LR, OPT_MIN_LR, OPT_WARMUP, OPT_WD, OPT_CLIP, OPT_SEED, OPT_NO_DECAY_1D,
    OPT_SAVE_EVERY, OPT_RESUME, OPT_INIT, OPT_METRICS, OPT_PEAK_TFLOPS, OPT_UNIGRAM, OPT_DEVICE, OPT_RECOMPUTE,
    OPT_NO_RECOMPUTE,
};

static const cli_option options[] = {
    {"model", 'm', CLI_ARG, "CONFIG.json", "model config (configs/*.json); optional with --resume"},
    {"data", OPT_DATA, CLI_ARG, "GLOB", "training shards, e.g. 'shards/train_*.bin' (quoted); default: a packed stream on stdin"},
    {"val-data", OPT_VAL_DATA, CLI_ARG, "GLOB", "validation shards, read in order; evaluated at the end and every --val-every steps"},
    {"val-every", OPT_VAL_EVERY, CLI_ARG, "N", "validate every N optimizer steps (default: only at the end)"},
    {"val-batches", OPT_VAL_BATCHES, CLI_ARG, "N", "micro-batches per validation (default: 16)"},
    {"train-config", OPT_TRAIN_CONFIG, CLI_ARG, "GxT_TOKENS", "run configuration, e.g. 128x4k_15B (the default) or 1024x2k_100B: global batch x sequence length, token budget"},
    {"seq-len", OPT_SEQ_LEN, CLI_ARG, "T", "tokens per sequence (blocks of T+1 are read)"},
    {"global-batch", OPT_GLOBAL_BATCH, CLI_ARG, "N", "sequences per optimizer step"},
    {"micro-batch", OPT_MICRO_BATCH, CLI_ARG, "N", "sequences per forward/backward (default: 8); accumulation = global / micro"},
    {"tokens", OPT_TOKENS, CLI_ARG, "N", "token budget (K/M/B/T suffixes: 15B = 15e9)"},
    {"lr", OPT_LR, CLI_ARG, "X", "peak learning rate (default: 3e-4)"},
    {"min-lr", OPT_MIN_LR, CLI_ARG, "X", "final learning rate of the cosine decay (default: lr / 10)"},
    {"warmup", OPT_WARMUP, CLI_ARG, "N|P%", "linear warmup from 0: a token count, or a percentage of the budget (default: 1%)"},
    {"wd", OPT_WD, CLI_ARG, "X", "decoupled weight decay (default: 0.1, on every tensor)"},
    {"no-decay-1d", OPT_NO_DECAY_1D, CLI_NOARG, NULL, "no weight decay on 1-D tensors (norms, D, dt_proj.bias, conv1d.bias)"},
    {"clip", OPT_CLIP, CLI_ARG, "X", "global gradient-norm clipping (default: 1.0; 0 = off)"},
    {"seed", OPT_SEED, CLI_ARG, "N", "seed of the init and the data shuffling (default: 3407)"},
    {"output", 'o', CLI_ARG, "DIR", "write checkpoints DIR/step_%08d/ (and DIR/latest) and DIR/metrics.jsonl"},
    {"save-every", OPT_SAVE_EVERY, CLI_ARG, "N", "checkpoint every N steps (default: only at the end; always on SIGINT/SIGTERM)"},
    {"resume", OPT_RESUME, CLI_ARG, "PATH", "continue from a checkpoint DIR/step_N, or the latest one of a run directory DIR"},
    {"init", OPT_INIT, CLI_ARG, "FILE", "start from weights in a safetensors file with the reference names (model.safetensors)"},
    {"metrics", OPT_METRICS, CLI_ARG, "FILE", "metrics JSONL (default: DIR/metrics.jsonl with -o)"},
    {"peak-tflops", OPT_PEAK_TFLOPS, CLI_ARG, "X", "peak FLOP/s of the device in TFLOP/s, for MFU (default: $SCOUT_PEAK_TFLOPS)"},
    {"report-unigram-entropy", OPT_UNIGRAM, CLI_NOARG, NULL, "print the unigram entropy of the training tokens beside the final validation loss"},
    {"device", OPT_DEVICE, CLI_ARG, "NAME", "cuda or cpu (default: cuda when this build has CUDA and a GPU is present, else cpu)"},
    {"recompute", OPT_RECOMPUTE, CLI_NOARG, NULL, "keep only each layer's input and recompute its other activations before its backward: a fraction of the activation memory (the log reports it) for one more forward pass, bit-identical results; a resume may turn it on or off"},
    {"no-recompute", OPT_NO_RECOMPUTE, CLI_NOARG, NULL, "keep every layer's activations (the default; turns off the --recompute of a resumed run)"},
    {0},
};

static const cli_spec spec = {
    .tool = "scout-train",
    .synopsis = "--model CONFIG.json [--data GLOB | < packed.bin] [OPTIONS]",
    .summary =
        "Trains a SCOUT-SWA, SCOUT-Mamba, Qwen2 or Mamba model (Hugging Face config.json) on LITPKDS packed\n"
        "shards with the reference recipe: AdamW (0.9, 0.95), linear warmup from 0 and cosine decay per\n"
        "micro-iteration, gradient accumulation, global-norm clipping. Progress on stderr; metrics JSONL and\n"
        "checkpoints with the reference parameter names under -o. SIGINT/SIGTERM save a checkpoint at the next\n"
        "step boundary; --resume continues bit-identically.",
    .examples =
        "  scout-train --model configs/scout_swa_470m.json --data 'shards/train_*.bin' --train-config 128x4k_15B -o run\n"
        "  scout-pack --block 256 tokens.bin | scout-train --model configs/scout_swa_tiny.json --seq-len 256 --tokens 1M\n"
        "  scout-train --resume run",
    .options = options,
};

// --warmup: "2%" of the budget, or a token count.
static void parse_warmup(recipe *r, const char *s) {
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '%') {
        char buf[32];
        if (n >= sizeof buf) cli_usage_error(&spec, "--warmup: bad value '%s'", s);
        memcpy(buf, s, n - 1);
        buf[n - 1] = 0;
        double pct = cli_parse_double(&spec, "warmup", buf);
        if (pct < 0 || pct > 100) cli_usage_error(&spec, "--warmup: %s is not a percentage of the budget", s);
        r->warmup_fraction = pct / 100.0;
        r->warmup_tokens = 0;
    } else {
        r->warmup_tokens = cli_parse_count(&spec, "warmup", s);
        // 0 tokens: no warmup, which the fraction expresses (warmup_tokens 0 means "use the fraction").
        if (r->warmup_tokens == 0) r->warmup_fraction = 0.0;
    }
}

static int positive_int(const char *opt, const char *s) {
    uint64_t v = cli_parse_u64(&spec, opt, s);
    if (v < 1 || v > (1u << 30)) cli_usage_error(&spec, "--%s must be between 1 and 2^30, got %s", opt, s);
    return (int)v;
}

// The recipe options that take one number: where it goes, how it is read, and its enum recipe_field bit
// (--train-config, --warmup and --no-decay-1d have cases of their own).
enum number_kind { NUM_POSITIVE_INT, NUM_COUNT, NUM_U64, NUM_DOUBLE };
static const struct recipe_number {
    int id;
    const char *name; // as in options[], for errors
    enum number_kind kind;
    size_t offset;    // of the field in recipe: int (NUM_POSITIVE_INT), uint64_t (NUM_COUNT, NUM_U64) or double
    unsigned bit;
} recipe_numbers[] = {
    {OPT_SEQ_LEN, "seq-len", NUM_POSITIVE_INT, offsetof(recipe, seq_len), RF_SEQ_LEN},
    {OPT_GLOBAL_BATCH, "global-batch", NUM_POSITIVE_INT, offsetof(recipe, global_batch), RF_GLOBAL_BATCH},
    {OPT_MICRO_BATCH, "micro-batch", NUM_POSITIVE_INT, offsetof(recipe, micro_batch), RF_MICRO_BATCH},
    {OPT_TOKENS, "tokens", NUM_COUNT, offsetof(recipe, tokens), RF_TOKENS},
    {OPT_LR, "lr", NUM_DOUBLE, offsetof(recipe, lr), RF_LR},
    {OPT_MIN_LR, "min-lr", NUM_DOUBLE, offsetof(recipe, min_lr), RF_MIN_LR},
    {OPT_WD, "wd", NUM_DOUBLE, offsetof(recipe, weight_decay), RF_WD},
    {OPT_CLIP, "clip", NUM_DOUBLE, offsetof(recipe, clip), RF_CLIP},
    {OPT_SEED, "seed", NUM_U64, offsetof(recipe, seed), RF_SEED},
};

// Sets the recipe field of option id from arg and marks it given; returns 0 when id is not in recipe_numbers.
static int set_recipe_number(train_options *o, int id, const char *arg) {
    for (size_t i = 0; i < sizeof recipe_numbers / sizeof recipe_numbers[0]; i++) {
        const struct recipe_number *r = &recipe_numbers[i];
        if (r->id != id) continue;
        char *field = (char *)&o->rc + r->offset;
        switch (r->kind) {
        case NUM_POSITIVE_INT: *(int *)field = positive_int(r->name, arg); break;
        case NUM_COUNT: *(uint64_t *)field = cli_parse_count(&spec, r->name, arg); break;
        case NUM_U64: *(uint64_t *)field = cli_parse_u64(&spec, r->name, arg); break;
        case NUM_DOUBLE: *(double *)field = cli_parse_double(&spec, r->name, arg); break;
        }
        o->rc_set |= r->bit;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    train_fix_blas_kernels(argv);
    train_options o = {.val_every = -1, .save_every = -1, .recompute = -1, .device = NULL, .argc = argc, .argv = argv};
    recipe_defaults(&o.rc);
    cli_state st;
    cli_init(&st, &spec, argc, argv);
    char err[256];
    int c;
    while ((c = cli_next(&st)) != -1) {
        switch (c) {
        case 'm': o.model_path = st.arg; break;
        case OPT_DATA: o.data = st.arg; break;
        case OPT_VAL_DATA: o.val_data = st.arg; break;
        case OPT_VAL_EVERY: o.val_every = (int64_t)cli_parse_u64(&spec, "val-every", st.arg); break;
        case OPT_VAL_BATCHES: o.val_batches = positive_int("val-batches", st.arg); break;
        case OPT_TRAIN_CONFIG:
            if (recipe_parse_run_config(&o.rc, st.arg, err, sizeof err) != 0) cli_usage_error(&spec, "--train-config: %s", err);
            o.rc_set |= RF_SEQ_LEN | RF_GLOBAL_BATCH | RF_TOKENS;
            break;
        case OPT_WARMUP: parse_warmup(&o.rc, st.arg), o.rc_set |= RF_WARMUP; break;
        case OPT_NO_DECAY_1D: o.rc.no_decay_1d = 1, o.rc_set |= RF_NO_DECAY_1D; break;
        case 'o': o.out_dir = st.arg; break;
        case OPT_SAVE_EVERY: o.save_every = (int64_t)cli_parse_u64(&spec, "save-every", st.arg); break;
        case OPT_RESUME: o.resume = st.arg; break;
        case OPT_INIT: o.init = st.arg; break;
        case OPT_METRICS: o.metrics_path = st.arg; break;
        case OPT_PEAK_TFLOPS: o.peak_tflops = cli_parse_double(&spec, "peak-tflops", st.arg); break;
        case OPT_UNIGRAM: o.report_unigram = 1; break;
        case OPT_DEVICE: o.device = st.arg; break;
        case OPT_RECOMPUTE: o.recompute = 1; break;
        case OPT_NO_RECOMPUTE: o.recompute = 0; break;
        default:
            if (!set_recipe_number(&o, c, st.arg)) die(SCOUT_EXIT_FAIL, "internal: option %d has no case", c);
        }
    }
    if (cli_optind() < argc) cli_usage_error(&spec, "unexpected argument '%s' (data goes in --data or on stdin)", argv[cli_optind()]);
    // The reference's min_lr is peak / 10; a new peak brings its own floor unless one is given.
    if ((o.rc_set & RF_LR) && !(o.rc_set & RF_MIN_LR)) o.rc.min_lr = o.rc.lr / 10.0, o.rc_set |= RF_MIN_LR;
    if (o.rc.lr <= 0 || o.rc.min_lr < 0 || o.rc.weight_decay < 0 || o.rc.clip < 0)
        cli_usage_error(&spec, "--lr must be positive; --min-lr, --wd and --clip not negative");
    if (o.resume && o.init) cli_usage_error(&spec, "--resume and --init exclude each other");
    if (o.peak_tflops <= 0) {
        const char *env = getenv("SCOUT_PEAK_TFLOPS");
        if (env && *env) o.peak_tflops = cli_parse_double(&spec, "SCOUT_PEAK_TFLOPS", env);
    }
    int rc = train_run(&o);
    cli_free(&st);
    return rc;
}
