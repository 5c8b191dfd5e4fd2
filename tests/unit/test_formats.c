// test_formats.c: known-answer tests of the token stream and LITPKDS headers, and the atomic writer.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "check.h"
#include "packed.h"
#include "tokstream.h"

static void test_tokstream_header(void) {
    const uint8_t fp[8] = {0xfc, 0x4f, 0x0b, 0xd7, 0x0b, 0x37, 0x09, 0x31};
    tokstream_header h, back;
    tokstream_header_make(&h, 32000, 2, fp);
    uint8_t b[TOKSTREAM_HEADER_SIZE];
    tokstream_header_pack(&h, b);
    // Bytes fixed by DESIGN.md format 2.
    const uint8_t want[32] = {'S', 'C', 'O', 'U', 'T', 'T', 'O', 'K', 1, 0, 0, 0, 2, 0, 0, 0,
                              0x00, 0x7d, 0, 0, 2, 0, 0, 0, 0xfc, 0x4f, 0x0b, 0xd7, 0x0b, 0x37, 0x09, 0x31};
    CHECK(memcmp(b, want, 32) == 0);
    CHECK(tokstream_header_parse(b, 32, &back) == NULL);
    CHECK_EQ_INT(back.vocab_size, 32000);
    CHECK_EQ_INT(back.eos_id, 2);
    CHECK_EQ_INT(back.bytes_per_token, 2);
    CHECK(tokstream_same_tokenizer(&h, &back));
    char hex[17];
    tokstream_fingerprint_hex(back.fingerprint, hex);
    CHECK_EQ_STR(hex, "fc4f0bd70b370931");

    // Width rule: 2 bytes up to 65536 ids, 4 above.
    tokstream_header_make(&h, 65536, TOKSTREAM_NO_EOS, fp);
    CHECK_EQ_INT(h.bytes_per_token, 2);
    tokstream_header_make(&h, 65537, 0, fp);
    CHECK_EQ_INT(h.bytes_per_token, 4);

    // Each malformed field is refused.
    tokstream_header_make(&h, 32000, 2, fp);
    tokstream_header_pack(&h, b);
    CHECK(tokstream_header_parse(b, 31, &back) != NULL);
    uint8_t bad[32];
    memcpy(bad, b, 32), bad[0] = 'X';
    CHECK(tokstream_header_parse(bad, 32, &back) != NULL);
    memcpy(bad, b, 32), bad[8] = 2;
    CHECK(tokstream_header_parse(bad, 32, &back) != NULL);
    memcpy(bad, b, 32), bad[12] = 4; // 4 bytes per token with a 32000 vocabulary
    CHECK(tokstream_header_parse(bad, 32, &back) != NULL);
    memcpy(bad, b, 32), bad[20] = 0x00, bad[21] = 0x7d; // eos 32000 == vocab
    CHECK(tokstream_header_parse(bad, 32, &back) != NULL);
    memcpy(bad, b, 32), memset(bad + 16, 0, 4); // vocab 0
    CHECK(tokstream_header_parse(bad, 32, &back) != NULL);
    tokstream_header other = h;
    other.fingerprint[7] ^= 1;
    CHECK(!tokstream_same_tokenizer(&h, &other));
}

// Ids as stream bytes: little-endian, 2 or 4 bytes each, nothing written past n tokens.
static void test_tokstream_encode(void) {
    const uint32_t ids[3] = {0x0102, 0xFFFF, 0x00010203};
    uint8_t out[16];
    memset(out, 0xAA, sizeof out);
    CHECK_EQ_INT(tokstream_encode_ids(out, ids, 2, 2), 4);
    CHECK(memcmp(out, "\x02\x01\xFF\xFF\xAA", 5) == 0);
    memset(out, 0xAA, sizeof out);
    CHECK_EQ_INT(tokstream_encode_ids(out, ids, 3, 4), 12);
    CHECK(memcmp(out, "\x02\x01\x00\x00\xFF\xFF\x00\x00\x03\x02\x01\x00\xAA", 13) == 0);
    CHECK_EQ_INT(tokstream_bytes_per_token(65536), 2);
    CHECK_EQ_INT(tokstream_bytes_per_token(65537), 4);
}

static void test_litpkds_header(void) {
    litpkds_header h = {LITPKDS_UINT16, 2098176}, back;
    uint8_t b[LITPKDS_HEADER_SIZE];
    litpkds_header_pack(&h, b);
    // lit-gpt: b"LITPKDS" + struct.pack("<Q", 1) + struct.pack("<B", 8) + struct.pack("<Q", chunk_size)
    const uint8_t want[24] = {'L', 'I', 'T', 'P', 'K', 'D', 'S', 1, 0, 0, 0, 0, 0, 0, 0, 8,
                              0x00, 0x04, 0x20, 0, 0, 0, 0, 0};
    CHECK(memcmp(b, want, 24) == 0);
    CHECK(litpkds_header_parse(b, &back) == NULL);
    CHECK_EQ_INT(back.chunk_size, 2098176);
    CHECK_EQ_INT(back.dtype, LITPKDS_UINT16);
    CHECK_EQ_INT(litpkds_dtype_for_vocab(32000), LITPKDS_UINT16);
    CHECK_EQ_INT(litpkds_dtype_for_vocab(65499), LITPKDS_UINT16);
    CHECK_EQ_INT(litpkds_dtype_for_vocab(65500), LITPKDS_INT32);
    CHECK_EQ_INT(litpkds_dtype_size(LITPKDS_INT32), 4);
    CHECK_EQ_STR(litpkds_dtype_name(LITPKDS_UINT16), "uint16");
    uint8_t bad[24];
    memcpy(bad, b, 24), bad[7] = 2;    // version 2
    CHECK(litpkds_header_parse(bad, &back) != NULL);
    memcpy(bad, b, 24), bad[15] = 6;   // float32 tokens
    CHECK(litpkds_header_parse(bad, &back) != NULL);
    memcpy(bad, b, 24), memset(bad + 16, 0, 8);
    CHECK(litpkds_header_parse(bad, &back) != NULL);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void test_atomic(void) {
    char dir[] = "/tmp/scout-test-atomic-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/a.bin", dir);
    snprintf(b, sizeof b, "%s/b.bin", dir);
    atomic_out *oa = atomic_open(a), *ob = atomic_open(b);
    atomic_write(oa, "hello", 5);
    atomic_write(ob, "world", 5);
    CHECK(!exists(a) && !exists(b));     // invisible until committed
    atomic_commit(oa);
    CHECK(exists(a));
    atomic_close(ob);
    atomic_abort_all();                  // what die() and the signal handler do
    CHECK(!exists(b));
    atomic_abort(ob);
    CHECK(unlink(a) == 0);
    CHECK(rmdir(dir) == 0);              // no temporary file left anywhere
}

int main(int argc, char **argv) {
    test_tokstream_header();
    test_tokstream_encode();
    test_litpkds_header();
    test_atomic();
    return check_summary(argv[0]);
}
