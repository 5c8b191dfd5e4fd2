// tokstream.h: the token stream format (DESIGN.md, Formats 2): scout-tokenize's output, scout-pack's input.
//
//   offset size field
//   0      8    magic "SCOUTTOK"
//   8      4    u32 version = 1
//   12     4    u32 bytes per token: 2 when vocab_size <= 65536, else 4
//   16     4    u32 vocab_size
//   20     4    u32 eos_id (0xFFFFFFFF: none)
//   24     8    first 8 bytes of the SHA-256 of the tokenizer file (its fingerprint)
//   32     ...  tokens, little-endian, each document followed by eos_id
#ifndef SCOUT_TOKSTREAM_H
#define SCOUT_TOKSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "xio.h"

#define TOKSTREAM_MAGIC "SCOUTTOK"
#define TOKSTREAM_VERSION 1u
#define TOKSTREAM_HEADER_SIZE 32
#define TOKSTREAM_NO_EOS 0xFFFFFFFFu

typedef struct tokstream_header {
    uint32_t version;
    uint32_t bytes_per_token; // 2 or 4
    uint32_t vocab_size;
    uint32_t eos_id;          // TOKSTREAM_NO_EOS when documents are not separated
    uint8_t fingerprint[8];
} tokstream_header;

void tokstream_header_make(tokstream_header *h, uint32_t vocab_size, uint32_t eos_id, const uint8_t fingerprint[8]);
void tokstream_header_pack(const tokstream_header *h, uint8_t out[TOKSTREAM_HEADER_SIZE]);
// Parses and validates n bytes; returns NULL when valid, else what is wrong (a static string).
const char *tokstream_header_parse(const uint8_t *in, size_t n, tokstream_header *h);
// 1 when both streams came from the same tokenizer (fingerprint, vocabulary and EOS all agree).
int tokstream_same_tokenizer(const tokstream_header *a, const tokstream_header *b);
// "1a2b3c4d5e6f7a8b": the fingerprint as hex (buf of 17 bytes).
void tokstream_fingerprint_hex(const uint8_t fp[8], char buf[17]);

// The stream's token width for a vocabulary: 2 bytes when vocab_size <= 65536, else 4.
static inline uint32_t tokstream_bytes_per_token(uint32_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }
// Writes ids[0..n) as the stream's tokens: little-endian, bytes_per_token (2 or 4) bytes each, into dst
// (room for n * bytes_per_token bytes). Returns the bytes written. Ids are below the vocabulary size,
// so 2-byte tokens lose nothing.
size_t tokstream_encode_ids(uint8_t *dst, const uint32_t *ids, size_t n, uint32_t bytes_per_token);

typedef struct tokstream_reader {
    xin in;
    tokstream_header h;
    uint64_t tokens;     // tokens returned so far
    uint8_t carry[4];    // bytes of a token split across reads
    size_t carry_len;
} tokstream_reader;

// Opens a stream (path or "-"), reads and checks the header; bad data dies with SCOUT_EXIT_DATA.
void tokstream_reader_open(tokstream_reader *r, const char *path);
// Reads up to max_tokens tokens in the stream's own width (h.bytes_per_token bytes each) into buf.
// Every id is checked against vocab_size and a stream that ends inside a token is refused, both with
// SCOUT_EXIT_DATA naming the file and byte offset. Returns the count; 0 at the end of the stream.
size_t tokstream_read(tokstream_reader *r, void *buf, size_t max_tokens);
void tokstream_reader_close(tokstream_reader *r);

typedef struct tokstream_writer {
    int fd;
    const char *name;
    tokstream_header h;
    uint8_t *buf;        // pending bytes, flushed in large writes
    size_t len, cap;
    uint64_t offset;     // bytes written to fd so far
} tokstream_writer;

// Writes the header at once. fd stays owned by the caller.
void tokstream_writer_open(tokstream_writer *w, int fd, const char *name, const tokstream_header *h);
void tokstream_writer_put(tokstream_writer *w, const uint32_t *ids, size_t n);
void tokstream_writer_flush(tokstream_writer *w);
void tokstream_writer_close(tokstream_writer *w); // flushes and frees the buffer

#endif
