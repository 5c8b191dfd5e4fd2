// hub_download.h: Hub files into a directory, several at a time, resumable and verified.
//
// Each of `jobs` threads owns one HTTP connection and takes the next file of the list (in list
// order, so the first files finish first and a JSONL consumer can start on them while later files
// still download). Per file:
//   1. already in place and verified (sidecar, or a hash when --verify or no sidecar)? done;
//   2. open "<DIR>/<path>.part" (flock'd against a second scout-fetch); a hashing thread
//      (hash_follower) reads it behind the writer, what it already holds first;
//   3. resolve the URL (hub_resolve: the CDN's, no token), GET with "Range: bytes=<have>-";
//   4. on a dropped connection or 408/429/5xx: wait (Retry-After, RateLimit, backoff) and resume;
//      a 403 from the CDN (the signed URL expired) resolves again; a 200 to a Range request or a
//      Content-Range that does not start where asked restarts from byte 0;
//   5. verify size and digest (hub_verify.h). A mismatch discards the .part and downloads once more
//      from byte 0; a second mismatch refuses the file (exit 3). Then rename into place and write
//      the sidecar.
// SIGINT/SIGTERM (sig_install_flag) stop every transfer within about a second; .part files stay for
// the next run. A network failure that outlasts the retries stops new files from starting (the
// network is likely down for all of them) and the run exits 4 naming the file, URL and what to try.
#ifndef SCOUT_HUB_DOWNLOAD_H
#define SCOUT_HUB_DOWNLOAD_H

#include <stddef.h>

#include "hub.h"

typedef struct fetch_options {
    const char *out_dir;
    int jobs;       // parallel downloads, one thread and one connection each
    int reverify;   // --verify: hash files already in place even when a sidecar vouches for them
} fetch_options;

typedef enum fetch_state {
    FETCH_QUEUED,
    FETCH_RUNNING,
    FETCH_DOWNLOADED, // downloaded, verified, renamed into place
    FETCH_PRESENT,    // already in place and verified
    FETCH_FAILED,     // gave up; the error was logged
    FETCH_STOPPED,    // interrupted (its .part kept), or never started because the run is stopping
} fetch_state;

typedef struct fetch_run fetch_run;

// Starts the download threads. `files` must outlive the run. Call sig_install_flag() first.
fetch_run *fetch_start(const hub *h, const hub_file_list *files, const fetch_options *o);
// Waits until file i is settled (drawing the progress line meanwhile) and returns its state.
fetch_state fetch_wait(fetch_run *r, size_t i);
// Stops the run early without it being a failure (--max-rows reached, stdout closed): no new file
// starts, transfers stop within about a second and keep their .part files.
void fetch_cancel(fetch_run *r);
// "<DIR>/<path>" of file i.
const char *fetch_local_path(const fetch_run *r, size_t i);
// Waits for every thread, prints the summary, frees the run. Returns the exit code: 130/143 when
// interrupted, else 3 when a file was refused as corrupt, else 4 when one could not be downloaded
// (or was not started because of another's failure), else 0 (files left by fetch_cancel included).
int fetch_finish(fetch_run *r);

#endif
