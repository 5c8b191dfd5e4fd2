// packed.c: see packed.h.
#include "packed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

size_t litpkds_dtype_size(int dtype) {
    switch (dtype) {
    case LITPKDS_UINT8: case LITPKDS_INT8: return 1;
    case LITPKDS_INT16: case LITPKDS_UINT16: return 2;
    case LITPKDS_INT32: case LITPKDS_FLOAT32: return 4;
    case LITPKDS_INT64: case LITPKDS_FLOAT64: return 8;
    default: return 0;
    }
}

const char *litpkds_dtype_name(int dtype) {
    static const char *names[] = {"?", "uint8", "int8", "int16", "int32", "int64", "float32", "float64", "uint16"};
    return dtype >= 1 && dtype <= 8 ? names[dtype] : "unknown";
}

int litpkds_dtype_for_vocab(uint32_t vocab_size) { return vocab_size < 65500 ? LITPKDS_UINT16 : LITPKDS_INT32; }

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

void litpkds_header_pack(const litpkds_header *h, uint8_t out[LITPKDS_HEADER_SIZE]) {
    memcpy(out, LITPKDS_MAGIC, 7);
    put_u64(out + 7, LITPKDS_VERSION);
    out[15] = (uint8_t)h->dtype;
    put_u64(out + 16, h->chunk_size);
}

const char *litpkds_header_parse(const uint8_t in[LITPKDS_HEADER_SIZE], litpkds_header *h) {
    if (memcmp(in, LITPKDS_MAGIC, 7) != 0) return "not a packed shard (magic is not LITPKDS)";
    if (get_u64(in + 7) != LITPKDS_VERSION) return "unsupported LITPKDS version (expected 1)";
    h->dtype = in[15];
    h->chunk_size = get_u64(in + 16);
    if (h->dtype != LITPKDS_UINT16 && h->dtype != LITPKDS_INT32)
        return "token dtype is neither uint16 (8) nor int32 (4)";
    if (h->chunk_size == 0) return "chunk_size is 0";
    if (h->chunk_size > (1ull << 40)) return "chunk_size is implausibly large (over 2^40 tokens)";
    return NULL;
}

static void writer_init(packed_writer *w, uint64_t chunk_size, int dtype, uint32_t pad_id) {
    w->chunk_size = chunk_size;
    w->dtype = dtype;
    w->item = litpkds_dtype_size(dtype);
    w->pad_id = pad_id;
    w->chunk = xmalloc(LITPKDS_HEADER_SIZE + chunk_size * w->item);
    litpkds_header h = {dtype, chunk_size};
    litpkds_header_pack(&h, w->chunk);
}

void packed_writer_init_dir(packed_writer *w, const char *dir, const char *prefix, uint64_t chunk_size, int dtype,
                            uint32_t pad_id) {
    memset(w, 0, sizeof *w);
    w->dir = dir;
    w->prefix = prefix;
    w->fd = -1;
    writer_init(w, chunk_size, dtype, pad_id);
}

void packed_writer_init_stream(packed_writer *w, int fd, const char *name, uint64_t chunk_size, int dtype,
                               uint32_t pad_id) {
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->stream_name = name;
    writer_init(w, chunk_size, dtype, pad_id);
}

static void emit_chunk(packed_writer *w) {
    // Unfilled slots keep the padding token, as the reference builder's buffer pre-filled with sep_token.
    uint8_t *tok = w->chunk + LITPKDS_HEADER_SIZE;
    if (w->item == 2) {
        uint16_t pad = (uint16_t)w->pad_id, *t = (uint16_t *)tok;
        for (uint64_t i = w->fill; i < w->chunk_size; i++) t[i] = pad;
    } else {
        uint32_t *t = (uint32_t *)tok;
        for (uint64_t i = w->fill; i < w->chunk_size; i++) t[i] = w->pad_id;
    }
    size_t bytes = LITPKDS_HEADER_SIZE + w->chunk_size * w->item;
    if (w->dir) {
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s_%010llu.bin", w->dir, w->prefix, (unsigned long long)w->chunks);
        if (n >= (int)sizeof path) die(SCOUT_EXIT_USAGE, "output path too long: %s/%s...", w->dir, w->prefix);
        atomic_out *out = atomic_open(path);
        atomic_write(out, w->chunk, bytes);
        atomic_close(out);
        if (w->n_pending == w->cap_pending) {
            w->cap_pending = w->cap_pending ? 2 * w->cap_pending : 64;
            w->pending = xrealloc(w->pending, w->cap_pending * sizeof *w->pending);
        }
        w->pending[w->n_pending++] = out;
    } else {
        xwrite_all(w->fd, w->chunk, bytes, w->stream_name, w->stream_offset);
        w->stream_offset += bytes;
    }
    w->chunks++;
    w->fill = 0;
}

void packed_writer_add(packed_writer *w, const void *src, int src_bytes, size_t n) {
    w->tokens += n;
    while (n > 0) {
        if (w->fill == w->chunk_size) emit_chunk(w);
        uint64_t room = w->chunk_size - w->fill;
        size_t k = n < room ? n : (size_t)room;
        uint8_t *dst = w->chunk + LITPKDS_HEADER_SIZE + w->fill * w->item;
        if ((size_t)src_bytes == w->item) {
            memcpy(dst, src, k * w->item); // the common case (uint16 in, uint16 out): a plain copy
        } else if (src_bytes == 2) {
            const uint16_t *s = src;
            uint32_t *d = (uint32_t *)dst;
            for (size_t i = 0; i < k; i++) d[i] = s[i];
        } else {
            const uint32_t *s = src;
            uint16_t *d = (uint16_t *)dst;
            for (size_t i = 0; i < k; i++) d[i] = (uint16_t)s[i];
        }
        w->fill += k;
        src = (const uint8_t *)src + k * (size_t)src_bytes;
        n -= k;
    }
}

void packed_writer_finish(packed_writer *w, int drop_partial) {
    if (w->fill == w->chunk_size || (w->fill > 0 && !drop_partial)) emit_chunk(w);
    w->fill = 0;
}

void packed_writer_commit(packed_writer *w) {
    for (size_t i = 0; i < w->n_pending; i++) atomic_commit(w->pending[i]);
    w->n_pending = 0;
}

void packed_writer_free(packed_writer *w) {
    for (size_t i = 0; i < w->n_pending; i++) atomic_abort(w->pending[i]);
    free(w->pending);
    free(w->chunk);
    memset(w, 0, sizeof *w);
}

void packed_reader_open(packed_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    xin_open_raw(&r->in, path);
}

int packed_reader_next_chunk(packed_reader *r) {
    if (r->left)
        die(SCOUT_EXIT_FAIL, "%s: internal: next chunk requested with %llu tokens of chunk %llu unread", r->in.name,
            (unsigned long long)r->left, (unsigned long long)r->chunk_index);
    uint8_t hdr[LITPKDS_HEADER_SIZE];
    uint64_t at = r->in.offset;
    size_t n = xin_read(&r->in, hdr, sizeof hdr);
    if (n == 0) return 0;
    if (n < sizeof hdr)
        die(SCOUT_EXIT_DATA, "%s: truncated LITPKDS header at byte %llu (%zu of 24 bytes)", r->in.name,
            (unsigned long long)at, n);
    const char *why = litpkds_header_parse(hdr, &r->h);
    if (why) die(SCOUT_EXIT_DATA, "%s: %s (chunk header at byte %llu)", r->in.name, why, (unsigned long long)at);
    r->chunk_offset = at;
    r->left = r->h.chunk_size;
    r->chunk_index++;
    return 1;
}

size_t packed_reader_read(packed_reader *r, void *buf, size_t max) {
    size_t item = litpkds_dtype_size(r->h.dtype);
    size_t want = max < r->left ? max : (size_t)r->left;
    if (want == 0) return 0;
    size_t got = xin_read(&r->in, buf, want * item);
    if (got != want * item) {
        uint64_t have = r->h.chunk_size - r->left + got / item;
        die(SCOUT_EXIT_DATA, "%s: chunk at byte %llu is truncated: header says %llu tokens, file holds %llu%s",
            r->in.name, (unsigned long long)r->chunk_offset, (unsigned long long)r->h.chunk_size,
            (unsigned long long)have, got % item ? " and a partial token" : "");
    }
    r->left -= want;
    return want;
}

void packed_reader_close(packed_reader *r) { xin_close(&r->in); }
