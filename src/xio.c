// xio.c: see xio.h.
#include "xio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "log.h"

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die(SCOUT_EXIT_FAIL, "out of memory allocating %zu bytes", n);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die(SCOUT_EXIT_FAIL, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die(SCOUT_EXIT_FAIL, "out of memory reallocating to %zu bytes", n);
    return q;
}

char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) die(SCOUT_EXIT_FAIL, "out of memory copying a string");
    return p;
}

void xwrite_all(int fd, const void *buf, size_t n, const char *name, uint64_t offset) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EPIPE)
                die(SCOUT_EXIT_IO, "%s: the reader closed the pipe at byte %llu", name,
                    (unsigned long long)offset);
            die(SCOUT_EXIT_IO, "%s: write failed at byte %llu: %s (disk full?)", name,
                (unsigned long long)offset, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
        offset += (uint64_t)w;
    }
}

int fd_is_terminal(int fd) { return isatty(fd); }

// Raw read from the descriptor, looping over short reads; returns the count, 0 at end of file.
static size_t read_fd(xin *in, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(in->fd, (uint8_t *)buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            die(SCOUT_EXIT_IO, "%s: read failed near byte %llu: %s", in->name,
                (unsigned long long)(in->offset + got), strerror(errno));
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return got;
}

// Raw bytes: first the sniffed prefix, then the descriptor.
static size_t read_raw(xin *in, void *buf, size_t n) {
    size_t got = 0;
    while (got < n && in->peek_pos < in->peek_len) ((uint8_t *)buf)[got++] = in->peek[in->peek_pos++];
    if (got < n) got += read_fd(in, (uint8_t *)buf + got, n - got);
    return got;
}

static void open_fd(xin *in, const char *path) {
    memset(in, 0, sizeof *in);
    if (!path || strcmp(path, "-") == 0) {
        in->name = "<stdin>";
        in->fd = 0;
    } else {
        in->name = path;
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0)
            die(SCOUT_EXIT_IO, "cannot open %s: %s", path, strerror(errno));
        in->owns_fd = 1;
        posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
}

void xin_open_raw(xin *in, const char *path) { open_fd(in, path); }

void xin_open(xin *in, const char *path) {
    open_fd(in, path);
    // Sniff the zstd frame magic (28 B5 2F FD) so `.zst` files and compressed pipes both work.
    in->peek_len = read_fd(in, in->peek, sizeof in->peek);
    static const uint8_t zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    if (in->peek_len == 4 && memcmp(in->peek, zstd_magic, 4) == 0) {
        in->is_zstd = 1;
        in->zstd = ZSTD_createDStream();
        if (!in->zstd) die(SCOUT_EXIT_FAIL, "cannot create a zstd decoder");
        ZSTD_initDStream(in->zstd);
        in->zbuf_cap = ZSTD_DStreamInSize();
        in->zbuf = xmalloc(in->zbuf_cap);
    }
}

static size_t read_zstd(xin *in, void *buf, size_t n) {
    ZSTD_outBuffer out = {buf, n, 0};
    while (out.pos < out.size && !in->eof) {
        if (in->zbuf_pos == in->zbuf_len) {
            in->zbuf_len = read_raw(in, in->zbuf, in->zbuf_cap);
            in->zbuf_pos = 0;
            if (in->zbuf_len == 0) {
                in->eof = 1;
                if (in->zstd_hint != 0)
                    die(SCOUT_EXIT_DATA, "%s: truncated zstd stream after %llu decompressed bytes", in->name,
                        (unsigned long long)(in->offset + out.pos));
                break;
            }
        }
        ZSTD_inBuffer zin = {in->zbuf, in->zbuf_len, in->zbuf_pos};
        size_t rc = ZSTD_decompressStream(in->zstd, &out, &zin);
        in->zbuf_pos = zin.pos;
        in->zstd_hint = rc;
        if (ZSTD_isError(rc))
            die(SCOUT_EXIT_DATA, "%s: corrupt zstd data near decompressed byte %llu: %s", in->name,
                (unsigned long long)(in->offset + out.pos), ZSTD_getErrorName(rc));
    }
    return out.pos;
}

size_t xin_read(xin *in, void *buf, size_t n) {
    size_t got = in->is_zstd ? read_zstd(in, buf, n) : read_raw(in, buf, n);
    in->offset += got;
    return got;
}

void xin_close(xin *in) {
    if (in->owns_fd) close(in->fd);
    if (in->zstd) ZSTD_freeDStream(in->zstd);
    free(in->zbuf);
    memset(in, 0, sizeof *in);
    in->fd = -1;
}
