// cli.h: command-line parsing on getopt_long, with --help text generated from the same table.
//
// A tool declares its options once:
//     static const cli_option opts[] = {
//         {"output", 'o', CLI_ARG, "DIR", "write shards into DIR ('-' for a packed stream on stdout)"},
//         {"drop-last", OPT_DROP_LAST, CLI_NOARG, NULL, "drop the last partial chunk"},
//         {0}};
// and loops on cli_next(). -h/--help, --version, -q/--quiet and -v/--verbose are added and handled
// here for every tool. Errors in the command line exit with SCOUT_EXIT_USAGE (2).
#ifndef SCOUT_CLI_H
#define SCOUT_CLI_H

#include <stdint.h>

enum { CLI_NOARG = 0, CLI_ARG = 1 };

typedef struct cli_option {
    const char *name;    // long name without "--"
    int id;              // short option character, or a value >= 256 for long-only options
    int has_arg;         // CLI_NOARG or CLI_ARG
    const char *argname; // shown in --help ("N", "DIR")
    const char *help;
} cli_option;

typedef struct cli_spec {
    const char *tool;     // "scout-pack"
    const char *synopsis; // "[OPTIONS] [TOKENS.bin...]"
    const char *summary;  // one paragraph: what the tool does
    const char *examples; // example pipelines, one per line
    const cli_option *options;
} cli_spec;

typedef struct cli_state {
    const cli_spec *spec;
    int argc;
    char **argv;
    void *longopts;  // struct option[], built once
    char *shortopts;
    const char *arg; // the option's argument after cli_next()
} cli_state;

void cli_init(cli_state *st, const cli_spec *spec, int argc, char **argv);
// Next option id, or -1 when options are done; positional arguments then start at cli_optind().
int cli_next(cli_state *st);
int cli_optind(void);
void cli_free(cli_state *st);

// Bad command line: "tool: error: <msg>" plus "Try 'tool --help'." and exit 2.
_Noreturn void cli_usage_error(const cli_spec *spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Number parsers for option values; they die with a usage error naming the option.
uint64_t cli_parse_u64(const cli_spec *spec, const char *opt, const char *s);
double cli_parse_double(const cli_spec *spec, const char *opt, const char *s);
// Sizes with an optional K/M/G/T suffix (powers of 1000, as token counts are quoted: "15B" uses B).
uint64_t cli_parse_count(const cli_spec *spec, const char *opt, const char *s);

#endif
