// parquet_codec.c: page decompression. Every codec must produce exactly the size the page header
// announces; a size that cannot come from the compressed bytes is refused before anything is
// allocated for it.
#include <snappy-c.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "parquet_internal.h"

// Deflate's best ratio is 1032:1 (a 258-byte match costs 2 bits); gzip adds a header and trailer.
#define GZIP_MAX_RATIO 1032u
_Static_assert(PQ_MAX_PAGE_BYTES <= UINT32_MAX, "gunzip() inflates a page in one call of at most 4 GiB");

int pq_codec_check_size(int codec, const uint8_t *in, size_t n, size_t out_size, pq_error *err) {
    switch (codec) {
    case PQ_UNCOMPRESSED:
        if (out_size != n)
            return pq_fail(err, PQ_ERR_DATA, "uncompressed page of %zu bytes claims %zu bytes", n, out_size);
        return PQ_OK;
    case PQ_SNAPPY: {
        // Snappy's stream begins with its decompressed length: it must agree with the page header.
        size_t len;
        if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK)
            return pq_fail(err, PQ_ERR_DATA, "snappy data has no valid length preamble");
        if (len != out_size)
            return pq_fail(err, PQ_ERR_DATA, "snappy data decompresses to %zu bytes, the page header says %zu",
                           len, out_size);
        return PQ_OK;
    }
    case PQ_GZIP:
        if ((uint64_t)out_size > (uint64_t)n * GZIP_MAX_RATIO)
            return pq_fail(err, PQ_ERR_DATA, "%zu gzip bytes cannot decompress to %zu bytes", n, out_size);
        return PQ_OK;
    case PQ_ZSTD: {
        // A single frame usually records its size; when it does, it must agree.
        unsigned long long fcs = ZSTD_getFrameContentSize(in, n);
        if (fcs == ZSTD_CONTENTSIZE_ERROR)
            return pq_fail(err, PQ_ERR_DATA, "zstd data does not start with a valid frame header");
        if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && ZSTD_findFrameCompressedSize(in, n) == n && fcs != out_size)
            return pq_fail(err, PQ_ERR_DATA, "zstd frame holds %llu bytes, the page header says %zu", fcs,
                           out_size);
        return PQ_OK;
    }
    default:
        return pq_fail(err, PQ_ERR_UNSUPPORTED, "compression codec %s is not supported (SNAPPY, ZSTD, GZIP and "
                       "UNCOMPRESSED are)", pq_codec_name(codec));
    }
}

static int gunzip(pq_codec_ctx *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t out_size, pq_error *err) {
    z_stream *z = ctx->zlib;
    if (!z) {
        z = calloc(1, sizeof *z);
        if (!z) return pq_fail(err, PQ_ERR_NOMEM, "out of memory");
        // 16 + MAX_WBITS: a gzip (RFC 1952) stream with its header, as Parquet's GZIP codec is.
        if (inflateInit2(z, 16 + MAX_WBITS) != Z_OK) {
            free(z);
            return pq_fail(err, PQ_ERR_NOMEM, "cannot initialise zlib");
        }
        ctx->zlib = z;
    } else {
        inflateReset(z);
    }
    // One call: zlib counts in uInt, and pages are capped below 4 GiB (static assertion above).
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)out_size;
    int rc = inflate(z, Z_FINISH);
    size_t out_left = z->avail_out;
    if (rc != Z_STREAM_END) {
        if (rc == Z_BUF_ERROR && out_left == 0)
            return pq_fail(err, PQ_ERR_DATA, "gzip data decompresses to more than the %zu bytes the page header "
                           "says", out_size);
        return pq_fail(err, PQ_ERR_DATA, "gzip data is corrupt or truncated (%s, after %zu bytes of output)",
                       z->msg ? z->msg : "unexpected end", out_size - out_left);
    }
    if (out_left != 0)
        return pq_fail(err, PQ_ERR_DATA, "gzip data decompresses to %zu bytes, the page header says %zu",
                       out_size - out_left, out_size);
    return PQ_OK;
}

int pq_decompress(pq_codec_ctx *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out, size_t out_size,
                  pq_error *err) {
    int rc = pq_codec_check_size(codec, in, n, out_size, err);
    if (rc) return rc;
    switch (codec) {
    case PQ_UNCOMPRESSED:
        memcpy(out, in, n);
        return PQ_OK;
    case PQ_SNAPPY: {
        size_t len = out_size;
        if (snappy_uncompress((const char *)in, n, (char *)out, &len) != SNAPPY_OK || len != out_size)
            return pq_fail(err, PQ_ERR_DATA, "snappy data is corrupt");
        return PQ_OK;
    }
    case PQ_GZIP:
        return gunzip(ctx, in, n, out, out_size, err);
    case PQ_ZSTD: {
        if (!ctx->zstd && !(ctx->zstd = ZSTD_createDCtx())) return pq_fail(err, PQ_ERR_NOMEM, "out of memory");
        size_t got = ZSTD_decompressDCtx(ctx->zstd, out, out_size, in, n);
        if (ZSTD_isError(got))
            return pq_fail(err, PQ_ERR_DATA, "zstd data is corrupt (%s)", ZSTD_getErrorName(got));
        if (got != out_size)
            return pq_fail(err, PQ_ERR_DATA, "zstd data decompresses to %zu bytes, the page header says %zu", got,
                           out_size);
        return PQ_OK;
    }
    }
    return pq_fail(err, PQ_ERR_UNSUPPORTED, "compression codec %s is not supported", pq_codec_name(codec));
}

void pq_codec_ctx_free(pq_codec_ctx *ctx) {
    if (ctx->zstd) ZSTD_freeDCtx(ctx->zstd);
    if (ctx->zlib) {
        inflateEnd(ctx->zlib);
        free(ctx->zlib);
    }
    ctx->zstd = ctx->zlib = NULL;
}
