// rng.h: the three random number generators of the toolkit, each chosen for one job.
//
// 1. Counter-based SplitMix64 (weight init, params.c). Draw i of a stream with key K is
//    splitmix64_mix(K + (i + 1) * 0x9E3779B97F4A7C15), i.e. exactly the i-th output of a SplitMix64
//    generator seeded with K, but computable for any i without the ones before it: every tensor's init is
//    a pure function of (seed, tensor name, element index), independent of tensor order, of other tensors
//    and of threads. Uniforms use the top 53 bits; normals 2j and 2j+1 are the two Box-Muller outputs
//    (r cos a, r sin a) of draws 2j and 2j+1, computed in double and rounded once to float: a libm whose
//    log/sincos differ by an ulp of double changes a float only when the double lands within that ulp of a
//    float rounding boundary, so runs agree bit for bit across machines in practice (glibc: exactly).
//    tests/unit/test_params.c pins the first values.
//
// 2. CPython's `random` (MT19937, init_by_array seeding, getrandbits, _randbelow rejection, shuffle): the
//    reference shuffles its shard list with `random.seed(seed); random.shuffle(files)`, and this
//    reproduces it bit for bit (tests check against outputs of CPython itself).
//
// 3. numpy's `default_rng(seed)`: PCG64 (XSL-RR 128/64) seeded through SeedSequence, `permutation(n)` as
//    Generator.shuffle's Fisher-Yates with random_interval (masked rejection over next_uint32, which
//    buffers the high half of each 64-bit draw). The reference's PackedDataset draws its per-window block
//    order with it. Checked against numpy's own test vectors and published outputs (tests/unit/test_data.c).
#ifndef SCOUT_RNG_H
#define SCOUT_RNG_H

#include <stddef.h>
#include <stdint.h>

// ---- 1. counter-based SplitMix64 ----

static inline uint64_t splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
// Draw i of stream `key`.
static inline uint64_t ctr_u64(uint64_t key, uint64_t i) { return splitmix64_mix(key + (i + 1) * 0x9E3779B97F4A7C15ull); }
// Uniform in [0, 1) with 53 random bits.
static inline double ctr_uniform(uint64_t key, uint64_t i) { return (double)(ctr_u64(key, i) >> 11) * 0x1.0p-53; }
// Standard normals 2j and 2j+1 of the stream (from draws 2j and 2j+1).
void ctr_normal_pair(uint64_t key, uint64_t j, double *z0, double *z1);
// Standard normal number i of the stream (half of pair i / 2).
double ctr_normal(uint64_t key, uint64_t i);
// Stream key for a named tensor: mixes the seed with the FNV-1a hash of the name.
uint64_t ctr_key(uint64_t seed, const char *name);

// ---- 2. CPython random ----

typedef struct py_random {
    uint32_t mt[624];
    int mti;
} py_random;

// random.seed(n) for a non-negative integer n (Python uses abs(n)).
void py_random_seed(py_random *r, uint64_t seed);
uint32_t py_random_u32(py_random *r);                  // genrand_uint32
uint64_t py_random_getrandbits(py_random *r, int k);  // 1 <= k <= 64
uint64_t py_random_randbelow(py_random *r, uint64_t n); // _randbelow_with_getrandbits, n >= 1
// random.shuffle(x) applied to x = [0, 1, ..., n-1]: idx[i] is the original index now at position i.
void py_random_shuffle_index(py_random *r, size_t *idx, size_t n);

// ---- 3. numpy default_rng (PCG64) ----

typedef struct np_pcg64 {
    unsigned __int128 state, inc;
    int has_uint32;    // the high half of the last 64-bit draw is pending for next_uint32
    uint32_t uinteger; // that half
} np_pcg64;

// numpy.random.default_rng(seed) for a non-negative integer seed.
void np_pcg64_seed(np_pcg64 *g, uint64_t seed);
uint64_t np_pcg64_next64(np_pcg64 *g);  // bit_generator.random_raw()
uint32_t np_pcg64_next32(np_pcg64 *g);  // low half of a fresh draw, then its high half
double np_pcg64_random(np_pcg64 *g);    // Generator.random()
uint64_t np_random_interval(np_pcg64 *g, uint64_t max); // uniform in [0, max]
// Generator.permutation(n): out[0..n) = a shuffled arange(n).
void np_permutation(np_pcg64 *g, uint64_t *out, uint64_t n);

// The state as text, "<state hex32>:<inc hex32>:<has_uint32>:<uinteger>", for checkpoints (trainer.json);
// buf needs NP_PCG64_TEXT_SIZE bytes. Parse returns 0, or -1 on malformed text.
#define NP_PCG64_TEXT_SIZE 96
void np_pcg64_format(const np_pcg64 *g, char *buf);
int np_pcg64_parse(np_pcg64 *g, const char *text);

#endif
