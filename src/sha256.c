// sha256.c: see sha256.h.
#include "sha256.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "xio.h"

void sha256_init(sha256_ctx *c) {
    c->evp = EVP_MD_CTX_new();
    if (!c->evp || EVP_DigestInit_ex(c->evp, EVP_sha256(), NULL) != 1)
        die(SCOUT_EXIT_FAIL, "cannot initialise SHA-256 (OpenSSL)");
}

void sha256_update(sha256_ctx *c, const void *data, size_t n) {
    if (EVP_DigestUpdate(c->evp, data, n) != 1) die(SCOUT_EXIT_FAIL, "SHA-256 update failed (OpenSSL)");
}

void sha256_final(sha256_ctx *c, uint8_t digest[32]) {
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(c->evp, digest, &len) != 1 || len != 32) die(SCOUT_EXIT_FAIL, "SHA-256 final failed (OpenSSL)");
    EVP_MD_CTX_free(c->evp);
    c->evp = NULL;
}

void sha256_buffer(const void *data, size_t n, uint8_t digest[32]) {
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, digest);
}

void sha256_file(const char *path, uint8_t digest[32]) {
    xin in;
    xin_open_raw(&in, path); // hash the bytes as stored, even of a .zst file
    sha256_ctx c;
    sha256_init(&c);
    size_t cap = 1 << 20;
    uint8_t *buf = xmalloc(cap);
    size_t n;
    while ((n = xin_read(&in, buf, cap)) > 0) sha256_update(&c, buf, n);
    sha256_final(&c, digest);
    free(buf);
    xin_close(&in);
}

void hex_encode(const uint8_t *bytes, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = 0;
}
