// gemm_cache.h: the file of tuned matrix-product choices (kernels/cuda/linear.cu times cuBLASLt's candidate
// algorithms of each GEMM configuration once and keeps the fastest here).
//
// Why a file: which candidate is fastest is a measurement, and two processes measuring separately could choose
// differently near a tie; different algorithms sum in different orders, so a rerun or a resumed run would no
// longer reproduce the first run's bits. With the choice written down, every later process on the machine reads
// it instead of measuring, and runs the same kernels.
//
// Format: text, one configuration per line, "<key> <w0> <w1> ... <w7>": the key is one word without spaces made
// by the caller (the configuration and the operands' alignments), the words are the 8 64-bit words of the
// cublasLtMatmulAlgo_t in hex (cuBLASLt documents the struct as serialisable for the same library version,
// which is why the version is in the file's name). Lines starting with '#' are comments. Lines are only ever
// appended, each with one write(2); the first line of a key wins, so processes that tuned the same key at the
// same time leave both lines and every later reader takes the same one. A malformed line (a write cut short by
// a crash) is skipped and its configuration tuned again.
#ifndef SCOUT_GEMM_CACHE_H
#define SCOUT_GEMM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GEMM_CACHE_KEY_MAX 160
#define GEMM_CACHE_WORDS 8

typedef struct {
    char key[GEMM_CACHE_KEY_MAX];
    uint64_t words[GEMM_CACHE_WORDS];
} gemm_cache_entry;

typedef struct {
    gemm_cache_entry *entries; // [n], in file order
    int n, cap;
    char path[4096]; // "" when the choices are kept in memory only
} gemm_cache;

// Reads `path` into `c` (a missing file is an empty cache; path NULL or "" keeps everything in memory).
// Returns the number of malformed lines skipped, or -1 with errno set when the file cannot be read for another
// reason than not existing; `c` is usable either way (holding what could be read).
int gemm_cache_load(gemm_cache *c, const char *path);

// The words stored for `key`, or NULL.
const uint64_t *gemm_cache_find(const gemm_cache *c, const char *key);

// Adds `key` in memory and appends its line to the file, creating the file (and a missing last directory) when
// needed. Returns 0, or an errno value when the file could not be written (the entry is still kept in memory).
int gemm_cache_add(gemm_cache *c, const char *key, const uint64_t words[GEMM_CACHE_WORDS]);

void gemm_cache_free(gemm_cache *c);

// The default file for a device and library version: $SCOUT_CUDA_GEMM_CACHE when set (empty: no file), else
// $XDG_CACHE_HOME/scout/ or $HOME/.cache/scout/ + "gemm-<device>-<version>.txt" with the device name's
// characters outside [A-Za-z0-9._-] replaced by '-'. Writes "" (no file) when none of those variables is set.
void gemm_cache_default_path(char *out, size_t n, const char *device, const char *version);

#ifdef __cplusplus
}
#endif

#endif
