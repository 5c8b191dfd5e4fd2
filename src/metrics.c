// metrics.c: see metrics.h.
#include "metrics.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "packed.h"
#include "progress.h"
#include "xio.h"

// ---- JSONL ----------------------------------------------------------------------------------------------

void metrics_init(metrics_log *m, const char *path, int64_t resume_step) {
    memset(m, 0, sizeof *m);
    if (!path) return;
    m->path = xstrdup(path);
    m->truncate = resume_step < 0;
    m->keep_through = resume_step < 0 ? 0 : (uint64_t)resume_step;
}

// Rewrites the file keeping the records of steps <= keep_through (atomically: a crash here keeps the old
// file). A line that does not parse as a record ends the kept part: it can only be a torn last line.
static void drop_later_records(metrics_log *m) {
    FILE *in = fopen(m->path, "r");
    if (!in) {
        if (errno == ENOENT) return;
        die(SCOUT_EXIT_IO, "cannot read %s: %s", m->path, strerror(errno));
    }
    atomic_out *out = atomic_open(m->path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        unsigned long long step;
        if (line[n - 1] != '\n' || sscanf(line, "{\"step\": %llu", &step) != 1 || step > m->keep_through) break;
        atomic_write(out, line, (size_t)n);
    }
    free(line);
    fclose(in);
    atomic_commit(out);
}

static void open_file(metrics_log *m) {
    if (!m->truncate) drop_later_records(m);
    m->f = fopen(m->path, m->truncate ? "w" : "a");
    if (!m->f) die(SCOUT_EXIT_IO, "cannot open %s for writing: %s", m->path, strerror(errno));
}

void metrics_write(metrics_log *m, const step_record *r) {
    if (!m->path) return;
    if (!m->f) open_file(m);
    fprintf(m->f, "{\"step\": %llu, \"tokens\": %llu, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, "
                  "\"tok_per_s\": %.1f, \"mfu\": ",
            (unsigned long long)r->step, (unsigned long long)r->tokens, (double)r->loss, r->lr, r->grad_norm,
            r->tok_per_s);
    if (r->mfu >= 0) fprintf(m->f, "%.6f", r->mfu);
    else fputs("null", m->f);
    if (r->has_val) fprintf(m->f, ", \"val_loss\": %.9g", (double)r->val_loss);
    fputs("}\n", m->f);
    if (fflush(m->f) != 0 || ferror(m->f)) die(SCOUT_EXIT_IO, "cannot write %s: %s", m->path, strerror(errno));
}

void metrics_close(metrics_log *m) {
    if (m->f && fclose(m->f) != 0) die(SCOUT_EXIT_IO, "cannot write %s: %s", m->path, strerror(errno));
    free(m->path);
    memset(m, 0, sizeof *m);
}

// ---- progress line --------------------------------------------------------------------------------------

void progress_line_init(progress_line *p, uint64_t total_steps) {
    memset(p, 0, sizeof *p);
    p->tty = isatty(2);
    p->total_steps = total_steps;
}

static void format_duration(char *buf, size_t n, double seconds) {
    if (seconds < 0 || !isfinite(seconds)) {
        snprintf(buf, n, "?");
        return;
    }
    long long s = llround(seconds);
    if (s < 90) snprintf(buf, n, "%llds", s);
    else if (s < 5400) snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
    else snprintf(buf, n, "%lldh%02lldm", s / 3600, s / 60 % 60);
}

void progress_line_step(progress_line *p, const step_record *r, double step_s) {
    // A short average, so the ETA follows the current speed but a single slow step (a checkpoint) does not
    // swing it much.
    p->avg_step_s = p->avg_step_s > 0 ? 0.9 * p->avg_step_s + 0.1 * step_s : step_s;
    if (log_get_level() < LOG_NORMAL) return;
    const double now = now_seconds();
    const int last = r->step == p->total_steps;
    if (!p->tty && !(r->step == 1 || last || r->has_val || now - p->t_last >= 5.0)) return;
    p->t_last = now;
    char eta[32], line[256];
    format_duration(eta, sizeof eta, p->avg_step_s * (double)(p->total_steps - r->step));
    int n = snprintf(line, sizeof line, "%s: step %llu/%llu | loss %.4f | lr %.3e | norm %.3f | %.0f tok/s",
                     log_tool_name(), (unsigned long long)r->step, (unsigned long long)p->total_steps, (double)r->loss,
                     r->lr, r->grad_norm, r->tok_per_s);
    if (r->mfu >= 0 && n < (int)sizeof line) n += snprintf(line + n, sizeof line - n, " | mfu %.1f%%", 100 * r->mfu);
    if (r->has_val && n < (int)sizeof line) n += snprintf(line + n, sizeof line - n, " | val %.4f", (double)r->val_loss);
    if (n < (int)sizeof line) snprintf(line + n, sizeof line - n, " | ETA %s", eta);
    if (p->tty) fprintf(stderr, "\r\033[K%s%s", line, r->has_val || last ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
}

// ---- unigram entropy ------------------------------------------------------------------------------------

double unigram_entropy_of_shards(const char *pattern, uint32_t vocab_size, uint64_t *n_tokens) {
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0)
        die(SCOUT_EXIT_IO, "no file matches %s", pattern);
    uint64_t *count = xcalloc(vocab_size, sizeof *count), total = 0;
    enum { BUF_TOKENS = 1 << 16 };
    uint8_t *buf = xmalloc(BUF_TOKENS * 4);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        packed_reader r;
        packed_reader_open(&r, g.gl_pathv[i]);
        while (packed_reader_next_chunk(&r)) {
            size_t n;
            while ((n = packed_reader_read(&r, buf, BUF_TOKENS)) > 0) {
                for (size_t k = 0; k < n; k++) {
                    uint32_t id = r.h.dtype == LITPKDS_UINT16 ? ((const uint16_t *)buf)[k] : ((const uint32_t *)buf)[k];
                    if (id >= vocab_size)
                        die(SCOUT_EXIT_DATA, "%s: token %u >= the model's vocab_size %u", g.gl_pathv[i], id, vocab_size);
                    count[id]++;
                }
                total += n;
            }
        }
        packed_reader_close(&r);
    }
    globfree(&g);
    double h = 0.0;
    for (uint32_t v = 0; v < vocab_size; v++)
        if (count[v]) {
            double p = (double)count[v] / (double)total;
            h -= p * log(p);
        }
    free(count);
    free(buf);
    if (n_tokens) *n_tokens = total;
    return h;
}
