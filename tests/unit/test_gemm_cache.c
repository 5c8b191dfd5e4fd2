// test_gemm_cache.c: the file of tuned GEMM choices (kernels/gemm_cache.h): what is added is found again by a
// later process (a fresh load), the first line of a key wins, malformed and cut-short lines are skipped and
// counted, comments are ignored, missing directories are created, an unwritable path is reported and the entry
// kept in memory, and the default path follows SCOUT_CUDA_GEMM_CACHE / XDG_CACHE_HOME / HOME.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gemm_cache.h"

static void words_of(uint64_t w[GEMM_CACHE_WORDS], uint64_t seed) {
    for (int i = 0; i < GEMM_CACHE_WORDS; i++) w[i] = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xFFFFFFFFFFull;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_round_trip(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/a/b/gemm.txt", dir); // two missing directories
    gemm_cache c;
    CHECK_EQ_INT(gemm_cache_load(&c, path), 0);
    CHECK_EQ_INT(c.n, 0);
    uint64_t w1[GEMM_CACHE_WORDS], w2[GEMM_CACHE_WORDS], w3[GEMM_CACHE_WORDS];
    words_of(w1, 1), words_of(w2, 2), words_of(w3, 3);
    w1[7] = ~0ull, w2[0] = 0; // the extremes of a word
    CHECK_EQ_INT(gemm_cache_add(&c, "bf16:t1n0:m3072:n16384:k1024", w1), 0);
    CHECK_EQ_INT(gemm_cache_add(&c, "f32:t0n1:m1024:n3072:k16384", w2), 0);
    CHECK(gemm_cache_find(&c, "bf16:t1n0:m3072:n16384:k1024") != NULL);
    CHECK(gemm_cache_find(&c, "nope") == NULL);
    CHECK_EQ_INT(gemm_cache_add(&c, "has space", w3), EINVAL);
    CHECK_EQ_INT(gemm_cache_add(&c, "", w3), EINVAL);
    gemm_cache_free(&c);

    // A second process: a fresh load finds both; then a second line for the first key (another process that
    // tuned it at the same time) does not replace it.
    gemm_cache d;
    CHECK_EQ_INT(gemm_cache_load(&d, path), 0);
    CHECK_EQ_INT(d.n, 2);
    const uint64_t *f1 = gemm_cache_find(&d, "bf16:t1n0:m3072:n16384:k1024");
    const uint64_t *f2 = gemm_cache_find(&d, "f32:t0n1:m1024:n3072:k16384");
    CHECK(f1 && memcmp(f1, w1, sizeof w1) == 0);
    CHECK(f2 && memcmp(f2, w2, sizeof w2) == 0);
    CHECK_EQ_INT(gemm_cache_add(&d, "bf16:t1n0:m3072:n16384:k1024", w3), 0);
    gemm_cache_free(&d);
    CHECK_EQ_INT(gemm_cache_load(&d, path), 0);
    CHECK_EQ_INT(d.n, 2);
    f1 = gemm_cache_find(&d, "bf16:t1n0:m3072:n16384:k1024");
    CHECK(f1 && memcmp(f1, w1, sizeof w1) == 0);
    gemm_cache_free(&d);
}

static void test_malformed(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.txt", dir);
    char longline[1500];
    memset(longline, 'k', sizeof longline - 2);
    longline[sizeof longline - 2] = '\n', longline[sizeof longline - 1] = '\0';
    char text[4096];
    snprintf(text, sizeof text,
             "# comment line\n"
             "\n"
             "good 1 2 3 4 5 6 7 8\n"
             "seven 1 2 3 4 5 6 7\n"            // a word short
             "nine 1 2 3 4 5 6 7 8 9\n"         // a word over
             "hexbad 1 2 3 4 5 6 7 zz\n"        // not hex
             "over 1 2 3 4 5 6 7 10000000000000000\n" // over 64 bits
             "%s"                               // longer than any line the cache writes
             "tail 1 2 3 4 5 6 7 8\n"
             "cut 1 2 3", // a write cut short at the end of the file
             longline);
    write_file(path, text);
    gemm_cache c;
    CHECK_EQ_INT(gemm_cache_load(&c, path), 6);
    CHECK_EQ_INT(c.n, 2);
    const uint64_t *g = gemm_cache_find(&c, "good");
    CHECK(g && g[0] == 1 && g[7] == 8);
    CHECK(gemm_cache_find(&c, "tail") != NULL);
    // "cut 1 2 3" has three words: malformed, but the parser reads to the end of the file and counts it.
    CHECK(gemm_cache_find(&c, "cut") == NULL);
    CHECK(gemm_cache_find(&c, "seven") == NULL && gemm_cache_find(&c, "nine") == NULL);
    gemm_cache_free(&c);
}

static void test_unwritable(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/file", dir);
    write_file(path, "");
    snprintf(path, sizeof path, "%s/file/under/a/file.txt", dir); // a directory part that is a regular file
    gemm_cache c;
    CHECK_EQ_INT(gemm_cache_load(&c, path), -1); // unreadable, but usable: an empty cache
    CHECK_EQ_INT(errno, ENOTDIR);
    uint64_t w[GEMM_CACHE_WORDS];
    words_of(w, 9);
    CHECK(gemm_cache_add(&c, "k", w) != 0);
    CHECK(gemm_cache_find(&c, "k") != NULL); // kept for this process
    gemm_cache_free(&c);
    // In memory only: no file at all.
    CHECK_EQ_INT(gemm_cache_load(&c, NULL), 0);
    CHECK_EQ_INT(gemm_cache_add(&c, "k", w), 0);
    CHECK(gemm_cache_find(&c, "k") != NULL);
    gemm_cache_free(&c);
}

static void test_default_path(void) {
    char out[512];
    unsetenv("SCOUT_CUDA_GEMM_CACHE");
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    setenv("HOME", "/home/u", 1);
    gemm_cache_default_path(out, sizeof out, "NVIDIA H200", "sm90a/132 cublasLt 130000");
    CHECK_EQ_STR(out, "/x/cache/scout/gemm-NVIDIA-H200-sm90a-132-cublasLt-130000.txt");
    unsetenv("XDG_CACHE_HOME");
    gemm_cache_default_path(out, sizeof out, "GPU", "1");
    CHECK_EQ_STR(out, "/home/u/.cache/scout/gemm-GPU-1.txt");
    unsetenv("HOME");
    gemm_cache_default_path(out, sizeof out, "GPU", "1");
    CHECK_EQ_STR(out, "");
    setenv("SCOUT_CUDA_GEMM_CACHE", "/tmp/mine.txt", 1);
    gemm_cache_default_path(out, sizeof out, "GPU", "1");
    CHECK_EQ_STR(out, "/tmp/mine.txt");
    setenv("SCOUT_CUDA_GEMM_CACHE", "", 1);
    gemm_cache_default_path(out, sizeof out, "GPU", "1");
    CHECK_EQ_STR(out, "");
    unsetenv("SCOUT_CUDA_GEMM_CACHE");
}

int main(int argc, char **argv) {
    (void)argc;
    char dir[] = "/tmp/scout-gemm-cache-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    test_round_trip(dir);
    test_malformed(dir);
    test_unwritable(dir);
    test_default_path();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return check_summary(argv[0]);
}
