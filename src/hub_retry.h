// hub_retry.h: when to try a failed request again, and how long to wait first.
//
// The policy is huggingface_hub's (spec/data.md §2.7): retry 408/429/5xx answers and dropped or
// refused connections, sleeping 1 s and doubling up to 8 s, or what the server asks for (Retry-After,
// RateLimit t=) plus 1 s. Both the count of consecutive failures and the total time slept are
// bounded; the count resets whenever a download makes progress, so a long file on a flaky link
// still finishes while a dead link gives up in bounded time.
//
// SCOUT_FETCH_BACKOFF_MS (default 1000) is the real length of one "second" of backoff: the tests set
// it to a few milliseconds so fault scenarios run fast while following the production schedule.
#ifndef SCOUT_HUB_RETRY_H
#define SCOUT_HUB_RETRY_H

#include <stddef.h>

typedef struct retry_policy {
    int max_retries;     // consecutive failed attempts without progress before giving up (default 5)
    double max_wait_s;   // total backoff without progress before giving up, in backoff seconds (default 300)
    double base_s;       // first backoff (1)
    double cap_s;        // longest exponential backoff (8)
    double ms_per_s;     // real milliseconds per backoff second (SCOUT_FETCH_BACKOFF_MS, default 1000)
} retry_policy;

typedef struct retry_state {
    int failures;        // consecutive failures since the last progress
    double waited_s;     // backoff seconds slept since the last progress
    unsigned seed;       // jitter, so parallel jobs do not retry in lockstep
} retry_state;

// The default policy, with SCOUT_FETCH_BACKOFF_MS applied. Dies with a usage error on a bad value.
void retry_policy_default(retry_policy *p);
void retry_state_init(retry_state *s, unsigned seed);

// After a failure: 1 and *delay_s (backoff seconds) when another attempt is allowed, 0 when the
// budget is spent. hint_s >= 0 is the wait the server asked for; a hint beyond the remaining time
// budget gives up at once rather than sleeping past it.
int retry_next(const retry_policy *p, retry_state *s, double hint_s, double *delay_s);
// New bytes arrived: the failure count and the time budget start again.
void retry_progress(retry_state *s);

// Why retry_next gave up, for messages: "gave up after 5 retries" or "the server asks to wait
// 3600 s, beyond the retry budget of 300 s (--retry-max-time)". hint_s as given to retry_next.
void retry_describe_giving_up(const retry_policy *p, const retry_state *s, double hint_s, char *out, size_t n);

// Sleeps delay_s backoff seconds, waking early when SIGINT/SIGTERM is pending. Returns the pending
// signal (0 when none).
int retry_sleep(const retry_policy *p, double delay_s);

#endif
