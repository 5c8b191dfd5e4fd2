// safetensors.c: see safetensors.h.
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "xio.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so is this code");

static const char *DTYPE_NAMES[] = {"F32", "BF16", "F16"};
static const uint64_t DTYPE_SIZES[] = {4, 2, 2};

const char *st_dtype_name(int dtype) { return dtype >= 0 && dtype <= ST_F16 ? DTYPE_NAMES[dtype] : "?"; }

float st_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); // NaN: keep it a (quiet) NaN
    u += 0x7fffu + ((u >> 16) & 1);                                           // round to nearest, ties to even
    return (uint16_t)(u >> 16);
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13); // inf / NaN
    } else if (exp) {
        u = sign | ((exp + 112) << 23) | (man << 13); // normal: rebias 15 -> 127
    } else if (man) {
        int e = -1; // subnormal: normalise the mantissa
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    } else {
        u = sign; // zero
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- reader ----

typedef struct errbuf {
    char *buf;
    size_t size;
} errbuf;

__attribute__((format(printf, 4, 5))) static int st_fail(errbuf *e, int code, const char *path, const char *fmt,
                                                          ...) {
    int n = snprintf(e->buf, e->size, "%s: ", path);
    if (n >= 0 && (size_t)n < e->size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf + n, e->size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_by_offsets(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int get_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

// Fills one tensor from its header entry; returns 0 or an exit code with the message in e.
static int parse_tensor(errbuf *e, const char *path, const char *name, const json_t *info, st_tensor *t) {
    if (!json_is_object(info)) return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": header entry is not an object", name);
    const json_t *dt = json_object_get(info, "dtype"), *sh = json_object_get(info, "shape"),
                 *off = json_object_get(info, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off))
        return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": needs string \"dtype\", array \"shape\" and array \"data_offsets\"",
                       name);
    t->dtype = -1;
    for (int d = 0; d <= ST_F16; d++)
        if (strcmp(json_string_value(dt), DTYPE_NAMES[d]) == 0) t->dtype = d;
    if (t->dtype < 0)
        return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": dtype %s is not supported (expected F32, BF16 or F16)", name,
                       json_string_value(dt));
    size_t nd = json_array_size(sh);
    if (nd > ST_MAX_DIMS) return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": %zu dimensions (at most %d)", name, nd, ST_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (get_u64(json_array_get(sh, i), &d))
            return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": shape[%zu] is not a non-negative integer", name, i);
        if (__builtin_mul_overflow(numel, d, &numel))
            return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": shape overflows 64 bits", name);
        t->shape[i] = (int64_t)d;
    }
    t->numel = numel;
    if (json_array_size(off) != 2 || get_u64(json_array_get(off, 0), &t->begin) || get_u64(json_array_get(off, 1), &t->end))
        return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": data_offsets must be [begin, end] integers", name);
    if (t->end < t->begin)
        return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": data_offsets [%llu, %llu] end before they begin", name,
                       (unsigned long long)t->begin, (unsigned long long)t->end);
    uint64_t bytes;
    if (__builtin_mul_overflow(numel, DTYPE_SIZES[t->dtype], &bytes) || bytes != t->end - t->begin)
        return st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes, but %llu %s values need %llu",
                       name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)(t->end - t->begin), (unsigned long long)numel, DTYPE_NAMES[t->dtype],
                       (unsigned long long)(numel * DTYPE_SIZES[t->dtype]));
    t->name = xstrdup(name);
    return 0;
}

static int parse_metadata(errbuf *e, st_file *f, const json_t *meta) {
    if (!json_is_object(meta)) return st_fail(e, SCOUT_EXIT_DATA, f->path, "__metadata__ is not an object of strings");
    size_t n = json_object_size(meta);
    f->meta_keys = xcalloc(n ? n : 1, sizeof(char *));
    f->meta_values = xcalloc(n ? n : 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v)) return st_fail(e, SCOUT_EXIT_DATA, f->path, "__metadata__ \"%s\" is not a string", k);
        f->meta_keys[f->n_meta] = xstrdup(k);
        f->meta_values[f->n_meta++] = xstrdup(json_string_value(v));
    }
    return 0;
}

// Validates the mapped file and builds the tensor list; 0 or an exit code.
static int parse_file(errbuf *e, st_file *f) {
    const char *path = f->path;
    if (f->map_size < 8) return st_fail(e, SCOUT_EXIT_DATA, path, "%zu bytes: too short for a safetensors file", f->map_size);
    uint64_t n;
    memcpy(&n, f->map, 8);
    if (n > ST_MAX_HEADER)
        return st_fail(e, SCOUT_EXIT_DATA, path, "header length %llu exceeds the format's limit of %llu bytes (not a safetensors file?)",
                       (unsigned long long)n, ST_MAX_HEADER);
    if (n + 8 > f->map_size)
        return st_fail(e, SCOUT_EXIT_DATA, path, "header length %llu runs past the end of the %zu-byte file (truncated?)",
                       (unsigned long long)n, f->map_size);
    if (n == 0 || f->map[8] != '{') return st_fail(e, SCOUT_EXIT_DATA, path, "header does not start with '{'");
    f->data = f->map + 8 + n;
    f->data_size = f->map_size - 8 - n;
    json_error_t je;
    json_t *root = json_loadb((const char *)f->map + 8, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) return st_fail(e, SCOUT_EXIT_DATA, path, "header is not valid JSON: %s (byte %d of the header)", je.text, je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return st_fail(e, SCOUT_EXIT_DATA, path, "header is not a JSON object");
    }
    size_t cap = json_object_size(root);
    f->tensors = xcalloc(cap ? cap : 1, sizeof(st_tensor));
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if ((rc = parse_metadata(e, f, v))) break;
            continue;
        }
        if ((rc = parse_tensor(e, path, key, v, &f->tensors[f->n]))) break;
        f->n++;
    }
    json_decref(root);
    if (rc) return rc;
    // The byte ranges, in offset order, must tile the data section: no gap, no overlap, nothing after.
    st_tensor **order = xmalloc((size_t)(f->n ? f->n : 1) * sizeof *order);
    for (int i = 0; i < f->n; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n, sizeof *order, cmp_by_offsets);
    uint64_t at = 0;
    for (int i = 0; i < f->n && !rc; i++) {
        const st_tensor *t = order[i];
        if (t->begin < at)
            rc = st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": bytes [%llu, %llu) overlap \"%s\"", t->name,
                         (unsigned long long)t->begin, (unsigned long long)t->end, order[i - 1]->name);
        else if (t->begin > at)
            rc = st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\" starts at data byte %llu, leaving bytes [%llu, %llu) unused",
                         t->name, (unsigned long long)t->begin, (unsigned long long)at, (unsigned long long)t->begin);
        else if (t->end > f->data_size)
            rc = st_fail(e, SCOUT_EXIT_DATA, path, "tensor \"%s\": bytes [%llu, %llu) run past the %llu-byte data section (truncated?)",
                         t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                         (unsigned long long)f->data_size);
        at = t->end;
    }
    free(order);
    if (!rc && at != f->data_size)
        rc = st_fail(e, SCOUT_EXIT_DATA, path, "%llu bytes after the last tensor (the data section is %llu bytes, tensors cover %llu)",
                     (unsigned long long)(f->data_size - at), (unsigned long long)f->data_size, (unsigned long long)at);
    if (!rc) qsort(f->tensors, (size_t)f->n, sizeof *f->tensors, cmp_by_name);
    return rc;
}

int st_open_checked(st_file *f, const char *path, char *err, size_t err_size) {
    memset(f, 0, sizeof *f);
    errbuf e = {err, err_size};
    f->path = xstrdup(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return st_fail(&e, SCOUT_EXIT_IO, path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return st_fail(&e, SCOUT_EXIT_IO, path, "not a regular file");
    }
    f->map_size = (size_t)st.st_size;
    if (f->map_size > 0) {
        void *m = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return st_fail(&e, SCOUT_EXIT_IO, path, "cannot map %zu bytes: %s", f->map_size, strerror(errno));
        }
        f->map = m;
    }
    close(fd); // the mapping keeps the file
    return parse_file(&e, f);
}

void st_open(st_file *f, const char *path) {
    char err[1024];
    int rc = st_open_checked(f, path, err, sizeof err);
    if (rc) die(rc, "%s", err);
}

void st_close(st_file *f) {
    if (f->map) munmap(f->map, f->map_size);
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) free(f->meta_keys[i]), free(f->meta_values[i]);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    st_tensor key = {.name = (char *)name};
    return f->n ? bsearch(&key, f->tensors, (size_t)f->n, sizeof key, cmp_by_name) : NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

void st_read_f32(const st_file *f, const st_tensor *t, float *dst) {
    const uint8_t *src = f->data + t->begin; // may be unaligned: copy through memcpy
    if (t->dtype == ST_F32) {
        memcpy(dst, src, t->numel * 4);
        return;
    }
    for (uint64_t i = 0; i < t->numel; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = t->dtype == ST_BF16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
    }
}

// ---- writer ----

static int cmp_entry_ptr(const void *a, const void *b) {
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static uint64_t entry_numel(const st_entry *e) {
    uint64_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= (uint64_t)e->shape[d];
    return n;
}

void st_write(const char *path, const st_entry *entries, int n, int dtype, const char *const *meta) {
    if (dtype != ST_F32 && dtype != ST_BF16) die(SCOUT_EXIT_FAIL, "%s: internal: cannot write dtype %d", path, dtype);
    const st_entry **order = xmalloc((size_t)(n ? n : 1) * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = &entries[i];
    qsort(order, (size_t)n, sizeof *order, cmp_entry_ptr);
    for (int i = 1; i < n; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            die(SCOUT_EXIT_FAIL, "%s: internal: tensor name \"%s\" given twice", path, order[i]->name);
    // Header: __metadata__ first, then tensors in name order with consecutive offsets (as safetensors).
    json_t *root = json_object();
    if (meta && meta[0]) {
        json_t *m = json_object();
        for (const char *const *kv = meta; kv[0] && kv[1]; kv += 2) json_object_set_new(m, kv[0], json_string(kv[1]));
        json_object_set_new(root, "__metadata__", m);
    }
    uint64_t off = 0, item = DTYPE_SIZES[dtype];
    for (int i = 0; i < n; i++) {
        json_t *info = json_object(), *shape = json_array(), *offs = json_array();
        for (int d = 0; d < order[i]->ndim; d++) json_array_append_new(shape, json_integer(order[i]->shape[d]));
        uint64_t bytes = entry_numel(order[i]) * item;
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + bytes)));
        json_object_set_new(info, "dtype", json_string(DTYPE_NAMES[dtype]));
        json_object_set_new(info, "shape", shape);
        json_object_set_new(info, "data_offsets", offs);
        json_object_set_new(root, order[i]->name, info);
        off += bytes;
    }
    char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!hdr) die(SCOUT_EXIT_FAIL, "%s: internal: cannot format the safetensors header", path);
    size_t len = strlen(hdr), padded = (len + 7) / 8 * 8; // data then starts 8-byte aligned
    uint8_t *head = xmalloc(8 + padded);
    uint64_t n_le = padded;
    memcpy(head, &n_le, 8);
    memcpy(head + 8, hdr, len);
    memset(head + 8 + len, ' ', padded - len);
    free(hdr);
    atomic_out *out = atomic_open(path);
    atomic_write(out, head, 8 + padded);
    free(head);
    enum { CHUNK = 1 << 20 };
    uint16_t *tmp = dtype == ST_BF16 ? xmalloc(CHUNK * sizeof *tmp) : NULL;
    for (int i = 0; i < n; i++) {
        uint64_t numel = entry_numel(order[i]);
        if (dtype == ST_F32) {
            atomic_write(out, order[i]->data, numel * 4);
            continue;
        }
        for (uint64_t at = 0; at < numel; at += CHUNK) {
            uint64_t m = numel - at < CHUNK ? numel - at : CHUNK;
            for (uint64_t j = 0; j < m; j++) tmp[j] = st_f32_to_bf16(order[i]->data[at + j]);
            atomic_write(out, tmp, m * 2);
        }
    }
    free(tmp);
    free(order);
    atomic_commit(out);
}
