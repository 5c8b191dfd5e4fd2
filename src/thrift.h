// thrift.h: a reader for the Thrift compact protocol (spec/data.md §4.2), for untrusted input.
//
// Errors are sticky: the first malformed or out-of-bounds read records a message and its byte
// position, moves the cursor to the end, and every later read returns 0 / "stop". A caller decodes
// a whole structure and checks thrift_failed() once, instead of testing every read.
//
// Usage for a struct:
//     int16_t last = 0; int type;
//     thrift_struct_begin(r);
//     while ((id = thrift_field(r, &last, &type)) != THRIFT_STOP) {
//         if (id == 1 && type == THRIFT_I32) x = thrift_i32(r); else thrift_skip(r, type);
//     }
//     thrift_struct_end(r);
#ifndef SCOUT_THRIFT_H
#define SCOUT_THRIFT_H

#include <stddef.h>
#include <stdint.h>

// Compact-protocol type codes (field headers and list element types).
enum thrift_type {
    THRIFT_STOP = 0, THRIFT_TRUE = 1, THRIFT_FALSE = 2, THRIFT_I8 = 3, THRIFT_I16 = 4, THRIFT_I32 = 5,
    THRIFT_I64 = 6, THRIFT_DOUBLE = 7, THRIFT_BINARY = 8, THRIFT_LIST = 9, THRIFT_SET = 10,
    THRIFT_MAP = 11, THRIFT_STRUCT = 12,
};

// Structs nested deeper than this are refused: Parquet's deepest real nesting is about 6
// (FileMetaData > RowGroup > ColumnChunk > ColumnMetaData > Statistics > ...), and the cap keeps a
// hostile footer from recursing the skip routine off the stack.
#define THRIFT_MAX_DEPTH 32

typedef struct thrift_reader {
    const uint8_t *begin, *p, *end;
    int depth;              // structs entered and not yet left
    const char *err;        // first error (a static string), NULL while none
    size_t err_pos;         // its byte offset from begin
} thrift_reader;

void thrift_init(thrift_reader *r, const uint8_t *data, size_t n);
static inline int thrift_failed(const thrift_reader *r) { return r->err != NULL; }
static inline size_t thrift_pos(const thrift_reader *r) { return (size_t)(r->p - r->begin); }
// Records an error at the current position (first one wins) and stops further reading.
void thrift_fail(thrift_reader *r, const char *why);

void thrift_struct_begin(thrift_reader *r);
void thrift_struct_end(thrift_reader *r);
// Next field of the current struct: returns its id and sets *type, or THRIFT_STOP (0) at the end of
// the struct or on error. *last_id is the previous field id of this struct (start it at 0).
// A bool field's value is in its type (THRIFT_TRUE / THRIFT_FALSE): read it with thrift_bool_field.
int thrift_field(thrift_reader *r, int16_t *last_id, int *type);
static inline int thrift_bool_field(int type) { return type == THRIFT_TRUE; }

uint64_t thrift_varint(thrift_reader *r);   // ULEB128, at most 10 bytes
int32_t thrift_i32(thrift_reader *r);       // zigzag varint that must fit in 32 bits
int64_t thrift_i64(thrift_reader *r);       // zigzag varint
// Binary/string: returns the length and sets *data to the bytes (inside the input, not copied).
size_t thrift_binary(thrift_reader *r, const uint8_t **data);
// List or set header: returns the element count and sets *elem_type. The count is capped by the
// bytes left (every element takes at least one byte), so it can size an allocation safely.
uint32_t thrift_list(thrift_reader *r, int *elem_type);
// Skips one value of the given type (structs, lists and maps recursively, within THRIFT_MAX_DEPTH).
void thrift_skip(thrift_reader *r, int type);

#endif
