// hub_download.c: see hub_download.h.
#include "hub_download.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hub_verify.h"
#include "log.h"
#include "progress.h"
#include "sig.h"
#include "xio.h"

typedef struct file_slot {
    fetch_state state;
    int code;            // exit code of a failure
    char *local;         // <DIR>/<path>
} file_slot;

struct fetch_run {
    const hub *h;
    const hub_file_list *files;
    fetch_options o;
    file_slot *slots;
    size_t next;             // next file a worker takes
    int stop_new;            // a network failure: start no more files
    int cancelled;           // __atomic: fetch_cancel was called
    int live_workers;
    pthread_mutex_t mu;
    pthread_cond_t settled;  // a file settled or a worker ended
    pthread_t *threads;
    int n_threads;
    uint64_t total_bytes;
    uint64_t done_bytes;     // __atomic: bytes in place or in .part files, for the progress line
    uint64_t fetched_bytes;  // __atomic: bytes received over the network in this run
    progress prog;
};

// The state the body sink of one GET shares with download().
typedef struct transfer {
    fetch_run *run;
    const hub_file *f;
    const char *part;
    int fd;
    hash_follower hasher;    // hashes the .part behind the writer, in its own thread
    uint64_t have;           // bytes in the .part
    int64_t asked_from;      // Range start of the current request, -1 for none
    int started;             // the current response's body has begun
    int restart;             // the answer does not continue our bytes: start over from 0
    int write_errno;
    int data_problem;        // the server serves another file than the one listed
    char problem[512];
} transfer;

static void add_done(fetch_run *r, int64_t n) { __atomic_add_fetch(&r->done_bytes, (uint64_t)n, __ATOMIC_RELAXED); }

// The URL without its query: signed CDN URLs carry long signatures that help no one in a message.
static void display_url(const char *url, char *out, size_t n) {
    size_t len = strcspn(url, "?");
    snprintf(out, n, "%.*s%s", (int)len, url, url[len] ? "?..." : "");
}

// Empties the .part and the digests: the file starts over from byte 0.
static int restart_part(transfer *t) {
    hash_follower_cancel(&t->hasher);
    if (ftruncate(t->fd, 0) != 0) {
        t->write_errno = errno;
        return -1;
    }
    add_done(t->run, -(int64_t)t->have);
    t->have = 0;
    hash_follower_start(&t->hasher, t->fd, t->part, t->f, 0);
    return 0;
}

static int pwrite_all(int fd, const char *p, size_t n, uint64_t off) {
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

// "bytes A-B/TOTAL" (TOTAL may be '*').
static int parse_content_range(const char *v, int64_t *a, int64_t *total) {
    long long x, y;
    if (!v || sscanf(v, "bytes %lld-%lld/", &x, &y) != 2) return -1;
    const char *slash = strchr(v, '/');
    *a = x;
    *total = slash && slash[1] != '*' ? strtoll(slash + 1, NULL, 10) : -1;
    return 0;
}

// Checks the first bytes of a 2xx answer against what was asked.
static int check_answer_start(transfer *t, const http_response *resp) {
    if (resp->status == 206) {
        int64_t a, total;
        const char *cr = http_header_get(resp, "Content-Range");
        if (parse_content_range(cr, &a, &total) != 0 || a != t->asked_from) {
            snprintf(t->problem, sizeof t->problem, "answered '%s' to a request for bytes %" PRId64 "-",
                     cr ? cr : "(no Content-Range)", t->asked_from);
            t->restart = 1;
            return -1;
        }
        if (total >= 0 && (uint64_t)total != t->f->size) {
            snprintf(t->problem, sizeof t->problem, "serves a %" PRId64 "-byte file where the Hub lists %" PRIu64 " bytes",
                     total, t->f->size);
            t->data_problem = 1;
            return -1;
        }
    } else if (resp->status == 200) {
        if (t->have > 0) {
            // huggingface_hub does the same: a server that ignores Range sends the whole file.
            log_info("%s: the server ignored the Range request (HTTP 200): starting again from byte 0", t->f->path);
            if (restart_part(t) != 0) return -1;
        }
    } else {
        snprintf(t->problem, sizeof t->problem, "unexpected HTTP %ld to a GET", resp->status);
        t->restart = 1;
        return -1;
    }
    return 0;
}

static int body_sink(void *ctx, const void *data, size_t n, const http_response *resp) {
    transfer *t = ctx;
    if (!t->started) {
        t->started = 1;
        if (check_answer_start(t, resp) != 0) return 1;
    }
    // Never write past the listed size: what follows would be another file's bytes.
    uint64_t room = t->f->size - t->have;
    size_t take = n < room ? n : (size_t)room;
    if (take && pwrite_all(t->fd, data, take, t->have) != 0) {
        t->write_errno = errno;
        return 1;
    }
    t->have += take;
    hash_follower_advance(&t->hasher, t->have);
    add_done(t->run, (int64_t)take);
    __atomic_add_fetch(&t->run->fetched_bytes, take, __ATOMIC_RELAXED);
    return take < n; // more bytes than listed: stop; verification decides
}

static int cancelled(const fetch_run *r) { return __atomic_load_n(&r->cancelled, __ATOMIC_RELAXED); }

static int should_abort(void *ctx) {
    const transfer *t = ctx;
    return sig_pending() != 0 || cancelled(t->run);
}

// 1 when the file is already in place and verified, 0 when it must be downloaded, -1 (e filled) on
// error, or a signal number.
static int already_present(fetch_run *r, const hub_file *f, const char *local, hub_error *e) {
    struct stat st;
    if (stat(local, &st) != 0) return 0;
    if (!S_ISREG(st.st_mode)) {
        hub_fail(e, SCOUT_EXIT_IO, "%s exists and is not a regular file; move it away and run again", local);
        return -1;
    }
    if (!r->o.reverify && sidecar_vouches(r->o.out_dir, f)) return 1;
    if ((uint64_t)st.st_size != f->size) {
        log_info("%s: %llu bytes where the Hub lists %" PRIu64 ": downloading it again", local,
                 (unsigned long long)st.st_size, f->size);
        return 0;
    }
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        hub_fail(e, SCOUT_EXIT_IO, "cannot open %s: %s", local, strerror(errno));
        return -1;
    }
    log_info("%s: verifying the file already there", local);
    content_hash h;
    content_hash_init(&h, f);
    int rc = content_hash_fd(&h, fd, f->size, local, e);
    close(fd);
    content_digest d;
    content_hash_final(&h, &d);
    if (rc != 0) return rc;
    hub_error mismatch;
    if (verify_against_listing(f, f->size, &d, local, &mismatch) != 0) {
        log_warn("%s: downloading it again", mismatch.msg);
        sidecar_remove(r->o.out_dir, f);
        return 0;
    }
    sidecar_write(r->o.out_dir, f, &d, r->h->commit);
    return 1;
}

// Opens and locks the .part and starts hashing what it already holds. Returns 0 or -1 (e).
static int open_part(transfer *t, hub_error *e) {
    t->fd = open(t->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (t->fd < 0) {
        hub_fail(e, SCOUT_EXIT_IO, "cannot open %s: %s (is -o writable?)", t->part, strerror(errno));
        return -1;
    }
    // Two scout-fetch runs writing one .part would interleave bytes; the second one refuses.
    if (flock(t->fd, LOCK_EX | LOCK_NB) != 0) {
        hub_fail(e, SCOUT_EXIT_IO, "%s is being written by another scout-fetch; wait for it or stop it", t->part);
        return -1;
    }
    struct stat st;
    if (fstat(t->fd, &st) != 0) {
        hub_fail(e, SCOUT_EXIT_IO, "cannot stat %s: %s", t->part, strerror(errno));
        return -1;
    }
    t->have = (uint64_t)st.st_size;
    if (t->have > t->f->size) { // a .part of some other, longer file: useless
        if (ftruncate(t->fd, 0) != 0) {
            hub_fail(e, SCOUT_EXIT_IO, "cannot truncate %s: %s", t->part, strerror(errno));
            return -1;
        }
        t->have = 0;
    }
    if (t->have) log_info("%s: resuming at byte %" PRIu64 " of %" PRIu64, t->f->path, t->have, t->f->size);
    hash_follower_start(&t->hasher, t->fd, t->part, t->f, t->have);
    add_done(t->run, (int64_t)t->have);
    return 0;
}

// What to do after a GET that did not complete the file; desc says why, for messages.
static enum hub_step next_step(const transfer *t, int rc, const http_response *resp, const hub_location *loc,
                               double *hint, char *desc, size_t n) {
    *hint = -1;
    if (t->restart) {
        snprintf(desc, n, "%s", t->problem);
        return HUB_STEP_RETRY;
    }
    if (rc == 0 && resp->status >= 200 && resp->status < 300) {
        snprintf(desc, n, "the answer ended at byte %" PRIu64 " of %" PRIu64, t->have, t->f->size);
        return HUB_STEP_RETRY;
    }
    http_describe_failure(resp, desc, n);
    return hub_failure_step(rc, resp, loc, hint);
}

// Checks the complete .part (d filled): VERIFY_OK, VERIFY_MISMATCH or VERIFY_ERROR (e filled), or
// the number of a signal that stopped the hashing.
enum { VERIFY_OK = 0, VERIFY_ERROR = -1, VERIFY_MISMATCH = -2 };

static int verify_part(transfer *t, content_digest *d, hub_error *e) {
    int rc = hash_follower_finish(&t->hasher, d, e);
    if (rc != 0) return rc;
    return verify_against_listing(t->f, t->have, d, t->part, e) == 0 ? VERIFY_OK : VERIFY_MISMATCH;
}

static fetch_state download(fetch_run *r, http_client *c, const hub_file *f, const char *local, hub_error *e) {
    const hub *h = r->h;
    if (out_make_parents(local, e) != 0) return FETCH_FAILED;
    size_t plen = strlen(local) + 6;
    char *part = xmalloc(plen);
    snprintf(part, plen, "%s.part", local);
    transfer t = {.run = r, .f = f, .part = part, .fd = -1};
    fetch_state result = FETCH_FAILED;
    hub_location loc = {0};
    int have_loc = 0, fresh_downloads_left = 1;
    retry_state rs;
    retry_state_init(&rs, (unsigned)getpid() * 2654435761u ^ (unsigned)(uintptr_t)f);
    http_response resp = {0};
    int rc = open_part(&t, e);
    if (rc != 0) goto out;
    for (;;) {
        if (t.have == f->size) {
            content_digest d;
            int v = verify_part(&t, &d, e);
            if (v > 0) {
                result = FETCH_STOPPED;
                goto out;
            }
            if (v == VERIFY_ERROR) goto out;
            if (v == VERIFY_OK) {
                if (rename(part, local) != 0) {
                    hub_fail(e, SCOUT_EXIT_IO, "cannot rename %s to %s: %s", part, local, strerror(errno));
                    goto out;
                }
                sidecar_write(r->o.out_dir, f, &d, h->commit);
                result = FETCH_DOWNLOADED;
                goto out;
            }
            if (fresh_downloads_left-- > 0) {
                // Resumed bytes from an older run or a broken proxy can spoil one download; a
                // second complete download that also mismatches is the server's content.
                log_warn("%s; discarding it and downloading once more from byte 0", e->msg);
                if (restart_part(&t) != 0) goto truncate_failed;
                continue;
            }
            unlink(part);
            add_done(r, -(int64_t)t.have);
            size_t len = strlen(e->msg);
            snprintf(e->msg + len, sizeof e->msg - len,
                     " after two complete downloads: refused, nothing renamed into place (the Hub's copy may be "
                     "damaged; report it to the repository's owners)");
            goto out;
        }
        if (sig_pending() || cancelled(r)) {
            result = FETCH_STOPPED;
            goto out;
        }
        if (!have_loc) {
            if (hub_resolve(h, c, f, &loc, e) != 0) {
                result = sig_pending() ? FETCH_STOPPED : FETCH_FAILED;
                goto out;
            }
            have_loc = 1;
        }
        t.asked_from = t.have ? (int64_t)t.have : -1;
        t.started = t.restart = t.data_problem = 0;
        http_request req = {
            .method = HTTP_GET, .url = loc.url, .bearer = loc.token_allowed ? h->token : NULL,
            .range_start = t.asked_from, .range_end = -1, .sink = body_sink, .sink_ctx = &t,
            .should_abort = should_abort, .abort_ctx = &t,
        };
        uint64_t before = t.have;
        log_debug("GET %s (from byte %" PRIu64 ")", loc.url, t.have);
        rc = http_perform(c, &req, &resp);
        if (t.have > before) retry_progress(&rs); // the retry budget is per stretch without progress
        if (resp.aborted || sig_pending() || cancelled(r)) {
            result = FETCH_STOPPED;
            goto out;
        }
        char where[1024], desc[700];
        display_url(loc.url, where, sizeof where);
        if (t.write_errno) {
            hub_fail(e, SCOUT_EXIT_IO, "cannot write %s at byte %" PRIu64 ": %s (disk full?)", part, t.have,
                     strerror(t.write_errno));
            goto out;
        }
        if (t.data_problem) {
            hub_fail(e, SCOUT_EXIT_DATA, "%s: GET %s %s", f->path, where, t.problem);
            goto out;
        }
        if (t.have == f->size) continue;
        double hint;
        enum hub_step step = next_step(&t, rc, &resp, &loc, &hint, desc, sizeof desc);
        if (step == HUB_STEP_FAIL) {
            hub_fail(e, SCOUT_EXIT_IO, "%s: GET %s: %s (%" PRIu64 " of %" PRIu64 " bytes kept in %s; re-run to resume)",
                     f->path, where, desc, t.have, f->size, part);
            goto out;
        }
        if (t.restart && restart_part(&t) != 0) goto truncate_failed;
        double delay;
        if (!retry_next(&h->retry, &rs, hint, &delay)) {
            char why[256];
            retry_describe_giving_up(&h->retry, &rs, hint, why, sizeof why);
            hub_fail(e, SCOUT_EXIT_IO,
                     "%s: GET %s: %s; %s (%" PRIu64 " of %" PRIu64 " bytes kept in %s: re-run the same command later to "
                     "resume, or check the network%s)",
                     f->path, where, desc, why, t.have, f->size, part,
                     resp.status == 429 && !h->token ? "; HF_TOKEN raises the Hub's rate limits" : "");
            goto out;
        }
        log_info("%s: %s at byte %" PRIu64 "; %s in %.1fs (retry %d/%d)", f->path, desc, t.have,
                 step == HUB_STEP_RERESOLVE ? "asking the Hub for a new URL" : "resuming", delay, rs.failures,
                 h->retry.max_retries);
        if (step == HUB_STEP_RERESOLVE) {
            hub_location_free(&loc);
            have_loc = 0;
        }
        if (retry_sleep(&h->retry, delay)) {
            result = FETCH_STOPPED;
            goto out;
        }
    }
truncate_failed: // only reached by goto: the loop above never ends otherwise
    hub_fail(e, SCOUT_EXIT_IO, "cannot truncate %s to start again: %s", part, strerror(t.write_errno));
out:
    hash_follower_cancel(&t.hasher);
    if (t.fd >= 0) close(t.fd); // also releases the flock
    http_response_free(&resp);
    hub_location_free(&loc);
    free(part);
    return result;
}

static fetch_state fetch_one(fetch_run *r, http_client *c, size_t i, hub_error *e) {
    const hub_file *f = &r->files->v[i];
    const char *local = r->slots[i].local;
    int rc = already_present(r, f, local, e);
    if (rc == 1) {
        add_done(r, (int64_t)f->size);
        return FETCH_PRESENT;
    }
    if (rc < 0) return FETCH_FAILED;
    if (rc > 0) return FETCH_STOPPED;
    return download(r, c, f, local, e);
}

static void *worker(void *arg) {
    fetch_run *r = arg;
    http_client *c = http_client_new();
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (r->next >= r->files->n || r->stop_new || sig_pending() || cancelled(r)) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        size_t i = r->next++;
        r->slots[i].state = FETCH_RUNNING;
        pthread_mutex_unlock(&r->mu);

        hub_error e = {0};
        fetch_state st = fetch_one(r, c, i, &e);
        if (st == FETCH_FAILED) log_error("%s", e.msg);

        pthread_mutex_lock(&r->mu);
        r->slots[i].state = st;
        r->slots[i].code = st == FETCH_FAILED ? e.code : 0;
        if (st == FETCH_FAILED && e.code == SCOUT_EXIT_IO) r->stop_new = 1;
        pthread_cond_broadcast(&r->settled);
        pthread_mutex_unlock(&r->mu);
    }
    http_client_free(c);
    pthread_mutex_lock(&r->mu);
    r->live_workers--;
    pthread_cond_broadcast(&r->settled);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

fetch_run *fetch_start(const hub *h, const hub_file_list *files, const fetch_options *o) {
    fetch_run *r = xcalloc(1, sizeof *r);
    r->h = h;
    r->files = files;
    r->o = *o;
    r->slots = xcalloc(files->n ? files->n : 1, sizeof *r->slots);
    for (size_t i = 0; i < files->n; i++) {
        size_t n = strlen(o->out_dir) + strlen(files->v[i].path) + 2;
        r->slots[i].local = xmalloc(n);
        snprintf(r->slots[i].local, n, "%s/%s", o->out_dir, files->v[i].path);
        r->total_bytes += files->v[i].size;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->settled, NULL);
    progress_init(&r->prog, "fetching", "B", r->total_bytes);
    r->n_threads = o->jobs < 1 ? 1 : o->jobs;
    if ((size_t)r->n_threads > files->n) r->n_threads = files->n ? (int)files->n : 1;
    r->threads = xcalloc((size_t)r->n_threads, sizeof *r->threads);
    r->live_workers = r->n_threads;
    for (int k = 0; k < r->n_threads; k++) {
        int err = pthread_create(&r->threads[k], NULL, worker, r);
        if (err) die(SCOUT_EXIT_FAIL, "cannot start download thread %d: %s", k, strerror(err));
    }
    return r;
}

// With r->mu held: waits up to 200 ms for a change, then redraws the progress line.
static void wait_a_little(fetch_run *r) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&r->settled, &r->mu, &ts);
    progress_update(&r->prog, __atomic_load_n(&r->done_bytes, __ATOMIC_RELAXED));
}

fetch_state fetch_wait(fetch_run *r, size_t i) {
    pthread_mutex_lock(&r->mu);
    while ((r->slots[i].state == FETCH_QUEUED || r->slots[i].state == FETCH_RUNNING) && r->live_workers > 0)
        wait_a_little(r);
    fetch_state st = r->slots[i].state;
    pthread_mutex_unlock(&r->mu);
    return st == FETCH_QUEUED ? FETCH_STOPPED : st;
}

void fetch_cancel(fetch_run *r) { __atomic_store_n(&r->cancelled, 1, __ATOMIC_RELAXED); }

const char *fetch_local_path(const fetch_run *r, size_t i) { return r->slots[i].local; }

int fetch_finish(fetch_run *r) {
    pthread_mutex_lock(&r->mu);
    while (r->live_workers > 0) wait_a_little(r);
    pthread_mutex_unlock(&r->mu);
    for (int k = 0; k < r->n_threads; k++) pthread_join(r->threads[k], NULL);
    progress_finish(&r->prog);

    size_t counts[FETCH_STOPPED + 1] = {0};
    int saw_data = 0, saw_io = 0;
    for (size_t i = 0; i < r->files->n; i++) {
        fetch_state st = r->slots[i].state == FETCH_QUEUED ? FETCH_STOPPED : r->slots[i].state;
        counts[st]++;
        if (st == FETCH_FAILED && r->slots[i].code == SCOUT_EXIT_DATA) saw_data = 1;
        if (st == FETCH_FAILED && r->slots[i].code != SCOUT_EXIT_DATA) saw_io = 1;
    }
    log_info("%zu downloaded (%.1f MB received), %zu already present and verified, %zu failed, %zu not done, in %s",
             counts[FETCH_DOWNLOADED], 1e-6 * (double)r->fetched_bytes, counts[FETCH_PRESENT], counts[FETCH_FAILED],
             counts[FETCH_STOPPED], r->o.out_dir);
    int code = SCOUT_EXIT_OK;
    if (sig_pending()) {
        log_error("interrupted: partial downloads are kept as .part files in %s; run the same command again to resume",
                  r->o.out_dir);
        code = sig_exit_code(sig_pending());
    } else if (saw_data) {
        code = SCOUT_EXIT_DATA;
    } else if (saw_io || (counts[FETCH_STOPPED] && !cancelled(r))) {
        code = SCOUT_EXIT_IO;
    }
    for (size_t i = 0; i < r->files->n; i++) free(r->slots[i].local);
    free(r->slots);
    free(r->threads);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->settled);
    free(r);
    return code;
}
