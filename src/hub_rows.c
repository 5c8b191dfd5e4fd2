// hub_rows.c: see hub_rows.h.
#include "hub_rows.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub_prefetch.h"
#include "hub_range.h"
#include "jsonl.h"
#include "log.h"
#include "parquet.h"
#include "progress.h"
#include "sig.h"
#include "xio.h"

enum { OUT_FLUSH = 1 << 20 }; // JSONL bytes gathered before one write(2)

// ---------------------------------------------------------------------------------------------
// JSONL output

typedef struct rows_out {
    const rows_options *o;
    uint8_t **keys;         // "\"text\":" per column, as JSON
    size_t *key_len;
    uint8_t *buf;
    size_t len, cap;
    uint64_t printed, skipped_null, bytes_out;
    int write_errno;        // stdout failed (a closed pipe: EPIPE)
    progress prog;
    int show_progress;
} rows_out;

size_t rows_parse_columns(const char *list, const char ***out) {
    char *copy = xstrdup(list); // columns[0] points at its start: rows_columns_free frees it
    size_t n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    const char **cols = xcalloc(n, sizeof *cols);
    size_t k = 0;
    for (char *s = copy;;) {
        char *comma = strchr(s, ',');
        if (comma) *comma = 0;
        if (!*s) die(SCOUT_EXIT_USAGE, "--columns '%s' has an empty column name", list);
        for (size_t j = 0; j < k; j++)
            if (strcmp(cols[j], s) == 0) die(SCOUT_EXIT_USAGE, "--columns names '%s' twice", s);
        cols[k++] = s;
        if (!comma) break;
        s = comma + 1;
    }
    *out = cols;
    return k;
}

void rows_columns_free(const char **columns) {
    if (!columns) return;
    free((char *)columns[0]);
    free(columns);
}

static void out_init(rows_out *w, const rows_options *o, int show_progress) {
    memset(w, 0, sizeof *w);
    w->o = o;
    w->keys = xcalloc(o->n_columns, sizeof *w->keys);
    w->key_len = xcalloc(o->n_columns, sizeof *w->key_len);
    for (size_t c = 0; c < o->n_columns; c++) {
        size_t n = strlen(o->columns[c]);
        w->keys[c] = xmalloc(JSONL_ESCAPED_MAX(n) + 1);
        w->key_len[c] = jsonl_escape((const uint8_t *)o->columns[c], n, w->keys[c]);
        w->keys[c][w->key_len[c]++] = ':';
    }
    w->cap = 2 * OUT_FLUSH;
    w->buf = xmalloc(w->cap);
    w->show_progress = show_progress;
    progress_init(&w->prog, "jsonl", "B", 0);
}

// Writes what is buffered. -1 when stdout failed (write_errno says why).
static int out_flush(rows_out *w) {
    size_t off = 0;
    while (off < w->len && !w->write_errno) {
        ssize_t n = write(1, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) w->write_errno = n < 0 ? errno : EIO;
        else off += (size_t)n;
    }
    w->bytes_out += off;
    w->len = 0;
    if (w->show_progress) progress_update(&w->prog, w->bytes_out);
    return w->write_errno ? -1 : 0;
}

static void out_reserve(rows_out *w, size_t n) {
    if (w->len + n <= w->cap) return;
    while (w->cap < w->len + n) w->cap *= 2;
    w->buf = xrealloc(w->buf, w->cap);
}

static void out_free(rows_out *w) {
    for (size_t c = 0; c < w->o->n_columns; c++) free(w->keys[c]);
    free(w->keys);
    free(w->key_len);
    free(w->buf);
}

// Appends the rows of one row group (vals: one decoded chunk per printed column).
static int out_group(rows_out *w, const pq_column_values *vals, size_t rows) {
    size_t nc = w->o->n_columns;
    for (size_t i = 0; i < rows && w->printed < w->o->max_rows; i++) {
        if (vals[0].is_null[i]) {
            w->skipped_null++;
            continue;
        }
        out_reserve(w, 3);
        w->buf[w->len++] = '{';
        for (size_t c = 0; c < nc; c++) {
            out_reserve(w, w->key_len[c] + pq_value_json_max(&vals[c], i) + 3);
            if (c) w->buf[w->len++] = ',';
            memcpy(w->buf + w->len, w->keys[c], w->key_len[c]);
            w->len += w->key_len[c];
            w->len += pq_value_to_json(&vals[c], i, w->buf + w->len);
        }
        w->buf[w->len++] = '}';
        w->buf[w->len++] = '\n';
        w->printed++;
        if (w->len >= OUT_FLUSH && out_flush(w) != 0) return -1;
    }
    return 0;
}

static int stdout_failed(rows_out *w, hub_error *e) {
    hub_fail(e, SCOUT_EXIT_IO, "cannot write JSONL to stdout after %" PRIu64 " rows: %s%s", w->printed,
             strerror(w->write_errno), w->write_errno == EPIPE ? " (the reading end of the pipe closed)" : "");
    return -1;
}

static void out_summary(rows_out *w, size_t files) {
    if (w->show_progress) progress_finish(&w->prog);
    log_info("%" PRIu64 " rows from %zu file(s) as JSONL%s", w->printed, files,
             w->skipped_null ? " (rows with a null first column skipped)" : "");
    if (w->skipped_null)
        log_info("%" PRIu64 " rows skipped: their '%s' is null", w->skipped_null, w->o->columns[0]);
}

// ---------------------------------------------------------------------------------------------
// One file, whatever holds its bytes

// Decodes the printed columns of row group rg into vals.
typedef int (*decode_group_fn)(void *ctx, const pq_meta *m, size_t rg, const size_t *cols, size_t n,
                               pq_column_values *vals, hub_error *e);

static int pq_failed(hub_error *e, const char *name, int rc, const pq_error *err) {
    hub_fail(e, pq_exit_code(rc), "%s: %s", name, err->msg);
    return -1;
}

static int print_file(rows_out *w, const pq_meta *m, const char *name, decode_group_fn decode, void *ctx, hub_error *e) {
    size_t nc = w->o->n_columns;
    size_t *cols = xcalloc(nc, sizeof *cols);
    pq_column_values *vals = xcalloc(nc, sizeof *vals);
    for (size_t c = 0; c < nc; c++) pq_column_values_init(&vals[c]);
    int rc = 0;
    for (size_t c = 0; c < nc && !rc; c++) {
        int col = pq_meta_find_column(m, w->o->columns[c]);
        if (col < 0) {
            hub_fail(e, SCOUT_EXIT_USAGE, "%s: no column named '%s' (its first column is '%s'); check --columns", name,
                     w->o->columns[c], m->num_columns ? m->columns[0].name : "none");
            rc = -1;
            break;
        }
        cols[c] = (size_t)col;
        pq_error err = {0};
        int st = pq_column_check(m, cols[c], &err);
        if (st) rc = pq_failed(e, name, st, &err);
    }
    for (size_t rg = 0; !rc && rg < m->num_row_groups && w->printed < w->o->max_rows; rg++) {
        if (sig_pending()) {
            hub_fail(e, sig_exit_code(sig_pending()), "%s: interrupted at row group %zu", name, rg);
            rc = -1;
        } else if (decode(ctx, m, rg, cols, nc, vals, e) != 0) {
            rc = -1;
        } else if (out_group(w, vals, (size_t)m->row_groups[rg].num_rows) != 0) {
            rc = stdout_failed(w, e);
        }
    }
    if (!rc && out_flush(w) != 0) rc = stdout_failed(w, e);
    for (size_t c = 0; c < nc; c++) pq_column_values_free(&vals[c]);
    free(vals);
    free(cols);
    return rc;
}

static int is_parquet(const char *path) {
    size_t n = strlen(path);
    return n >= 8 && strcmp(path + n - 8, ".parquet") == 0;
}

static int any_parquet(const hub_file_list *files) {
    for (size_t i = 0; i < files->n; i++)
        if (is_parquet(files->v[i].path)) return 1;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Local files (mapped)

typedef struct local_ctx {
    pq_file *file;
    const char *name;
} local_ctx;

static int decode_local(void *ctx, const pq_meta *m, size_t rg, const size_t *cols, size_t n, pq_column_values *vals,
                        hub_error *e) {
    local_ctx *l = ctx;
    for (size_t c = 0; c < n; c++) {
        pq_error err = {0};
        int rc = pq_file_read_column(l->file, rg, cols[c], &vals[c], &err);
        if (rc) return pq_failed(e, l->name, rc, &err);
    }
    return 0;
}

static int print_local_file(rows_out *w, const char *path, hub_error *e) {
    pq_file f;
    pq_error err = {0};
    int rc = pq_file_open(&f, path, &err);
    if (rc) return pq_failed(e, path, rc, &err);
    local_ctx l = {&f, path};
    int r = print_file(w, f.meta, path, decode_local, &l, e);
    pq_file_close(&f);
    return r;
}

int rows_local_files(const rows_options *o, const char *const *paths, size_t n) {
    rows_out w;
    out_init(&w, o, 1);
    hub_error e = {0};
    int rc = 0;
    size_t i = 0;
    for (; i < n && !rc && w.printed < o->max_rows; i++) rc = print_local_file(&w, paths[i], &e);
    if (rc) log_error("%s", e.msg);
    else out_summary(&w, i);
    out_free(&w);
    return rc ? e.code : SCOUT_EXIT_OK;
}

int rows_downloaded(const rows_options *o, fetch_run *run, const hub_file_list *files) {
    rows_out w;
    out_init(&w, o, 0); // the download's progress line is the one shown
    hub_error e = {0};
    int rc = 0;
    size_t printed_files = 0;
    for (size_t i = 0; i < files->n && !rc && w.printed < o->max_rows; i++) {
        if (!is_parquet(files->v[i].path)) continue;
        fetch_state st = fetch_wait(run, i);
        if (st != FETCH_DOWNLOADED && st != FETCH_PRESENT) break; // fetch_finish reports why
        rc = print_local_file(&w, fetch_local_path(run, i), &e);
        printed_files++;
    }
    // Rows enough, or nobody reads them any more: the remaining downloads stop (their .part
    // files stay for a later run).
    if (rc || w.printed >= o->max_rows) fetch_cancel(run);
    if (rc) log_error("%s", e.msg);
    else out_summary(&w, printed_files);
    if (!rc && files->n && !printed_files && !any_parquet(files))
        log_warn("none of the %zu file(s) ends in .parquet: no rows to print (check --include)", files->n);
    out_free(&w);
    return rc ? e.code : SCOUT_EXIT_OK;
}

// ---------------------------------------------------------------------------------------------
// Straight from the Hub, by Range requests

typedef struct remote_ctx {
    const hub *h;
    http_client *c;
    const hub_file *f;
    hub_location loc;
    const rows_out *w;      // how many rows are still wanted
    int threads;
    rg_prefetch *pf;        // started at the first row group, once the columns are known
    uint8_t *footer;        // the footer's bytes
    uint64_t footer_fetched;
} remote_ctx;

static int remote_meta(remote_ctx *r, pq_meta **m, hub_error *e) {
    const hub_file *f = r->f;
    pq_error err = {0};
    if (f->size < 12) {
        hub_fail(e, SCOUT_EXIT_DATA, "%s: %" PRIu64 " bytes is too short for a Parquet file", f->path, f->size);
        return -1;
    }
    // The last 64 KiB hold the footer of a small file; a large one (FineWeb-Edu: ~3 MB) takes a
    // second request for the rest.
    uint64_t tail = f->size < 65536 ? f->size : 65536;
    r->footer = xmalloc((size_t)tail);
    if (hub_read_range(r->h, r->c, f, &r->loc, f->size - tail, tail, r->footer, NULL, e) != 0) return -1;
    r->footer_fetched = tail;
    uint32_t footer_len;
    int rc = pq_footer_length(r->footer + tail - PQ_TRAILER_SIZE, f->size, &footer_len, &err);
    if (rc) return pq_failed(e, f->path, rc, &err);
    uint64_t need = (uint64_t)footer_len + PQ_TRAILER_SIZE;
    const uint8_t *footer = r->footer + tail - need;
    if (need > tail) {
        // The bytes already here are the footer's end: move them there and fetch only the rest.
        r->footer = xrealloc(r->footer, (size_t)need);
        memmove(r->footer + need - tail, r->footer, (size_t)tail);
        if (hub_read_range(r->h, r->c, f, &r->loc, f->size - need, need - tail, r->footer, NULL, e) != 0) return -1;
        r->footer_fetched += need - tail;
        footer = r->footer;
    }
    rc = pq_meta_parse(footer, footer_len, f->size, m, &err);
    if (rc) return pq_failed(e, f->path, rc, &err);
    return 0;
}

// Row groups from `from` needed for the rows still wanted (all of them without --max-rows).
static size_t groups_needed(const pq_meta *m, size_t from, uint64_t wanted) {
    size_t rg = from;
    for (uint64_t rows = 0; rg < m->num_row_groups && rows < wanted; rg++) rows += m->row_groups[rg].num_rows;
    return rg;
}

static int decode_remote(void *ctx, const pq_meta *m, size_t rg, const size_t *cols, size_t n, pq_column_values *vals,
                         hub_error *e) {
    remote_ctx *r = ctx;
    uint64_t wanted = r->w->o->max_rows - r->w->printed;
    size_t limit = groups_needed(m, rg, wanted);
    if (!r->pf)
        r->pf = rg_prefetch_start(r->h, r->f, &r->loc, m, cols, n, limit, r->threads);
    else
        rg_prefetch_raise_limit(r->pf, limit);
    const uint8_t **chunks = xcalloc(n, sizeof *chunks);
    int rc = rg_prefetch_get(r->pf, rg, chunks, e);
    for (size_t c = 0; c < n && !rc; c++) {
        pq_error err = {0};
        const pq_chunk_info *ci = &m->row_groups[rg].chunks[cols[c]];
        int st = pq_column_decode(m, rg, cols[c], chunks[c], (size_t)ci->size, &vals[c], &err);
        if (st) rc = pq_failed(e, r->f->path, st, &err);
    }
    free(chunks);
    return rc;
}

int rows_remote(const rows_options *o, const hub *h, const hub_file_list *files, int threads) {
    rows_out w;
    out_init(&w, o, 1);
    http_client *c = http_client_new();
    hub_error e = {0};
    int rc = 0;
    size_t printed_files = 0;
    uint64_t fetched = 0;
    for (size_t i = 0; i < files->n && !rc && w.printed < o->max_rows; i++) {
        if (!is_parquet(files->v[i].path)) continue;
        remote_ctx r = {.h = h, .c = c, .f = &files->v[i], .w = &w, .threads = threads};
        pq_meta *m = NULL;
        rc = remote_meta(&r, &m, &e);
        if (!rc) rc = print_file(&w, m, files->v[i].path, decode_remote, &r, &e);
        uint64_t got = r.footer_fetched + (r.pf ? rg_prefetch_bytes(r.pf) : 0);
        rg_prefetch_stop(r.pf); // after --max-rows: requests still in flight are abandoned
        log_debug("%s: %" PRIu64 " of %" PRIu64 " bytes fetched", files->v[i].path, got, files->v[i].size);
        fetched += got;
        pq_meta_free(m);
        hub_location_free(&r.loc);
        free(r.footer);
        printed_files++;
    }
    http_client_free(c);
    if (!rc && !any_parquet(files))
        log_warn("none of the %zu file(s) ends in .parquet: no rows to print (check --include)", files->n);
    if (rc) {
        log_error("%s", e.msg);
    } else {
        out_summary(&w, printed_files);
        log_info("%.1f MB fetched by Range requests", 1e-6 * (double)fetched);
    }
    out_free(&w);
    return rc ? e.code : SCOUT_EXIT_OK;
}
