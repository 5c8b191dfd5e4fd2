// hub_retry.c: see hub_retry.h.
#include "hub_retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "sig.h"

void retry_policy_default(retry_policy *p) {
    p->max_retries = 5;
    p->max_wait_s = 300;
    p->base_s = 1;
    p->cap_s = 8;
    p->ms_per_s = 1000;
    const char *env = getenv("SCOUT_FETCH_BACKOFF_MS");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (*end || v < 0 || v > 60000)
            die(SCOUT_EXIT_USAGE, "SCOUT_FETCH_BACKOFF_MS must be a number of milliseconds in 0..60000, got '%s'", env);
        p->ms_per_s = v;
    }
}

void retry_state_init(retry_state *s, unsigned seed) {
    s->failures = 0;
    s->waited_s = 0;
    s->seed = seed;
}

int retry_next(const retry_policy *p, retry_state *s, double hint_s, double *delay_s) {
    if (s->failures >= p->max_retries) return 0;
    double d;
    if (hint_s >= 0) {
        d = hint_s + 1; // one second past the window edge, as huggingface_hub does
    } else {
        d = p->base_s;
        for (int i = 0; i < s->failures && d < p->cap_s; i++) d *= 2;
        if (d > p->cap_s) d = p->cap_s;
        // +-20% jitter: --jobs workers hit by the same outage should not come back in lockstep.
        d *= 0.8 + 0.4 * (double)rand_r(&s->seed) / RAND_MAX;
    }
    if (s->waited_s + d > p->max_wait_s) return 0;
    s->failures++;
    s->waited_s += d;
    *delay_s = d;
    return 1;
}

void retry_progress(retry_state *s) {
    s->failures = 0;
    s->waited_s = 0;
}

void retry_describe_giving_up(const retry_policy *p, const retry_state *s, double hint_s, char *out, size_t n) {
    if (s->failures >= p->max_retries)
        snprintf(out, n, "gave up after %d retries", s->failures);
    else if (hint_s >= 0)
        snprintf(out, n, "the server asks to wait %.0f s, beyond the retry budget of %.0f s (--retry-max-time)", hint_s,
                 p->max_wait_s);
    else
        snprintf(out, n, "gave up after %d retries and %.0f s of waiting (--retry-max-time)", s->failures, s->waited_s);
}

int retry_sleep(const retry_policy *p, double delay_s) {
    double ms = delay_s * p->ms_per_s;
    // Sleep in slices of at most 50 ms so ^C is answered promptly even during a long Retry-After.
    while (ms > 0 && !sig_pending()) {
        double slice = ms < 50 ? ms : 50;
        struct timespec ts = {(time_t)(slice / 1000), (long)((slice - 1000.0 * (long)(slice / 1000)) * 1e6)};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return sig_pending();
}
