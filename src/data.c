// data.c: see data.h.
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sha256.h"
#include "xio.h"

// ---- tokens ----

long data_find_bad_token(const int32_t *tokens, size_t n, uint32_t vocab) {
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= vocab) return (long)i;
    return -1;
}

// Converts n tokens of the chunk's dtype to int32.
static void to_int32(const uint8_t *src, int dtype, size_t n, int32_t *dst) {
    if (dtype == LITPKDS_UINT16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            dst[i] = v;
        }
    } else {
        memcpy(dst, src, n * 4);
    }
}

// Dies when a block holds a token outside the model's vocabulary; where = "<file>" and byte offset of block.
static void check_block(const data_reader *r, const int32_t *block, const char *where, uint64_t byte_offset) {
    if (!r->opt.vocab_size) return;
    long bad = data_find_bad_token(block, (size_t)r->opt.block_size, r->opt.vocab_size);
    if (bad >= 0)
        die(SCOUT_EXIT_DATA, "%s: token %d at byte %llu is outside the model's vocabulary of %u (was this data packed "
                             "with another tokenizer?)",
            where, block[bad], (unsigned long long)(byte_offset + (uint64_t)bad * r->item), r->opt.vocab_size);
}

// ---- shards: file list ----

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Reads and checks one shard header against the first one's (r->dtype, r->chunk_size; 0 = not yet known).
static void check_shard(data_reader *r, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(SCOUT_EXIT_IO, "%s: cannot open shard: %s", path, strerror(errno));
    uint8_t hdr[LITPKDS_HEADER_SIZE];
    ssize_t got = pread(fd, hdr, sizeof hdr, 0);
    struct stat st;
    if (got < 0 || fstat(fd, &st) != 0) die(SCOUT_EXIT_IO, "%s: cannot read: %s", path, strerror(errno));
    close(fd);
    if (got < LITPKDS_HEADER_SIZE)
        die(SCOUT_EXIT_DATA, "%s: %lld bytes, too short for a LITPKDS header (24 bytes)", path, (long long)st.st_size);
    litpkds_header h;
    const char *why = litpkds_header_parse(hdr, &h);
    if (why) die(SCOUT_EXIT_DATA, "%s: %s", path, why);
    if (!r->chunk_size) {
        r->dtype = h.dtype;
        r->chunk_size = h.chunk_size;
        r->item = litpkds_dtype_size(h.dtype);
        r->n_blocks = h.chunk_size / (uint64_t)r->opt.block_size;
        if (!r->n_blocks)
            die(SCOUT_EXIT_DATA, "%s: chunk_size %llu holds no block of %d tokens (sequence length + 1); pack with a "
                                 "larger chunk size or train on shorter sequences",
                path, (unsigned long long)h.chunk_size, r->opt.block_size);
    } else if (h.dtype != r->dtype || h.chunk_size != r->chunk_size) {
        die(SCOUT_EXIT_DATA, "%s: header says %s x %llu tokens, but %s says %s x %llu: every shard of a data set must "
                             "have the same layout",
            path, litpkds_dtype_name(h.dtype), (unsigned long long)h.chunk_size, r->files[0],
            litpkds_dtype_name(r->dtype), (unsigned long long)r->chunk_size);
    }
    uint64_t want = LITPKDS_HEADER_SIZE + r->chunk_size * r->item;
    if ((uint64_t)st.st_size != want)
        die(SCOUT_EXIT_DATA, "%s: %lld bytes, but its header promises %llu (%llu tokens of %zu bytes + 24)%s", path,
            (long long)st.st_size, (unsigned long long)want, (unsigned long long)r->chunk_size, r->item,
            (uint64_t)st.st_size < want ? ": truncated" : "");
}

static void digest_files(data_reader *r) {
    sha256_ctx c;
    sha256_init(&c);
    for (size_t i = 0; i < r->n_files; i++) {
        const char *base = strrchr(r->files[i], '/');
        base = base ? base + 1 : r->files[i];
        sha256_update(&c, base, strlen(base) + 1); // names end with their NUL: no ambiguous joins
    }
    uint8_t d[32];
    sha256_final(&c, d);
    hex_encode(d, 8, r->files_digest);
}

static void check_options(const data_options *o) {
    if (o->block_size < 2) die(SCOUT_EXIT_USAGE, "internal: block size %d (it is sequence length + 1)", o->block_size);
    if (o->world_size < 1 || o->rank < 0 || o->rank >= o->world_size)
        die(SCOUT_EXIT_USAGE, "rank %d is not in [0, %d)", o->rank, o->world_size);
    if (o->n_chunks < 1) die(SCOUT_EXIT_USAGE, "the shard window must hold at least one file (got %d)", o->n_chunks);
}

// ---- shards: windows ----

static void unmap_window(data_reader *r) {
    for (int i = 0; r->loaded && i < r->n_chunks; i++) munmap(r->maps[i].base, r->maps[i].len);
    r->loaded = 0;
}

// Maps the files of window w and draws its block order; cur.rng keeps the generator state it came from.
static void load_window(data_reader *r, uint64_t w) {
    unmap_window(r);
    for (int i = 0; i < r->n_chunks; i++) {
        const char *path = r->files[w * (uint64_t)r->n_chunks + (uint64_t)i];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die(SCOUT_EXIT_IO, "%s: cannot open shard: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0) die(SCOUT_EXIT_IO, "%s: cannot stat: %s", path, strerror(errno));
        // The shard was checked at open; a size change since means it was rewritten under us.
        if ((uint64_t)st.st_size != LITPKDS_HEADER_SIZE + r->chunk_size * r->item)
            die(SCOUT_EXIT_DATA, "%s: changed size while training (%lld bytes)", path, (long long)st.st_size);
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) die(SCOUT_EXIT_IO, "%s: cannot map: %s", path, strerror(errno));
        close(fd);
        madvise(m, (size_t)st.st_size, MADV_WILLNEED); // the window is read in full, in random block order
        r->maps[i] = (data_map){m, (size_t)st.st_size};
    }
    r->loaded = 1;
    r->cur.window = w;
    r->cur.pos = 0;
    r->cur.rng = r->rng;
    uint64_t n = (uint64_t)r->n_chunks * r->n_blocks;
    if (r->opt.shuffle)
        np_permutation(&r->rng, r->order, n);
    else
        for (uint64_t i = 0; i < n; i++) r->order[i] = i;
}

void data_open_shards(data_reader *r, const char *pattern, const data_options *opt) {
    memset(r, 0, sizeof *r);
    check_options(opt);
    r->opt = *opt;
    r->mode = DATA_SHARDS;
    glob_t g;
    int rc = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0))
        die(SCOUT_EXIT_IO, "no file matches '%s' (quote the pattern so the shell does not expand it)", pattern);
    if (rc != 0) die(SCOUT_EXIT_IO, "cannot list '%s': %s", pattern, rc == GLOB_NOSPACE ? "out of memory" : "read error");
    size_t n = g.gl_pathc;
    char **all = xmalloc(n * sizeof *all);
    for (size_t i = 0; i < n; i++) all[i] = xstrdup(g.gl_pathv[i]);
    globfree(&g);
    // sorted(glob(...)), then random.seed(seed); random.shuffle(files).
    qsort(all, n, sizeof *all, cmp_str);
    size_t *perm = xmalloc(n * sizeof *perm);
    py_random pyr;
    py_random_seed(&pyr, opt->seed);
    py_random_shuffle_index(&pyr, perm, n);
    // Truncate to a multiple of world_size, deal round-robin.
    size_t usable = n / (size_t)opt->world_size * (size_t)opt->world_size;
    if (usable == 0)
        die(SCOUT_EXIT_DATA, "'%s' matches %zu files, fewer than the %d ranks: every rank needs at least one", pattern, n,
            opt->world_size);
    r->n_files = usable / (size_t)opt->world_size;
    r->files = xmalloc(r->n_files * sizeof *r->files);
    for (size_t i = 0; i < r->n_files; i++) r->files[i] = xstrdup(all[perm[(size_t)opt->rank + i * (size_t)opt->world_size]]);
    for (size_t i = 0; i < n; i++) free(all[i]);
    free(all);
    free(perm);
    if (usable < n)
        log_warn("'%s': %zu files, %zu of them unused so that %d ranks get equal shares (as the reference)",
                 pattern, n, n - usable, opt->world_size);
    for (size_t i = 0; i < r->n_files; i++) check_shard(r, r->files[i]);
    r->n_chunks = opt->n_chunks;
    if ((size_t)r->n_chunks > r->n_files) {
        // Only a shuffling (training) reader is told: without shuffling the window changes nothing (the blocks
        // come in file order either way), so the validation reader says nothing.
        if (opt->shuffle)
            log_warn("rank %d has %zu shard files, fewer than the window of %d: windows of %zu files instead (the "
                     "reference loader would fail here)",
                     opt->rank, r->n_files, opt->n_chunks, r->n_files);
        r->n_chunks = (int)r->n_files;
    }
    r->windows_per_epoch = r->n_files / (size_t)r->n_chunks;
    digest_files(r);
    r->maps = xcalloc((size_t)r->n_chunks, sizeof *r->maps);
    r->order = xmalloc((size_t)r->n_chunks * r->n_blocks * sizeof *r->order);
    np_pcg64_seed(&r->rng, opt->seed + (uint64_t)opt->rank);
    r->cur.mode = DATA_SHARDS;
    load_window(r, 0);
}

static int next_shard_block(data_reader *r, int32_t *block) {
    uint64_t per_window = (uint64_t)r->n_chunks * r->n_blocks;
    if (r->cur.pos >= per_window) {
        uint64_t w = r->cur.window + 1;
        if (w >= r->windows_per_epoch) { // wrap to the rank's first file, forever
            w = 0;
            r->cur.epoch++;
        }
        load_window(r, w);
    }
    uint64_t b = r->order[r->cur.pos];
    const data_map *m = &r->maps[b / r->n_blocks];
    uint64_t byte = LITPKDS_HEADER_SIZE + (b % r->n_blocks) * (uint64_t)r->opt.block_size * r->item;
    to_int32(m->base + byte, r->dtype, (size_t)r->opt.block_size, block);
    check_block(r, block, r->files[r->cur.window * (uint64_t)r->n_chunks + b / r->n_blocks], byte);
    r->cur.pos++;
    r->cur.blocks++;
    return 1;
}

uint32_t data_scan_max_token(data_reader *r) {
    if (r->mode != DATA_SHARDS) die(SCOUT_EXIT_FAIL, "internal: data_scan_max_token needs shards");
    uint32_t max = 0;
    for (size_t f = 0; f < r->n_files; f++) {
        int fd = open(r->files[f], O_RDONLY | O_CLOEXEC);
        if (fd < 0) die(SCOUT_EXIT_IO, "%s: cannot open shard: %s", r->files[f], strerror(errno));
        size_t len = LITPKDS_HEADER_SIZE + r->chunk_size * r->item;
        uint8_t *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (m == MAP_FAILED) die(SCOUT_EXIT_IO, "%s: cannot map: %s", r->files[f], strerror(errno));
        madvise(m, len, MADV_SEQUENTIAL);
        const uint8_t *tok = m + LITPKDS_HEADER_SIZE;
        uint32_t fmax = 0;
        if (r->dtype == LITPKDS_UINT16) {
            for (uint64_t i = 0; i < r->chunk_size; i++) {
                uint16_t v;
                memcpy(&v, tok + 2 * i, 2);
                fmax = v > fmax ? v : fmax;
            }
        } else {
            for (uint64_t i = 0; i < r->chunk_size; i++) {
                int32_t v;
                memcpy(&v, tok + 4 * i, 4);
                if (v < 0) die(SCOUT_EXIT_DATA, "%s: negative token %d at byte %llu", r->files[f], v,
                               (unsigned long long)(LITPKDS_HEADER_SIZE + 4 * i));
                fmax = (uint32_t)v > fmax ? (uint32_t)v : fmax;
            }
        }
        if (r->opt.vocab_size && fmax >= r->opt.vocab_size) {
            uint64_t at = 0;
            for (uint64_t i = 0; i < r->chunk_size; i++) {
                uint32_t v = 0;
                memcpy(&v, tok + r->item * i, r->item);
                if (v >= r->opt.vocab_size) {
                    at = i;
                    break;
                }
            }
            die(SCOUT_EXIT_DATA, "%s: token %u at byte %llu is outside the model's vocabulary of %u (was this data "
                                 "packed with another tokenizer?)",
                r->files[f], fmax, (unsigned long long)(LITPKDS_HEADER_SIZE + at * r->item), r->opt.vocab_size);
        }
        max = fmax > max ? fmax : max;
        munmap(m, len);
    }
    return max;
}

// ---- stream ----

void data_open_stream(data_reader *r, const char *path, const data_options *opt) {
    memset(r, 0, sizeof *r);
    check_options(opt);
    r->opt = *opt;
    r->mode = DATA_STREAM;
    r->cur.mode = DATA_STREAM;
    packed_reader_open(&r->pr, path);
    r->stream_name = r->pr.in.name;
}

// Reads and drops the rest of the current chunk.
static void skip_rest_of_chunk(data_reader *r) {
    uint8_t buf[1 << 15];
    size_t per = sizeof buf / r->item;
    while (packed_reader_read(&r->pr, buf, per) > 0) {}
}

// Starts the next chunk; 0 at a clean end of input.
static int start_chunk(data_reader *r) {
    if (r->in_chunk) skip_rest_of_chunk(r);
    if (!packed_reader_next_chunk(&r->pr)) return 0;
    const litpkds_header *h = &r->pr.h;
    if (!r->started) {
        r->dtype = h->dtype;
        r->chunk_size = h->chunk_size;
        r->item = litpkds_dtype_size(h->dtype);
        r->n_blocks = h->chunk_size / (uint64_t)r->opt.block_size;
        if (!r->n_blocks)
            die(SCOUT_EXIT_DATA, "%s: chunk_size %llu holds no block of %d tokens (sequence length + 1)", r->stream_name,
                (unsigned long long)h->chunk_size, r->opt.block_size);
        r->scratch = xmalloc((size_t)r->opt.block_size * r->item);
    } else if (h->dtype != r->dtype || h->chunk_size != r->chunk_size) {
        die(SCOUT_EXIT_DATA, "%s: chunk at byte %llu is %s x %llu tokens, the first chunk was %s x %llu: a stream's "
                             "chunks must have the same layout",
            r->stream_name, (unsigned long long)r->pr.chunk_offset, litpkds_dtype_name(h->dtype),
            (unsigned long long)h->chunk_size, litpkds_dtype_name(r->dtype), (unsigned long long)r->chunk_size);
    }
    if (r->started) r->cur.window++;
    r->started = 1;
    r->in_chunk = 1;
    r->cur.pos = 0;
    return 1;
}

// Reads one block of the current chunk into block (positions already checked).
static void read_stream_block(data_reader *r, int32_t *block) {
    uint64_t at = r->pr.chunk_offset + LITPKDS_HEADER_SIZE + r->cur.pos * (uint64_t)r->opt.block_size * r->item;
    size_t got = packed_reader_read(&r->pr, r->scratch, (size_t)r->opt.block_size);
    if (got != (size_t)r->opt.block_size)
        die(SCOUT_EXIT_FAIL, "internal: short block in %s at byte %llu", r->stream_name, (unsigned long long)at);
    to_int32(r->scratch, r->dtype, got, block);
    check_block(r, block, r->stream_name, at);
    r->cur.pos++;
}

static int next_stream_block(data_reader *r, int32_t *block) {
    while (!r->in_chunk || r->cur.pos >= r->n_blocks)
        if (!start_chunk(r)) return 0;
    read_stream_block(r, block);
    r->cur.blocks++;
    return 1;
}

// ---- common ----

int data_next(data_reader *r, int32_t *block) {
    return r->mode == DATA_SHARDS ? next_shard_block(r, block) : next_stream_block(r, block);
}

int data_next_batch(data_reader *r, int32_t *out, int B) {
    for (int b = 0; b < B; b++)
        if (!data_next(r, out + (size_t)b * (size_t)r->opt.block_size)) return b;
    return B;
}

void data_cursor_get(const data_reader *r, data_cursor *c) { *c = r->cur; }

void data_seek(data_reader *r, const data_cursor *c) {
    if (c->mode != r->mode)
        die(SCOUT_EXIT_DATA, "the saved data position is for a %s, the data given now is a %s",
            c->mode == DATA_SHARDS ? "shard set" : "stream", r->mode == DATA_SHARDS ? "shard set" : "stream");
    if (r->mode == DATA_SHARDS) {
        if (c->window >= r->windows_per_epoch || c->pos > (uint64_t)r->n_chunks * r->n_blocks)
            die(SCOUT_EXIT_DATA, "the saved data position (window %llu, block %llu) lies outside these shards (%llu "
                                 "windows of %llu blocks)",
                (unsigned long long)c->window, (unsigned long long)c->pos, (unsigned long long)r->windows_per_epoch,
                (unsigned long long)((uint64_t)r->n_chunks * r->n_blocks));
        r->rng = c->rng;
        load_window(r, c->window); // redraws the same order from the saved generator state
        r->cur.pos = c->pos;
        r->cur.epoch = c->epoch;
        r->cur.blocks = c->blocks;
        return;
    }
    if (r->started) die(SCOUT_EXIT_FAIL, "internal: data_seek on a stream after reading began");
    // Replay: skip the chunks already consumed, then the blocks of the current one.
    for (uint64_t k = 0; k <= c->window; k++)
        if (!start_chunk(r))
            die(SCOUT_EXIT_DATA, "%s: the stream ends after %llu chunks, before the saved position (chunk %llu, block "
                                 "%llu): is it the stream this run was started on?",
                r->stream_name, (unsigned long long)k, (unsigned long long)c->window, (unsigned long long)c->pos);
    if (c->pos > r->n_blocks)
        die(SCOUT_EXIT_DATA, "%s: the saved position (block %llu of chunk %llu) is past the %llu blocks of a chunk",
            r->stream_name, (unsigned long long)c->pos, (unsigned long long)c->window, (unsigned long long)r->n_blocks);
    for (uint64_t b = 0; b < c->pos; b++) {
        if (packed_reader_read(&r->pr, r->scratch, (size_t)r->opt.block_size) != (size_t)r->opt.block_size)
            die(SCOUT_EXIT_FAIL, "internal: short block while skipping %s", r->stream_name);
        r->cur.pos++;
    }
    r->cur.blocks = c->blocks;
}

void data_close(data_reader *r) {
    if (r->mode == DATA_SHARDS) {
        unmap_window(r);
        for (size_t i = 0; i < r->n_files; i++) free(r->files[i]);
        free(r->files);
        free(r->maps);
        free(r->order);
    } else if (r->mode == DATA_STREAM) {
        packed_reader_close(&r->pr);
    }
    free(r->scratch);
    memset(r, 0, sizeof *r);
}

// ---- JSON ----

json_t *data_cursor_to_json(const data_reader *r) {
    const data_cursor *c = &r->cur;
    json_t *j = json_object();
    json_object_set_new(j, "mode", json_string(r->mode == DATA_SHARDS ? "shards" : "stream"));
    json_object_set_new(j, "block_size", json_integer(r->opt.block_size));
    json_object_set_new(j, "blocks", json_integer((json_int_t)c->blocks));
    if (r->mode == DATA_STREAM) {
        json_object_set_new(j, "chunk", json_integer((json_int_t)c->window));
        json_object_set_new(j, "pos", json_integer((json_int_t)c->pos));
        return j;
    }
    char rng[NP_PCG64_TEXT_SIZE];
    np_pcg64_format(&c->rng, rng);
    json_object_set_new(j, "epoch", json_integer((json_int_t)c->epoch));
    json_object_set_new(j, "window", json_integer((json_int_t)c->window));
    json_object_set_new(j, "pos", json_integer((json_int_t)c->pos));
    json_object_set_new(j, "rng", json_string(rng));
    json_object_set_new(j, "seed", json_integer((json_int_t)r->opt.seed));
    json_object_set_new(j, "rank", json_integer(r->opt.rank));
    json_object_set_new(j, "world_size", json_integer(r->opt.world_size));
    json_object_set_new(j, "n_chunks", json_integer(r->n_chunks));
    json_object_set_new(j, "shuffle", json_boolean(r->opt.shuffle));
    json_object_set_new(j, "files", json_integer((json_int_t)r->n_files));
    json_object_set_new(j, "files_digest", json_string(r->files_digest));
    return j;
}

static int want_int(const json_t *j, const char *key, long long want, const char *what, char *err, size_t n) {
    const json_t *v = json_object_get(j, key);
    if (!json_is_integer(v)) {
        snprintf(err, n, "saved data position: \"%s\" is missing or not an integer", key);
        return -1;
    }
    if (want >= 0 && json_integer_value(v) != want) {
        snprintf(err, n, "saved data position was taken with %s %lld, this run has %lld", what,
                 (long long)json_integer_value(v), want);
        return -1;
    }
    return 0;
}

static uint64_t get_u64(const json_t *j, const char *key) { return (uint64_t)json_integer_value(json_object_get(j, key)); }

int data_cursor_from_json(data_reader *r, const json_t *j, char *err, size_t n) {
    const char *mode = json_string_value(json_object_get(j, "mode"));
    const char *here = r->mode == DATA_SHARDS ? "shards" : "stream";
    if (!mode || strcmp(mode, here) != 0) {
        snprintf(err, n, "saved data position is for %s input, this run reads %s", mode ? mode : "unknown", here);
        return -1;
    }
    if (want_int(j, "block_size", r->opt.block_size, "block size (sequence length + 1)", err, n) ||
        want_int(j, "blocks", -1, "", err, n) || want_int(j, "pos", -1, "", err, n))
        return -1;
    data_cursor c = {.mode = r->mode, .blocks = get_u64(j, "blocks"), .pos = get_u64(j, "pos")};
    if (r->mode == DATA_STREAM) {
        if (want_int(j, "chunk", -1, "", err, n)) return -1;
        c.window = get_u64(j, "chunk");
        data_seek(r, &c);
        return 0;
    }
    if (want_int(j, "seed", (long long)r->opt.seed, "seed", err, n) || want_int(j, "rank", r->opt.rank, "rank", err, n) ||
        want_int(j, "world_size", r->opt.world_size, "world size", err, n) ||
        want_int(j, "n_chunks", r->n_chunks, "shard window", err, n) ||
        want_int(j, "files", (long long)r->n_files, "number of shard files for this rank", err, n) ||
        want_int(j, "epoch", -1, "", err, n) || want_int(j, "window", -1, "", err, n))
        return -1;
    const json_t *sh = json_object_get(j, "shuffle");
    if (!json_is_boolean(sh) || json_is_true(sh) != !!r->opt.shuffle) {
        snprintf(err, n, "saved data position was taken with shuffling %s", json_is_true(sh) ? "on" : "off");
        return -1;
    }
    const char *digest = json_string_value(json_object_get(j, "files_digest"));
    if (!digest || strcmp(digest, r->files_digest) != 0) {
        snprintf(err, n, "saved data position was taken on other shard files (names digest %s, now %s)",
                 digest ? digest : "missing", r->files_digest);
        return -1;
    }
    const char *rng = json_string_value(json_object_get(j, "rng"));
    if (!rng || np_pcg64_parse(&c.rng, rng) != 0) {
        snprintf(err, n, "saved data position: \"rng\" is missing or malformed");
        return -1;
    }
    c.epoch = get_u64(j, "epoch");
    c.window = get_u64(j, "window");
    data_seek(r, &c);
    return 0;
}
