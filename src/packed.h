// packed.h: LITPKDS packed shards (DESIGN.md, Formats 3; spec/data.md §8), byte-compatible with the
// lit-gpt / TinyLlama PackedDataset chunk:
//
//   offset size content
//   0      7    ASCII "LITPKDS" (no NUL)
//   7      8    u64 version = 1
//   15     1    u8 dtype code (8 = uint16, 4 = int32, ...)
//   16     8    u64 chunk_size: number of tokens in the chunk
//   24     ...  chunk_size tokens, little-endian
//
// A shard file holds one chunk; a packed stream is chunks back to back (`scout-pack | scout-train`).
#ifndef SCOUT_PACKED_H
#define SCOUT_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "xio.h"

#define LITPKDS_MAGIC "LITPKDS"
#define LITPKDS_VERSION 1u
#define LITPKDS_HEADER_SIZE 24

// numpy dtype codes of lit-gpt's packed_dataset.py.
enum litpkds_dtype {
    LITPKDS_UINT8 = 1, LITPKDS_INT8 = 2, LITPKDS_INT16 = 3, LITPKDS_INT32 = 4,
    LITPKDS_INT64 = 5, LITPKDS_FLOAT32 = 6, LITPKDS_FLOAT64 = 7, LITPKDS_UINT16 = 8,
};

typedef struct litpkds_header {
    int dtype;            // enum litpkds_dtype
    uint64_t chunk_size;  // tokens
} litpkds_header;

size_t litpkds_dtype_size(int dtype);      // bytes per token; 0 for an unknown code
const char *litpkds_dtype_name(int dtype); // "uint16"
// lit-gpt's "auto" rule: uint16 when vocab_size < 65500, else int32.
int litpkds_dtype_for_vocab(uint32_t vocab_size);
void litpkds_header_pack(const litpkds_header *h, uint8_t out[LITPKDS_HEADER_SIZE]);
// NULL when valid, else what is wrong. Only integer token dtypes (uint16, int32) are accepted.
const char *litpkds_header_parse(const uint8_t in[LITPKDS_HEADER_SIZE], litpkds_header *h);

// Chunk builder with PackedDatasetBuilder's semantics: tokens fill a buffer pre-set to the padding
// token; a document that does not fit is split across chunks; a full chunk is written when it fills;
// packed_writer_finish() pads and writes the last partial chunk (unless drop_partial).
//
// Sinks: a directory (files "<prefix>_%010d.bin", written atomically and only renamed into place by
// packed_writer_commit(), so a failure leaves no shard at all) or a stream (chunks written to fd).
typedef struct packed_writer {
    uint64_t chunk_size;   // tokens per chunk
    int dtype;             // LITPKDS_UINT16 or LITPKDS_INT32
    size_t item;           // bytes per token
    uint32_t pad_id;
    const char *dir;       // directory sink (NULL for a stream)
    const char *prefix;
    int fd;                // stream sink
    const char *stream_name;
    uint64_t stream_offset;
    uint8_t *chunk;        // [LITPKDS_HEADER_SIZE + chunk_size * item]: header, then tokens
    uint64_t fill;         // tokens in the current chunk
    uint64_t chunks;       // chunks written
    uint64_t tokens;       // tokens added (padding excluded)
    atomic_out **pending;  // written shards awaiting commit
    size_t n_pending, cap_pending;
} packed_writer;

void packed_writer_init_dir(packed_writer *w, const char *dir, const char *prefix, uint64_t chunk_size, int dtype,
                            uint32_t pad_id);
void packed_writer_init_stream(packed_writer *w, int fd, const char *name, uint64_t chunk_size, int dtype,
                               uint32_t pad_id);
// Appends n tokens of src_bytes (2 or 4) each. Ids must already be valid for the dtype.
void packed_writer_add(packed_writer *w, const void *src, int src_bytes, size_t n);
// Writes the last partial chunk padded (drop_partial = 0) or discards it.
void packed_writer_finish(packed_writer *w, int drop_partial);
// Directory sink: renames every written shard into place. No-op for a stream.
void packed_writer_commit(packed_writer *w);
void packed_writer_free(packed_writer *w);

// Sequential reader of one shard file or a packed stream.
typedef struct packed_reader {
    xin in;
    litpkds_header h;     // of the current chunk
    uint64_t chunk_index; // chunks started so far
    uint64_t left;        // tokens of the current chunk not yet read
    uint64_t chunk_offset; // byte offset of the current chunk's header
} packed_reader;

void packed_reader_open(packed_reader *r, const char *path);
// Starts the next chunk: 1 when a header was read, 0 at a clean end of input. A bad or partial
// header dies with SCOUT_EXIT_DATA naming the file and byte offset.
int packed_reader_next_chunk(packed_reader *r);
// Reads up to max tokens of the current chunk into buf (h.dtype width); 0 when the chunk is done.
// A chunk cut short (file smaller than its header says) dies with SCOUT_EXIT_DATA.
size_t packed_reader_read(packed_reader *r, void *buf, size_t max);
void packed_reader_close(packed_reader *r);

#endif
