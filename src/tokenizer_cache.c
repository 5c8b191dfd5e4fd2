// tokenizer_cache.c: see tokenizer_cache.h.
#include "tokenizer_cache.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "log.h"

// Zeroed memory that costs nothing until touched.
static void *map_zero(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) die(SCOUT_EXIT_FAIL, "out of memory: cannot map %zu bytes for the token cache", bytes);
    // Lookups are random over tens of MiB: huge pages save most TLB misses and page faults. Advisory.
    madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

tok_cache *tok_cache_new(void) {
    tok_cache *c = aligned_alloc(64, sizeof *c); // the counters sit on their own cache lines
    if (!c) die(SCOUT_EXIT_FAIL, "out of memory allocating the token cache");
    memset(c, 0, sizeof *c);
    c->slots = map_zero(((size_t)1 << TOK_CACHE_BITS) * sizeof *c->slots);
    c->arena = map_zero(TOK_CACHE_ARENA);
    return c;
}

void tok_cache_free(tok_cache *c) {
    if (!c) return;
    munmap(c->slots, ((size_t)1 << TOK_CACHE_BITS) * sizeof *c->slots);
    munmap(c->arena, TOK_CACHE_ARENA);
    free(c);
}

void tok_cache_put(tok_cache *c, const tok_key *key, const uint32_t *ids, size_t nids) {
    const uint32_t n_slots = 1u << TOK_CACHE_BITS, mask = n_slots - 1;
    // Check the limit before taking a ticket, so a full cache costs one load, not a contended add.
    if (__atomic_load_n(&c->tickets, __ATOMIC_RELAXED) >= n_slots / 4 * 3) return;
    if (__atomic_fetch_add(&c->tickets, 1, __ATOMIC_RELAXED) >= n_slots / 4 * 3) return;
    size_t wbytes = key->n > TOK_CACHE_KEY_INLINE ? (key->n + 3u) & ~3u : 0;
    size_t need = wbytes + (nids > TOK_CACHE_IDS_INLINE ? nids * sizeof *ids : 0);
    uint64_t off = 0;
    if (need) {
        off = __atomic_fetch_add(&c->arena_len, need, __ATOMIC_RELAXED);
        if (off + need > TOK_CACHE_ARENA) return; // arena exhausted: short chunks still get cached
    }
    for (uint32_t i = (uint32_t)key->h & mask;; i = (i + 1) & mask) {
        tok_slot *sl = &c->slots[i];
        uint64_t h = __atomic_load_n(&sl->hash, __ATOMIC_ACQUIRE);
        if (h == key->h && sl->a == key->a && sl->b == key->b && sl->meta == key->k && sl->wn == key->n &&
            (key->n <= TOK_CACHE_KEY_INLINE || memcmp(c->arena + sl->off, key->s, key->n) == 0))
            return; // another thread cached it meanwhile
        if (h != 0) continue;
        uint64_t expected = 0;
        if (!__atomic_compare_exchange_n(&sl->hash, &expected, (uint64_t)TOK_SLOT_BUSY, 0, __ATOMIC_ACQUIRE,
                                         __ATOMIC_RELAXED))
            continue; // taken just now by another thread: probe on
        sl->a = key->a, sl->b = key->b;
        sl->meta = (uint8_t)key->k, sl->wn = (uint8_t)key->n, sl->nids = (uint8_t)nids;
        sl->off = (uint32_t)off;
        uint8_t *d = c->arena + off;
        if (wbytes) memcpy(d, key->s, key->n), d += wbytes;
        if (nids > TOK_CACHE_IDS_INLINE)
            memcpy(d, ids, nids * sizeof *ids);
        else
            memcpy(sl->ids, ids, nids * sizeof *ids);
        __atomic_store_n(&sl->hash, key->h, __ATOMIC_RELEASE); // publish: the fields above are visible first
        return;
    }
}
