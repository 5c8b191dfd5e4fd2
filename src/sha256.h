// sha256.h: SHA-256 through OpenSSL's EVP interface (tokenizer fingerprints, download verification).
#ifndef SCOUT_SHA256_H
#define SCOUT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx { void *evp; } sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t digest[32]);
void sha256_buffer(const void *data, size_t n, uint8_t digest[32]);
// Hashes a whole file; dies with SCOUT_EXIT_IO when it cannot be read.
void sha256_file(const char *path, uint8_t digest[32]);
// Lower-case hex of n bytes into out (2n+1 bytes).
void hex_encode(const uint8_t *bytes, size_t n, char *out);

#endif
