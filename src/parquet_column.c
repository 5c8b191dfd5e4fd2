// parquet_column.c: a column chunk's pages -> one value per row (spec/data.md §4.4, §4.7).
//
// The chunk's pages are walked from its first byte: an optional dictionary page, then data pages
// (v1 or v2), each with its own encoding, so pyarrow's "dictionary-encoded pages, then PLAIN pages
// once the dictionary grew too large" needs nothing special. Decompressed pages go into buffers kept
// until the next decode, because string values point into them.
#include <stdio.h>
#include <stdlib.h>

#include "parquet_internal.h"
#include "thrift.h"

enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2, PAGE_DATA_V2 = 3 };

typedef struct page_buf {
    uint8_t *data;
    size_t cap;      // bytes allocated at data
} page_buf;

struct pq_decoder {
    pq_codec_ctx codec;
    page_buf *pages;          // decompressed page buffers, reused from decode to decode
    size_t pages_cap, pages_used;
    pq_value *dict;           // dictionary entries of the current chunk
    size_t dict_cap, dict_len;
    int have_dict;
    uint32_t *levels;         // definition levels of the current page
    size_t levels_cap;
    uint32_t *indices;        // dictionary indices of the current page
    size_t indices_cap;
    int64_t *deltas;          // DELTA_BINARY_PACKED output of the current page
    size_t deltas_cap;
    size_t values_cap;        // rows allocated at pq_column_values.values and .is_null
    uint64_t decompressed;    // bytes decompressed for the current chunk (PQ_MAX_CHUNK_BYTES)
};

typedef struct page_header {
    int type;
    int64_t uncompressed, compressed;
    // DataPageHeader (v1) or DataPageHeaderV2
    int64_t num_values, num_nulls;
    int encoding, def_encoding;
    int64_t def_len, rep_len;          // v2: level bytes before the (maybe compressed) values
    int is_compressed;                 // v2: default true
    int have_v1, have_v2, have_dict;
    // DictionaryPageHeader
    int64_t dict_values;
    int dict_encoding;
} page_header;

// Everything one chunk decode needs; errors are reported with its context.
typedef struct chunk_ctx {
    const pq_column *col;
    const pq_chunk_info *ci;
    const uint8_t *chunk;
    size_t size;
    pq_column_values *out;
    struct pq_decoder *dec;
    uint64_t rows;            // rows of the row group
    uint64_t rows_done;       // values produced so far
    pq_error *err;
} chunk_ctx;

// Grows the array *p of *cap items (of item bytes) to hold n, keeping its contents; *p is left as it
// was on failure. The callers bound n before asking.
static int grow_array(void **p, size_t *cap, size_t n, size_t item, pq_error *err) {
    if (n <= *cap) return PQ_OK;
    size_t want = *cap * 2 > n ? *cap * 2 : n;
    if (want > SIZE_MAX / item) return pq_fail(err, PQ_ERR_NOMEM, "out of memory");
    void *q = realloc(*p, want * item);
    if (!q) return pq_fail(err, PQ_ERR_NOMEM, "out of memory (%zu bytes)", want * item);
    *p = q;
    *cap = want;
    return PQ_OK;
}
// GROW(arr, cap, n, err) for an array of any type: evaluates to PQ_OK or the error code.
#define GROW(arr, cap, n, err)                                                   \
    __extension__({                                                              \
        void *grow_p_ = (arr);                                                   \
        int grow_rc_ = grow_array(&grow_p_, &(cap), (n), sizeof *(arr), (err));  \
        (arr) = grow_p_;                                                         \
        grow_rc_;                                                                \
    })

void pq_column_values_init(pq_column_values *v) { memset(v, 0, sizeof *v); }

void pq_column_values_free(pq_column_values *v) {
    struct pq_decoder *d = v->dec;
    if (d) {
        pq_codec_ctx_free(&d->codec);
        for (size_t i = 0; i < d->pages_cap; i++) free(d->pages[i].data);
        free(d->pages);
        free(d->dict);
        free(d->levels);
        free(d->indices);
        free(d->deltas);
        free(d);
    }
    free(v->values);
    free(v->is_null);
    memset(v, 0, sizeof *v);
}

static void parse_data_page_v1(thrift_reader *r, page_header *h) {
    int16_t last = 0;
    int type, id;
    h->have_v1 = 1;
    h->num_values = -1;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_I32) h->num_values = thrift_i32(r);
        else if (id == 2 && type == THRIFT_I32) h->encoding = thrift_i32(r);
        else if (id == 3 && type == THRIFT_I32) h->def_encoding = thrift_i32(r);
        else thrift_skip(r, type); // repetition-level encoding, statistics
    }
    thrift_struct_end(r);
}

static void parse_data_page_v2(thrift_reader *r, page_header *h) {
    int16_t last = 0;
    int type, id;
    h->have_v2 = 1;
    h->num_values = h->num_nulls = h->def_len = h->rep_len = -1;
    h->is_compressed = 1;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_I32) h->num_values = thrift_i32(r);
        else if (id == 2 && type == THRIFT_I32) h->num_nulls = thrift_i32(r);
        else if (id == 4 && type == THRIFT_I32) h->encoding = thrift_i32(r);
        else if (id == 5 && type == THRIFT_I32) h->def_len = thrift_i32(r);
        else if (id == 6 && type == THRIFT_I32) h->rep_len = thrift_i32(r);
        else if (id == 7 && (type == THRIFT_TRUE || type == THRIFT_FALSE)) h->is_compressed = thrift_bool_field(type);
        else thrift_skip(r, type); // num_rows, statistics
    }
    thrift_struct_end(r);
}

static void parse_dictionary_page(thrift_reader *r, page_header *h) {
    int16_t last = 0;
    int type, id;
    h->have_dict = 1;
    h->dict_values = -1;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_I32) h->dict_values = thrift_i32(r);
        else if (id == 2 && type == THRIFT_I32) h->dict_encoding = thrift_i32(r);
        else thrift_skip(r, type); // is_sorted
    }
    thrift_struct_end(r);
}

// Decodes the PageHeader at in[0..n); sets *header_len to its size.
static int parse_page_header(const uint8_t *in, size_t n, page_header *h, size_t *header_len, pq_error *err) {
    thrift_reader r;
    thrift_init(&r, in, n);
    memset(h, 0, sizeof *h);
    h->type = h->uncompressed = h->compressed = -1;
    int16_t last = 0;
    int type, id;
    thrift_struct_begin(&r);
    while ((id = thrift_field(&r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_I32) h->type = thrift_i32(&r);
        else if (id == 2 && type == THRIFT_I32) h->uncompressed = thrift_i32(&r);
        else if (id == 3 && type == THRIFT_I32) h->compressed = thrift_i32(&r);
        else if (id == 5 && type == THRIFT_STRUCT) parse_data_page_v1(&r, h);
        else if (id == 7 && type == THRIFT_STRUCT) parse_dictionary_page(&r, h);
        else if (id == 8 && type == THRIFT_STRUCT) parse_data_page_v2(&r, h);
        else thrift_skip(&r, type); // crc, index page header, statistics
    }
    thrift_struct_end(&r);
    if (thrift_failed(&r))
        return pq_fail(err, PQ_ERR_DATA, "page header is malformed at its byte %zu: %s", r.err_pos, r.err);
    if (h->type < 0 || h->uncompressed < 0 || h->compressed < 0)
        return pq_fail(err, PQ_ERR_DATA, "page header lacks its type or sizes (or one is negative)");
    *header_len = thrift_pos(&r);
    return PQ_OK;
}

// A page buffer of n bytes from the pool, alive until the next pq_column_decode.
static int page_buffer(struct pq_decoder *d, size_t n, uint8_t **out, pq_error *err) {
    if (d->pages_used == d->pages_cap) {
        size_t cap = d->pages_cap;
        if (GROW(d->pages, cap, d->pages_used + 1, err)) return PQ_ERR_NOMEM;
        memset(d->pages + d->pages_cap, 0, (cap - d->pages_cap) * sizeof *d->pages);
        d->pages_cap = cap;
    }
    page_buf *b = &d->pages[d->pages_used];
    if (b->cap < n) {
        free(b->data); // no realloc: the old contents are not needed
        b->data = malloc(n ? n : 1);
        b->cap = b->data ? n : 0;
        if (!b->data) return pq_fail(err, PQ_ERR_NOMEM, "out of memory (a page of %zu bytes)", n);
    }
    d->pages_used++;
    *out = b->data;
    return PQ_OK;
}

// The page's bytes after decompression: in[0..n) as stored, out_size as announced. Uncompressed
// bytes are used in place (no copy).
static int page_bytes(chunk_ctx *x, int compressed, const uint8_t *in, size_t n, int64_t out_size,
                      const uint8_t **data, size_t *len) {
    if (!compressed || x->ci->codec == PQ_UNCOMPRESSED) {
        if ((uint64_t)out_size != n)
            return pq_fail(x->err, PQ_ERR_DATA, "uncompressed page holds %zu bytes, its header says %lld", n,
                           (long long)out_size);
        *data = in;
        *len = n;
        return PQ_OK;
    }
    if (out_size > PQ_MAX_PAGE_BYTES)
        return pq_fail(x->err, PQ_ERR_DATA, "page decompresses to %lld bytes, over this reader's limit of %u",
                       (long long)out_size, (unsigned)PQ_MAX_PAGE_BYTES);
    struct pq_decoder *d = x->dec;
    d->decompressed += (uint64_t)out_size;
    if (d->decompressed > PQ_MAX_CHUNK_BYTES)
        return pq_fail(x->err, PQ_ERR_DATA, "column chunk decompresses to more than this reader's limit of %llu bytes",
                       (unsigned long long)PQ_MAX_CHUNK_BYTES);
    int rc = pq_codec_check_size(x->ci->codec, in, n, (size_t)out_size, x->err);
    uint8_t *buf = NULL;
    if (!rc) rc = page_buffer(d, (size_t)out_size, &buf, x->err);
    if (!rc) rc = pq_decompress(&d->codec, x->ci->codec, in, n, buf, (size_t)out_size, x->err);
    if (rc) return rc;
    x->out->pages.compressed++;
    *data = buf;
    *len = (size_t)out_size;
    return PQ_OK;
}

static int read_dictionary(chunk_ctx *x, const page_header *h, const uint8_t *payload) {
    struct pq_decoder *d = x->dec;
    if (d->have_dict) return pq_fail(x->err, PQ_ERR_DATA, "a second dictionary page");
    if (x->rows_done > 0) return pq_fail(x->err, PQ_ERR_DATA, "a dictionary page after data pages");
    if (!h->have_dict || h->dict_values < 0)
        return pq_fail(x->err, PQ_ERR_DATA, "dictionary page without a valid DictionaryPageHeader");
    if (h->dict_encoding != PQ_ENC_PLAIN && h->dict_encoding != PQ_ENC_PLAIN_DICTIONARY)
        return pq_fail(x->err, PQ_ERR_UNSUPPORTED, "dictionary page encoding %s is not supported",
                       pq_encoding_name(h->dict_encoding));
    const uint8_t *data;
    size_t len;
    int rc = page_bytes(x, 1, payload, (size_t)h->compressed, h->uncompressed, &data, &len);
    if (rc) return rc;
    // Each entry takes at least 4 bytes (a string's length, an INT32 or FLOAT) or 1 bit (BOOLEAN), so
    // the count is checked against the page before the entries are allocated.
    int type = x->col->type;
    uint64_t most = type == PQ_BOOLEAN ? (uint64_t)len * 8 : len / (type == PQ_INT64 || type == PQ_DOUBLE ? 8 : 4);
    if ((uint64_t)h->dict_values > most)
        return pq_fail(x->err, PQ_ERR_DATA, "dictionary claims %lld entries in %zu bytes", (long long)h->dict_values,
                       len);
    size_t n = (size_t)h->dict_values;
    if ((rc = GROW(d->dict, d->dict_cap, n ? n : 1, x->err))) return rc;
    if ((rc = pq_plain_decode(type, data, len, d->dict, n, NULL, x->err))) return rc;
    d->dict_len = n;
    d->have_dict = 1;
    return PQ_OK;
}

// Decodes k non-null values of one data page (values bytes in[0..n)) into dst[0..k).
static int decode_values(chunk_ctx *x, int encoding, const uint8_t *in, size_t n, pq_value *dst, size_t k) {
    struct pq_decoder *d = x->dec;
    int type = x->col->type, rc;
    switch (encoding) {
    case PQ_ENC_PLAIN:
        return pq_plain_decode(type, in, n, dst, k, NULL, x->err);
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY: {
        if (!d->have_dict) return pq_fail(x->err, PQ_ERR_DATA, "dictionary-encoded page but no dictionary page");
        if (k == 0) return PQ_OK;
        // One byte of index bit width, then the RLE/bit-packed indices.
        if (n < 1) return pq_fail(x->err, PQ_ERR_DATA, "dictionary indices missing");
        if ((rc = GROW(d->indices, d->indices_cap, k, x->err))) return rc;
        if ((rc = pq_rle_decode(in + 1, n - 1, in[0], d->indices, k, x->err))) return rc;
        for (size_t i = 0; i < k; i++) {
            uint32_t idx = d->indices[i];
            if (idx >= d->dict_len)
                return pq_fail(x->err, PQ_ERR_DATA, "dictionary index %u out of range (%zu entries)", idx, d->dict_len);
            dst[i] = d->dict[idx];
        }
        return PQ_OK;
    }
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
        if (type != PQ_BYTE_ARRAY) break;
        if ((rc = GROW(d->deltas, d->deltas_cap, k ? k : 1, x->err))) return rc;
        return pq_delta_length_decode(in, n, dst, k, d->deltas, x->err);
    case PQ_ENC_DELTA_BINARY_PACKED:
        if (type != PQ_INT32 && type != PQ_INT64) break;
        if ((rc = GROW(d->deltas, d->deltas_cap, k ? k : 1, x->err))) return rc;
        if ((rc = pq_delta_binary_decode(in, n, d->deltas, k, NULL, x->err))) return rc;
        for (size_t i = 0; i < k; i++) {
            if (type == PQ_INT64) dst[i].i64 = d->deltas[i];
            else dst[i].i32 = (int32_t)(uint32_t)d->deltas[i]; // the spec's 32-bit wrap-around
        }
        return PQ_OK;
    case PQ_ENC_BYTE_STREAM_SPLIT:
        return pq_byte_stream_split_decode(type, in, n, dst, k, x->err);
    case PQ_ENC_RLE: { // booleans: a 4-byte length, then RLE/bit-packed values of width 1
        if (type != PQ_BOOLEAN) break;
        if (n < 4 || pq_load_u32le(in) > n - 4)
            return pq_fail(x->err, PQ_ERR_DATA, "RLE booleans: length prefix runs past the page");
        if ((rc = GROW(d->indices, d->indices_cap, k ? k : 1, x->err))) return rc;
        if ((rc = pq_rle_decode(in + 4, pq_load_u32le(in), 1, d->indices, k, x->err))) return rc;
        for (size_t i = 0; i < k; i++) dst[i].boolean = d->indices[i] != 0;
        return PQ_OK;
    }
    default:
        return pq_fail(x->err, PQ_ERR_UNSUPPORTED, "encoding %s is not supported (PLAIN, PLAIN_DICTIONARY, "
                       "RLE_DICTIONARY, DELTA_LENGTH_BYTE_ARRAY, DELTA_BINARY_PACKED, BYTE_STREAM_SPLIT and RLE "
                       "booleans are)",
                       pq_encoding_name(encoding));
    }
    return pq_fail(x->err, PQ_ERR_UNSUPPORTED, "encoding %s is not supported for %s columns",
                   pq_encoding_name(encoding), pq_type_name(type));
}

static int bit_width(int max_level) {
    int w = 0;
    while (max_level >> w) w++;
    return w;
}

// One data page: n values (nulls included), definition levels in levels[0..levels_len) (NULL for a
// REQUIRED column), encoded values in vals[0..vals_len).
static int decode_page_values(chunk_ctx *x, int encoding, size_t n, const uint8_t *levels, size_t levels_len,
                              const uint8_t *vals, size_t vals_len, int64_t v2_nulls) {
    struct pq_decoder *d = x->dec;
    pq_column_values *out = x->out;
    int max_def = x->col->max_def, rc;
    size_t base = (size_t)x->rows_done, present = n;
    // Values are stored as they are decoded, so memory follows the data actually present rather than
    // the row count the footer claims.
    size_t cap = d->values_cap;
    if ((rc = GROW(out->values, cap, base + n ? base + n : 1, x->err))) return rc;
    if (cap > d->values_cap) {
        uint8_t *nulls = realloc(out->is_null, cap);
        if (!nulls) return pq_fail(x->err, PQ_ERR_NOMEM, "out of memory");
        out->is_null = nulls;
        d->values_cap = cap;
    }
    uint8_t *is_null = out->is_null + base;
    if (max_def > 0) {
        if ((rc = GROW(d->levels, d->levels_cap, n ? n : 1, x->err))) return rc;
        if ((rc = pq_rle_decode(levels, levels_len, bit_width(max_def), d->levels, n, x->err))) {
            pq_error_prefix(x->err, "definition levels");
            return rc;
        }
        present = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t lv = d->levels[i];
            if (lv > (uint32_t)max_def)
                return pq_fail(x->err, PQ_ERR_DATA, "definition level %u above the column's maximum %d", lv, max_def);
            is_null[i] = lv != (uint32_t)max_def;
            present += !is_null[i];
        }
    } else {
        memset(is_null, 0, n);
    }
    if (v2_nulls >= 0 && (uint64_t)v2_nulls != n - present)
        return pq_fail(x->err, PQ_ERR_DATA, "page header says %lld nulls, its definition levels give %zu",
                       (long long)v2_nulls, n - present);
    pq_value *dst = out->values + base;
    if ((rc = decode_values(x, encoding, vals, vals_len, dst, present))) return rc;
    if (present < n) { // spread the packed values to their rows, from the back so nothing is overwritten
        size_t j = present;
        for (size_t i = n; i-- > 0 && j > 0;)
            if (!is_null[i]) dst[i] = dst[--j];
        out->null_count += n - present;
    }
    x->rows_done += n;
    return PQ_OK;
}

static int read_data_page(chunk_ctx *x, const page_header *h, const uint8_t *payload) {
    const pq_column *c = x->col;
    if (h->type == PAGE_DATA && !h->have_v1) return pq_fail(x->err, PQ_ERR_DATA, "data page without a DataPageHeader");
    if (h->type == PAGE_DATA_V2 && !h->have_v2)
        return pq_fail(x->err, PQ_ERR_DATA, "data page v2 without a DataPageHeaderV2");
    if (h->num_values < 0) return pq_fail(x->err, PQ_ERR_DATA, "page has no value count");
    if ((uint64_t)h->num_values > x->rows - x->rows_done)
        return pq_fail(x->err, PQ_ERR_DATA, "page holds %lld values, the row group has %llu rows left",
                       (long long)h->num_values, (unsigned long long)(x->rows - x->rows_done));
    size_t n = (size_t)h->num_values, compressed = (size_t)h->compressed;
    int rc;
    if (h->type == PAGE_DATA) {
        // v1: the whole payload is compressed; levels (4-byte length + RLE) come first inside it.
        const uint8_t *data;
        size_t len, pos = 0, levels_len = 0;
        if ((rc = page_bytes(x, 1, payload, compressed, h->uncompressed, &data, &len))) return rc;
        if (c->max_def > 0) {
            if (h->def_encoding == PQ_ENC_BIT_PACKED)
                return pq_fail(x->err, PQ_ERR_UNSUPPORTED, "legacy BIT_PACKED definition levels are not supported");
            if (h->def_encoding != PQ_ENC_RLE)
                return pq_fail(x->err, PQ_ERR_DATA, "definition levels encoded as %s",
                               pq_encoding_name(h->def_encoding));
            if (len < 4 || pq_load_u32le(data) > len - 4)
                return pq_fail(x->err, PQ_ERR_DATA, "definition levels' length runs past the page");
            levels_len = pq_load_u32le(data);
            pos = 4 + levels_len;
        }
        return decode_page_values(x, h->encoding, n, c->max_def > 0 ? data + 4 : NULL, levels_len, data + pos,
                                  len - pos, -1);
    }
    // v2: levels first, never compressed and without length prefixes; then the values, compressed
    // when is_compressed.
    if (h->def_len < 0 || h->rep_len < 0 || h->num_nulls < 0)
        return pq_fail(x->err, PQ_ERR_DATA, "data page v2 header lacks level lengths or the null count");
    if (h->rep_len != 0) return pq_fail(x->err, PQ_ERR_DATA, "repetition levels in a column that is not repeated");
    if (c->max_def == 0 && (h->def_len != 0 || h->num_nulls != 0))
        return pq_fail(x->err, PQ_ERR_DATA, "definition levels or nulls in a REQUIRED column");
    size_t levels_len = (size_t)h->def_len;
    if (levels_len > compressed || (int64_t)levels_len > h->uncompressed)
        return pq_fail(x->err, PQ_ERR_DATA, "definition levels (%zu bytes) larger than the page", levels_len);
    const uint8_t *vals;
    size_t vals_len;
    if ((rc = page_bytes(x, h->is_compressed, payload + levels_len, compressed - levels_len,
                         h->uncompressed - (int64_t)levels_len, &vals, &vals_len)))
        return rc;
    return decode_page_values(x, h->encoding, n, payload, levels_len, vals, vals_len, h->num_nulls);
}

static int decode_chunk(chunk_ctx *x) {
    size_t pos = 0;
    for (size_t page = 0; x->rows_done < x->rows; page++) {
        uint64_t at = x->ci->offset + pos; // file offset of this page, for messages
        if (pos >= x->size) {
            return pq_fail(x->err, PQ_ERR_DATA, "column chunk ends (byte %llu) after %llu of %llu values",
                           (unsigned long long)at, (unsigned long long)x->rows_done, (unsigned long long)x->rows);
        }
        page_header h;
        size_t header_len = 0;
        int rc = parse_page_header(x->chunk + pos, x->size - pos, &h, &header_len, x->err);
        if (!rc && (uint64_t)h.compressed > x->size - pos - header_len)
            rc = pq_fail(x->err, PQ_ERR_DATA, "page of %lld bytes runs past the end of the column chunk (%zu bytes "
                         "left)", (long long)h.compressed, x->size - pos - header_len);
        const uint8_t *payload = x->chunk + pos + header_len;
        if (!rc) {
            pq_page_stats *st = &x->out->pages;
            if (h.type == PAGE_DICTIONARY) {
                rc = read_dictionary(x, &h, payload);
                st->dictionary++;
            } else if (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) {
                rc = read_data_page(x, &h, payload);
                *(h.type == PAGE_DATA ? &st->data_v1 : &st->data_v2) += 1;
                if (h.encoding >= 0 && h.encoding < 32) st->encodings |= 1u << h.encoding;
            } else {
                st->other++; // INDEX_PAGE and unknown types carry no values: skipped
            }
        }
        if (rc) {
            pq_error_prefix(x->err, "page %zu at byte %llu", page, (unsigned long long)at);
            return rc;
        }
        pos += header_len + (size_t)h.compressed;
    }
    return PQ_OK;
}

int pq_column_decode(const pq_meta *m, size_t rg, size_t col, const uint8_t *chunk, size_t chunk_size,
                     pq_column_values *out, pq_error *err) {
    out->num_rows = 0;
    out->null_count = 0;
    memset(&out->pages, 0, sizeof out->pages);
    if (rg >= m->num_row_groups)
        return pq_fail(err, PQ_ERR_USAGE, "row group %zu out of range (%zu row groups)", rg, m->num_row_groups);
    int rc = pq_column_check(m, col, err);
    if (rc) return rc;
    const pq_column *c = &m->columns[col];
    const pq_row_group *g = &m->row_groups[rg];
    const pq_chunk_info *ci = &g->chunks[col];
    if (chunk_size != ci->size)
        return pq_fail(err, PQ_ERR_USAGE, "row group %zu, column '%s': given %zu bytes, the chunk has %llu", rg,
                       c->name, chunk_size, (unsigned long long)ci->size);
    if (g->num_rows > PQ_MAX_ROWS_PER_ROW_GROUP)
        return pq_fail(err, PQ_ERR_UNSUPPORTED, "row group %zu has %llu rows, over this reader's limit of %llu", rg,
                       (unsigned long long)g->num_rows, (unsigned long long)PQ_MAX_ROWS_PER_ROW_GROUP);
    if (ci->num_values != g->num_rows)
        return pq_fail(err, PQ_ERR_DATA, "row group %zu, column '%s': %llu values for %llu rows", rg, c->name,
                       (unsigned long long)ci->num_values, (unsigned long long)g->num_rows);
    if (!out->dec && !(out->dec = calloc(1, sizeof *out->dec))) return pq_fail(err, PQ_ERR_NOMEM, "out of memory");
    struct pq_decoder *d = out->dec;
    d->pages_used = 0;
    d->dict_len = 0;
    d->have_dict = 0;
    d->decompressed = 0;
    out->type = c->type;
    chunk_ctx x = {.col = c, .ci = ci, .chunk = chunk, .size = chunk_size, .out = out, .dec = d,
                   .rows = g->num_rows, .err = err};
    rc = decode_chunk(&x);
    if (rc) {
        pq_error_prefix(err, "row group %zu, column '%s'", rg, c->name);
        out->null_count = 0;
        return rc;
    }
    out->num_rows = (size_t)g->num_rows;
    return PQ_OK;
}

int pq_column_each_string(const pq_column_values *v, uint64_t first_row, pq_string_fn fn, void *ctx) {
    if (v->type != PQ_BYTE_ARRAY) return 0;
    for (size_t i = 0; i < v->num_rows; i++) {
        if (v->is_null[i]) continue;
        int rc = fn(ctx, first_row + i, v->values[i].str, v->values[i].len);
        if (rc) return rc;
    }
    return 0;
}
