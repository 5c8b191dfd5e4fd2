// http.c: see http.h.
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "version.h"
#include "xio.h"

struct http_client {
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    char user_agent[128];
};

// What the curl callbacks of one http_perform share.
typedef struct exchange {
    const http_request *req;
    http_response *resp;
    size_t memory_cap;
} exchange;

void http_global_init(void) {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) die(SCOUT_EXIT_FAIL, "cannot initialise libcurl: %s", curl_easy_strerror(rc));
}

http_client *http_client_new(void) {
    http_client *c = xcalloc(1, sizeof *c);
    c->easy = curl_easy_init();
    if (!c->easy) die(SCOUT_EXIT_FAIL, "cannot create a libcurl handle (out of memory?)");
    snprintf(c->user_agent, sizeof c->user_agent, "%s/%s libcurl/%s", log_tool_name(), SCOUT_VERSION,
             curl_version_info(CURLVERSION_NOW)->version);
    return c;
}

void http_client_free(http_client *c) {
    if (!c) return;
    curl_easy_cleanup(c->easy);
    free(c);
}

static void clear_headers(http_response *r) {
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->n_headers = 0;
}

void http_response_free(http_response *r) {
    clear_headers(r);
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *http_header_get(const http_response *r, const char *name) {
    for (size_t i = r->n_headers; i-- > 0;)
        if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
    return NULL;
}

static char *dup_trimmed(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *out = xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

static void add_header(http_response *r, const char *line, size_t n) {
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line) return; // folded continuation lines and junk: nothing we read
    if (r->n_headers == r->cap_headers) {
        r->cap_headers = r->cap_headers ? 2 * r->cap_headers : 16;
        r->headers = xrealloc(r->headers, r->cap_headers * sizeof *r->headers);
    }
    http_header *h = &r->headers[r->n_headers++];
    h->name = dup_trimmed(line, (size_t)(colon - line));
    h->value = dup_trimmed(colon + 1, n - (size_t)(colon - line) - 1);
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userp) {
    exchange *x = userp;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        // A new status line starts a new response: an interim 100 Continue's headers are dropped.
        clear_headers(x->resp);
        const char *sp = memchr(data, ' ', n);
        x->resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return n;
    }
    add_header(x->resp, data, n);
    return n;
}

static void keep_in_memory(exchange *x, const char *data, size_t n) {
    http_response *r = x->resp;
    size_t room = r->body_len < x->memory_cap ? x->memory_cap - r->body_len : 0;
    if (n > room) {
        r->body_truncated = 1;
        n = room;
    }
    if (!n) return;
    r->body = xrealloc(r->body, r->body_len + n + 1);
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
    exchange *x = userp;
    size_t n = size * nmemb;
    long st = x->resp->status;
    if (x->req->sink && st >= 200 && st < 300) {
        if (x->req->sink(x->req->sink_ctx, data, n, x->resp) != 0) {
            x->resp->sink_aborted = 1;
            return 0; // a short count makes curl stop with CURLE_WRITE_ERROR
        }
        x->resp->sink_bytes += n;
        return n;
    }
    keep_in_memory(x, data, n);
    return n;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    exchange *x = userp;
    if (x->req->should_abort && x->req->should_abort(x->req->abort_ctx)) {
        x->resp->aborted = 1;
        return 1;
    }
    return 0;
}

// Checked curl_easy_setopt: an option this libcurl refuses is a build problem, not a network one.
#define SETOPT(h, opt, val)                                                                           \
    do {                                                                                              \
        CURLcode rc_ = curl_easy_setopt(h, opt, val);                                                 \
        if (rc_ != CURLE_OK)                                                                          \
            die(SCOUT_EXIT_FAIL, "libcurl refused option %s: %s (libcurl >= 7.85 is needed)", #opt,  \
                curl_easy_strerror(rc_));                                                             \
    } while (0)

int http_perform(http_client *c, const http_request *req, http_response *resp) {
    http_response_free(resp);
    exchange x = {req, resp, req->max_memory_body ? req->max_memory_body : 64 * 1024};
    CURL *h = c->easy;
    // Reset clears every option of the previous request (a token above all) but keeps the
    // connection cache, so the next request to the same host reuses the connection.
    curl_easy_reset(h);
    c->errbuf[0] = 0;
    SETOPT(h, CURLOPT_URL, req->url);
    SETOPT(h, CURLOPT_NOSIGNAL, 1L);   // several threads: no SIGALRM-based DNS timeouts
    SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(h, CURLOPT_USERAGENT, c->user_agent);
    SETOPT(h, CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(h, CURLOPT_CONNECTTIMEOUT, req->connect_timeout_s > 0 ? req->connect_timeout_s : 10L);
    SETOPT(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    SETOPT(h, CURLOPT_LOW_SPEED_TIME, req->stall_timeout_s > 0 ? req->stall_timeout_s : 30L);
    SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
    // Large receive blocks: fewer callbacks and write(2) calls when a 2 GB file streams to disk.
    // Best effort: libcurl 7.88 refuses this option on a handle whose previous transfer failed in
    // name resolution (CURLE_BAD_FUNCTION_ARGUMENT even after curl_easy_reset), which would turn
    // every retry after a DNS hiccup into a fatal error. The default buffer works, only slower.
    if (curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024) != CURLE_OK)
        log_debug("libcurl kept its default receive buffer for %s", req->url);
    SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(h, CURLOPT_HEADERDATA, &x);
    SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(h, CURLOPT_WRITEDATA, &x);
    SETOPT(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(h, CURLOPT_XFERINFODATA, &x);
    SETOPT(h, CURLOPT_NOPROGRESS, 0L);
    if (req->method == HTTP_HEAD) SETOPT(h, CURLOPT_NOBODY, 1L);
    if (req->bearer && *req->bearer) {
        // Bearer through curl's auth machinery, not a raw header: it applies to this URL's host only.
        SETOPT(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        SETOPT(h, CURLOPT_XOAUTH2_BEARER, req->bearer);
    }
    char range[64];
    if (req->range_start >= 0) {
        if (req->range_end >= 0)
            snprintf(range, sizeof range, "%lld-%lld", (long long)req->range_start, (long long)req->range_end);
        else
            snprintf(range, sizeof range, "%lld-", (long long)req->range_start);
        SETOPT(h, CURLOPT_RANGE, range);
    }
    if (req->accept_compressed) SETOPT(h, CURLOPT_ACCEPT_ENCODING, ""); // every codec this libcurl decodes
    struct curl_slist *hdrs = NULL;
    if (req->identity_encoding) hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
    if (hdrs) SETOPT(h, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code) resp->status = code;
    resp->curl_code = (int)rc;
    if (rc != CURLE_OK) {
        snprintf(resp->error, sizeof resp->error, "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        size_t len = strlen(resp->error);
        if (len && resp->error[len - 1] == '\n') resp->error[len - 1] = 0;
        return -1;
    }
    return 0;
}

int http_status_retryable(long s) {
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

int http_curl_code_retryable(int code) {
    switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST: // transient DNS failures happen on busy networks
    case CURLE_COULDNT_CONNECT:
    case CURLE_HTTP2:
    case CURLE_PARTIAL_FILE:         // the server closed before Content-Length bytes
    case CURLE_OPERATION_TIMEDOUT:   // connect timeout or the stall limit
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

// The t= parameter of `"api";r=0;t=55` (IETF RateLimit header draft), or -1.
static double ratelimit_reset_s(const char *v) {
    for (const char *p = v; (p = strstr(p, "t=")) != NULL; p += 2) {
        if (p != v && p[-1] != ';' && p[-1] != ' ' && p[-1] != ',') continue; // "...at=" is not t=
        char *end;
        double t = strtod(p + 2, &end);
        if (end != p + 2 && t >= 0) return t;
    }
    return -1;
}

double http_retry_after_s(const http_response *resp) {
    const char *ra = http_header_get(resp, "Retry-After");
    if (ra) {
        char *end;
        double s = strtod(ra, &end);
        if (end != ra && *end == 0 && s >= 0) return s;
        time_t when = curl_getdate(ra, NULL); // the HTTP-date form
        if (when != -1) {
            double d = difftime(when, time(NULL));
            return d > 0 ? d : 0;
        }
    }
    const char *rl = http_header_get(resp, "RateLimit");
    if (rl) {
        double t = ratelimit_reset_s(rl);
        if (t >= 0) return t;
    }
    const char *reset = http_header_get(resp, "RateLimit-Reset"); // an earlier draft's separate field
    if (reset) {
        char *end;
        double s = strtod(reset, &end);
        if (end != reset && s >= 0) return s;
    }
    return -1;
}

// Does the parameter list of one link (after '>') say rel="next"? rel may hold several
// space-separated relation types, quoted or not.
static int params_say_next(const char *p, const char *end) {
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t')) p++;
        const char *name = p;
        while (p < end && *p != '=' && *p != ';') p++;
        size_t name_len = (size_t)(p - name);
        while (name_len && name[name_len - 1] == ' ') name_len--;
        if (p >= end || *p != '=') continue;
        p++;
        while (p < end && *p == ' ') p++;
        const char *val, *val_end;
        if (p < end && *p == '"') {
            val = ++p;
            while (p < end && *p != '"') p++;
            val_end = p;
            if (p < end) p++;
        } else {
            val = p;
            while (p < end && *p != ';') p++;
            val_end = p;
        }
        if (name_len == 3 && strncasecmp(name, "rel", 3) == 0) {
            for (const char *t = val; t < val_end;) {
                while (t < val_end && *t == ' ') t++;
                const char *w = t;
                while (t < val_end && *t != ' ') t++;
                if (t - w == 4 && strncasecmp(w, "next", 4) == 0) return 1;
            }
        }
    }
    return 0;
}

char *http_link_next(const char *v) {
    const char *p = v;
    while (p && *p) {
        const char *lt = strchr(p, '<');
        if (!lt) return NULL;
        const char *gt = strchr(lt, '>');
        if (!gt) return NULL;
        // The link's parameters run to the next comma outside quotes.
        const char *q = gt + 1;
        int quoted = 0;
        while (*q && (quoted || *q != ',')) {
            if (*q == '"') quoted = !quoted;
            q++;
        }
        if (params_say_next(gt + 1, q)) {
            size_t n = (size_t)(gt - lt - 1);
            char *url = xmalloc(n + 1);
            memcpy(url, lt + 1, n);
            url[n] = 0;
            return url;
        }
        p = *q ? q + 1 : q;
    }
    return NULL;
}

static CURLU *parse_url(const char *url) {
    CURLU *u = curl_url();
    if (!u) die(SCOUT_EXIT_FAIL, "out of memory parsing a URL");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

static char *url_part(CURLU *u, CURLUPart part, unsigned flags) {
    char *s = NULL;
    if (curl_url_get(u, part, &s, flags) != CURLUE_OK) return NULL;
    char *out = xstrdup(s);
    curl_free(s);
    return out;
}

char *http_url_resolve(const char *base, const char *ref) {
    CURLU *u = parse_url(base);
    if (!u) return NULL;
    char *out = NULL;
    // Setting a relative URL on a handle that holds one resolves it (RFC 3986 §5).
    if (curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK) {
        char *scheme = url_part(u, CURLUPART_SCHEME, 0);
        if (scheme && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) out = url_part(u, CURLUPART_URL, 0);
        free(scheme);
    }
    curl_url_cleanup(u);
    return out;
}

int http_same_origin(const char *a, const char *b) {
    CURLU *ua = parse_url(a), *ub = parse_url(b);
    int same = 0;
    if (ua && ub) {
        char *sa = url_part(ua, CURLUPART_SCHEME, 0), *sb = url_part(ub, CURLUPART_SCHEME, 0);
        char *ha = url_part(ua, CURLUPART_HOST, 0), *hb = url_part(ub, CURLUPART_HOST, 0);
        char *pa = url_part(ua, CURLUPART_PORT, CURLU_DEFAULT_PORT), *pb = url_part(ub, CURLUPART_PORT, CURLU_DEFAULT_PORT);
        same = sa && sb && ha && hb && pa && pb && strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && strcmp(pa, pb) == 0;
        free(sa), free(sb), free(ha), free(hb), free(pa), free(pb);
    }
    if (ua) curl_url_cleanup(ua);
    if (ub) curl_url_cleanup(ub);
    return same;
}

void http_url_origin(const char *url, char *out, size_t n) {
    snprintf(out, n, "?");
    CURLU *u = parse_url(url);
    if (!u) return;
    char *s = url_part(u, CURLUPART_SCHEME, 0), *h = url_part(u, CURLUPART_HOST, 0), *p = url_part(u, CURLUPART_PORT, 0);
    if (s && h) snprintf(out, n, "%s://%s%s%s", s, h, p ? ":" : "", p ? p : "");
    free(s), free(h), free(p);
    curl_url_cleanup(u);
}

char *http_url_encode(const char *s, int keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

void http_describe_failure(const http_response *r, char *out, size_t n) {
    if (r->aborted) {
        snprintf(out, n, "interrupted");
    } else if (r->curl_code) {
        if (r->status >= 300)
            snprintf(out, n, "HTTP %ld, then %s", r->status, r->error[0] ? r->error : "transfer failed");
        else
            snprintf(out, n, "%s", r->error[0] ? r->error : "transfer failed");
    } else {
        // The Hub explains refusals in X-Error-Message; other servers in a short body.
        const char *msg = http_header_get(r, "X-Error-Message");
        char body[160] = "";
        if (!msg && r->body_len) {
            size_t k = 0;
            for (size_t i = 0; i < r->body_len && k + 1 < sizeof body; i++)
                body[k++] = (unsigned char)r->body[i] < 0x20 ? ' ' : r->body[i];
            body[k] = 0;
            msg = body;
        }
        if (msg && *msg)
            snprintf(out, n, "HTTP %ld (%s)", r->status, msg);
        else
            snprintf(out, n, "HTTP %ld", r->status);
    }
}
