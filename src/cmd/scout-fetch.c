// scout-fetch: files of a Hugging Face Hub repository, resumable and verified; Parquet rows as JSONL.
//
// The first stage of the pipeline (DESIGN.md): scout-fetch | scout-tokenize | scout-pack. The Hub
// protocol (spec/data.md §2) lives in hub.c, downloads in hub_download.c, Parquet rows as JSONL in
// hub_rows.c; this file is the command line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "hub.h"
#include "hub_download.h"
#include "hub_rows.h"
#include "hub_verify.h"
#include "log.h"
#include "sig.h"
#include "xio.h"

enum {
    OPT_INCLUDE = 256, OPT_EXCLUDE, OPT_REVISION, OPT_MODEL, OPT_VERIFY, OPT_LIST, OPT_TO, OPT_PARQUET,
    OPT_COLUMNS, OPT_MAX_ROWS, OPT_RETRIES, OPT_RETRY_MAX_TIME,
};

static const cli_option options[] = {
    {"output", 'o', CLI_ARG, "DIR", "download into DIR (repository paths kept; created if missing)"},
    {"include", OPT_INCLUDE, CLI_ARG, "GLOB", "only paths matching GLOB ('*' also matches '/'; repeatable)"},
    {"exclude", OPT_EXCLUDE, CLI_ARG, "GLOB", "skip paths matching GLOB (repeatable)"},
    {"revision", OPT_REVISION, CLI_ARG, "REV", "branch, tag or commit (default: main); pinned to its commit sha"},
    {"model", OPT_MODEL, CLI_NOARG, NULL, "REPO is a model repository (default: a dataset)"},
    {"jobs", 'j', CLI_ARG, "N", "download N files at a time (default: 4)"},
    {"verify", OPT_VERIFY, CLI_NOARG, NULL, "hash files already in DIR again instead of trusting their .scout-fetch sidecar"},
    {"list", OPT_LIST, CLI_NOARG, NULL, "print size, hash and path of the matching files, download nothing"},
    {"to", OPT_TO, CLI_ARG, "FORMAT", "jsonl: print the rows of the Parquet files on stdout, in file and row order"},
    {"parquet", OPT_PARQUET, CLI_NOARG, NULL, "the arguments are local Parquet files: print their rows as JSONL"},
    {"columns", OPT_COLUMNS, CLI_ARG, "LIST", "with --to jsonl: comma-separated columns to print (default: text)"},
    {"max-rows", OPT_MAX_ROWS, CLI_ARG, "N", "with --to jsonl: stop after N rows (without -o, only the row groups needed are fetched)"},
    {"retries", OPT_RETRIES, CLI_ARG, "N", "retries of a failing request without progress (default: 5)"},
    {"retry-max-time", OPT_RETRY_MAX_TIME, CLI_ARG, "S", "seconds of waiting between retries without progress (default: 300)"},
    {0},
};

static const cli_spec spec = {
    .tool = "scout-fetch",
    .synopsis = "[OPTIONS] REPO   |   scout-fetch --parquet FILE...",
    .summary =
        "Downloads files of a Hugging Face Hub dataset (or, with --model, model) repository into -o DIR:\n"
        "the revision is pinned to a commit, files are listed through the Hub's tree API, downloaded N at a\n"
        "time into DIR/PATH.part with resume, checked against the Hub's size and SHA-256 (git blob id for\n"
        "files kept in git) and renamed into place. Files already there and verified are skipped; a re-run\n"
        "resumes .part files. Failed requests are retried with backoff, honouring Retry-After. A file whose\n"
        "bytes do not match the Hub's hash after a second download is refused (exit 3); a network failure\n"
        "that outlasts the retries stops the run (exit 4); ^C stops it with .part files kept (exit 130).\n"
        "With --to jsonl the rows of the Parquet files go to stdout as {\"text\": ...} lines, in file and row\n"
        "order, while later files still download (with -o), or read straight from the Hub by Range requests\n"
        "(without -o: footer first, then only the column chunks needed).\n"
        "Environment: HF_TOKEN (or HUGGING_FACE_HUB_TOKEN, or the token file under HF_HOME, default\n"
        "~/.cache/huggingface/token) is sent to the Hub only, never to its CDN; HF_ENDPOINT for a mirror.",
    .examples =
        "  scout-fetch HuggingFaceFW/fineweb-edu --include 'sample/10BT/*.parquet' -o data/fineweb-edu\n"
        "  scout-fetch --model fla-hub/transformer-1.3B-100B --include tokenizer.json -o data/fla\n"
        "  scout-fetch HuggingFaceFW/fineweb-edu --include 'sample/10BT/*' --to jsonl --max-rows 3\n"
        "  scout-fetch HuggingFaceFW/fineweb-edu --include 'sample/10BT/*' -o data/fw --to jsonl \\\n"
        "      | scout-tokenize -t data/tokenizers/mistral.json | scout-pack --block 4096 -o shards\n"
        "  scout-fetch --parquet data/fw/sample/10BT/000_00000.parquet --columns text,url,score --max-rows 5",
    .options = options,
};

typedef struct fetch_args {
    const char *repo, *output, *revision, *to, *columns;
    const char **include, **exclude;
    int n_include, n_exclude;
    int model, verify, list, parquet, jobs;
    uint64_t max_rows;   // UINT64_MAX: all
    int retries;
    double retry_max_time;
    char **inputs;
    int n_inputs;
} fetch_args;

static void parse_args(fetch_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->jobs = 4;
    a->max_rows = UINT64_MAX;
    a->retries = -1;
    a->retry_max_time = -1;
    a->include = xcalloc((size_t)argc, sizeof *a->include);
    a->exclude = xcalloc((size_t)argc, sizeof *a->exclude);
    cli_state st;
    cli_init(&st, &spec, argc, argv);
    int c;
    while ((c = cli_next(&st)) != -1) {
        switch (c) {
        case 'o': a->output = st.arg; break;
        case OPT_INCLUDE: a->include[a->n_include++] = st.arg; break;
        case OPT_EXCLUDE: a->exclude[a->n_exclude++] = st.arg; break;
        case OPT_REVISION: a->revision = st.arg; break;
        case OPT_MODEL: a->model = 1; break;
        case 'j': {
            uint64_t j = cli_parse_u64(&spec, "jobs", st.arg);
            if (j < 1 || j > 64) cli_usage_error(&spec, "--jobs must be in 1..64, got %s", st.arg);
            a->jobs = (int)j;
            break;
        }
        case OPT_VERIFY: a->verify = 1; break;
        case OPT_LIST: a->list = 1; break;
        case OPT_TO: a->to = st.arg; break;
        case OPT_PARQUET: a->parquet = 1; break;
        case OPT_COLUMNS: a->columns = st.arg; break;
        case OPT_MAX_ROWS: a->max_rows = cli_parse_count(&spec, "max-rows", st.arg); break;
        case OPT_RETRIES: {
            uint64_t r = cli_parse_u64(&spec, "retries", st.arg);
            if (r > 100) cli_usage_error(&spec, "--retries must be at most 100, got %s", st.arg);
            a->retries = (int)r;
            break;
        }
        case OPT_RETRY_MAX_TIME:
            a->retry_max_time = cli_parse_double(&spec, "retry-max-time", st.arg);
            if (a->retry_max_time < 0) cli_usage_error(&spec, "--retry-max-time must not be negative");
            break;
        default: cli_usage_error(&spec, "unhandled option");
        }
    }
    a->inputs = argv + cli_optind();
    a->n_inputs = argc - cli_optind();
    cli_free(&st);

    if (a->to && strcmp(a->to, "jsonl") != 0) cli_usage_error(&spec, "--to knows only 'jsonl', got '%s'", a->to);
    if (a->parquet) {
        if (a->n_inputs == 0) cli_usage_error(&spec, "--parquet needs at least one FILE");
        if (a->output || a->n_include || a->n_exclude || a->revision || a->model || a->list)
            cli_usage_error(&spec, "--parquet reads local files: -o, --include, --exclude, --revision, --model and --list do not apply");
        return;
    }
    if (a->n_inputs == 0) cli_usage_error(&spec, "which repository? e.g. HuggingFaceFW/fineweb-edu");
    if (a->n_inputs > 1) cli_usage_error(&spec, "one repository at a time, got %d arguments", a->n_inputs);
    a->repo = a->inputs[0];
    if ((a->columns || a->max_rows != UINT64_MAX) && !a->to)
        cli_usage_error(&spec, "--columns and --max-rows apply to --to jsonl or --parquet");
    if (!a->output && !a->to && !a->list) cli_usage_error(&spec, "where to? give -o DIR (or --to jsonl, or --list)");
    if (a->list && a->to) cli_usage_error(&spec, "--list prints file names; it does not combine with --to");
}

static void make_dir(const char *dir) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s/x", dir) >= (int)sizeof tmp) die(SCOUT_EXIT_USAGE, "output path too long: %s", dir);
    hub_error e;
    if (out_make_parents(tmp, &e) != 0) die(e.code, "%s", e.msg);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) die(SCOUT_EXIT_IO, "%s is not a directory", dir);
}

static void list_files(const hub_file_list *files) {
    for (size_t i = 0; i < files->n; i++) {
        const hub_file *f = &files->v[i];
        printf("%12llu  %s  %s\n", (unsigned long long)f->size,
               f->sha256[0] ? f->sha256 : f->git_oid[0] ? f->git_oid : "-", f->path);
    }
    if (fflush(stdout) != 0) die(SCOUT_EXIT_IO, "cannot write the list to stdout");
}

// Lists the repository (pinned) into files; dies with the hub's message on failure.
static void pin_and_list(hub *h, const fetch_args *a, hub_file_list *files) {
    http_client *c = http_client_new();
    hub_error e = {0};
    if (hub_pin(h, c, &e) != 0) die(e.code, "%s", e.msg);
    log_info("%s@%s is commit %s", h->repo, h->revision, h->commit);
    hub_filter f = {a->include, a->n_include, a->exclude, a->n_exclude};
    if (hub_list(h, c, &f, files, &e) != 0) die(e.code, "%s", e.msg);
    http_client_free(c);
    if (files->n == 0) {
        char page[512], patterns[1024] = "";
        hub_repo_page(h, page, sizeof page);
        for (int i = 0; i < a->n_include; i++) {
            size_t len = strlen(patterns);
            snprintf(patterns + len, sizeof patterns - len, "%s%s", i ? " " : " --include ", a->include[i]);
        }
        die(SCOUT_EXIT_FAIL, "no file of %s at %.12s matches%s (see the files at %s/tree/%s; '*' also matches '/')",
            h->repo, h->commit, a->n_include ? patterns : " anything", page, h->commit);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < files->n; i++) total += files->v[i].size;
    log_info("%zu file(s), %.2f GB", files->n, 1e-9 * (double)total);
}

int main(int argc, char **argv) {
    fetch_args a;
    parse_args(&a, argc, argv);
    sig_install_flag();
    const char **columns = NULL;
    size_t n_columns = rows_parse_columns(a.columns ? a.columns : "text", &columns);
    rows_options ro = {.columns = columns, .n_columns = n_columns, .max_rows = a.max_rows};

    if (a.parquet) {
        int code = rows_local_files(&ro, (const char *const *)a.inputs, (size_t)a.n_inputs);
        rows_columns_free(columns);
        free(a.include);
        free(a.exclude);
        return code;
    }

    http_global_init();
    hub h;
    hub_init(&h, a.model ? HUB_MODEL : HUB_DATASET, a.repo, a.revision);
    if (a.retries >= 0) h.retry.max_retries = a.retries;
    if (a.retry_max_time >= 0) h.retry.max_wait_s = a.retry_max_time;
    hub_file_list files = {0};
    pin_and_list(&h, &a, &files);

    int code;
    if (a.list) {
        list_files(&files);
        code = SCOUT_EXIT_OK;
    } else if (!a.output) {
        code = rows_remote(&ro, &h, &files, a.jobs); // --to jsonl without -o: ranged reads, nothing on disk
    } else {
        make_dir(a.output);
        fetch_options fo = {.out_dir = a.output, .jobs = a.jobs, .reverify = a.verify};
        fetch_run *run = fetch_start(&h, &files, &fo);
        int rows_code = a.to ? rows_downloaded(&ro, run, &files) : SCOUT_EXIT_OK;
        code = fetch_finish(run);
        if (rows_code != SCOUT_EXIT_OK && code == SCOUT_EXIT_OK) code = rows_code;
    }
    hub_file_list_free(&files);
    hub_free(&h);
    rows_columns_free(columns);
    free(a.include);
    free(a.exclude);
    return code;
}
