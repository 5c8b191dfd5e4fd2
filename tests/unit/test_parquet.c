// test_parquet.c: the Parquet reader's pieces on known answers (Thrift compact, RLE/bit-packed hybrid,
// DELTA_BINARY_PACKED and the other encodings, JSON numbers), and a whole file built here byte by
// byte: read from memory, read the way a downloader does (trailer, footer, chunk), truncated at every
// offset and corrupted at every byte (an error or a correct result, never a crash).
// Files from real writers (DuckDB, hyparquet-writer) are tested by tests/parquet.bats.
#include <stdlib.h>

#include "check.h"
#include "parquet.h"
#include "parquet_internal.h"
#include "thrift.h"

// ---- a minimal Thrift compact writer, to build footers and page headers -------------------------
typedef struct wbuf {
    uint8_t data[4096];
    size_t n;
    int16_t last[16]; // last field id per struct level
    int level;
} wbuf;

static void put(wbuf *w, uint8_t b) { w->data[w->n++] = b; }
static void put_bytes(wbuf *w, const void *p, size_t n) {
    memcpy(w->data + w->n, p, n);
    w->n += n;
}
static void put_varint(wbuf *w, uint64_t v) {
    do {
        put(w, (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}
static void put_zigzag(wbuf *w, int64_t v) { put_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
static void field(wbuf *w, int id, int type) {
    int delta = id - w->last[w->level];
    if (delta > 0 && delta <= 15) put(w, (uint8_t)(delta << 4 | type));
    else {
        put(w, (uint8_t)type);
        put_zigzag(w, id);
    }
    w->last[w->level] = (int16_t)id;
}
static void f_int(wbuf *w, int id, int type, int64_t v) {
    field(w, id, type);
    put_zigzag(w, v);
}
static void f_str(wbuf *w, int id, const char *s) {
    field(w, id, THRIFT_BINARY);
    put_varint(w, strlen(s));
    put_bytes(w, s, strlen(s));
}
static void begin(wbuf *w) { w->last[++w->level] = 0; }               // a struct value starts
static void end(wbuf *w) { put(w, 0), w->level--; }                   // STOP
static void f_struct(wbuf *w, int id) { field(w, id, THRIFT_STRUCT), begin(w); }
static void list_header(wbuf *w, int n, int type) { put(w, (uint8_t)(n << 4 | type)); }

// ---- Thrift -------------------------------------------------------------------------------------
static void test_thrift(void) {
    // struct {1: i32 -3, 20: i64 300 (long-form id), 21: true, 22: list<string>["ab", ""], 23: nested
    // struct {1: double}}, then a trailing byte.
    wbuf w = {0};
    f_int(&w, 1, THRIFT_I32, -3);
    f_int(&w, 20, THRIFT_I64, 300);
    field(&w, 21, THRIFT_TRUE);
    field(&w, 22, THRIFT_LIST);
    list_header(&w, 2, THRIFT_BINARY);
    put_varint(&w, 2), put_bytes(&w, "ab", 2), put_varint(&w, 0);
    f_struct(&w, 23);
    field(&w, 1, THRIFT_DOUBLE);
    put_bytes(&w, "\0\0\0\0\0\0\xf0\x3f", 8);
    end(&w);
    put(&w, 0);
    put(&w, 0x55);

    thrift_reader r;
    thrift_init(&r, w.data, w.n);
    int16_t last = 0;
    int type, id, seen = 0;
    thrift_struct_begin(&r);
    while ((id = thrift_field(&r, &last, &type)) != THRIFT_STOP) {
        seen++;
        if (id == 1) CHECK_EQ_INT(thrift_i32(&r), -3);
        else if (id == 20) CHECK_EQ_INT(thrift_i64(&r), 300);
        else if (id == 21) CHECK(type == THRIFT_TRUE && thrift_bool_field(type));
        else if (id == 22) {
            int et;
            CHECK_EQ_INT(thrift_list(&r, &et), 2);
            const uint8_t *s;
            CHECK_EQ_INT(thrift_binary(&r, &s), 2);
            CHECK(memcmp(s, "ab", 2) == 0);
            CHECK_EQ_INT(thrift_binary(&r, &s), 0);
        } else {
            CHECK_EQ_INT(id, 23);
            thrift_skip(&r, type);
        }
    }
    thrift_struct_end(&r);
    CHECK(!thrift_failed(&r));
    CHECK_EQ_INT(seen, 5);
    CHECK_EQ_INT(thrift_pos(&r), w.n - 1);

    // Every truncation of that struct fails cleanly when skipped.
    for (size_t n = 0; n < w.n - 1; n++) {
        thrift_init(&r, w.data, n);
        thrift_skip(&r, THRIFT_STRUCT);
        CHECK(thrift_failed(&r));
    }
    // A list claiming more elements than bytes left is refused before anyone allocates for it.
    uint8_t big_list[] = {0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 1, 2};
    thrift_init(&r, big_list, sizeof big_list);
    int et;
    CHECK_EQ_INT(thrift_list(&r, &et), 0);
    CHECK(thrift_failed(&r));
    // Structs nested past THRIFT_MAX_DEPTH: refused, not a stack overflow.
    uint8_t deep[200];
    memset(deep, 0x1C, sizeof deep); // field delta 1, type struct, forever
    thrift_init(&r, deep, sizeof deep);
    thrift_skip(&r, THRIFT_STRUCT);
    CHECK(thrift_failed(&r));
    CHECK_EQ_STR(r.err, "Thrift structs nested too deeply");
    // A varint of 11 bytes overflows 64 bits.
    uint8_t long_varint[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    thrift_init(&r, long_varint, sizeof long_varint);
    thrift_varint(&r);
    CHECK(thrift_failed(&r));
}

// ---- encodings ----------------------------------------------------------------------------------
static void test_rle(void) {
    pq_error err;
    uint32_t out[16];
    // Encodings.md: 0..7 bit-packed at width 3 -> one group: header 0x03, bytes 0x88 0xC6 0xFA.
    const uint8_t packed[] = {0x03, 0x88, 0xC6, 0xFA};
    CHECK_EQ_INT(pq_rle_decode(packed, sizeof packed, 3, out, 8, &err), PQ_OK);
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(out[i], i);
    // An RLE run of 5 x 300 at width 9 (2-byte value), then a bit-packed group at width 9.
    const uint8_t mixed[] = {0x0A, 0x2C, 0x01, 0x03, 0xFF, 0x01, 0, 0, 0, 0, 0, 0, 0};
    CHECK_EQ_INT(pq_rle_decode(mixed, sizeof mixed, 9, out, 7, &err), PQ_OK);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(out[i], 300);
    CHECK_EQ_INT(out[5], 511);
    CHECK_EQ_INT(out[6], 0);
    // Only the values asked for are decoded; a run past them is fine; missing values are an error.
    CHECK_EQ_INT(pq_rle_decode(mixed, 3, 9, out, 5, &err), PQ_OK);
    CHECK_EQ_INT(pq_rle_decode(mixed, 3, 9, out, 6, &err), PQ_ERR_DATA);
    CHECK_EQ_INT(pq_rle_decode(packed, 2, 3, out, 8, &err), PQ_ERR_DATA); // group cut short
    CHECK_EQ_INT(pq_rle_decode(packed, sizeof packed, 33, out, 1, &err), PQ_ERR_DATA);
    // Width 0: every value is 0 and takes no bytes.
    const uint8_t zero[] = {0x20};
    CHECK_EQ_INT(pq_rle_decode(zero, 1, 0, out, 16, &err), PQ_OK);
    CHECK_EQ_INT(out[15], 0);
}

static void test_delta(void) {
    pq_error err;
    int64_t out[8];
    size_t used;
    // Encodings.md example 1: 1 2 3 4 5 -> block 128, 4 miniblocks, 5 values, first 1; min delta 1,
    // all widths 0 (no miniblock bodies).
    const uint8_t ex1[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
    CHECK_EQ_INT(pq_delta_binary_decode(ex1, sizeof ex1, out, 5, &used, &err), PQ_OK);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(out[i], i + 1);
    CHECK_EQ_INT(used, sizeof ex1);
    // Example 2: 7 5 3 1 2 3 4 5: deltas -2 -2 -2 1 1 1 1, min -2, relative 0 0 0 3 3 3 3 at width 2.
    const uint8_t ex2[] = {0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 2, 0, 0, 0, 0xC0, 0x3F, 0, 0, 0, 0, 0, 0};
    CHECK_EQ_INT(pq_delta_binary_decode(ex2, sizeof ex2, out, 8, &used, &err), PQ_OK);
    const int64_t want[] = {7, 5, 3, 1, 2, 3, 4, 5};
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(out[i], want[i]);
    CHECK_EQ_INT(used, sizeof ex2); // the padded miniblock is consumed whole
    CHECK_EQ_INT(pq_delta_binary_decode(ex2, sizeof ex2, out, 7, &used, &err), PQ_ERR_DATA); // count differs
    CHECK_EQ_INT(pq_delta_binary_decode(ex2, 11, out, 8, &used, &err), PQ_ERR_DATA);         // truncated
    const uint8_t bad_block[] = {0x07, 0x04, 0x01, 0x00}; // 7 values in 4 miniblocks
    CHECK_EQ_INT(pq_delta_binary_decode(bad_block, sizeof bad_block, out, 1, &used, &err), PQ_ERR_DATA);

    // DELTA_LENGTH_BYTE_ARRAY: lengths 2, 0, 3 (first 2, deltas -2 +3: min -2, relative 0 5 at width 3).
    const uint8_t dlba[] = {0x80, 0x01, 0x04, 0x03, 0x04, 0x03, 3, 0, 0, 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            'h', 'i', 'y', 'o', 'u'};
    pq_value v[3];
    int64_t lens[3];
    CHECK_EQ_INT(pq_delta_length_decode(dlba, sizeof dlba, v, 3, lens, &err), PQ_OK);
    CHECK(v[0].len == 2 && memcmp(v[0].str, "hi", 2) == 0);
    CHECK(v[1].len == 0);
    CHECK(v[2].len == 3 && memcmp(v[2].str, "you", 3) == 0);
    CHECK_EQ_INT(pq_delta_length_decode(dlba, sizeof dlba - 1, v, 3, lens, &err), PQ_ERR_DATA);
}

static void test_plain_and_split(void) {
    pq_error err;
    pq_value v[4];
    size_t used;
    const uint8_t strs[] = {2, 0, 0, 0, 'o', 'k', 0, 0, 0, 0, 1, 0, 0, 0, 0};
    CHECK_EQ_INT(pq_plain_decode(PQ_BYTE_ARRAY, strs, sizeof strs, v, 3, &used, &err), PQ_OK);
    CHECK(v[0].len == 2 && v[1].len == 0 && v[2].len == 1 && v[2].str[0] == 0);
    CHECK_EQ_INT(used, sizeof strs);
    CHECK_EQ_INT(pq_plain_decode(PQ_BYTE_ARRAY, strs, sizeof strs - 1, v, 3, &used, &err), PQ_ERR_DATA);
    const uint8_t huge_len[] = {0xFF, 0xFF, 0xFF, 0xFF, 'x'};
    CHECK_EQ_INT(pq_plain_decode(PQ_BYTE_ARRAY, huge_len, sizeof huge_len, v, 1, &used, &err), PQ_ERR_DATA);
    const uint8_t bools[] = {0x05};
    CHECK_EQ_INT(pq_plain_decode(PQ_BOOLEAN, bools, 1, v, 4, &used, &err), PQ_OK);
    CHECK(v[0].boolean == 1 && v[1].boolean == 0 && v[2].boolean == 1 && v[3].boolean == 0);
    // BYTE_STREAM_SPLIT of two FLOATs 1.0f (00 00 80 3F) and -2.0f (00 00 00 C0).
    const uint8_t split[] = {0, 0, 0, 0, 0x80, 0x00, 0x3F, 0xC0};
    CHECK_EQ_INT(pq_byte_stream_split_decode(PQ_FLOAT, split, sizeof split, v, 2, &err), PQ_OK);
    CHECK(v[0].f32 == 1.0f && v[1].f32 == -2.0f);
    CHECK_EQ_INT(pq_byte_stream_split_decode(PQ_FLOAT, split, 7, v, 2, &err), PQ_ERR_DATA);
}

static void test_json(void) {
    pq_value vals[6];
    uint8_t nulls[6] = {0, 0, 0, 0, 0, 1};
    pq_column_values v = {.num_rows = 6, .values = vals, .is_null = nulls, .type = PQ_DOUBLE};
    uint8_t out[64];
    const double d[] = {0.1, 1e300, -0.0, 5, NAN};
    const char *want[] = {"0.1", "1e+300", "-0", "5", "null", "null"};
    for (int i = 0; i < 5; i++) vals[i].f64 = d[i];
    for (int i = 0; i < 6; i++) {
        size_t n = pq_value_to_json(&v, (size_t)i, out);
        out[n] = 0;
        CHECK_EQ_STR((char *)out, want[i]);
    }
    v.type = PQ_FLOAT;
    vals[0].f32 = 0.1f; // the float nearest 0.1 prints as 0.1, not 0.100000001
    size_t n = pq_value_to_json(&v, 0, out);
    out[n] = 0;
    CHECK_EQ_STR((char *)out, "0.1");
    v.type = PQ_INT64;
    vals[0].i64 = INT64_MIN;
    n = pq_value_to_json(&v, 0, out);
    out[n] = 0;
    CHECK_EQ_STR((char *)out, "-9223372036854775808");
    v.type = PQ_BYTE_ARRAY;
    vals[0].str = "a\"\n\x01\xff";
    vals[0].len = 5;
    n = pq_value_to_json(&v, 0, out);
    out[n] = 0;
    CHECK_EQ_STR((char *)out, "\"a\\\"\\n\\u0001\xEF\xBF\xBD\""); // invalid UTF-8 -> U+FFFD
    CHECK(pq_value_json_max(&v, 0) >= n);
}

// ---- a whole file -------------------------------------------------------------------------------
// One OPTIONAL BYTE_ARRAY column "text" (UTF8) with rows "a", null, "", "héllo" in one v1 PLAIN
// page (uncompressed), and a REQUIRED INT32 column "n" = 7, -1, 0, 42 in a dictionary page plus an
// RLE_DICTIONARY page.
typedef struct file_bytes {
    uint8_t data[2048];
    size_t n;
    uint64_t text_off, text_len, n_off, n_len;
} file_bytes;

static void page_header_v1(wbuf *w, int type, size_t size, int num_values, int encoding) {
    begin(w);
    f_int(w, 1, THRIFT_I32, type);
    f_int(w, 2, THRIFT_I32, (int64_t)size);
    f_int(w, 3, THRIFT_I32, (int64_t)size);
    if (type == 2) {
        f_struct(w, 7);
        f_int(w, 1, THRIFT_I32, num_values);
        f_int(w, 2, THRIFT_I32, PQ_ENC_PLAIN);
    } else {
        f_struct(w, 5);
        f_int(w, 1, THRIFT_I32, num_values);
        f_int(w, 2, THRIFT_I32, encoding);
        f_int(w, 3, THRIFT_I32, PQ_ENC_RLE);
        f_int(w, 4, THRIFT_I32, PQ_ENC_RLE);
    }
    end(w);
    end(w);
}

static void column_meta(wbuf *w, int type, const char *name, uint64_t off, uint64_t len, uint64_t data_off) {
    begin(w); // ColumnChunk
    f_int(w, 2, THRIFT_I64, (int64_t)off);
    f_struct(w, 3);
    f_int(w, 1, THRIFT_I32, type);
    field(w, 3, THRIFT_LIST);
    list_header(w, 1, THRIFT_BINARY);
    put_varint(w, strlen(name));
    put_bytes(w, name, strlen(name));
    f_int(w, 4, THRIFT_I32, PQ_UNCOMPRESSED);
    f_int(w, 5, THRIFT_I64, 4);
    f_int(w, 6, THRIFT_I64, (int64_t)len);
    f_int(w, 7, THRIFT_I64, (int64_t)len);
    f_int(w, 9, THRIFT_I64, (int64_t)data_off);
    if (data_off != off) f_int(w, 11, THRIFT_I64, (int64_t)off);
    end(w);
    end(w);
}

static void build_file(file_bytes *f) {
    wbuf w = {0};
    put_bytes(&w, "PAR1", 4);
    // text: definition levels 1 0 1 1 as one bit-packed group (0b1101), then PLAIN strings.
    const uint8_t text_body[] = {2, 0, 0, 0, 0x03, 0x0D, 1, 0, 0, 0, 'a', 0, 0, 0, 0, 6, 0, 0, 0, 'h', 0xC3, 0xA9, 'l', 'l', 'o'};
    f->text_off = w.n;
    page_header_v1(&w, 0, sizeof text_body, 4, PQ_ENC_PLAIN);
    put_bytes(&w, text_body, sizeof text_body);
    f->text_len = w.n - f->text_off;
    // n: dictionary [7, -1, 0, 42], indices 0 1 2 3 at width 2 (one bit-packed group: 0b11100100).
    const uint8_t dict[] = {7, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 42, 0, 0, 0};
    const uint8_t idx[] = {2, 0x03, 0xE4, 0x00};
    f->n_off = w.n;
    page_header_v1(&w, 2, sizeof dict, 4, 0);
    put_bytes(&w, dict, sizeof dict);
    uint64_t n_data = w.n;
    page_header_v1(&w, 0, sizeof idx, 4, PQ_ENC_RLE_DICTIONARY);
    put_bytes(&w, idx, sizeof idx);
    f->n_len = w.n - f->n_off;
    // Footer: FileMetaData.
    size_t footer = w.n;
    begin(&w);
    f_int(&w, 1, THRIFT_I32, 2);
    field(&w, 2, THRIFT_LIST);
    list_header(&w, 3, THRIFT_STRUCT);
    begin(&w), f_str(&w, 4, "schema"), f_int(&w, 5, THRIFT_I32, 2), end(&w);
    begin(&w), f_int(&w, 1, THRIFT_I32, PQ_BYTE_ARRAY), f_int(&w, 3, THRIFT_I32, 1), f_str(&w, 4, "text");
    f_int(&w, 6, THRIFT_I32, 0), end(&w);
    begin(&w), f_int(&w, 1, THRIFT_I32, PQ_INT32), f_int(&w, 3, THRIFT_I32, 0), f_str(&w, 4, "n"), end(&w);
    f_int(&w, 3, THRIFT_I64, 4);
    field(&w, 4, THRIFT_LIST);
    list_header(&w, 1, THRIFT_STRUCT);
    begin(&w); // RowGroup
    field(&w, 1, THRIFT_LIST);
    list_header(&w, 2, THRIFT_STRUCT);
    column_meta(&w, PQ_BYTE_ARRAY, "text", f->text_off, f->text_len, f->text_off);
    column_meta(&w, PQ_INT32, "n", f->n_off, f->n_len, n_data);
    f_int(&w, 3, THRIFT_I64, 4);
    end(&w);
    f_str(&w, 6, "test_parquet.c");
    end(&w);
    uint32_t flen = (uint32_t)(w.n - footer);
    uint8_t tail[8] = {(uint8_t)flen, (uint8_t)(flen >> 8), 0, 0, 'P', 'A', 'R', '1'};
    put_bytes(&w, tail, 8);
    memcpy(f->data, w.data, w.n);
    f->n = w.n;
}

static void check_text(const pq_column_values *v) {
    CHECK_EQ_INT(v->num_rows, 4);
    CHECK_EQ_INT(v->null_count, 1);
    CHECK(!v->is_null[0] && v->is_null[1] && !v->is_null[2] && !v->is_null[3]);
    CHECK(v->values[0].len == 1 && v->values[0].str[0] == 'a');
    CHECK(v->values[2].len == 0);
    CHECK(v->values[3].len == 6 && memcmp(v->values[3].str, "h\xC3\xA9llo", 6) == 0);
}

// pq_column_each_string's callback: records rows and lengths; stops when asked.
typedef struct seen_strings {
    uint64_t rows[8];
    size_t lens[8], n, stop_after;
} seen_strings;
static int see_string(void *ctx, uint64_t row, const char *str, size_t len) {
    seen_strings *s = ctx;
    (void)str;
    s->rows[s->n] = row;
    s->lens[s->n++] = len;
    return s->n == s->stop_after ? 7 : 0;
}

static void test_file(void) {
    file_bytes fb;
    build_file(&fb);
    pq_error err = {0};
    pq_file f;
    int rc = pq_file_open_buffer(&f, fb.data, fb.n, &err);
    CHECK_EQ_INT(rc, PQ_OK);
    if (rc) {
        fprintf(stderr, "open: %s\n", err.msg);
        return;
    }
    const pq_meta *m = f.meta;
    CHECK_EQ_INT(m->num_rows, 4);
    CHECK_EQ_INT(m->num_columns, 2);
    CHECK_EQ_STR(m->created_by, "test_parquet.c");
    CHECK_EQ_INT(m->columns[0].max_def, 1);
    CHECK(m->columns[0].is_string);
    CHECK_EQ_INT(m->columns[1].max_def, 0);
    CHECK_EQ_INT(pq_meta_find_column(m, "n"), 1);
    CHECK_EQ_INT(pq_meta_find_column(m, "url"), -1);

    pq_column_values v;
    pq_column_values_init(&v);
    CHECK_EQ_INT(pq_file_read_column(&f, 0, 0, &v, &err), PQ_OK);
    check_text(&v);
    CHECK_EQ_INT(v.pages.data_v1, 1);
    seen_strings seen = {.stop_after = 0};
    CHECK_EQ_INT(pq_column_each_string(&v, 100, see_string, &seen), 0);
    CHECK_EQ_INT(seen.n, 3); // the null row is skipped
    CHECK(seen.rows[0] == 100 && seen.rows[1] == 102 && seen.rows[2] == 103);
    CHECK(seen.lens[0] == 1 && seen.lens[1] == 0 && seen.lens[2] == 6);
    seen = (seen_strings){.stop_after = 2};
    CHECK_EQ_INT(pq_column_each_string(&v, 0, see_string, &seen), 7);
    CHECK_EQ_INT(seen.n, 2);
    CHECK_EQ_INT(pq_file_read_column(&f, 0, 1, &v, &err), PQ_OK);
    CHECK_EQ_INT(v.num_rows, 4);
    CHECK_EQ_INT(v.null_count, 0);
    CHECK(v.values[0].i32 == 7 && v.values[1].i32 == -1 && v.values[2].i32 == 0 && v.values[3].i32 == 42);
    CHECK_EQ_INT(v.pages.dictionary, 1);
    CHECK(v.pages.encodings == 1u << PQ_ENC_RLE_DICTIONARY);
    CHECK_EQ_INT(pq_file_read_column(&f, 1, 0, &v, &err), PQ_ERR_USAGE);

    // The downloader's way: trailer -> footer length, footer -> metadata, chunk range -> chunk bytes.
    uint32_t flen;
    CHECK_EQ_INT(pq_footer_length(fb.data + fb.n - PQ_TRAILER_SIZE, fb.n, &flen, &err), PQ_OK);
    pq_meta *m2;
    uint8_t footer[1024];
    memcpy(footer, fb.data + fb.n - 8 - flen, flen); // a separate buffer, as a download would be
    CHECK_EQ_INT(pq_meta_parse(footer, flen, fb.n, &m2, &err), PQ_OK);
    uint64_t off, len;
    CHECK_EQ_INT(pq_chunk_range(m2, 0, "text", &off, &len, &err), PQ_OK);
    CHECK_EQ_INT(off, fb.text_off);
    CHECK_EQ_INT(len, fb.text_len);
    CHECK_EQ_INT(pq_chunk_range(m2, 0, "nope", &off, &len, &err), PQ_ERR_USAGE);
    uint8_t *chunk = malloc(len);
    memcpy(chunk, fb.data + off, len);
    CHECK_EQ_INT(pq_column_decode(m2, 0, 0, chunk, len, &v, &err), PQ_OK);
    check_text(&v);
    CHECK_EQ_INT(pq_column_decode(m2, 0, 0, chunk, len - 1, &v, &err), PQ_ERR_USAGE);
    free(chunk);
    pq_meta_free(m2);
    pq_file_close(&f);

    // Truncated at every length: an error that says what and where, never a crash.
    uint8_t copy[2048];
    for (size_t n = 0; n < fb.n; n++) {
        memcpy(copy, fb.data, n);
        rc = pq_file_open_buffer(&f, copy, n, &err);
        CHECK(rc == PQ_ERR_DATA);
        CHECK(strlen(err.msg) > 10);
    }
    // Cut inside the text chunk: the message names the row group, column, page and byte.
    uint8_t cut[1024];
    memcpy(cut, fb.data + fb.text_off, fb.text_len);
    CHECK_EQ_INT(pq_meta_parse(footer, flen, fb.n, &m2, &err), PQ_OK);
    uint8_t *short_chunk = malloc(fb.text_len);
    memcpy(short_chunk, cut, fb.text_len);
    short_chunk[fb.text_len - 10] = 0x7F; // the length of "héllo" becomes 127: runs past the page
    rc = pq_column_decode(m2, 0, 0, short_chunk, fb.text_len, &v, &err);
    CHECK_EQ_INT(rc, PQ_ERR_DATA);
    CHECK(strstr(err.msg, "row group 0, column 'text': page 0 at byte 4: PLAIN string 2 of 3") == err.msg);
    free(short_chunk);
    pq_meta_free(m2);

    // Every byte changed to every one of a few values: a clean result or a clean error.
    static const uint8_t subst[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0x15, 0x0C};
    int ok = 0, failed = 0;
    for (size_t i = 0; i < fb.n; i++) {
        for (size_t s = 0; s < sizeof subst; s++) {
            memcpy(copy, fb.data, fb.n);
            copy[i] = subst[s];
            if (pq_file_open_buffer(&f, copy, fb.n, &err) != PQ_OK) {
                failed++;
                continue;
            }
            for (size_t c = 0; c < f.meta->num_columns; c++)
                if (pq_file_read_column(&f, 0, c, &v, &err) == PQ_OK) ok++; else failed++;
            pq_file_close(&f);
        }
    }
    CHECK(ok > 0 && failed > 0);
    pq_column_values_free(&v);

    // Not Parquet at all, and encrypted footers.
    CHECK_EQ_INT(pq_file_open_buffer(&f, (const uint8_t *)"PAR1 hello world PAR1", 21, &err), PQ_ERR_DATA);
    uint8_t trailer[8] = {4, 0, 0, 0, 'P', 'A', 'R', 'E'};
    CHECK_EQ_INT(pq_footer_length(trailer, 100, &flen, &err), PQ_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "encrypted") != NULL);
    CHECK_EQ_INT(pq_exit_code(PQ_ERR_DATA), 3);
    CHECK_EQ_INT(pq_exit_code(PQ_ERR_UNSUPPORTED), 3);
    CHECK_EQ_INT(pq_exit_code(PQ_ERR_IO), 4);
}

int main(int argc, char **argv) {
    test_thrift();
    test_rle();
    test_delta();
    test_plain_and_split();
    test_json();
    test_file();
    return check_summary(argv[0]);
}
