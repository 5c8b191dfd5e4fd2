// tokenizer_encode.c: text -> ids (see tokenizer.h for the algorithm and its policies).
//
// Hot path, per chunk of the pre-split ("▁" run + word): hash the raw word bytes and the length of
// the "▁" run, probe the tokenizer's shared cache (tokenizer_cache.h; slots prefetched PIPE chunks
// ahead), copy the cached ids. The normalised text is never built: a chunk is "k times ▁" + word,
// where the word has no space, so (k, word) is its key. Cache misses build one symbol per character
// and merge them: in an array when short, with a heap and a linked list when long.
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "log.h"
#include "tokenizer_cache.h"
#include "tokenizer_impl.h"
#include "utf8.h"
#include "xio.h"

enum {
    SHORT_MAX = 32, // chunks of up to this many symbols merge in an array (O(n^2), tiny n)
    PIPE = 16,      // chunks scanned (and their cache slots prefetched) ahead of their lookup
};

struct tok_encoder {
    const tokenizer *t;
    unsigned mode;
    uint32_t *sym;       // [sym_cap] symbol ids of the chunk being merged
    size_t sym_cap;
    uint32_t *next, *prev; // [sym_cap] linked list of the heap merge (TOK_NONE: none)
    uint64_t *heap;      // [2 * sym_cap] candidate merges: rank << 32 | left position
    tok_ids tmp;         // ids of a chunk on their way into the cache (+ TOK_CACHE_IDS_INLINE slack)
};

// ---------------------------------------------------------------------------------------------
// Growable vectors.

void tok_ids_reserve(tok_ids *v, size_t extra) {
    if (v->n + extra <= v->cap) return;
    size_t cap = v->cap ? v->cap : 256;
    while (cap < v->n + extra) cap *= 2;
    v->v = xrealloc(v->v, cap * sizeof *v->v);
    v->cap = cap;
}

void tok_ids_push(tok_ids *v, uint32_t id) {
    if (v->n == v->cap) tok_ids_reserve(v, 1);
    v->v[v->n++] = id;
}

void tok_ids_free(tok_ids *v) {
    free(v->v);
    memset(v, 0, sizeof *v);
}

void tok_bytes_reserve(tok_bytes *b, size_t extra) {
    if (b->n + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + extra) cap *= 2;
    b->v = xrealloc(b->v, cap);
    b->cap = cap;
}

void tok_bytes_free(tok_bytes *b) {
    free(b->v);
    memset(b, 0, sizeof *b);
}

// ---------------------------------------------------------------------------------------------

tok_encoder *tok_encoder_new(const tokenizer *t) {
    tok_encoder *e = xcalloc(1, sizeof *e);
    e->t = t;
    return e;
}

void tok_encoder_free(tok_encoder *e) {
    if (!e) return;
    free(e->sym);
    free(e->next);
    free(e->prev);
    free(e->heap);
    tok_ids_free(&e->tmp);
    free(e);
}

void tok_encoder_set_mode(tok_encoder *e, unsigned mode) { e->mode = mode; }

static void reserve_symbols(tok_encoder *e, size_t n) {
    if (n <= e->sym_cap) return;
    size_t cap = e->sym_cap ? e->sym_cap : 1024;
    while (cap < n) cap *= 2;
    e->sym = xrealloc(e->sym, cap * sizeof *e->sym);
    free(e->next), free(e->prev), free(e->heap);
    e->next = e->prev = NULL, e->heap = NULL; // the heap merge allocates these when it needs them
    e->sym_cap = cap;
}

// ---------------------------------------------------------------------------------------------
// Symbols: one per character; spaces are "▁"; a character missing from the vocabulary, or a byte
// that is not valid UTF-8, becomes byte pieces. Returns the number of symbols written to sym.

static size_t make_symbols(const tokenizer *t, uint32_t k, const uint8_t *s, size_t n, uint32_t *sym) {
    size_t m = 0;
    for (uint32_t i = 0; i < k; i++) sym[m++] = t->meta_id;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c < 0x80) {
            int32_t id = c == ' ' ? (int32_t)t->meta_id : t->ascii_id[c];
            sym[m++] = id >= 0 ? (uint32_t)id : t->byte_id[c];
            i++;
            continue;
        }
        uint32_t cp;
        int len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) { // invalid UTF-8: this one byte as its byte piece (policy, tokenizer.h)
            sym[m++] = t->byte_id[c];
            i++;
            continue;
        }
        int64_t id = tok_cp_find(t, cp);
        if (id >= 0) {
            sym[m++] = (uint32_t)id;
        } else {
            for (int b = 0; b < len; b++) sym[m++] = t->byte_id[s[i + b]];
        }
        i += (size_t)len;
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// Array merge for short chunks: rank[i] is the rank of the pair (sym[i], sym[i+1]). Each step takes
// the lowest rank, the leftmost on ties (strict <), as HF's heap ordered by (rank, position) does.

static size_t merge_short(const tokenizer *t, uint32_t *sym, size_t n) {
    uint32_t rank[SHORT_MAX]; // [n - 1] rank of each pair (TOK_NO_MERGE: none; the max, so never best)
    for (size_t i = 0; i + 1 < n; i++) rank[i] = tok_merge_rank(t, sym[i], sym[i + 1]);
    while (n > 1) {
        uint32_t best = TOK_NO_MERGE;
        size_t b = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (rank[i] < best) best = rank[i], b = i;
        if (best == TOK_NO_MERGE) break;
        sym[b] = t->merge_id[best];
        // Drop symbol b+1 and pair b+1 (it spanned b+1, b+2); later ones shift down.
        memmove(sym + b + 1, sym + b + 2, (n - b - 2) * sizeof *sym);
        if (b + 2 < n - 1) memmove(rank + b + 1, rank + b + 2, (n - b - 3) * sizeof *rank);
        n--;
        if (b > 0) rank[b - 1] = tok_merge_rank(t, sym[b - 1], sym[b]);
        if (b + 1 < n) rank[b] = tok_merge_rank(t, sym[b], sym[b + 1]);
    }
    return n;
}

// ---------------------------------------------------------------------------------------------
// Heap merge for long chunks (as sentencepiece, HF and llama.cpp do): symbols in a doubly linked
// list, candidate merges in a min-heap keyed rank << 32 | position, so the key order is
// (rank, leftmost). A popped candidate is stale when its left symbol was absorbed or its pair changed;
// the pair changed exactly when the current pair's rank differs (a rank names one pair).

// A 4-ary min-heap: half the depth of a binary one, and the four children of a node share a cache
// line, so a chunk of millions of symbols (a 10 MB base64 blob) takes about half the cache misses.
static void heap_sift_down(uint64_t *h, size_t n, size_t i) {
    uint64_t x = h[i];
    for (;;) {
        size_t c = 4 * i + 1, best = c;
        if (c >= n) break;
        size_t end = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < end; k++)
            if (h[k] < h[best]) best = k;
        if (h[best] >= x) break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (h[p] <= x) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static size_t merge_heap(tok_encoder *e, uint32_t *sym, size_t n) {
    const tokenizer *t = e->t;
    if (n >= UINT32_MAX)
        die(SCOUT_EXIT_DATA, "a run of %zu characters without a space is too long to tokenize (limit 4 G)", n);
    if (!e->heap) {
        e->next = xmalloc(e->sym_cap * sizeof *e->next);
        e->prev = xmalloc(e->sym_cap * sizeof *e->prev);
        e->heap = xmalloc(2 * e->sym_cap * sizeof *e->heap);
    }
    uint32_t *next = e->next, *prev = e->prev;
    // Size bound: n - 1 entries at the start; a merge pops one and pushes at most two (+1), and there
    // are at most n - 1 merges, so never more than 2n - 2 entries (the array has 2 * sym_cap).
    uint64_t *heap = e->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = i + 1 < n ? (uint32_t)(i + 1) : TOK_NONE;
        prev[i] = i > 0 ? (uint32_t)(i - 1) : TOK_NONE;
        if (i + 1 < n) {
            uint32_t r = tok_merge_rank(t, sym[i], sym[i + 1]);
            if (r != TOK_NO_MERGE) heap[hn++] = (uint64_t)r << 32 | i;
        }
    }
    for (size_t i = hn / 4 + 1; i-- > 0;) heap_sift_down(heap, hn, i); // heapify: every parent, bottom up
    while (hn > 0) {
        uint64_t top = heap[0];
        heap[0] = heap[--hn];
        if (hn) heap_sift_down(heap, hn, 0);
        uint32_t pos = (uint32_t)top, rank = (uint32_t)(top >> 32);
        uint32_t right = next[pos];
        if (sym[pos] == TOK_NONE || right == TOK_NONE) continue;
        if (tok_merge_rank(t, sym[pos], sym[right]) != rank) continue;
        // Merge right into pos.
        sym[pos] = t->merge_id[rank];
        sym[right] = TOK_NONE;
        next[pos] = next[right];
        if (next[pos] != TOK_NONE) prev[next[pos]] = pos;
        if (prev[pos] != TOK_NONE) {
            uint32_t r = tok_merge_rank(t, sym[prev[pos]], sym[pos]);
            if (r != TOK_NO_MERGE) heap_push(heap, &hn, (uint64_t)r << 32 | prev[pos]);
        }
        if (next[pos] != TOK_NONE) {
            uint32_t r = tok_merge_rank(t, sym[pos], sym[next[pos]]);
            if (r != TOK_NO_MERGE) heap_push(heap, &hn, (uint64_t)r << 32 | pos);
        }
    }
    size_t m = 0;
    for (uint32_t i = 0; i != TOK_NONE; i = next[i]) sym[m++] = sym[i];
    return m;
}

// ---------------------------------------------------------------------------------------------

// Appends the ids of the chunk "k times ▁" + s[0..n) to out.
static void encode_chunk(tok_encoder *e, uint32_t k, const uint8_t *s, size_t n, tok_ids *out) {
    size_t max_sym = (size_t)k + n; // a character gives at most one symbol per byte
    reserve_symbols(e, max_sym);
    size_t m = make_symbols(e->t, k, s, n, e->sym);
    int heap = (e->mode & TOK_MODE_HEAP_ALWAYS) || (m > SHORT_MAX && !(e->mode & TOK_MODE_HEAP_NEVER));
    if (heap) {
        m = merge_heap(e, e->sym, m);
    } else if (m <= SHORT_MAX) {
        m = merge_short(e->t, e->sym, m);
    } else {
        // TOK_MODE_HEAP_NEVER on a long chunk: the naive rescan (llama2.c style), tests only.
        for (;;) {
            uint32_t best = TOK_NO_MERGE;
            size_t b = 0;
            for (size_t i = 0; i + 1 < m; i++) {
                uint32_t r = tok_merge_rank(e->t, e->sym[i], e->sym[i + 1]);
                if (r < best) best = r, b = i;
            }
            if (best == TOK_NO_MERGE) break;
            e->sym[b] = e->t->merge_id[best];
            memmove(e->sym + b + 1, e->sym + b + 2, (m - b - 2) * sizeof *e->sym);
            m--;
        }
    }
    tok_ids_reserve(out, m);
    memcpy(out->v + out->n, e->sym, m * sizeof *e->sym);
    out->n += m;
}

// Appends n ids; up to TOK_CACHE_IDS_INLINE with one fixed-size copy (the source always has that
// many readable: a slot's ids[] or the encoder's tmp, reserved with slack).
static inline void append_ids(tok_ids *out, const uint32_t *ids, size_t n) {
    tok_ids_reserve(out, n > TOK_CACHE_IDS_INLINE ? n : TOK_CACHE_IDS_INLINE);
    if (n <= TOK_CACHE_IDS_INLINE) // a constant size: a few vector moves, not a `rep movs`
        memcpy(out->v + out->n, ids, TOK_CACHE_IDS_INLINE * sizeof *ids);
    else
        memcpy(out->v + out->n, ids, n * sizeof *ids);
    out->n += n;
}

// Appends the ids of a chunk: from the shared cache, or encoded and then cached.
static void cached_chunk(tok_encoder *e, const tok_key *key, tok_ids *out) {
    size_t nids;
    const uint32_t *ids = tok_cache_find(e->t->cache, key, &nids);
    if (ids) {
        append_ids(out, ids, nids);
        return;
    }
    e->tmp.n = 0;
    encode_chunk(e, key->k, key->s, key->n, &e->tmp);
    tok_ids_reserve(&e->tmp, TOK_CACHE_IDS_INLINE); // slack for append_ids' fixed-size copy
    tok_cache_put(e->t->cache, key, e->tmp.v, e->tmp.n);
    append_ids(out, e->tmp.v, e->tmp.n);
}

// Chunks found but not yet looked up: their slots are prefetched first, so the cache's memory
// latency overlaps with scanning the text (the cache is tens of MiB: a lookup is mostly a miss in
// the CPU caches).
typedef struct pending {
    tok_key key;
    int cached; // 0: not cacheable, encode directly
} pending;

static void flush_pending(tok_encoder *e, const pending *q, int nq, tok_ids *out) {
    for (int i = 0; i < nq; i++) {
        if (q[i].cached)
            cached_chunk(e, &q[i].key, out);
        else
            encode_chunk(e, q[i].key.k, q[i].key.s, q[i].key.n, out);
    }
}

static inline void add_pending(tok_encoder *e, pending *q, int *nq, uint32_t k, const uint8_t *s, size_t n,
                               tok_ids *out) {
    pending *p = &q[(*nq)++];
    p->cached = !(e->mode & TOK_MODE_NO_CACHE) && tok_cacheable(k, n);
    if (p->cached) {
        tok_key_make(&p->key, k, s, n);
        tok_cache_prefetch(e->t->cache, &p->key);
    } else {
        p->key.s = s, p->key.n = (uint32_t)n, p->key.k = k;
    }
    if (*nq == PIPE) {
        flush_pending(e, q, *nq, out);
        *nq = 0;
    }
}

// 1 when s[i..n) starts with "▁".
static inline int is_meta_at(const uint8_t *s, size_t i, size_t n) {
    return s[i] == 0xE2 && i + 2 < n && s[i + 1] == 0x96 && s[i + 2] == 0x81;
}

// End of the word that starts at i: the next ' ' or "▁", or n.
static inline size_t word_end(const uint8_t *s, size_t j, size_t n) {
    for (;;) {
#ifdef __SSE2__
        const __m128i sp = _mm_set1_epi8(' '), e2 = _mm_set1_epi8((char)0xE2);
        for (; j + 16 <= n; j += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + j));
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, e2)));
            if (m) {
                j += (size_t)__builtin_ctz((unsigned)m);
                break;
            }
        }
#endif
        while (j < n && s[j] != ' ' && s[j] != 0xE2) j++;
        if (j >= n || s[j] == ' ' || is_meta_at(s, j, n)) return j;
        j++; // 0xE2 of another character (an em dash, a quote): part of the word
    }
}

size_t tok_encode(tok_encoder *e, const uint8_t *s, size_t n, tok_ids *out) {
    const tokenizer *t = e->t;
    size_t before = out->n;
    if (n == 0) return 0; // HF: no prefix on empty input, no tokens
    uint32_t k = 0;
    if (t->prefix == TOK_PREFIX_ALWAYS)
        k = 1;
    else if (t->prefix == TOK_PREFIX_UNLESS_META)
        k = (s[0] == ' ' || is_meta_at(s, 0, n)) ? 0 : 1;

    if ((e->mode & TOK_MODE_NO_PRESPLIT) || !(t->presplit || t->split_all)) {
        // The whole normalised text is one word, as HF sees it (make_symbols turns spaces into "▁").
        encode_chunk(e, k, s, n, out);
        return out->n - before;
    }

    // Pre-split: chunk = run of spaces / "▁" (k of them) + word up to the next space or "▁".
    pending q[PIPE];
    int nq = 0;
    size_t i = 0;
    while (i < n) {
        for (;;) {
            if (i < n && s[i] == ' ') {
                k++, i++;
            } else if (i < n && is_meta_at(s, i, n)) {
                k++, i += 3;
            } else {
                break;
            }
        }
        size_t j = i < n ? word_end(s, i, n) : n;
        if (t->split_all)
            for (; k > 1; k--) add_pending(e, q, &nq, 1, s, 0, out); // HF cuts before every "▁"
        add_pending(e, q, &nq, k, s + i, j - i, out);
        k = 0;
        i = j;
    }
    flush_pending(e, q, nq, out);
    return out->n - before;
}
