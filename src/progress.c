// progress.c: see progress.h.
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void human(char *buf, size_t n, double v, const char *unit) {
    const char *pfx[] = {"", "K", "M", "G", "T"};
    int i = 0;
    while (v >= 1000.0 && i < 4) {
        v /= 1000.0;
        i++;
    }
    snprintf(buf, n, i ? "%.2f %s%s" : "%.0f %s%s", v, pfx[i], unit);
}

static void draw(progress *p, double now, int final) {
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    char done[32], r[32], line[256];
    human(done, sizeof done, (double)p->done, p->unit);
    human(r, sizeof r, rate, p->unit);
    int n = snprintf(line, sizeof line, "%s: %s %s, %s/s", log_tool_name(), p->label, done, r);
    if (p->total && n < (int)sizeof line) {
        double frac = (double)p->done / (double)p->total;
        if (final || rate <= 0)
            n += snprintf(line + n, sizeof line - n, " (%.1f%%)", 100 * frac);
        else
            n += snprintf(line + n, sizeof line - n, " (%.1f%%, ETA %.0fs)", 100 * frac,
                          (double)(p->total - (p->done < p->total ? p->done : p->total)) / rate);
    }
    if (final && n < (int)sizeof line) snprintf(line + n, sizeof line - n, " in %.2fs", el);
    if (p->tty)
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    p->drawn = p->tty && !final;
}

void progress_init(progress *p, const char *label, const char *unit, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->t_start = p->t_last = now_seconds();
    p->tty = isatty(2);
}

void progress_update(progress *p, uint64_t done) {
    p->done = done;
    if (log_get_level() < LOG_NORMAL) return;
    double now = now_seconds();
    double every = p->tty ? 0.1 : 5.0;
    if (now - p->t_last < every) return;
    p->t_last = now;
    draw(p, now, 0);
}

void progress_finish(progress *p) {
    if (log_get_level() < LOG_NORMAL) return;
    draw(p, now_seconds(), 1);
}
