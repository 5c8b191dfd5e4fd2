// tokenizer.h: SentencePiece-BPE tokenizers with byte fallback (Llama-2, Mistral), loaded from a
// Hugging Face tokenizer.json, encoding exactly as HF tokenizers does (spec/data.md 5.2-5.5).
//
// Encode (spec/data.md 5.4): normalise (one "▁" in front, every " " -> "▁"), one symbol per UTF-8
// character (a character missing from the vocabulary becomes one <0xXX> byte symbol per byte), then
// merge adjacent pairs by merge rank, lowest rank first, ties to the leftmost pair, until no pair of
// the merges list applies. Speed comes from three things that do not change the result:
//   - the pre-split (5.5): the normalised text is cut before every "▁" that follows another
//     character, and each chunk is encoded on its own; valid because no merge of the file produces a
//     piece with "▁" after another character (checked when loading; otherwise the pre-split is off);
//   - a cache from chunk to ids, shared by all threads (lock-free, tokenizer_cache.h);
//   - short chunks merge in a small array, long ones (5,000 "a"s, a long URL) in a linked list
//     with a 4-ary heap: O(n log n), so no input is quadratic.
//
// Accepted files: model BPE with byte_fallback, no dropout or subword affixes, the 256 <0xXX> pieces
// and "▁"; normaliser Sequence[Prepend("▁"), Replace(" " -> "▁")] (the "legacy" form) or none with a
// Metaspace pre-tokenizer (prepend_scheme first/always/never, split false or true); merges as "a b"
// or ["a", "b"]. Anything else is refused with the reason.
//
// Policies (documented in --help too):
//   - Special-token strings in text ("<s>", "</s>", "<unk>") are plain text (D6): BOS/EOS are only
//     added structurally by the caller. HF would turn them into control ids.
//   - Invalid UTF-8: every byte that does not start a valid character becomes its byte token
//     (<0xXX>, id = byte + 3 in this family). Valid text never hits this.
//   - No Unicode normalisation (the tokenizers have none): NFC and NFD text give different ids.
//   - A literal U+2581 "▁" in the text is indistinguishable from a space (as in HF and sentencepiece).
#ifndef SCOUT_TOKENIZER_H
#define SCOUT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#define TOK_NONE 0xFFFFFFFFu // "no such id" (no BOS/EOS piece)

typedef struct tokenizer tokenizer;     // share it between threads (its chunk cache is thread-safe)
typedef struct tok_encoder tok_encoder; // per-thread scratch; one per thread

// Why a load failed: code is SCOUT_EXIT_IO (cannot read) or SCOUT_EXIT_DATA (not a supported file).
typedef struct tok_error {
    int code;
    char msg[512];
} tok_error;

// A growable vector of ids.
typedef struct tok_ids {
    uint32_t *v;
    size_t n, cap;
} tok_ids;

// A growable byte buffer (decoded text).
typedef struct tok_bytes {
    uint8_t *v;
    size_t n, cap;
} tok_bytes;

// Loads and checks a tokenizer.json. Returns NULL and fills err when the file cannot be read or is
// not a SentencePiece-BPE tokenizer with byte fallback (another family gets an error, never wrong ids).
tokenizer *tokenizer_load(const char *path, tok_error *err);
// The same from bytes in memory; `name` is used in messages; the fingerprint is that of the bytes.
tokenizer *tokenizer_load_buffer(const char *json, size_t n, const char *name, tok_error *err);
void tokenizer_free(tokenizer *t);

uint32_t tokenizer_vocab_size(const tokenizer *t);
uint32_t tokenizer_bos_id(const tokenizer *t); // "<s>", or TOK_NONE
uint32_t tokenizer_eos_id(const tokenizer *t); // "</s>", or TOK_NONE
// First 8 bytes of the SHA-256 of the file (DESIGN.md format 2).
const uint8_t *tokenizer_fingerprint(const tokenizer *t);
uint32_t tokenizer_merge_count(const tokenizer *t);
// 1 when the pre-split speed-up is exact for this vocabulary (see above) and therefore used.
int tokenizer_presplit(const tokenizer *t);
// The piece of an id as stored in the vocabulary ("▁the", "<0x0A>"); NULL when id >= vocab_size.
const char *tokenizer_piece(const tokenizer *t, uint32_t id, size_t *len);

tok_encoder *tok_encoder_new(const tokenizer *t);
void tok_encoder_free(tok_encoder *e);

// Appends the ids of text[0..n) (no BOS/EOS) to out; returns how many were appended.
// The text may hold any bytes, NUL included.
size_t tok_encode(tok_encoder *e, const uint8_t *text, size_t n, tok_ids *out);

// Encoder variants, for tests and for measuring what each speed-up buys. All give the same ids.
enum {
    TOK_MODE_NO_CACHE = 1,    // every chunk is merged afresh
    TOK_MODE_NO_PRESPLIT = 2, // the whole text is one chunk (as HF does it)
    TOK_MODE_HEAP_ALWAYS = 4, // the heap merge even for short chunks
    TOK_MODE_HEAP_NEVER = 8,  // the array merge even for long chunks (quadratic; tests only)
};
void tok_encoder_set_mode(tok_encoder *e, unsigned mode);

// Appends the text of ids to out as the HF decoder does: "▁" -> " ", <0xXX> pieces -> that raw byte,
// special pieces (<s>, </s>, <unk>) -> nothing; then one leading space is stripped when the tokenizer
// prepends one. The bytes may be invalid UTF-8 when the ids are not those of valid text.
void tok_decode(const tokenizer *t, const uint32_t *ids, size_t n, tok_bytes *out);

void tok_ids_push(tok_ids *v, uint32_t id);
void tok_ids_reserve(tok_ids *v, size_t extra);
void tok_ids_free(tok_ids *v);
void tok_bytes_reserve(tok_bytes *b, size_t extra);
void tok_bytes_free(tok_bytes *b);

#endif
