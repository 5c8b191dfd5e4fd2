// detokenize.h: token stream -> JSONL documents (scout-tokenize --decode).
//
// Every input stream's header must name the same tokenizer as -t (fingerprint and vocabulary size),
// otherwise the job stops with exit 3: decoding with another vocabulary gives fluent nonsense.
// Documents are split at the header's EOS id; each becomes {"<field>": "<text>"} on one line. A
// stream without EOS (made with --no-eos) is one document. With ids_text each document is printed
// as its ids instead, EOS included, exactly as `scout-tokenize --ids` prints them when encoding.
#ifndef SCOUT_DETOKENIZE_H
#define SCOUT_DETOKENIZE_H

#include <stdint.h>

#include "tokenize_job.h"
#include "tokenizer.h"

typedef struct detokenize_opts {
    const tokenizer *tok;
    const char *field;   // JSON field name of the output objects
    char *const *inputs; // token streams, "-" for stdin
    int n_inputs;
    int ids_text;
    tok_output *out;
} detokenize_opts;

typedef struct detokenize_stats {
    uint64_t docs, tokens, text_bytes;
    double seconds;
} detokenize_stats;

void detokenize_run(const detokenize_opts *o, detokenize_stats *st);

#endif
