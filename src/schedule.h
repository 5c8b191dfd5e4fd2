// schedule.h: the training recipe (spec/model.md D5, §11.1-§11.2): run-configuration strings, the
// micro-iteration counts and the learning-rate schedule.
//
// The schedule is indexed by the per-device micro-iteration `it` (0-based), exactly as the reference:
//   tokens_per_iter = micro_batch * T
//   max_iters       = floor(budget / n_ranks / tokens_per_iter)
//   warmup_iters    = floor(warmup_tokens / n_ranks / tokens_per_iter)   (warmup_tokens = 1% of the budget)
//   lr(it) = peak * it / warmup_iters                                      it < warmup_iters (from 0)
//          = min + 1/2 (1 + cos(pi * (it - warmup) / (max - warmup))) (peak - min)   otherwise
// lr is set before every micro-iteration; the optimizer step after the last micro-iteration of an
// accumulation group uses that iteration's lr, so step k (1-based) uses lr(k * accum - 1). Training stops
// when `it` reaches max_iters; a trailing partial accumulation group would take no step, so the run is
// floor(max_iters / accum) optimizer steps.
#ifndef SCOUT_SCHEDULE_H
#define SCOUT_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef struct recipe {
    int seq_len;            // T: tokens per sequence (blocks of T + 1 are read)
    int global_batch;       // sequences per optimizer step (all ranks)
    int micro_batch;        // sequences per micro-iteration (one rank)
    uint64_t tokens;        // the token budget
    double lr, min_lr;      // peak and final learning rate
    double warmup_fraction; // warmup as a fraction of the budget (used when warmup_tokens is 0)
    uint64_t warmup_tokens; // explicit warmup length in tokens, 0 for the fraction
    double weight_decay;
    double clip;            // global-norm clipping; 0 = off
    uint64_t seed;
    int no_decay_1d;        // exclude 1-D tensors from weight decay
} recipe;

// D5 defaults: 128x4k_15B, micro-batch 8, lr 3e-4 -> 3e-5, warmup 1 %, wd 0.1 on all tensors, clip 1.0,
// seed 3407.
void recipe_defaults(recipe *r);

// Parses a run configuration "<global batch>x<sequence length>_<budget>", e.g. "128x4k_15B" (128 x 4096,
// 15e9 tokens) or "1024x2k_100B". The length takes a k suffix (x1024); the budget K/M/B/T (powers of
// 1000, B = 1e9 as in the reference's "15B"). Returns 0, or -1 with the reason in err.
int recipe_parse_run_config(recipe *r, const char *s, char *err, size_t err_size);

typedef struct schedule {
    uint64_t tokens_per_iter; // micro_batch * T
    uint64_t max_iters;       // micro-iterations of the whole run
    uint64_t warmup_iters;
    int accum;                // micro-iterations per optimizer step
    uint64_t steps;           // optimizer steps: floor(max_iters / accum)
    double peak, min;
} schedule;

// Derives the counts; returns 0, or -1 with the reason (batch not divisible, budget below one step) in err.
int schedule_init(schedule *s, const recipe *r, int n_ranks, char *err, size_t err_size);
// The learning rate at micro-iteration it.
double schedule_lr(const schedule *s, uint64_t it);

#endif
