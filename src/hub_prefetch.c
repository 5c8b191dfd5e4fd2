// hub_prefetch.c: see hub_prefetch.h.
#include "hub_prefetch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hub_range.h"
#include "log.h"
#include "xio.h"

enum { SLOT_FREE, SLOT_FETCHING, SLOT_READY, SLOT_FAILED };

// A row group's chunks, or the error that stopped them. Row group rg lives in slot rg % window.
typedef struct slot {
    int state;
    size_t rg;
    uint8_t *buf;
    size_t cap;
    uint64_t *at;     // [n] where column c's chunk starts in buf
    hub_error e;
} slot;

struct rg_prefetch {
    const hub *h;
    const hub_file *f;
    const pq_meta *m;
    size_t *cols;
    size_t n;
    hub_location loc;       // the file's location, copied by each thread
    pthread_mutex_t mu;
    pthread_cond_t cv;      // a slot changed state, or consumed/limit/stop changed
    size_t limit;           // fetch row groups below this
    size_t next_fetch;      // the next row group a thread takes
    size_t consumed;        // the caller is done with every row group below this
    size_t window;          // slots: row groups in flight or ready
    slot *slots;
    int stop;               // __atomic; also polled by hub_read_range
    pthread_t *threads;
    int n_threads;
    uint64_t bytes;         // __atomic
};

static uint8_t *slot_buffer(slot *s, uint64_t n) {
    if (n > s->cap) {
        s->buf = xrealloc(s->buf, (size_t)n);
        s->cap = (size_t)n;
    }
    return s->buf;
}

// The chunks of row group rg into s: one request spanning them all when the chunks in between are
// small (FineWeb-Edu's text, url and score lie within a few hundred KB), else one per chunk.
static int fetch_group(rg_prefetch *p, http_client *c, hub_location *loc, slot *s, size_t rg, hub_error *e) {
    const pq_chunk_info *chunks = p->m->row_groups[rg].chunks;
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
    for (size_t k = 0; k < p->n; k++) {
        const pq_chunk_info *ci = &chunks[p->cols[k]];
        if (ci->offset < lo) lo = ci->offset;
        if (ci->offset + ci->size > hi) hi = ci->offset + ci->size;
        sum += ci->size;
    }
    int span = hi - lo <= sum + (4u << 20);
    uint8_t *buf = slot_buffer(s, span ? hi - lo : sum);
    if (span) {
        if (hub_read_range(p->h, c, p->f, loc, lo, hi - lo, buf, &p->stop, e) != 0) return -1;
        __atomic_add_fetch(&p->bytes, hi - lo, __ATOMIC_RELAXED);
        for (size_t k = 0; k < p->n; k++) s->at[k] = chunks[p->cols[k]].offset - lo;
        return 0;
    }
    uint64_t at = 0;
    for (size_t k = 0; k < p->n; k++) {
        const pq_chunk_info *ci = &chunks[p->cols[k]];
        if (hub_read_range(p->h, c, p->f, loc, ci->offset, ci->size, buf + at, &p->stop, e) != 0) return -1;
        __atomic_add_fetch(&p->bytes, ci->size, __ATOMIC_RELAXED);
        s->at[k] = at;
        at += ci->size;
    }
    return 0;
}

static int stopping(rg_prefetch *p) { return __atomic_load_n(&p->stop, __ATOMIC_RELAXED); }

static void *worker(void *arg) {
    rg_prefetch *p = arg;
    http_client *c = http_client_new();
    hub_location loc = p->loc;
    loc.url = xstrdup(p->loc.url);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        // A row group may be fetched when it is below the limit and its slot's previous row group
        // (rg - window) is consumed.
        while (!stopping(p) && (p->next_fetch >= p->limit || p->next_fetch >= p->consumed + p->window)) {
            if (p->next_fetch >= p->m->num_row_groups) goto done; // nothing left, ever
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (stopping(p)) break;
        size_t rg = p->next_fetch++;
        slot *s = &p->slots[rg % p->window];
        s->rg = rg;
        s->state = SLOT_FETCHING;
        pthread_mutex_unlock(&p->mu);
        hub_error e = {0};
        int rc = fetch_group(p, c, &loc, s, rg, &e);
        pthread_mutex_lock(&p->mu);
        s->state = rc ? SLOT_FAILED : SLOT_READY;
        if (rc) s->e = e;
        pthread_cond_broadcast(&p->cv);
    }
done:
    pthread_mutex_unlock(&p->mu);
    hub_location_free(&loc);
    http_client_free(c);
    return NULL;
}

rg_prefetch *rg_prefetch_start(const hub *h, const hub_file *f, const hub_location *loc, const pq_meta *m,
                               const size_t *cols, size_t n, size_t limit, int threads) {
    rg_prefetch *p = xcalloc(1, sizeof *p);
    p->h = h;
    p->f = f;
    p->m = m;
    p->n = n;
    p->cols = xmalloc(n * sizeof *p->cols);
    memcpy(p->cols, cols, n * sizeof *cols);
    p->loc = *loc;
    p->loc.url = xstrdup(loc->url);
    p->limit = limit < m->num_row_groups ? limit : m->num_row_groups;
    p->n_threads = threads < 1 ? 1 : threads;
    p->window = 2 * (size_t)p->n_threads; // a ready group for every one in flight: decoding never waits on a round trip
    p->slots = xcalloc(p->window, sizeof *p->slots);
    for (size_t i = 0; i < p->window; i++) {
        p->slots[i].at = xcalloc(n, sizeof *p->slots[i].at);
        p->slots[i].rg = SIZE_MAX;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = xcalloc((size_t)p->n_threads, sizeof *p->threads);
    for (int k = 0; k < p->n_threads; k++) {
        int err = pthread_create(&p->threads[k], NULL, worker, p);
        if (err) die(SCOUT_EXIT_FAIL, "cannot start a fetch thread: %s", strerror(err));
    }
    return p;
}

void rg_prefetch_raise_limit(rg_prefetch *p, size_t limit) {
    pthread_mutex_lock(&p->mu);
    if (limit > p->m->num_row_groups) limit = p->m->num_row_groups;
    if (limit > p->limit) {
        p->limit = limit;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

int rg_prefetch_get(rg_prefetch *p, size_t rg, const uint8_t **chunks, hub_error *e) {
    pthread_mutex_lock(&p->mu);
    p->consumed = rg; // the caller is done with rg - 1: its slot may take rg - 1 + window
    if (p->limit <= rg) p->limit = rg + 1;
    pthread_cond_broadcast(&p->cv);
    slot *s = &p->slots[rg % p->window];
    while (!(s->rg == rg && (s->state == SLOT_READY || s->state == SLOT_FAILED))) pthread_cond_wait(&p->cv, &p->mu);
    int rc = 0;
    if (s->state == SLOT_FAILED) {
        *e = s->e;
        rc = -1;
    } else {
        for (size_t k = 0; k < p->n; k++) chunks[k] = s->buf + s->at[k];
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

uint64_t rg_prefetch_bytes(const rg_prefetch *p) { return __atomic_load_n(&p->bytes, __ATOMIC_RELAXED); }

void rg_prefetch_stop(rg_prefetch *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int k = 0; k < p->n_threads; k++) pthread_join(p->threads[k], NULL);
    for (size_t i = 0; i < p->window; i++) {
        free(p->slots[i].buf);
        free(p->slots[i].at);
    }
    free(p->slots);
    free(p->threads);
    free(p->cols);
    hub_location_free(&p->loc);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
