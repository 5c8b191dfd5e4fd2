// test_tokenizer_jsonl: the JSON code of scout-tokenize: the JSONL field reader and the JSON string
// writer (src/jsonl.c), and the document parser that loads tokenizer.json (src/jsondom.c).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jsondom.h"
#include "jsonl.h"

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

static void test_jsondom(void) {
    const char *text = " {\"a\": [1, -2, 3.5e2, true, false, null, \"x\\u00e9\\ud83e\\udd99\\u0000y\"],\n"
                       "  \"o\": {\"k\\\"q\": {}}, \"a\": \"last\", \"big\": 9223372036854775807} ";
    jd_doc d;
    char err[128];
    CHECK_EQ_INT(jd_parse(&d, text, strlen(text), err, sizeof err), 0);
    const jd_node *root = jd_root(&d);
    CHECK_EQ_INT(root->type, JD_OBJECT);
    CHECK_EQ_INT(root->len, 4);
    CHECK(jd_str_is(jd_get(&d, root, "a"), "last")); // a repeated key: the last one
    // The first "a" is still reachable by walking the members.
    const jd_node *first = jd_at(&d, jd_at(&d, root->child)->child);
    CHECK_EQ_INT(first->type, JD_ARRAY);
    CHECK_EQ_INT(first->len, 7);
    const jd_node *e = jd_at(&d, first->child);
    int64_t v = 0;
    CHECK(jd_int(e, &v) && v == 1);
    e = jd_at(&d, e->next);
    CHECK(jd_int(e, &v) && v == -2);
    e = jd_at(&d, e->next);
    CHECK(e->type == JD_NUMBER && !jd_int(e, &v)); // 3.5e2 is not an integer
    e = jd_at(&d, e->next);
    CHECK_EQ_INT(e->type, JD_TRUE);
    e = jd_at(&d, e->next);
    CHECK_EQ_INT(e->type, JD_FALSE);
    e = jd_at(&d, e->next);
    CHECK_EQ_INT(e->type, JD_NULL);
    e = jd_at(&d, e->next);
    CHECK(e->type == JD_STRING && e->len == 9 && memcmp(e->s, "x\xC3\xA9\xF0\x9F\xA6\x99\0y", 9) == 0);
    CHECK(e->next == 0);
    const jd_node *o = jd_get(&d, root, "o");
    CHECK(o && o->type == JD_OBJECT);
    CHECK(jd_get(&d, o, "k\"q") != NULL && jd_get(&d, o, "k\"q")->type == JD_OBJECT);
    CHECK(jd_get(&d, o, "missing") == NULL);
    CHECK(jd_int(jd_get(&d, root, "big"), &v) && v == INT64_MAX);
    jd_free(&d);
    // Errors name line and column.
    static const struct {
        const char *text, *expect;
    } bad[] = {
        {"", "expected a value at line 1, column 1"},
        {"{\"a\":1,}", "expected a string key"},
        {"[1 2]", "expected ',' or ']'"},
        {"{\"a\" 1}", "expected ':'"},
        {"\n\n  [01]", "expected ',' or ']' at line 3, column 5"},
        {"\"a\tb\"", "raw control character"},
        {"\"\\q\"", "invalid escape"},
        {"\"\\u12\"", "four hex digits"},
        {"\"abc", "unterminated string"},
        {"nul", "unexpected word"},
        {"{} {}", "text after the end"},
        {"-", "bad number"},
        {"1.e5", "bad number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = jd_parse(&d, bad[i].text, strlen(bad[i].text), err, sizeof err);
        CHECK_EQ_INT(rc, -1);
        if (rc == -1 && !strstr(err, bad[i].expect)) fprintf(stderr, "  \"%s\": \"%s\" lacks \"%s\"\n", bad[i].text, err, bad[i].expect);
        CHECK(rc == -1 && strstr(err, bad[i].expect) != NULL);
        jd_free(&d);
    }
    // Deep nesting is refused, not a stack overflow.
    size_t depth = 100000;
    char *deep = malloc(depth + 1);
    memset(deep, '[', depth);
    CHECK_EQ_INT(jd_parse(&d, deep, depth, err, sizeof err), -1);
    CHECK(strstr(err, "nested too deeply") != NULL);
    jd_free(&d);
    free(deep);
}

int main(int argc, char **argv) {
    (void)argc;
    test_valid();
    test_invalid();
    test_escape();
    test_jsondom();
    return check_summary(argv[0]);
}
