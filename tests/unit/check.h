// check.h: the tiny assertion kit of the C unit tests (header-only).
//
// A unit test binary is a main() that calls CHECK*() and ends with `return check_summary(argv[0]);`.
// Failures print file:line and the values, and the run goes on so one binary reports every failure.
// tests/run.sh runs every binary and counts a binary as passed when it exits 0.
#ifndef SCOUT_CHECK_H
#define SCOUT_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures_ = 0;
static int check_count_ = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        check_count_++;                                                                  \
        if (!(cond)) {                                                                   \
            check_failures_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                               \
    do {                                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);                              \
        check_count_++;                                                                  \
        if (a_ != b_) {                                                                  \
            check_failures_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n",        \
                    __FILE__, __LINE__, #a, a_, #b, b_);                                 \
        }                                                                                \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                               \
    do {                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                 \
        check_count_++;                                                                  \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                         \
            check_failures_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK_EQ_STR failed: %s = \"%s\", %s = \"%s\"\n",    \
                    __FILE__, __LINE__, #a, a_ ? a_ : "(null)", #b, b_ ? b_ : "(null)"); \
        }                                                                                \
    } while (0)

// |a - b| <= atol + rtol * |b|
#define CHECK_CLOSE(a, b, atol, rtol)                                                    \
    do {                                                                                 \
        double a_ = (double)(a), b_ = (double)(b);                                       \
        check_count_++;                                                                  \
        if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_))) {                            \
            check_failures_++;                                                           \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.9g, %s = %.9g\n",         \
                    __FILE__, __LINE__, #a, a_, #b, b_);                                 \
        }                                                                                \
    } while (0)

static inline int check_summary(const char *name) {
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

#endif
