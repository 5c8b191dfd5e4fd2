// hub_filter.c: which repository paths a run takes, and which directories the tree API must list
// for them (declared in hub.h).
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "xio.h"

int hub_path_is_safe(const char *p) {
    if (!*p || *p == '/' || strlen(p) >= 4096) return 0;
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    for (const char *s = p;;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        if (!s[n]) return 1;
        s += n + 1;
    }
}

// fnmatch as Python's: no escapes, '*' crosses '/'; "dir/" means "dir/*".
static int pattern_match(const char *pattern, const char *path) {
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '/') {
        char *p = xmalloc(n + 2);
        memcpy(p, pattern, n);
        p[n] = '*';
        p[n + 1] = 0;
        int m = fnmatch(p, path, FNM_NOESCAPE) == 0;
        free(p);
        return m;
    }
    return fnmatch(pattern, path, FNM_NOESCAPE) == 0;
}

int hub_filter_match(const hub_filter *f, const char *path) {
    int in = f->n_include == 0;
    for (int i = 0; i < f->n_include && !in; i++) in = pattern_match(f->include[i], path);
    for (int i = 0; i < f->n_exclude && in; i++) in = !pattern_match(f->exclude[i], path);
    return in;
}

// dir is `root` itself or below it.
static int dir_within(const char *dir, const char *root) {
    size_t n = strlen(root);
    return n == 0 || (strncmp(dir, root, n) == 0 && (dir[n] == 0 || dir[n] == '/'));
}

size_t hub_filter_roots(const hub_filter *f, hub_list_root **out) {
    size_t n = f->n_include ? (size_t)f->n_include : 1;
    hub_list_root *r = xcalloc(n, sizeof *r);
    if (!f->n_include) {
        r[0].dir = xstrdup("");
        r[0].recursive = 1;
        *out = r;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = f->include[i];
        size_t meta = strcspn(p, "*?[");
        size_t len = strlen(p);
        // '*' crosses '/', so any wildcard, or a trailing '/', needs everything below the prefix.
        r[i].recursive = p[meta] != 0 || (len && p[len - 1] == '/');
        size_t cut = 0;
        for (size_t k = 0; k < meta; k++)
            if (p[k] == '/') cut = k;
        r[i].dir = xmalloc(cut + 1);
        memcpy(r[i].dir, p, cut);
        r[i].dir[cut] = 0;
    }
    // Merge: a root inside a recursive root (or equal to another root) is listed by that one.
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int drop = 0;
        for (size_t j = 0; j < n && !drop; j++) {
            if (j == i || !r[j].dir) continue;
            int same = strcmp(r[i].dir, r[j].dir) == 0;
            if (same) r[j].recursive |= r[i].recursive;
            drop = (same && j < i) || (!same && r[j].recursive && dir_within(r[i].dir, r[j].dir));
        }
        if (drop) {
            free(r[i].dir);
            r[i].dir = NULL;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (r[i].dir) r[kept++] = r[i];
    *out = r;
    return kept;
}

void hub_list_roots_free(hub_list_root *roots, size_t n) {
    for (size_t i = 0; i < n; i++) free(roots[i].dir);
    free(roots);
}
