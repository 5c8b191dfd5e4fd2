// atomic.c: see atomic.h.
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xio.h"

enum { ST_OPEN, ST_CLOSED, ST_COMMITTED, ST_ABORTED };

// The registry is a singly linked list that only grows at the head. A node is fully built before
// the head pointer moves, and nodes are never freed while pending, so the signal handler can walk
// it at any moment without locks. Finished nodes stay in the list with state != OPEN/CLOSED.
typedef struct reg_node {
    struct reg_node *next;
    atomic_out *out;
    volatile sig_atomic_t pending; // 1 while the temporary file exists
    char tmp_path[];               // copy owned by the node, valid for the process lifetime
} reg_node;

static reg_node *volatile g_head = NULL;

static reg_node *find_node(const atomic_out *out) {
    for (reg_node *n = g_head; n; n = n->next)
        if (n->out == out) return n;
    return NULL;
}

atomic_out *atomic_open(const char *path) {
    atomic_out *out = xcalloc(1, sizeof *out);
    out->path = xstrdup(path);
    size_t len = strlen(path) + 32;
    out->tmp_path = xmalloc(len);
    snprintf(out->tmp_path, len, "%s.tmp.%ld", path, (long)getpid());

    reg_node *node = xmalloc(sizeof *node + strlen(out->tmp_path) + 1);
    node->out = out;
    node->pending = 0;
    strcpy(node->tmp_path, out->tmp_path);
    node->next = g_head;
    g_head = node;

    out->fd = open(out->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out->fd < 0)
        die(SCOUT_EXIT_IO, "cannot create %s: %s (is the directory there and writable?)", out->tmp_path,
            strerror(errno));
    node->pending = 1;
    out->state = ST_OPEN;
    return out;
}

void atomic_write(atomic_out *out, const void *buf, size_t n) {
    xwrite_all(out->fd, buf, n, out->path, out->bytes);
    out->bytes += n;
}

void atomic_close(atomic_out *out) {
    if (out->state != ST_OPEN) return;
    if (close(out->fd) != 0)
        die(SCOUT_EXIT_IO, "cannot close %s after %llu bytes: %s", out->tmp_path,
            (unsigned long long)out->bytes, strerror(errno));
    out->fd = -1;
    out->state = ST_CLOSED;
}

static void release(atomic_out *out, int state) {
    reg_node *node = find_node(out);
    if (node) {
        node->pending = 0;
        node->out = NULL;
    }
    out->state = state;
    free(out->path);
    free(out->tmp_path);
    free(out);
}

void atomic_commit(atomic_out *out) {
    atomic_close(out);
    if (rename(out->tmp_path, out->path) != 0)
        die(SCOUT_EXIT_IO, "cannot rename %s to %s: %s", out->tmp_path, out->path, strerror(errno));
    release(out, ST_COMMITTED);
}

void atomic_abort(atomic_out *out) {
    if (out->state == ST_OPEN) close(out->fd);
    unlink(out->tmp_path);
    release(out, ST_ABORTED);
}

void atomic_abort_all(void) {
    for (reg_node *n = g_head; n; n = n->next)
        if (n->pending) {
            unlink(n->tmp_path);
            n->pending = 0;
        }
}
