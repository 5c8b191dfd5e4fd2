// http.h: one HTTP exchange at a time over libcurl, keeping the response headers the Hub client reads.
//
// Redirects are never followed here. The caller (hub.c) reads Location and decides where the next
// request goes and whether the token may go with it: the Hub's 302 points at a CDN host that must
// never see the token (spec/data.md §2.5). A token is passed through CURLOPT_XOAUTH2_BEARER with
// CURLAUTH_BEARER, never as a raw header, and only for the one request that names it.
//
// The response body goes either to a caller's sink (file downloads, only for 2xx answers) or into
// memory (API calls, and the body of any error answer, kept for the message).
//
// One http_client per thread: it owns a CURL easy handle, whose connection cache makes consecutive
// requests to the same host reuse one connection.
#ifndef SCOUT_HTTP_H
#define SCOUT_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct http_client http_client;
typedef struct http_response http_response;

// Receives body bytes of a 2xx answer. Returns 0 to go on, non-zero to abort the transfer
// (http_response.sink_aborted is then set).
typedef int (*http_sink_fn)(void *ctx, const void *data, size_t n, const http_response *resp);
// Polled during a transfer, about once a second even when no byte arrives. Non-zero aborts it.
typedef int (*http_abort_fn)(void *ctx);

enum http_method { HTTP_GET = 0, HTTP_HEAD = 1 };

typedef struct http_request {
    int method;               // HTTP_GET or HTTP_HEAD
    const char *url;
    const char *bearer;       // token for this request only, or NULL
    int64_t range_start;      // >= 0: "Range: bytes=START-[END]"; -1: no Range
    int64_t range_end;        // inclusive last byte, or -1 for "to the end"
    int identity_encoding;    // 1: "Accept-Encoding: identity" (true sizes of small files on a HEAD)
    int accept_compressed;    // 1: accept gzip/deflate/br/zstd answers, decoded here (API JSON)
    http_sink_fn sink;        // NULL: a 2xx body is kept in memory too
    void *sink_ctx;
    http_abort_fn should_abort;
    void *abort_ctx;
    size_t max_memory_body;   // cap on a body kept in memory (0: 64 KiB); the rest is dropped
    long connect_timeout_s;   // 0: 10 s
    long stall_timeout_s;     // abort when under 1 byte/s for this long (0: 30 s)
} http_request;

typedef struct http_header {
    char *name;  // as sent, compared case-insensitively
    char *value; // trimmed
} http_header;

struct http_response {
    long status;             // the HTTP status, 0 when no answer came
    int curl_code;           // CURLcode; 0 when the exchange completed
    char error[256];         // curl's message when curl_code != 0
    int sink_aborted;        // the sink refused the body
    int aborted;             // should_abort stopped the transfer
    http_header *headers;    // of the final response (1xx answers are dropped)
    size_t n_headers, cap_headers;
    char *body;              // NUL-terminated; non-2xx bodies always, 2xx bodies when there is no sink
    size_t body_len;
    int body_truncated;      // more than max_memory_body arrived
    uint64_t sink_bytes;     // body bytes given to the sink
};

// Once per process, before any thread starts (curl_global_init is not thread-safe).
void http_global_init(void);
http_client *http_client_new(void);
void http_client_free(http_client *c);

// Performs the request. Returns 0 when an HTTP answer was received completely (any status), -1 when
// the transport failed or the transfer was aborted; resp is filled in both cases. Free resp with
// http_response_free; it is reset at the start.
int http_perform(http_client *c, const http_request *req, http_response *resp);
void http_response_free(http_response *resp);

// The value of the last header named `name` (case-insensitive), or NULL.
const char *http_header_get(const http_response *resp, const char *name);

// True for statuses worth another try: 408, 429, 500, 502, 503, 504 (as huggingface_hub).
int http_status_retryable(long status);
// True for transport failures worth another try: refused or reset connections, timeouts, early close.
int http_curl_code_retryable(int curl_code);

// Seconds the server asks to wait: Retry-After (delta-seconds or an HTTP date), else the t=
// parameter of an IETF "RateLimit" header. -1 when neither is present or parseable.
double http_retry_after_s(const http_response *resp);

// The URL of the rel="next" entry of a Link header value (RFC 8288), malloc'd, or NULL.
char *http_link_next(const char *link_value);

// `ref` (absolute or relative, as in a Location header) resolved against `base`; malloc'd, or
// NULL when it is not a valid http(s) URL.
char *http_url_resolve(const char *base, const char *ref);
// 1 when both URLs have the same scheme, host (case-insensitive) and port (defaults filled in).
int http_same_origin(const char *a, const char *b);
// "scheme://host[:port]" of a URL for messages, into out; "?" when unparseable.
void http_url_origin(const char *url, char *out, size_t n);

// Percent-encodes s: unreserved characters (RFC 3986) stay, '/' stays when keep_slash. malloc'd.
char *http_url_encode(const char *s, int keep_slash);

// A short description of why an exchange failed: "HTTP 503 Service Unavailable" style or curl's
// message, into out.
void http_describe_failure(const http_response *resp, char *out, size_t n);

#endif
