// parquet.h: a small Parquet reader (no Arrow) for flat text datasets such as FineWeb-Edu
// (spec/data.md §1.2-1.3, §4).
//
// Layers, so that a streaming downloader can fetch only what it needs:
//   1. footer:  the last PQ_TRAILER_SIZE bytes give the footer length (pq_footer_length); the footer
//               bytes give the metadata (pq_meta_parse): schema, row groups, and for each row group and
//               column the byte range of its column chunk (pq_chunk_range).
//   2. chunk:   the bytes of one column chunk decode into one value per row (pq_column_decode).
//   3. file:    a local file (mmap) or a memory buffer does both for you (pq_file_*).
// A downloader with `--max-rows N` does two Range requests (trailer, then footer) and then one per
// column chunk of the row groups it needs.
//
// Reads: flat or nested-but-not-repeated columns; data pages v1 and v2; dictionary pages; encodings
// PLAIN, PLAIN_DICTIONARY/RLE_DICTIONARY, DELTA_LENGTH_BYTE_ARRAY (strings), DELTA_BINARY_PACKED
// (INT32/INT64), BYTE_STREAM_SPLIT (FLOAT/DOUBLE/INT32/INT64: DuckDB's V2 files use it), RLE (BOOLEAN);
// RLE/bit-packed levels; codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD; pyarrow's "dictionary pages, then
// PLAIN pages" inside one chunk. Physical types BOOLEAN, INT32, INT64, FLOAT, DOUBLE, BYTE_ARRAY.
// Everything else (LZO, BROTLI, LZ4, LZ4_RAW, DELTA_BYTE_ARRAY, legacy BIT_PACKED levels, INT96,
// FIXED_LEN_BYTE_ARRAY, repeated columns, encryption, external column files) is refused with
// PQ_ERR_UNSUPPORTED and a message naming it.
//
// The input is untrusted: every read is bounds-checked, Thrift nesting and list sizes are capped,
// decompressed sizes must match the page headers, and no allocation is sized by a header value alone
// (limits below). Functions never exit and never print: they return a PQ_* code and fill a pq_error
// whose message says what is wrong and where (row group, column, page, byte offset in the file), so
// a tool prints "FILE: message" and exits with pq_exit_code(rc).
#ifndef SCOUT_PARQUET_H
#define SCOUT_PARQUET_H

#include <stddef.h>
#include <stdint.h>

// Limits on what a header may make the reader allocate. A real file far exceeding them is
// unusual (pyarrow writes 1 MiB pages and 1000-row FineWeb row groups); -D overrides them (the
// fuzzer lowers them so it never spends its memory budget on one input).
#ifndef PQ_MAX_FOOTER_BYTES
#define PQ_MAX_FOOTER_BYTES (256u << 20)           // FineWeb-Edu's footers are about 3 MB
#endif
#ifndef PQ_MAX_PAGE_BYTES
#define PQ_MAX_PAGE_BYTES (512u << 20)             // one page, decompressed
#endif
#ifndef PQ_MAX_CHUNK_BYTES
#define PQ_MAX_CHUNK_BYTES (4ull << 30)            // all pages of one column chunk, decompressed
#endif
#ifndef PQ_MAX_ROWS_PER_ROW_GROUP
#define PQ_MAX_ROWS_PER_ROW_GROUP (1ull << 26)     // 67M rows: 1 GiB of pq_value
#endif

#define PQ_TRAILER_SIZE 8 // u32 LE footer length + "PAR1"

// Return codes (0 = success).
enum pq_status {
    PQ_OK = 0,
    PQ_ERR_DATA = -1,        // malformed, truncated or inconsistent file
    PQ_ERR_UNSUPPORTED = -2, // valid Parquet that this reader does not read (codec, encoding, type)
    PQ_ERR_IO = -3,          // cannot open, stat, map or read the file
    PQ_ERR_NOMEM = -4,       // out of memory
    PQ_ERR_USAGE = -5,       // caller error: no such column, row group index out of range
};

typedef struct pq_error {
    int code;       // the enum pq_status that was returned
    char msg[384];  // "row group 3, column 'text', page 2 at byte 123456: snappy data is corrupt"
} pq_error;

// The DESIGN.md exit code for a status: 3 (bad data, unsupported), 4 (I/O), 2 (usage), 1 (memory).
int pq_exit_code(int status);

// Physical types (parquet.thrift Type); PQ_TYPE_* values are the file's.
enum pq_type {
    PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_INT96 = 3,
    PQ_FLOAT = 4, PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6, PQ_FIXED_LEN_BYTE_ARRAY = 7,
};
enum pq_codec {
    PQ_UNCOMPRESSED = 0, PQ_SNAPPY = 1, PQ_GZIP = 2, PQ_LZO = 3,
    PQ_BROTLI = 4, PQ_LZ4 = 5, PQ_ZSTD = 6, PQ_LZ4_RAW = 7,
};
const char *pq_type_name(int type);   // "BYTE_ARRAY" ("an unknown physical type" out of range)
const char *pq_codec_name(int codec); // "SNAPPY" ("an unknown codec" out of range)
const char *pq_encoding_name(int encoding); // "RLE_DICTIONARY" (parquet.thrift Encoding)

// A leaf column of the schema (one per column chunk in each row group, in the same order).
typedef struct pq_column {
    char *name;         // dotted path from the root: "text", or "meta.url" inside a group
    int type;           // enum pq_type
    int type_length;    // FIXED_LEN_BYTE_ARRAY width, else 0
    int is_string;      // BYTE_ARRAY annotated as text (UTF8/STRING, ENUM, JSON): print as a JSON string
    int max_def;        // max definition level: 0 REQUIRED, 1 OPTIONAL, more when nested in groups
    int max_rep;        // max repetition level: > 0 means a repeated (list) column, which is refused
} pq_column;

// Where a column chunk's bytes are, and how they are stored.
typedef struct pq_chunk_info {
    uint64_t offset;            // byte range [offset, offset + size) in the file: all its pages,
    uint64_t size;              // the dictionary page included
    uint64_t num_values;        // values, nulls included (== the row group's rows for flat columns)
    uint64_t uncompressed_size; // total_uncompressed_size (headers included), for information
    int codec;                  // enum pq_codec
} pq_chunk_info;

typedef struct pq_row_group {
    uint64_t num_rows;
    uint64_t first_row;         // index in the file of this group's first row
    pq_chunk_info *chunks;      // [pq_meta.num_columns]
} pq_row_group;

typedef struct pq_meta {
    uint64_t file_size;         // bytes; every chunk range lies inside [4, file_size - 8 - footer)
    uint64_t num_rows;          // sum over row groups (checked against FileMetaData.num_rows)
    size_t num_columns;
    pq_column *columns;         // [num_columns] leaves, in column-chunk order
    size_t num_row_groups;
    pq_row_group *row_groups;   // [num_row_groups]
    char *created_by;           // writer, e.g. "parquet-cpp-arrow version 15.0.0"; "" when absent
} pq_meta;

// ---- 1. footer ----------------------------------------------------------------------------------
// trailer = the last PQ_TRAILER_SIZE bytes of a file of file_size bytes. Checks the magic and that
// the footer fits; sets *footer_len. The footer is bytes [file_size - 8 - len, file_size - 8).
int pq_footer_length(const uint8_t trailer[PQ_TRAILER_SIZE], uint64_t file_size, uint32_t *footer_len,
                     pq_error *err);
// Decodes FileMetaData from the footer bytes (exactly footer_len of them). *out is freed with
// pq_meta_free. file_size lets every chunk range be checked now, before anything is fetched.
int pq_meta_parse(const uint8_t *footer, size_t footer_len, uint64_t file_size, pq_meta **out,
                  pq_error *err);
void pq_meta_free(pq_meta *m);

// Column index of a leaf by dotted name, or -1.
int pq_meta_find_column(const pq_meta *m, const char *name);
// PQ_OK when pq_column_decode can read this column (its type, repetition, and the codec of every
// chunk); else PQ_ERR_UNSUPPORTED with the reason, so a tool can refuse before downloading anything.
int pq_column_check(const pq_meta *m, size_t col, pq_error *err);
// The byte range of the chunk of column `name` in row group rg (PQ_ERR_USAGE when either is absent).
int pq_chunk_range(const pq_meta *m, size_t rg, const char *name, uint64_t *offset, uint64_t *size,
                   pq_error *err);

// ---- 2. chunk -----------------------------------------------------------------------------------
// One decoded value. Which member is valid depends on the column's type: BYTE_ARRAY -> str/len,
// BOOLEAN -> boolean, INT32 -> i32, INT64 -> i64, FLOAT -> f32, DOUBLE -> f64.
typedef struct pq_value {
    union {
        const char *str;  // not NUL-terminated; may contain NUL bytes
        int64_t i64;
        int32_t i32;
        double f64;
        float f32;
        int boolean;
    };
    uint32_t len;         // bytes at str (BYTE_ARRAY only)
} pq_value;

// What the pages of the last decoded chunk were (diagnostics, and tests proving what a file holds).
typedef struct pq_page_stats {
    uint32_t data_v1, data_v2, dictionary, other; // page counts by type
    uint32_t encodings;       // bit (1 << encoding) for each value encoding of a data page
    uint32_t compressed;      // pages whose payload went through the codec
} pq_page_stats;

// The values of one column chunk, one per row of its row group, reusable across decodes (buffers are
// kept and grown). Iterate as
//     for (size_t i = 0; i < v.num_rows; i++)
//         if (!v.is_null[i]) use(rg.first_row + i, v.values[i].str, v.values[i].len);
// or with pq_column_each_string. String pointers point into the chunk bytes given to pq_column_decode
// (uncompressed pages) or into buffers owned here (decompressed pages): both must stay alive while
// the values are used. Memory: the chunk's decompressed pages plus 17 bytes per row.
typedef struct pq_column_values {
    size_t num_rows;
    pq_value *values;        // [num_rows]; meaningless where is_null
    uint8_t *is_null;        // [num_rows]: 1 for a null
    uint64_t null_count;
    int type;                // enum pq_type of the column
    pq_page_stats pages;
    struct pq_decoder *dec;  // private: page buffers, dictionary, scratch, decompression contexts
} pq_column_values;

void pq_column_values_init(pq_column_values *v);
void pq_column_values_free(pq_column_values *v);

// Decodes the chunk of column col in row group rg. chunk holds exactly the bytes of pq_chunk_range
// (chunk_size == pq_chunk_info.size). On error, out holds nothing usable.
int pq_column_decode(const pq_meta *m, size_t rg, size_t col, const uint8_t *chunk, size_t chunk_size,
                     pq_column_values *out, pq_error *err);

// Calls fn(ctx, row, str, len) for each non-null value of a decoded BYTE_ARRAY column, in row order;
// row is first_row + the index in the row group (pass pq_row_group.first_row for file-wide indices).
// Returns 0, or the first non-zero value fn returned (which stops the walk, e.g. for --max-rows).
typedef int (*pq_string_fn)(void *ctx, uint64_t row, const char *str, size_t len);
int pq_column_each_string(const pq_column_values *v, uint64_t first_row, pq_string_fn fn, void *ctx);

// Writes value i of v as JSON (a string literal with the escaping of jsonl_escape, a number, true,
// false or null; NaN and infinities become null) into out, which needs pq_value_json_max(v, i) bytes.
// Returns the bytes written.
size_t pq_value_json_max(const pq_column_values *v, size_t i);
size_t pq_value_to_json(const pq_column_values *v, size_t i, uint8_t *out);

// ---- 3. file ------------------------------------------------------------------------------------
typedef struct pq_file {
    pq_meta *meta;
    const uint8_t *data;     // the whole file (mapped or the caller's buffer)
    size_t size;
    void *map;               // mmap base when we mapped it, else NULL
    int fd;                  // -1 when reading from a buffer
} pq_file;

// Opens and maps a local file and decodes its footer. On error, nothing needs closing.
int pq_file_open(pq_file *f, const char *path, pq_error *err);
// The same over a buffer the caller keeps alive until pq_file_close.
int pq_file_open_buffer(pq_file *f, const uint8_t *data, size_t size, pq_error *err);
// Decodes column col of row group rg (the chunk's bytes come from the mapping: no copy).
int pq_file_read_column(const pq_file *f, size_t rg, size_t col, pq_column_values *out, pq_error *err);
void pq_file_close(pq_file *f);

#endif
