// test_safetensors.c: dtype conversions, write/read round trips, the exact header bytes, a file written by an
// independent Python implementation of the format (tests/ref/safetensors_ref.py), our file checked by it,
// and every kind of malformed file refused with a message naming the file and tensor. Needs python3.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "exitcode.h"
#include "safetensors.h"

static char g_dir[] = "/tmp/test_safetensors.XXXXXX";

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

static void test_conversions(void) {
    CHECK(st_f16_to_f32(0x3c00) == 1.0f);
    CHECK(st_f16_to_f32(0xc000) == -2.0f);
    CHECK(st_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(st_f16_to_f32(0x0001) == ldexpf(1, -24)); // smallest subnormal
    CHECK(st_f16_to_f32(0x03ff) == ldexpf(1023, -24)); // largest subnormal
    CHECK(st_f16_to_f32(0x0400) == ldexpf(1, -14)); // smallest normal
    CHECK(st_f16_to_f32(0x3555) == 0x1.554p-2f);
    CHECK(isinf(st_f16_to_f32(0xfc00)) && st_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(st_f16_to_f32(0x7e00)));
    CHECK(st_f16_to_f32(0x8000) == 0 && signbit(st_f16_to_f32(0x8000)));
    CHECK(st_bf16_to_f32(0x3f80) == 1.0f && st_bf16_to_f32(0xc020) == -2.5f);
    CHECK(st_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(st_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);         // tie: to even (down)
    CHECK(st_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);     // tie: to even (up)
    CHECK(st_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81); // above the tie: up
    CHECK(st_f32_to_bf16(-2.5f) == 0xc020);
    CHECK(st_f32_to_bf16(3.4028235e38f) == 0x7f80);          // rounds to +inf, as IEEE
    uint16_t nan = st_f32_to_bf16(NAN);
    CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f));          // NaN stays NaN
    CHECK(st_f32_to_bf16(0x1p-130f) == 0x0008);               // subnormal: 2^19 ulps of 2^-149
}

static void test_roundtrip(void) {
    char path[256];
    path_in(path, sizeof path, "rt.safetensors");
    float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-1.5f, 0.25f}, s = 42;
    int64_t sa[2] = {2, 3}, sb[1] = {2};
    st_entry e[3] = {{"zeta", 2, sa, a}, {"alpha", 1, sb, b}, {"scalar", 0, NULL, &s}};
    const char *meta[] = {"format", "pt", NULL};
    st_write(path, e, 3, ST_F32, meta);
    // The exact header: compact JSON, metadata first, names sorted, padded with spaces to 8 bytes.
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    uint8_t buf[512];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    const char *want = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"alpha\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]},"
                       "\"zeta\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[12,36]}}";
    size_t wl = strlen(want), padded = (wl + 7) / 8 * 8;
    uint64_t hl;
    memcpy(&hl, buf, 8);
    CHECK_EQ_INT(hl, padded);
    CHECK(n == 8 + padded + 36);
    CHECK(n >= 8 + padded && memcmp(buf + 8, want, wl) == 0);
    for (size_t i = wl; i < padded && 8 + i < n; i++) CHECK(buf[8 + i] == ' ');
    // Read back.
    st_file sf;
    char err[512];
    CHECK_EQ_INT(st_open_checked(&sf, path, err, sizeof err), 0);
    CHECK_EQ_INT(sf.n, 3);
    const st_tensor *t = st_find(&sf, "zeta");
    CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->dtype == ST_F32 && t->numel == 6);
    float got[6];
    if (t) st_read_f32(&sf, t, got);
    CHECK(t && memcmp(got, a, sizeof a) == 0);
    t = st_find(&sf, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    if (t) st_read_f32(&sf, t, got);
    CHECK(got[0] == 42);
    CHECK(st_find(&sf, "missing") == NULL);
    CHECK_EQ_STR(st_meta(&sf, "format"), "pt");
    CHECK(st_meta(&sf, "other") == NULL);
    st_close(&sf);
    // BF16 output.
    st_write(path, e, 2, ST_BF16, NULL);
    CHECK_EQ_INT(st_open_checked(&sf, path, err, sizeof err), 0);
    t = st_find(&sf, "alpha");
    CHECK(t && t->dtype == ST_BF16 && t->end - t->begin == 4);
    if (t) st_read_f32(&sf, t, got);
    CHECK(got[0] == -1.5f && got[1] == 0.25f);
    CHECK_EQ_INT(sf.n_meta, 0);
    st_close(&sf);
    unlink(path);
}

static int run(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_python_file(void) {
    char path[256], cmd[512];
    path_in(path, sizeof path, "py.safetensors");
    snprintf(cmd, sizeof cmd, "python3 tests/ref/safetensors_ref.py write %s", path);
    int rc = run(cmd);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  python3 tests/ref/safetensors_ref.py failed (is python3 installed?)\n");
        return;
    }
    st_file f;
    char err[512];
    CHECK_EQ_INT(st_open_checked(&f, path, err, sizeof err), 0);
    CHECK_EQ_INT(f.n, 5);
    CHECK_EQ_STR(st_meta(&f, "source"), "tests/ref/safetensors_ref.py");
    float v[8];
    const st_tensor *t = st_find(&f, "a.f32");
    CHECK(t && t->dtype == ST_F32 && t->numel == 4);
    if (t) st_read_f32(&f, t, v);
    CHECK(v[0] == 0.5f && v[1] == -1.25f && v[2] == 3.0e-8f && v[3] == 1.0e30f);
    t = st_find(&f, "b.bf16");
    CHECK(t && t->dtype == ST_BF16 && t->numel == 3);
    if (t) st_read_f32(&f, t, v);
    CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == 3.140625f);
    t = st_find(&f, "c.f16");
    CHECK(t && t->dtype == ST_F16 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    if (t) st_read_f32(&f, t, v);
    CHECK(v[0] == 1.0f && v[1] == -2.0f && v[2] == 65504.0f && v[3] == ldexpf(1, -24) && v[4] == ldexpf(1, -14));
    CHECK(v[5] == 0 && signbit(v[5]));
    t = st_find(&f, "d.scalar");
    CHECK(t && t->ndim == 0);
    if (t) st_read_f32(&f, t, v);
    CHECK(v[0] == 7.0f);
    t = st_find(&f, "e.empty");
    CHECK(t && t->numel == 0 && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 4);
    st_close(&f);
    unlink(path);

    // The other direction: our file, checked byte for byte by the Python side.
    path_in(path, sizeof path, "c.safetensors");
    float d0[4], d1[6], d2[15], d3[1];
    float *d[4] = {d0, d1, d2, d3};
    int n[4] = {4, 6, 15, 1};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < n[k]; i++) d[k][i] = (float)(i % 7) - 3 + 0.25f * (float)k;
    int64_t s0[] = {4}, s1[] = {2, 1, 3}, s2[] = {3, 5};
    st_entry e[4] = {{"t2", 2, s2, d2}, {"t0", 1, s0, d0}, {"t3", 0, NULL, d3}, {"t1", 3, s1, d1}};
    const char *meta[] = {"format", "pt", NULL};
    st_write(path, e, 4, ST_F32, meta);
    snprintf(cmd, sizeof cmd, "python3 tests/ref/safetensors_ref.py verify %s > /dev/null", path);
    CHECK_EQ_INT(run(cmd), 0);
    unlink(path);
}

// Writes an 8-byte length, the header text, then data_len bytes of data (0x11).
static void write_raw(const char *path, uint64_t declared_len, const char *header, size_t data_len) {
    FILE *f = fopen(path, "wb");
    fwrite(&declared_len, 8, 1, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++) fputc(0x11, f);
    fclose(f);
}

static void expect_bad(const char *header, uint64_t declared_len, size_t data_len, int code, const char *needle) {
    char path[256], err[512];
    path_in(path, sizeof path, "bad.safetensors");
    write_raw(path, declared_len ? declared_len : strlen(header), header, data_len);
    st_file f;
    int rc = st_open_checked(&f, path, err, sizeof err);
    CHECK_EQ_INT(rc, code);
    if (rc == 0) {
        if (code) fprintf(stderr, "  accepted: %s\n", header);
    } else {
        CHECK(strncmp(err, path, strlen(path)) == 0); // names the file
        if (!strstr(err, needle)) {
            CHECK(!"message names the problem");
            fprintf(stderr, "  message: %s (wanted \"%s\")\n", err, needle);
        }
    }
    st_close(&f);
    unlink(path);
}

#define T4(name, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" #b "," #e "]}"

static void test_malformed(void) {
    expect_bad("{" T4("x", 0, 4) "}", 0, 4, 0, ""); // the well-formed baseline
    expect_bad("{" T4("x", 0, 4) "}", 0, 3, SCOUT_EXIT_DATA, "\"x\"");             // truncated data
    expect_bad("{" T4("x", 0, 4) "}", 0, 5, SCOUT_EXIT_DATA, "1 bytes after");      // trailing bytes
    expect_bad("{" T4("x", 0, 4) "}", 1000, 4, SCOUT_EXIT_DATA, "past the end");    // header length > file
    expect_bad("{" T4("x", 0, 4) "}", 200000000, 4, SCOUT_EXIT_DATA, "limit");      // header length > 100 MB
    expect_bad("[1]", 0, 0, SCOUT_EXIT_DATA, "start with '{'");
    expect_bad("{\"x\":", 0, 0, SCOUT_EXIT_DATA, "not valid JSON");
    expect_bad("{\"x\":1}", 0, 0, SCOUT_EXIT_DATA, "\"x\"");
    expect_bad("{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 0, 8, SCOUT_EXIT_DATA, "I64");
    expect_bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8, SCOUT_EXIT_DATA, "need 12");
    expect_bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 0, 4, SCOUT_EXIT_DATA, "shape[0]");
    expect_bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 0, 4, SCOUT_EXIT_DATA, "end before");
    expect_bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, 4, SCOUT_EXIT_DATA, "data_offsets");
    expect_bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 0, 4,
               SCOUT_EXIT_DATA, "overflows");
    expect_bad("{" T4("x", 0, 4) "," T4("y", 2, 6) "}", 0, 6, SCOUT_EXIT_DATA, "overlap");
    expect_bad("{" T4("x", 0, 4) "," T4("y", 8, 12) "}", 0, 12, SCOUT_EXIT_DATA, "unused");
    expect_bad("{" T4("x", 0, 4) "," T4("x", 4, 8) "}", 0, 8, SCOUT_EXIT_DATA, "duplicate");
    expect_bad("{\"__metadata__\":{\"a\":1}," T4("x", 0, 4) "}", 0, 4, SCOUT_EXIT_DATA, "__metadata__");
    expect_bad("{}", 0, 0, 0, "");                                                   // no tensors: valid
    // Too short to hold a length.
    char path[256], err[512];
    path_in(path, sizeof path, "short.safetensors");
    FILE *f = fopen(path, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    st_file sf;
    CHECK_EQ_INT(st_open_checked(&sf, path, err, sizeof err), SCOUT_EXIT_DATA);
    st_close(&sf);
    unlink(path);
    CHECK_EQ_INT(st_open_checked(&sf, "/nonexistent/x.safetensors", err, sizeof err), SCOUT_EXIT_IO);
    CHECK(strstr(err, "/nonexistent/x.safetensors") != NULL);
    st_close(&sf);
    // st_open dies with the code.
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        st_open(&sf, "/nonexistent/x.safetensors");
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == SCOUT_EXIT_IO);
}

int main(int argc, char **argv) {
    (void)argc;
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_conversions();
    test_roundtrip();
    test_python_file();
    test_malformed();
    rmdir(g_dir);
    return check_summary(argv[0]);
}
