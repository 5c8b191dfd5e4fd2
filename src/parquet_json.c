// parquet_json.c: a decoded Parquet value as JSON, for `{"text": ..., "score": ...}` lines.
//
// Strings are written exactly as jsonl_escape (jsonl.h) writes them: valid UTF-8 passes through, '"',
// '\\' and control characters are escaped (\n \t \r \b \f, else \u00XX), so every valid string
// round-trips, and each byte of invalid UTF-8 becomes U+FFFD, because JSON text must be UTF-8. This
// copy adds a 16-bytes-at-a-time path for runs of plain ASCII, which is most of a web document:
// byte-at-a-time escaping alone ran at about 375 MB/s and was half of Parquet-to-JSONL time.
// tests/unit/test_parquet.c checks both give the same bytes. Numbers are written with the fewest digits that read back to the
// same value (as JavaScript's JSON.stringify does); NaN and infinities, which JSON cannot express,
// become null.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "jsonl.h"
#include "utf8.h"
#include "parquet_internal.h"

#define NUMBER_MAX 32 // "-1.2345678901234567e-308" and any int64 fit

// s[0..n) as a JSON string literal into out (room for JSONL_ESCAPED_MAX(n) bytes); returns the length.
static size_t escape_string(const uint8_t *s, size_t n, uint8_t *out) {
    static const char hex[] = "0123456789abcdef";
    uint8_t *o = out;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
#ifdef __SSE2__
        // 16 bytes at a time until one needs attention: a signed compare below 0x20 catches control
        // characters and every byte >= 0x80 (negative as int8), then '"' and '\\'. Each block is stored
        // before it is checked; out has room, as JSONL_ESCAPED_MAX leaves 6 bytes per input byte.
        const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i special = _mm_or_si128(_mm_cmplt_epi8(v, space),
                                           _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
            _mm_storeu_si128((__m128i *)o, v);
            unsigned mask = (unsigned)_mm_movemask_epi8(special);
            if (mask) {
                unsigned k = (unsigned)__builtin_ctz(mask);
                o += k;
                i += k;
                break;
            }
            o += 16;
            i += 16;
        }
        if (i >= n) break;
#endif
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\t': *o++ = 't'; break;
            case '\r': *o++ = 'r'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                *o++ = 'u', *o++ = '0', *o++ = '0';
                *o++ = (uint8_t)hex[c >> 4], *o++ = (uint8_t)hex[c & 15];
            }
            i++;
            continue;
        }
        uint32_t cp;
        int len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) { // a byte that does not start a valid character: U+FFFD
            *o++ = 0xEF, *o++ = 0xBF, *o++ = 0xBD;
            i++;
            continue;
        }
        memcpy(o, s + i, (size_t)len);
        o += len;
        i += (size_t)len;
    }
    *o++ = '"';
    return (size_t)(o - out);
}

size_t pq_value_json_max(const pq_column_values *v, size_t i) {
    if (v->is_null[i] || v->type != PQ_BYTE_ARRAY) return NUMBER_MAX;
    return JSONL_ESCAPED_MAX(v->values[i].len);
}

// The shortest of %.{min..max}g that parses back to x.
static size_t shortest_double(double x, uint8_t *out) {
    char *s = (char *)out;
    int len = 0;
    for (int digits = 15; digits <= 17; digits++) {
        len = snprintf(s, NUMBER_MAX, "%.*g", digits, x);
        if (strtod(s, NULL) == x) break;
    }
    return (size_t)len;
}

static size_t shortest_float(float x, uint8_t *out) {
    char *s = (char *)out;
    int len = 0;
    for (int digits = 6; digits <= 9; digits++) {
        len = snprintf(s, NUMBER_MAX, "%.*g", digits, (double)x);
        if (strtof(s, NULL) == x) break;
    }
    return (size_t)len;
}

size_t pq_value_to_json(const pq_column_values *v, size_t i, uint8_t *out) {
    const pq_value *x = &v->values[i];
    if (v->is_null[i]) {
        memcpy(out, "null", 4);
        return 4;
    }
    switch (v->type) {
    case PQ_BYTE_ARRAY:
        return escape_string((const uint8_t *)x->str, x->len, out);
    case PQ_BOOLEAN:
        memcpy(out, x->boolean ? "true" : "false", x->boolean ? 4 : 5);
        return x->boolean ? 4 : 5;
    case PQ_INT32:
        return (size_t)snprintf((char *)out, NUMBER_MAX, "%d", x->i32);
    case PQ_INT64:
        return (size_t)snprintf((char *)out, NUMBER_MAX, "%lld", (long long)x->i64);
    case PQ_FLOAT:
        if (!isfinite(x->f32)) break;
        return shortest_float(x->f32, out);
    case PQ_DOUBLE:
        if (!isfinite(x->f64)) break;
        return shortest_double(x->f64, out);
    }
    memcpy(out, "null", 4);
    return 4;
}
