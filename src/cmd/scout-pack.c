// scout-pack: token streams (DESIGN.md format 2) to LITPKDS packed shards (format 3), or --inspect shards.
//
// Semantics are those of lit-gpt's PackedDatasetBuilder (spec/data.md §8.2): documents back to back,
// split across chunk boundaries, the last partial chunk padded with EOS. Shards are written under
// temporary names and renamed only when every input has been read and checked, so bad input or a
// signal leaves no shard behind.
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "packed.h"
#include "progress.h"
#include "sig.h"
#include "tokstream.h"
#include "xio.h"

enum {
    OPT_PREFIX = 256, OPT_VAL_PREFIX, OPT_BLOCK, OPT_CHUNK_SIZE, OPT_DROP_LAST, OPT_VAL_FRACTION, OPT_VAL_EVERY,
    OPT_SEED, OPT_PAD, OPT_INSPECT, OPT_EOS,
};

static const cli_option options[] = {
    {"output", 'o', CLI_ARG, "DIR", "write shards NAME_%010d.bin into DIR (created if missing); '-' writes a packed stream to stdout (the default when stdout is not a terminal)"},
    {"prefix", OPT_PREFIX, CLI_ARG, "NAME", "shard name prefix (default: train)"},
    {"block", OPT_BLOCK, CLI_ARG, "N", "training context length; chunk_size = (N+1) x 1024 tokens (default: 2048)"},
    {"chunk-size", OPT_CHUNK_SIZE, CLI_ARG, "N", "tokens per chunk, overriding --block"},
    {"drop-last", OPT_DROP_LAST, CLI_NOARG, NULL, "drop the last partial chunk instead of padding it with EOS"},
    {"val-fraction", OPT_VAL_FRACTION, CLI_ARG, "F", "send a deterministic fraction F of the documents to validation shards"},
    {"val-every", OPT_VAL_EVERY, CLI_ARG, "K", "send every K-th document (K-1, 2K-1, ...) to validation shards"},
    {"val-prefix", OPT_VAL_PREFIX, CLI_ARG, "NAME", "validation shard prefix (default: val)"},
    {"seed", OPT_SEED, CLI_ARG, "N", "seed of the --val-fraction selection (default: 3407)"},
    {"pad", OPT_PAD, CLI_ARG, "ID", "padding token (default: the stream's EOS)"},
    {"force", 'f', CLI_NOARG, NULL, "replace shards with the same prefix already in DIR"},
    {"inspect", OPT_INSPECT, CLI_NOARG, NULL, "check the packed shards or streams given as arguments and print their contents"},
    {"eos", OPT_EOS, CLI_ARG, "ID", "with --inspect: the EOS/padding id to count (default: 2)"},
    {0},
};

static const cli_spec spec = {
    .tool = "scout-pack",
    .synopsis = "[OPTIONS] [TOKENS.bin...]   |   scout-pack --inspect SHARD.bin...",
    .summary =
        "Packs token streams (from scout-tokenize; stdin when no file is given) into LITPKDS chunks of\n"
        "chunk_size tokens, byte-compatible with lit-gpt / TinyLlama PackedDataset: documents back to back,\n"
        "split across chunks, the last chunk padded with EOS. Token ids >= 65500 use int32 chunks, others uint16.\n"
        "All inputs must come from the same tokenizer. Nothing is left behind on error or interruption.",
    .examples =
        "  scout-tokenize -t data/tokenizers/mistral.json docs.jsonl | scout-pack -o shards --prefix train\n"
        "  scout-pack --block 4096 --val-fraction 0.01 -o shards tokens.bin\n"
        "  scout-pack tokens.bin | scout-train --model configs/scout_swa_tiny.json\n"
        "  scout-pack --inspect shards/train_*.bin",
    .options = options,
};

typedef struct pack_args {
    const char *output;    // NULL: stdout if not a terminal
    const char *prefix, *val_prefix;
    uint64_t block, chunk_size;
    int drop_last, force;
    double val_fraction;   // 0: off
    uint64_t val_every;    // 0: off
    uint64_t seed;
    int64_t pad;           // -1: the stream's EOS
    char **inputs;
    int n_inputs;
} pack_args;

// splitmix64: a good 64-bit mix, so the validation choice of document i depends only on (seed, i).
static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int doc_is_val(const pack_args *a, uint64_t doc) {
    if (a->val_every) return doc % a->val_every == a->val_every - 1;
    if (a->val_fraction > 0) return (double)(mix64(a->seed ^ mix64(doc)) >> 11) * 0x1p-53 < a->val_fraction;
    return 0;
}

static void make_dir(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) die(SCOUT_EXIT_USAGE, "output path too long");
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                die(SCOUT_EXIT_IO, "cannot create directory %s: %s", path, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
}

// Shards "<dir>/<prefix>_NNNNNNNNNN.bin" that exist now; used to refuse or replace an earlier run.
static size_t existing_shards(const char *dir, const char *prefix, glob_t *g) {
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/%s_[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9].bin", dir, prefix);
    memset(g, 0, sizeof *g);
    if (glob(pattern, 0, NULL, g) != 0) return 0;
    return g->gl_pathc;
}

// After a successful run with --force: remove shards of an earlier, longer run beyond the new count.
static void remove_stale(const char *dir, const char *prefix, uint64_t keep) {
    glob_t g;
    size_t n = existing_shards(dir, prefix, &g);
    size_t plen = strlen(dir) + 1 + strlen(prefix) + 1;
    for (size_t i = 0; i < n; i++) {
        unsigned long long idx = strtoull(g.gl_pathv[i] + plen, NULL, 10);
        if (idx >= keep && unlink(g.gl_pathv[i]) != 0)
            die(SCOUT_EXIT_IO, "cannot remove stale shard %s: %s", g.gl_pathv[i], strerror(errno));
    }
    globfree(&g);
}

static uint64_t total_input_bytes(const pack_args *a) {
    uint64_t total = 0;
    for (int i = 0; i < a->n_inputs; i++) {
        struct stat st;
        if (strcmp(a->inputs[i], "-") == 0 || stat(a->inputs[i], &st) != 0 || !S_ISREG(st.st_mode)) return 0;
        total += (uint64_t)st.st_size;
    }
    return total;
}

typedef struct pack_stats {
    uint64_t docs, val_docs, tokens;
} pack_stats;

static void pack(const pack_args *a) {
    sig_install_exit();
    int to_dir = a->output && strcmp(a->output, "-") != 0;
    if (!to_dir && fd_is_terminal(1))
        cli_usage_error(&spec, "refusing to write binary chunks to a terminal; use -o DIR or redirect stdout");
    int split = a->val_fraction > 0 || a->val_every > 0;
    if (split && !to_dir) cli_usage_error(&spec, "a validation split needs -o DIR (two sets of shards)");
    if (to_dir) {
        make_dir(a->output);
        const char *prefixes[2] = {a->prefix, split ? a->val_prefix : NULL};
        for (int k = 0; k < 2 && prefixes[k]; k++) {
            glob_t g;
            size_t n = existing_shards(a->output, prefixes[k], &g);
            if (n && !a->force)
                die(SCOUT_EXIT_USAGE, "%s already holds %zu %s_*.bin shard(s), e.g. %s; use --force to replace them",
                    a->output, n, prefixes[k], g.gl_pathv[0]);
            globfree(&g);
        }
    }

    tokstream_reader first;
    tokstream_header h0;
    int have_first = 0;
    packed_writer train, val;
    int dtype = 0;
    uint32_t pad = 0;
    uint64_t chunk_size = 0;
    pack_stats st = {0, 0, 0};
    uint64_t doc = 0; // index of the document the next token belongs to

    const size_t buf_tokens = 1 << 20; // 2-4 MiB per read: large sequential reads, bounded memory
    uint8_t *buf = xmalloc(buf_tokens * 4);
    progress prog;
    progress_init(&prog, "packed", "B", total_input_bytes(a));
    uint64_t bytes_done = 0;

    for (int i = 0; i < a->n_inputs; i++) {
        tokstream_reader r;
        tokstream_reader_open(&r, a->inputs[i]);
        if (!have_first) {
            h0 = r.h;
            first = r;
            have_first = 1;
            if (a->pad >= 0 && (uint64_t)a->pad >= h0.vocab_size)
                die(SCOUT_EXIT_USAGE, "--pad %lld is not below vocab_size %u", (long long)a->pad, h0.vocab_size);
            if (a->pad < 0 && h0.eos_id == TOKSTREAM_NO_EOS)
                die(SCOUT_EXIT_USAGE, "%s has no EOS id; give the padding token with --pad ID", r.in.name);
            if (split && h0.eos_id == TOKSTREAM_NO_EOS)
                die(SCOUT_EXIT_DATA, "%s has no EOS id, so documents cannot be told apart for a validation split",
                    r.in.name);
            pad = a->pad >= 0 ? (uint32_t)a->pad : h0.eos_id;
            dtype = litpkds_dtype_for_vocab(h0.vocab_size);
            chunk_size = a->chunk_size ? a->chunk_size : (a->block + 1) * 1024;
            if (to_dir) {
                packed_writer_init_dir(&train, a->output, a->prefix, chunk_size, dtype, pad);
                if (split) packed_writer_init_dir(&val, a->output, a->val_prefix, chunk_size, dtype, pad);
            } else {
                packed_writer_init_stream(&train, 1, "<stdout>", chunk_size, dtype, pad);
            }
        } else if (!tokstream_same_tokenizer(&h0, &r.h)) {
            char f0[17], f1[17];
            tokstream_fingerprint_hex(h0.fingerprint, f0);
            tokstream_fingerprint_hex(r.h.fingerprint, f1);
            die(SCOUT_EXIT_DATA,
                "mixed tokenizers: %s (tokenizer %s, vocab %u, eos %d) differs from %s (tokenizer %s, vocab %u, eos %d) "
                "in its header at byte 0; tokenize every input with the same tokenizer",
                r.in.name, f1, r.h.vocab_size, (int)r.h.eos_id, first.in.name, f0, h0.vocab_size, (int)h0.eos_id);
        }
        const int bpt = (int)r.h.bytes_per_token;
        size_t n;
        while ((n = tokstream_read(&r, buf, buf_tokens)) > 0) {
            st.tokens += n;
            if (!split) {
                packed_writer_add(&train, buf, bpt, n);
                if (h0.eos_id != TOKSTREAM_NO_EOS) {
                    // Count documents for the summary; a tight compare loop vectorises.
                    uint64_t e = 0;
                    if (bpt == 2) {
                        const uint16_t *t = (const uint16_t *)buf;
                        for (size_t j = 0; j < n; j++) e += t[j] == h0.eos_id;
                    } else {
                        const uint32_t *t = (const uint32_t *)buf;
                        for (size_t j = 0; j < n; j++) e += t[j] == h0.eos_id;
                    }
                    st.docs += e;
                }
            } else {
                // Route each document (its tokens up to and including its EOS) to train or validation.
                size_t start = 0;
                for (size_t j = 0; j < n; j++) {
                    uint32_t t = bpt == 2 ? ((const uint16_t *)buf)[j] : ((const uint32_t *)buf)[j];
                    if (t != h0.eos_id) continue;
                    int v = doc_is_val(a, doc);
                    packed_writer_add(v ? &val : &train, buf + start * bpt, bpt, j + 1 - start);
                    st.docs++;
                    st.val_docs += v;
                    doc++;
                    start = j + 1;
                }
                if (start < n) packed_writer_add(doc_is_val(a, doc) ? &val : &train, buf + start * bpt, bpt, n - start);
            }
            progress_update(&prog, bytes_done + r.in.offset);
        }
        bytes_done += r.in.offset;
        if (i > 0) tokstream_reader_close(&r);
    }
    if (!have_first) die(SCOUT_EXIT_DATA, "no input");
    progress_finish(&prog);

    packed_writer_finish(&train, a->drop_last);
    if (split) packed_writer_finish(&val, a->drop_last);
    if (to_dir) {
        packed_writer_commit(&train);
        if (a->force) remove_stale(a->output, a->prefix, train.chunks);
        if (split) {
            packed_writer_commit(&val);
            if (a->force) remove_stale(a->output, a->val_prefix, val.chunks);
        }
    }
    log_info("%llu tokens, %llu documents -> %llu %s chunk(s) of %llu tokens (%s)%s", (unsigned long long)st.tokens,
             (unsigned long long)st.docs, (unsigned long long)train.chunks, to_dir ? a->prefix : "stream",
             (unsigned long long)chunk_size, litpkds_dtype_name(dtype), to_dir ? "" : " on stdout");
    if (split)
        log_info("validation: %llu documents, %llu tokens -> %llu %s chunk(s)", (unsigned long long)st.val_docs,
                 (unsigned long long)val.tokens, (unsigned long long)val.chunks, a->val_prefix);
    tokstream_reader_close(&first);
    packed_writer_free(&train);
    if (split) packed_writer_free(&val);
    free(buf);
}

// --inspect: one line per file, key=value pairs, after reading every chunk to the end.
static void inspect(char **files, int n, uint32_t eos) {
    size_t cap = 1 << 20;
    uint8_t *buf = xmalloc(cap * 4);
    for (int i = 0; i < n; i++) {
        packed_reader r;
        packed_reader_open(&r, files[i]);
        uint64_t chunks = 0, tokens = 0, eos_count = 0, trailing = 0, max_id = 0, chunk_size = 0;
        int dtype = 0;
        while (packed_reader_next_chunk(&r)) {
            if (chunks && (r.h.dtype != dtype || r.h.chunk_size != chunk_size))
                log_warn("%s: chunk %llu has dtype %s, chunk_size %llu, unlike the first chunk", files[i],
                         (unsigned long long)chunks, litpkds_dtype_name(r.h.dtype), (unsigned long long)r.h.chunk_size);
            dtype = r.h.dtype;
            chunk_size = r.h.chunk_size;
            size_t k;
            while ((k = packed_reader_read(&r, buf, cap)) > 0) {
                for (size_t j = 0; j < k; j++) {
                    uint64_t t = dtype == LITPKDS_UINT16 ? ((uint16_t *)buf)[j] : (uint64_t)((uint32_t *)buf)[j];
                    max_id = t > max_id ? t : max_id;
                    if (t == eos) {
                        eos_count++;
                        trailing++;
                    } else {
                        trailing = 0;
                    }
                }
                tokens += k;
            }
            chunks++;
        }
        if (!chunks) die(SCOUT_EXIT_DATA, "%s: empty file, expected LITPKDS chunks", files[i]);
        // The final run of EOS is the last document's EOS plus the padding.
        uint64_t padding = trailing ? trailing - 1 : 0;
        printf("%s: format=LITPKDS version=1 dtype=%s chunk_size=%llu chunks=%llu tokens=%llu eos=%llu docs=%llu "
               "padding=%llu max_id=%llu\n",
               files[i], litpkds_dtype_name(dtype), (unsigned long long)chunk_size, (unsigned long long)chunks,
               (unsigned long long)tokens, (unsigned long long)eos_count, (unsigned long long)(eos_count - padding),
               (unsigned long long)padding, (unsigned long long)max_id);
        packed_reader_close(&r);
    }
    free(buf);
}

int main(int argc, char **argv) {
    pack_args a = {.prefix = "train", .val_prefix = "val", .block = 2048, .seed = 3407, .pad = -1};
    int do_inspect = 0;
    uint64_t eos = 2;
    cli_state st;
    cli_init(&st, &spec, argc, argv);
    int c;
    while ((c = cli_next(&st)) != -1) {
        switch (c) {
        case 'o': a.output = st.arg; break;
        case 'f': a.force = 1; break;
        case OPT_PREFIX: a.prefix = st.arg; break;
        case OPT_VAL_PREFIX: a.val_prefix = st.arg; break;
        case OPT_BLOCK: a.block = cli_parse_u64(&spec, "block", st.arg); break;
        case OPT_CHUNK_SIZE: a.chunk_size = cli_parse_u64(&spec, "chunk-size", st.arg); break;
        case OPT_DROP_LAST: a.drop_last = 1; break;
        case OPT_VAL_FRACTION: a.val_fraction = cli_parse_double(&spec, "val-fraction", st.arg); break;
        case OPT_VAL_EVERY: a.val_every = cli_parse_u64(&spec, "val-every", st.arg); break;
        case OPT_SEED: a.seed = cli_parse_u64(&spec, "seed", st.arg); break;
        case OPT_PAD: a.pad = (int64_t)cli_parse_u64(&spec, "pad", st.arg); break;
        case OPT_INSPECT: do_inspect = 1; break;
        case OPT_EOS: eos = cli_parse_u64(&spec, "eos", st.arg); break;
        }
    }
    int first = cli_optind();
    if (do_inspect) {
        if (first >= argc) cli_usage_error(&spec, "--inspect needs one or more shard files");
        inspect(argv + first, argc - first, (uint32_t)eos);
        return 0;
    }
    if (a.block == 0) cli_usage_error(&spec, "--block must be at least 1");
    if (a.chunk_size == 0 && a.block > (1ull << 30)) cli_usage_error(&spec, "--block %llu is too large", (unsigned long long)a.block);
    if (a.val_fraction < 0 || a.val_fraction >= 1) cli_usage_error(&spec, "--val-fraction must be in [0, 1)");
    if (a.val_fraction > 0 && a.val_every) cli_usage_error(&spec, "give --val-fraction or --val-every, not both");
    if (a.val_every == 1) cli_usage_error(&spec, "--val-every 1 would send every document to validation");
    if (*a.prefix == 0 || strchr(a.prefix, '/') || strchr(a.val_prefix, '/') || *a.val_prefix == 0)
        cli_usage_error(&spec, "--prefix and --val-prefix must be non-empty names without '/'");
    if ((a.val_fraction > 0 || a.val_every) && strcmp(a.prefix, a.val_prefix) == 0)
        cli_usage_error(&spec, "--prefix and --val-prefix must differ");
    static char *stdin_only[] = {"-"};
    a.inputs = first < argc ? argv + first : stdin_only;
    a.n_inputs = first < argc ? argc - first : 1;
    if (a.n_inputs == 1 && strcmp(a.inputs[0], "-") == 0 && fd_is_terminal(0))
        cli_usage_error(&spec, "no input: give token stream files or pipe one in (scout-tokenize ... | scout-pack ...)");
    pack(&a);
    cli_free(&st);
    return 0;
}
