// xio.h: checked memory and I/O wrappers. Every failure dies with a message that names the file,
// the byte offset and what to try next, and with the DESIGN.md exit code (4 for I/O, 1 for memory).
//
// xin is the one way tools read input: a path or "-" for stdin, read in large blocks, with the byte
// offset of the next byte kept for error messages. Zstandard-compressed input (.zst, detected by its
// magic bytes, not its name) is decompressed transparently; offsets then count decompressed bytes.
#ifndef SCOUT_XIO_H
#define SCOUT_XIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

// write(2) until all n bytes are out; `offset` is where this write starts (for the message).
void xwrite_all(int fd, const void *buf, size_t n, const char *name, uint64_t offset);

typedef struct xin {
    const char *name;   // for messages: the path, or "<stdin>"
    int fd;
    int owns_fd;        // close() on xin_close
    uint64_t offset;    // bytes (decompressed) already returned to the caller
    int is_zstd;
    void *zstd;         // ZSTD_DStream when is_zstd
    uint8_t *zbuf;      // compressed bytes read from fd but not yet decompressed
    size_t zbuf_cap, zbuf_pos, zbuf_len;
    uint8_t peek[4];    // bytes read to sniff the zstd magic, replayed first
    size_t peek_len, peek_pos;
    size_t zstd_hint;   // last ZSTD_decompressStream result: non-zero means a frame is unfinished
    int eof;
} xin;

// Opens path ("-" or NULL for stdin). Dies with SCOUT_EXIT_IO if it cannot.
void xin_open(xin *in, const char *path);
// The same without zstd detection: the bytes exactly as stored (for hashing a file).
void xin_open_raw(xin *in, const char *path);
// Reads up to n bytes, looping until n bytes or end of input; returns the count (0 at end).
size_t xin_read(xin *in, void *buf, size_t n);
void xin_close(xin *in);

// 1 when fd is a terminal (tools refuse to write binary data to one).
int fd_is_terminal(int fd);

#endif
