// parquet-cat: the Parquet reader (src/parquet.h) on its own, for tests and benchmarks: Parquet files
// to JSONL on stdout, as `scout-fetch --parquet` will print them.
//
//   parquet-cat [--columns text,url,score] [--ranges] [--max-rows N] [--stats] FILE...
//
// --columns   columns to print, in order (default: text). A row whose first column is null is
//             skipped and counted; a null in another column prints as null.
// --ranges    read the way a downloader does: the 8-byte trailer, then the footer, then each needed
//             column chunk, each with one pread into its own buffer (pq_footer_length,
//             pq_meta_parse, pq_chunk_range, pq_column_decode). Default: map the file (pq_file_open).
// --max-rows  stop after N printed rows, reading only the row groups needed.
// --stats     on stderr, per column: rows, nulls, page types, value encodings, codec of the file.
// Errors: "parquet-cat: FILE: message" on stderr and the exit code of pq_exit_code (3 bad data).
// Built by tests/parquet.bats and scripts/bench-parquet.sh into build/tests/parquet-cat.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonl.h"
#include "parquet.h"

#define MAX_COLUMNS 64
#define OUT_FLUSH (1u << 20) // bytes buffered before a write

typedef struct out_buf {
    uint8_t *data;
    size_t len, cap;
} out_buf;

static void out_reserve(out_buf *o, size_t n) {
    if (o->len + n <= o->cap) return;
    size_t cap = o->cap ? o->cap : OUT_FLUSH * 2;
    while (cap < o->len + n) cap *= 2;
    o->data = realloc(o->data, cap);
    if (!o->data) {
        fprintf(stderr, "parquet-cat: out of memory\n");
        exit(1);
    }
    o->cap = cap;
}

static void out_flush(out_buf *o) {
    if (o->len && fwrite(o->data, 1, o->len, stdout) != o->len) {
        fprintf(stderr, "parquet-cat: write error: %s\n", strerror(errno));
        exit(4);
    }
    o->len = 0;
}

typedef struct options {
    const char *columns[MAX_COLUMNS];
    size_t ncolumns;
    int ranges, stats;
    uint64_t max_rows; // UINT64_MAX: all
} options;

// Reads [offset, offset + n) of fd into a new buffer (the downloader's Range request).
static uint8_t *read_range(int fd, uint64_t offset, uint64_t n, pq_error *err) {
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        err->code = PQ_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    for (uint64_t done = 0; done < n;) {
        ssize_t got = pread(fd, buf + done, n - done, (off_t)(offset + done));
        if (got <= 0) {
            err->code = PQ_ERR_IO;
            snprintf(err->msg, sizeof err->msg, "cannot read bytes [%llu, %llu): %s", (unsigned long long)offset,
                     (unsigned long long)(offset + n), got < 0 ? strerror(errno) : "unexpected end of file");
            free(buf);
            return NULL;
        }
        done += (uint64_t)got;
    }
    return buf;
}

// The footer the way a downloader gets it: two range reads.
static int meta_by_ranges(int fd, uint64_t size, pq_meta **m, pq_error *err) {
    if (size < PQ_TRAILER_SIZE) {
        err->code = PQ_ERR_DATA;
        snprintf(err->msg, sizeof err->msg, "not a Parquet file: %llu bytes", (unsigned long long)size);
        return err->code;
    }
    uint8_t *trailer = read_range(fd, size - PQ_TRAILER_SIZE, PQ_TRAILER_SIZE, err);
    if (!trailer) return err->code;
    uint32_t footer_len;
    int rc = pq_footer_length(trailer, size, &footer_len, err);
    free(trailer);
    if (rc) return rc;
    uint8_t *footer = read_range(fd, size - PQ_TRAILER_SIZE - footer_len, footer_len, err);
    if (!footer) return err->code;
    rc = pq_meta_parse(footer, footer_len, size, m, err);
    free(footer);
    return rc;
}

static void print_stats(const pq_meta *m, const char *name, const pq_column_values *v, size_t rows, uint64_t nulls,
                        const pq_page_stats *st) {
    int col = pq_meta_find_column(m, name);
    fprintf(stderr, "%s: type=%s rows=%zu nulls=%llu pages_v1=%u pages_v2=%u dictionary_pages=%u compressed_pages=%u "
            "codec=%s encodings=", name, pq_type_name(v->type), rows, (unsigned long long)nulls, st->data_v1,
            st->data_v2, st->dictionary, st->compressed,
            m->num_row_groups ? pq_codec_name(m->row_groups[0].chunks[col].codec) : "none");
    const char *sep = "";
    for (int e = 0; e < 32; e++)
        if (st->encodings & (1u << e)) {
            fprintf(stderr, "%s%s", sep, pq_encoding_name(e));
            sep = ",";
        }
    fprintf(stderr, " max_def=%d row_groups=%zu\n", m->columns[col].max_def, m->num_row_groups);
}

// Prints one file; returns a PQ_* status with err filled.
static int cat_file(const char *path, const options *o, out_buf *out, uint64_t *printed, pq_error *err) {
    pq_file f = {.fd = -1};
    pq_meta *m = NULL;
    int fd = -1, rc;
    if (o->ranges) {
        fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            err->code = PQ_ERR_IO;
            snprintf(err->msg, sizeof err->msg, "cannot open: %s", strerror(errno));
            if (fd >= 0) close(fd);
            return err->code;
        }
        rc = meta_by_ranges(fd, (uint64_t)st.st_size, &m, err);
    } else {
        rc = pq_file_open(&f, path, err);
        m = f.meta;
    }
    int cols[MAX_COLUMNS];
    pq_column_values vals[MAX_COLUMNS];
    uint8_t *chunks[MAX_COLUMNS] = {0};
    uint8_t *keys[MAX_COLUMNS] = {0}; // "\"name\":" as JSON, per column
    size_t key_len[MAX_COLUMNS];
    size_t stat_rows[MAX_COLUMNS] = {0};
    uint64_t stat_nulls[MAX_COLUMNS] = {0};
    pq_page_stats stats[MAX_COLUMNS];
    memset(stats, 0, sizeof stats);
    for (size_t c = 0; c < o->ncolumns; c++) pq_column_values_init(&vals[c]);
    for (size_t c = 0; c < o->ncolumns && !rc; c++) {
        cols[c] = pq_meta_find_column(m, o->columns[c]);
        if (cols[c] < 0) {
            err->code = rc = PQ_ERR_USAGE;
            snprintf(err->msg, sizeof err->msg, "no column named '%s'", o->columns[c]);
            break;
        }
        rc = pq_column_check(m, (size_t)cols[c], err);
        size_t n = strlen(o->columns[c]);
        keys[c] = malloc(JSONL_ESCAPED_MAX(n) + 1);
        key_len[c] = jsonl_escape((const uint8_t *)o->columns[c], n, keys[c]);
        keys[c][key_len[c]++] = ':';
    }
    uint64_t skipped_null = 0;
    for (size_t rg = 0; !rc && m && rg < m->num_row_groups && *printed < o->max_rows; rg++) {
        for (size_t c = 0; c < o->ncolumns && !rc; c++) {
            size_t col = (size_t)cols[c];
            if (o->ranges) {
                uint64_t off, len;
                rc = pq_chunk_range(m, rg, o->columns[c], &off, &len, err);
                free(chunks[c]);
                chunks[c] = rc ? NULL : read_range(fd, off, len, err);
                if (!rc && !chunks[c]) rc = err->code;
                if (!rc) rc = pq_column_decode(m, rg, col, chunks[c], (size_t)len, &vals[c], err);
            } else {
                rc = pq_file_read_column(&f, rg, col, &vals[c], err);
            }
            if (rc) break;
            stat_rows[c] += vals[c].num_rows;
            stat_nulls[c] += vals[c].null_count;
            pq_page_stats *s = &stats[c], *p = &vals[c].pages;
            s->data_v1 += p->data_v1, s->data_v2 += p->data_v2, s->dictionary += p->dictionary;
            s->other += p->other, s->compressed += p->compressed, s->encodings |= p->encodings;
        }
        if (rc) break;
        size_t rows = (size_t)m->row_groups[rg].num_rows;
        for (size_t i = 0; i < rows && *printed < o->max_rows; i++) {
            if (vals[0].is_null[i]) {
                skipped_null++;
                continue;
            }
            out_reserve(out, 4);
            out->data[out->len++] = '{';
            for (size_t c = 0; c < o->ncolumns; c++) {
                out_reserve(out, key_len[c] + pq_value_json_max(&vals[c], i) + 2);
                if (c) out->data[out->len++] = ',';
                memcpy(out->data + out->len, keys[c], key_len[c]);
                out->len += key_len[c];
                out->len += pq_value_to_json(&vals[c], i, out->data + out->len);
            }
            out->data[out->len++] = '}';
            out->data[out->len++] = '\n';
            if (out->len >= OUT_FLUSH) out_flush(out);
            (*printed)++;
        }
    }
    if (!rc && o->stats) {
        for (size_t c = 0; c < o->ncolumns; c++)
            print_stats(m, o->columns[c], &vals[c], stat_rows[c], stat_nulls[c], &stats[c]);
        fprintf(stderr, "skipped_null_rows=%llu\n", (unsigned long long)skipped_null);
    }
    for (size_t c = 0; c < o->ncolumns; c++) {
        pq_column_values_free(&vals[c]);
        free(chunks[c]);
        free(keys[c]);
    }
    if (o->ranges) {
        pq_meta_free(m);
        close(fd);
    } else if (!rc || f.meta) {
        pq_file_close(&f);
    }
    return rc;
}

int main(int argc, char **argv) {
    options o = {.columns = {"text"}, .ncolumns = 1, .max_rows = UINT64_MAX};
    int i = 1;
    char *colspec = NULL;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--ranges")) o.ranges = 1;
        else if (!strcmp(argv[i], "--stats")) o.stats = 1;
        else if (!strcmp(argv[i], "--columns") && i + 1 < argc) colspec = argv[++i];
        else if (!strcmp(argv[i], "--max-rows") && i + 1 < argc) o.max_rows = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: parquet-cat [--columns a,b] [--ranges] [--max-rows N] [--stats] FILE...\n");
            return 2;
        }
    }
    if (colspec) {
        o.ncolumns = 0;
        for (char *s = strtok(colspec, ","); s && o.ncolumns < MAX_COLUMNS; s = strtok(NULL, ","))
            o.columns[o.ncolumns++] = s;
    }
    if (i >= argc || o.ncolumns == 0) {
        fprintf(stderr, "usage: parquet-cat [--columns a,b] [--ranges] [--max-rows N] [--stats] FILE...\n");
        return 2;
    }
    out_buf out = {0};
    uint64_t printed = 0;
    for (; i < argc; i++) {
        pq_error err = {0};
        int rc = cat_file(argv[i], &o, &out, &printed, &err);
        if (rc) {
            out_flush(&out);
            free(out.data);
            fprintf(stderr, "parquet-cat: %s: %s\n", argv[i], err.msg);
            return pq_exit_code(rc);
        }
    }
    out_flush(&out);
    free(out.data);
    return 0;
}
