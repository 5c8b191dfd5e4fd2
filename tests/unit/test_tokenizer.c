// test_tokenizer: the SentencePiece-BPE encoder and decoder (src/tokenizer_*.c) on known answers.
//
// Needs `make deps` (data/tokenizers/{llama2,mistral}.json, data/corpora/*.jsonl). Checks:
//   - the known ids of spec/data.md 5.6 (Llama-2 and Mistral);
//   - the edge cases of tests/fixtures/tokenizer/edge.jsonl against the ids Hugging Face tokenizers
//     gave for them (edge.<tokenizer>.ids, written by scripts/hf-encode.js; tests/tokenize.bats
//     re-checks them live against node);
//   - every encoder variant (cache, pre-split, heap, naive rescan) gives the same ids, on the edge
//     cases, a slice of the corpora and random strings built to stress merges, spaces and bad bytes;
//   - the policies: special-token strings are text (D6), invalid UTF-8 -> one byte token per byte;
//   - decode(encode(text)) == text;
//   - tokenizer files of other families are refused; "a b" / ["a","b"] merges and the Metaspace form
//     give the same ids; a vocabulary above 65536 loads;
//   - the shared cache under several threads gives the single-thread ids.
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jsonl.h"
#include "tokenizer.h"

#define LLAMA2 "data/tokenizers/llama2.json"
#define MISTRAL "data/tokenizers/mistral.json"

static tokenizer *load(const char *path) {
    tok_error err;
    tokenizer *t = tokenizer_load(path, &err);
    if (!t) {
        fprintf(stderr, "cannot load %s: %s (run `make deps` first)\n", path, err.msg);
        exit(1);
    }
    return t;
}

// Encodes text with a fresh default encoder into ids (caller frees ids->v).
static void encode(const tokenizer *t, unsigned mode, const void *text, size_t n, tok_ids *ids) {
    tok_encoder *e = tok_encoder_new(t);
    tok_encoder_set_mode(e, mode);
    ids->n = 0;
    tok_encode(e, text, n, ids);
    tok_encoder_free(e);
}

// "1 2 3" -> ids; returns the count.
static size_t parse_ids(const char *s, uint32_t *out, size_t cap) {
    size_t n = 0;
    char *end;
    for (;;) {
        unsigned long v = strtoul(s, &end, 10);
        if (end == s) break;
        if (n < cap) out[n] = (uint32_t)v;
        n++;
        s = end;
    }
    return n;
}

// Checks encode(text) == expected ids ("1 2 3"); prints both on mismatch.
static void expect_ids(const tokenizer *t, const char *name, const void *text, size_t n, const char *expected) {
    static uint32_t want[1 << 16];
    size_t nw = parse_ids(expected, want, sizeof want / sizeof *want);
    tok_ids got = {0};
    encode(t, 0, text, n, &got);
    int same = got.n == nw && (nw == 0 || memcmp(got.v, want, nw * sizeof *want) == 0);
    CHECK(same);
    if (!same) {
        fprintf(stderr, "  %s: expected [%s], got [", name, expected);
        for (size_t i = 0; i < got.n && i < 40; i++) fprintf(stderr, i ? " %u" : "%u", got.v[i]);
        fprintf(stderr, "%s]\n", got.n > 40 ? " ..." : "");
    }
    tok_ids_free(&got);
}

static void test_known_ids(const tokenizer *l2, const tokenizer *mi) {
    static const struct {
        const char *text;
        size_t len; // 0: strlen
        const char *ids;
    } llama2[] = {
        {"Hello world", 0, "15043 3186"},
        {" Hello world", 0, "29871 15043 3186"},
        {"Hello  world", 0, "15043 29871 3186"},
        {"\n", 0, "29871 13"},
        {" \n", 0, "259 13"},
        {"grabbed", 0, "2646 1327 287"},
        {" grabbed", 0, "29871 2646 1327 287"},
        {"           grabbed", 0, "9651 2646 1327 287"},
        {"\xF0\x9F\xA6\x99", 0, "29871 243 162 169 156"}, // 🦙: byte fallback
        {"\xE9\x95\x87", 0, "29871 30411"},              // 镇
        {"ax\n####\nboo", 0, "4853 13 4136 13 833 29877"},
        {"\r\n", 0, "6756 13"},
        {"<0x41>", 0, "529 29900 29916 29946 29896 29958"},
        {"\0z", 2, "29871 3 29920"},
        {"", 0, ""},
    };
    for (size_t i = 0; i < sizeof llama2 / sizeof *llama2; i++)
        expect_ids(l2, llama2[i].text, llama2[i].text, llama2[i].len ? llama2[i].len : strlen(llama2[i].text),
                   llama2[i].ids);
    expect_ids(mi, "Hello world", "Hello world", 11, "22557 1526");
    size_t len;
    CHECK_EQ_STR(tokenizer_piece(mi, 28705, &len), "\xE2\x96\x81");
    CHECK_EQ_STR(tokenizer_piece(mi, 28723, &len), ".");
    CHECK_EQ_STR(tokenizer_piece(l2, 29871, &len), "\xE2\x96\x81");
    CHECK_EQ_STR(tokenizer_piece(l2, 3, &len), "<0x00>");
    CHECK_EQ_STR(tokenizer_piece(l2, 258, &len), "<0xFF>");
    CHECK(tokenizer_piece(l2, 32000, &len) == NULL);
    CHECK_EQ_INT(tokenizer_vocab_size(l2), 32000);
    CHECK_EQ_INT(tokenizer_merge_count(l2), 61249);
    CHECK_EQ_INT(tokenizer_merge_count(mi), 58980);
    CHECK_EQ_INT(tokenizer_bos_id(mi), 1);
    CHECK_EQ_INT(tokenizer_eos_id(mi), 2);
    CHECK(tokenizer_presplit(l2) && tokenizer_presplit(mi));
    // Decoding (Llama-2): special ids give nothing, byte tokens their bytes, one leading space goes.
    uint32_t ids[] = {1, 29871, 15043, 3186, 2, 29871, 243, 162, 169, 156};
    tok_bytes out = {0};
    tok_decode(l2, ids, sizeof ids / sizeof *ids, &out);
    CHECK(out.n == 17 && memcmp(out.v, " Hello world \xF0\x9F\xA6\x99", 17) == 0);
    tok_bytes_free(&out);
    // Mistral's fingerprint: the sha256 of spec/data.md 6.1 (fc4f0bd7...).
    static const uint8_t fp[8] = {0xfc, 0x4f, 0x0b, 0xd7, 0x0b, 0x37, 0x09, 0x31};
    CHECK(memcmp(tokenizer_fingerprint(mi), fp, 8) == 0);
}

// Policies: special-token strings are plain text (D6); each invalid UTF-8 byte is its byte token.
static void test_policies(const tokenizer *l2, const tokenizer *mi) {
    // Ids of HF tokenizers with the added tokens removed from the file (so it cannot split them out).
    expect_ids(l2, "<s>", "<s>", 3, "529 29879 29958");
    expect_ids(l2, "</s> literal", "</s> literal", 12, "1533 29879 29958 16333");
    expect_ids(l2, "a<unk>b <s></s>", "a<unk>b <s></s>", 15, "263 29966 2960 29958 29890 529 29879 2565 29879 29958");
    expect_ids(mi, "</s> literal", "</s> literal", 12, "1867 28713 28767 20819");
    expect_ids(l2, "FF", "\xFF", 1, "29871 258");
    expect_ids(l2, "a 80 b", "a\x80" "b", 3, "263 131 29890");
    expect_ids(l2, "overlong NUL", "\xC0\x80", 2, "29871 195 131");
    expect_ids(l2, "UTF-8 surrogate", "\xED\xA0\x80", 3, "29871 240 163 131");
    expect_ids(l2, "cut-off meta", "x\xE2\x96", 3, "921 229 153"); // not a "▁": two byte tokens
    expect_ids(l2, "above U+10FFFF", "\xF4\x90\x80\x80", 4, "29871 247 147 131 131");
}

// Reads a JSONL fixture: texts[i] (malloc'd, lengths in lens[]); returns the count.
static size_t read_jsonl(const char *path, uint8_t ***texts, size_t **lens, size_t max_bytes) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s (run `make deps` first)\n", path);
        exit(1);
    }
    jsonl_field jf;
    jsonl_field_init(&jf, "text");
    char *line = NULL;
    size_t cap = 0, n = 0, total = 0;
    ssize_t len;
    *texts = NULL;
    *lens = NULL;
    while (total < max_bytes && (len = getline(&line, &cap, f)) > 0) {
        const uint8_t *text;
        size_t tl;
        if (line[len - 1] == '\n') len--;
        if (jsonl_field_get(&jf, (uint8_t *)line, (size_t)len, &text, &tl) < 0) {
            fprintf(stderr, "%s:%zu: %s\n", path, n + 1, jf.err);
            exit(1);
        }
        *texts = realloc(*texts, (n + 1) * sizeof **texts);
        *lens = realloc(*lens, (n + 1) * sizeof **lens);
        (*texts)[n] = malloc(tl + 1);
        memcpy((*texts)[n], text, tl);
        (*lens)[n++] = tl;
        total += tl;
    }
    free(line);
    fclose(f);
    jsonl_field_free(&jf);
    return n;
}

static void free_texts(uint8_t **texts, size_t *lens, size_t n) {
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
}

static void test_edge_fixture(const tokenizer *t, const char *ids_path) {
    uint8_t **texts;
    size_t *lens;
    size_t n = read_jsonl("tests/fixtures/tokenizer/edge.jsonl", &texts, &lens, SIZE_MAX);
    FILE *f = fopen(ids_path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0, i = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0 && i < n) {
        char name[32];
        snprintf(name, sizeof name, "edge case %zu", i + 1);
        expect_ids(t, name, texts[i], lens[i], line);
        i++;
    }
    CHECK_EQ_INT(i, n);
    CHECK(n >= 40);
    free(line);
    fclose(f);
    free_texts(texts, lens, n);
}

// Every encoder variant against the naive whole-text rescan (llama2.c's algorithm with HF's rank
// order: an independent check of the pre-split, the cache, and both merge loops).
static void check_modes(const tokenizer *t, const uint8_t *text, size_t n, const char *what) {
    // (Variants of the merge loop bypass the cache, or they would read what mode 0 cached.)
    static const unsigned modes[] = {0,
                                     TOK_MODE_NO_CACHE,
                                     TOK_MODE_NO_CACHE | TOK_MODE_HEAP_ALWAYS,
                                     TOK_MODE_NO_CACHE | TOK_MODE_HEAP_NEVER,
                                     TOK_MODE_NO_PRESPLIT,
                                     TOK_MODE_NO_PRESPLIT | TOK_MODE_HEAP_ALWAYS};
    tok_ids ref = {0}, got = {0};
    int naive = n <= 4000; // the naive rescan is quadratic
    encode(t, naive ? TOK_MODE_NO_PRESPLIT | TOK_MODE_HEAP_NEVER : TOK_MODE_NO_PRESPLIT, text, n, &ref);
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        encode(t, modes[m], text, n, &got);
        int same = got.n == ref.n && (ref.n == 0 || memcmp(got.v, ref.v, ref.n * sizeof *ref.v) == 0);
        CHECK(same);
        if (!same) fprintf(stderr, "  %s: mode %u differs from the reference (%zu vs %zu ids)\n", what, modes[m], got.n, ref.n);
    }
    tok_ids_free(&ref);
    tok_ids_free(&got);
}

static void test_modes(const tokenizer *t) {
    uint8_t **texts;
    size_t *lens;
    size_t n = read_jsonl("tests/fixtures/tokenizer/edge.jsonl", &texts, &lens, SIZE_MAX);
    for (size_t i = 0; i < n; i++) check_modes(t, texts[i], lens[i], "edge case");
    free_texts(texts, lens, n);
    n = read_jsonl("data/corpora/moby-dick.jsonl", &texts, &lens, 150000);
    for (size_t i = 0; i < n; i++) check_modes(t, texts[i], lens[i], "moby-dick");
    free_texts(texts, lens, n);
    // Random strings over an alphabet that makes many merges, runs of spaces and "▁", multi-byte and
    // missing characters, and bytes that are not UTF-8.
    static const char *alphabet[] = {"a", "b", "e", "r", "t", "h", "n", " ", " ", " ", "\xE2\x96\x81", "\n", "\t",
                                     "0", "9", ".", "-", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\xA6\x99", "\xFF",
                                     "\xE2\x96", "\x00", "the", "ing", "tion", "ab"};
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    uint8_t buf[2048];
    for (int iter = 0; iter < 400; iter++) {
        size_t len = 0;
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t parts = (rng >> 33) % 200;
        for (size_t p = 0; p < parts; p++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t k = (rng >> 33) % (sizeof alphabet / sizeof *alphabet);
            size_t l = alphabet[k][0] ? strlen(alphabet[k]) : 1;
            if (len + l > sizeof buf) break;
            memcpy(buf + len, alphabet[k], l);
            len += l;
        }
        check_modes(t, buf, len, "random string");
    }
}

// decode(encode(text)) == text for valid UTF-8 without a literal "▁" (which decodes as a space).
static void test_round_trip(const tokenizer *t) {
    const char *files[] = {"tests/fixtures/tokenizer/edge.jsonl", "data/corpora/brown.jsonl", "data/corpora/sotu.jsonl"};
    size_t checked = 0;
    for (size_t f = 0; f < 3; f++) {
        uint8_t **texts;
        size_t *lens;
        size_t n = read_jsonl(files[f], &texts, &lens, 300000);
        for (size_t i = 0; i < n; i++) {
            if (memmem(texts[i], lens[i], "\xE2\x96\x81", 3)) continue;
            tok_ids ids = {0};
            tok_bytes back = {0};
            encode(t, 0, texts[i], lens[i], &ids);
            tok_decode(t, ids.v, ids.n, &back);
            int same = back.n == lens[i] && (lens[i] == 0 || memcmp(back.v, texts[i], lens[i]) == 0);
            CHECK(same);
            if (!same) fprintf(stderr, "  %s document %zu does not round-trip\n", files[f], i + 1);
            checked++;
            tok_ids_free(&ids);
            tok_bytes_free(&back);
        }
        free_texts(texts, lens, n);
    }
    CHECK(checked > 40);
}

// A tokenizer.json built from pieces of JSON; returns the load error code (0 when it loaded).
static int try_load(const char *json, const char *expect_msg) {
    tok_error err;
    tokenizer *t = tokenizer_load_buffer(json, strlen(json), "test.json", &err);
    if (t) {
        tokenizer_free(t);
        return 0;
    }
    if (expect_msg && !strstr(err.msg, expect_msg)) fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, expect_msg);
    CHECK(!expect_msg || strstr(err.msg, expect_msg) != NULL);
    return err.code;
}

// A small but complete SentencePiece-BPE tokenizer.json: specials, 256 byte pieces, "▁", a few
// letters and merges; `extra` goes inside the top-level object, `model_extra` inside "model",
// `pad_to` adds filler pieces up to that vocabulary size.
static char *tiny_tokenizer(const char *normalizer, const char *pre, const char *model_extra, const char *merges,
                            int pad_to) {
    size_t cap = 64 + (size_t)pad_to * 24 + 16384;
    char *s = malloc(cap);
    size_t n = 0;
    n += (size_t)snprintf(s + n, cap - n,
                          "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
                          "{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
                          "\"normalizer\":%s,\"pre_tokenizer\":%s,\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,"
                          "\"unk_token\":\"<unk>\",%s\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2",
                          normalizer, pre, model_extra);
    for (int b = 0; b < 256; b++) n += (size_t)snprintf(s + n, cap - n, ",\"<0x%02X>\":%d", b, 3 + b);
    const char *pieces[] = {"\xE2\x96\x81", "a", "b", "c", "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab"};
    int id = 259;
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) n += (size_t)snprintf(s + n, cap - n, ",\"%s\":%d", pieces[i], id++);
    for (; id < pad_to; id++) n += (size_t)snprintf(s + n, cap - n, ",\"pad%d\":%d", id, id);
    n += (size_t)snprintf(s + n, cap - n, "},\"merges\":%s}}", merges);
    return s;
}

#define LEGACY_NORM                                                                                                     \
    "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xE2\x96\x81\"},{\"type\":\"Replace\"," \
    "\"pattern\":{\"String\":\" \"},\"content\":\"\xE2\x96\x81\"}]}"
#define MERGES_STR "[\"a b\",\"\xE2\x96\x81 ab\",\"\xE2\x96\x81 a\"]"

static void test_loader(void) {
    // Ids: ▁ 259, a 260, b 261, c 262, ▁a 263, ab 264, ▁ab 265. With merges "a b", "▁ ab", "▁ a":
    // "ab ab c" -> ▁ab ▁ab ▁ c, and "a" -> ▁a.
    char *ok = tiny_tokenizer(LEGACY_NORM, "null", "", MERGES_STR, 0);
    tok_error err;
    tokenizer *t = tokenizer_load_buffer(ok, strlen(ok), "tiny.json", &err);
    CHECK(t != NULL);
    if (t) {
        expect_ids(t, "tiny", "ab ab c", 7, "265 265 259 262");
        expect_ids(t, "tiny a", "a", 1, "263");
        tokenizer_free(t);
    }
    free(ok);
    // The same pieces with "▁ a" ranked first: ▁+a merges before a+b, and no merge joins ▁a and b,
    // so "ab" -> ▁a b although ▁ab is in the vocabulary: merge ranks decide, not the vocabulary.
    char *arr = tiny_tokenizer(LEGACY_NORM, "null", "", "[[\"\xE2\x96\x81\",\"a\"],[\"a\",\"b\"],[\"\xE2\x96\x81\",\"ab\"]]", 0);
    t = tokenizer_load_buffer(arr, strlen(arr), "tiny-arr.json", &err);
    CHECK(t != NULL);
    if (t) {
        expect_ids(t, "tiny, array merges, other ranks", "ab ab c", 7, "263 261 263 261 259 262");
        tokenizer_free(t);
    }
    free(arr);
    // A vocabulary above 65536 (4-byte tokens in the stream) loads.
    char *big = tiny_tokenizer(LEGACY_NORM, "null", "", MERGES_STR, 70000);
    t = tokenizer_load_buffer(big, strlen(big), "big.json", &err);
    CHECK(t != NULL);
    if (t) {
        CHECK_EQ_INT(tokenizer_vocab_size(t), 70000);
        expect_ids(t, "vocab 70000 (wide merge table)", "ab ab c", 7, "265 265 259 262");
        tokenizer_free(t);
    }
    free(big);

    // Refusals, each with the reason.
    char *s;
    CHECK_EQ_INT(try_load("not json", "not valid JSON"), 3);
    CHECK_EQ_INT(try_load("[1]", "not a JSON object"), 3);
    CHECK_EQ_INT(try_load("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", "model type is Unigram"), 3);
    CHECK_EQ_INT(try_load("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", "model type is WordPiece"), 3);
    s = tiny_tokenizer("null", "{\"type\":\"ByteLevel\",\"add_prefix_space\":false}", "", MERGES_STR, 0);
    CHECK_EQ_INT(try_load(s, "pre_tokenizer is ByteLevel"), 3);
    free(s);
    s = tiny_tokenizer("{\"type\":\"NFKC\"}", "null", "", MERGES_STR, 0);
    CHECK_EQ_INT(try_load(s, "normalizer is NFKC"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "{\"type\":\"Whitespace\"}", "", MERGES_STR, 0);
    CHECK_EQ_INT(try_load(s, "pre_tokenizer is Whitespace"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "null", "\"dropout\":0.1,", MERGES_STR, 0);
    CHECK_EQ_INT(try_load(s, "dropout"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "null", "\"continuing_subword_prefix\":\"##\",", MERGES_STR, 0);
    CHECK_EQ_INT(try_load(s, "continuing_subword_prefix"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "null", "\"ignore_merges\":true,", MERGES_STR, 0);
    CHECK_EQ_INT(try_load(s, "ignore_merges"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "null", "", "[\"a z\"]", 0);
    CHECK_EQ_INT(try_load(s, "the right piece is not in the vocabulary"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "null", "", "[\"b c\"]", 0);
    CHECK_EQ_INT(try_load(s, "the merged piece is not in the vocabulary"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "null", "", "[\"a b c\"]", 0);
    CHECK_EQ_INT(try_load(s, "not two pieces"), 3);
    free(s);
    s = tiny_tokenizer(LEGACY_NORM, "null", "", "[7]", 0);
    CHECK_EQ_INT(try_load(s, "neither"), 3);
    free(s);
    // byte_fallback false: a byte-fallback-less BPE would emit <unk>; refused.
    s = tiny_tokenizer(LEGACY_NORM, "null", "", MERGES_STR, 0);
    char *bf = strstr(s, "\"byte_fallback\":true");
    memcpy(bf, "\"byte_fallback\":0   ", 20);
    CHECK_EQ_INT(try_load(s, "without byte_fallback"), 3);
    // A missing byte piece.
    memcpy(bf, "\"byte_fallback\":true", 20);
    char *b7 = strstr(s, "\"<0x7F>\"");
    memcpy(b7, "\"<0x7f>\"", 8);
    CHECK_EQ_INT(try_load(s, "<0x7F> is missing"), 3);
    free(s);
    // A hole in the ids.
    s = tiny_tokenizer(LEGACY_NORM, "null", "", MERGES_STR, 0);
    char *c = strstr(s, "\"c\":262");
    memcpy(c, "\"c\":290", 7);
    CHECK_EQ_INT(try_load(s, "no piece has id 262"), 3);
    free(s);
    // I/O errors are exit code 4.
    CHECK(tokenizer_load("/nonexistent/tokenizer.json", &err) == NULL);
    CHECK_EQ_INT(err.code, 4);
    CHECK(strstr(err.msg, "/nonexistent/tokenizer.json") != NULL);
}

// The real Mistral file rewritten: array merges, and the Metaspace (legacy=false) form.
static void test_variants(const tokenizer *mi) {
    json_error_t jerr;
    json_t *root = json_load_file(MISTRAL, 0, &jerr);
    CHECK(root != NULL);
    if (!root) return;
    json_t *merges = json_object_get(json_object_get(root, "model"), "merges");
    json_t *arr = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(merges, i, m) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        json_array_append_new(arr, json_pack("[s#s]", s, (int)(sp - s), sp + 1));
    }
    json_object_set_new(json_object_get(root, "model"), "merges", arr);
    char *text = json_dumps(root, 0);
    tok_error err;
    tokenizer *ta = tokenizer_load_buffer(text, strlen(text), "mistral-array-merges", &err);
    free(text);
    json_object_set_new(root, "normalizer", json_null());
    json_object_set_new(root, "pre_tokenizer",
                        json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", "\xE2\x96\x81",
                                  "prepend_scheme", "first", "split", 0));
    text = json_dumps(root, 0);
    tokenizer *tm = tokenizer_load_buffer(text, strlen(text), "mistral-metaspace", &err);
    free(text);
    json_decref(root);
    CHECK(ta != NULL && tm != NULL);
    if (!ta || !tm) return;
    uint8_t **texts;
    size_t *lens;
    size_t n = read_jsonl("tests/fixtures/tokenizer/edge.jsonl", &texts, &lens, SIZE_MAX);
    for (size_t d = 0; d < n; d++) {
        tok_ids a = {0}, b = {0}, c = {0};
        encode(mi, 0, texts[d], lens[d], &a);
        encode(ta, 0, texts[d], lens[d], &b);
        encode(tm, 0, texts[d], lens[d], &c);
        CHECK(a.n == b.n && (a.n == 0 || memcmp(a.v, b.v, a.n * sizeof *a.v) == 0));
        // Metaspace adds no "▁" when the text starts with a space (or "▁"); otherwise the same ids.
        int leading = lens[d] > 0 && (texts[d][0] == ' ' || (lens[d] >= 3 && memcmp(texts[d], "\xE2\x96\x81", 3) == 0));
        if (!leading) CHECK(a.n == c.n && (a.n == 0 || memcmp(a.v, c.v, a.n * sizeof *a.v) == 0));
        tok_ids_free(&a);
        tok_ids_free(&b);
        tok_ids_free(&c);
    }
    free_texts(texts, lens, n);
    expect_ids(tm, "metaspace, leading space", " lead", 5, "1736");
    expect_ids(tm, "metaspace, two spaces", "  two  spaces  ", 15, "28705 989 28705 10599 259");
    tokenizer_free(ta);
    tokenizer_free(tm);
}

// Several threads encode the same documents through the shared cache, racing on its inserts.
typedef struct thread_arg {
    const tokenizer *t;
    uint8_t **texts;
    size_t *lens;
    size_t n, start;
    tok_ids *ref; // [n] single-thread ids
    int mismatches;
} thread_arg;

static void *thread_main(void *p) {
    thread_arg *a = p;
    tok_encoder *e = tok_encoder_new(a->t);
    tok_ids ids = {0};
    for (size_t k = 0; k < a->n; k++) {
        size_t i = (a->start + k) % a->n;
        ids.n = 0;
        tok_encode(e, a->texts[i], a->lens[i], &ids);
        if (ids.n != a->ref[i].n || memcmp(ids.v, a->ref[i].v, ids.n * sizeof *ids.v) != 0) a->mismatches++;
    }
    tok_ids_free(&ids);
    tok_encoder_free(e);
    return NULL;
}

static void test_threads(void) {
    tokenizer *t = load(LLAMA2); // fresh, so its cache starts empty and the threads race to fill it
    uint8_t **texts;
    size_t *lens;
    size_t n = read_jsonl("data/corpora/brown.jsonl", &texts, &lens, 400000);
    tok_ids *ref = calloc(n, sizeof *ref);
    for (size_t i = 0; i < n; i++) encode(t, TOK_MODE_NO_CACHE, texts[i], lens[i], &ref[i]);
    enum { THREADS = 4 };
    pthread_t tid[THREADS];
    thread_arg args[THREADS];
    for (int k = 0; k < THREADS; k++) {
        args[k] = (thread_arg){t, texts, lens, n, (size_t)k * n / THREADS, ref, 0};
        pthread_create(&tid[k], NULL, thread_main, &args[k]);
    }
    for (int k = 0; k < THREADS; k++) {
        pthread_join(tid[k], NULL);
        CHECK_EQ_INT(args[k].mismatches, 0);
    }
    for (size_t i = 0; i < n; i++) tok_ids_free(&ref[i]);
    free(ref);
    free_texts(texts, lens, n);
    tokenizer_free(t);
}

int main(int argc, char **argv) {
    (void)argc;
    tokenizer *l2 = load(LLAMA2), *mi = load(MISTRAL);
    test_known_ids(l2, mi);
    test_policies(l2, mi);
    test_edge_fixture(l2, "tests/fixtures/tokenizer/edge.llama2.ids");
    test_edge_fixture(mi, "tests/fixtures/tokenizer/edge.mistral.ids");
    test_modes(l2);
    test_modes(mi);
    test_round_trip(l2);
    test_round_trip(mi);
    test_loader();
    test_variants(mi);
    test_threads();
    tokenizer_free(l2);
    tokenizer_free(mi);
    return check_summary(argv[0]);
}
