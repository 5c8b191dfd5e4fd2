// parquet_file.c: a Parquet file that is all here: a local file mapped into memory, or a buffer.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parquet_internal.h"

int pq_file_open_buffer(pq_file *f, const uint8_t *data, size_t size, pq_error *err) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    uint32_t footer_len;
    if (size < PQ_TRAILER_SIZE)
        return pq_fail(err, PQ_ERR_DATA, "not a Parquet file: %zu bytes is too short (a Parquet file has at least 12)",
                       size);
    int rc = pq_footer_length(data + size - PQ_TRAILER_SIZE, size, &footer_len, err);
    if (!rc && memcmp(data, "PAR1", 4) != 0)
        rc = pq_fail(err, PQ_ERR_DATA, "not a Parquet file: it does not start with \"PAR1\"");
    if (!rc) rc = pq_meta_parse(data + size - PQ_TRAILER_SIZE - footer_len, footer_len, size, &f->meta, err);
    if (rc) return rc;
    f->data = data;
    f->size = size;
    return PQ_OK;
}

int pq_file_open(pq_file *f, const char *path, pq_error *err) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pq_fail(err, PQ_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    int stat_rc = fstat(fd, &st);
    if (stat_rc != 0 || !S_ISREG(st.st_mode)) {
        int rc = pq_fail(err, PQ_ERR_IO, "cannot read: %s", stat_rc != 0 ? strerror(errno) : "not a regular file");
        close(fd);
        return rc;
    }
    size_t size = (size_t)st.st_size;
    if (size < 12) {
        close(fd);
        return pq_fail(err, PQ_ERR_DATA, "not a Parquet file: %zu bytes is too short (a Parquet file has at least 12)",
                       size);
    }
    // A mapping: column chunks are decoded in place, and only the pages touched are read from disk.
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        int rc = pq_fail(err, PQ_ERR_IO, "cannot map %zu bytes: %s", size, strerror(errno));
        close(fd);
        return rc;
    }
    int rc = pq_file_open_buffer(f, map, size, err);
    if (rc) {
        munmap(map, size);
        close(fd);
        return rc;
    }
    f->map = map;
    f->fd = fd;
    return PQ_OK;
}

int pq_file_read_column(const pq_file *f, size_t rg, size_t col, pq_column_values *out, pq_error *err) {
    const pq_meta *m = f->meta;
    if (rg >= m->num_row_groups)
        return pq_fail(err, PQ_ERR_USAGE, "row group %zu out of range (%zu row groups)", rg, m->num_row_groups);
    if (col >= m->num_columns)
        return pq_fail(err, PQ_ERR_USAGE, "column index %zu out of range (%zu columns)", col, m->num_columns);
    const pq_chunk_info *ci = &m->row_groups[rg].chunks[col];
    // pq_meta_parse checked the range lies inside the file.
    return pq_column_decode(m, rg, col, f->data + ci->offset, (size_t)ci->size, out, err);
}

void pq_file_close(pq_file *f) {
    pq_meta_free(f->meta);
    if (f->map) munmap(f->map, f->size);
    if (f->fd >= 0) close(f->fd);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}
