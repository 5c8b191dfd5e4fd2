// metrics.h: what a training run reports: the metrics JSONL (DESIGN.md format 5), the progress line on
// stderr, and the unigram entropy of the training tokens (the baseline a language model must beat).
//
// JSONL: one object per optimizer step, appended and flushed line by line so a crash loses nothing already
// logged:
//   {"step": 12, "tokens": 49152, "loss": 7.1234567, "lr": 0.00029, "grad_norm": 1.23, "tok_per_s": 4321.0,
//    "mfu": 0.0123, "val_loss": 6.9}
// loss and val_loss are printed with 9 significant digits, so the float a run computed is recovered exactly
// (resume comparisons are bit-exact). mfu is null when no peak FLOP/s was given; val_loss is present on the
// steps where validation ran.
#ifndef SCOUT_METRICS_H
#define SCOUT_METRICS_H

#include <stdint.h>
#include <stdio.h>

typedef struct step_record {
    uint64_t step, tokens;
    float loss, val_loss;
    int has_val;
    double lr, grad_norm, tok_per_s;
    double mfu; // < 0: unknown (no peak FLOP/s)
} step_record;

typedef struct metrics_log {
    char *path; // NULL: no JSONL
    FILE *f;    // opened on the first record, so a run that fails before its first step writes nothing
    uint64_t keep_through; // on opening: records of later steps are dropped (a resumed run re-logs them)
    int truncate;          // on opening: start an empty file (a fresh run)
} metrics_log;

// path NULL disables the file. resume_step < 0: a fresh run, the file is replaced; otherwise the records
// of steps <= resume_step are kept and later ones (logged after the checkpoint, before an interruption)
// are dropped, so the file reads as one uninterrupted run.
void metrics_init(metrics_log *m, const char *path, int64_t resume_step);
void metrics_write(metrics_log *m, const step_record *r);
void metrics_close(metrics_log *m);

// The progress line: on a terminal redrawn in place every step; otherwise one plain line every few
// seconds, plus the first step, the last one and every validation.
typedef struct progress_line {
    int tty;
    double t_last;       // when the last plain line was printed
    double avg_step_s;   // moving average of the step time, for the ETA
    uint64_t total_steps;
} progress_line;

void progress_line_init(progress_line *p, uint64_t total_steps);
// step_s: this step's wall time.
void progress_line_step(progress_line *p, const step_record *r, double step_s);

// Shannon entropy in nats of the unigram distribution of every token in the shards matching pattern
// (each chunk's padding included: it is what the model trains on). *n_tokens receives the count.
double unigram_entropy_of_shards(const char *pattern, uint32_t vocab_size, uint64_t *n_tokens);

#endif
