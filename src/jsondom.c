// jsondom.c: see jsondom.h. Recursive descent (depth-limited), one pass, strings unescaped as they
// are scanned.
#include "jsondom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"
#include "xio.h"

enum { MAX_DEPTH = 512 };

typedef struct parser {
    jd_doc *d;
    const char *s;
    size_t n, i;
    int depth;
    char *err;
    size_t errlen;
} parser;

static int fail(parser *p, const char *what) {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n')
            line++, col = 1;
        else
            col++;
    }
    snprintf(p->err, p->errlen, "%s at line %zu, column %zu", what, line, col);
    return -1;
}

static void skip_ws(parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\n' || p->s[p->i] == '\r' || p->s[p->i] == '\t')) p->i++;
}

// A new node (its index); the array may move, so callers keep indices, not pointers.
static uint32_t new_node(parser *p, uint8_t type) {
    jd_doc *d = p->d;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 1024;
        d->nodes = xrealloc(d->nodes, d->cap * sizeof *d->nodes);
    }
    d->nodes[d->n] = (jd_node){NULL, 0, 0, 0, type};
    return d->n++;
}

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// s[p->i] == '"': validates the string and unescapes it into the arena (room was reserved for the
// whole input, which no string can outgrow).
static int parse_string(parser *p, uint32_t node) {
    size_t a = ++p->i, esc = 0;
    for (;;) {
        if (p->i >= p->n) return fail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') break;
        if (c < 0x20) return fail(p, "raw control character in a string");
        if (c != '\\') {
            p->i++;
            continue;
        }
        esc = 1;
        if (p->i + 1 >= p->n) return fail(p, "unterminated escape");
        char e = p->s[p->i + 1];
        if (e == 'u') {
            if (p->i + 6 > p->n || !is_hex(p->s[p->i + 2]) || !is_hex(p->s[p->i + 3]) || !is_hex(p->s[p->i + 4]) ||
                !is_hex(p->s[p->i + 5]))
                return fail(p, "\\u needs four hex digits");
            p->i += 6;
        } else if (strchr("\"\\/bfnrt", e) && e) {
            p->i += 2;
        } else {
            return fail(p, "invalid escape");
        }
    }
    size_t b = p->i++;
    jd_doc *d = p->d;
    char *out = d->arena + d->arena_len;
    size_t len = b - a;
    if (esc)
        len = jsonl_unescape((const uint8_t *)p->s + a, b - a, (uint8_t *)out, NULL);
    else
        memcpy(out, p->s + a, len);
    out[len] = 0;
    d->arena_len += len + 1;
    d->nodes[node].s = out;
    d->nodes[node].len = (uint32_t)len;
    return 0;
}

static int parse_number(parser *p, uint32_t node) {
    size_t a = p->i;
    const char *s = p->s;
    if (p->i < p->n && s[p->i] == '-') p->i++;
    if (p->i < p->n && s[p->i] == '0')
        p->i++;
    else if (p->i < p->n && s[p->i] >= '1' && s[p->i] <= '9')
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    else
        return fail(p, "bad number");
    if (p->i < p->n && s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || s[p->i] < '0' || s[p->i] > '9') return fail(p, "bad number");
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    }
    if (p->i < p->n && (s[p->i] == 'e' || s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (s[p->i] == '+' || s[p->i] == '-')) p->i++;
        if (p->i >= p->n || s[p->i] < '0' || s[p->i] > '9') return fail(p, "bad number");
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    }
    p->d->nodes[node].s = s + a;
    p->d->nodes[node].len = (uint32_t)(p->i - a);
    return 0;
}

static int parse_value(parser *p, uint32_t *out);

// Objects and arrays: children linked in order; object keys carry their value in `child`.
static int parse_container(parser *p, uint32_t node, char close) {
    if (++p->depth > MAX_DEPTH) return fail(p, "nested too deeply");
    p->i++;
    skip_ws(p);
    uint32_t last = 0, count = 0;
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        p->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        uint32_t item;
        if (close == '}') {
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a string key");
            item = new_node(p, JD_STRING);
            if (parse_string(p, item) < 0) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') return fail(p, "expected ':'");
            p->i++;
            uint32_t value;
            if (parse_value(p, &value) < 0) return -1;
            p->d->nodes[item].child = value;
        } else if (parse_value(p, &item) < 0) {
            return -1;
        }
        if (last)
            p->d->nodes[last].next = item;
        else
            p->d->nodes[node].child = item;
        last = item;
        count++;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            break;
        }
        return fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    p->d->nodes[node].len = count;
    p->depth--;
    return 0;
}

static int literal(parser *p, const char *word, uint8_t type, uint32_t *out) {
    size_t len = strlen(word);
    if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0) return fail(p, "unexpected word");
    p->i += len;
    *out = new_node(p, type);
    return 0;
}

static int parse_value(parser *p, uint32_t *out) {
    skip_ws(p);
    if (p->i >= p->n) return fail(p, "expected a value");
    switch (p->s[p->i]) {
    case '"': *out = new_node(p, JD_STRING); return parse_string(p, *out);
    case '{': *out = new_node(p, JD_OBJECT); return parse_container(p, *out, '}');
    case '[': *out = new_node(p, JD_ARRAY); return parse_container(p, *out, ']');
    case 't': return literal(p, "true", JD_TRUE, out);
    case 'f': return literal(p, "false", JD_FALSE, out);
    case 'n': return literal(p, "null", JD_NULL, out);
    default: *out = new_node(p, JD_NUMBER); return parse_number(p, *out);
    }
}

int jd_parse(jd_doc *d, const char *text, size_t n, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->arena_cap = n + 1; // unescaped strings plus their NULs never exceed the input's bytes + 1
    d->arena = xmalloc(d->arena_cap);
    parser p = {d, text, n, 0, 0, err, errlen};
    uint32_t root;
    if (parse_value(&p, &root) < 0) return -1;
    skip_ws(&p);
    if (p.i < n) return fail(&p, "text after the end of the document");
    return 0;
}

void jd_free(jd_doc *d) {
    free(d->nodes);
    free(d->arena);
    memset(d, 0, sizeof *d);
}

const jd_node *jd_get(const jd_doc *d, const jd_node *obj, const char *key) {
    if (!obj || obj->type != JD_OBJECT) return NULL;
    const jd_node *found = NULL;
    size_t len = strlen(key);
    for (uint32_t i = obj->child; i; i = d->nodes[i].next) {
        const jd_node *k = &d->nodes[i];
        if (k->len == len && memcmp(k->s, key, len) == 0) found = jd_at(d, k->child);
    }
    return found;
}

int jd_str_is(const jd_node *n, const char *s) {
    return n && n->type == JD_STRING && n->len == strlen(s) && memcmp(n->s, s, n->len) == 0;
}

int jd_int(const jd_node *n, int64_t *v) {
    if (!n || n->type != JD_NUMBER) return 0;
    const char *s = n->s;
    size_t i = 0, len = n->len;
    int neg = s[0] == '-';
    i += (size_t)neg;
    uint64_t x = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0; // a fraction or an exponent
        if (x > (UINT64_MAX - 9) / 10) return 0;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (x > (uint64_t)INT64_MAX + (uint64_t)neg) return 0;
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 1;
}
