// thrift.c: Thrift compact protocol reader (see thrift.h).
#include "thrift.h"

void thrift_init(thrift_reader *r, const uint8_t *data, size_t n) {
    r->begin = r->p = data;
    r->end = data + n;
    r->depth = 0;
    r->err = NULL;
    r->err_pos = 0;
}

void thrift_fail(thrift_reader *r, const char *why) {
    if (!r->err) {
        r->err = why;
        r->err_pos = (size_t)(r->p - r->begin);
    }
    r->p = r->end;
}

static uint8_t read_byte(thrift_reader *r) {
    if (r->p >= r->end) {
        thrift_fail(r, "truncated Thrift data");
        return 0;
    }
    return *r->p++;
}

uint64_t thrift_varint(thrift_reader *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = read_byte(r);
        if (r->err) return 0;
        // The 10th byte may only carry bit 63.
        if (shift == 63 && b > 1) break;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
    thrift_fail(r, "Thrift varint longer than 64 bits");
    return 0;
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

int64_t thrift_i64(thrift_reader *r) { return unzigzag(thrift_varint(r)); }

int32_t thrift_i32(thrift_reader *r) {
    int64_t v = thrift_i64(r);
    if (v < INT32_MIN || v > INT32_MAX) {
        thrift_fail(r, "Thrift i32 out of range");
        return 0;
    }
    return (int32_t)v;
}

size_t thrift_binary(thrift_reader *r, const uint8_t **data) {
    uint64_t n = thrift_varint(r);
    *data = r->p;
    if (r->err) return 0;
    if (n > (uint64_t)(r->end - r->p)) {
        thrift_fail(r, "Thrift string runs past the end of the data");
        *data = r->p;
        return 0;
    }
    r->p += n;
    return (size_t)n;
}

uint32_t thrift_list(thrift_reader *r, int *elem_type) {
    uint8_t h = read_byte(r);
    *elem_type = h & 0x0F;
    uint64_t n = h >> 4;
    if (n == 15) n = thrift_varint(r);
    if (r->err) return 0;
    if (n > (uint64_t)(r->end - r->p)) {
        thrift_fail(r, "Thrift list longer than the data that holds it");
        return 0;
    }
    return (uint32_t)n;
}

void thrift_struct_begin(thrift_reader *r) {
    if (++r->depth > THRIFT_MAX_DEPTH) thrift_fail(r, "Thrift structs nested too deeply");
}

void thrift_struct_end(thrift_reader *r) { r->depth--; }

int thrift_field(thrift_reader *r, int16_t *last_id, int *type) {
    uint8_t h = read_byte(r);
    *type = h & 0x0F;
    if (r->err || *type == THRIFT_STOP) return THRIFT_STOP;
    int delta = h >> 4;
    int64_t id = delta ? *last_id + delta : thrift_i64(r);
    if (r->err) return THRIFT_STOP;
    if (id <= 0 || id > INT16_MAX || *type > THRIFT_STRUCT) {
        thrift_fail(r, id <= 0 || id > INT16_MAX ? "Thrift field id out of range" : "unknown Thrift field type");
        return THRIFT_STOP;
    }
    *last_id = (int16_t)id;
    return (int)id;
}

// Skips n bytes, or fails when fewer are left.
static void skip_bytes(thrift_reader *r, size_t n) {
    if (n > (size_t)(r->end - r->p)) thrift_fail(r, "truncated Thrift data");
    else r->p += n;
}

void thrift_skip(thrift_reader *r, int type) {
    switch (type) {
    case THRIFT_TRUE:
    case THRIFT_FALSE:
        return; // a bool field carries its value in the header
    case THRIFT_I8:
        skip_bytes(r, 1);
        return;
    case THRIFT_I16:
    case THRIFT_I32:
    case THRIFT_I64:
        thrift_varint(r);
        return;
    case THRIFT_DOUBLE:
        skip_bytes(r, 8);
        return;
    case THRIFT_BINARY: {
        const uint8_t *d;
        thrift_binary(r, &d);
        return;
    }
    case THRIFT_LIST:
    case THRIFT_SET: {
        int et;
        uint32_t n = thrift_list(r, &et);
        if (et == THRIFT_TRUE || et == THRIFT_FALSE) { // bools inside a list are one byte each
            skip_bytes(r, n);
            return;
        }
        // Depth is counted for containers too, so lists of lists cannot recurse unboundedly.
        thrift_struct_begin(r);
        for (uint32_t i = 0; i < n && !r->err; i++) thrift_skip(r, et);
        thrift_struct_end(r);
        return;
    }
    case THRIFT_MAP: {
        uint64_t n = thrift_varint(r);
        if (n == 0 || r->err) return;
        uint8_t kv = read_byte(r);
        if (n > (uint64_t)(r->end - r->p)) {
            thrift_fail(r, "Thrift map longer than the data that holds it");
            return;
        }
        thrift_struct_begin(r);
        for (uint64_t i = 0; i < n && !r->err; i++) {
            int kt = kv >> 4, vt = kv & 0x0F;
            if (kt == THRIFT_TRUE || kt == THRIFT_FALSE) skip_bytes(r, 1); else thrift_skip(r, kt);
            if (vt == THRIFT_TRUE || vt == THRIFT_FALSE) skip_bytes(r, 1); else thrift_skip(r, vt);
        }
        thrift_struct_end(r);
        return;
    }
    case THRIFT_STRUCT: {
        int16_t last = 0;
        int ft;
        thrift_struct_begin(r);
        while (thrift_field(r, &last, &ft) != THRIFT_STOP) thrift_skip(r, ft);
        thrift_struct_end(r);
        return;
    }
    default:
        thrift_fail(r, "unknown Thrift type");
    }
}
