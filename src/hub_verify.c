// hub_verify.c: see hub_verify.h.
#include "hub_verify.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "sig.h"
#include "xio.h"

void content_hash_init(content_hash *h, const hub_file *f) {
    memset(h, 0, sizeof *h);
    sha256_init(&h->sha256);
    if (!f->sha256[0]) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        if (!c || EVP_DigestInit_ex(c, EVP_sha1(), NULL) != 1) die(SCOUT_EXIT_FAIL, "cannot initialise SHA-1 (OpenSSL)");
        char head[64];
        int n = snprintf(head, sizeof head, "blob %llu", (unsigned long long)f->size);
        EVP_DigestUpdate(c, head, (size_t)n + 1); // git hashes the header with its NUL
        h->git_sha1 = c;
    }
}

void content_hash_update(content_hash *h, const void *data, size_t n) {
    sha256_update(&h->sha256, data, n);
    if (h->git_sha1 && EVP_DigestUpdate(h->git_sha1, data, n) != 1) die(SCOUT_EXIT_FAIL, "SHA-1 update failed (OpenSSL)");
    h->bytes += n;
}

void content_hash_final(content_hash *h, content_digest *d) {
    uint8_t b[32];
    sha256_final(&h->sha256, b);
    hex_encode(b, 32, d->sha256);
    d->git_oid[0] = 0;
    if (h->git_sha1) {
        unsigned len = 0;
        if (EVP_DigestFinal_ex(h->git_sha1, b, &len) != 1 || len != 20) die(SCOUT_EXIT_FAIL, "SHA-1 final failed (OpenSSL)");
        hex_encode(b, 20, d->git_oid);
        EVP_MD_CTX_free(h->git_sha1);
        h->git_sha1 = NULL;
    }
}

void content_hash_discard(content_hash *h) {
    content_digest unused;
    content_hash_final(h, &unused);
}

int content_hash_fd(content_hash *h, int fd, uint64_t len, const char *name, hub_error *e) {
    size_t cap = 4 << 20;
    uint8_t *buf = xmalloc(cap);
    uint64_t off = 0;
    int rc = 0;
    while (off < len) {
        if ((rc = sig_pending()) != 0) break;
        size_t want = len - off < cap ? (size_t)(len - off) : cap;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got <= 0) {
            hub_fail(e, SCOUT_EXIT_IO, "cannot read %s at byte %llu: %s", name, (unsigned long long)off,
                     got < 0 ? strerror(errno) : "the file is shorter than expected (changed by another program?)");
            rc = -1;
            break;
        }
        content_hash_update(h, buf, (size_t)got);
        off += (uint64_t)got;
    }
    free(buf);
    return rc;
}

static void *follow(void *arg) {
    hash_follower *h = arg;
    size_t cap = 4 << 20;
    uint8_t *buf = xmalloc(cap);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        // Wait for a useful amount (1 MiB): fewer, larger reads. The writer's last bytes come with
        // `finishing`; a cancel or a signal ends the wait too (the writer cancels on a signal).
        while (!h->cancelled && !sig_pending() && !h->finishing && h->written - h->hashed < (1u << 20))
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->cancelled || sig_pending() || h->hashed == h->written) break; // equal only when finishing
        uint64_t from = h->hashed, avail = h->written - h->hashed;
        pthread_mutex_unlock(&h->mu);
        size_t want = avail < cap ? (size_t)avail : cap;
        ssize_t got = pread(h->fd, buf, want, (off_t)from);
        if (got > 0) content_hash_update(&h->hash, buf, (size_t)got);
        pthread_mutex_lock(&h->mu);
        if (got <= 0) {
            h->read_errno = got < 0 ? errno : EIO;
            break;
        }
        h->hashed += (uint64_t)got;
    }
    pthread_mutex_unlock(&h->mu);
    free(buf);
    return NULL;
}

void hash_follower_start(hash_follower *h, int fd, const char *name, const hub_file *f, uint64_t written) {
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->fd = fd;
    h->name = name;
    h->written = written;
    h->started = 1;
    content_hash_init(&h->hash, f);
    int err = pthread_create(&h->thread, NULL, follow, h);
    if (err) die(SCOUT_EXIT_FAIL, "cannot start a hashing thread for %s: %s", name, strerror(err));
}

void hash_follower_advance(hash_follower *h, uint64_t written) {
    pthread_mutex_lock(&h->mu);
    h->written = written;
    if (h->written - h->hashed >= (1u << 20)) pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void join(hash_follower *h) {
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    h->started = 0;
}

int hash_follower_finish(hash_follower *h, content_digest *d, hub_error *e) {
    pthread_mutex_lock(&h->mu);
    h->finishing = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    join(h);
    content_hash_final(&h->hash, d);
    if (h->read_errno) {
        hub_fail(e, SCOUT_EXIT_IO, "cannot read %s back at byte %llu to hash it: %s", h->name,
                 (unsigned long long)h->hashed, strerror(h->read_errno));
        return -1;
    }
    if (h->hashed != h->written) {
        if (sig_pending()) return sig_pending();
        hub_fail(e, SCOUT_EXIT_FAIL, "%s: hashing stopped at byte %llu of %llu", h->name,
                 (unsigned long long)h->hashed, (unsigned long long)h->written);
        return -1;
    }
    return 0;
}

void hash_follower_cancel(hash_follower *h) {
    if (!h->started) return;
    pthread_mutex_lock(&h->mu);
    h->cancelled = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    join(h);
    content_hash_discard(&h->hash);
    memset(h, 0, sizeof *h);
}

int verify_against_listing(const hub_file *f, uint64_t size, const content_digest *d, const char *name, hub_error *e) {
    if (size != f->size) {
        hub_fail(e, SCOUT_EXIT_DATA, "%s: %llu bytes, the Hub lists %llu", name, (unsigned long long)size,
                 (unsigned long long)f->size);
        return -1;
    }
    if (f->sha256[0] && strcmp(f->sha256, d->sha256) != 0) {
        hub_fail(e, SCOUT_EXIT_DATA, "%s: SHA-256 %s, the Hub lists %s", name, d->sha256, f->sha256);
        return -1;
    }
    if (f->git_oid[0] && d->git_oid[0] && strcmp(f->git_oid, d->git_oid) != 0) {
        hub_fail(e, SCOUT_EXIT_DATA, "%s: git blob id %s, the Hub lists %s", name, d->git_oid, f->git_oid);
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Sidecars

static char *sidecar_path(const char *dir, const hub_file *f) {
    size_t n = strlen(dir) + strlen(f->path) + 32;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/.scout-fetch/%s.verified", dir, f->path);
    return p;
}

static int64_t mtime_ns(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int sidecar_vouches(const char *dir, const hub_file *f) {
    size_t n = strlen(dir) + strlen(f->path) + 2;
    char *file = xmalloc(n);
    snprintf(file, n, "%s/%s", dir, f->path);
    char *side = sidecar_path(dir, f);
    struct stat st;
    int ok = 0;
    json_t *doc = NULL;
    if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == f->size &&
        (doc = json_load_file(side, 0, NULL)) != NULL) {
        const char *sha = json_string_value(json_object_get(doc, "sha256"));
        const char *git = json_string_value(json_object_get(doc, "git_oid"));
        json_int_t size = json_integer_value(json_object_get(doc, "size"));
        json_int_t ino = json_integer_value(json_object_get(doc, "inode"));
        json_int_t mt = json_integer_value(json_object_get(doc, "mtime_ns"));
        int digest_ok = f->sha256[0] ? (sha && strcmp(sha, f->sha256) == 0)
                        : f->git_oid[0] ? (git && strcmp(git, f->git_oid) == 0)
                                        : 1; // nothing listed to compare: the size decides
        ok = digest_ok && (uint64_t)size == f->size && (uint64_t)ino == (uint64_t)st.st_ino && mt == mtime_ns(&st);
    }
    json_decref(doc);
    free(file);
    free(side);
    return ok;
}

// mkdir -p of the directory part of path. Several threads may create the same directory: EEXIST is fine.
int out_make_parents(const char *path, hub_error *e) {
    char *p = xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            hub_fail(e, SCOUT_EXIT_IO, "cannot create directory %s: %s (is -o writable?)", p, strerror(errno));
            rc = -1;
            *s = '/';
            break;
        }
        *s = '/';
    }
    free(p);
    return rc;
}

// atomic.h keeps a process-wide list of pending outputs that is not built for concurrent writers.
static pthread_mutex_t g_atomic_lock = PTHREAD_MUTEX_INITIALIZER;

void sidecar_write(const char *dir, const hub_file *f, const content_digest *d, const char *commit) {
    size_t n = strlen(dir) + strlen(f->path) + 2;
    char *file = xmalloc(n);
    snprintf(file, n, "%s/%s", dir, f->path);
    struct stat st;
    if (stat(file, &st) != 0) die(SCOUT_EXIT_IO, "cannot stat %s after renaming it into place: %s", file, strerror(errno));
    json_t *doc = json_pack("{s:s, s:I, s:s, s:I, s:I, s:s}", "path", f->path, "size", (json_int_t)f->size, "sha256",
                            d->sha256, "inode", (json_int_t)st.st_ino, "mtime_ns", (json_int_t)mtime_ns(&st), "commit", commit);
    if (!doc) die(SCOUT_EXIT_FAIL, "out of memory building the sidecar of %s", file);
    if (d->git_oid[0]) json_object_set_new(doc, "git_oid", json_string(d->git_oid));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    char *side = sidecar_path(dir, f);
    hub_error e;
    if (out_make_parents(side, &e) != 0) die(e.code, "%s", e.msg);
    pthread_mutex_lock(&g_atomic_lock);
    atomic_out *out = atomic_open(side);
    atomic_write(out, text, strlen(text));
    atomic_write(out, "\n", 1);
    atomic_commit(out);
    pthread_mutex_unlock(&g_atomic_lock);
    free(text);
    free(side);
    free(file);
}

void sidecar_remove(const char *dir, const hub_file *f) {
    char *side = sidecar_path(dir, f);
    unlink(side);
    free(side);
}
