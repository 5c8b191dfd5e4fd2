// hub_range.c: see hub_range.h.
#include "hub_range.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"

typedef struct range_sink {
    uint8_t *buf;
    uint64_t offset, len, have; // the range, and how much of it arrived
    int ignored_range;          // the server answered 200: it does not do ranges
    int bad_start;              // Content-Range does not start where asked
} range_sink;

static int copy_sink(void *ctx, const void *data, size_t n, const http_response *resp) {
    range_sink *s = ctx;
    if (resp->status == 200) { // a whole 2 GB file where a few MB were asked: stop at once
        s->ignored_range = 1;
        return 1;
    }
    if (s->have == 0 && resp->sink_bytes == 0) {
        const char *cr = http_header_get(resp, "Content-Range");
        long long a;
        if (!cr || sscanf(cr, "bytes %lld-", &a) != 1 || (uint64_t)a != s->offset) {
            s->bad_start = 1;
            return 1;
        }
    }
    uint64_t room = s->len - s->have;
    size_t take = n < room ? n : (size_t)room;
    memcpy(s->buf + s->have, data, take);
    s->have += take;
    return 0;
}

static int stopped(const int *stop) { return stop && __atomic_load_n(stop, __ATOMIC_RELAXED); }

static int should_abort(void *ctx) { return sig_pending() != 0 || stopped(ctx); }

static int interrupted(const hub_file *f, const int *stop, hub_error *e) {
    if (sig_pending())
        hub_fail(e, sig_exit_code(sig_pending()), "%s: interrupted", f->path);
    else
        hub_fail(e, SCOUT_EXIT_OK, "%s: stopped (no more rows needed)", f->path);
    return -1;
}

int hub_read_range(const hub *h, http_client *c, const hub_file *f, hub_location *loc, uint64_t offset, uint64_t len,
                   uint8_t *buf, const int *stop, hub_error *e) {
    range_sink s = {.buf = buf};
    retry_state rs;
    retry_state_init(&rs, (unsigned)getpid() ^ (unsigned)offset);
    http_response resp = {0};
    int result = -1;
    uint64_t done = 0;
    while (done < len) {
        if (!loc->url && hub_resolve(h, c, f, loc, e) != 0) goto out;
        // After a drop, ask only for what is still missing.
        s.buf = buf + done;
        s.offset = offset + done;
        s.len = len - done;
        s.have = 0;
        s.ignored_range = s.bad_start = 0;
        http_request req = {
            .method = HTTP_GET, .url = loc->url, .bearer = loc->token_allowed ? h->token : NULL,
            .range_start = (int64_t)s.offset, .range_end = (int64_t)(offset + len - 1), .sink = copy_sink, .sink_ctx = &s,
            .should_abort = should_abort, .abort_ctx = (void *)stop,
        };
        int rc = http_perform(c, &req, &resp);
        done += s.have;
        if (s.have) retry_progress(&rs);
        if (resp.aborted || sig_pending() || stopped(stop)) {
            interrupted(f, stop, e);
            goto out;
        }
        if (s.ignored_range) {
            hub_fail(e, SCOUT_EXIT_IO, "%s: the server ignores Range requests, so rows cannot be read in place; "
                     "download whole files with -o DIR", f->path);
            goto out;
        }
        if (done >= len) break;
        double hint = -1, delay;
        char desc[600];
        enum hub_step step = HUB_STEP_RETRY;
        if (s.bad_start) {
            snprintf(desc, sizeof desc, "Content-Range '%s' does not start at byte %" PRIu64,
                     http_header_get(&resp, "Content-Range") ? http_header_get(&resp, "Content-Range") : "(none)", s.offset);
        } else if (rc == 0 && resp.status >= 200 && resp.status < 300) {
            snprintf(desc, sizeof desc, "the answer ended %" PRIu64 " bytes early", len - done);
        } else {
            http_describe_failure(&resp, desc, sizeof desc);
            step = hub_failure_step(rc, &resp, loc, &hint);
        }
        if (step == HUB_STEP_FAIL) {
            hub_fail(e, SCOUT_EXIT_IO, "%s: GET bytes %" PRIu64 "-%" PRIu64 ": %s", f->path, offset, offset + len - 1, desc);
            goto out;
        }
        if (!retry_next(&h->retry, &rs, hint, &delay)) {
            char why[256];
            retry_describe_giving_up(&h->retry, &rs, hint, why, sizeof why);
            hub_fail(e, SCOUT_EXIT_IO, "%s: GET bytes %" PRIu64 "-%" PRIu64 ": %s; %s (try again later, or check the network)",
                     f->path, offset, offset + len - 1, desc, why);
            goto out;
        }
        log_info("%s: %s; %s in %.1fs (retry %d/%d)", f->path, desc,
                 step == HUB_STEP_RERESOLVE ? "asking the Hub for a new URL" : "retrying", delay, rs.failures,
                 h->retry.max_retries);
        if (step == HUB_STEP_RERESOLVE) hub_location_free(loc);
        if (retry_sleep(&h->retry, delay) || stopped(stop)) {
            interrupted(f, stop, e);
            goto out;
        }
    }
    result = 0;
out:
    http_response_free(&resp);
    return result;
}
