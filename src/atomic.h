// atomic.h: output files that appear complete or not at all.
//
// An atomic output is written under a temporary name in the destination's directory
// ("<path>.tmp.<pid>") and renamed onto <path> by atomic_commit(). Every output not yet committed is
// listed in a process-wide registry; die() and the signal handlers (sig.h) unlink them all, so an
// error or a ^C never leaves a partial file behind.
//
// A tool that writes several files (scout-pack's shards) closes each one as soon as it is written
// (atomic_close) and commits them all at the end: until then none of them is visible.
#ifndef SCOUT_ATOMIC_H
#define SCOUT_ATOMIC_H

#include <stddef.h>
#include <stdint.h>

typedef struct atomic_out {
    char *path;      // final name
    char *tmp_path;  // where the bytes go until atomic_commit()
    int fd;          // -1 once closed
    uint64_t bytes;  // written so far (for error messages)
    int state;       // internal: open, closed, committed, aborted
} atomic_out;

// Creates "<path>.tmp.<pid>" (mode 0644) and registers it; dies with SCOUT_EXIT_IO on failure.
atomic_out *atomic_open(const char *path);
// Writes all of buf; dies with SCOUT_EXIT_IO (naming the file and offset) on failure.
void atomic_write(atomic_out *out, const void *buf, size_t n);
// Closes the descriptor; the file stays pending (invisible) until atomic_commit().
void atomic_close(atomic_out *out);
// Closes if needed, renames onto the final path and frees the handle.
void atomic_commit(atomic_out *out);
// Closes, unlinks the temporary file and frees the handle.
void atomic_abort(atomic_out *out);
// Unlinks every pending temporary file. Async-signal-safe (only unlink() on preformatted names).
void atomic_abort_all(void);

#endif
