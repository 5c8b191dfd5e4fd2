// tokenizer_impl.h: the tokenizer's internal tables, shared by tokenizer_load.c (builds them),
// tokenizer_encode.c and tokenizer_decode.c (read them). Not part of the public API.
#ifndef SCOUT_TOKENIZER_IMPL_H
#define SCOUT_TOKENIZER_IMPL_H

#include <stdint.h>

#include "tokenizer.h"
#include "tokenizer_cache.h"

// "▁" (U+2581), the SentencePiece space.
#define TOK_META "\xE2\x96\x81"
#define TOK_META_CP 0x2581u

// How the normaliser adds the leading "▁" (spec/data.md 5.2).
enum tok_prefix {
    TOK_PREFIX_ALWAYS = 0, // legacy Prepend("▁") normaliser: on every non-empty text
    TOK_PREFIX_UNLESS_META, // Metaspace pre-tokenizer: unless the text already starts with "▁" / " "
    TOK_PREFIX_NEVER,       // Metaspace prepend_scheme "never"
};

// Merge table: the pair (left, right) merges with priority `rank` (its index in the merges list;
// lower merges first) into merge_id[rank]. Open addressing, load <= 1/2. Two layouts of one table:
//   - compact (vocab_size <= 65535, every tokenizer of this family): 8-byte entries, key
//     left * vocab_size + right + 1 (0 marks an empty slot); 1 MiB for 60k merges, so it stays in
//     the L2 cache while the chunk cache streams through;
//   - wide (larger vocabularies): 16-byte entries, key left << 32 | right (UINT64_MAX: empty).
typedef struct tok_pair32 {
    uint32_t key;
    uint32_t rank;
} tok_pair32;

typedef struct tok_pair64 {
    uint64_t key;
    uint32_t rank;
    uint32_t pad_;
} tok_pair64;
#define TOK_PAIR64_EMPTY UINT64_MAX
#define TOK_NO_MERGE UINT32_MAX

// Code point -> id of its single-character piece, for characters outside ASCII.
typedef struct tok_cp {
    uint32_t cp; // 0 marks an empty slot (U+0000 is ASCII, so never stored here)
    uint32_t id;
} tok_cp;

struct tokenizer {
    char *name;           // the path, for messages
    uint32_t vocab_size;  // ids are 0 .. vocab_size-1, every one has a piece
    uint32_t n_merges;
    // Pieces: piece i is blob[off[i] .. off[i+1]) (not NUL-terminated inside the blob, but each piece
    // is followed by a NUL so tokenizer_piece() can hand out C strings).
    char *piece_blob;
    uint32_t *piece_off;  // [vocab_size + 1]
    uint8_t *is_special;  // [vocab_size] 1 for added special tokens (skipped when decoding)
    // Decoded text per id (what tok_decode appends): dec_blob[dec_off[i] .. dec_off[i+1]).
    uint8_t *dec_blob;
    uint32_t *dec_off;    // [vocab_size + 1]

    tok_pair32 *pairs32;  // [pair_mask + 1] compact merge table, or NULL
    tok_pair64 *pairs64;  // [pair_mask + 1] wide merge table, or NULL
    uint64_t pair_mask;
    int pair_shift;       // 32 - log2(pair_mask + 1): the compact table's hash takes the top bits
    uint32_t *merge_id;   // [n_merges] the piece each merge produces

    int32_t ascii_id[128]; // single-byte character -> id, -1 when the vocabulary lacks it
    tok_cp *cps;          // [cp_mask + 1] non-ASCII single-character pieces
    uint32_t cp_mask;
    uint32_t byte_id[256]; // <0xXX> piece of each byte (byte fallback)
    uint32_t meta_id;     // id of "▁"

    int prefix;           // enum tok_prefix
    int strip_space;      // decoding strips one leading space (the Strip decoder)
    int presplit;         // pre-split at "▁" boundaries is exact for these merges
    int split_all;        // Metaspace(split=true): HF itself cuts before every "▁"
    uint32_t bos_id, eos_id, unk_id;
    uint8_t fingerprint[8];
    tok_cache *cache;     // chunk -> ids, shared by all encoders (thread-safe, tokenizer_cache.h)
};

// 64-bit mix of a pair key (also the pair table's hash).
static inline uint64_t tok_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

// The rank of the merge of (left, right), or TOK_NO_MERGE when the pair never merges.
static inline uint32_t tok_merge_rank(const tokenizer *t, uint32_t left, uint32_t right) {
    if (t->pairs32) {
        uint32_t key = left * t->vocab_size + right + 1;
        uint32_t i = (key * 0x9E3779B1u) >> t->pair_shift; // Fibonacci hashing: top bits
        for (;; i = (i + 1) & (uint32_t)t->pair_mask) {
            const tok_pair32 *p = &t->pairs32[i];
            if (p->key == key) return p->rank;
            if (p->key == 0) return TOK_NO_MERGE;
        }
    }
    uint64_t key = (uint64_t)left << 32 | right;
    for (uint64_t i = tok_mix64(key) & t->pair_mask;; i = (i + 1) & t->pair_mask) {
        const tok_pair64 *p = &t->pairs64[i];
        if (p->key == key) return p->rank;
        if (p->key == TOK_PAIR64_EMPTY) return TOK_NO_MERGE;
    }
}

// Id of the single-character piece of non-ASCII code point cp, or -1.
static inline int64_t tok_cp_find(const tokenizer *t, uint32_t cp) {
    uint32_t i = (uint32_t)tok_mix64(cp) & t->cp_mask;
    for (;;) {
        const tok_cp *c = &t->cps[i];
        if (c->cp == cp) return c->id;
        if (c->cp == 0) return -1;
        i = (i + 1) & t->cp_mask;
    }
}

#endif
