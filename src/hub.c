// hub.c: see hub.h.
#include "hub.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"
#include "xio.h"

enum {
    MAX_TREE_PAGES = 100000,          // 100k pages of ~1000 entries: far beyond any real repository
    MAX_API_BODY = 256 << 20,         // one JSON page; the Hub's are well under 1 MB
    MAX_HUB_REDIRECTS = 5,            // redirects inside the Hub (a renamed repository) before the CDN
};

void hub_fail(hub_error *e, int code, const char *fmt, ...) {
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) die(SCOUT_EXIT_FAIL, "out of memory formatting a URL");
    return s;
}

static const char *api_kind(const hub *h) { return h->type == HUB_MODEL ? "models" : "datasets"; }
static const char *resolve_prefix(const hub *h) { return h->type == HUB_MODEL ? "" : "datasets/"; }

// ---------------------------------------------------------------------------------------------
// Configuration from the environment

static char *trimmed_copy(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strcspn(s, "\r\n"); // a token file may hold more lines; the token is the first
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (!n) return NULL;
    char *out = xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

static char *read_token_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return trimmed_copy(buf);
}

// The order of huggingface_hub: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the token file (HF_TOKEN_PATH,
// else $HF_HOME/token, HF_HOME defaulting to $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface).
static void find_token(hub *h) {
    const char *vars[] = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"};
    for (int i = 0; i < 2 && !h->token; i++) {
        const char *v = getenv(vars[i]);
        if (v && (h->token = trimmed_copy(v))) snprintf(h->token_source, sizeof h->token_source, "$%s", vars[i]);
    }
    if (!h->token) {
        char path[512] = "";
        const char *tp = getenv("HF_TOKEN_PATH"), *home = getenv("HF_HOME"), *xdg = getenv("XDG_CACHE_HOME"),
                   *user = getenv("HOME");
        if (tp && *tp)
            snprintf(path, sizeof path, "%s", tp);
        else if (home && *home)
            snprintf(path, sizeof path, "%s/token", home);
        else if (xdg && *xdg)
            snprintf(path, sizeof path, "%s/huggingface/token", xdg);
        else if (user && *user)
            snprintf(path, sizeof path, "%s/.cache/huggingface/token", user);
        if (*path && (h->token = read_token_file(path))) snprintf(h->token_source, sizeof h->token_source, "the file %s", path);
    }
    if (h->token)
        for (const char *p = h->token; *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                die(SCOUT_EXIT_USAGE, "the token from %s contains a space or control character; check it", h->token_source);
}

static int repo_name_ok(const char *r) {
    if (!*r || r[0] == '/' || r[strlen(r) - 1] == '/' || strstr(r, "..") || strstr(r, "//")) return 0;
    int slashes = 0;
    for (const char *p = r; *p; p++) {
        if (*p == '/') slashes++;
        else if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    }
    return slashes <= 1;
}

void hub_init(hub *h, hub_repo_type type, const char *repo, const char *revision) {
    memset(h, 0, sizeof *h);
    h->type = type;
    if (!repo_name_ok(repo))
        die(SCOUT_EXIT_USAGE, "'%s' is not a repository name like HuggingFaceFW/fineweb-edu", repo);
    h->repo = xstrdup(repo);
    h->revision = xstrdup(revision && *revision ? revision : "main");
    const char *ep = getenv("HF_ENDPOINT");
    h->endpoint = xstrdup(ep && *ep ? ep : "https://huggingface.co");
    size_t n = strlen(h->endpoint);
    while (n && h->endpoint[n - 1] == '/') h->endpoint[--n] = 0;
    if (strncmp(h->endpoint, "http://", 7) != 0 && strncmp(h->endpoint, "https://", 8) != 0)
        die(SCOUT_EXIT_USAGE, "HF_ENDPOINT must start with http:// or https://, got '%s'", ep);
    find_token(h);
    retry_policy_default(&h->retry);
}

void hub_free(hub *h) {
    free(h->endpoint);
    free(h->token);
    free(h->repo);
    free(h->revision);
    memset(h, 0, sizeof *h);
}

char *hub_resolve_url(const hub *h, const char *path) {
    char *repo = http_url_encode(h->repo, 1), *p = http_url_encode(path, 1);
    char *url = xasprintf("%s/%s%s/resolve/%s/%s", h->endpoint, resolve_prefix(h), repo, h->commit, p);
    free(repo);
    free(p);
    return url;
}

void hub_repo_page(const hub *h, char *out, size_t n) {
    snprintf(out, n, "%s/%s%s", h->endpoint, resolve_prefix(h), h->repo);
}

// ---------------------------------------------------------------------------------------------
// Requests with retries, and the Hub's refusals in words

// Performs req until an answer that is not worth retrying arrives (returns 0, any status), or
// the retry budget is spent, the transport fails for good, or a signal arrives (returns -1).
static int request_retrying(const hub *h, http_client *c, const http_request *req, const char *what,
                            http_response *r, hub_error *e) {
    retry_state st;
    retry_state_init(&st, (unsigned)getpid() ^ (unsigned)(uintptr_t)r);
    for (;;) {
        log_debug("%s %s", req->method == HTTP_HEAD ? "HEAD" : "GET", req->url);
        int rc = http_perform(c, req, r);
        if (sig_pending()) {
            hub_fail(e, sig_exit_code(sig_pending()), "%s: interrupted", what);
            return -1;
        }
        int retryable = rc != 0 ? http_curl_code_retryable(r->curl_code) : http_status_retryable(r->status);
        if (rc == 0 && !retryable) return 0;
        char desc[512];
        http_describe_failure(r, desc, sizeof desc);
        if (!retryable) {
            hub_fail(e, SCOUT_EXIT_IO, "%s: %s: %s (check the network and HF_ENDPOINT=%s)", what, req->url, desc,
                     h->endpoint);
            return -1;
        }
        double delay;
        double hint = rc == 0 ? http_retry_after_s(r) : -1;
        if (!retry_next(&h->retry, &st, hint, &delay)) {
            char why[256];
            retry_describe_giving_up(&h->retry, &st, hint, why, sizeof why);
            hub_fail(e, SCOUT_EXIT_IO, "%s: %s: %s; %s (try again later%s)", what, req->url, desc, why,
                     h->token || r->status != 429 ? "" : ", or set HF_TOKEN: authenticated users get higher rate limits");
            return -1;
        }
        log_info("%s: %s; retry %d/%d in %.1fs", what, desc, st.failures, h->retry.max_retries, delay);
        if (retry_sleep(&h->retry, delay)) {
            hub_fail(e, sig_exit_code(sig_pending()), "%s: interrupted", what);
            return -1;
        }
    }
}

static void refusal(const hub *h, const http_response *r, const char *what, const char *url, hub_error *e) {
    char desc[512], page[512], hint[1024];
    http_describe_failure(r, desc, sizeof desc);
    hub_repo_page(h, page, sizeof page);
    const char *code = http_header_get(r, "X-Error-Code");
    if (r->status == 401 && h->token)
        snprintf(hint, sizeof hint, "the Hub refused the token from %s: check it, or unset it for public repositories", h->token_source);
    else if (r->status == 401)
        snprintf(hint, sizeof hint, "a private or gated repository: set HF_TOKEN to a token with access");
    else if (r->status == 403)
        snprintf(hint, sizeof hint, "access denied: if the repository is gated, accept its conditions at %s and use that account's token", page);
    else if (r->status == 404 && code && strcmp(code, "RepoNotFound") == 0)
        snprintf(hint, sizeof hint, "no %s repository '%s'%s", h->type == HUB_MODEL ? "model" : "dataset", h->repo,
                 h->type == HUB_MODEL ? " (a dataset? drop --model)" : " (a model? add --model)");
    else if (r->status == 404 && code && strcmp(code, "RevisionNotFound") == 0)
        snprintf(hint, sizeof hint, "no revision '%s' in %s (see its branches and tags on %s)", h->revision, h->repo, page);
    else if (r->status == 404)
        snprintf(hint, sizeof hint, "not found: check the repository name, --model, --revision and --include");
    else
        snprintf(hint, sizeof hint, "unexpected answer from the Hub");
    hub_fail(e, SCOUT_EXIT_IO, "%s: %s: %s (%s)", what, url, desc, hint);
}

// GET of an API URL into memory. Returns 0 with a 2xx answer, 1 with any other answer (r holds it,
// e is filled), -1 when no answer came.
static int api_get(const hub *h, http_client *c, const char *url, const char *what, http_response *r, hub_error *e) {
    http_request req = {
        .method = HTTP_GET, .url = url, .range_start = -1, .range_end = -1, .accept_compressed = 1,
        .bearer = http_same_origin(url, h->endpoint) ? h->token : NULL, .max_memory_body = MAX_API_BODY,
    };
    if (request_retrying(h, c, &req, what, r, e) != 0) return -1;
    if (r->status >= 200 && r->status < 300) {
        if (r->body_truncated) {
            hub_fail(e, SCOUT_EXIT_DATA, "%s: %s: answer larger than %d MB", what, url, MAX_API_BODY >> 20);
            return 1;
        }
        return 0;
    }
    refusal(h, r, what, url, e);
    return 1;
}

static int is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return s[n] == 0;
}

static void lower_copy(char *dst, const char *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = (char)tolower((unsigned char)src[i]);
    dst[n] = 0;
}

// ---------------------------------------------------------------------------------------------
// Pin

int hub_pin(hub *h, http_client *c, hub_error *e) {
    char *repo = http_url_encode(h->repo, 1), *rev = http_url_encode(h->revision, 0);
    char *url = xasprintf("%s/api/%s/%s/revision/%s", h->endpoint, api_kind(h), repo, rev);
    free(repo);
    free(rev);
    http_response r = {0};
    char what[600];
    snprintf(what, sizeof what, "pinning %s@%s", h->repo, h->revision);
    int rc = api_get(h, c, url, what, &r, e);
    if (rc == 0) {
        json_error_t je;
        json_t *doc = json_loadb(r.body ? r.body : "", r.body_len, 0, &je);
        const char *sha = json_string_value(json_object_get(doc, "sha"));
        if (!sha) sha = http_header_get(&r, "X-Repo-Commit"); // a mirror that answers without the JSON field
        if (sha && strlen(sha) == 40 && is_hex(sha, 40)) {
            lower_copy(h->commit, sha, 40);
        } else {
            hub_fail(e, SCOUT_EXIT_DATA, "%s: %s: the answer names no commit sha (is HF_ENDPOINT=%s a Hub?)", what, url,
                     h->endpoint);
            rc = 1;
        }
        json_decref(doc);
    }
    http_response_free(&r);
    free(url);
    return rc == 0 ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------
// List

static void list_push(hub_file_list *l, const hub_file *f) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = *f;
}

void hub_file_list_free(hub_file_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

// One page of the tree API: a JSON array of {type, path, size, oid, lfs:{oid, size}}.
static int parse_tree_page(const http_response *r, const char *url, const hub_filter *f, hub_file_list *out, hub_error *e) {
    json_error_t je;
    json_t *doc = json_loadb(r->body ? r->body : "", r->body_len, 0, &je);
    if (!json_is_array(doc)) {
        hub_fail(e, SCOUT_EXIT_DATA, "listing %s: not a JSON array (%s at line %d)", url, doc ? "another JSON value" : je.text,
                 je.line);
        json_decref(doc);
        return -1;
    }
    size_t i;
    json_t *ent;
    json_array_foreach(doc, i, ent) {
        const char *type = json_string_value(json_object_get(ent, "type"));
        const char *path = json_string_value(json_object_get(ent, "path"));
        if (!type || !path) {
            hub_fail(e, SCOUT_EXIT_DATA, "listing %s: entry %zu has no type or path", url, i);
            goto bad;
        }
        if (strcmp(type, "file") != 0) continue; // directories of a recursive listing
        if (!hub_path_is_safe(path)) {
            hub_fail(e, SCOUT_EXIT_DATA, "listing %s: unsafe path '%s' (absolute, empty or with '..'): refusing to write it",
                     url, path);
            goto bad;
        }
        json_t *size = json_object_get(ent, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            hub_fail(e, SCOUT_EXIT_DATA, "listing %s: '%s' has no valid size", url, path);
            goto bad;
        }
        if (!hub_filter_match(f, path)) continue;
        hub_file hf = {0};
        hf.size = (uint64_t)json_integer_value(size);
        json_t *lfs = json_object_get(ent, "lfs");
        const char *oid = json_string_value(json_object_get(ent, "oid"));
        if (json_is_object(lfs)) {
            const char *sha = json_string_value(json_object_get(lfs, "oid"));
            json_t *lsize = json_object_get(lfs, "size");
            if (!sha || strlen(sha) != 64 || !is_hex(sha, 64) ||
                (json_is_integer(lsize) && (uint64_t)json_integer_value(lsize) != hf.size)) {
                hub_fail(e, SCOUT_EXIT_DATA, "listing %s: '%s' has a malformed lfs entry (oid must be 64 hex digits, size the file's)",
                         url, path);
                goto bad;
            }
            lower_copy(hf.sha256, sha, 64);
        } else if (oid && strlen(oid) == 40 && is_hex(oid, 40)) {
            lower_copy(hf.git_oid, oid, 40);
        }
        hf.path = xstrdup(path);
        list_push(out, &hf);
    }
    json_decref(doc);
    return 0;
bad:
    json_decref(doc);
    return -1;
}

static int cmp_path(const void *a, const void *b) {
    return strcmp(((const hub_file *)a)->path, ((const hub_file *)b)->path);
}

// Lists one directory, page after page. Returns 0, 1 when the directory does not exist, -1 on error.
static int list_root(const hub *h, http_client *c, const hub_list_root *root, const hub_filter *f, hub_file_list *out,
                     hub_error *e) {
    char *repo = http_url_encode(h->repo, 1), *dir = http_url_encode(root->dir, 1);
    char *url = xasprintf("%s/api/%s/%s/tree/%s%s%s?recursive=%s&expand=false", h->endpoint, api_kind(h), repo, h->commit,
                          *dir ? "/" : "", dir, root->recursive ? "true" : "false");
    free(repo);
    free(dir);
    char what[600];
    snprintf(what, sizeof what, "listing %s/%s", h->repo, root->dir);
    int rc = 0;
    for (int page = 1; url; page++) {
        http_response r = {0};
        int got = api_get(h, c, url, what, &r, e);
        if (got == 1 && r.status == 404 && *root->dir) {
            // A pattern naming a directory that does not exist matches nothing; hub_list says so
            // when no pattern matched anything.
            log_debug("%s: no such directory at %.12s", what, h->commit);
            rc = 1;
        } else if (got != 0 || parse_tree_page(&r, url, f, out, e) != 0) {
            rc = -1;
        }
        char *next = NULL;
        const char *link = rc == 0 ? http_header_get(&r, "Link") : NULL;
        char *raw = link ? http_link_next(link) : NULL;
        if (raw) {
            next = http_url_resolve(url, raw);
            if (!next || strcmp(next, url) == 0 || page >= MAX_TREE_PAGES) {
                hub_fail(e, SCOUT_EXIT_DATA, "%s: the Link header of page %d does not lead to a new page (%s)", what, page,
                         raw);
                free(next);
                next = NULL;
                rc = -1;
            }
            free(raw);
        }
        if (next) log_debug("%s: page %d done, %zu files so far", what, page, out->n);
        http_response_free(&r);
        free(url);
        url = next;
    }
    return rc;
}

int hub_list(const hub *h, http_client *c, const hub_filter *f, hub_file_list *out, hub_error *e) {
    hub_list_root *roots;
    size_t n = hub_filter_roots(f, &roots);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (list_root(h, c, &roots[i], f, out, e) < 0) rc = -1;
    hub_list_roots_free(roots, n);
    if (rc) return rc;
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_path);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (k && strcmp(out->v[k - 1].path, out->v[i].path) == 0) {
            free(out->v[i].path);
            continue;
        }
        out->v[k++] = out->v[i];
    }
    out->n = k;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Resolve

// ETag / X-Linked-Etag without the W/ prefix and quotes, lower-case.
static void etag_value(const char *v, char out[65]) {
    out[0] = 0;
    if (!v) return;
    if (strncmp(v, "W/", 2) == 0) v += 2;
    if (*v == '"') v++;
    size_t n = strcspn(v, "\"");
    if (n == 40 || n == 64) {
        lower_copy(out, v, n);
        if (!is_hex(out, n)) out[0] = 0;
    }
}

void hub_location_free(hub_location *loc) {
    free(loc->url);
    memset(loc, 0, sizeof *loc);
}

int hub_resolve(const hub *h, http_client *c, const hub_file *f, hub_location *loc, hub_error *e) {
    memset(loc, 0, sizeof *loc);
    loc->linked_size = -1;
    char *url = hub_resolve_url(h, f->path);
    char what[4200];
    snprintf(what, sizeof what, "resolving %s", f->path);
    for (int hop = 0; hop <= MAX_HUB_REDIRECTS; hop++) {
        int on_hub = http_same_origin(url, h->endpoint);
        http_request req = {
            .method = HTTP_HEAD, .url = url, .bearer = on_hub ? h->token : NULL, .range_start = -1, .range_end = -1,
            .identity_encoding = 1,
        };
        http_response r = {0};
        if (request_retrying(h, c, &req, what, &r, e) != 0) {
            http_response_free(&r);
            free(url);
            return -1;
        }
        // The first hop that names them carries the file's true size and hash (X-Linked-*).
        const char *ls = http_header_get(&r, "X-Linked-Size");
        if (ls && loc->linked_size < 0) loc->linked_size = strtoll(ls, NULL, 10);
        if (!loc->linked_etag[0]) etag_value(http_header_get(&r, "X-Linked-Etag"), loc->linked_etag);
        if (r.status >= 300 && r.status < 400) {
            const char *to = http_header_get(&r, "Location");
            char *next = to ? http_url_resolve(url, to) : NULL;
            if (!next) {
                hub_fail(e, SCOUT_EXIT_DATA, "%s: %s: HTTP %ld with %s Location", what, url, r.status, to ? "an unusable" : "no");
                http_response_free(&r);
                free(url);
                return -1;
            }
            http_response_free(&r);
            free(url);
            url = next;
            if (!http_same_origin(url, h->endpoint)) { // the CDN: GET it there, without the token
                loc->url = url;
                return 0;
            }
            continue; // a redirect inside the Hub (a renamed repository): follow it, with the token
        }
        if (r.status >= 200 && r.status < 300) {
            if (!loc->linked_etag[0]) etag_value(http_header_get(&r, "ETag"), loc->linked_etag);
            const char *cl = http_header_get(&r, "Content-Length");
            if (cl && loc->linked_size < 0) loc->linked_size = strtoll(cl, NULL, 10);
            loc->url = url;
            loc->token_allowed = on_hub;
            http_response_free(&r);
            return 0;
        }
        refusal(h, &r, what, url, e);
        http_response_free(&r);
        free(url);
        return -1;
    }
    hub_fail(e, SCOUT_EXIT_DATA, "%s: more than %d redirects inside %s", what, MAX_HUB_REDIRECTS, h->endpoint);
    free(url);
    return -1;
}

enum hub_step hub_failure_step(int rc, const http_response *resp, const hub_location *loc, double *hint_s) {
    *hint_s = -1;
    if (rc != 0) return http_curl_code_retryable(resp->curl_code) ? HUB_STEP_RETRY : HUB_STEP_FAIL;
    // A signed CDN URL lives about an hour: its 403 (or 410) means "ask the Hub for a new one".
    if ((resp->status == 403 || resp->status == 410) && !loc->token_allowed) return HUB_STEP_RERESOLVE;
    if (http_status_retryable(resp->status)) {
        *hint_s = http_retry_after_s(resp);
        return HUB_STEP_RETRY;
    }
    return HUB_STEP_FAIL;
}
