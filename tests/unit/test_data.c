// test_data.c: the training data reader (src/data.c) and the generators behind it (src/rng.c).
//   - CPython random and numpy default_rng known answers (values printed by CPython and numpy);
//   - every block is a contiguous slice at a multiple of T+1, windows hold each block once, files past the last
//     full window are skipped, the stream wraps;
//   - the exact block sequence equals tests/ref/packed_dataset_reader.py (lit-gpt's iterator in Python);
//   - a run interrupted anywhere and resumed from the saved (JSON) cursor continues identically;
//   - ranks get disjoint files; bad tokens, bad shards, bad cursors are refused; a window larger than the
//     rank's files shrinks, with a warning for the training reader only;
//   - packed streams: chunk by chunk, end of input, resume by replay.
// Needs python3; run from the repository root.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "data.h"
#include "rng.h"

static char g_dir[] = "/tmp/test_data.XXXXXX";

// ---- helpers ----

static void write_shard(const char *path, int dtype, uint64_t chunk_size, const void *tokens, size_t bytes) {
    uint8_t h[LITPKDS_HEADER_SIZE];
    litpkds_header hd = {dtype, chunk_size};
    litpkds_header_pack(&hd, h);
    FILE *f = fopen(path, "wb");
    fwrite(h, 1, sizeof h, f);
    fwrite(tokens, 1, bytes, f);
    fclose(f);
}

// Makes dir/<sub>/train_%010d.bin: n files of `chunk` int32 tokens, token i of file f = f * 1000 + i.
static void make_int32_set(const char *sub, int n, int chunk) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, sub);
    mkdir(path, 0755);
    int32_t *t = malloc((size_t)chunk * sizeof *t);
    for (int f = 0; f < n; f++) {
        for (int i = 0; i < chunk; i++) t[i] = f * 1000 + i;
        snprintf(path, sizeof path, "%s/%s/train_%010d.bin", g_dir, sub, f);
        write_shard(path, LITPKDS_INT32, (uint64_t)chunk, t, (size_t)chunk * 4);
    }
    free(t);
}

static void pattern_of(char *out, size_t n, const char *sub) { snprintf(out, n, "%s/%s/train_*", g_dir, sub); }

static data_options opts(int block, uint64_t seed, int rank, int world, int n_chunks, int shuffle, uint32_t vocab) {
    return (data_options){block, seed, rank, world, n_chunks, shuffle, vocab};
}

// Runs fn(arg) in a child with stderr captured; returns the exit status and the message in msg.
static int child_exit(void (*fn)(void *), void *arg, char *msg, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/stderr.txt", g_dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(path, "w", stderr)) _exit(99);
        fn(arg);
        fflush(stderr); // _exit does not flush, and the reopened stderr may buffer
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    msg[0] = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        size_t got = fread(msg, 1, n - 1, f);
        msg[got] = 0;
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_death(void (*fn)(void *), void *arg, int code, const char *needle) {
    char msg[2048];
    int rc = child_exit(fn, arg, msg, sizeof msg);
    CHECK_EQ_INT(rc, code);
    if (!strstr(msg, needle)) {
        CHECK(!"message names the problem");
        fprintf(stderr, "  message: %s  (wanted \"%s\")\n", msg, needle);
    }
}

// The first token of each of the first count blocks, by the Python reference.
static int python_ref(const char *pattern, int seed, int rank, int world, int n_chunks, int block, int shuffle, int count,
                      int32_t *out) {
    char cmd[2048], path[512];
    snprintf(path, sizeof path, "%s/ref.txt", g_dir);
    snprintf(cmd, sizeof cmd, "python3 tests/ref/packed_dataset_reader.py '%s' %d %d %d %d %d %d %d > %s", pattern, seed,
             rank, world, n_chunks, block, shuffle, count, path);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "  %s failed (is python3 installed?)\n", cmd);
        return -1;
    }
    FILE *f = fopen(path, "r");
    int n = 0;
    while (n < count && fscanf(f, "%d", &out[n]) == 1) n++;
    fclose(f);
    return n == count ? 0 : -1;
}

// ---- generators ----

static void test_rng(void) {
    // CPython 3.11: random.seed(3407); getrandbits(32) x 3; getrandbits(50).
    py_random r;
    py_random_seed(&r, 3407);
    CHECK(py_random_u32(&r) == 244111517u);
    CHECK(py_random_u32(&r) == 1800916962u);
    CHECK(py_random_u32(&r) == 569954085u);
    CHECK(py_random_getrandbits(&r, 50) == 241971288784615ull);
    py_random_seed(&r, (1ull << 40) + 5); // a two-word key
    CHECK(py_random_u32(&r) == 2166296868u && py_random_u32(&r) == 2220160828u);
    py_random_seed(&r, 0);
    CHECK(py_random_u32(&r) == 3626764237u);
    // Random(3407)._randbelow(10**12) x 3, then getrandbits(64): the multi-word paths.
    py_random_seed(&r, 3407);
    CHECK(py_random_randbelow(&r, 1000000000000ull) == 459805612189ull);
    CHECK(py_random_randbelow(&r, 1000000000000ull) == 361347206949ull);
    CHECK(py_random_randbelow(&r, 1000000000000ull) == 443304688670ull);
    CHECK(py_random_getrandbits(&r, 64) == 10832748493597377490ull);
    // random.seed(s); x = list(range(n)); random.shuffle(x)
    size_t idx[20];
    static const size_t want20[20] = {18, 16, 0, 19, 12, 2, 11, 14, 8, 7, 3, 5, 9, 17, 15, 6, 10, 4, 13, 1};
    py_random_seed(&r, 3407);
    py_random_shuffle_index(&r, idx, 20);
    CHECK(memcmp(idx, want20, sizeof want20) == 0);
    static const size_t want7[7] = {6, 4, 1, 2, 0, 5, 3};
    py_random_seed(&r, 12345);
    py_random_shuffle_index(&r, idx, 7);
    CHECK(memcmp(idx, want7, sizeof want7) == 0);

    // numpy: default_rng(42).random() x 2 (numpy's documentation example values).
    np_pcg64 g;
    np_pcg64_seed(&g, 42);
    CHECK(np_pcg64_random(&g) == 0.7739560485559633);
    CHECK(np_pcg64_random(&g) == 0.4388784397520523);
    // default_rng(0).bit_generator.state, default_rng(7).bit_generator.random_raw(), permutations.
    np_pcg64_seed(&g, 0);
    CHECK((uint64_t)(g.state >> 64) == 1919014152682489133ull && (uint64_t)g.state == 673392287158723043ull);
    np_pcg64_seed(&g, 7);
    CHECK(np_pcg64_next64(&g) == 11530976094092348043ull);
    CHECK(np_pcg64_next64(&g) == 16550673365885938325ull);
    np_pcg64_seed(&g, 0);
    CHECK(np_pcg64_next32(&g) == 3653403231u && np_pcg64_next32(&g) == 2735729615u && np_pcg64_next32(&g) == 2195314465u);
    uint64_t p[1186];
    static const uint64_t p1[12] = {8, 11, 4, 7, 5, 0, 1, 9, 2, 10, 6, 3};
    np_pcg64_seed(&g, 1);
    np_permutation(&g, p, 12);
    CHECK(memcmp(p, p1, sizeof p1) == 0);
    static const uint64_t p10151[14] = {373, 369, 52, 977, 616, 835, 269, 88, 811, 942, 103, 184, 281, 210};
    np_pcg64_seed(&g, 10151);
    np_permutation(&g, p, 1186);
    CHECK(memcmp(p, p10151, sizeof p10151) == 0);
    // The state survives a text round trip mid-stream (including a buffered half).
    np_pcg64_seed(&g, 5);
    np_pcg64_next32(&g);
    char text[NP_PCG64_TEXT_SIZE];
    np_pcg64_format(&g, text);
    np_pcg64 h;
    CHECK(np_pcg64_parse(&h, text) == 0);
    CHECK(np_pcg64_next32(&h) == np_pcg64_next32(&g) && np_pcg64_next64(&h) == np_pcg64_next64(&g));
    CHECK(np_pcg64_parse(&h, "00:11") == -1);
    text[3] = 'x';
    CHECK(np_pcg64_parse(&h, text) == -1);
}

// ---- shards ----

static void test_structure(void) {
    char pat[512];
    pattern_of(pat, sizeof pat, "s11");
    data_reader r;
    data_options o = opts(9, 3407, 0, 1, 4, 1, 11000);
    data_open_shards(&r, pat, &o);
    CHECK_EQ_INT(r.n_files, 11);
    CHECK_EQ_INT(r.n_blocks, 11);         // 100 // 9; the last token of each file is never read
    CHECK_EQ_INT(r.windows_per_epoch, 2); // files 8, 9, 10 of the reading order are skipped
    int file_of[11];                      // the reading position of each file id
    for (int i = 0; i < 11; i++) file_of[atoi(strrchr(r.files[i], '_') + 1)] = i;
    int32_t b[9];
    int seen[11][11], first_order[44], bad = 0;
    for (int e = 0; e < 3; e++) {
        for (int w = 0; w < 2; w++) {
            memset(seen, 0, sizeof seen);
            for (int k = 0; k < 44; k++) {
                CHECK(data_next(&r, b) == 1);
                int f = b[0] / 1000, off = b[0] % 1000;
                for (int j = 1; j < 9; j++) bad += b[j] != b[0] + j; // contiguous
                bad += off % 9 != 0 || off + 9 > 99;                  // block-aligned, tail never read
                int pos = file_of[f];
                bad += pos < 4 * w || pos >= 4 * w + 4;               // the window's own files
                seen[f][off / 9]++;
                if (e == 0 && w == 0) first_order[k] = b[0];
            }
            int once = 0;
            for (int f = 0; f < 11; f++)
                for (int k = 0; k < 11; k++) once += seen[f][k] == 1;
            CHECK_EQ_INT(once, 44); // every block of the window exactly once
            data_cursor c;
            data_cursor_get(&r, &c);
            CHECK_EQ_INT(c.epoch, (uint64_t)e);
            CHECK_EQ_INT(c.window, (uint64_t)w);
        }
    }
    CHECK_EQ_INT(bad, 0);
    data_close(&r);
    // Epoch 1 reads window 0's blocks in another order than epoch 0.
    data_open_shards(&r, pat, &o);
    int differ = 0;
    for (int k = 0; k < 88; k++) data_next(&r, b);
    for (int k = 0; k < 44; k++) {
        data_next(&r, b);
        differ += b[0] != first_order[k];
    }
    CHECK(differ > 30);
    data_close(&r);
    // Without shuffling: window order is file order, blocks in order.
    o.shuffle = 0;
    data_open_shards(&r, pat, &o);
    int ok = 1;
    for (int k = 0; k < 88; k++) {
        data_next(&r, b);
        int want_file = atoi(strrchr(r.files[k / 11], '_') + 1);
        ok &= b[0] == want_file * 1000 + (k % 11) * 9;
    }
    CHECK(ok);
    data_close(&r);
}

static void compare_with_python(const char *sub, int seed, int rank, int world, int n_chunks, int block, int shuffle,
                                int count) {
    char pat[512];
    pattern_of(pat, sizeof pat, sub);
    int32_t *want = malloc((size_t)count * sizeof *want), *b = malloc((size_t)block * sizeof *b);
    int rc = python_ref(pat, seed, rank, world, n_chunks, block, shuffle, count, want);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        data_reader r;
        data_options o = opts(block, (uint64_t)seed, rank, world, n_chunks, shuffle, 0);
        data_open_shards(&r, pat, &o);
        int mismatch = -1;
        for (int k = 0; k < count && mismatch < 0; k++) {
            data_next(&r, b);
            if (b[0] != want[k]) mismatch = k;
        }
        if (mismatch >= 0)
            fprintf(stderr, "  %s seed %d rank %d/%d window %d block %d shuffle %d: first difference at block %d\n", sub,
                    seed, rank, world, n_chunks, block, shuffle, mismatch);
        CHECK_EQ_INT(mismatch, -1);
        data_close(&r);
    }
    free(want);
    free(b);
}

static void test_against_python(void) {
    compare_with_python("s11", 3407, 0, 1, 4, 9, 1, 300);  // 3 epochs and a bit, 8 of 11 files used
    compare_with_python("s11", 3407, 1, 2, 2, 9, 1, 150);  // rank 1 of 2: 5 files, windows of 2
    compare_with_python("s11", 12345, 2, 3, 2, 7, 1, 150); // rank 2 of 3, another seed and block size
    compare_with_python("s11", 7, 0, 1, 4, 9, 0, 120);     // no shuffling (validation)
    compare_with_python("s11", 3407, 0, 1, 16, 9, 1, 200); // window larger than the file list: all 11
    compare_with_python("s11", 3407, 0, 1, 8, 100, 1, 40); // one block per file
}

// Reads k blocks, saves the cursor as JSON text, resumes a fresh reader from it, and compares the next m blocks
// with an uninterrupted reader.
static void resume_at(const char *pat, data_options o, int k, int m) {
    data_reader a, b, ref;
    int32_t *x = malloc((size_t)o.block_size * 4), *y = malloc((size_t)o.block_size * 4);
    data_open_shards(&ref, pat, &o);
    data_open_shards(&a, pat, &o);
    for (int i = 0; i < k; i++) data_next(&ref, x), data_next(&a, x);
    json_t *j = data_cursor_to_json(&a);
    char *text = json_dumps(j, 0);
    json_decref(j);
    data_close(&a);
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    data_open_shards(&b, pat, &o);
    char err[256];
    CHECK_EQ_INT(data_cursor_from_json(&b, back, err, sizeof err), 0);
    json_decref(back);
    free(text);
    int same = 1;
    for (int i = 0; i < m; i++) {
        data_next(&ref, x), data_next(&b, y);
        same &= memcmp(x, y, (size_t)o.block_size * 4) == 0;
    }
    if (!same) fprintf(stderr, "  resume after %d blocks diverged\n", k);
    CHECK(same);
    data_cursor c;
    data_cursor_get(&b, &c);
    CHECK_EQ_INT(c.blocks, (uint64_t)(k + m));
    data_close(&b);
    data_close(&ref);
    free(x), free(y);
}

static void test_resume(void) {
    char pat[512];
    pattern_of(pat, sizeof pat, "s11");
    data_options o = opts(9, 3407, 0, 1, 4, 1, 11000);
    static const int at[] = {0, 1, 20, 43, 44, 45, 87, 88, 100, 250};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) resume_at(pat, o, at[i], 100);
    o.shuffle = 0;
    resume_at(pat, o, 50, 60);
    o = opts(9, 3407, 1, 3, 2, 1, 0);
    resume_at(pat, o, 23, 40);
}

static void test_ranks(void) {
    char pat[512];
    pattern_of(pat, sizeof pat, "s11");
    data_reader r[3];
    int owner[11];
    for (int f = 0; f < 11; f++) owner[f] = -1;
    int clash = 0;
    for (int k = 0; k < 3; k++) {
        data_options o = opts(9, 3407, k, 3, 8, 1, 0);
        data_open_shards(&r[k], pat, &o);
        CHECK_EQ_INT(r[k].n_files, 3); // 11 files: 9 usable, 3 per rank
        CHECK_EQ_INT(r[k].n_chunks, 3);
        for (size_t i = 0; i < r[k].n_files; i++) {
            int f = atoi(strrchr(r[k].files[i], '_') + 1);
            clash += owner[f] >= 0;
            owner[f] = k;
        }
    }
    CHECK_EQ_INT(clash, 0); // disjoint
    int unused = 0;
    for (int f = 0; f < 11; f++) unused += owner[f] < 0;
    CHECK_EQ_INT(unused, 2);
    // The rank files are the shuffled list dealt round-robin: rank k gets positions k, k + 3, k + 6.
    size_t idx[11];
    py_random pr;
    py_random_seed(&pr, 3407);
    py_random_shuffle_index(&pr, idx, 11); // files are train_0..10 sorted: the index is the file id
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++) CHECK_EQ_INT(atoi(strrchr(r[k].files[i], '_') + 1), idx[(size_t)k + 3 * (size_t)i]);
    int32_t b[9];
    int foreign = 0;
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 200; i++) {
            data_next(&r[k], b);
            foreign += owner[b[0] / 1000] != k;
        }
        data_close(&r[k]);
    }
    CHECK_EQ_INT(foreign, 0);
}

// ---- refusals ----

static const char *g_pat;
static data_options g_opt;

static void open_child(void *arg) {
    (void)arg;
    data_reader r;
    data_open_shards(&r, g_pat, &g_opt);
}

static void read_all_child(void *arg) {
    int n = *(int *)arg;
    data_reader r;
    data_open_shards(&r, g_pat, &g_opt);
    int32_t *b = malloc((size_t)g_opt.block_size * 4);
    for (int i = 0; i < n; i++) data_next(&r, b);
}

static void scan_child(void *arg) {
    (void)arg;
    data_reader r;
    data_open_shards(&r, g_pat, &g_opt);
    data_scan_max_token(&r);
}

static void test_vocab(void) {
    int32_t t[6] = {0, 5, 31999, 32000, -1, 7};
    CHECK_EQ_INT(data_find_bad_token(t, 3, 32000), -1);
    CHECK_EQ_INT(data_find_bad_token(t, 6, 32000), 3);
    CHECK_EQ_INT(data_find_bad_token(t + 4, 2, 32000), 0); // negative
    CHECK_EQ_INT(data_find_bad_token(t, 6, 5), 1);
    // uint16 shards with one token 300 in file 2.
    char dir[512], path[600], pat[600];
    snprintf(dir, sizeof dir, "%s/v", g_dir);
    mkdir(dir, 0755);
    uint16_t u[50];
    for (int f = 0; f < 4; f++) {
        for (int i = 0; i < 50; i++) u[i] = (uint16_t)(f * 50 + i);
        if (f == 2) u[37] = 300;
        snprintf(path, sizeof path, "%s/train_%010d.bin", dir, f);
        write_shard(path, LITPKDS_UINT16, 50, u, sizeof u);
    }
    snprintf(pat, sizeof pat, "%s/train_*", dir);
    data_reader r;
    data_options o = opts(5, 1, 0, 1, 2, 1, 0);
    data_open_shards(&r, pat, &o);
    CHECK_EQ_INT(data_scan_max_token(&r), 300);
    int32_t b[5];
    data_next(&r, b);
    CHECK(b[0] % 5 == 0 && b[1] == b[0] + 1); // uint16 widened to int32
    data_close(&r);
    g_pat = pat;
    g_opt = opts(5, 1, 0, 1, 2, 1, 300);
    expect_death(scan_child, NULL, 3, "train_0000000002.bin: token 300 at byte 98");
    int n = 200; // 5 epochs of 40 blocks: block 7 of file 2 is read
    expect_death(read_all_child, &n, 3, "train_0000000002.bin: token 300 at byte 98");
    g_opt.vocab_size = 301;
    n = 200;
    char msg[512];
    CHECK_EQ_INT(child_exit(read_all_child, &n, msg, sizeof msg), 0);
}

// A rank with fewer files than the window reads windows of all of them. Only a shuffling (training) reader
// warns: without shuffling the window changes nothing, and the validation reader says nothing.
static void small_window_child(void *arg) {
    (void)arg;
    data_reader r;
    data_open_shards(&r, g_pat, &g_opt);
    if (r.n_chunks != 10 || r.windows_per_epoch != 1) _exit(7); // one window of all 10 files
}

static void test_small_window(void) {
    char pat[512], msg[2048];
    pattern_of(pat, sizeof pat, "s10");
    g_pat = pat;
    g_opt = opts(9, 3407, 0, 1, 16, 1, 0);
    CHECK_EQ_INT(child_exit(small_window_child, NULL, msg, sizeof msg), 0);
    CHECK(strstr(msg, "10 shard files, fewer than the window of 16") != NULL);
    g_opt.shuffle = 0;
    CHECK_EQ_INT(child_exit(small_window_child, NULL, msg, sizeof msg), 0);
    CHECK_EQ_STR(msg, "");
}

static void test_bad_shards(void) {
    char dir[512], path[600], pat[600];
    int32_t t[100] = {0};
    // A shard whose chunk_size disagrees with the first one's.
    snprintf(dir, sizeof dir, "%s/mixed", g_dir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/train_0000000000.bin", dir);
    write_shard(path, LITPKDS_INT32, 100, t, 400);
    snprintf(path, sizeof path, "%s/train_0000000001.bin", dir);
    write_shard(path, LITPKDS_INT32, 90, t, 360);
    snprintf(pat, sizeof pat, "%s/train_*", dir);
    g_pat = pat;
    g_opt = opts(9, 1, 0, 1, 8, 1, 0);
    expect_death(open_child, NULL, 3, "same layout");
    // A truncated shard.
    write_shard(path, LITPKDS_INT32, 100, t, 396);
    expect_death(open_child, NULL, 3, "truncated");
    // Not a shard at all.
    FILE *f = fopen(path, "wb");
    fputs("hello, this is not a LITPKDS file", f);
    fclose(f);
    expect_death(open_child, NULL, 3, "LITPKDS");
    // Chunks shorter than one block.
    write_shard(path, LITPKDS_INT32, 100, t, 400);
    g_opt.block_size = 101;
    expect_death(open_child, NULL, 3, "holds no block");
    // Nothing matches.
    snprintf(pat, sizeof pat, "%s/nothing_*", dir);
    g_opt.block_size = 9;
    expect_death(open_child, NULL, 4, "no file matches");
    // More ranks than files.
    snprintf(pat, sizeof pat, "%s/train_*", dir);
    g_opt = opts(9, 1, 0, 3, 8, 1, 0);
    expect_death(open_child, NULL, 3, "fewer than the 3 ranks");
}

static void test_cursor_identity(void) {
    char pat[512], pat10[512];
    pattern_of(pat, sizeof pat, "s11");
    pattern_of(pat10, sizeof pat10, "s10");
    data_reader a, b;
    data_options o = opts(9, 3407, 0, 1, 4, 1, 0);
    data_open_shards(&a, pat, &o);
    int32_t x[9];
    for (int i = 0; i < 10; i++) data_next(&a, x);
    json_t *j = data_cursor_to_json(&a);
    char err[256];
    data_options o2 = o;
    o2.seed = 3408;
    data_open_shards(&b, pat, &o2);
    CHECK_EQ_INT(data_cursor_from_json(&b, j, err, sizeof err), -1);
    CHECK(strstr(err, "seed") != NULL);
    data_close(&b);
    o2 = o;
    o2.block_size = 10;
    data_open_shards(&b, pat, &o2);
    CHECK_EQ_INT(data_cursor_from_json(&b, j, err, sizeof err), -1);
    CHECK(strstr(err, "block size") != NULL);
    data_close(&b);
    data_open_shards(&b, pat10, &o); // ten files: another data set
    CHECK_EQ_INT(data_cursor_from_json(&b, j, err, sizeof err), -1);
    CHECK(strstr(err, "files") != NULL);
    data_close(&b);
    json_object_set_new(j, "rng", json_string("garbage"));
    data_open_shards(&b, pat, &o);
    CHECK_EQ_INT(data_cursor_from_json(&b, j, err, sizeof err), -1);
    CHECK(strstr(err, "rng") != NULL);
    data_close(&b);
    json_object_set_new(j, "mode", json_string("stream"));
    data_open_shards(&b, pat, &o);
    CHECK_EQ_INT(data_cursor_from_json(&b, j, err, sizeof err), -1);
    CHECK(strstr(err, "stream") != NULL);
    data_close(&b);
    json_decref(j);
    data_close(&a);
}

// ---- streams ----

// dir/stream.bin: 3 uint16 chunks of 50 tokens, token i of chunk c = c * 100 + i.
static void make_stream(char *path, size_t n) {
    snprintf(path, n, "%s/stream.bin", g_dir);
    FILE *f = fopen(path, "wb");
    for (int c = 0; c < 3; c++) {
        uint8_t h[LITPKDS_HEADER_SIZE];
        litpkds_header hd = {LITPKDS_UINT16, 50};
        litpkds_header_pack(&hd, h);
        fwrite(h, 1, sizeof h, f);
        uint16_t u[50];
        for (int i = 0; i < 50; i++) u[i] = (uint16_t)(c * 100 + i);
        fwrite(u, 2, 50, f);
    }
    fclose(f);
}

static const char *g_stream;

static void stream_child(void *arg) {
    (void)arg;
    data_reader r;
    data_open_stream(&r, g_stream, &g_opt);
    int32_t b[64];
    while (data_next(&r, b)) {}
}

static void test_stream(void) {
    char path[512];
    make_stream(path, sizeof path);
    data_options o = opts(8, 0, 0, 1, 8, 1, 32000);
    data_reader r;
    data_open_stream(&r, path, &o);
    int32_t b[8];
    int k = 0, ok = 1;
    while (data_next(&r, b)) { // 6 blocks a chunk (48 of 50 tokens), chunk after chunk
        int c = k / 6, j = k % 6;
        for (int i = 0; i < 8; i++) ok &= b[i] == c * 100 + j * 8 + i;
        k++;
    }
    CHECK(ok);
    CHECK_EQ_INT(k, 18);
    CHECK_EQ_INT(data_next(&r, b), 0); // stays at the end
    data_close(&r);
    // Resume by replay at several points, through the JSON cursor.
    static const int at[] = {0, 3, 5, 6, 7, 17, 18};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        data_reader a, c;
        data_open_stream(&a, path, &o);
        for (int n = 0; n < at[i]; n++) data_next(&a, b);
        json_t *j = data_cursor_to_json(&a);
        data_close(&a);
        data_open_stream(&c, path, &o);
        char err[256];
        CHECK_EQ_INT(data_cursor_from_json(&c, j, err, sizeof err), 0);
        json_decref(j);
        int n = at[i], good = 1;
        while (data_next(&c, b)) {
            good &= b[0] == (n / 6) * 100 + (n % 6) * 8;
            n++;
        }
        CHECK(good);
        CHECK_EQ_INT(n, 18);
        data_close(&c);
    }
    // A chunk of another size in the stream, and a stream shorter than the saved position.
    FILE *f = fopen(path, "ab");
    uint8_t h[LITPKDS_HEADER_SIZE];
    litpkds_header hd = {LITPKDS_UINT16, 40};
    litpkds_header_pack(&hd, h);
    fwrite(h, 1, sizeof h, f);
    uint16_t u[40] = {0};
    fwrite(u, 2, 40, f);
    fclose(f);
    g_stream = path;
    g_opt = o;
    expect_death(stream_child, NULL, 3, "same layout");
    make_stream(path, sizeof path);
    data_reader c;
    data_open_stream(&c, path, &o);
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i}", "mode", "stream", "block_size", 8, "blocks", 40, "chunk", 6, "pos", 4);
    g_stream = path;
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        char err[256];
        data_cursor_from_json(&c, j, err, sizeof err);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    json_decref(j);
    data_close(&c);
}

int main(int argc, char **argv) {
    (void)argc;
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_int32_set("s11", 11, 100);
    make_int32_set("s10", 10, 100);
    test_rng();
    test_structure();
    test_against_python();
    test_resume();
    test_ranks();
    test_vocab();
    test_small_window();
    test_bad_shards();
    test_cursor_identity();
    test_stream();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_summary(argv[0]);
}
