// parquet_internal.h: what the parquet_*.c modules share and the public API does not show.
//
//   parquet_meta.c      footer, FileMetaData, schema -> pq_meta
//   parquet_column.c    a column chunk's pages -> pq_column_values
//   parquet_encoding.c  RLE/bit-packed hybrid, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, PLAIN
//   parquet_codec.c     SNAPPY, GZIP, ZSTD page decompression
//   parquet_file.c      local files (mmap) and buffers
//   parquet_json.c      a decoded value as JSON
#ifndef SCOUT_PARQUET_INTERNAL_H
#define SCOUT_PARQUET_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parquet.h"

// Encoding enum of parquet.thrift.
enum pq_encoding {
    PQ_ENC_PLAIN = 0, PQ_ENC_PLAIN_DICTIONARY = 2, PQ_ENC_RLE = 3, PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6, PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8, PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

// Sets err (code and printf-style message) and returns code, so error paths are one line:
//     return pq_fail(err, PQ_ERR_DATA, "footer length %u exceeds the file", n);
int pq_fail(pq_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Prepends "prefix: " to err->msg (adds the row group / column / page context on the way up).
void pq_error_prefix(pq_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline uint32_t pq_load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t pq_load_u64le(const uint8_t *p) {
    return (uint64_t)pq_load_u32le(p) | (uint64_t)pq_load_u32le(p + 4) << 32;
}

// ---- parquet_encoding.c ------------------------------------------------------------------------
// Each decoder reads from in[0..n), writes `count` outputs, and returns PQ_OK, or PQ_ERR_DATA with
// err->msg saying what ran out or was out of range (the caller adds where). *used, when not NULL,
// receives the bytes consumed.

// RLE/bit-packed hybrid values of bit_width 0..32 (levels, dictionary indices, RLE booleans).
int pq_rle_decode(const uint8_t *in, size_t n, int bit_width, uint32_t *out, size_t count, pq_error *err);
// DELTA_BINARY_PACKED (64-bit arithmetic; INT32 callers truncate, which the spec's wrap-around makes
// exact). count must equal the encoded total value count.
int pq_delta_binary_decode(const uint8_t *in, size_t n, int64_t *out, size_t count, size_t *used,
                           pq_error *err);
// The number of values a DELTA_BINARY_PACKED header announces (to size the output).
int pq_delta_binary_count(const uint8_t *in, size_t n, uint64_t *count, pq_error *err);
// PLAIN values of a physical type into out[0..count).
int pq_plain_decode(int type, const uint8_t *in, size_t n, pq_value *out, size_t count, size_t *used,
                    pq_error *err);
// BYTE_STREAM_SPLIT values of FLOAT, DOUBLE, INT32 or INT64 (DuckDB's PARQUET_VERSION V2 floats).
int pq_byte_stream_split_decode(int type, const uint8_t *in, size_t n, pq_value *out, size_t count, pq_error *err);
// DELTA_LENGTH_BYTE_ARRAY strings (lengths scratch: count int64 supplied by the caller).
int pq_delta_length_decode(const uint8_t *in, size_t n, pq_value *out, size_t count, int64_t *lengths,
                           pq_error *err);

// ---- parquet_codec.c ---------------------------------------------------------------------------
typedef struct pq_codec_ctx {
    void *zstd;   // ZSTD_DCtx, created on first use
    void *zlib;   // z_stream, created on first use
} pq_codec_ctx;
// Decompresses in[0..n) into out[0..out_size) and checks it produced exactly out_size bytes.
// Checks that out_size is plausible for n before the caller allocates (pq_codec_check_size).
int pq_codec_check_size(int codec, const uint8_t *in, size_t n, size_t out_size, pq_error *err);
int pq_decompress(pq_codec_ctx *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out, size_t out_size,
                  pq_error *err);
void pq_codec_ctx_free(pq_codec_ctx *ctx);

#endif
