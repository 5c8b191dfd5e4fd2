// train.h: the training loop of scout-train: data -> micro-batches -> forward/backward with gradient
// accumulation -> clipped AdamW at the scheduled learning rate (schedule.h), with validation, metrics,
// checkpoints (ckpt.h), resume and signal handling.
//
// One optimizer step k (1-based) = accum micro-iterations it = (k-1)*accum ... k*accum-1, each on
// micro_batch blocks of T+1 tokens from the data reader, each loss scaled by 1/accum before its backward
// (§11.2); then the global gradient norm, clipping and AdamW at lr(k*accum - 1). Logged loss = the mean of
// the step's micro-batch losses.
//
// Resume is exact: the checkpoint holds the master weights, both moments, the step and the data reader's
// cursor (position and shuffling-generator state), and nothing else carries state from step to step, so
// on the same machine the resumed losses equal the uninterrupted run's bit for bit. --recompute changes memory
// and time, never a result, so a resume may turn it on or off (it keeps the checkpoint's choice by default).
#ifndef SCOUT_TRAIN_H
#define SCOUT_TRAIN_H

#include <stdint.h>

#include "schedule.h"

// Recipe fields given explicitly on the command line (the rest come from the defaults, or from the
// checkpoint when resuming).
enum recipe_field {
    RF_SEQ_LEN = 1 << 0, RF_GLOBAL_BATCH = 1 << 1, RF_MICRO_BATCH = 1 << 2, RF_TOKENS = 1 << 3, RF_LR = 1 << 4,
    RF_MIN_LR = 1 << 5, RF_WARMUP = 1 << 6, RF_WD = 1 << 7, RF_CLIP = 1 << 8, RF_SEED = 1 << 9,
    RF_NO_DECAY_1D = 1 << 10,
};

typedef struct train_options {
    const char *model_path;   // --model: config.json (NULL when resuming: the checkpoint's)
    const char *data;         // --data: shard glob; NULL: a packed stream on stdin
    const char *val_data;     // --val-data: shard glob, or NULL
    int64_t val_every;        // validate every N steps (and at the end); 0: at the end only; -1: unset
    int val_batches;          // micro-batches per validation; 0: unset
    recipe rc;
    unsigned rc_set;          // enum recipe_field bits
    const char *out_dir;      // -o: checkpoints and metrics.jsonl
    int64_t save_every;       // checkpoint every N steps (and at the end); 0: at the end only; -1: unset
    const char *resume;       // --resume: checkpoint or run directory
    const char *init;         // --init: reference-named safetensors weights
    const char *metrics_path; // --metrics (default: <out_dir>/metrics.jsonl)
    double peak_tflops;       // for MFU; <= 0: unknown
    int report_unigram;       // print the unigram entropy of the training tokens
    int recompute;            // 1: recompute each layer's activations in the backward (MODEL_RECOMPUTE); 0: keep
                              // them all; -1: unset (a resumed run keeps its checkpoint's choice, else 0)
    const char *device;       // "cpu", "cuda", or NULL: train_default_device()
    int argc;
    char **argv;              // the whole command line, kept in trainer.json
} train_options;

// OpenBLAS picks its kernels when it loads, from the CPU id or $OPENBLAS_CORETYPE. Debian's 0.3.21 does not
// know recent Xeons (Sapphire Rapids and later) and falls back to its generic SSE3 "Prescott" kernels, 5-7x
// slower than its AVX-512 ones on the same machine. When that fallback happened on a CPU with AVX-512 (or
// AVX2), this names the right kernel set in the environment and re-executes the program with argv, once.
// Call it first thing in main, before anything has side effects. No-op otherwise.
void train_fix_blas_kernels(char **argv);

// The device a run uses when --device is not given: "cuda" when this build has CUDA and a GPU is visible,
// else "cpu".
const char *train_default_device(void);

// Runs a training job; returns the exit code (0, or 130 / 143 after a signal and its checkpoint). Every
// error dies with its DESIGN.md code.
int train_run(train_options *o);

#endif
