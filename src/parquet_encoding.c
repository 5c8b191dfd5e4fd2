// parquet_encoding.c: value and level encodings (parquet-format Encodings.md; spec/data.md §4.5).
// Every read is checked against the end of its buffer; nothing here allocates.
#include "parquet_internal.h"

// ULEB128 of at most 64 bits at in[*pos..n). Returns 0 and fails when it runs out or overflows.
static int read_uleb(const uint8_t *in, size_t n, size_t *pos, uint64_t *v, pq_error *err, const char *what) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= n) return pq_fail(err, PQ_ERR_DATA, "%s: truncated varint", what);
        uint8_t b = in[(*pos)++];
        if (shift == 63 && b > 1) break;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return PQ_OK;
        }
    }
    return pq_fail(err, PQ_ERR_DATA, "%s: varint longer than 64 bits", what);
}

// Up to 8 little-endian bytes at p, of which only `avail` exist (the rest read as zero).
static inline uint64_t load_le_upto8(const uint8_t *p, size_t avail) {
    if (avail >= 8) return pq_load_u64le(p);
    uint64_t v = 0;
    for (size_t i = 0; i < avail; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

// Value i of a little-endian, LSB-first bit-packed array of width bw (0..64) over in[0..n).
// The caller has checked the value's own bits lie inside the buffer.
static inline uint64_t unpack_one(const uint8_t *in, size_t n, int bw, size_t i) {
    if (bw == 0) return 0;
    size_t bit = i * (size_t)bw, byte = bit >> 3;
    unsigned shift = bit & 7;
    uint64_t v = load_le_upto8(in + byte, n - byte) >> shift;
    // A 57..64-bit value starting mid-byte spills into a 9th byte.
    if (shift + (unsigned)bw > 64) v |= (uint64_t)in[byte + 8] << (64 - shift);
    return bw == 64 ? v : v & ((UINT64_C(1) << bw) - 1);
}

int pq_rle_decode(const uint8_t *in, size_t n, int bw, uint32_t *out, size_t count, pq_error *err) {
    if (bw < 0 || bw > 32) return pq_fail(err, PQ_ERR_DATA, "RLE bit width %d is over 32", bw);
    size_t pos = 0, done = 0, value_bytes = ((size_t)bw + 7) / 8;
    while (done < count) {
        uint64_t h;
        if (read_uleb(in, n, &pos, &h, err, "RLE/bit-packed run header"))
            return pq_fail(err, PQ_ERR_DATA, "RLE/bit-packed data ends after %zu of %zu values", done, count);
        size_t want = count - done;
        if (h & 1) { // bit-packed: (h >> 1) groups of 8 values, bw bytes per group
            uint64_t values = (h >> 1) > SIZE_MAX / 8 ? SIZE_MAX : (h >> 1) * 8;
            size_t take = values < want ? (size_t)values : want;
            size_t need_bytes = (take * (size_t)bw + 7) / 8;
            if (need_bytes > n - pos)
                return pq_fail(err, PQ_ERR_DATA, "bit-packed run needs %zu bytes, %zu left", need_bytes, n - pos);
            const uint8_t *p = in + pos;
            size_t avail = n - pos;
            if (bw == 1) { // definition levels of OPTIONAL columns: the common case
                for (size_t i = 0; i < take; i++) out[done + i] = (p[i >> 3] >> (i & 7)) & 1;
            } else {
                for (size_t i = 0; i < take; i++) out[done + i] = (uint32_t)unpack_one(p, avail, bw, i);
            }
            // The run's full byte length, though a writer may stop the last run early.
            uint64_t run_bytes = (h >> 1) * (uint64_t)bw;
            pos += run_bytes < avail ? (size_t)run_bytes : avail;
            done += take;
        } else { // RLE: (h >> 1) copies of one value stored in ceil(bw / 8) bytes
            if (value_bytes > n - pos)
                return pq_fail(err, PQ_ERR_DATA, "RLE run value needs %zu bytes, %zu left", value_bytes, n - pos);
            uint32_t v = (uint32_t)load_le_upto8(in + pos, value_bytes);
            pos += value_bytes;
            uint64_t run = h >> 1;
            size_t take = run < want ? (size_t)run : want;
            for (size_t i = 0; i < take; i++) out[done + i] = v;
            done += take;
        }
    }
    return PQ_OK;
}

// DELTA_BINARY_PACKED header (Encodings.md): block size, miniblocks per block, value count, first
// value (zigzag).
typedef struct delta_header {
    uint64_t block_size, miniblocks, total;
    int64_t first;
    size_t values_per_miniblock;
} delta_header;

static int read_delta_header(const uint8_t *in, size_t n, size_t *pos, delta_header *h, pq_error *err) {
    uint64_t first;
    const char *what = "DELTA_BINARY_PACKED header";
    if (read_uleb(in, n, pos, &h->block_size, err, what) || read_uleb(in, n, pos, &h->miniblocks, err, what) ||
        read_uleb(in, n, pos, &h->total, err, what) || read_uleb(in, n, pos, &first, err, what))
        return PQ_ERR_DATA;
    h->first = (int64_t)(first >> 1) ^ -(int64_t)(first & 1);
    // The spec asks for block sizes that are multiples of 128 and miniblocks of multiples of 32
    // values; accept any whole number of bytes per miniblock (multiples of 8 values), within a cap
    // that keeps the arithmetic below far from overflow.
    if (h->block_size == 0 || h->block_size > (1u << 20) || h->miniblocks == 0 ||
        h->miniblocks > h->block_size || h->block_size % h->miniblocks != 0 ||
        (h->block_size / h->miniblocks) % 8 != 0)
        return pq_fail(err, PQ_ERR_DATA, "DELTA_BINARY_PACKED block of %llu values in %llu miniblocks is invalid",
                       (unsigned long long)h->block_size, (unsigned long long)h->miniblocks);
    h->values_per_miniblock = (size_t)(h->block_size / h->miniblocks);
    return PQ_OK;
}

int pq_delta_binary_count(const uint8_t *in, size_t n, uint64_t *count, pq_error *err) {
    size_t pos = 0;
    delta_header h;
    if (read_delta_header(in, n, &pos, &h, err)) return PQ_ERR_DATA;
    *count = h.total;
    return PQ_OK;
}

int pq_delta_binary_decode(const uint8_t *in, size_t n, int64_t *out, size_t count, size_t *used,
                           pq_error *err) {
    size_t pos = 0;
    delta_header h;
    if (read_delta_header(in, n, &pos, &h, err)) return PQ_ERR_DATA;
    if (h.total != count)
        return pq_fail(err, PQ_ERR_DATA, "DELTA_BINARY_PACKED holds %llu values where %zu are expected",
                       (unsigned long long)h.total, count);
    if (count == 0) {
        if (used) *used = pos;
        return PQ_OK;
    }
    // Deltas wrap around (two's complement), so the arithmetic is unsigned.
    uint64_t prev = (uint64_t)h.first;
    out[0] = h.first;
    size_t done = 1;
    while (done < count) {
        uint64_t zz;
        if (read_uleb(in, n, &pos, &zz, err, "DELTA_BINARY_PACKED block")) return PQ_ERR_DATA;
        uint64_t min_delta = (uint64_t)((int64_t)(zz >> 1) ^ -(int64_t)(zz & 1));
        if (h.miniblocks > n - pos)
            return pq_fail(err, PQ_ERR_DATA, "DELTA_BINARY_PACKED bit widths run past the data");
        const uint8_t *widths = in + pos;
        pos += h.miniblocks;
        // Miniblocks after the last value have a width byte but no body.
        for (size_t m = 0; m < h.miniblocks && done < count; m++) {
            int bw = widths[m];
            if (bw > 64) return pq_fail(err, PQ_ERR_DATA, "DELTA_BINARY_PACKED bit width %d is over 64", bw);
            size_t body = h.values_per_miniblock / 8 * (size_t)bw;
            size_t take = count - done < h.values_per_miniblock ? count - done : h.values_per_miniblock;
            size_t need = (take * (size_t)bw + 7) / 8;
            if (need > n - pos)
                return pq_fail(err, PQ_ERR_DATA, "DELTA_BINARY_PACKED miniblock needs %zu bytes, %zu left", need,
                               n - pos);
            const uint8_t *p = in + pos;
            size_t avail = n - pos;
            for (size_t i = 0; i < take; i++) {
                prev += min_delta + unpack_one(p, avail, bw, i);
                out[done + i] = (int64_t)prev;
            }
            done += take;
            // The last miniblock is padded to its full size, though a writer may stop early.
            pos += body < avail ? body : avail;
        }
    }
    if (used) *used = pos;
    return PQ_OK;
}

int pq_plain_decode(int type, const uint8_t *in, size_t n, pq_value *out, size_t count, size_t *used,
                    pq_error *err) {
    size_t width = 0;
    switch (type) {
    case PQ_BYTE_ARRAY: {
        const uint8_t *p = in, *end = in + n;
        for (size_t i = 0; i < count; i++) {
            if (end - p < 4) return pq_fail(err, PQ_ERR_DATA, "PLAIN string %zu of %zu: length runs past the data", i, count);
            uint32_t len = pq_load_u32le(p);
            p += 4;
            if (len > (size_t)(end - p))
                return pq_fail(err, PQ_ERR_DATA, "PLAIN string %zu of %zu: %u bytes, only %zu left", i, count, len,
                               (size_t)(end - p));
            out[i].str = (const char *)p;
            out[i].len = len;
            p += len;
        }
        if (used) *used = (size_t)(p - in);
        return PQ_OK;
    }
    case PQ_BOOLEAN: // bit-packed, LSB first
        if (count > (uint64_t)n * 8)
            return pq_fail(err, PQ_ERR_DATA, "PLAIN booleans: %zu values need %zu bytes, %zu left", count,
                           (count + 7) / 8, n);
        for (size_t i = 0; i < count; i++) out[i].boolean = (in[i >> 3] >> (i & 7)) & 1;
        if (used) *used = (count + 7) / 8;
        return PQ_OK;
    case PQ_INT32:
    case PQ_FLOAT:
        width = 4;
        break;
    case PQ_INT64:
    case PQ_DOUBLE:
        width = 8;
        break;
    default:
        return pq_fail(err, PQ_ERR_UNSUPPORTED, "PLAIN values of type %s are not supported", pq_type_name(type));
    }
    if (count > n / width)
        return pq_fail(err, PQ_ERR_DATA, "PLAIN %s: %zu values need %zu bytes, %zu left", pq_type_name(type), count,
                       count * width, n);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = in + i * width;
        out[i].len = 0;
        if (width == 4) {
            uint32_t u = pq_load_u32le(p);
            memcpy(type == PQ_INT32 ? (void *)&out[i].i32 : (void *)&out[i].f32, &u, 4);
        } else {
            uint64_t u = pq_load_u64le(p);
            memcpy(type == PQ_INT64 ? (void *)&out[i].i64 : (void *)&out[i].f64, &u, 8);
        }
    }
    if (used) *used = count * width;
    return PQ_OK;
}

int pq_byte_stream_split_decode(int type, const uint8_t *in, size_t n, pq_value *out, size_t count, pq_error *err) {
    size_t width = type == PQ_FLOAT || type == PQ_INT32 ? 4 : type == PQ_DOUBLE || type == PQ_INT64 ? 8 : 0;
    if (!width)
        return pq_fail(err, PQ_ERR_UNSUPPORTED, "BYTE_STREAM_SPLIT values of type %s are not supported",
                       pq_type_name(type));
    if (count > n / width)
        return pq_fail(err, PQ_ERR_DATA, "BYTE_STREAM_SPLIT: %zu values need %zu bytes, %zu left", count,
                       count * width, n);
    // Byte b of value i is in stream b: in[b * count + i].
    for (size_t i = 0; i < count; i++) {
        uint8_t bytes[8];
        for (size_t b = 0; b < width; b++) bytes[b] = in[b * count + i];
        out[i].len = 0;
        if (width == 4) memcpy(type == PQ_INT32 ? (void *)&out[i].i32 : (void *)&out[i].f32, bytes, 4);
        else memcpy(type == PQ_INT64 ? (void *)&out[i].i64 : (void *)&out[i].f64, bytes, 8);
    }
    return PQ_OK;
}

int pq_delta_length_decode(const uint8_t *in, size_t n, pq_value *out, size_t count, int64_t *lengths,
                           pq_error *err) {
    size_t pos;
    if (pq_delta_binary_decode(in, n, lengths, count, &pos, err)) {
        pq_error_prefix(err, "DELTA_LENGTH_BYTE_ARRAY lengths");
        return PQ_ERR_DATA;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t len = lengths[i];
        if (len < 0 || (uint64_t)len > n - pos)
            return pq_fail(err, PQ_ERR_DATA, "DELTA_LENGTH_BYTE_ARRAY string %zu of %zu: length %lld with %zu bytes "
                           "left", i, count, (long long)len, n - pos);
        out[i].str = (const char *)in + pos;
        out[i].len = (uint32_t)len;
        pos += (size_t)len;
    }
    return PQ_OK;
}
