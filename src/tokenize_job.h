// tokenize_job.h: JSONL files -> token stream (scout-tokenize's encode mode), on N threads.
//
// The main thread reads the inputs in batches of whole lines (~512 KiB; a longer line makes a longer
// batch); a bounded ring of 2N+2 batches feeds N workers (each with its own encoder and cache); one
// writer thread writes finished batches strictly in input order. Memory stays bounded whatever the
// input size, and the output is byte-identical for every N. With N = 1 everything runs inline.
//
// Each line is one document: its `field` string is encoded, optionally with BOS in front, and EOS is
// appended. A bad line (malformed JSON, missing or non-string field) stops the job with an error
// naming the file and line (exit 3), or, with skip_bad, is left out and counted.
#ifndef SCOUT_TOKENIZE_JOB_H
#define SCOUT_TOKENIZE_JOB_H

#include <stdint.h>

#include "atomic.h"
#include "tokenizer.h"

typedef struct tok_output {
    int fd;             // stdout when atomic is NULL
    const char *name;   // for messages
    atomic_out *atomic; // -o FILE: written through atomic_write, committed by the caller
    uint64_t offset;    // bytes written so far
} tok_output;

void tok_output_write(tok_output *o, const void *buf, size_t n);

typedef struct tokenize_opts {
    const tokenizer *tok;
    const char *field;         // JSON field that holds the text
    char *const *inputs;       // paths, "-" for stdin
    int n_inputs;
    int threads;               // workers, >= 1
    int eos;                   // append EOS to every document
    int bos;                   // put BOS in front of every document
    int skip_bad;              // skip and count bad lines instead of failing
    int ids_text;              // ids as text, one line per document, instead of a token stream
    tok_output *out;
} tokenize_opts;

typedef struct tokenize_stats {
    uint64_t lines;           // lines read (documents + skipped)
    uint64_t docs;            // documents written
    uint64_t skipped;         // bad lines skipped (skip_bad)
    uint64_t tokens;          // ids written, BOS/EOS included
    uint64_t input_bytes;     // JSONL bytes read (decompressed)
    uint64_t text_bytes;      // bytes of document text (unescaped)
    uint64_t lone_surrogates; // "\ud800"-style escapes replaced by U+FFFD
    double seconds;
} tokenize_stats;

// Runs the whole job; dies on bad input (exit 3) or I/O errors (exit 4).
void tokenize_run(const tokenize_opts *o, tokenize_stats *st);

#endif
