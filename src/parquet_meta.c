// parquet_meta.c: the footer (spec/data.md §4.1, §4.3): trailer, FileMetaData, schema leaves, row
// groups and the byte range of every column chunk, all checked before a caller fetches anything.
#include <stdio.h>
#include <stdlib.h>

#include "parquet_internal.h"
#include "thrift.h"

// Schema nesting deeper than this is refused (real schemas nest a few levels; it bounds recursion).
#define MAX_SCHEMA_DEPTH 64

enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
// ConvertedType values that mean "this BYTE_ARRAY is text".
enum { CONVERTED_UTF8 = 0, CONVERTED_ENUM = 4, CONVERTED_JSON = 19 };
// LogicalType union members that mean text: STRING, ENUM, JSON.
enum { LOGICAL_STRING = 1, LOGICAL_ENUM = 4, LOGICAL_JSON = 12 };

int pq_footer_length(const uint8_t trailer[PQ_TRAILER_SIZE], uint64_t file_size, uint32_t *footer_len,
                     pq_error *err) {
    if (file_size < 12)
        return pq_fail(err, PQ_ERR_DATA, "not a Parquet file: %llu bytes is too short (a Parquet file has at least "
                       "12)", (unsigned long long)file_size);
    if (memcmp(trailer + 4, "PARE", 4) == 0)
        return pq_fail(err, PQ_ERR_UNSUPPORTED, "encrypted Parquet (footer magic PARE) is not supported");
    if (memcmp(trailer + 4, "PAR1", 4) != 0)
        return pq_fail(err, PQ_ERR_DATA, "not a Parquet file (or truncated): the last 4 bytes are not \"PAR1\"");
    uint32_t len = pq_load_u32le(trailer);
    if (len == 0 || len > file_size - 12)
        return pq_fail(err, PQ_ERR_DATA, "footer length %u does not fit in a file of %llu bytes (truncated file?)",
                       len, (unsigned long long)file_size);
    if (len > PQ_MAX_FOOTER_BYTES)
        return pq_fail(err, PQ_ERR_DATA, "footer length %u is over this reader's limit of %u bytes", len,
                       (unsigned)PQ_MAX_FOOTER_BYTES);
    *footer_len = len;
    return PQ_OK;
}

// One SchemaElement, as decoded (strings point into the footer).
typedef struct schema_elem {
    const uint8_t *name;
    size_t name_len;
    int type;           // -1 when absent (a group)
    int type_length;
    int repetition;     // -1 when absent
    int num_children;   // -1 when absent
    int converted;      // -1 when absent
    int logical;        // set member id of LogicalType, 0 when absent
} schema_elem;

typedef struct meta_parser {
    thrift_reader r;
    uint64_t footer_start;  // file offset of the footer's first byte, for messages
    pq_meta *m;
    pq_error *err;
    int status;             // first non-Thrift error (PQ_OK while none)
    schema_elem *elems;
    uint32_t num_elems;
} meta_parser;

// Records a semantic error (first one wins) and stops the Thrift reader.
static void meta_fail(meta_parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void meta_fail(meta_parser *p, int code, const char *fmt, ...) {
    if (p->status != PQ_OK || thrift_failed(&p->r)) return;
    char msg[sizeof p->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pq_fail(p->err, code, "footer at byte %llu: %s", (unsigned long long)(p->footer_start + thrift_pos(&p->r)), msg);
    p->status = code;
    thrift_fail(&p->r, "stopped");
}

static void parse_logical_type(meta_parser *p, schema_elem *e) {
    thrift_reader *r = &p->r;
    int16_t last = 0;
    int type, id;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        e->logical = id; // a union: the one member present names the logical type
        thrift_skip(r, type);
    }
    thrift_struct_end(r);
}

static void parse_schema_elem(meta_parser *p, schema_elem *e) {
    thrift_reader *r = &p->r;
    *e = (schema_elem){.type = -1, .repetition = -1, .num_children = -1, .converted = -1};
    int16_t last = 0;
    int type, id;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_I32) e->type = thrift_i32(r);
        else if (id == 2 && type == THRIFT_I32) e->type_length = thrift_i32(r);
        else if (id == 3 && type == THRIFT_I32) e->repetition = thrift_i32(r);
        else if (id == 4 && type == THRIFT_BINARY) e->name_len = thrift_binary(r, &e->name);
        else if (id == 5 && type == THRIFT_I32) e->num_children = thrift_i32(r);
        else if (id == 6 && type == THRIFT_I32) e->converted = thrift_i32(r);
        else if (id == 10 && type == THRIFT_STRUCT) parse_logical_type(p, e);
        else thrift_skip(r, type);
    }
    thrift_struct_end(r);
}

// Appends the leaves under element *idx (depth-first, the column-chunk order) to m->columns.
static void add_leaves(meta_parser *p, uint32_t *idx, const char *parent, int def, int rep, int depth) {
    if (p->status || thrift_failed(&p->r)) return;
    if (*idx >= p->num_elems) {
        meta_fail(p, PQ_ERR_DATA, "schema: a group declares more children than there are schema elements");
        return;
    }
    if (depth > MAX_SCHEMA_DEPTH) {
        meta_fail(p, PQ_ERR_UNSUPPORTED, "schema nested more than %d levels deep", MAX_SCHEMA_DEPTH);
        return;
    }
    const schema_elem *e = &p->elems[(*idx)++];
    if (e->repetition == REP_OPTIONAL || e->repetition == REP_REPEATED) def++;
    if (e->repetition == REP_REPEATED) rep++;
    size_t plen = strlen(parent);
    char *name = malloc(plen + 1 + e->name_len + 1);
    if (!name) {
        meta_fail(p, PQ_ERR_NOMEM, "out of memory");
        return;
    }
    if (plen) {
        memcpy(name, parent, plen);
        name[plen++] = '.';
    }
    if (e->name_len) memcpy(name + plen, e->name, e->name_len); // an element may lack its name
    name[plen + e->name_len] = 0;
    if (e->num_children > 0) {
        for (int i = 0; i < e->num_children && !p->status && !thrift_failed(&p->r); i++)
            add_leaves(p, idx, name, def, rep, depth + 1);
        free(name);
        return;
    }
    if (e->type < 0) {
        free(name);
        meta_fail(p, PQ_ERR_DATA, "schema: element %u ('%.*s') has neither a type nor children", *idx - 1,
                  (int)(e->name_len > 64 ? 64 : e->name_len), (const char *)e->name);
        return;
    }
    pq_meta *m = p->m;
    pq_column *c = &m->columns[m->num_columns++]; // sized for every element: cannot overflow
    c->name = name;
    c->type = e->type;
    c->type_length = e->type_length;
    c->max_def = def;
    c->max_rep = rep;
    c->is_string = e->type == PQ_BYTE_ARRAY &&
                   (e->converted == CONVERTED_UTF8 || e->converted == CONVERTED_ENUM || e->converted == CONVERTED_JSON ||
                    e->logical == LOGICAL_STRING || e->logical == LOGICAL_ENUM || e->logical == LOGICAL_JSON);
}

static void parse_schema(meta_parser *p) {
    thrift_reader *r = &p->r;
    int et;
    uint32_t n = thrift_list(r, &et);
    if (thrift_failed(r)) return;
    if (et != THRIFT_STRUCT || n == 0) {
        meta_fail(p, PQ_ERR_DATA, "schema is not a non-empty list of SchemaElement");
        return;
    }
    if (p->elems) {
        meta_fail(p, PQ_ERR_DATA, "schema given twice");
        return;
    }
    p->elems = calloc(n, sizeof *p->elems);
    p->m->columns = calloc(n, sizeof *p->m->columns);
    if (!p->elems || !p->m->columns) {
        meta_fail(p, PQ_ERR_NOMEM, "out of memory");
        return;
    }
    p->num_elems = n;
    for (uint32_t i = 0; i < n && !thrift_failed(r); i++) parse_schema_elem(p, &p->elems[i]);
    if (thrift_failed(r)) return;
    // Element 0 is the root: its children are the top-level columns, and its own name is no part of
    // any column's path.
    uint32_t idx = 1;
    for (int i = 0; i < p->elems[0].num_children && !p->status && !thrift_failed(r); i++)
        add_leaves(p, &idx, "", 0, 0, 1);
    if (!p->status && idx != n)
        meta_fail(p, PQ_ERR_DATA, "schema has %u elements but the root's tree covers %u", n, idx);
}

// Checks that the path_in_schema list equals the dotted leaf name.
static void check_path(meta_parser *p, const pq_column *c, size_t rg, size_t col) {
    thrift_reader *r = &p->r;
    int et;
    uint32_t n = thrift_list(r, &et);
    if (thrift_failed(r)) return;
    if (n > 0 && et != THRIFT_BINARY) {
        meta_fail(p, PQ_ERR_DATA, "row group %zu, column %zu: path_in_schema is not a list of strings", rg, col);
        return;
    }
    const char *want = c->name;
    int ok = 1;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *s;
        size_t len = thrift_binary(r, &s);
        if (thrift_failed(r)) return;
        if (i > 0) ok = ok && *want == '.' && (want++, 1);
        ok = ok && strncmp(want, (const char *)s, len) == 0 && memchr(s, 0, len) == NULL;
        if (ok) want += len;
    }
    if (!ok || *want != 0 || n == 0)
        meta_fail(p, PQ_ERR_DATA, "row group %zu, column %zu: path_in_schema does not match schema column '%s'", rg,
                  col, c->name);
}

static void parse_column_meta(meta_parser *p, pq_chunk_info *ci, size_t rg, size_t col) {
    thrift_reader *r = &p->r;
    const pq_column *c = &p->m->columns[col];
    int16_t last = 0;
    int type, id;
    int64_t ptype = -1, codec = -1, num_values = -1, compressed = -1, uncompressed = 0, data_off = -1, dict_off = -1;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_I32) ptype = thrift_i32(r);
        else if (id == 3 && type == THRIFT_LIST) check_path(p, c, rg, col);
        else if (id == 4 && type == THRIFT_I32) codec = thrift_i32(r);
        else if (id == 5 && type == THRIFT_I64) num_values = thrift_i64(r);
        else if (id == 6 && type == THRIFT_I64) uncompressed = thrift_i64(r);
        else if (id == 7 && type == THRIFT_I64) compressed = thrift_i64(r);
        else if (id == 9 && type == THRIFT_I64) data_off = thrift_i64(r);
        else if (id == 11 && type == THRIFT_I64) dict_off = thrift_i64(r);
        else thrift_skip(r, type);
    }
    thrift_struct_end(r);
    if (thrift_failed(r)) return;
    if (ptype < 0 || codec < 0 || num_values < 0 || compressed <= 0 || data_off < 0) {
        meta_fail(p, PQ_ERR_DATA, "row group %zu, column '%s': column metadata lacks its type, codec, value count, "
                  "size or offset (or one is negative)", rg, c->name);
        return;
    }
    if (ptype != c->type) {
        meta_fail(p, PQ_ERR_DATA, "row group %zu, column '%s': chunk type %s differs from the schema's %s", rg,
                  c->name, pq_type_name((int)ptype), pq_type_name(c->type));
        return;
    }
    // The chunk starts at its dictionary page when it has one. Some writers store 0 for "none".
    uint64_t start = dict_off > 0 && dict_off < data_off ? (uint64_t)dict_off : (uint64_t)data_off;
    uint64_t footer_start = p->footer_start;
    if (start < 4 || start > footer_start || (uint64_t)compressed > footer_start - start) {
        meta_fail(p, PQ_ERR_DATA, "row group %zu, column '%s': chunk bytes [%llu, +%lld) lie outside the data "
                  "area [4, %llu) of the file", rg, c->name, (unsigned long long)start, (long long)compressed,
                  (unsigned long long)footer_start);
        return;
    }
    ci->offset = start;
    ci->size = (uint64_t)compressed;
    ci->num_values = (uint64_t)num_values;
    ci->uncompressed_size = uncompressed > 0 ? (uint64_t)uncompressed : 0;
    ci->codec = (int)codec;
}

static void parse_column_chunk(meta_parser *p, pq_chunk_info *ci, size_t rg, size_t col) {
    thrift_reader *r = &p->r;
    int16_t last = 0;
    int type, id, have_meta = 0;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_BINARY) {
            const uint8_t *path;
            if (thrift_binary(r, &path) > 0)
                meta_fail(p, PQ_ERR_UNSUPPORTED, "row group %zu, column %zu is stored in another file "
                          "(ColumnChunk.file_path): not supported", rg, col);
        } else if (id == 3 && type == THRIFT_STRUCT) {
            parse_column_meta(p, ci, rg, col);
            have_meta = 1;
        } else if (id == 8 || id == 9) {
            meta_fail(p, PQ_ERR_UNSUPPORTED, "row group %zu, column %zu is encrypted: not supported", rg, col);
        } else {
            thrift_skip(r, type);
        }
    }
    thrift_struct_end(r);
    if (!have_meta) meta_fail(p, PQ_ERR_DATA, "row group %zu, column %zu has no column metadata", rg, col);
}

static void parse_row_group(meta_parser *p, pq_row_group *g, size_t rg) {
    thrift_reader *r = &p->r;
    pq_meta *m = p->m;
    int16_t last = 0;
    int type, id, have_rows = 0, have_cols = 0;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 1 && type == THRIFT_LIST) {
            int et;
            uint32_t n = thrift_list(r, &et);
            if (thrift_failed(r)) break;
            if (n != m->num_columns || (n > 0 && et != THRIFT_STRUCT) || have_cols) {
                meta_fail(p, PQ_ERR_DATA, "row group %zu has %u column chunks, the schema has %zu columns", rg, n,
                          m->num_columns);
                break;
            }
            have_cols = 1;
            // Allocated now that the list header, bounded by the bytes left, vouches for the count.
            g->chunks = calloc(n ? n : 1, sizeof *g->chunks);
            if (!g->chunks) {
                meta_fail(p, PQ_ERR_NOMEM, "out of memory");
                break;
            }
            for (uint32_t i = 0; i < n && !thrift_failed(r); i++) parse_column_chunk(p, &g->chunks[i], rg, i);
        } else if (id == 3 && type == THRIFT_I64) {
            int64_t rows = thrift_i64(r);
            if (rows < 0) meta_fail(p, PQ_ERR_DATA, "row group %zu has a negative row count", rg);
            g->num_rows = (uint64_t)rows;
            have_rows = 1;
        } else {
            thrift_skip(r, type);
        }
    }
    thrift_struct_end(r);
    if (!thrift_failed(r) && (!have_rows || !have_cols))
        meta_fail(p, PQ_ERR_DATA, "row group %zu lacks its %s", rg, have_rows ? "column list" : "row count");
}

static void parse_row_groups(meta_parser *p) {
    thrift_reader *r = &p->r;
    pq_meta *m = p->m;
    int et;
    uint32_t n = thrift_list(r, &et);
    if (thrift_failed(r)) return;
    if (!p->elems) {
        // Writers emit fields in id order (schema = 2 before row_groups = 4); relying on it lets every
        // chunk be checked against its schema column while it is decoded.
        meta_fail(p, PQ_ERR_UNSUPPORTED, "row groups come before the schema in the footer");
        return;
    }
    if (m->row_groups || (n > 0 && et != THRIFT_STRUCT)) {
        meta_fail(p, PQ_ERR_DATA, "row_groups is not a list of RowGroup (or is given twice)");
        return;
    }
    m->row_groups = calloc(n ? n : 1, sizeof *m->row_groups);
    if (!m->row_groups) {
        meta_fail(p, PQ_ERR_NOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < n && !thrift_failed(r); i++) {
        m->num_row_groups = i + 1; // counted as they are allocated, so pq_meta_free frees exactly those
        parse_row_group(p, &m->row_groups[i], i);
    }
}

int pq_meta_parse(const uint8_t *footer, size_t footer_len, uint64_t file_size, pq_meta **out, pq_error *err) {
    *out = NULL;
    if (footer_len == 0 || footer_len > file_size || file_size - footer_len < 12)
        return pq_fail(err, PQ_ERR_DATA, "footer of %zu bytes does not fit in a file of %llu bytes", footer_len,
                       (unsigned long long)file_size);
    pq_meta *m = calloc(1, sizeof *m);
    if (!m) return pq_fail(err, PQ_ERR_NOMEM, "out of memory");
    m->file_size = file_size;
    meta_parser p = {.footer_start = file_size - 8 - footer_len, .m = m, .err = err};
    thrift_init(&p.r, footer, footer_len);
    thrift_reader *r = &p.r;
    int16_t last = 0;
    int type, id, have_rows = 0;
    int64_t num_rows = 0;
    const uint8_t *created_by = NULL;
    size_t created_by_len = 0;
    thrift_struct_begin(r);
    while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
        if (id == 2 && type == THRIFT_LIST) parse_schema(&p);
        else if (id == 3 && type == THRIFT_I64) num_rows = thrift_i64(r), have_rows = 1;
        else if (id == 4 && type == THRIFT_LIST) parse_row_groups(&p);
        else if (id == 6 && type == THRIFT_BINARY) created_by_len = thrift_binary(r, &created_by);
        else if (id == 8) meta_fail(&p, PQ_ERR_UNSUPPORTED, "encrypted Parquet (encryption_algorithm) is not supported");
        else thrift_skip(r, type);
    }
    thrift_struct_end(r);
    if (!p.status && thrift_failed(r))
        p.status = pq_fail(err, PQ_ERR_DATA, "footer is malformed at byte %llu of the file: %s (truncated or corrupt "
                           "file?)", (unsigned long long)(p.footer_start + r->err_pos), r->err);
    if (!p.status && (!p.elems || !m->row_groups || !have_rows))
        p.status = pq_fail(err, PQ_ERR_DATA, "footer lacks its %s", !p.elems ? "schema" : !have_rows ? "row count"
                                                                                                   : "row group list");
    if (!p.status) {
        uint64_t total = 0;
        for (size_t i = 0; i < m->num_row_groups; i++) {
            m->row_groups[i].first_row = total;
            total += m->row_groups[i].num_rows; // each < 2^63, so the sum of two cannot wrap below
            if (total < m->row_groups[i].num_rows || total > INT64_MAX) {
                p.status = pq_fail(err, PQ_ERR_DATA, "row counts of the row groups overflow");
                break;
            }
        }
        m->num_rows = total;
        if (!p.status && (num_rows < 0 || total != (uint64_t)num_rows))
            p.status = pq_fail(err, PQ_ERR_DATA, "footer says %lld rows, its row groups hold %llu", (long long)num_rows,
                               (unsigned long long)total);
    }
    if (!p.status) {
        m->created_by = malloc(created_by_len + 1);
        if (!m->created_by) p.status = pq_fail(err, PQ_ERR_NOMEM, "out of memory");
        else {
            if (created_by_len) memcpy(m->created_by, created_by, created_by_len);
            m->created_by[created_by_len] = 0;
        }
    }
    free(p.elems);
    if (p.status) {
        pq_meta_free(m);
        return p.status;
    }
    *out = m;
    return PQ_OK;
}

void pq_meta_free(pq_meta *m) {
    if (!m) return;
    for (size_t i = 0; i < m->num_columns; i++) free(m->columns[i].name);
    free(m->columns);
    for (size_t i = 0; i < m->num_row_groups; i++) free(m->row_groups[i].chunks);
    free(m->row_groups);
    free(m->created_by);
    free(m);
}

int pq_meta_find_column(const pq_meta *m, const char *name) {
    for (size_t i = 0; i < m->num_columns; i++)
        if (strcmp(m->columns[i].name, name) == 0) return (int)i;
    return -1;
}

int pq_column_check(const pq_meta *m, size_t col, pq_error *err) {
    if (col >= m->num_columns)
        return pq_fail(err, PQ_ERR_USAGE, "column index %zu out of range (%zu columns)", col, m->num_columns);
    const pq_column *c = &m->columns[col];
    if (c->max_rep > 0)
        return pq_fail(err, PQ_ERR_UNSUPPORTED, "column '%s' is repeated (a list): nested/repeated columns are not "
                       "supported", c->name);
    switch (c->type) {
    case PQ_BOOLEAN: case PQ_INT32: case PQ_INT64: case PQ_FLOAT: case PQ_DOUBLE: case PQ_BYTE_ARRAY:
        break;
    default:
        return pq_fail(err, PQ_ERR_UNSUPPORTED, "column '%s' has physical type %s, which this reader does not read",
                       c->name, pq_type_name(c->type));
    }
    for (size_t rg = 0; rg < m->num_row_groups; rg++) {
        int codec = m->row_groups[rg].chunks[col].codec;
        if (codec != PQ_UNCOMPRESSED && codec != PQ_SNAPPY && codec != PQ_GZIP && codec != PQ_ZSTD)
            return pq_fail(err, PQ_ERR_UNSUPPORTED, "row group %zu, column '%s': compression codec %s is not "
                           "supported (SNAPPY, ZSTD, GZIP and UNCOMPRESSED are)", rg, c->name, pq_codec_name(codec));
    }
    return PQ_OK;
}

int pq_chunk_range(const pq_meta *m, size_t rg, const char *name, uint64_t *offset, uint64_t *size, pq_error *err) {
    int col = pq_meta_find_column(m, name);
    if (col < 0) return pq_fail(err, PQ_ERR_USAGE, "no column named '%s'", name);
    if (rg >= m->num_row_groups)
        return pq_fail(err, PQ_ERR_USAGE, "row group %zu out of range (%zu row groups)", rg, m->num_row_groups);
    *offset = m->row_groups[rg].chunks[col].offset;
    *size = m->row_groups[rg].chunks[col].size;
    return PQ_OK;
}
