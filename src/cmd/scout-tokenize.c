// scout-tokenize: JSONL documents -> token stream (DESIGN.md format 2), exactly as Hugging Face
// tokenizers encodes with a SentencePiece-BPE tokenizer.json (Llama-2, Mistral); and back (--decode).
// Flags here; the work is in tokenize_job.c, detokenize.c and tokenizer_*.c.
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "detokenize.h"
#include "log.h"
#include "sig.h"
#include "tokenize_job.h"
#include "tokenizer.h"
#include "tokstream.h"
#include "xio.h"

enum { OPT_NO_EOS = 256, OPT_BOS, OPT_SKIP_BAD, OPT_IDS, OPT_INFO };

static const cli_option options[] = {
    {"tokenizer", 't', CLI_ARG, "FILE", "Hugging Face tokenizer.json (default: $SCOUT_TOKENIZER)"},
    {"field", 'f', CLI_ARG, "NAME", "JSON field holding the text (default: text)"},
    {"threads", 'j', CLI_ARG, "N", "encoding threads (default or 0: all cores); the output is the same for every N"},
    {"output", 'o', CLI_ARG, "FILE", "write to FILE (complete or not at all) instead of stdout"},
    {"no-eos", OPT_NO_EOS, CLI_NOARG, NULL, "do not append EOS to each document (the stream's eos_id is then none)"},
    {"bos", OPT_BOS, CLI_NOARG, NULL, "put BOS in front of each document"},
    {"skip-bad", OPT_SKIP_BAD, CLI_NOARG, NULL, "skip malformed lines and lines without the field (counted, first ones named)"},
    {"decode", 'd', CLI_NOARG, NULL, "token streams -> JSONL (one document per EOS)"},
    {"ids", OPT_IDS, CLI_NOARG, NULL, "write ids as text, one line per document (with --decode: read a stream, print its ids)"},
    {"info", OPT_INFO, CLI_NOARG, NULL, "print facts about the tokenizer and exit"},
    {0},
};

static const cli_spec spec = {
    .tool = "scout-tokenize",
    .synopsis = "-t TOKENIZER.json [OPTIONS] [FILE.jsonl[.zst]...]   |   --decode -t TOKENIZER.json [TOKENS.bin...]",
    .summary =
        "Encodes JSONL documents (one per line, text in --field; stdin when no file is given; .zst read\n"
        "transparently) into a token stream on stdout: each document's ids, then EOS, in input order. Ids are\n"
        "those of Hugging Face tokenizers (no BOS, no special-token parsing) for SentencePiece-BPE tokenizers\n"
        "with byte fallback; other tokenizer families are refused.\n"
        "Policies: \"<s>\", \"</s>\" and \"<unk>\" inside text are plain text, never control ids; each byte of\n"
        "invalid UTF-8 becomes its byte token (<0xXX>); a lone \\uD800-style escape becomes U+FFFD; no\n"
        "Unicode normalisation; a literal \"\u2581\" counts as a space.\n"
        "--decode turns streams back into JSONL (special ids are dropped, bytes that are not valid UTF-8\n"
        "become U+FFFD) and refuses a stream made with another tokenizer.",
    .examples =
        "  scout-tokenize -t data/tokenizers/mistral.json data/corpora/*.jsonl > tokens.bin\n"
        "  zstdcat web.jsonl.zst | scout-tokenize -t tok.json --skip-bad | scout-pack -o shards --prefix train\n"
        "  scout-tokenize --decode -t tok.json < tokens.bin | head -n 3\n"
        "  echo '{\"text\":\"Hello world\"}' | scout-tokenize -t tok.json --ids --no-eos",
    .options = options,
};

static int default_threads(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void print_info(const tokenizer *t, const char *path) {
    char fp[17];
    tokstream_fingerprint_hex(tokenizer_fingerprint(t), fp);
    printf("file          %s\n", path);
    printf("fingerprint   %s\n", fp);
    printf("vocab_size    %u\n", tokenizer_vocab_size(t));
    printf("merges        %u\n", tokenizer_merge_count(t));
    printf("bos_id        %d\n", tokenizer_bos_id(t) == TOK_NONE ? -1 : (int)tokenizer_bos_id(t));
    printf("eos_id        %d\n", tokenizer_eos_id(t) == TOK_NONE ? -1 : (int)tokenizer_eos_id(t));
    printf("pre-split     %s\n", tokenizer_presplit(t) ? "exact (used)" : "not exact for these merges (off: slower)");
}

int main(int argc, char **argv) {
    cli_state cs;
    cli_init(&cs, &spec, argc, argv);
    const char *tok_path = getenv("SCOUT_TOKENIZER"), *field = "text", *output = NULL;
    int threads = 0, eos = 1, bos = 0, skip_bad = 0, decode = 0, ids = 0, info = 0;
    for (int c; (c = cli_next(&cs)) != -1;) {
        switch (c) {
        case 't': tok_path = cs.arg; break;
        case 'f': field = cs.arg; break;
        case 'j': {
            uint64_t n = cli_parse_u64(&spec, "threads", cs.arg);
            if (n > 1024) cli_usage_error(&spec, "--threads %llu is more than 1024", (unsigned long long)n);
            threads = (int)n;
            break;
        }
        case 'o': output = cs.arg; break;
        case OPT_NO_EOS: eos = 0; break;
        case OPT_BOS: bos = 1; break;
        case OPT_SKIP_BAD: skip_bad = 1; break;
        case 'd': decode = 1; break;
        case OPT_IDS: ids = 1; break;
        case OPT_INFO: info = 1; break;
        default: cli_usage_error(&spec, "unhandled option");
        }
    }
    if (!tok_path || !*tok_path)
        cli_usage_error(&spec, "no tokenizer: pass -t TOKENIZER.json (make deps puts Mistral's in data/tokenizers/mistral.json)");
    if (!*field) cli_usage_error(&spec, "--field needs a name");
    if (decode && (bos || !eos || skip_bad))
        cli_usage_error(&spec, "--bos, --no-eos and --skip-bad are encoding options; --decode takes the stream as it is");
    if (threads == 0) threads = default_threads();
    sig_install_exit();

    tok_error err;
    tokenizer *tok = tokenizer_load(tok_path, &err);
    if (!tok) die(err.code, "%s", err.msg);
    if (info) {
        print_info(tok, tok_path);
        tokenizer_free(tok);
        return SCOUT_EXIT_OK;
    }
    if (!decode && eos && tokenizer_eos_id(tok) == TOK_NONE)
        die(SCOUT_EXIT_DATA, "%s has no \"</s>\" piece to end documents with: pass --no-eos", tok_path);
    if (!decode && bos && tokenizer_bos_id(tok) == TOK_NONE)
        die(SCOUT_EXIT_DATA, "%s has no \"<s>\" piece for --bos", tok_path);

    int n_inputs = argc - cli_optind();
    char *stdin_only[] = {"-"};
    char *const *inputs = n_inputs > 0 ? argv + cli_optind() : stdin_only;
    if (n_inputs == 0) n_inputs = 1;

    tok_output out = {.fd = 1, .name = "<stdout>"};
    int binary = !decode && !ids;
    if (output && strcmp(output, "-") != 0) {
        out.atomic = atomic_open(output);
        out.name = output;
    } else if (binary && fd_is_terminal(1)) {
        cli_usage_error(&spec, "refusing to write a binary token stream to a terminal: redirect stdout, pipe it, or use -o FILE");
    }

    if (decode) {
        detokenize_opts o = {tok, field, inputs, n_inputs, ids, &out};
        detokenize_stats st;
        detokenize_run(&o, &st);
        if (out.atomic) atomic_commit(out.atomic);
        log_info("decoded %llu documents (%llu tokens) in %.2f s", (unsigned long long)st.docs,
                 (unsigned long long)st.tokens, st.seconds);
    } else {
        tokenize_opts o = {tok, field, inputs, n_inputs, threads, eos, bos, skip_bad, ids, &out};
        tokenize_stats st;
        tokenize_run(&o, &st);
        if (out.atomic) atomic_commit(out.atomic);
        double mb = (double)st.text_bytes / 1e6;
        log_info("%llu documents, %.2f MB of text -> %llu tokens in %.2f s (%.1f MB/s, %d thread%s)",
                 (unsigned long long)st.docs, mb, (unsigned long long)st.tokens, st.seconds,
                 st.seconds > 0 ? mb / st.seconds : 0.0, threads, threads == 1 ? "" : "s");
        if (st.skipped)
            log_warn("skipped %llu bad line%s of %llu", (unsigned long long)st.skipped, st.skipped == 1 ? "" : "s",
                     (unsigned long long)st.lines);
        if (st.lone_surrogates)
            log_warn("%llu lone UTF-16 surrogate escape%s replaced by U+FFFD", (unsigned long long)st.lone_surrogates,
                     st.lone_surrogates == 1 ? "" : "s");
    }
    tokenizer_free(tok);
    cli_free(&cs);
    return SCOUT_EXIT_OK;
}
