// parquet_error.c: error messages of the Parquet reader and the names they use.
#include <stdio.h>

#include "exitcode.h"
#include "parquet_internal.h"

int pq_fail(pq_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

void pq_error_prefix(pq_error *err, const char *fmt, ...) {
    char prefix[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix) + 2, cap = sizeof err->msg;
    if (plen >= cap) return;
    // Shift the message right (cut at the end if it no longer fits), then write "prefix: " before it.
    size_t mlen = strnlen(err->msg, cap - 1);
    if (mlen > cap - 1 - plen) mlen = cap - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    err->msg[plen + mlen] = 0;
    memcpy(err->msg, prefix, plen - 2);
    memcpy(err->msg + plen - 2, ": ", 2);
}

int pq_exit_code(int status) {
    switch (status) {
    case PQ_OK: return SCOUT_EXIT_OK;
    case PQ_ERR_DATA:
    case PQ_ERR_UNSUPPORTED: return SCOUT_EXIT_DATA;
    case PQ_ERR_IO: return SCOUT_EXIT_IO;
    case PQ_ERR_USAGE: return SCOUT_EXIT_USAGE;
    default: return SCOUT_EXIT_FAIL;
    }
}

const char *pq_type_name(int type) {
    static const char *const names[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
                                        "FIXED_LEN_BYTE_ARRAY"};
    return type >= 0 && type < (int)(sizeof names / sizeof *names) ? names[type] : "an unknown physical type";
}

const char *pq_codec_name(int codec) {
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < (int)(sizeof names / sizeof *names) ? names[codec] : "an unknown codec";
}

const char *pq_encoding_name(int encoding) {
    static const char *const names[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
                                        "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
                                        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return encoding >= 0 && encoding < (int)(sizeof names / sizeof *names) ? names[encoding]
                                                                           : "an unknown encoding";
}
