// jsonl.h: the JSON of JSONL documents, fast: pull one string field out of a line, and write a
// string back as a JSON literal.
//
// jsonl_field_get validates the whole line as JSON (RFC 8259: objects, arrays, numbers, literals,
// escapes; no raw control characters inside strings) and returns the value of one top-level string
// field. A field without escapes is returned in place (no copy); one with escapes is unescaped into
// the parser's buffer. Text is bytes with a length, never NUL-terminated: "\u0000" is a character.
//
// Decisions (as JavaScript's JSON.parse, which the HF reference scripts use, where it matters):
//   - a field given twice: the last one counts;
//   - a lone UTF-16 surrogate escape ("\ud800" without its pair) becomes U+FFFD, and is counted in
//     lone_surrogates (UTF-8 cannot hold it; node hands HF the same U+FFFD);
//   - raw bytes that are not valid UTF-8 are passed through unchanged (the tokenizer turns each into
//     its byte token; see tokenizer.h).
#ifndef SCOUT_JSONL_H
#define SCOUT_JSONL_H

#include <stddef.h>
#include <stdint.h>

typedef struct jsonl_field {
    const uint8_t *name;       // the field to extract, e.g. "text"
    size_t name_len;
    uint8_t *buf;              // unescaped value when it had escapes
    size_t cap;
    uint8_t *kbuf;             // unescaped key when a key had escapes
    size_t kcap;
    uint64_t lone_surrogates;  // replaced by U+FFFD so far
    char err[192];             // why the last jsonl_field_get failed (includes the byte column)
} jsonl_field;

void jsonl_field_init(jsonl_field *f, const char *name);
void jsonl_field_free(jsonl_field *f);

// Parses line[0..n) (without its '\n'). Returns 0 and sets *text, *len (valid until the next call),
// or -1 with f->err set: malformed JSON, not an object, field missing, field not a string.
int jsonl_field_get(jsonl_field *f, const uint8_t *line, size_t n, const uint8_t **text, size_t *len);

// Unescapes the contents of a JSON string whose escapes are known to be valid (as
// jsonl_field_get checked) into out (room for n bytes: output is never longer). Returns the length.
size_t jsonl_unescape(const uint8_t *s, size_t n, uint8_t *out, uint64_t *lone_surrogates);

// Writes s[0..n) as a JSON string literal, quotes included, into out, which must have room for
// JSONL_ESCAPED_MAX(n) bytes. Escapes '"', '\\' and control characters (\n, \t, \r, \b, \f, else
// \u00XX, so "\u0000" round-trips); other UTF-8 is kept as is; each byte of invalid UTF-8 becomes
// U+FFFD (JSON must be UTF-8). Returns the number of bytes written. Runs of plain ASCII are copied
// 16 bytes at a time (SSE2), so bytes of out past the returned length, within JSONL_ESCAPED_MAX(n),
// may be overwritten. The one JSON string writer: tokenizer decode, Parquet rows and Hub keys use it.
#define JSONL_ESCAPED_MAX(n) (6 * (size_t)(n) + 2)
size_t jsonl_escape(const uint8_t *s, size_t n, uint8_t *out);

#endif
