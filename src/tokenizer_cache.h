// tokenizer_cache.h: the chunk -> ids cache that makes encoding fast (internal to the tokenizer).
//
// One cache per tokenizer, shared by every encoder and thread: a chunk encoded by one thread is a hit
// for all, so N threads do the (expensive) merges of each distinct chunk about once, not N times,
// and scale linearly. It is an insert-only open-addressing table of 64-byte slots, lock-free:
//   - insert: take a ticket (at most 3/4 of the slots are ever used, so probes always end), claim an
//     empty slot by CAS 0 -> SLOT_BUSY, fill it, then publish the hash with a release store;
//   - lookup: acquire-load the hash; a published slot never changes again, so its fields are read
//     without locks; a busy slot is skipped (the reader encodes the chunk itself: same ids).
// When full it stops inserting: it keeps the first 3/4 M distinct chunks, which include the frequent
// words, since those come early. Memory is mapped lazily (huge pages when the kernel allows), so a
// small run touches only what it uses.
//
// A key is (k, word): k "▁" then the word's bytes (no space inside). Words of up to 16 bytes are
// compared through two 64-bit loads that hold all their bytes; longer ones also through the arena.
#ifndef SCOUT_TOKENIZER_CACHE_H
#define SCOUT_TOKENIZER_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    TOK_CACHE_BITS = 19,          // 2^19 slots = 32 MiB of address space
    TOK_CACHE_MAX_WORD = 255,     // longer words are not cached (they rarely repeat)
    TOK_CACHE_MAX_META = 255,     // longer "▁" runs likewise
    TOK_CACHE_KEY_INLINE = 16,    // words up to this long are compared through a, b only
    TOK_CACHE_IDS_INLINE = 8,     // up to this many ids live in the slot
};
#define TOK_CACHE_ARENA ((size_t)32 << 20) // bytes for long words and long id lists
#define TOK_SLOT_BUSY 2u                   // hash of a slot being written (real hashes are odd)

// One cached chunk, one cache line.
typedef struct tok_slot {
    uint64_t hash;  // 0 empty, TOK_SLOT_BUSY being written, else the key's hash (odd); atomic
    uint64_t a, b;  // key words (tok_key_make)
    uint8_t meta;   // k
    uint8_t wn;     // word length in bytes
    uint8_t nids;
    uint8_t pad_;
    uint32_t off;   // arena offset: the word (wn > 16), then the ids (nids > 8), 4-aligned
    uint32_t ids[TOK_CACHE_IDS_INLINE];
} tok_slot;
_Static_assert(sizeof(tok_slot) == 64, "a cache slot is one cache line");

typedef struct tok_cache {
    tok_slot *slots;     // [1 << TOK_CACHE_BITS], 64-byte aligned
    uint8_t *arena;      // [TOK_CACHE_ARENA]
    char pad0_[48];
    uint64_t tickets;    // inserts started (atomic), on its own cache line
    char pad1_[56];
    uint64_t arena_len;  // bytes of the arena handed out (atomic)
    char pad2_[56];
} tok_cache;

typedef struct tok_key {
    const uint8_t *s;
    uint32_t n, k;
    uint64_t a, b, h;
} tok_key;

tok_cache *tok_cache_new(void);
void tok_cache_free(tok_cache *c);
// Adds a chunk's ids (no-op when the cache is full or another thread is adding the same chunk).
void tok_cache_put(tok_cache *c, const tok_key *key, const uint32_t *ids, size_t nids);

static inline uint64_t tok_rd64(const uint8_t *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static inline uint64_t tok_rd32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

// 64x64 -> 128-bit multiply, folded (the wyhash mixing step).
static inline uint64_t tok_mum(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

// 1 when the chunk can be cached at all.
static inline int tok_cacheable(uint32_t k, size_t n) {
    // k + n bounds the ids (one per "▁" and at most one per byte), which must fit nids.
    return k <= TOK_CACHE_MAX_META && n <= TOK_CACHE_MAX_WORD && k + n <= 255;
}

// Builds the key of chunk (k, s[0..n)). For n <= 16, a and b hold every byte (overlapping loads;
// for n < 4 bytes 0, n/2 and n-1, which are all of them), so equal (k, n, a, b) means equal chunks.
// Reads only s[0..n).
static inline void tok_key_make(tok_key *key, uint32_t k, const uint8_t *s, size_t n) {
    uint64_t a, b, seed = 0xa0761d6478bd642fULL ^ ((uint64_t)k << 32 | n);
    if (n >= 8)
        a = tok_rd64(s + (n > 16 ? n - 16 : 0)), b = tok_rd64(s + n - 8);
    else if (n >= 4)
        a = tok_rd32(s), b = tok_rd32(s + n - 4);
    else if (n > 0)
        a = (uint64_t)s[0] << 16 | (uint64_t)s[n >> 1] << 8 | s[n - 1], b = 0;
    else
        a = b = 0;
    for (size_t i = 0; i + 16 < n; i += 16) seed = tok_mum(tok_rd64(s + i) ^ 0xe7037ed1a0b428dbULL, tok_rd64(s + i + 8) ^ seed);
    key->s = s, key->n = (uint32_t)n, key->k = k, key->a = a, key->b = b;
    key->h = tok_mum(0xe7037ed1a0b428dbULL ^ n, tok_mum(a ^ 0xe7037ed1a0b428dbULL, b ^ seed)) | 1;
}

static inline void tok_cache_prefetch(const tok_cache *c, const tok_key *key) {
    __builtin_prefetch(&c->slots[key->h & ((1u << TOK_CACHE_BITS) - 1)]);
}

// The cached ids of key (count in *nids), or NULL.
static inline const uint32_t *tok_cache_find(const tok_cache *c, const tok_key *key, size_t *nids) {
    const uint32_t mask = (1u << TOK_CACHE_BITS) - 1;
    for (uint32_t i = (uint32_t)key->h & mask;; i = (i + 1) & mask) {
        const tok_slot *sl = &c->slots[i];
        uint64_t h = __atomic_load_n(&sl->hash, __ATOMIC_ACQUIRE);
        if (h == 0) return NULL;
        if (h == key->h && sl->a == key->a && sl->b == key->b && sl->meta == key->k && sl->wn == key->n &&
            (key->n <= TOK_CACHE_KEY_INLINE || memcmp(c->arena + sl->off, key->s, key->n) == 0)) {
            *nids = sl->nids;
            if (sl->nids <= TOK_CACHE_IDS_INLINE) return sl->ids;
            return (const uint32_t *)(c->arena + sl->off + (key->n > TOK_CACHE_KEY_INLINE ? (key->n + 3u) & ~3u : 0));
        }
    }
}

#endif
