// progress.h: a progress display on stderr.
//
// On a terminal: one line redrawn in place (done, rate, ETA when the total is known), at most 10 times
// a second. Otherwise (a log file, CI): a plain line every 5 seconds, so logs stay readable.
// Silent with -q (LOG_QUIET). progress_update() reads the clock on every call: call it once per
// block of work (a read buffer, a chunk), not once per token.
#ifndef SCOUT_PROGRESS_H
#define SCOUT_PROGRESS_H

#include <stdint.h>

typedef struct progress {
    const char *label;  // "packing"
    const char *unit;   // "B" (shown as MB, GB) or "tok" (shown as M tok)
    uint64_t total;     // 0 when unknown
    uint64_t done;
    double t_start, t_last;
    int tty;
    int drawn;          // a line is on screen and needs finishing
} progress;

void progress_init(progress *p, const char *label, const char *unit, uint64_t total);
void progress_update(progress *p, uint64_t done);
void progress_finish(progress *p); // final line with the average rate

double now_seconds(void); // monotonic clock

#endif
