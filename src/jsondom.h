// jsondom.h: a small, fast JSON document parser (RFC 8259) into a flat array of nodes, for files
// read once and walked once: tokenizer.json (1.8-3.5 MB, ~100k strings) loads in a few ms, about
// ten times faster than a general-purpose library that builds hash tables for every object.
//
// Nodes live in one array; node 0 is the root. Children are chained through `next` (0 ends a chain:
// the root is nobody's sibling). An object's children are its keys (type JD_STRING), each with its
// value in `child`; an array's children are its elements. Strings are unescaped (\u escapes with
// surrogate pairs; a lone surrogate becomes U+FFFD) into an arena and NUL-terminated for
// convenience; `len` is authoritative ("\u0000" may be inside). Numbers keep their text.
#ifndef SCOUT_JSONDOM_H
#define SCOUT_JSONDOM_H

#include <stddef.h>
#include <stdint.h>

enum jd_type { JD_NULL, JD_FALSE, JD_TRUE, JD_NUMBER, JD_STRING, JD_ARRAY, JD_OBJECT };

typedef struct jd_node {
    const char *s;  // JD_STRING: the unescaped bytes (NUL-terminated); JD_NUMBER: its text
    uint32_t len;   // bytes of s; for arrays and objects, the number of elements / members
    uint32_t next;  // next sibling, 0 when last
    uint32_t child; // arrays: first element; objects: first key; keys: their value; else 0
    uint8_t type;   // enum jd_type
} jd_node;

typedef struct jd_doc {
    jd_node *nodes; // [n]
    uint32_t n, cap;
    char *arena;    // unescaped strings
    size_t arena_len, arena_cap;
} jd_doc;

// Parses text[0..n). Returns 0, or -1 with a message naming the line and column in err.
int jd_parse(jd_doc *d, const char *text, size_t n, char *err, size_t errlen);
void jd_free(jd_doc *d);

static inline const jd_node *jd_root(const jd_doc *d) { return &d->nodes[0]; }
static inline const jd_node *jd_at(const jd_doc *d, uint32_t i) { return i ? &d->nodes[i] : NULL; }

// The value of `key` in object obj (the last one when a key repeats), or NULL (also when obj is not
// an object). Linear in the members: for the small objects of a file's structure.
const jd_node *jd_get(const jd_doc *d, const jd_node *obj, const char *key);
// 1 when n is a string equal to s.
int jd_str_is(const jd_node *n, const char *s);
// 1 when n is an integer number (no fraction or exponent) in [INT64_MIN, INT64_MAX]; sets *v.
int jd_int(const jd_node *n, int64_t *v);

#endif
