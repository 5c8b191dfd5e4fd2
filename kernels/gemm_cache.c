// gemm_cache.c: the file of tuned matrix-product choices (format and rules in gemm_cache.h).
#include "gemm_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int entry_push(gemm_cache *c, const char *key, const uint64_t words[GEMM_CACHE_WORDS]) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        gemm_cache_entry *e = realloc(c->entries, (size_t)cap * sizeof(*e));
        if (!e) return ENOMEM;
        c->entries = e, c->cap = cap;
    }
    gemm_cache_entry *e = &c->entries[c->n++];
    snprintf(e->key, sizeof e->key, "%s", key);
    memcpy(e->words, words, sizeof(e->words));
    return 0;
}

// One line "<key> <8 hex words>" into key / words; 0 when it is malformed.
static int parse_line(const char *line, char key[GEMM_CACHE_KEY_MAX], uint64_t words[GEMM_CACHE_WORDS]) {
    const char *p = line;
    size_t klen = strcspn(p, " \t\n");
    if (klen == 0 || klen >= GEMM_CACHE_KEY_MAX) return 0;
    memcpy(key, p, klen);
    key[klen] = '\0';
    p += klen;
    for (int i = 0; i < GEMM_CACHE_WORDS; i++) {
        while (*p == ' ' || *p == '\t') p++;
        char *end;
        errno = 0;
        unsigned long long w = strtoull(p, &end, 16);
        if (end == p || errno || (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\0')) return 0;
        words[i] = (uint64_t)w;
        p = end;
    }
    while (*p == ' ' || *p == '\t') p++;
    return *p == '\n' || *p == '\0';
}

int gemm_cache_load(gemm_cache *c, const char *path) {
    memset(c, 0, sizeof(*c));
    if (!path || !*path) return 0;
    snprintf(c->path, sizeof c->path, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    int bad = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') { // longer than any line we write: skip the rest
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {
            }
            bad++;
            continue;
        }
        if (line[0] == '#' || line[0] == '\n') continue;
        char key[GEMM_CACHE_KEY_MAX];
        uint64_t words[GEMM_CACHE_WORDS];
        if (!parse_line(line, key, words)) {
            bad++;
            continue;
        }
        if (gemm_cache_find(c, key)) continue; // the first line of a key wins
        if (entry_push(c, key, words)) {
            fclose(f);
            errno = ENOMEM;
            return -1;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        errno = EIO;
        return -1;
    }
    return bad;
}

const uint64_t *gemm_cache_find(const gemm_cache *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].key, key) == 0) return c->entries[i].words;
    return NULL;
}

// mkdir -p of the directory part of `path`.
static int make_parent_dirs(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) return errno;
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return errno;
    return 0;
}

int gemm_cache_add(gemm_cache *c, const char *key, const uint64_t words[GEMM_CACHE_WORDS]) {
    if (strlen(key) >= GEMM_CACHE_KEY_MAX || strcspn(key, " \t\n") != strlen(key) || !*key) return EINVAL;
    int err = entry_push(c, key, words);
    if (err || !c->path[0]) return err;
    char line[GEMM_CACHE_KEY_MAX + GEMM_CACHE_WORDS * 17 + 2];
    int len = snprintf(line, sizeof line, "%s", key);
    for (int i = 0; i < GEMM_CACHE_WORDS; i++) len += snprintf(line + len, sizeof line - len, " %" PRIx64, words[i]);
    line[len++] = '\n';
    if ((err = make_parent_dirs(c->path)) != 0) return err;
    // O_APPEND and one write: lines of concurrent writers do not interleave (each write lands whole at the end).
    int fd = open(c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    ssize_t w = write(fd, line, (size_t)len);
    err = w == len ? 0 : (w < 0 ? errno : EIO);
    if (close(fd) != 0 && !err) err = errno;
    return err;
}

void gemm_cache_free(gemm_cache *c) {
    free(c->entries);
    memset(c, 0, sizeof(*c));
}

void gemm_cache_default_path(char *out, size_t n, const char *device, const char *version) {
    out[0] = '\0';
    const char *env = getenv("SCOUT_CUDA_GEMM_CACHE");
    if (env) {
        snprintf(out, n, "%s", env);
        return;
    }
    char dir[4000];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/scout", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/scout", home);
    else
        return;
    char name[128];
    snprintf(name, sizeof name, "%s-%s", device, version);
    for (char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            *p = '-';
    snprintf(out, n, "%s/gemm-%s.txt", dir, name);
}
