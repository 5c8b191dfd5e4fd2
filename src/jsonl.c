// jsonl.c: see jsonl.h. A recursive-descent validator over bytes with an SSE2 scan for the long
// runs of plain string bytes (most of a JSONL corpus is the inside of one string).
#include "jsonl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "utf8.h"
#include "xio.h"

enum { MAX_DEPTH = 512 }; // deeper nesting is refused instead of overflowing the stack

typedef struct parser {
    const uint8_t *s;
    size_t n, i;
    int depth;
    jsonl_field *f;
} parser;

static int fail(parser *p, const char *what) {
    if (p->i < p->n && p->s[p->i] >= 0x21 && p->s[p->i] < 0x7F)
        snprintf(p->f->err, sizeof p->f->err, "not valid JSON: %s at byte %zu ('%c')", what, p->i + 1, p->s[p->i]);
    else if (p->i < p->n)
        snprintf(p->f->err, sizeof p->f->err, "not valid JSON: %s at byte %zu (byte 0x%02X)", what, p->i + 1, p->s[p->i]);
    else
        snprintf(p->f->err, sizeof p->f->err, "not valid JSON: %s at byte %zu (end of line)", what, p->i + 1);
    return -1;
}

static inline void skip_ws(parser *p) {
    while (p->i < p->n) {
        uint8_t c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') break;
        p->i++;
    }
}

// Index of the first '"', '\\' or control byte in s[i..n), or n.
static inline size_t scan_plain(const uint8_t *s, size_t i, size_t n) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1F);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        // v <= 0x1F (unsigned) exactly when min(v, 0x1F) == v.
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v));
        int mask = _mm_movemask_epi8(m);
        if (mask) return i + (size_t)__builtin_ctz((unsigned)mask);
        i += 16;
    }
#endif
    while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20) i++;
    return i;
}

static inline int is_hex(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline uint32_t hex4(const uint8_t *s) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = s[k];
        v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

// s[p->i] == '"'. Validates the string; on return p->i is past the closing quote and the contents
// are s[*a .. *b); *esc says whether they hold escapes.
static int scan_string(parser *p, size_t *a, size_t *b, int *esc) {
    const uint8_t *s = p->s;
    size_t i = ++p->i;
    *a = i;
    *esc = 0;
    for (;;) {
        i = scan_plain(s, i, p->n);
        if (i >= p->n) {
            p->i = i;
            return fail(p, "unterminated string");
        }
        uint8_t c = s[i];
        if (c == '"') break;
        if (c < 0x20) {
            p->i = i;
            return fail(p, "raw control character inside a string (it must be escaped)");
        }
        // Backslash.
        *esc = 1;
        if (i + 1 >= p->n) {
            p->i = i + 1;
            return fail(p, "unterminated escape");
        }
        switch (s[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            i += 2;
            break;
        case 'u':
            if (i + 6 > p->n || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) || !is_hex(s[i + 5])) {
                p->i = i;
                return fail(p, "\\u needs four hex digits");
            }
            i += 6;
            break;
        default:
            p->i = i + 1;
            return fail(p, "invalid escape");
        }
    }
    *b = i;
    p->i = i + 1;
    return 0;
}

size_t jsonl_unescape(const uint8_t *s, size_t n, uint8_t *out, uint64_t *lone_surrogates) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const uint8_t *bs = memchr(s + i, '\\', n - i);
        size_t plain = bs ? (size_t)(bs - (s + i)) : n - i;
        memcpy(out + o, s + i, plain);
        o += plain;
        i += plain;
        if (i >= n) break;
        uint8_t c = s[i + 1];
        i += 2;
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            uint32_t cp = hex4(s + i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
                uint32_t lo = hex4(s + i + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) { // a surrogate without its partner
                cp = 0xFFFD;
                if (lone_surrogates) (*lone_surrogates)++;
            }
            o += (size_t)utf8_encode(cp, out + o);
            break;
        }
        default: out[o++] = c; break; // '"', '\\', '/'
        }
    }
    return o;
}

static int parse_value(parser *p);

static int parse_literal(parser *p, const char *word, size_t len) {
    if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0) return fail(p, "unexpected word");
    p->i += len;
    return 0;
}

static int parse_number(parser *p) {
    const uint8_t *s = p->s;
    size_t n = p->n;
    if (p->i < n && s[p->i] == '-') p->i++;
    if (p->i < n && s[p->i] == '0') {
        p->i++;
    } else if (p->i < n && s[p->i] >= '1' && s[p->i] <= '9') {
        while (p->i < n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    } else {
        return fail(p, "bad number");
    }
    if (p->i < n && s[p->i] == '.') {
        p->i++;
        if (p->i >= n || s[p->i] < '0' || s[p->i] > '9') return fail(p, "bad number: no digit after '.'");
        while (p->i < n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    }
    if (p->i < n && (s[p->i] == 'e' || s[p->i] == 'E')) {
        p->i++;
        if (p->i < n && (s[p->i] == '+' || s[p->i] == '-')) p->i++;
        if (p->i >= n || s[p->i] < '0' || s[p->i] > '9') return fail(p, "bad number: no digit in the exponent");
        while (p->i < n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    }
    return 0;
}

static int parse_container(parser *p, uint8_t close) {
    if (++p->depth > MAX_DEPTH) return fail(p, "nested too deeply");
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        p->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (close == '}') {
            size_t a, b;
            int esc;
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a string key");
            if (scan_string(p, &a, &b, &esc) < 0) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') return fail(p, "expected ':'");
            p->i++;
        }
        if (parse_value(p) < 0) return -1;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            p->depth--;
            return 0;
        }
        return fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(parser *p) {
    skip_ws(p);
    if (p->i >= p->n) return fail(p, "expected a value");
    size_t a, b;
    int esc;
    switch (p->s[p->i]) {
    case '"': return scan_string(p, &a, &b, &esc);
    case '{': return parse_container(p, '}');
    case '[': return parse_container(p, ']');
    case 't': return parse_literal(p, "true", 4);
    case 'f': return parse_literal(p, "false", 5);
    case 'n': return parse_literal(p, "null", 4);
    default:
        if (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9')) return parse_number(p);
        return fail(p, "expected a value");
    }
}

static const char *kind_at(uint8_t c) {
    switch (c) {
    case '{': return "an object";
    case '[': return "an array";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

static void grow(uint8_t **buf, size_t *cap, size_t n) {
    if (n <= *cap) return;
    size_t c = *cap ? *cap : 4096;
    while (c < n) c *= 2;
    *buf = xrealloc(*buf, c);
    *cap = c;
}

void jsonl_field_init(jsonl_field *f, const char *name) {
    memset(f, 0, sizeof *f);
    f->name = (const uint8_t *)name;
    f->name_len = strlen(name);
}

void jsonl_field_free(jsonl_field *f) {
    free(f->buf);
    free(f->kbuf);
    memset(f, 0, sizeof *f);
}

int jsonl_field_get(jsonl_field *f, const uint8_t *line, size_t n, const uint8_t **text, size_t *len) {
    parser p = {line, n, 0, 0, f};
    f->err[0] = 0;
    skip_ws(&p);
    if (p.i >= n) {
        snprintf(f->err, sizeof f->err, "empty line (expected a JSON object per line)");
        return -1;
    }
    if (line[p.i] != '{') {
        if (parse_value(&p) == 0)
            snprintf(f->err, sizeof f->err, "the line is JSON but not an object (expected {\"%.*s\": ...})",
                     (int)f->name_len, (const char *)f->name);
        else
            fail(&p, "expected '{'");
        return -1;
    }
    // The object, by hand at the top level so the field can be caught.
    int found = 0; // 0 no, 1 string, 2 another type
    uint8_t found_kind = 0;
    size_t va = 0, vb = 0;
    int vesc = 0;
    p.i++;
    p.depth = 1;
    skip_ws(&p);
    if (p.i < n && line[p.i] == '}') {
        p.i++;
    } else {
        for (;;) {
            skip_ws(&p);
            size_t ka, kb;
            int kesc;
            if (p.i >= n || line[p.i] != '"') return fail(&p, "expected a string key");
            if (scan_string(&p, &ka, &kb, &kesc) < 0) return -1;
            int match;
            if (!kesc) {
                match = kb - ka == f->name_len && memcmp(line + ka, f->name, f->name_len) == 0;
            } else {
                grow(&f->kbuf, &f->kcap, kb - ka);
                size_t kl = jsonl_unescape(line + ka, kb - ka, f->kbuf, NULL);
                match = kl == f->name_len && memcmp(f->kbuf, f->name, kl) == 0;
            }
            skip_ws(&p);
            if (p.i >= n || line[p.i] != ':') return fail(&p, "expected ':'");
            p.i++;
            skip_ws(&p);
            if (match && p.i < n && line[p.i] == '"') {
                if (scan_string(&p, &va, &vb, &vesc) < 0) return -1;
                found = 1;
            } else {
                if (match && p.i < n) found = 2, found_kind = line[p.i];
                if (parse_value(&p) < 0) return -1;
            }
            skip_ws(&p);
            if (p.i < n && line[p.i] == ',') {
                p.i++;
                continue;
            }
            if (p.i < n && line[p.i] == '}') {
                p.i++;
                break;
            }
            return fail(&p, "expected ',' or '}'");
        }
    }
    skip_ws(&p);
    if (p.i < n) return fail(&p, "text after the end of the object");
    if (found == 0) {
        snprintf(f->err, sizeof f->err, "no field \"%.*s\" (choose another with --field)", (int)f->name_len,
                 (const char *)f->name);
        return -1;
    }
    if (found == 2) {
        snprintf(f->err, sizeof f->err, "field \"%.*s\" is %s, not a string", (int)f->name_len,
                 (const char *)f->name, kind_at(found_kind));
        return -1;
    }
    if (!vesc) {
        *text = line + va;
        *len = vb - va;
        return 0;
    }
    grow(&f->buf, &f->cap, vb - va);
    *len = jsonl_unescape(line + va, vb - va, f->buf, &f->lone_surrogates);
    *text = f->buf;
    return 0;
}

size_t jsonl_escape(const uint8_t *s, size_t n, uint8_t *out) {
    static const char hex[] = "0123456789abcdef";
    uint8_t *o = out;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
#ifdef __SSE2__
        // 16 bytes at a time until one needs attention (runs of plain ASCII are most of a web document;
        // byte at a time alone ran at about 375 MB/s): a signed compare below 0x20 catches control
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
