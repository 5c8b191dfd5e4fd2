// test_tokenizer_jsonl: the JSON code of scout-tokenize: the JSONL field reader and the JSON string
// writer (src/jsonl.c; tokenizer.json itself is read with jansson).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jsonl.h"
#include "utf8.h"

// Parses line (a C string) for `field`; returns 0/-1 and the text in out (NUL added for comparison).
static int get(jsonl_field *f, const char *line, char *out, size_t *len) {
    const uint8_t *text;
    size_t n;
    if (jsonl_field_get(f, (const uint8_t *)line, strlen(line), &text, &n) < 0) return -1;
    memcpy(out, text, n);
    out[n] = 0;
    if (len) *len = n;
    return 0;
}

static void test_valid(void) {
    jsonl_field f;
    jsonl_field_init(&f, "text");
    char out[256];
    size_t n;
    CHECK_EQ_INT(get(&f, "{\"text\":\"Hello world\"}", out, NULL), 0);
    CHECK_EQ_STR(out, "Hello world");
    // Other fields of every kind are skipped, nested ones too; whitespace anywhere JSON allows it.
    CHECK_EQ_INT(get(&f, " {\"id\": -12.5e+3, \"meta\": {\"a\": [1, true, false, null, {\"text\": 5}]},\r\n"
                         "  \"text\" : \"x\" , \"z\": []}\r", out, NULL), 0);
    CHECK_EQ_STR(out, "x");
    // Escapes: all of them, a surrogate pair, \u0000 inside (length says 1 + 1 + 1 bytes, not a C string).
    CHECK_EQ_INT(get(&f, "{\"text\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83e\\udd99\"}", out, &n), 0);
    CHECK_EQ_STR(out, "\"\\/\b\f\n\r\t\xC3\xA9\xF0\x9F\xA6\x99");
    CHECK_EQ_INT(get(&f, "{\"text\":\"a\\u0000b\"}", out, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK(memcmp(out, "a\0b", 3) == 0);
    // A key written with escapes is still the field.
    CHECK_EQ_INT(get(&f, "{\"t\\u0065xt\":\"escaped key\"}", out, NULL), 0);
    CHECK_EQ_STR(out, "escaped key");
    // The last of two equal keys counts (as JSON.parse).
    CHECK_EQ_INT(get(&f, "{\"text\":\"first\",\"text\":\"second\"}", out, NULL), 0);
    CHECK_EQ_STR(out, "second");
    // Lone surrogates become U+FFFD and are counted; a high surrogate followed by a non-low one too.
    uint64_t before = f.lone_surrogates;
    CHECK_EQ_INT(get(&f, "{\"text\":\"\\ud800|\\udc00|\\ud800\\u0041\"}", out, NULL), 0);
    CHECK_EQ_STR(out, "\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD" "A");
    CHECK_EQ_INT(f.lone_surrogates - before, 3);
    // Raw bytes that are not UTF-8 pass through (the tokenizer's byte fallback deals with them).
    CHECK_EQ_INT(get(&f, "{\"text\":\"a\xFF\xC0z\"}", out, NULL), 0);
    CHECK_EQ_STR(out, "a\xFF\xC0z");
    // A long value with no escape is returned in place (no copy) and intact.
    char big[200];
    memset(big, 'q', sizeof big);
    char line[256];
    snprintf(line, sizeof line, "{\"text\":\"%.150s\"}", big);
    CHECK_EQ_INT(get(&f, line, out, &n), 0);
    CHECK_EQ_INT(n, 150);
    jsonl_field_free(&f);

    jsonl_field g;
    jsonl_field_init(&g, "content");
    CHECK_EQ_INT(get(&g, "{\"text\":\"no\",\"content\":\"yes\"}", out, NULL), 0);
    CHECK_EQ_STR(out, "yes");
    jsonl_field_free(&g);
}

// Every malformed line is refused with a message; each message names the problem.
static void test_invalid(void) {
    static const struct {
        const char *line, *expect;
    } bad[] = {
        {"", "empty line"},
        {"   \r", "empty line"},
        {"[1,2]", "not an object"},
        {"\"text\"", "not an object"},
        {"{\"text\":\"x\"", "expected ',' or '}'"},
        {"{\"text\":\"x}", "unterminated string"},
        {"{\"text\":\"a\tb\"}", "raw control character"},
        {"{\"text\":\"\\x41\"}", "invalid escape"},
        {"{\"text\":\"\\u12G4\"}", "four hex digits"},
        {"{\"text\":\"x\",}", "expected a string key"},
        {"{text:\"x\"}", "expected a string key"},
        {"{\"text\" \"x\"}", "expected ':'"},
        {"{\"text\":\"x\"} extra", "text after the end"},
        {"{\"a\":01,\"text\":\"x\"}", "expected ',' or '}'"},
        {"{\"a\":1.,\"text\":\"x\"}", "no digit after '.'"},
        {"{\"a\":1e,\"text\":\"x\"}", "no digit in the exponent"},
        {"{\"a\":-,\"text\":\"x\"}", "bad number"},
        {"{\"a\":tru,\"text\":\"x\"}", "unexpected word"},
        {"{\"a\":[1 2],\"text\":\"x\"}", "expected ',' or ']'"},
        {"{\"a\":1}", "no field \"text\""},
        {"{}", "no field \"text\""},
        {"{\"text\":42}", "is a number, not a string"},
        {"{\"text\":null}", "is null, not a string"},
        {"{\"text\":[\"x\"]}", "is an array, not a string"},
        {"{\"text\":{\"x\":1}}", "is an object, not a string"},
        {"{\"text\":true}", "is a boolean, not a string"},
        {"\x00{\"text\":\"x\"}", "empty line"}, // strlen stops at the NUL: an empty line
    };
    jsonl_field f;
    jsonl_field_init(&f, "text");
    char out[64];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = get(&f, bad[i].line, out, NULL);
        CHECK_EQ_INT(rc, -1);
        if (!strstr(f.err, bad[i].expect))
            fprintf(stderr, "line %zu: message \"%s\" lacks \"%s\"\n", i, f.err, bad[i].expect);
        CHECK(strstr(f.err, bad[i].expect) != NULL);
    }
    // A raw NUL byte inside the line (not strlen-terminated) is malformed JSON, never silently cut.
    const uint8_t nul_line[] = "{\"text\":\"a\0b\"}";
    const uint8_t *text;
    size_t n;
    CHECK_EQ_INT(jsonl_field_get(&f, nul_line, sizeof nul_line - 1, &text, &n), -1);
    CHECK(strstr(f.err, "raw control character") != NULL);
    // Nesting deeper than the limit is refused instead of overflowing the stack.
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 32);
    size_t k = 0;
    k += (size_t)sprintf(deep, "{\"a\":");
    for (size_t i = 0; i < depth; i++) deep[k++] = '[';
    for (size_t i = 0; i < depth; i++) deep[k++] = ']';
    k += (size_t)sprintf(deep + k, ",\"text\":\"x\"}");
    CHECK_EQ_INT(jsonl_field_get(&f, (const uint8_t *)deep, k, &text, &n), -1);
    CHECK(strstr(f.err, "nested too deeply") != NULL);
    free(deep);
    // Error messages give the byte position.
    CHECK_EQ_INT(get(&f, "{\"text\":\"x\" ]", out, NULL), -1);
    CHECK(strstr(f.err, "at byte 13") != NULL);
    jsonl_field_free(&f);
}

static void test_escape(void) {
    uint8_t out[JSONL_ESCAPED_MAX(64)];
    size_t n = jsonl_escape((const uint8_t *)"a\"b\\c\n\t\r\b\f\x01\x1f\x7f", 13, out);
    out[n] = 0;
    CHECK_EQ_STR((char *)out, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"");
    // NUL is escaped; UTF-8 stays; invalid bytes become U+FFFD, one each.
    n = jsonl_escape((const uint8_t *)"\0\xC3\xA9\xFF\xE2\x96", 6, out);
    out[n] = 0;
    CHECK(n == 19 && memcmp(out, "\"\\u0000\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"", 19) == 0);
    // Round trip: every byte value (as valid UTF-8 text) survives escape then parse.
    uint8_t text[512];
    size_t tn = 0;
    for (int c = 0; c < 128; c++) text[tn++] = (uint8_t)c;
    memcpy(text + tn, "\xE2\x96\x81\xF0\x9F\xA6\x99\xE4\xB8\xAD", 10);
    tn += 10;
    uint8_t line[JSONL_ESCAPED_MAX(512) + 16];
    size_t ln = (size_t)sprintf((char *)line, "{\"text\":");
    ln += jsonl_escape(text, tn, line + ln);
    line[ln++] = '}';
    jsonl_field f;
    jsonl_field_init(&f, "text");
    const uint8_t *got;
    size_t gn;
    CHECK_EQ_INT(jsonl_field_get(&f, line, ln, &got, &gn), 0);
    CHECK(gn == tn && memcmp(got, text, tn) == 0);
    jsonl_field_free(&f);
}

// The escaper written the plain way, one byte at a time: what jsonl_escape's 16-byte path must equal.
static size_t ref_escape(const uint8_t *s, size_t n, uint8_t *out) {
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        uint32_t cp;
        int len = utf8_decode(s + i, n - i, &cp);
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\t' ? "\\t"
                        : c == '\r' ? "\\r" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc) {
            memcpy(out + o, esc, 2), o += 2, i++;
        } else if (c < 0x20) {
            o += (size_t)sprintf((char *)out + o, "\\u%04x", c), i++;
        } else if (len == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3), o += 3, i++;
        } else {
            memcpy(out + o, s + i, (size_t)len), o += (size_t)len, i += (size_t)len;
        }
    }
    out[o++] = '"';
    return o;
}

// jsonl_escape equals the plain escaper on random bytes, random UTF-8 and special characters at every
// offset around a 16-byte block edge, and stays within JSONL_ESCAPED_MAX.
static void test_escape_fast_path(void) {
    static const char *const pieces[] = {"a", "\"", "\\", "\n", "\x01", "\x7f", "\xc3\xa9", "\xe4\xbd\xa0",
                                         "\xf0\x9f\x98\x80", "\xff", "\xed\xa0\x80", "\xf0\x9f", " ", "0123456789abcdef"};
    static uint8_t in[300], ours[JSONL_ESCAPED_MAX(300) + 16], ref[JSONL_ESCAPED_MAX(300)];
    uint32_t seed = 12345;
    int mismatches = 0, overruns = 0;
    for (int t = 0; t < 3000; t++) {
        size_t n = 0, cap = (size_t)t % 260; // every length up to 259, not only full blocks
        while (n < cap) {
            seed = seed * 1103515245u + 12345u;
            uint32_t r = seed >> 8;
            if (t % 3 == 0) {
                in[n++] = (uint8_t)r; // raw random bytes
                continue;
            }
            const char *p = pieces[r % (sizeof pieces / sizeof *pieces)];
            size_t len = strlen(p);
            if (n + len > cap) break;
            memcpy(in + n, p, len);
            n += len;
        }
        memset(ours + JSONL_ESCAPED_MAX(n), 0xA5, 16); // a guard band just past the promised room
        size_t a = jsonl_escape(in, n, ours), b = ref_escape(in, n, ref);
        if (a != b || memcmp(ours, ref, a) != 0) mismatches++;
        for (int k = 0; k < 16; k++) overruns += ours[JSONL_ESCAPED_MAX(n) + (size_t)k] != 0xA5;
        CHECK(a <= JSONL_ESCAPED_MAX(n));
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(overruns, 0);
}

int main(int argc, char **argv) {
    (void)argc;
    test_valid();
    test_invalid();
    test_escape();
    test_escape_fast_path();
    return check_summary(argv[0]);
}
