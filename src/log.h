// log.h: messages on stderr, prefixed with the tool's name, and die() with a distinct exit code.
//
// Data goes to stdout only; everything a person reads goes through here. die() removes every
// pending atomic output (atomic.h) before exiting, so no half-written file survives an error.
#ifndef SCOUT_LOG_H
#define SCOUT_LOG_H

#include "exitcode.h"

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

void log_init(const char *tool_name);
void log_set_level(int level);
int log_get_level(void);
const char *log_tool_name(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  // hidden by -q
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2))); // only with -v
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  // always shown
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2))); // always shown

// "tool: error: <message>\n", then pending atomic outputs are removed and the process exits with code.
_Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
