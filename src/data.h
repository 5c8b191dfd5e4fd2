// data.h: the training data reader: blocks of T + 1 tokens from LITPKDS packed shards (DESIGN.md format 3),
// with the reference's lit-gpt / TinyLlama PackedDataset semantics (spec/data.md §8.3, spec/model.md §11.3).
//
// Shards (`--data 'dir/train_*.bin'`):
//   1. files = the glob's matches sorted by byte order (Python's sorted()), then shuffled exactly as
//      `random.seed(seed); random.shuffle(files)` (CPython's Mersenne Twister, rng.h);
//   2. truncated to a multiple of world_size; rank k takes files k, k + world_size, ...;
//   3. read n_chunks files at a time (a "window", mmap'ed); each file holds n_blocks = chunk_size / block_size
//      blocks at token offsets that are multiples of block_size (a shorter tail is never read);
//   4. the window's n_chunks * n_blocks blocks are visited in the order of numpy's
//      `default_rng(seed + rank).permutation(n_chunks * n_blocks)` (rng.h), one generator continuing from
//      window to window; block b is block b % n_blocks of the window's file b / n_blocks;
//   5. after the last full window of the rank's list the stream wraps to its first file, forever (the
//      reference comments out the stop); files past the last full window are skipped in every epoch.
// So with the same files, seed and sizes, the blocks come in the order the reference's loader yields them.
// Differences from lit-gpt, all refusals or repairs of cases where it fails or silently misreads: every
// file's header must equal the first file's (dtype, chunk_size) and its size must match it; a rank with
// fewer than n_chunks files uses windows of all its files (lit-gpt raises IndexError), with a warning when it
// shuffles. shuffle = 0 (validation) reads each window's blocks in order, as PackedDataset(shuffle=False).
//
// Stream (`scout-train < packed.bin`, or one file): LITPKDS chunks back to back, read sequentially, the
// blocks of each chunk in order (tail dropped), until the end of input.
//
// Tokens come out as int32 (what the model's embedding takes), each checked against the model's vocabulary:
// a token >= vocab_size stops the run with exit 3, naming the file, byte offset and token.
//
// Resuming: a data_cursor is the complete position (window, place in the window's order, the generator
// state from which that order was drawn, epoch); data_seek() puts a fresh reader there, so the blocks after
// a resume are exactly those an uninterrupted run would have read next. For a stream the cursor is
// (chunk, block): resuming replays the same stream and skips what was consumed, as the reference replays
// its loader. The JSON form (trainer.json) also records the reader's identity (files, seed, rank, sizes) and
// a resume with other data is refused.
#ifndef SCOUT_DATA_H
#define SCOUT_DATA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "packed.h"
#include "rng.h"

typedef struct data_options {
    int block_size;      // tokens per block: T + 1 (input = block[0:T], target = block[1:T+1])
    uint64_t seed;       // file-list shuffle seed; the block permutations use seed + rank
    int rank, world_size;
    int n_chunks;        // files per window (8 in the reference)
    int shuffle;         // permute blocks within a window (training) or not (validation)
    uint32_t vocab_size; // every token must be < vocab_size (0: unchecked)
} data_options;

enum data_mode { DATA_SHARDS = 1, DATA_STREAM = 2 };

typedef struct data_cursor {
    int mode;           // enum data_mode
    uint64_t epoch;     // shards: passes over the rank's file list completed
    uint64_t window;    // shards: window within the epoch; stream: index of the current chunk
    uint64_t pos;       // next block: index into the window's order (shards) or within the chunk (stream)
    uint64_t blocks;    // blocks returned so far
    np_pcg64 rng;       // shards: the generator state the current window's order was drawn from
} data_cursor;

typedef struct data_map {
    uint8_t *base;      // whole file, read-only
    size_t len;
} data_map;

typedef struct data_reader {
    data_options opt;
    int mode;
    data_cursor cur;
    int dtype;          // LITPKDS dtype code of every chunk (the first one's)
    size_t item;        // bytes per token
    uint64_t chunk_size; // tokens per chunk
    uint64_t n_blocks;  // blocks per chunk
    uint8_t *scratch;   // [block_size * item] (stream)
    // shards
    char **files;       // [n_files]: this rank's files in reading order
    size_t n_files;
    int n_chunks;       // files per window, min(opt.n_chunks, n_files)
    uint64_t windows_per_epoch;
    char files_digest[17]; // first 8 bytes of SHA-256 over the rank's basenames, hex (resume identity)
    data_map *maps;     // [n_chunks]: the current window
    uint64_t *order;    // [n_chunks * n_blocks]: the current window's block order
    np_pcg64 rng;       // the live generator (after the current window's draw)
    int loaded;         // a window is mapped
    // stream
    packed_reader pr;
    const char *stream_name;
    int in_chunk;       // a chunk header has been read and its blocks are being returned
    int started;        // at least one chunk was started (data_seek must come before that)
} data_reader;

// Opens the shards matching a glob pattern. Dies (exit 4) when nothing matches or a file cannot be
// read, (exit 3) when a header is bad or disagrees with the first file's, or a chunk holds no block.
void data_open_shards(data_reader *r, const char *pattern, const data_options *opt);
// Opens a packed stream ("-" for stdin). Chunks are read as blocks are asked for.
void data_open_stream(data_reader *r, const char *path, const data_options *opt);
void data_close(data_reader *r);

// Writes the next block_size tokens to block. Returns 1, or 0 at the end of a stream (shards never end).
int data_next(data_reader *r, int32_t *block);
// Up to B blocks into out[B * block_size]; returns how many (< B only at the end of a stream).
int data_next_batch(data_reader *r, int32_t *out, int B);

// The position after the last block returned.
void data_cursor_get(const data_reader *r, data_cursor *c);
// Continues from c on a freshly opened reader of the same data (stream: before the first data_next).
// Dies (exit 3) when c does not fit this data (mode, window past the file list, stream too short).
void data_seek(data_reader *r, const data_cursor *c);

// The cursor and the reader's identity as a JSON object (for trainer.json), and back: checks the identity
// (mode, block size, seed, rank, world size, window size, file count and names), then seeks. Returns 0,
// or -1 with the reason in err.
json_t *data_cursor_to_json(const data_reader *r);
int data_cursor_from_json(data_reader *r, const json_t *j, char *err, size_t err_size);

// Index of the first token of tokens[n] that is >= vocab (or negative), or -1 when all are valid.
long data_find_bad_token(const int32_t *tokens, size_t n, uint32_t vocab);
// Shards: scans every file of this rank once and returns the largest token id; with opt.vocab_size set,
// dies (exit 3) at the first file holding a token >= vocab_size, naming file, offset and token.
uint32_t data_scan_max_token(data_reader *r);

#endif
