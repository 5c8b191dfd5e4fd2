// rng.c: see rng.h.
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---- 1. counter-based SplitMix64 ----

void ctr_normal_pair(uint64_t key, uint64_t j, double *z0, double *z1) {
    // u1 in (0, 1] so that log(u1) is finite; u2 in [0, 1).
    double u1 = (double)((ctr_u64(key, 2 * j) >> 11) + 1) * 0x1.0p-53;
    double u2 = (double)(ctr_u64(key, 2 * j + 1) >> 11) * 0x1.0p-53;
    double r = sqrt(-2.0 * log(u1)), c, s;
    sincos(6.283185307179586476925 * u2, &s, &c); // glibc: the same values as sin() and cos(), at once
    *z0 = r * c;
    *z1 = r * s;
}

double ctr_normal(uint64_t key, uint64_t i) {
    double z0, z1;
    ctr_normal_pair(key, i / 2, &z0, &z1);
    return i % 2 ? z1 : z0;
}

uint64_t ctr_key(uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a 64
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return splitmix64_mix(splitmix64_mix(seed) ^ h);
}

// ---- 2. CPython random: Modules/_randommodule.c ----

static void mt_init_genrand(py_random *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = 624;
}

static void mt_init_by_array(py_random *r, const uint32_t *key, int len) {
    mt_init_genrand(r, 19650218u);
    int i = 1, j = 0;
    for (int k = 624 > len ? 624 : len; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++, j++;
        if (i >= 624) r->mt[0] = r->mt[623], i = 1;
        if (j >= len) j = 0;
    }
    for (int k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) r->mt[0] = r->mt[623], i = 1;
    }
    r->mt[0] = 0x80000000u; // MSB is 1, assuring a non-zero initial array
}

void py_random_seed(py_random *r, uint64_t seed) {
    // random_seed(): the absolute value split into 32-bit words, least significant first; 0 gives [0].
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    mt_init_by_array(r, key, key[1] ? 2 : 1);
}

uint32_t py_random_u32(py_random *r) {
    static const uint32_t mag01[2] = {0, 0x9908b0dfu};
    if (r->mti >= 624) {
        int kk;
        uint32_t y;
        for (kk = 0; kk < 624 - 397; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + 397] ^ (y >> 1) ^ mag01[y & 1];
        }
        for (; kk < 623; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1];
        }
        y = (r->mt[623] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
        r->mt[623] = r->mt[396] ^ (y >> 1) ^ mag01[y & 1];
        r->mti = 0;
    }
    uint32_t y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t py_random_getrandbits(py_random *r, int k) {
    if (k <= 32) return py_random_u32(r) >> (32 - k);
    // Words least significant first; the last word keeps its top (k - 32) bits.
    uint64_t lo = py_random_u32(r);
    uint64_t hi = py_random_u32(r) >> (64 - k);
    return lo | hi << 32;
}

uint64_t py_random_randbelow(py_random *r, uint64_t n) {
    int k = 64 - __builtin_clzll(n); // n.bit_length()
    uint64_t x = py_random_getrandbits(r, k);
    while (x >= n) x = py_random_getrandbits(r, k);
    return x;
}

void py_random_shuffle_index(py_random *r, size_t *idx, size_t n) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = n > 0 ? n - 1 : 0; i >= 1; i--) { // for i in reversed(range(1, len(x)))
        size_t j = (size_t)py_random_randbelow(r, (uint64_t)i + 1);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

// ---- 3. numpy: bit_generator.pyx (SeedSequence), pcg64.h, distributions.c, _generator.pyx ----

#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_MULT_L 0xca01f9ddu
#define SS_MIX_MULT_R 0x4973f715u
#define SS_POOL 4

static uint32_t ss_hashmix(uint32_t value, uint32_t *hash_const) {
    value ^= *hash_const;
    *hash_const *= SS_MULT_A;
    value *= *hash_const;
    value ^= value >> 16;
    return value;
}

static uint32_t ss_mix(uint32_t x, uint32_t y) {
    uint32_t result = SS_MIX_MULT_L * x - SS_MIX_MULT_R * y;
    return result ^ (result >> 16);
}

// SeedSequence(seed).generate_state(n_words, np.uint32) for an integer seed without spawn key.
static void seed_sequence_state(uint64_t seed, uint32_t *out, int n_words) {
    uint32_t entropy[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int n_entropy = entropy[1] ? 2 : 1;
    uint32_t pool[SS_POOL];
    uint32_t hc = SS_INIT_A;
    for (int i = 0; i < SS_POOL; i++) pool[i] = ss_hashmix(i < n_entropy ? entropy[i] : 0, &hc);
    for (int src = 0; src < SS_POOL; src++)
        for (int dst = 0; dst < SS_POOL; dst++)
            if (src != dst) pool[dst] = ss_mix(pool[dst], ss_hashmix(pool[src], &hc));
    // (entropy longer than the pool would be mixed in here; an integer seed has at most 2 words)
    uint32_t hb = SS_INIT_B;
    for (int i = 0; i < n_words; i++) {
        uint32_t v = pool[i % SS_POOL];
        v ^= hb;
        hb *= SS_MULT_B;
        v *= hb;
        v ^= v >> 16;
        out[i] = v;
    }
}

#define PCG_MULT ((((unsigned __int128)0x2360ED051FC65DA4ull) << 64) | 0x4385DF649FCCF645ull)

static inline void pcg_step(np_pcg64 *g) { g->state = g->state * PCG_MULT + g->inc; }

void np_pcg64_seed(np_pcg64 *g, uint64_t seed) {
    uint32_t w[8];
    seed_sequence_state(seed, w, 8); // generate_state(4, np.uint64): u64 k = w[2k] | w[2k+1] << 32
    uint64_t v[4];
    for (int k = 0; k < 4; k++) v[k] = (uint64_t)w[2 * k] | (uint64_t)w[2 * k + 1] << 32;
    // pcg64_set_seed: PCG_128BIT_CONSTANT(high, low) from (v[0], v[1]) and (v[2], v[3]).
    unsigned __int128 initstate = ((unsigned __int128)v[0] << 64) | v[1];
    unsigned __int128 initseq = ((unsigned __int128)v[2] << 64) | v[3];
    g->state = 0;
    g->inc = (initseq << 1) | 1;
    pcg_step(g);
    g->state += initstate;
    pcg_step(g);
    g->has_uint32 = 0;
    g->uinteger = 0;
}

uint64_t np_pcg64_next64(np_pcg64 *g) {
    pcg_step(g); // step first, then output the new state (XSL-RR)
    uint64_t x = (uint64_t)(g->state >> 64) ^ (uint64_t)g->state;
    unsigned rot = (unsigned)(g->state >> 122);
    return (x >> rot) | (x << ((64 - rot) & 63));
}

uint32_t np_pcg64_next32(np_pcg64 *g) {
    if (g->has_uint32) {
        g->has_uint32 = 0;
        return g->uinteger;
    }
    uint64_t next = np_pcg64_next64(g);
    g->has_uint32 = 1;
    g->uinteger = (uint32_t)(next >> 32);
    return (uint32_t)next;
}

double np_pcg64_random(np_pcg64 *g) { return (double)(np_pcg64_next64(g) >> 11) * (1.0 / 9007199254740992.0); }

uint64_t np_random_interval(np_pcg64 *g, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max, value;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffull) {
        while ((value = (np_pcg64_next32(g) & mask)) > max) {}
    } else {
        while ((value = (np_pcg64_next64(g) & mask)) > max) {}
    }
    return value;
}

void np_permutation(np_pcg64 *g, uint64_t *out, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) out[i] = i;
    for (uint64_t i = n > 0 ? n - 1 : 0; i >= 1; i--) { // _shuffle_raw: reversed(range(1, n))
        uint64_t j = np_random_interval(g, i);
        uint64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

void np_pcg64_format(const np_pcg64 *g, char *buf) {
    snprintf(buf, NP_PCG64_TEXT_SIZE, "%016llx%016llx:%016llx%016llx:%d:%u", (unsigned long long)(g->state >> 64),
             (unsigned long long)g->state, (unsigned long long)(g->inc >> 64), (unsigned long long)g->inc,
             g->has_uint32 ? 1 : 0, (unsigned)g->uinteger);
}

static int parse_hex128(const char *s, unsigned __int128 *out) {
    unsigned __int128 v = 0;
    for (int i = 0; i < 32; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

int np_pcg64_parse(np_pcg64 *g, const char *text) {
    np_pcg64 t;
    if (strlen(text) < 32 + 1 + 32 + 1 + 1 + 1 + 1) return -1;
    if (parse_hex128(text, &t.state) || text[32] != ':' || parse_hex128(text + 33, &t.inc) || text[65] != ':')
        return -1;
    if ((text[66] != '0' && text[66] != '1') || text[67] != ':') return -1;
    t.has_uint32 = text[66] == '1';
    const char *p = text + 68;
    if (!*p) return -1;
    uint64_t u = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        u = u * 10 + (uint64_t)(*p - '0');
        if (u > 0xffffffffull) return -1;
    }
    t.uinteger = (uint32_t)u;
    if (!(t.inc & 1)) return -1; // PCG increments are odd
    *g = t;
    return 0;
}
