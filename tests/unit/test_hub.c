// test_hub.c: the Hub client's pure parts on known answers: Link pagination, Retry-After and
// RateLimit, the backoff schedule and its bounds, URL resolution and origins (where the token may
// go), path safety, include/exclude patterns and the directories they list, digests, sidecars, and
// what a failed GET leads to. The network parts are driven by tests/fetch.bats against a stand-in.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "check.h"
#include "http.h"
#include "hub.h"
#include "hub_retry.h"
#include "hub_verify.h"
#include "xio.h"

// A response holding the given "Name", "value" pairs, as http_perform would fill it.
static http_response response_with(long status, int n, const char *const *kv) {
    http_response r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.headers = xcalloc((size_t)n + 1, sizeof *r.headers);
    for (int i = 0; i < n; i++) {
        r.headers[i].name = xstrdup(kv[2 * i]);
        r.headers[i].value = xstrdup(kv[2 * i + 1]);
    }
    r.n_headers = r.cap_headers = (size_t)n;
    return r;
}

static void test_link_next(void) {
    char *u = http_link_next("<https://huggingface.co/api/datasets/x/tree/main?cursor=abc>; rel=\"next\"");
    CHECK_EQ_STR(u, "https://huggingface.co/api/datasets/x/tree/main?cursor=abc");
    free(u);
    // Several links, next not first, unquoted rel, a comma inside a quoted parameter.
    u = http_link_next("<https://h/p?c=1>; rel=\"prev\"; title=\"a, b\", <https://h/p?c=3>; rel=next");
    CHECK_EQ_STR(u, "https://h/p?c=3");
    free(u);
    u = http_link_next("<https://h/a>; rel=\"prev next\"");
    CHECK_EQ_STR(u, "https://h/a");
    free(u);
    u = http_link_next("<https://h/a>;rel=NEXT");
    CHECK_EQ_STR(u, "https://h/a");
    free(u);
    CHECK(http_link_next("<https://h/a>; rel=\"prev\"") == NULL);
    CHECK(http_link_next("<https://h/a>; rel=\"nextpage\"") == NULL);
    CHECK(http_link_next("") == NULL);
    CHECK(http_link_next("<https://h/a; rel=next") == NULL); // no closing '>'
    CHECK(http_link_next("<https://h/a>; title=\"rel=next\"") == NULL);
}

static void test_retry_after(void) {
    const char *a[] = {"Retry-After", "7"};
    http_response r = response_with(429, 1, a);
    CHECK_CLOSE(http_retry_after_s(&r), 7, 0, 0);
    http_response_free(&r);

    const char *b[] = {"RateLimit", "\"api\";r=0;t=55", "RateLimit-Policy", "\"fixed window\";\"api\";q=500;w=300"};
    r = response_with(429, 2, b);
    CHECK_CLOSE(http_retry_after_s(&r), 55, 0, 0);
    http_response_free(&r);

    const char *c[] = {"ratelimit", "\"resolvers\"; r=0; t=12"}; // names are case-insensitive
    r = response_with(429, 1, c);
    CHECK_CLOSE(http_retry_after_s(&r), 12, 0, 0);
    http_response_free(&r);

    const char *d[] = {"RateLimit", "\"api\";at=5;r=3"}; // "at=" is not "t="
    r = response_with(503, 1, d);
    CHECK_CLOSE(http_retry_after_s(&r), -1, 0, 0);
    http_response_free(&r);

    // The HTTP-date form: a moment about 30 s from now.
    char date[64];
    time_t when = time(NULL) + 30;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&when));
    const char *e[] = {"Retry-After", date};
    r = response_with(503, 1, e);
    double s = http_retry_after_s(&r);
    CHECK(s >= 28 && s <= 31);
    http_response_free(&r);

    const char *f[] = {"Retry-After", "soon"};
    r = response_with(503, 1, f);
    CHECK_CLOSE(http_retry_after_s(&r), -1, 0, 0);
    http_response_free(&r);

    r = response_with(503, 0, NULL);
    CHECK_CLOSE(http_retry_after_s(&r), -1, 0, 0);
    http_response_free(&r);
}

static void test_retryable(void) {
    long yes[] = {408, 429, 500, 502, 503, 504}, no[] = {200, 206, 302, 400, 401, 403, 404, 416, 501};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) CHECK(http_status_retryable(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) CHECK(!http_status_retryable(no[i]));
    CHECK(http_curl_code_retryable(7));   // CURLE_COULDNT_CONNECT
    CHECK(http_curl_code_retryable(18));  // CURLE_PARTIAL_FILE: the server closed early
    CHECK(http_curl_code_retryable(28));  // CURLE_OPERATION_TIMEDOUT
    CHECK(http_curl_code_retryable(56));  // CURLE_RECV_ERROR
    CHECK(!http_curl_code_retryable(1));  // CURLE_UNSUPPORTED_PROTOCOL
    CHECK(!http_curl_code_retryable(23)); // CURLE_WRITE_ERROR: our disk, not the network
    CHECK(!http_curl_code_retryable(60)); // CURLE_PEER_FAILED_VERIFICATION: never retry a bad certificate
}

static void test_backoff(void) {
    unsetenv("SCOUT_FETCH_BACKOFF_MS");
    retry_policy p;
    retry_policy_default(&p);
    CHECK_EQ_INT(p.max_retries, 5);
    CHECK_CLOSE(p.ms_per_s, 1000, 0, 0);
    retry_state s;
    retry_state_init(&s, 42);
    double d, want[] = {1, 2, 4, 8, 8};
    for (int i = 0; i < 5; i++) {
        CHECK(retry_next(&p, &s, -1, &d));
        CHECK(d >= 0.8 * want[i] - 1e-9 && d <= 1.2 * want[i] + 1e-9); // +-20% jitter
    }
    CHECK(!retry_next(&p, &s, -1, &d)); // the count is spent
    retry_progress(&s);                 // new bytes: the budget starts again
    CHECK(retry_next(&p, &s, -1, &d));
    CHECK(d <= 1.2);

    // The server's wait, plus one second, replaces the backoff.
    retry_state_init(&s, 1);
    CHECK(retry_next(&p, &s, 10, &d));
    CHECK_CLOSE(d, 11, 0, 0);
    // A wait beyond the time budget gives up at once.
    CHECK(!retry_next(&p, &s, 3600, &d));
    CHECK_EQ_INT(s.failures, 1);
    // The time budget also bounds a run of long waits.
    p.max_wait_s = 30;
    retry_state_init(&s, 1);
    CHECK(retry_next(&p, &s, 14, &d));
    CHECK(retry_next(&p, &s, 14, &d));
    CHECK(!retry_next(&p, &s, 14, &d));

    setenv("SCOUT_FETCH_BACKOFF_MS", "20", 1);
    retry_policy_default(&p);
    CHECK_CLOSE(p.ms_per_s, 20, 0, 0);
    unsetenv("SCOUT_FETCH_BACKOFF_MS");
}

static void test_urls(void) {
    char *u = http_url_resolve("https://huggingface.co/datasets/a/b/resolve/x/f", "/api/other?c=1");
    CHECK_EQ_STR(u, "https://huggingface.co/api/other?c=1");
    free(u);
    u = http_url_resolve("http://127.0.0.1:5000/a/b", "https://cdn-lfs.hf.co/x?sig=1");
    CHECK_EQ_STR(u, "https://cdn-lfs.hf.co/x?sig=1");
    free(u);
    CHECK(http_url_resolve("https://h/a", "file:///etc/passwd") == NULL); // only http(s) is followed
    CHECK(http_url_resolve("https://h/a", "ftp://h/x") == NULL);

    CHECK(http_same_origin("https://huggingface.co/api/x", "https://HuggingFace.co"));
    CHECK(http_same_origin("http://h/a", "http://h:80/b"));
    CHECK(http_same_origin("https://h/a", "https://h:443"));
    CHECK(!http_same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5001/a")); // the test's CDN
    CHECK(!http_same_origin("https://huggingface.co", "http://huggingface.co"));
    CHECK(!http_same_origin("https://huggingface.co", "https://cdn-lfs.huggingface.co"));
    CHECK(!http_same_origin("https://huggingface.co", "not a url"));

    char o[128];
    http_url_origin("https://cdn-lfs.hf.co:8443/repos/x?X-Amz-Signature=abc", o, sizeof o);
    CHECK_EQ_STR(o, "https://cdn-lfs.hf.co:8443");

    char *e = http_url_encode("refs/convert/parquet", 0);
    CHECK_EQ_STR(e, "refs%2Fconvert%2Fparquet");
    free(e);
    e = http_url_encode("sample/10BT/a b+c~_.-.parquet", 1);
    CHECK_EQ_STR(e, "sample/10BT/a%20b%2Bc~_.-.parquet");
    free(e);
    e = http_url_encode("caf\xc3\xa9", 1);
    CHECK_EQ_STR(e, "caf%C3%A9");
    free(e);
}

static void test_hub_urls(void) {
    setenv("HF_ENDPOINT", "http://127.0.0.1:9/mirror//", 1);
    setenv("HF_TOKEN", "  hf_abc\n", 1);
    hub h;
    hub_init(&h, HUB_DATASET, "HuggingFaceFW/fineweb-edu", NULL);
    CHECK_EQ_STR(h.endpoint, "http://127.0.0.1:9/mirror");
    CHECK_EQ_STR(h.token, "hf_abc");
    CHECK_EQ_STR(h.token_source, "$HF_TOKEN");
    CHECK_EQ_STR(h.revision, "main");
    strcpy(h.commit, "87f09149ef4734204d70ed1d046ddc9ca3f2b8f9");
    char *u = hub_resolve_url(&h, "sample/10BT/000_00000.parquet");
    CHECK_EQ_STR(u, "http://127.0.0.1:9/mirror/datasets/HuggingFaceFW/fineweb-edu/resolve/"
                    "87f09149ef4734204d70ed1d046ddc9ca3f2b8f9/sample/10BT/000_00000.parquet");
    free(u);
    hub_free(&h);
    unsetenv("HF_TOKEN");
    hub_init(&h, HUB_MODEL, "fla-hub/transformer-1.3B-100B", "v1");
    strcpy(h.commit, "0123456789012345678901234567890123456789");
    u = hub_resolve_url(&h, "tokenizer.json");
    CHECK_EQ_STR(u, "http://127.0.0.1:9/mirror/fla-hub/transformer-1.3B-100B/resolve/"
                    "0123456789012345678901234567890123456789/tokenizer.json");
    free(u);
    hub_free(&h);
    unsetenv("HF_ENDPOINT");
}

static void test_paths(void) {
    const char *ok[] = {"a", "sample/10BT/000_00000.parquet", ".gitattributes", "a/.hidden", "x..y", "a/b..", "日本/x"};
    const char *bad[] = {"", "/etc/passwd", "../x", "a/../b", "a/..", "./a", "a/./b", "a//b", "a/", "a\nb", "a\x7f"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) CHECK(hub_path_is_safe(ok[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(!hub_path_is_safe(bad[i]));
        if (hub_path_is_safe(bad[i])) fprintf(stderr, "  accepted '%s'\n", bad[i]);
    }
}

static void test_filters(void) {
    const char *inc[] = {"sample/10BT/*.parquet", "README.md"};
    const char *exc[] = {"*/013_*"};
    hub_filter f = {inc, 2, exc, 1};
    CHECK(hub_filter_match(&f, "sample/10BT/000_00000.parquet"));
    CHECK(hub_filter_match(&f, "sample/10BT/deeper/x.parquet")); // '*' crosses '/', as huggingface_hub
    CHECK(!hub_filter_match(&f, "sample/10BT/013_00000.parquet"));
    CHECK(!hub_filter_match(&f, "sample/100BT/000_00000.parquet"));
    CHECK(hub_filter_match(&f, "README.md"));
    CHECK(!hub_filter_match(&f, "data/README.md"));
    const char *dir[] = {"sample/"};
    hub_filter g = {dir, 1, NULL, 0};
    CHECK(hub_filter_match(&g, "sample/350BT/x.parquet"));
    CHECK(!hub_filter_match(&g, "samples/x"));
    hub_filter all = {NULL, 0, NULL, 0};
    CHECK(hub_filter_match(&all, "anything/at/all"));

    hub_list_root *roots;
    size_t n = hub_filter_roots(&f, &roots);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(roots[0].dir, "sample/10BT");
    CHECK_EQ_INT(roots[0].recursive, 1);
    CHECK_EQ_STR(roots[1].dir, ""); // README.md: the root, not recursive
    CHECK_EQ_INT(roots[1].recursive, 0);
    hub_list_roots_free(roots, n);

    // Nested and repeated roots collapse into the recursive one above them.
    const char *nest[] = {"sample/10BT/*", "sample/*/x", "sample/10BT/a.parquet", "data/CC-MAIN-2024-10/a", "data/CC-MAIN-2024-10/b"};
    hub_filter h = {nest, 5, NULL, 0};
    n = hub_filter_roots(&h, &roots);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(roots[0].dir, "sample");
    CHECK_EQ_INT(roots[0].recursive, 1);
    CHECK_EQ_STR(roots[1].dir, "data/CC-MAIN-2024-10");
    CHECK_EQ_INT(roots[1].recursive, 0);
    hub_list_roots_free(roots, n);

    n = hub_filter_roots(&all, &roots);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(roots[0].dir, "");
    CHECK_EQ_INT(roots[0].recursive, 1);
    hub_list_roots_free(roots, n);
}

static void test_digests(void) {
    // git hash-object of "hello\n" and the SHA-256 of "abc" (FIPS 180-2 example).
    hub_file git = {.path = "x", .size = 6};
    content_hash h;
    content_digest d;
    content_hash_init(&h, &git);
    content_hash_update(&h, "hel", 3);
    content_hash_update(&h, "lo\n", 3);
    content_hash_final(&h, &d);
    CHECK_EQ_STR(d.git_oid, "ce013625030ba8dba906f756967f9e9ca394464a");
    hub_file lfs = {.path = "y", .size = 3, .sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    content_hash_init(&h, &lfs);
    content_hash_update(&h, "abc", 3);
    content_hash_final(&h, &d);
    CHECK_EQ_STR(d.sha256, lfs.sha256);
    CHECK_EQ_STR(d.git_oid, ""); // not computed for LFS files
    hub_error e = {0};
    CHECK_EQ_INT(verify_against_listing(&lfs, 3, &d, "y", &e), 0);
    CHECK_EQ_INT(verify_against_listing(&lfs, 4, &d, "y", &e), -1);
    CHECK_EQ_INT(e.code, 3);
    CHECK(strstr(e.msg, "4 bytes, the Hub lists 3") != NULL);
    lfs.sha256[0] = 'c';
    CHECK_EQ_INT(verify_against_listing(&lfs, 3, &d, "y", &e), -1);
    CHECK(strstr(e.msg, "SHA-256 ba78") != NULL);
    strcpy(git.git_oid, "0000000000000000000000000000000000000000");
    strcpy(d.git_oid, "ce013625030ba8dba906f756967f9e9ca394464a");
    git.size = 3;
    CHECK_EQ_INT(verify_against_listing(&git, 3, &d, "x", &e), -1);
    CHECK(strstr(e.msg, "git blob id ce01") != NULL);
}

static void test_sidecar(void) {
    char dir[] = "/tmp/test_hub_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[256];
    snprintf(file, sizeof file, "%s/sub/f.parquet", dir);
    hub_error e;
    CHECK_EQ_INT(out_make_parents(file, &e), 0);
    FILE *fp = fopen(file, "wb");
    fputs("abc", fp);
    fclose(fp);
    hub_file f = {.path = "sub/f.parquet", .size = 3, .sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    CHECK(!sidecar_vouches(dir, &f)); // none yet
    content_digest d = {.sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    sidecar_write(dir, &f, &d, "87f09149ef4734204d70ed1d046ddc9ca3f2b8f9");
    CHECK(sidecar_vouches(dir, &f));
    hub_file other = f;
    other.sha256[0] = '0'; // the listing now names other content: the sidecar is stale
    CHECK(!sidecar_vouches(dir, &other));
    struct utimbuf t = {1000000000, 1000000000}; // the file changed after it was verified
    utime(file, &t);
    CHECK(!sidecar_vouches(dir, &f));
    sidecar_write(dir, &f, &d, "87f09149ef4734204d70ed1d046ddc9ca3f2b8f9");
    CHECK(sidecar_vouches(dir, &f));
    sidecar_remove(dir, &f);
    CHECK(!sidecar_vouches(dir, &f));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

static void test_failure_steps(void) {
    hub_location cdn = {.url = "https://cdn/x", .token_allowed = 0}, on_hub = {.url = "https://hub/x", .token_allowed = 1};
    double hint;
    http_response r = response_with(403, 0, NULL);
    CHECK_EQ_INT(hub_failure_step(0, &r, &cdn, &hint), HUB_STEP_RERESOLVE); // the signed URL expired
    CHECK_EQ_INT(hub_failure_step(0, &r, &on_hub, &hint), HUB_STEP_FAIL);   // the Hub said no
    r.status = 410;
    CHECK_EQ_INT(hub_failure_step(0, &r, &cdn, &hint), HUB_STEP_RERESOLVE);
    r.status = 404;
    CHECK_EQ_INT(hub_failure_step(0, &r, &cdn, &hint), HUB_STEP_FAIL);
    http_response_free(&r);
    const char *ra[] = {"Retry-After", "3"};
    r = response_with(503, 1, ra);
    CHECK_EQ_INT(hub_failure_step(0, &r, &cdn, &hint), HUB_STEP_RETRY);
    CHECK_CLOSE(hint, 3, 0, 0);
    http_response_free(&r);
    r = response_with(0, 0, NULL);
    r.curl_code = 18; // CURLE_PARTIAL_FILE
    CHECK_EQ_INT(hub_failure_step(-1, &r, &cdn, &hint), HUB_STEP_RETRY);
    CHECK_CLOSE(hint, -1, 0, 0);
    r.curl_code = 60;
    CHECK_EQ_INT(hub_failure_step(-1, &r, &cdn, &hint), HUB_STEP_FAIL);
    http_response_free(&r);
}

int main(int argc, char **argv) {
    test_link_next();
    test_retry_after();
    test_retryable();
    test_backoff();
    test_urls();
    test_hub_urls();
    test_paths();
    test_filters();
    test_digests();
    test_sidecar();
    test_failure_steps();
    return check_summary(argv[0]);
}
