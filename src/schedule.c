// schedule.c: see schedule.h.
#include "schedule.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void recipe_defaults(recipe *r) {
    memset(r, 0, sizeof *r);
    r->seq_len = 4096; // 128x4k_15B (§11.1)
    r->global_batch = 128;
    r->micro_batch = 8;
    r->tokens = 15000000000ull;
    r->lr = 3e-4;
    r->min_lr = 3e-5; // peak / 10
    r->warmup_fraction = 0.01;
    r->weight_decay = 0.1;
    r->clip = 1.0;
    r->seed = 3407;
}

// A positive integer with an optional suffix from `suffixes` (each char) scaled by the matching factor.
static int parse_scaled(const char *s, size_t len, const char *suffixes, const double *factors, uint64_t *out) {
    if (len == 0 || !isdigit((unsigned char)s[0])) return -1;
    char buf[32];
    if (len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (*end) {
        const char *hit = end[1] == 0 ? strchr(suffixes, *end) : NULL;
        if (!hit || !*end) return -1;
        v *= factors[hit - suffixes];
    }
    if (!(v >= 1) || v > 1e19 || v != floor(v)) return -1;
    *out = (uint64_t)v;
    return 0;
}

int recipe_parse_run_config(recipe *r, const char *s, char *err, size_t err_size) {
    const char *x = strchr(s, 'x'), *u = x ? strchr(x, '_') : NULL;
    static const double len_f[] = {1024.0, 1024.0};
    static const double tok_f[] = {1e3, 1e6, 1e9, 1e12, 1e3, 1e6, 1e9, 1e12};
    uint64_t gb, T, tokens;
    if (!x || !u || parse_scaled(s, (size_t)(x - s), "", NULL, &gb) != 0 ||
        parse_scaled(x + 1, (size_t)(u - x - 1), "kK", len_f, &T) != 0 ||
        parse_scaled(u + 1, strlen(u + 1), "KMBTkmbt", tok_f, &tokens) != 0) {
        snprintf(err, err_size,
                 "bad run configuration \"%s\": expected <global batch>x<sequence length>_<tokens>, e.g. 128x4k_15B", s);
        return -1;
    }
    if (gb > 1u << 30 || T > 1u << 30) {
        snprintf(err, err_size, "run configuration \"%s\": batch or sequence length out of range", s);
        return -1;
    }
    r->global_batch = (int)gb;
    r->seq_len = (int)T;
    r->tokens = tokens;
    return 0;
}

int schedule_init(schedule *s, const recipe *r, int n_ranks, char *err, size_t err_size) {
    memset(s, 0, sizeof *s);
    if (r->seq_len < 1 || r->micro_batch < 1 || r->global_batch < 1 || n_ranks < 1) {
        snprintf(err, err_size, "sequence length, batch sizes and ranks must be positive");
        return -1;
    }
    if (r->global_batch % (r->micro_batch * n_ranks) != 0) {
        snprintf(err, err_size, "global batch %d is not a multiple of micro-batch %d x %d rank(s)", r->global_batch,
                 r->micro_batch, n_ranks);
        return -1;
    }
    s->accum = r->global_batch / (r->micro_batch * n_ranks);
    s->tokens_per_iter = (uint64_t)r->micro_batch * (uint64_t)r->seq_len;
    s->max_iters = r->tokens / (uint64_t)n_ranks / s->tokens_per_iter;
    // The reference computes int(0.01 * budget / world_size / tokens_per_iter) in floating point.
    if (r->warmup_tokens)
        s->warmup_iters = r->warmup_tokens / (uint64_t)n_ranks / s->tokens_per_iter;
    else
        s->warmup_iters = (uint64_t)floor(r->warmup_fraction * (double)r->tokens / n_ranks / (double)s->tokens_per_iter);
    s->steps = s->max_iters / (uint64_t)s->accum;
    s->peak = r->lr;
    s->min = r->min_lr;
    if (s->steps == 0) {
        snprintf(err, err_size,
                 "a budget of %llu tokens is less than one optimizer step (%d sequences x %d tokens)",
                 (unsigned long long)r->tokens, r->global_batch, r->seq_len);
        return -1;
    }
    if (s->warmup_iters > s->max_iters) s->warmup_iters = s->max_iters;
    return 0;
}

double schedule_lr(const schedule *s, uint64_t it) {
    if (it < s->warmup_iters) return s->peak * (double)it / (double)s->warmup_iters;
    // Past the end (it >= max_iters never runs) and a run that is all warmup both sit at min.
    if (s->max_iters <= s->warmup_iters || it >= s->max_iters) return s->min;
    double progress = (double)(it - s->warmup_iters) / (double)(s->max_iters - s->warmup_iters);
    return s->min + 0.5 * (1.0 + cos(M_PI * progress)) * (s->peak - s->min);
}
