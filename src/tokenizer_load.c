// tokenizer_load.c: reads a Hugging Face tokenizer.json, checks that it is a SentencePiece-BPE
// tokenizer with byte fallback (spec/data.md 5.2), and builds the tables of tokenizer_impl.h.
//
// Anything this encoder would get wrong is refused with a message that says what was found:
// another model type (Unigram, WordPiece), a byte-level BPE (GPT-2 style), no byte fallback,
// dropout, subword prefixes, another normaliser or pre-tokenizer.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcode.h"
#include "jsondom.h"
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
// Small JSON helpers over the document (jsondom.h).

static const jd_node *get(const jd_doc *d, const jd_node *obj, const char *key) { return jd_get(d, obj, key); }

static const char *str_field(const jd_doc *d, const jd_node *obj, const char *key) {
    const jd_node *v = get(d, obj, key);
    return v && v->type == JD_STRING ? v->s : NULL;
}

static int is_true(const jd_node *v) { return v && v->type == JD_TRUE; }
static int is_null(const jd_node *v) { return !v || v->type == JD_NULL; }

// 1 when obj[key] is absent, null or "" (an unset string option).
static int is_unset_str(const jd_doc *d, const jd_node *obj, const char *key) {
    const jd_node *v = get(d, obj, key);
    return is_null(v) || (v->type == JD_STRING && v->len == 0);
}

static int is_type(const jd_doc *d, const jd_node *obj, const char *type) { return jd_str_is(get(d, obj, "type"), type); }

static const char *type_of(const jd_doc *d, const jd_node *obj) {
    if (is_null(obj)) return "null";
    const char *t = str_field(d, obj, "type");
    return t ? t : "(no type)";
}

// Element i of an array, or NULL.
static const jd_node *elem(const jd_doc *d, const jd_node *arr, uint32_t i) {
    if (!arr || arr->type != JD_ARRAY) return NULL;
    uint32_t k = arr->child;
    while (k && i--) k = d->nodes[k].next;
    return jd_at(d, k);
}

// Replace(String " " -> "▁")
static int is_space_replace(const jd_doc *d, const jd_node *n) {
    return is_type(d, n, "Replace") && jd_str_is(get(d, get(d, n, "pattern"), "String"), " ") &&
           jd_str_is(get(d, n, "content"), TOK_META);
}

static int is_meta_prepend(const jd_doc *d, const jd_node *n) { return is_type(d, n, "Prepend") && jd_str_is(get(d, n, "prepend"), TOK_META); }

// ---------------------------------------------------------------------------------------------
// Normaliser / pre-tokenizer forms (spec/data.md 5.2):
//   legacy: normalizer Sequence[Prepend("▁"), Replace(" " -> "▁")], pre_tokenizer null;
//   newer:  normalizer null, pre_tokenizer Metaspace("▁", prepend_scheme, split).
// Returns 0 and sets t->prefix (and *split_all for Metaspace split=true), or -1 with err set.
static int check_text_pipeline(const jd_doc *d, const jd_node *root, tokenizer *t, int *split_all, tok_error *err) {
    const jd_node *norm = get(d, root, "normalizer");
    const jd_node *pre = get(d, root, "pre_tokenizer");
    *split_all = 0;
    if (!is_null(norm)) {
        const jd_node *list = is_type(d, norm, "Sequence") ? get(d, norm, "normalizers") : NULL;
        int ok = list && list->type == JD_ARRAY && list->len == 2 &&
                 ((is_meta_prepend(d, elem(d, list, 0)) && is_space_replace(d, elem(d, list, 1))) ||
                  (is_space_replace(d, elem(d, list, 0)) && is_meta_prepend(d, elem(d, list, 1))));
        if (!ok) {
            set_err(err, SCOUT_EXIT_DATA,
                    "normalizer is %s, not Sequence[Prepend(\"▁\"), Replace(\" \" -> \"▁\")]: " FAMILY_HINT,
                    type_of(d, norm));
            return -1;
        }
        if (!is_null(pre)) {
            set_err(err, SCOUT_EXIT_DATA, "pre_tokenizer is %s, expected null with this normalizer: " FAMILY_HINT,
                    type_of(d, pre));
            return -1;
        }
        t->prefix = TOK_PREFIX_ALWAYS;
        return 0;
    }
    if (!is_type(d, pre, "Metaspace")) {
        set_err(err, SCOUT_EXIT_DATA, "normalizer is null and pre_tokenizer is %s (byte-level BPE?): " FAMILY_HINT,
                type_of(d, pre));
        return -1;
    }
    const char *rep = str_field(d, pre, "replacement");
    if (!rep || strcmp(rep, TOK_META) != 0) {
        set_err(err, SCOUT_EXIT_DATA, "Metaspace replacement is not \"▁\" (U+2581): " FAMILY_HINT);
        return -1;
    }
    const char *scheme = str_field(d, pre, "prepend_scheme");
    const jd_node *aps = get(d, pre, "add_prefix_space");
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
        t->prefix = (aps == NULL || is_true(aps)) ? TOK_PREFIX_UNLESS_META : TOK_PREFIX_NEVER;
    }
    // Files written before the "split" option existed always split (tokenizers < 0.19).
    const jd_node *split = get(d, pre, "split");
    *split_all = split == NULL || is_true(split);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// The model section.

static int check_model(const jd_doc *d, const jd_node *model, tok_error *err) {
    if (!model || model->type != JD_OBJECT) {
        set_err(err, SCOUT_EXIT_DATA, "no \"model\" object: is this a Hugging Face tokenizer.json?");
        return -1;
    }
    const char *type = str_field(d, model, "type");
    if (type ? strcmp(type, "BPE") != 0 : get(d, model, "merges") == NULL) {
        set_err(err, SCOUT_EXIT_DATA, "model type is %s, not BPE: " FAMILY_HINT, type ? type : "(none)");
        return -1;
    }
    if (!is_true(get(d, model, "byte_fallback"))) {
        set_err(err, SCOUT_EXIT_DATA, "BPE model without byte_fallback: " FAMILY_HINT);
        return -1;
    }
    const jd_node *dropout = get(d, model, "dropout");
    if (!is_null(dropout) && !(dropout->type == JD_NUMBER && strtod(dropout->s, NULL) == 0)) {
        set_err(err, SCOUT_EXIT_DATA, "BPE dropout is set (random tokenization): refusing");
        return -1;
    }
    if (!is_unset_str(d, model, "continuing_subword_prefix") || !is_unset_str(d, model, "end_of_word_suffix")) {
        set_err(err, SCOUT_EXIT_DATA, "BPE with continuing_subword_prefix / end_of_word_suffix: " FAMILY_HINT);
        return -1;
    }
    if (is_true(get(d, model, "ignore_merges"))) {
        set_err(err, SCOUT_EXIT_DATA, "BPE with ignore_merges=true (a Llama-3 style option): " FAMILY_HINT);
        return -1;
    }
    const jd_node *vocab = get(d, model, "vocab"), *merges = get(d, model, "merges");
    if (!vocab || vocab->type != JD_OBJECT || !merges || merges->type != JD_ARRAY) {
        set_err(err, SCOUT_EXIT_DATA, "model.vocab must be an object and model.merges an array");
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

typedef struct piece_tmp {
    const char *s; // NULL until seen; NUL-terminated (jsondom), len authoritative
    size_t len;
} piece_tmp;

static uint64_t pow2_at_least(uint64_t n) {
    uint64_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

// FNV-1a: fine for the ~100k lookups of a load.
static uint64_t str_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return h;
}

// model.vocab as a hash map piece -> id (open addressing over ids; the pieces live in the document).
typedef struct vocab_map {
    const piece_tmp *pieces;
    uint32_t *slot; // [mask + 1] id + 1, 0 empty
    uint64_t mask;
} vocab_map;

// Id of a piece of model.vocab by its text; -1 when absent.
static int64_t vocab_id_n(const vocab_map *m, const char *s, size_t n) {
    for (uint64_t i = str_hash(s, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->slot[i];
        if (v == 0) return -1;
        const piece_tmp *p = &m->pieces[v - 1];
        if (p->len == n && memcmp(p->s, s, n) == 0) return v - 1;
    }
}

static int64_t vocab_id(const vocab_map *m, const char *s) { return vocab_id_n(m, s, strlen(s)); }

// Collects model.vocab and added_tokens into pieces[id] and the vocab map; sets vocab_size and the
// special flags.
static piece_tmp *collect_pieces(const jd_doc *d, const jd_node *root, const jd_node *vocab, tokenizer *t, vocab_map *map,
                                 tok_error *err) {
    const jd_node *added = get(d, root, "added_tokens");
    int64_t max_id = -1, v;
    for (const jd_node *k = jd_at(d, vocab->child); k; k = jd_at(d, k->next)) {
        if (!jd_int(jd_at(d, k->child), &v) || v < 0 || v >= (1LL << 31)) {
            set_err(err, SCOUT_EXIT_DATA, "model.vocab[\"%s\"] is not a valid id", k->s);
            return NULL;
        }
        if (v > max_id) max_id = v;
    }
    if (!is_null(added) && added->type != JD_ARRAY) {
        set_err(err, SCOUT_EXIT_DATA, "added_tokens is not an array");
        return NULL;
    }
    uint32_t i = 0;
    for (const jd_node *a = is_null(added) ? NULL : jd_at(d, added->child); a; a = jd_at(d, a->next), i++) {
        const jd_node *content = get(d, a, "content");
        if (!jd_int(get(d, a, "id"), &v) || v < 0 || v >= (1LL << 31) || !content || content->type != JD_STRING) {
            set_err(err, SCOUT_EXIT_DATA, "added_tokens[%u] has no valid id or content", i);
            return NULL;
        }
        if (v > max_id) max_id = v;
    }
    if (max_id < 0) {
        set_err(err, SCOUT_EXIT_DATA, "the vocabulary is empty");
        return NULL;
    }
    t->vocab_size = (uint32_t)(max_id + 1);
    piece_tmp *pieces = xcalloc(t->vocab_size, sizeof *pieces);
    t->is_special = xcalloc(t->vocab_size, 1);
    map->pieces = pieces;
    map->mask = pow2_at_least(2 * (uint64_t)vocab->len) - 1;
    map->slot = xcalloc(map->mask + 1, sizeof *map->slot);
    for (const jd_node *k = jd_at(d, vocab->child); k; k = jd_at(d, k->next)) {
        jd_int(jd_at(d, k->child), &v);
        uint32_t id = (uint32_t)v;
        if (pieces[id].s) {
            set_err(err, SCOUT_EXIT_DATA, "id %u is used by two pieces (\"%s\" and \"%s\")", id, pieces[id].s, k->s);
            return pieces; // the caller frees; err says it failed
        }
        pieces[id] = (piece_tmp){k->s, k->len};
        uint64_t h = str_hash(k->s, k->len) & map->mask;
        while (map->slot[h]) h = (h + 1) & map->mask;
        map->slot[h] = id + 1;
    }
    for (const jd_node *a = is_null(added) ? NULL : jd_at(d, added->child); a; a = jd_at(d, a->next)) {
        const jd_node *content = get(d, a, "content");
        jd_int(get(d, a, "id"), &v);
        uint32_t id = (uint32_t)v;
        if (pieces[id].s && (pieces[id].len != content->len || memcmp(pieces[id].s, content->s, content->len) != 0)) {
            set_err(err, SCOUT_EXIT_DATA, "added token \"%s\" has id %u, which the vocabulary gives to \"%s\"",
                    content->s, id, pieces[id].s);
            return pieces;
        }
        pieces[id] = (piece_tmp){content->s, content->len};
        if (is_true(get(d, a, "special"))) t->is_special[id] = 1;
    }
    for (uint32_t id = 0; id < t->vocab_size; id++)
        if (!pieces[id].s) {
            set_err(err, SCOUT_EXIT_DATA, "no piece has id %u (ids must be 0..%u without holes)", id, t->vocab_size - 1);
            return pieces;
        }
    return pieces;
}

static int build_char_tables(tokenizer *t, const piece_tmp *pieces, const vocab_map *vocab, tok_error *err) {
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

static int build_merges(const jd_doc *d, tokenizer *t, const vocab_map *vocab, const jd_node *merges, tok_error *err) {
    size_t n = merges->len;
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
    const jd_node *m = jd_at(d, merges->child);
    for (size_t r = 0; r < n; r++, m = jd_at(d, m->next)) {
        const char *a, *b;
        size_t la, lb;
        if (m->type == JD_STRING) { // "a b" (tokenizers < 0.20)
            const char *sp = memchr(m->s, ' ', m->len);
            if (!sp || memchr(sp + 1, ' ', m->len - (size_t)(sp + 1 - m->s))) {
                set_err(err, SCOUT_EXIT_DATA, "merges[%zu] = \"%s\" is not two pieces separated by one space", r, m->s);
                free(buf);
                return -1;
            }
            a = m->s, la = (size_t)(sp - m->s), b = sp + 1, lb = m->len - la - 1;
        } else if (m->type == JD_ARRAY && m->len == 2 && elem(d, m, 0)->type == JD_STRING &&
                   elem(d, m, 1)->type == JD_STRING) { // ["a", "b"] (tokenizers >= 0.20)
            a = elem(d, m, 0)->s, la = elem(d, m, 0)->len;
            b = elem(d, m, 1)->s, lb = elem(d, m, 1)->len;
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
    jd_doc doc;
    char why[128];
    if (jd_parse(&doc, json, n, why, sizeof why) < 0) {
        set_err(err, SCOUT_EXIT_DATA, "not valid JSON (%s)", why);
        jd_free(&doc);
        return NULL;
    }
    tokenizer *t = xcalloc(1, sizeof *t);
    t->name = xstrdup(name ? name : "<tokenizer>");
    uint8_t digest[32];
    sha256_buffer(json, n, digest);
    memcpy(t->fingerprint, digest, 8);
    piece_tmp *pieces = NULL;
    vocab_map vocab = {0};
    int split_all = 0;
    const jd_node *root = jd_root(&doc), *model = get(&doc, root, "model");
    if (root->type != JD_OBJECT) {
        set_err(err, SCOUT_EXIT_DATA, "not a JSON object: is this a tokenizer.json?");
        goto fail;
    }
    if (check_model(&doc, model, err) < 0) goto fail;
    if (check_text_pipeline(&doc, root, t, &split_all, err) < 0) goto fail;
    t->split_all = split_all;
    pieces = collect_pieces(&doc, root, get(&doc, model, "vocab"), t, &vocab, err);
    if (!pieces || (err && err->code)) goto fail;
    if (build_char_tables(t, pieces, &vocab, err) < 0) goto fail;
    if (build_merges(&doc, t, &vocab, get(&doc, model, "merges"), err) < 0) goto fail;
    build_piece_tables(t, pieces);
    int64_t bos = vocab_id(&vocab, "<s>"), eos = vocab_id(&vocab, "</s>");
    const char *unk = str_field(&doc, model, "unk_token");
    int64_t unk_id = unk ? vocab_id(&vocab, unk) : -1;
    t->bos_id = bos >= 0 ? (uint32_t)bos : TOK_NONE;
    t->eos_id = eos >= 0 ? (uint32_t)eos : TOK_NONE;
    t->unk_id = unk_id >= 0 ? (uint32_t)unk_id : TOK_NONE;
    t->strip_space = t->prefix != TOK_PREFIX_NEVER;
    t->cache = tok_cache_new();
    free(pieces);
    free(vocab.slot);
    jd_free(&doc);
    return t;
fail:
    free(pieces);
    free(vocab.slot);
    jd_free(&doc);
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
