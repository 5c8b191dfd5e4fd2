// cli.c: see cli.h.
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "version.h"
#include "xio.h"

enum { ID_HELP = 'h', ID_QUIET = 'q', ID_VERBOSE = 'v', ID_VERSION = 0x7ff0 };

static const cli_option builtin[] = {
    {"quiet", ID_QUIET, CLI_NOARG, NULL, "no progress or informational messages (errors still shown)"},
    {"verbose", ID_VERBOSE, CLI_NOARG, NULL, "more detail on stderr"},
    {"help", ID_HELP, CLI_NOARG, NULL, "show this help and exit"},
    {"version", ID_VERSION, CLI_NOARG, NULL, "show the version and exit"},
    {0},
};

static int count_opts(const cli_option *o) {
    int n = 0;
    while (o && o[n].name) n++;
    return n;
}

static void print_options(FILE *f, const cli_option *opts) {
    for (int i = 0; opts && opts[i].name; i++) {
        const cli_option *o = &opts[i];
        char left[96];
        int n = 0;
        if (o->id > 0 && o->id < 128)
            n = snprintf(left, sizeof left, "  -%c, --%s", o->id, o->name);
        else
            n = snprintf(left, sizeof left, "      --%s", o->name);
        if (o->has_arg && n < (int)sizeof left) snprintf(left + n, sizeof left - n, " %s", o->argname ? o->argname : "ARG");
        if (strlen(left) <= 28)
            fprintf(f, "%-30s%s\n", left, o->help);
        else
            fprintf(f, "%s\n%-30s%s\n", left, "", o->help);
    }
}

static void print_help(const cli_spec *spec) {
    printf("Usage: %s %s\n\n%s\n\nOptions:\n", spec->tool, spec->synopsis, spec->summary);
    print_options(stdout, spec->options);
    print_options(stdout, builtin);
    if (spec->examples) printf("\nExamples:\n%s\n", spec->examples);
    printf("\nExit codes: 0 ok, 1 failure, 2 bad usage, 3 bad input data, 4 I/O error, 130/143 interrupted.\n");
}

void cli_init(cli_state *st, const cli_spec *spec, int argc, char **argv) {
    memset(st, 0, sizeof *st);
    st->spec = spec;
    st->argc = argc;
    st->argv = argv;
    log_init(spec->tool);
    int n = count_opts(spec->options), nb = count_opts(builtin);
    struct option *lo = xcalloc((size_t)(n + nb + 1), sizeof *lo);
    char *so = xcalloc((size_t)(3 * (n + nb) + 2), 1);
    char *sp = so;
    *sp++ = ':'; // report missing arguments as ':' so the message can name the option
    const cli_option *all[2] = {spec->options, builtin};
    int k = 0;
    for (int t = 0; t < 2; t++)
        for (int i = 0; all[t] && all[t][i].name; i++) {
            const cli_option *o = &all[t][i];
            lo[k++] = (struct option){o->name, o->has_arg ? required_argument : no_argument, NULL, o->id};
            if (o->id > 0 && o->id < 128) {
                *sp++ = (char)o->id;
                if (o->has_arg) *sp++ = ':';
            }
        }
    st->longopts = lo;
    st->shortopts = so;
    optind = 1;
    opterr = 0;
}

int cli_next(cli_state *st) {
    for (;;) {
        int prev = optind;
        int c = getopt_long(st->argc, st->argv, st->shortopts, st->longopts, NULL);
        st->arg = optarg;
        if (c == -1) return -1;
        const char *word = prev < st->argc ? st->argv[prev] : "?";
        if (c == '?') {
            if (optopt && optopt < 128)
                cli_usage_error(st->spec, "unknown option '-%c'", optopt);
            cli_usage_error(st->spec, "unknown option '%s'", st->argv[optind - 1] ? st->argv[optind - 1] : word);
        }
        if (c == ':') cli_usage_error(st->spec, "option '%s' needs a value", st->argv[optind - 1]);
        switch (c) {
        case ID_HELP: print_help(st->spec); exit(SCOUT_EXIT_OK);
        case ID_VERSION: printf("%s %s\n", st->spec->tool, SCOUT_VERSION); exit(SCOUT_EXIT_OK);
        case ID_QUIET: log_set_level(LOG_QUIET); continue;
        case ID_VERBOSE: log_set_level(LOG_VERBOSE); continue;
        default: return c;
        }
    }
}

int cli_optind(void) { return optind; }

void cli_free(cli_state *st) {
    free(st->longopts);
    free(st->shortopts);
}

void cli_usage_error(const cli_spec *spec, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: error: %s\nTry '%s --help' for more information.\n", spec->tool, msg, spec->tool);
    exit(SCOUT_EXIT_USAGE);
}

uint64_t cli_parse_u64(const cli_spec *spec, const char *opt, const char *s) {
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') cli_usage_error(spec, "--%s needs a non-negative integer, got '%s'", opt, s ? s : "");
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) cli_usage_error(spec, "--%s needs a non-negative integer, got '%s'", opt, s);
    return v;
}

double cli_parse_double(const cli_spec *spec, const char *opt, const char *s) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || errno || *end || !isfinite(v)) cli_usage_error(spec, "--%s needs a number, got '%s'", opt, s ? s : "");
    return v;
}

uint64_t cli_parse_count(const cli_spec *spec, const char *opt, const char *s) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : -1;
    if (!s || !*s || errno || v < 0 || end == s) cli_usage_error(spec, "--%s needs a count like 1000, 2M or 15B, got '%s'", opt, s ? s : "");
    double mult = 1;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': mult = 1e3; end++; break;
    case 'm': case 'M': mult = 1e6; end++; break;
    case 'b': case 'B': case 'g': case 'G': mult = 1e9; end++; break;
    case 't': case 'T': mult = 1e12; end++; break;
    default: break;
    }
    if (*end) cli_usage_error(spec, "--%s needs a count like 1000, 2M or 15B, got '%s'", opt, s);
    return (uint64_t)llround(v * mult);
}
