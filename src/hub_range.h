// hub_range.h: a byte range of a Hub file into memory (Parquet footers and column chunks read
// straight from the Hub: `scout-fetch --to jsonl` without -o).
//
// The same retry rules as whole-file downloads (hub_retry.h, hub_failure_step): a dropped
// connection resumes at the first byte still missing, 408/429/5xx wait and retry, an expired CDN
// URL is resolved again. A server that ignores Range (HTTP 200) cannot serve ranges: that is an
// error saying to download whole files with -o instead.
#ifndef SCOUT_HUB_RANGE_H
#define SCOUT_HUB_RANGE_H

#include <stdint.h>

#include "hub.h"

// Reads bytes [offset, offset + len) of f into buf. loc caches the resolved URL between calls
// (start it zeroed; free it with hub_location_free). stop (may be NULL) is polled, like signals,
// to abandon the read early. Returns 0, or -1 with e filled (e->code is 130/143 when a signal
// stopped it, SCOUT_EXIT_OK when *stop did).
int hub_read_range(const hub *h, http_client *c, const hub_file *f, hub_location *loc, uint64_t offset, uint64_t len,
                   uint8_t *buf, const int *stop, hub_error *e);

#endif
