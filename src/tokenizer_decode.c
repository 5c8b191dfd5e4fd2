// tokenizer_decode.c: ids -> text, as the HF decoder of this family does (Replace "▁" -> " ",
// ByteFallback, Fuse, Strip one leading space). The per-id bytes are precomputed when loading.
#include <string.h>

#include "tokenizer_impl.h"

void tok_decode(const tokenizer *t, const uint32_t *ids, size_t n, tok_bytes *out) {
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        if (id >= t->vocab_size) continue; // callers validate ids; never read outside the table
        uint32_t a = t->dec_off[id], len = t->dec_off[id + 1] - a;
        tok_bytes_reserve(out, len);
        memcpy(out->v + out->n, t->dec_blob + a, len);
        out->n += len;
    }
    // Strip(" ", 1, 0): the space that the normaliser put in front of the text.
    if (t->strip_space && out->n > start && out->v[start] == ' ') {
        memmove(out->v + start, out->v + start + 1, out->n - start - 1);
        out->n--;
    }
}
