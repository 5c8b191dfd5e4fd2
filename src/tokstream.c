// tokstream.c: see tokstream.h.
#include "tokstream.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void tokstream_header_make(tokstream_header *h, uint32_t vocab_size, uint32_t eos_id, const uint8_t fingerprint[8]) {
    memset(h, 0, sizeof *h);
    h->version = TOKSTREAM_VERSION;
    h->bytes_per_token = tokstream_bytes_per_token(vocab_size);
    h->vocab_size = vocab_size;
    h->eos_id = eos_id;
    if (fingerprint) memcpy(h->fingerprint, fingerprint, 8);
}

void tokstream_header_pack(const tokstream_header *h, uint8_t out[TOKSTREAM_HEADER_SIZE]) {
    memcpy(out, TOKSTREAM_MAGIC, 8);
    put_u32(out + 8, h->version);
    put_u32(out + 12, h->bytes_per_token);
    put_u32(out + 16, h->vocab_size);
    put_u32(out + 20, h->eos_id);
    memcpy(out + 24, h->fingerprint, 8);
}

const char *tokstream_header_parse(const uint8_t *in, size_t n, tokstream_header *h) {
    if (n < TOKSTREAM_HEADER_SIZE) return "too short for a token stream header (32 bytes)";
    if (memcmp(in, TOKSTREAM_MAGIC, 8) != 0) return "not a SCOUT token stream (magic is not SCOUTTOK)";
    h->version = get_u32(in + 8);
    h->bytes_per_token = get_u32(in + 12);
    h->vocab_size = get_u32(in + 16);
    h->eos_id = get_u32(in + 20);
    memcpy(h->fingerprint, in + 24, 8);
    if (h->version != TOKSTREAM_VERSION) return "unsupported token stream version (this build reads version 1)";
    if (h->vocab_size == 0) return "vocab_size is 0";
    if (h->bytes_per_token != tokstream_bytes_per_token(h->vocab_size))
        return "bytes per token does not match vocab_size (2 when vocab_size <= 65536, else 4)";
    if (h->eos_id != TOKSTREAM_NO_EOS && h->eos_id >= h->vocab_size) return "eos_id is not below vocab_size";
    return NULL;
}

int tokstream_same_tokenizer(const tokstream_header *a, const tokstream_header *b) {
    return a->vocab_size == b->vocab_size && a->eos_id == b->eos_id &&
           memcmp(a->fingerprint, b->fingerprint, 8) == 0;
}

void tokstream_fingerprint_hex(const uint8_t fp[8], char buf[17]) {
    for (int i = 0; i < 8; i++) snprintf(buf + 2 * i, 3, "%02x", fp[i]);
}

void tokstream_reader_open(tokstream_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    xin_open(&r->in, path);
    uint8_t hdr[TOKSTREAM_HEADER_SIZE];
    size_t n = xin_read(&r->in, hdr, sizeof hdr);
    const char *why = tokstream_header_parse(hdr, n, &r->h);
    if (why) {
        if (n == 0) die(SCOUT_EXIT_DATA, "%s: empty input, expected a token stream (made by scout-tokenize)", r->in.name);
        die(SCOUT_EXIT_DATA, "%s: %s (at byte 0; expected a token stream made by scout-tokenize)", r->in.name, why);
    }
}

// The first id >= vocab in a block, reported with its byte offset in the file.
static _Noreturn void die_out_of_range(const tokstream_reader *r, uint64_t index, uint32_t id) {
    uint64_t offset = TOKSTREAM_HEADER_SIZE + index * r->h.bytes_per_token;
    die(SCOUT_EXIT_DATA, "%s: token %u at byte offset %llu >= vocab_size %u (was this stream made with another tokenizer?)",
        r->in.name, id, (unsigned long long)offset, r->h.vocab_size);
}

size_t tokstream_read(tokstream_reader *r, void *buf, size_t max_tokens) {
    const size_t bpt = r->h.bytes_per_token;
    uint8_t *dst = buf;
    // A token may straddle two reads of a pipe; xin_read loops until full, so only the final read
    // can come back short, and a partial token there is a truncated stream.
    size_t want = max_tokens * bpt;
    size_t got = xin_read(&r->in, dst, want);
    if (got % bpt) {
        die(SCOUT_EXIT_DATA, "%s: stream ends inside a token: %zu trailing byte(s) at offset %llu (truncated file?)",
            r->in.name, got % bpt, (unsigned long long)(TOKSTREAM_HEADER_SIZE + (r->tokens + got / bpt) * bpt));
    }
    size_t n = got / bpt;
    // Validate with a branch-free max over the block (vectorises); look for the culprit only on failure.
    uint32_t vocab = r->h.vocab_size;
    if (bpt == 2) {
        const uint16_t *t = buf;
        uint16_t mx = 0;
        for (size_t i = 0; i < n; i++) mx = t[i] > mx ? t[i] : mx;
        if (mx >= vocab)
            for (size_t i = 0; i < n; i++)
                if (t[i] >= vocab) die_out_of_range(r, r->tokens + i, t[i]);
    } else {
        const uint32_t *t = buf;
        uint32_t mx = 0;
        for (size_t i = 0; i < n; i++) mx = t[i] > mx ? t[i] : mx;
        if (mx >= vocab)
            for (size_t i = 0; i < n; i++)
                if (t[i] >= vocab) die_out_of_range(r, r->tokens + i, t[i]);
    }
    r->tokens += n;
    return n;
}

void tokstream_reader_close(tokstream_reader *r) { xin_close(&r->in); }

void tokstream_writer_open(tokstream_writer *w, int fd, const char *name, const tokstream_header *h) {
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->name = name;
    w->h = *h;
    w->cap = 1 << 20;
    w->buf = xmalloc(w->cap);
    tokstream_header_pack(h, w->buf);
    w->len = TOKSTREAM_HEADER_SIZE;
}

void tokstream_writer_flush(tokstream_writer *w) {
    if (!w->len) return;
    xwrite_all(w->fd, w->buf, w->len, w->name, w->offset);
    w->offset += w->len;
    w->len = 0;
}

// Byte by byte, so the result is little-endian on any host; GCC vectorises both loops.
size_t tokstream_encode_ids(uint8_t *dst, const uint32_t *ids, size_t n, uint32_t bytes_per_token) {
    if (bytes_per_token == 2)
        for (size_t i = 0; i < n; i++) dst[2 * i] = (uint8_t)ids[i], dst[2 * i + 1] = (uint8_t)(ids[i] >> 8);
    else
        for (size_t i = 0; i < n; i++)
            dst[4 * i] = (uint8_t)ids[i], dst[4 * i + 1] = (uint8_t)(ids[i] >> 8),
            dst[4 * i + 2] = (uint8_t)(ids[i] >> 16), dst[4 * i + 3] = (uint8_t)(ids[i] >> 24);
    return n * bytes_per_token;
}

void tokstream_writer_put(tokstream_writer *w, const uint32_t *ids, size_t n) {
    const size_t bpt = w->h.bytes_per_token;
    while (n > 0) {
        if (w->len + bpt > w->cap) tokstream_writer_flush(w);
        size_t room = (w->cap - w->len) / bpt, k = n < room ? n : room;
        w->len += tokstream_encode_ids(w->buf + w->len, ids, k, w->h.bytes_per_token);
        ids += k;
        n -= k;
    }
}

void tokstream_writer_close(tokstream_writer *w) {
    tokstream_writer_flush(w);
    free(w->buf);
    w->buf = NULL;
}
