// detokenize.c: see detokenize.h.
#include "detokenize.h"

#include <stdlib.h>
#include <string.h>

#include "jsonl.h"
#include "log.h"
#include "progress.h"
#include "tokstream.h"
#include "xio.h"

enum {
    READ_TOKENS = 1 << 16,    // tokens per read
    FLUSH_BYTES = 1 << 20,    // output buffered up to this much
};

typedef struct dstate {
    const detokenize_opts *o;
    tok_ids doc;    // ids of the document being assembled (EOS excluded)
    tok_bytes text; // its decoded text
    tok_bytes out;  // pending output
    detokenize_stats *st;
} dstate;

static void flush(dstate *d, int force) {
    if (d->out.n && (force || d->out.n >= FLUSH_BYTES)) {
        tok_output_write(d->o->out, d->out.v, d->out.n);
        d->out.n = 0;
    }
}

// Writes the assembled document; `eos` is its terminating id, or TOK_NONE.
static void emit(dstate *d, uint32_t eos) {
    const detokenize_opts *o = d->o;
    if (o->ids_text) {
        tok_bytes_reserve(&d->out, 11 * (d->doc.n + 1) + 1);
        char *p = (char *)d->out.v + d->out.n;
        for (size_t i = 0; i < d->doc.n; i++) p += sprintf(p, i ? " %u" : "%u", d->doc.v[i]);
        if (eos != TOK_NONE) p += sprintf(p, d->doc.n ? " %u" : "%u", eos);
        *p++ = '\n';
        d->out.n = (size_t)((uint8_t *)p - d->out.v);
    } else {
        d->text.n = 0;
        tok_decode(o->tok, d->doc.v, d->doc.n, &d->text);
        size_t fl = strlen(o->field);
        tok_bytes_reserve(&d->out, JSONL_ESCAPED_MAX(fl) + JSONL_ESCAPED_MAX(d->text.n) + 4);
        uint8_t *p = d->out.v + d->out.n;
        *p++ = '{';
        p += jsonl_escape((const uint8_t *)o->field, fl, p);
        *p++ = ':';
        p += jsonl_escape(d->text.v, d->text.n, p);
        *p++ = '}';
        *p++ = '\n';
        d->out.n = (size_t)(p - d->out.v);
        d->st->text_bytes += d->text.n;
    }
    d->st->docs++;
    d->doc.n = 0;
    flush(d, 0);
}

static void check_header(const detokenize_opts *o, const tokstream_reader *r) {
    const tokenizer *t = o->tok;
    const uint8_t *fp = tokenizer_fingerprint(t);
    if (memcmp(r->h.fingerprint, fp, 8) != 0 || r->h.vocab_size != tokenizer_vocab_size(t)) {
        char a[17], b[17];
        tokstream_fingerprint_hex(r->h.fingerprint, a);
        tokstream_fingerprint_hex(fp, b);
        die(SCOUT_EXIT_DATA,
            "%s: the stream was made with tokenizer %s (vocab %u), but -t is %s (vocab %u): pass the tokenizer "
            "that made it",
            r->in.name, a, r->h.vocab_size, b, tokenizer_vocab_size(t));
    }
}

void detokenize_run(const detokenize_opts *o, detokenize_stats *st) {
    memset(st, 0, sizeof *st);
    double t0 = now_seconds();
    dstate d;
    memset(&d, 0, sizeof d);
    d.o = o;
    d.st = st;
    void *buf = xmalloc((size_t)READ_TOKENS * 4); // [READ_TOKENS] u16 or u32 tokens
    for (int f = 0; f < o->n_inputs; f++) {
        tokstream_reader r;
        tokstream_reader_open(&r, o->inputs[f]);
        check_header(o, &r);
        uint32_t eos = r.h.eos_id; // TOKSTREAM_NO_EOS (= TOK_NONE) never matches an id
        size_t n;
        while ((n = tokstream_read(&r, buf, READ_TOKENS)) > 0) {
            st->tokens += n;
            tok_ids_reserve(&d.doc, n);
            for (size_t i = 0; i < n; i++) {
                const uint8_t *q = (const uint8_t *)buf + (size_t)r.h.bytes_per_token * i; // little-endian
                uint32_t id = r.h.bytes_per_token == 2
                                  ? (uint32_t)q[0] | (uint32_t)q[1] << 8
                                  : (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
                if (id == eos)
                    emit(&d, eos);
                else
                    d.doc.v[d.doc.n++] = id; // reserved above: at most n ids join per read
            }
        }
        if (d.doc.n) {
            if (eos != TOKSTREAM_NO_EOS)
                log_warn("%s: the stream ends inside a document (%zu tokens after the last EOS): truncated?", r.in.name,
                         d.doc.n);
            emit(&d, TOK_NONE);
        }
        tokstream_reader_close(&r);
    }
    flush(&d, 1);
    free(buf);
    tok_ids_free(&d.doc);
    tok_bytes_free(&d.text);
    tok_bytes_free(&d.out);
    st->seconds = now_seconds() - t0;
}
