// tokenizer_load.c: reads a Hugging Face tokenizer.json, checks that it is a SentencePiece-BPE
// tokenizer with byte fallback (spec/data.md 5.2), and builds the tables of tokenizer_impl.h.
//
// Anything this encoder would get wrong is refused with a message that says what was found:
// another model type (Unigram, WordPiece), a byte-level BPE (GPT-2 style), no byte fallback,
// dropout, subword prefixes, another normaliser or pre-tokenizer.
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcode.h"
#include "sha256.h"
#include "tokenizer_impl.h"
#include "utf8.h"
#include "xio.h"

static void set_err(tok_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(tok_error *err, int code, const char *fmt, ...) {
    if (!err) return;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

#define FAMILY_HINT "only SentencePiece-BPE tokenizers with byte fallback (Llama-2, Mistral) are supported"

// ---------------------------------------------------------------------------------------------
// Small JSON helpers (jansson). A string may hold "\u0000": json_string_length is its length.

static json_t *get(const json_t *obj, const char *key) { return json_object_get(obj, key); }

static const char *str_field(const json_t *obj, const char *key) { return json_string_value(get(obj, key)); }

static int is_null(const json_t *v) { return !v || json_is_null(v); }

// 1 when v is a string equal to s.
static int str_is(const json_t *v, const char *s) {
    size_t n = strlen(s);
    return json_is_string(v) && json_string_length(v) == n && memcmp(json_string_value(v), s, n) == 0;
}

// 1 when obj[key] is absent, null or "" (an unset string option).
static int is_unset_str(const json_t *obj, const char *key) {
    const json_t *v = get(obj, key);
    return is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

static int is_type(const json_t *obj, const char *type) { return str_is(get(obj, "type"), type); }

static const char *type_of(const json_t *obj) {
    if (is_null(obj)) return "null";
    const char *t = str_field(obj, "type");
    return t ? t : "(no type)";
}

// 1 when v is an integer in [0, 2^31) (a token id); sets *id.
static int get_id(const json_t *v, uint32_t *id) {
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 0 || x >= ((json_int_t)1 << 31)) return 0;
    *id = (uint32_t)x;
    return 1;
}

// Replace(String " " -> "▁")
static int is_space_replace(const json_t *n) {
    return is_type(n, "Replace") && str_is(get(get(n, "pattern"), "String"), " ") && str_is(get(n, "content"), TOK_META);
}

static int is_meta_prepend(const json_t *n) { return is_type(n, "Prepend") && str_is(get(n, "prepend"), TOK_META); }

// ---------------------------------------------------------------------------------------------
// Normaliser / pre-tokenizer forms (spec/data.md 5.2):
//   legacy: normalizer Sequence[Prepend("▁"), Replace(" " -> "▁")], pre_tokenizer null;
//   newer:  normalizer null, pre_tokenizer Metaspace("▁", prepend_scheme, split).
// Returns 0 and sets t->prefix (and *split_all for Metaspace split=true), or -1 with err set.
static int check_text_pipeline(const json_t *root, tokenizer *t, int *split_all, tok_error *err) {
    const json_t *norm = get(root, "normalizer");
    const json_t *pre = get(root, "pre_tokenizer");
    *split_all = 0;
    if (!is_null(norm)) {
        const json_t *list = is_type(norm, "Sequence") ? get(norm, "normalizers") : NULL;
        const json_t *n0 = json_array_get(list, 0), *n1 = json_array_get(list, 1);
        int ok = json_is_array(list) && json_array_size(list) == 2 &&
                 ((is_meta_prepend(n0) && is_space_replace(n1)) || (is_space_replace(n0) && is_meta_prepend(n1)));
        if (!ok) {
            set_err(err, SCOUT_EXIT_DATA,
                    "normalizer is %s, not Sequence[Prepend(\"▁\"), Replace(\" \" -> \"▁\")]: " FAMILY_HINT,
                    type_of(norm));
            return -1;
        }
        if (!is_null(pre)) {
            set_err(err, SCOUT_EXIT_DATA, "pre_tokenizer is %s, expected null with this normalizer: " FAMILY_HINT,
                    type_of(pre));
            return -1;
        }
        t->prefix = TOK_PREFIX_ALWAYS;
        return 0;
    }
    if (!is_type(pre, "Metaspace")) {
        set_err(err, SCOUT_EXIT_DATA, "normalizer is null and pre_tokenizer is %s (byte-level BPE?): " FAMILY_HINT,
                type_of(pre));
        return -1;
    }
    const char *rep = str_field(pre, "replacement");
    if (!rep || strcmp(rep, TOK_META) != 0) {
        set_err(err, SCOUT_EXIT_DATA, "Metaspace replacement is not \"▁\" (U+2581): " FAMILY_HINT);
        return -1;
    }
    const char *scheme = str_field(pre, "prepend_scheme");
    const json_t *aps = get(pre, "add_prefix_space");
    if (scheme) {
        if (strcmp(scheme, "first") == 0 || strcmp(scheme, "always") == 0) {
            // "first" and "always" differ only between special tokens, which are never parsed here.
            t->prefix = TOK_PREFIX_UNLESS_META;
        } else if (strcmp(scheme, "never") == 0) {
            t->prefix = TOK_PREFIX_NEVER;
        } else {
            set_err(err, SCOUT_EXIT_DATA, "unknown Metaspace prepend_scheme \"%s\"", scheme);
            return -1;
        }
    } else {
        t->prefix = (aps == NULL || json_is_true(aps)) ? TOK_PREFIX_UNLESS_META : TOK_PREFIX_NEVER;
    }
    // Files written before the "split" option existed always split (tokenizers < 0.19).
    const json_t *split = get(pre, "split");
    *split_all = split == NULL || json_is_true(split);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// The model section.

static int check_model(const json_t *model, tok_error *err) {
    if (!json_is_object(model)) {
        set_err(err, SCOUT_EXIT_DATA, "no \"model\" object: is this a Hugging Face tokenizer.json?");
        return -1;
    }
    const char *type = str_field(model, "type");
    if (type ? strcmp(type, "BPE") != 0 : get(model, "merges") == NULL) {
        set_err(err, SCOUT_EXIT_DATA, "model type is %s, not BPE: " FAMILY_HINT, type ? type : "(none)");
        return -1;
    }
    if (!json_is_true(get(model, "byte_fallback"))) {
        set_err(err, SCOUT_EXIT_DATA, "BPE model without byte_fallback: " FAMILY_HINT);
        return -1;
    }
    const json_t *dropout = get(model, "dropout");
    if (!is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0)) {
        set_err(err, SCOUT_EXIT_DATA, "BPE dropout is set (random tokenization): refusing");
        return -1;
    }
    if (!is_unset_str(model, "continuing_subword_prefix") || !is_unset_str(model, "end_of_word_suffix")) {
        set_err(err, SCOUT_EXIT_DATA, "BPE with continuing_subword_prefix / end_of_word_suffix: " FAMILY_HINT);
        return -1;
    }
    if (json_is_true(get(model, "ignore_merges"))) {
        set_err(err, SCOUT_EXIT_DATA, "BPE with ignore_merges=true (a Llama-3 style option): " FAMILY_HINT);
        return -1;
    }
    if (!json_is_object(get(model, "vocab")) || !json_is_array(get(model, "merges"))) {
        set_err(err, SCOUT_EXIT_DATA, "model.vocab must be an object and model.merges an array");
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

typedef struct piece_tmp {
    const char *s; // NULL until seen; NUL-terminated (jansson's), len authoritative
    size_t len;
} piece_tmp;

static uint64_t pow2_at_least(uint64_t n) {
    uint64_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

// Id of a piece of model.vocab by its text (through jansson's hash of the object); -1 when absent.
// collect_pieces has checked every value of model.vocab is an id.
static int64_t vocab_id_n(const json_t *vocab, const char *s, size_t n) {
    uint32_t id;
    return get_id(json_object_getn(vocab, s, n), &id) ? (int64_t)id : -1;
}

static int64_t vocab_id(const json_t *vocab, const char *s) { return vocab_id_n(vocab, s, strlen(s)); }

// Collects model.vocab and added_tokens into pieces[id]; sets vocab_size and the special flags.
static piece_tmp *collect_pieces(json_t *root, json_t *vocab, tokenizer *t, tok_error *err) {
    json_t *added = get(root, "added_tokens"), *v, *a;
    const char *key;
    size_t key_len, i;
    int64_t max_id = -1;
    uint32_t id;
    json_object_foreach(vocab, key, v) {
        if (!get_id(v, &id)) {
            set_err(err, SCOUT_EXIT_DATA, "model.vocab[\"%s\"] is not a valid id", key);
            return NULL;
        }
        if (id > max_id) max_id = id;
    }
    if (!is_null(added) && !json_is_array(added)) {
        set_err(err, SCOUT_EXIT_DATA, "added_tokens is not an array");
        return NULL;
    }
    json_array_foreach(added, i, a) {
        if (!get_id(get(a, "id"), &id) || !json_is_string(get(a, "content"))) {
            set_err(err, SCOUT_EXIT_DATA, "added_tokens[%zu] has no valid id or content", i);
            return NULL;
        }
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) {
        set_err(err, SCOUT_EXIT_DATA, "the vocabulary is empty");
        return NULL;
    }
    t->vocab_size = (uint32_t)(max_id + 1);
    piece_tmp *pieces = xcalloc(t->vocab_size, sizeof *pieces);
    t->is_special = xcalloc(t->vocab_size, 1);
    json_object_keylen_foreach(vocab, key, key_len, v) {
        get_id(v, &id);
        if (pieces[id].s) {
            set_err(err, SCOUT_EXIT_DATA, "id %u is used by two pieces (\"%s\" and \"%s\")", id, pieces[id].s, key);
            return pieces; // the caller frees; err says it failed
        }
        pieces[id] = (piece_tmp){key, key_len};
    }
    json_array_foreach(added, i, a) {
        const json_t *content = get(a, "content");
        const char *s = json_string_value(content);
        size_t len = json_string_length(content);
        get_id(get(a, "id"), &id);
        if (pieces[id].s && (pieces[id].len != len || memcmp(pieces[id].s, s, len) != 0)) {
            set_err(err, SCOUT_EXIT_DATA, "added token \"%s\" has id %u, which the vocabulary gives to \"%s\"", s, id,
                    pieces[id].s);
            return pieces;
        }
        pieces[id] = (piece_tmp){s, len};
        if (json_is_true(get(a, "special"))) t->is_special[id] = 1;
    }
    for (id = 0; id < t->vocab_size; id++)
        if (!pieces[id].s) {
            set_err(err, SCOUT_EXIT_DATA, "no piece has id %u (ids must be 0..%u without holes)", id, t->vocab_size - 1);
            return pieces;
        }
    return pieces;
}

static int build_char_tables(tokenizer *t, const piece_tmp *pieces, const json_t *vocab, tok_error *err) {
    for (int c = 0; c < 128; c++) t->ascii_id[c] = -1;
    uint32_t n_cp = 0;
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        uint32_t cp;
        const uint8_t *s = (const uint8_t *)pieces[id].s;
        if (pieces[id].len && utf8_decode(s, pieces[id].len, &cp) == (int)pieces[id].len && cp >= 0x80) n_cp++;
    }
    t->cp_mask = (uint32_t)pow2_at_least(2 * (uint64_t)n_cp) - 1;
    t->cps = xcalloc((size_t)t->cp_mask + 1, sizeof *t->cps);
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        uint32_t cp;
        const uint8_t *s = (const uint8_t *)pieces[id].s;
        if (!pieces[id].len || utf8_decode(s, pieces[id].len, &cp) != (int)pieces[id].len) continue;
        // A character's piece is the one model.vocab gives it, as HF looks it up there.
        int64_t vid = vocab_id_n(vocab, pieces[id].s, pieces[id].len);
        if (vid != (int64_t)id) continue;
        if (cp < 0x80) {
            t->ascii_id[cp] = (int32_t)id;
            continue;
        }
        uint32_t i = (uint32_t)tok_mix64(cp) & t->cp_mask;
        while (t->cps[i].cp != 0 && t->cps[i].cp != cp) i = (i + 1) & t->cp_mask;
        t->cps[i] = (tok_cp){cp, id};
    }
    // Byte fallback pieces: all 256, consecutive in byte order (3..258 in Llama-2 and Mistral).
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int64_t id = vocab_id(vocab, name);
        if (id < 0) {
            set_err(err, SCOUT_EXIT_DATA, "byte piece %s is missing (byte fallback needs <0x00>..<0xFF>): " FAMILY_HINT,
                    name);
            return -1;
        }
        t->byte_id[b] = (uint32_t)id;
        if (b > 0 && t->byte_id[b] != t->byte_id[0] + (uint32_t)b) {
            set_err(err, SCOUT_EXIT_DATA, "byte pieces are not consecutive (%s has id %u, <0x00> has %u): " FAMILY_HINT,
                    name, t->byte_id[b], t->byte_id[0]);
            return -1;
        }
    }
    int64_t meta = vocab_id(vocab, TOK_META);
    if (meta < 0) {
        set_err(err, SCOUT_EXIT_DATA, "the vocabulary has no \"▁\" piece: " FAMILY_HINT);
        return -1;
    }
    t->meta_id = (uint32_t)meta;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Merges.

// 1 when s[0..n) has "▁" right after a character that is not "▁": such a merge could join two
// pre-split chunks, so the pre-split would not be exact.
static int crosses_chunk_boundary(const char *s, size_t n) {
    for (size_t p = 3; p + 3 <= n; p++)
        if (memcmp(s + p, TOK_META, 3) == 0 && memcmp(s + p - 3, TOK_META, 3) != 0) return 1;
    return 0;
}

static void pair_insert(tokenizer *t, uint32_t left, uint32_t right, uint32_t rank) {
    // A pair listed twice keeps its last rank, as HF's HashMap collect() does.
    if (t->pairs32) {
        uint32_t key = left * t->vocab_size + right + 1;
        uint32_t i = (key * 0x9E3779B1u) >> t->pair_shift;
        while (t->pairs32[i].key != 0 && t->pairs32[i].key != key) i = (i + 1) & (uint32_t)t->pair_mask;
        t->pairs32[i] = (tok_pair32){key, rank};
    } else {
        uint64_t key = (uint64_t)left << 32 | right;
        uint64_t i = tok_mix64(key) & t->pair_mask;
        while (t->pairs64[i].key != TOK_PAIR64_EMPTY && t->pairs64[i].key != key) i = (i + 1) & t->pair_mask;
        t->pairs64[i] = (tok_pair64){key, rank, 0};
    }
}

static int build_merges(tokenizer *t, const json_t *vocab, const json_t *merges, tok_error *err) {
    size_t n = json_array_size(merges);
    if (n >= UINT32_MAX) {
        set_err(err, SCOUT_EXIT_DATA, "too many merges (%zu)", n);
        return -1;
    }
    t->n_merges = (uint32_t)n;
    uint64_t slots = pow2_at_least(2 * (uint64_t)n);
    t->pair_mask = slots - 1;
    t->pair_shift = 32;
    while (((uint64_t)1 << (32 - t->pair_shift)) < slots) t->pair_shift--;
    if (t->vocab_size <= 65535 && slots <= ((uint64_t)1 << 31)) {
        t->pairs32 = xcalloc(slots, sizeof *t->pairs32); // key 0: empty
    } else {
        t->pairs64 = xmalloc(slots * sizeof *t->pairs64);
        for (uint64_t i = 0; i < slots; i++) t->pairs64[i].key = TOK_PAIR64_EMPTY;
    }
    t->merge_id = xmalloc((n ? n : 1) * sizeof *t->merge_id);
    t->presplit = 1;
    size_t cap = 256;
    char *buf = xmalloc(cap);
    for (size_t r = 0; r < n; r++) {
        const json_t *m = json_array_get(merges, r), *m0 = json_array_get(m, 0), *m1 = json_array_get(m, 1);
        const char *a, *b;
        size_t la, lb;
        if (json_is_string(m)) { // "a b" (tokenizers < 0.20)
            const char *s = json_string_value(m);
            size_t len = json_string_length(m);
            const char *sp = memchr(s, ' ', len);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s))) {
                set_err(err, SCOUT_EXIT_DATA, "merges[%zu] = \"%s\" is not two pieces separated by one space", r, s);
                free(buf);
                return -1;
            }
            a = s, la = (size_t)(sp - s), b = sp + 1, lb = len - la - 1;
        } else if (json_array_size(m) == 2 && json_is_string(m0) && json_is_string(m1)) { // ["a", "b"] (tokenizers >= 0.20)
            a = json_string_value(m0), la = json_string_length(m0);
            b = json_string_value(m1), lb = json_string_length(m1);
        } else {
            set_err(err, SCOUT_EXIT_DATA, "merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", r);
            free(buf);
            return -1;
        }
        if (la + lb + 1 > cap) {
            cap = 2 * (la + lb + 1);
            buf = xrealloc(buf, cap);
        }
        memcpy(buf, a, la), memcpy(buf + la, b, lb), buf[la + lb] = 0;
        int64_t ia = vocab_id_n(vocab, a, la), ib = vocab_id_n(vocab, b, lb), iab = vocab_id_n(vocab, buf, la + lb);
        if (ia < 0 || ib < 0 || iab < 0) {
            set_err(err, SCOUT_EXIT_DATA, "merges[%zu] (\"%.*s\" + \"%.*s\"): %s is not in the vocabulary", r, (int)la,
                    a, (int)lb, b, ia < 0 ? "the left piece" : ib < 0 ? "the right piece" : "the merged piece");
            free(buf);
            return -1;
        }
        pair_insert(t, (uint32_t)ia, (uint32_t)ib, (uint32_t)r);
        t->merge_id[r] = (uint32_t)iab;
        if (crosses_chunk_boundary(buf, la + lb)) t->presplit = 0;
    }
    free(buf);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Piece and decode tables.

static void build_piece_tables(tokenizer *t, const piece_tmp *pieces) {
    size_t total = 0;
    for (uint32_t id = 0; id < t->vocab_size; id++) total += pieces[id].len + 1;
    t->piece_off = xmalloc(((size_t)t->vocab_size + 1) * sizeof *t->piece_off);
    t->piece_blob = xmalloc(total);
    t->dec_off = xmalloc(((size_t)t->vocab_size + 1) * sizeof *t->dec_off);
    t->dec_blob = xmalloc(total); // decoded text is never longer than the piece
    size_t p = 0, d = 0;
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        t->piece_off[id] = (uint32_t)p;
        memcpy(t->piece_blob + p, pieces[id].s, pieces[id].len);
        p += pieces[id].len;
        t->piece_blob[p++] = 0;
        t->dec_off[id] = (uint32_t)d;
        if (t->is_special[id]) continue; // control pieces decode to nothing
        if (id >= t->byte_id[0] && id <= t->byte_id[255]) {
            t->dec_blob[d++] = (uint8_t)(id - t->byte_id[0]);
            continue;
        }
        const char *s = pieces[id].s;
        for (size_t i = 0; i < pieces[id].len;) {
            if (i + 3 <= pieces[id].len && memcmp(s + i, TOK_META, 3) == 0) {
                t->dec_blob[d++] = ' ';
                i += 3;
            } else {
                t->dec_blob[d++] = (uint8_t)s[i++];
            }
        }
    }
    // piece_off[vocab_size] points past the last NUL; lengths subtract that NUL.
    t->piece_off[t->vocab_size] = (uint32_t)p;
    t->dec_off[t->vocab_size] = (uint32_t)d;
}

// ---------------------------------------------------------------------------------------------

tokenizer *tokenizer_load_buffer(const char *json, size_t n, const char *name, tok_error *err) {
    if (err) err->code = 0, err->msg[0] = 0;
    if (n >= UINT32_MAX) {
        set_err(err, SCOUT_EXIT_DATA, "%zu bytes is too large for a tokenizer.json", n);
        return NULL;
    }
    // Any value at the top (so a non-object gets its own message below); "\u0000" inside strings.
    json_error_t jerr;
    json_t *root = json_loadb(json, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        set_err(err, SCOUT_EXIT_DATA, "not valid JSON (%s at line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    tokenizer *t = xcalloc(1, sizeof *t);
    t->name = xstrdup(name ? name : "<tokenizer>");
    uint8_t digest[32];
    sha256_buffer(json, n, digest);
    memcpy(t->fingerprint, digest, 8);
    piece_tmp *pieces = NULL;
    int split_all = 0;
    json_t *model = get(root, "model"), *vocab = get(model, "vocab");
    if (!json_is_object(root)) {
        set_err(err, SCOUT_EXIT_DATA, "not a JSON object: is this a tokenizer.json?");
        goto fail;
    }
    if (check_model(model, err) < 0) goto fail;
    if (check_text_pipeline(root, t, &split_all, err) < 0) goto fail;
    t->split_all = split_all;
    pieces = collect_pieces(root, vocab, t, err);
    if (!pieces || (err && err->code)) goto fail;
    if (build_char_tables(t, pieces, vocab, err) < 0) goto fail;
    if (build_merges(t, vocab, get(model, "merges"), err) < 0) goto fail;
    build_piece_tables(t, pieces);
    int64_t bos = vocab_id(vocab, "<s>"), eos = vocab_id(vocab, "</s>");
    const char *unk = str_field(model, "unk_token");
    int64_t unk_id = unk ? vocab_id(vocab, unk) : -1;
    t->bos_id = bos >= 0 ? (uint32_t)bos : TOK_NONE;
    t->eos_id = eos >= 0 ? (uint32_t)eos : TOK_NONE;
    t->unk_id = unk_id >= 0 ? (uint32_t)unk_id : TOK_NONE;
    t->strip_space = t->prefix != TOK_PREFIX_NEVER;
    t->cache = tok_cache_new();
    free(pieces);
    json_decref(root);
    return t;
fail:
    free(pieces);
    json_decref(root);
    tokenizer_free(t);
    return NULL;
}

tokenizer *tokenizer_load(const char *path, tok_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        set_err(err, SCOUT_EXIT_IO, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size >= UINT32_MAX) {
        set_err(err, SCOUT_EXIT_DATA, "%s: not a regular, non-empty file of a sensible size", path);
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = xmalloc(n);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            set_err(err, SCOUT_EXIT_IO, "%s: read failed at byte %zu: %s", path, got, r < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)r;
    }
    close(fd);
    tokenizer *t = tokenizer_load_buffer(buf, n, path, err);
    free(buf);
    if (!t && err) {
        // Prefix the path so the caller's message names the file.
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        snprintf(err->msg, sizeof err->msg, "%.200s: %.300s", path, msg);
    }
    return t;
}

void tokenizer_free(tokenizer *t) {
    if (!t) return;
    free(t->name);
    free(t->piece_blob);
    free(t->piece_off);
    free(t->is_special);
    free(t->dec_blob);
    free(t->dec_off);
    free(t->pairs32);
    free(t->pairs64);
    free(t->merge_id);
    free(t->cps);
    tok_cache_free(t->cache);
    free(t);
}

uint32_t tokenizer_vocab_size(const tokenizer *t) { return t->vocab_size; }
uint32_t tokenizer_bos_id(const tokenizer *t) { return t->bos_id; }
uint32_t tokenizer_eos_id(const tokenizer *t) { return t->eos_id; }
const uint8_t *tokenizer_fingerprint(const tokenizer *t) { return t->fingerprint; }
uint32_t tokenizer_merge_count(const tokenizer *t) { return t->n_merges; }
int tokenizer_presplit(const tokenizer *t) { return t->presplit; }

const char *tokenizer_piece(const tokenizer *t, uint32_t id, size_t *len) {
    if (id >= t->vocab_size) return NULL;
    if (len) *len = t->piece_off[id + 1] - t->piece_off[id] - 1;
    return t->piece_blob + t->piece_off[id];
}
