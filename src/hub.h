// hub.h: the Hugging Face Hub's HTTP API (spec/data.md §2): where it is, who we are, which commit,
// which files, and where each file's bytes are.
//
//   hub_init     endpoint (HF_ENDPOINT) and token (HF_TOKEN, HUGGING_FACE_HUB_TOKEN, HF_TOKEN_PATH, or
//                the token file under HF_HOME), repository type, name and revision
//   hub_pin      the revision -> its commit sha, so every later request sees the same files
//   hub_list     the tree API, following Link rel="next" pages, filtered by --include/--exclude
//   hub_resolve  HEAD /resolve/ without following redirects: the URL to GET (the CDN's, or the Hub's
//                for a file kept in git) and whether the token may be sent there
//
// The token only ever goes to the endpoint's own origin (scheme, host and port). Every request is
// retried by the policy of hub_retry.h. Functions return 0, or -1 with a hub_error that names what
// failed, the URL, and what to try; they never exit, so download threads can report and go on.
#ifndef SCOUT_HUB_H
#define SCOUT_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "hub_retry.h"

typedef enum hub_repo_type { HUB_DATASET = 0, HUB_MODEL = 1 } hub_repo_type;

typedef struct hub_error {
    int code;        // exit code: SCOUT_EXIT_IO (network, refusals), SCOUT_EXIT_DATA (bad answers, wrong bytes),
                     // SCOUT_EXIT_FAIL (no file matched), or 130/143 (interrupted)
    char msg[2048];
} hub_error;

void hub_fail(hub_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef struct hub {
    char *endpoint;          // HF_ENDPOINT or https://huggingface.co, without a trailing '/'
    char *token;             // NULL: anonymous
    char token_source[600];  // where the token came from, for messages (never the token itself)
    hub_repo_type type;
    char *repo;              // "HuggingFaceFW/fineweb-edu"
    char *revision;          // as asked: "main", a tag, "refs/convert/parquet" or a sha
    char commit[41];         // filled by hub_pin
    retry_policy retry;
} hub;

typedef struct hub_file {
    char *path;           // in the repository, '/'-separated
    uint64_t size;
    char sha256[65];      // LFS oid = SHA-256 of the content; "" for a file kept in git
    char git_oid[41];     // git blob SHA-1 of a file kept in git; "" when unknown or LFS
} hub_file;

typedef struct hub_file_list {
    hub_file *v;
    size_t n, cap;
} hub_file_list;

// Which repository paths to take: huggingface_hub's allow/ignore pattern semantics (fnmatch, where
// '*' also matches '/', and a pattern ending in '/' means everything under it).
typedef struct hub_filter {
    const char **include; // none: every file
    int n_include;
    const char **exclude;
    int n_exclude;
} hub_filter;

typedef struct hub_location {
    char *url;            // where to GET the bytes
    int token_allowed;    // 1 only when url is on the endpoint's origin
    int64_t linked_size;  // X-Linked-Size (LFS) or Content-Length, -1 when absent
    char linked_etag[65]; // X-Linked-Etag or ETag without quotes and W/, "" when absent
} hub_location;

// Reads the environment; dies with a usage error on a malformed HF_ENDPOINT or repository name.
void hub_init(hub *h, hub_repo_type type, const char *repo, const char *revision);
void hub_free(hub *h);

int hub_pin(hub *h, http_client *c, hub_error *e);
// Files at the pinned commit matching the filter, sorted by path, duplicates removed.
int hub_list(const hub *h, http_client *c, const hub_filter *f, hub_file_list *out, hub_error *e);
void hub_file_list_free(hub_file_list *l);
int hub_resolve(const hub *h, http_client *c, const hub_file *f, hub_location *loc, hub_error *e);
void hub_location_free(hub_location *loc);

// What to do after a GET of a file's bytes at loc did not complete (rc and resp of http_perform):
// try the same URL again (after *hint_s seconds if the server said, else -1 and the backoff), ask
// the Hub for a new URL (the CDN's signed URL expired: 403 or 410 from a host that is not the Hub),
// or give up (any other refusal).
enum hub_step { HUB_STEP_RETRY, HUB_STEP_RERESOLVE, HUB_STEP_FAIL };
enum hub_step hub_failure_step(int rc, const http_response *resp, const hub_location *loc, double *hint_s);

// "{endpoint}/[datasets/]{repo}/resolve/{commit}/{path}", malloc'd.
char *hub_resolve_url(const hub *h, const char *path);
// The browsable page of the repository, for messages ("https://huggingface.co/datasets/x/y").
void hub_repo_page(const hub *h, char *out, size_t n);

// Paths and patterns (hub_filter.c).
// 1 when path is safe to create under an output directory: relative, no "." or ".." component,
// no empty component, no NUL or control character.
int hub_path_is_safe(const char *path);
int hub_filter_match(const hub_filter *f, const char *path);
// The directories the tree API must list for these patterns: the literal prefix of each pattern
// up to its last '/', recursive when the pattern has a wildcard. Nested roots are merged.
typedef struct hub_list_root {
    char *dir;      // "" for the repository root
    int recursive;
} hub_list_root;
size_t hub_filter_roots(const hub_filter *f, hub_list_root **roots);
void hub_list_roots_free(hub_list_root *roots, size_t n);

#endif
