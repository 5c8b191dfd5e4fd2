// parquet_json.c: a decoded Parquet value as JSON, for `{"text": ..., "score": ...}` lines.
//
// Strings are written by jsonl_escape (jsonl.h): valid UTF-8 passes through, '"', '\\' and control
// characters are escaped (\n \t \r \b \f, else \u00XX), so every valid string round-trips, and each
// byte of invalid UTF-8 becomes U+FFFD, because JSON text must be UTF-8. Numbers are written with the
// fewest digits that read back to the same value (as JavaScript's JSON.stringify does); NaN and
// infinities, which JSON cannot express, become null.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonl.h"
#include "parquet_internal.h"

#define NUMBER_MAX 32 // "-1.2345678901234567e-308" and any int64 fit

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
        return jsonl_escape((const uint8_t *)x->str, x->len, out);
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
