// hub_verify.h: is a local file the one the Hub lists?
//
// LFS files (every Parquet shard) are checked against their LFS oid, the SHA-256 of the content;
// files kept in git (tokenizer.json, config.json) against their git blob id, the SHA-1 of
// "blob <size>\0" + content. Both are computed while the bytes stream in, so a download is read once.
//
// A file that passed is recorded in a sidecar "<DIR>/.scout-fetch/<path>.verified" (JSON: size,
// digests, commit, and the file's inode and mtime). A re-run trusts a file whose size, inode and
// mtime still match its sidecar, so 2 GB shards are not hashed again unless --verify asks for it.
#ifndef SCOUT_HUB_VERIFY_H
#define SCOUT_HUB_VERIFY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "sha256.h"

typedef struct content_hash {
    sha256_ctx sha256;
    void *git_sha1;   // OpenSSL EVP_MD_CTX of the git blob id; NULL for LFS files
    uint64_t bytes;
} content_hash;

typedef struct content_digest {
    char sha256[65];
    char git_oid[41]; // "" when not computed
} content_digest;

// Starts the digests f needs (SHA-256 always; the git blob id when f is kept in git).
void content_hash_init(content_hash *h, const hub_file *f);
void content_hash_update(content_hash *h, const void *data, size_t n);
void content_hash_final(content_hash *h, content_digest *d);
void content_hash_discard(content_hash *h);
// Feeds the first len bytes of fd, read from offset 0. Returns 0, a pending signal number when one
// arrived (the caller stops there), or -1 with e filled on a read error.
int content_hash_fd(content_hash *h, int fd, uint64_t len, const char *name, hub_error *e);

// A thread that hashes a file while another thread writes it: the writer reports how far the file
// is written (hash_follower_advance) and the follower preads behind it, from the page cache. Hashing
// then overlaps receiving (SHA-256 runs at about 1-2 GB/s per core, like a fast link or disk), and
// a resumed .part's first bytes are hashed while the rest downloads instead of before.
typedef struct hash_follower {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    const char *name;        // for messages
    content_hash hash;       // owned by the follower thread until it ends
    uint64_t written;        // bytes [0, written) are in the file (guarded by mu)
    uint64_t hashed;         // bytes hashed so far (guarded by mu)
    int finishing;           // the writer is done: hash up to `written`, then end
    int cancelled;           // end now, digests discarded
    int read_errno;          // pread failed (or 0)
    int started;             // the thread exists and is not joined yet
} hash_follower;

// Starts following fd, whose bytes [0, written) are already there and are hashed first.
void hash_follower_start(hash_follower *h, int fd, const char *name, const hub_file *f, uint64_t written);
void hash_follower_advance(hash_follower *h, uint64_t written);
// Waits until every written byte is hashed, then gives the digests. 0, or -1 with e (a read error).
// A pending signal makes it stop early with that signal's number.
int hash_follower_finish(hash_follower *h, content_digest *d, hub_error *e);
// Stops and forgets (the file is restarted from 0, or the download abandoned). Safe when not running.
void hash_follower_cancel(hash_follower *h);

// 0 when size and digests are what f lists; -1 with e (SCOUT_EXIT_DATA) naming file and digests.
int verify_against_listing(const hub_file *f, uint64_t size, const content_digest *d, const char *name, hub_error *e);

// 1 when <dir>/<f->path> is a regular file that a sidecar vouches for: same size, inode and mtime
// as when it was verified, and the digest the listing expects.
int sidecar_vouches(const char *dir, const hub_file *f);
// Records that <dir>/<f->path> (already in place) was verified with digest d at commit. Thread-safe.
void sidecar_write(const char *dir, const hub_file *f, const content_digest *d, const char *commit);
// Removes a stale sidecar (the file is being replaced).
void sidecar_remove(const char *dir, const hub_file *f);

// mkdir -p of the directory part of path (safe when several threads create the same directory).
int out_make_parents(const char *path, hub_error *e);

#endif
