// hub_prefetch.h: the column chunks of a remote Parquet file's row groups, fetched ahead by a few
// threads and handed out in order (`scout-fetch --to jsonl` without -o).
//
// One Range request per row group takes about a round trip plus the transfer; one at a time, a
// reader waits for every round trip and decodes nothing meanwhile. Here `threads` connections keep
// up to `window` row groups in flight or ready while the caller decodes the current one, so the
// stream runs at the speed of the link or of the decoder, whichever is slower.
//
// Only row groups below a limit are fetched (--max-rows needs the first few only); the caller raises
// the limit when it needs more (rows with a null first column are skipped, so a few more groups may
// be needed than the row counts promise).
#ifndef SCOUT_HUB_PREFETCH_H
#define SCOUT_HUB_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "parquet.h"

typedef struct rg_prefetch rg_prefetch;

// Starts fetching, for row groups 0 .. limit-1 of f (metadata m), the chunks of columns cols[0..n).
// loc is the file's resolved location, copied for each thread (a thread resolves again on its own
// when its copy expires).
rg_prefetch *rg_prefetch_start(const hub *h, const hub_file *f, const hub_location *loc, const pq_meta *m,
                               const size_t *cols, size_t n, size_t limit, int threads);
// Lets the threads fetch row groups up to limit-1 (never lowers it).
void rg_prefetch_raise_limit(rg_prefetch *p, size_t limit);
// Waits for row group rg (asked in increasing order, each once) and points chunks[c] at the bytes of
// column cols[c]; they stay valid until the next call. 0, or -1 with e filled.
int rg_prefetch_get(rg_prefetch *p, size_t rg, const uint8_t **chunks, hub_error *e);
// Bytes received so far.
uint64_t rg_prefetch_bytes(const rg_prefetch *p);
// Stops the threads (requests in flight are abandoned) and frees everything.
void rg_prefetch_stop(rg_prefetch *p);

#endif
