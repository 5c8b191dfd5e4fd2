// tokenize_job.c: see tokenize_job.h.
#include "tokenize_job.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonl.h"
#include "log.h"
#include "progress.h"
#include "tokstream.h"
#include "xio.h"

enum {
    BATCH_BYTES = 512 << 10, // read size per batch: big enough to amortise locking, small enough to balance
    MAX_REPORTED = 10,       // skipped lines named on stderr; the rest are only counted
};

void tok_output_write(tok_output *o, const void *buf, size_t n) {
    if (n == 0) return;
    if (o->atomic)
        atomic_write(o->atomic, buf, n);
    else
        xwrite_all(o->fd, buf, n, o->name, o->offset);
    o->offset += n;
}

// ---------------------------------------------------------------------------------------------
// Batches.

typedef struct bad_line {
    uint64_t line;  // 1-based within the batch
    char msg[192];
} bad_line;

enum { SLOT_FREE, SLOT_FILLED, SLOT_BUSY, SLOT_DONE };

typedef struct batch {
    uint64_t seq;
    int input;            // index into opts->inputs
    uint8_t *in;          // [in_cap] whole lines, the last one possibly without '\n' (end of file)
    size_t in_len, in_cap;
    uint8_t *out;         // [out_cap] encoded output, ready to write
    size_t out_len, out_cap;
    uint64_t lines, docs, bad, tokens, text_bytes, lone;
    bad_line reported[MAX_REPORTED]; // the first bad lines of this batch
    int n_reported;
    int state;
} batch;

static void batch_free(batch *b) {
    free(b->in);
    free(b->out);
}

static void out_reserve(batch *b, size_t extra) {
    if (b->out_len + extra <= b->out_cap) return;
    size_t cap = b->out_cap ? b->out_cap : BATCH_BYTES;
    while (cap < b->out_len + extra) cap *= 2;
    b->out = xrealloc(b->out, cap);
    b->out_cap = cap;
}

// ---------------------------------------------------------------------------------------------
// Worker: one batch of lines -> output bytes.

typedef struct worker {
    const tokenize_opts *o;
    tok_encoder *enc;
    jsonl_field jf;
    tok_ids ids;
    uint32_t bpt; // bytes per token in the stream
} worker;

static void worker_init(worker *w, const tokenize_opts *o) {
    memset(w, 0, sizeof *w);
    w->o = o;
    w->enc = tok_encoder_new(o->tok);
    jsonl_field_init(&w->jf, o->field);
    w->bpt = tokstream_bytes_per_token(tokenizer_vocab_size(o->tok));
}

static void worker_free(worker *w) {
    tok_encoder_free(w->enc);
    jsonl_field_free(&w->jf);
    tok_ids_free(&w->ids);
}

// Appends the document's ids in the output format.
static void put_ids(worker *w, batch *b, const uint32_t *ids, size_t n) {
    if (w->o->ids_text) {
        out_reserve(b, 11 * n + 1); // up to 10 digits and a separator each
        uint8_t *p = b->out + b->out_len;
        for (size_t i = 0; i < n; i++) {
            if (i) *p++ = ' ';
            char tmp[10];
            int k = 0;
            uint32_t v = ids[i];
            do tmp[k++] = (char)('0' + v % 10), v /= 10;
            while (v);
            while (k) *p++ = (uint8_t)tmp[--k];
        }
        *p++ = '\n';
        b->out_len = (size_t)(p - b->out);
    } else {
        out_reserve(b, (size_t)w->bpt * n);
        b->out_len += tokstream_encode_ids(b->out + b->out_len, ids, n, w->bpt);
    }
}

static void process_batch(worker *w, batch *b) {
    const tokenize_opts *o = w->o;
    uint32_t bos = tokenizer_bos_id(o->tok), eos = tokenizer_eos_id(o->tok);
    b->out_len = 0;
    b->lines = b->docs = b->bad = b->tokens = b->text_bytes = 0;
    b->n_reported = 0;
    uint64_t lone0 = w->jf.lone_surrogates;
    const uint8_t *p = b->in, *end = b->in + b->in_len;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        b->lines++;
        const uint8_t *text;
        size_t len;
        if (jsonl_field_get(&w->jf, p, (size_t)(le - p), &text, &len) < 0) {
            b->bad++;
            if (b->n_reported < MAX_REPORTED) {
                bad_line *r = &b->reported[b->n_reported++];
                r->line = b->lines;
                snprintf(r->msg, sizeof r->msg, "%s", w->jf.err);
            }
            if (!o->skip_bad) break; // the writer stops the job at this line
        } else {
            w->ids.n = 0;
            if (o->bos) tok_ids_push(&w->ids, bos);
            tok_encode(w->enc, text, len, &w->ids);
            if (o->eos) tok_ids_push(&w->ids, eos);
            put_ids(w, b, w->ids.v, w->ids.n);
            b->docs++;
            b->tokens += w->ids.n;
            b->text_bytes += len;
        }
        p = nl ? nl + 1 : end;
    }
    b->lone = w->jf.lone_surrogates - lone0;
}

// ---------------------------------------------------------------------------------------------
// Reader: inputs -> batches of whole lines.

typedef struct reader {
    const tokenize_opts *o;
    int next_input; // next index of o->inputs to open
    int cur;        // index of the open input, -1 when none
    xin in;
    uint8_t *carry; // [carry_cap] start of a line whose end is not read yet
    size_t carry_len, carry_cap;
    int at_start;   // nothing read yet from the open input (a UTF-8 BOM may follow)
} reader;

static void reserve_in(batch *b, size_t n) {
    if (n <= b->in_cap) return;
    size_t cap = b->in_cap ? b->in_cap : BATCH_BYTES;
    while (cap < n) cap *= 2;
    b->in = xrealloc(b->in, cap);
    b->in_cap = cap;
}

// Fills b with the next lines. Returns 0 when every input is exhausted.
static int reader_fill(reader *r, batch *b) {
    for (;;) {
        if (r->cur < 0) {
            if (r->next_input >= r->o->n_inputs) return 0;
            r->cur = r->next_input++;
            xin_open(&r->in, r->o->inputs[r->cur]);
            r->at_start = 1;
        }
        b->input = r->cur;
        b->in_len = 0;
        reserve_in(b, r->carry_len + BATCH_BYTES);
        if (r->carry_len) memcpy(b->in, r->carry, r->carry_len);
        b->in_len = r->carry_len;
        r->carry_len = 0;
        for (;;) {
            reserve_in(b, b->in_len + BATCH_BYTES);
            size_t got = xin_read(&r->in, b->in + b->in_len, BATCH_BYTES);
            if (r->at_start && got >= 3 && memcmp(b->in + b->in_len, "\xEF\xBB\xBF", 3) == 0) {
                // A UTF-8 byte order mark at the start of a file is not part of the first line.
                memmove(b->in + b->in_len, b->in + b->in_len + 3, got - 3);
                got -= 3;
            }
            r->at_start = 0;
            const uint8_t *nl = got ? memrchr(b->in + b->in_len, '\n', got) : NULL;
            b->in_len += got;
            if (got < BATCH_BYTES) { // end of this input: the rest is its last line
                xin_close(&r->in);
                r->cur = -1;
                if (b->in_len > 0) return 1;
                break; // empty: go on with the next input
            }
            if (nl) {
                size_t keep = (size_t)(nl + 1 - b->in);
                r->carry_len = b->in_len - keep;
                if (r->carry_len > r->carry_cap) {
                    r->carry_cap = r->carry_len;
                    r->carry = xrealloc(r->carry, r->carry_cap);
                }
                memcpy(r->carry, b->in + keep, r->carry_len);
                b->in_len = keep;
                return 1;
            }
            // No newline yet: a line longer than a batch; keep reading into the same batch.
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writer: finished batches -> output, in order; errors and counts.

typedef struct writer {
    const tokenize_opts *o;
    uint64_t line_base; // lines of the current input before this batch
    int input;          // input of the previous batch
    uint64_t reported;  // skipped lines named so far
    progress prog;
    tokenize_stats *st;
} writer;

static void writer_put(writer *wr, batch *b) {
    const tokenize_opts *o = wr->o;
    if (b->input != wr->input) wr->line_base = 0, wr->input = b->input;
    const char *name = strcmp(o->inputs[b->input], "-") == 0 ? "<stdin>" : o->inputs[b->input];
    if (b->bad && !o->skip_bad) {
        tok_output_write(o->out, b->out, b->out_len); // the documents before the bad line
        die(SCOUT_EXIT_DATA, "%s:%llu: %s (fix the line, or pass --skip-bad to skip bad lines)", name,
            (unsigned long long)(wr->line_base + b->reported[0].line), b->reported[0].msg);
    }
    for (int i = 0; i < b->n_reported && wr->reported < MAX_REPORTED; i++, wr->reported++)
        log_warn("%s:%llu: skipped: %s", name, (unsigned long long)(wr->line_base + b->reported[i].line),
                 b->reported[i].msg);
    tok_output_write(o->out, b->out, b->out_len);
    wr->line_base += b->lines;
    tokenize_stats *st = wr->st;
    st->lines += b->lines;
    st->docs += b->docs;
    st->skipped += b->bad;
    st->tokens += b->tokens;
    st->input_bytes += b->in_len;
    st->text_bytes += b->text_bytes;
    st->lone_surrogates += b->lone;
    progress_update(&wr->prog, st->input_bytes);
}

// ---------------------------------------------------------------------------------------------
// Threads.

typedef struct pool {
    const tokenize_opts *o;
    batch *slots;   // [n_slots] ring: batch seq lives in slots[seq % n_slots]
    int n_slots;
    uint64_t n_filled;   // batches handed over by the reader
    uint64_t next_claim; // next batch a worker takes
    int reader_done;
    pthread_mutex_t mu;
    pthread_cond_t cv_filled, cv_done, cv_free;
    writer wr;
} pool;

static void *worker_main(void *arg) {
    pool *pl = arg;
    worker w;
    worker_init(&w, pl->o);
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        while (pl->next_claim == pl->n_filled && !pl->reader_done) pthread_cond_wait(&pl->cv_filled, &pl->mu);
        if (pl->next_claim == pl->n_filled) { // reader done and nothing left
            pthread_mutex_unlock(&pl->mu);
            break;
        }
        batch *b = &pl->slots[pl->next_claim % (uint64_t)pl->n_slots];
        pl->next_claim++;
        b->state = SLOT_BUSY;
        pthread_mutex_unlock(&pl->mu);
        process_batch(&w, b);
        pthread_mutex_lock(&pl->mu);
        b->state = SLOT_DONE;
        pthread_cond_broadcast(&pl->cv_done); // the writer waits for one particular batch
        pthread_mutex_unlock(&pl->mu);
    }
    worker_free(&w);
    return NULL;
}

static void *writer_main(void *arg) {
    pool *pl = arg;
    for (uint64_t seq = 0;; seq++) {
        batch *b = &pl->slots[seq % (uint64_t)pl->n_slots];
        pthread_mutex_lock(&pl->mu);
        while (!(seq < pl->n_filled && b->seq == seq && b->state == SLOT_DONE) &&
               !(pl->reader_done && seq == pl->n_filled))
            pthread_cond_wait(&pl->cv_done, &pl->mu);
        int finished = pl->reader_done && seq == pl->n_filled;
        pthread_mutex_unlock(&pl->mu);
        if (finished) break;
        writer_put(&pl->wr, b);
        pthread_mutex_lock(&pl->mu);
        b->state = SLOT_FREE;
        pthread_cond_signal(&pl->cv_free);
        pthread_mutex_unlock(&pl->mu);
    }
    return NULL;
}

static void check_pthread(int rc, const char *what) {
    if (rc) die(SCOUT_EXIT_FAIL, "%s failed: %s", what, strerror(rc));
}

static void run_threads(const tokenize_opts *o, reader *r, writer *wr) {
    pool pl;
    memset(&pl, 0, sizeof pl);
    pl.o = o;
    pl.n_slots = 2 * o->threads + 2;
    pl.slots = xcalloc((size_t)pl.n_slots, sizeof *pl.slots);
    pl.wr = *wr;
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.cv_filled, NULL);
    pthread_cond_init(&pl.cv_done, NULL);
    pthread_cond_init(&pl.cv_free, NULL);
    pthread_t *tid = xcalloc((size_t)o->threads, sizeof *tid), wtid;
    for (int i = 0; i < o->threads; i++) check_pthread(pthread_create(&tid[i], NULL, worker_main, &pl), "pthread_create");
    check_pthread(pthread_create(&wtid, NULL, writer_main, &pl), "pthread_create");

    for (uint64_t seq = 0;; seq++) {
        batch *b = &pl.slots[seq % (uint64_t)pl.n_slots];
        pthread_mutex_lock(&pl.mu);
        while (b->state != SLOT_FREE) pthread_cond_wait(&pl.cv_free, &pl.mu);
        pthread_mutex_unlock(&pl.mu);
        // The slot is free: nobody else touches it until it is marked filled.
        int more = reader_fill(r, b);
        pthread_mutex_lock(&pl.mu);
        if (more) {
            b->seq = seq;
            b->state = SLOT_FILLED;
            pl.n_filled = seq + 1;
            pthread_cond_signal(&pl.cv_filled);
        } else {
            pl.reader_done = 1;
            pthread_cond_broadcast(&pl.cv_filled);
            pthread_cond_broadcast(&pl.cv_done);
        }
        pthread_mutex_unlock(&pl.mu);
        if (!more) break;
    }
    for (int i = 0; i < o->threads; i++) pthread_join(tid[i], NULL);
    pthread_join(wtid, NULL);
    *wr = pl.wr;
    for (int i = 0; i < pl.n_slots; i++) batch_free(&pl.slots[i]);
    free(pl.slots);
    free(tid);
    pthread_mutex_destroy(&pl.mu);
    pthread_cond_destroy(&pl.cv_filled);
    pthread_cond_destroy(&pl.cv_done);
    pthread_cond_destroy(&pl.cv_free);
}

static void run_inline(const tokenize_opts *o, reader *r, writer *wr) {
    worker w;
    worker_init(&w, o);
    batch b;
    memset(&b, 0, sizeof b);
    while (reader_fill(r, &b)) {
        process_batch(&w, &b);
        writer_put(wr, &b);
    }
    batch_free(&b);
    worker_free(&w);
}

// Total input size for the progress ETA, when every input is a regular, uncompressed-looking file.
static uint64_t total_size(const tokenize_opts *o) {
    uint64_t total = 0;
    for (int i = 0; i < o->n_inputs; i++) {
        struct stat st;
        const char *p = o->inputs[i];
        size_t len = strlen(p);
        if (strcmp(p, "-") == 0 || stat(p, &st) != 0 || !S_ISREG(st.st_mode) ||
            (len > 4 && strcmp(p + len - 4, ".zst") == 0))
            return 0;
        total += (uint64_t)st.st_size;
    }
    return total;
}

void tokenize_run(const tokenize_opts *o, tokenize_stats *st) {
    memset(st, 0, sizeof *st);
    double t0 = now_seconds();
    if (!o->ids_text) {
        uint32_t eos = o->eos ? tokenizer_eos_id(o->tok) : TOKSTREAM_NO_EOS;
        tokstream_header h;
        uint8_t hdr[TOKSTREAM_HEADER_SIZE];
        tokstream_header_make(&h, tokenizer_vocab_size(o->tok), eos, tokenizer_fingerprint(o->tok));
        tokstream_header_pack(&h, hdr);
        tok_output_write(o->out, hdr, sizeof hdr);
    }
    reader r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.cur = -1;
    writer wr;
    memset(&wr, 0, sizeof wr);
    wr.o = o;
    wr.input = -1;
    wr.st = st;
    progress_init(&wr.prog, "tokenizing", "B", total_size(o));
    if (o->threads <= 1)
        run_inline(o, &r, &wr);
    else
        run_threads(o, &r, &wr);
    if (wr.prog.drawn) progress_finish(&wr.prog); // end the terminal line; the caller logs the summary
    free(r.carry);
    st->seconds = now_seconds() - t0;
}
