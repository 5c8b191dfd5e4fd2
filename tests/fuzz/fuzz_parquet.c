// fuzz_parquet.c: libFuzzer target for the Parquet reader (src/parquet*.c, src/thrift.c).
//
// Each input is a whole file: the footer is decoded, and every readable column of every row group is
// decoded and printed as JSON, which walks every page, level, encoding and codec path. Anything but a
// clean PQ_* return (a crash, a sanitizer report, a leak, a hang) is a finding. Build and run with
// tests/fuzz/run.sh (see tests/fuzz/README.md).
#include <stdint.h>
#include <stdlib.h>

#include "parquet.h"

// A cap on the work per input, so the fuzzer spends its time on many inputs, not on one large one.
#define MAX_CHUNKS_PER_INPUT 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pq_file f;
    pq_error err;
    if (pq_file_open_buffer(&f, data, size, &err) != PQ_OK) return 0;
    const pq_meta *m = f.meta;
    pq_column_values v;
    pq_column_values_init(&v);
    uint8_t *json = NULL;
    size_t json_cap = 0, chunks = 0;
    for (size_t col = 0; col < m->num_columns; col++) {
        if (pq_column_check(m, col, &err) != PQ_OK) continue;
        uint64_t off, len;
        if (pq_chunk_range(m, 0, m->columns[col].name, &off, &len, &err) != PQ_OK && m->num_row_groups > 0) abort();
        for (size_t rg = 0; rg < m->num_row_groups && chunks < MAX_CHUNKS_PER_INPUT; rg++, chunks++) {
            if (pq_file_read_column(&f, rg, col, &v, &err) != PQ_OK) continue;
            if (v.num_rows != m->row_groups[rg].num_rows) abort(); // success must mean one value per row
            for (size_t i = 0; i < v.num_rows; i++) {
                size_t need = pq_value_json_max(&v, i);
                if (need > json_cap) {
                    free(json);
                    json_cap = need;
                    json = malloc(json_cap);
                    if (!json) abort();
                }
                if (pq_value_to_json(&v, i, json) > need) abort();
            }
        }
    }
    free(json);
    pq_column_values_free(&v);
    pq_file_close(&f);
    return 0;
}
