// hub_rows.h: the rows of Parquet files as JSONL on stdout, one {"text": ...} object per row, in
// file and row order (DESIGN.md format 1), for `scout-fetch ... | scout-tokenize | scout-pack`.
//
// Three sources of the same rows (the Parquet reader is src/parquet.h):
//   rows_local_files  local files (--parquet FILE...), mapped
//   rows_downloaded   the files of a running download (-o DIR --to jsonl): each file's rows are
//                     printed as soon as it is verified and in place, while later files download
//   rows_remote       straight from the Hub by Range requests (--to jsonl without -o): the
//                     footer, then per row group one request for the column chunks printed, a few
//                     in flight (hub_prefetch.h), so --max-rows N fetches only what N rows need and
//                     nothing touches the disk
// A row whose first column is null is skipped and counted (as parquet-cat); a null in another
// column prints as null. Only files whose name ends in ".parquet" have rows; others are skipped.
// The functions return an exit code (0, 2 no such column, 3 bad Parquet, 4 I/O or network, 130/143)
// after logging the error with the file and row group.
#ifndef SCOUT_HUB_ROWS_H
#define SCOUT_HUB_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "hub_download.h"

typedef struct rows_options {
    const char **columns; // printed in this order, as JSON keys
    size_t n_columns;
    uint64_t max_rows;    // UINT64_MAX: all
} rows_options;

// Splits "text,url,score" into *out (an array of names in one copy of list; free it with
// rows_columns_free). Dies with a usage error on an empty or repeated name.
size_t rows_parse_columns(const char *list, const char ***out);
void rows_columns_free(const char **columns);

int rows_local_files(const rows_options *o, const char *const *paths, size_t n);
// Waits for each file of the run in list order. After --max-rows, or when stdout fails, it cancels
// the downloads still running (their .part files stay).
int rows_downloaded(const rows_options *o, fetch_run *run, const hub_file_list *files);
// `threads` connections fetch row groups ahead of the one being printed.
int rows_remote(const rows_options *o, const hub *h, const hub_file_list *files, int threads);

#endif
