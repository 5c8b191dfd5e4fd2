// log.c: see log.h.
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "atomic.h"

static const char *g_tool = "scout";
static int g_level = LOG_NORMAL;

void log_init(const char *tool_name) { g_tool = tool_name; }
void log_set_level(int level) { g_level = level; }
int log_get_level(void) { return g_level; }
const char *log_tool_name(void) { return g_tool; }

static void vlog(const char *kind, const char *fmt, va_list ap) {
    // One fprintf per line part keeps lines whole when several threads log (stderr is unbuffered).
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    if (kind)
        fprintf(stderr, "%s: %s: %s\n", g_tool, kind, line);
    else
        fprintf(stderr, "%s: %s\n", g_tool, line);
}

void log_info(const char *fmt, ...) {
    if (g_level < LOG_NORMAL) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(NULL, fmt, ap);
    va_end(ap);
}

void log_debug(const char *fmt, ...) {
    if (g_level < LOG_VERBOSE) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(NULL, fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("warning", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("error", fmt, ap);
    va_end(ap);
}

void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("error", fmt, ap);
    va_end(ap);
    atomic_abort_all();
    exit(code);
}
