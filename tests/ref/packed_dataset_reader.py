#!/usr/bin/env python3
"""Reference reader: lit-gpt / TinyLlama PackedDataset + PackedDatasetIterator semantics, as the SCOUT
reference trains (spec/data.md §8.3), with numpy swapped for a standard-library port of what it uses, so it
runs anywhere. It is what the C reader (src/data.c) is checked against.

    packed_dataset_reader.py PATTERN SEED RANK WORLD N_CHUNKS BLOCK_SIZE SHUFFLE COUNT
        prints the first token of each of the first COUNT blocks, one per line
    packed_dataset_reader.py selftest
        checks the numpy port against published numpy outputs

File list: sorted(glob(PATTERN)), then random.seed(SEED); random.shuffle(files) with CPython's own random
module (as create_dataloader). Sharding, windows of N_CHUNKS files, permutation over the window's blocks
with default_rng(SEED + RANK), wrap-around: as PackedDataset's code. One documented deviation, shared with
the C reader: when a rank has fewer than N_CHUNKS files, the window is all of them (lit-gpt raises
IndexError there).
"""
import array
import glob
import random
import struct
import sys

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1
M128 = (1 << 128) - 1


def seed_sequence_state(seed, n_words):
    """numpy SeedSequence(seed).generate_state(n_words, uint32) for an int seed (bit_generator.pyx)."""
    entropy = []
    n = seed
    while True:
        entropy.append(n & M32)
        n >>= 32
        if n == 0:
            break
    hash_const = [0x43B0D7E5]

    def hashmix(value):
        value = (value ^ hash_const[0]) & M32
        hash_const[0] = (hash_const[0] * 0x931E8875) & M32
        value = (value * hash_const[0]) & M32
        return value ^ (value >> 16)

    def mix(x, y):
        r = (0xCA01F9DD * x - 0x4973F715 * y) & M32
        return r ^ (r >> 16)

    pool = [hashmix(entropy[i] if i < len(entropy) else 0) for i in range(4)]
    for s in range(4):
        for d in range(4):
            if s != d:
                pool[d] = mix(pool[d], hashmix(pool[s]))
    for s in range(4, len(entropy)):
        for d in range(4):
            pool[d] = mix(pool[d], hashmix(entropy[s]))
    out, hb = [], 0x8B51F9DD
    for i in range(n_words):
        v = pool[i % 4] ^ hb
        hb = (hb * 0x58F38DED) & M32
        v = (v * hb) & M32
        out.append(v ^ (v >> 16))
    return out


class DefaultRng:
    """numpy.random.default_rng(seed): PCG64 (XSL-RR) with Generator.permutation's Fisher-Yates."""

    MULT = 0x2360ED051FC65DA44385DF649FCCF645

    def __init__(self, seed):
        w = seed_sequence_state(seed, 8)
        v = [w[2 * k] | (w[2 * k + 1] << 32) for k in range(4)]
        initstate, initseq = (v[0] << 64) | v[1], (v[2] << 64) | v[3]
        self.inc = ((initseq << 1) | 1) & M128
        self.state = 0
        self._step()
        self.state = (self.state + initstate) & M128
        self._step()
        self.buffered = None

    def _step(self):
        self.state = (self.state * self.MULT + self.inc) & M128

    def next64(self):
        self._step()
        x = ((self.state >> 64) ^ self.state) & M64
        rot = self.state >> 122
        return ((x >> rot) | (x << ((64 - rot) & 63))) & M64

    def next32(self):
        if self.buffered is not None:
            v, self.buffered = self.buffered, None
            return v
        x = self.next64()
        self.buffered = x >> 32
        return x & M32

    def random(self):
        return (self.next64() >> 11) * (1.0 / 9007199254740992.0)

    def interval(self, mx):
        if mx == 0:
            return 0
        mask = mx
        for s in (1, 2, 4, 8, 16, 32):
            mask |= mask >> s
        draw = self.next32 if mx <= M32 else self.next64
        while True:
            v = draw() & mask
            if v <= mx:
                return v

    def permutation(self, n):
        x = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.interval(i)
            x[i], x[j] = x[j], x[i]
        return x


def read_header(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:7] == b"LITPKDS"
    assert struct.unpack("<Q", head[7:15])[0] == 1
    return head[15], struct.unpack("<Q", head[16:24])[0]


def blocks(pattern, seed, rank, world, n_chunks, block_size, shuffle):
    filenames = sorted(glob.glob(pattern))
    random.seed(seed)
    random.shuffle(filenames)
    max_num_files = len(filenames) // world * world
    filenames = filenames[rank:max_num_files:world]
    n_chunks = min(n_chunks, len(filenames))  # the documented deviation
    rng = DefaultRng(seed + rank)
    dtype, chunk_size = read_header(filenames[0])
    typecode = {8: "H", 4: "i"}[dtype]
    n_blocks = chunk_size // block_size
    file_idx = 0
    while True:
        if n_chunks > len(filenames[file_idx:]):
            file_idx = 0
        buffers = []
        for i in range(n_chunks):
            a = array.array(typecode)
            with open(filenames[file_idx + i], "rb") as f:
                f.seek(24)
                a.frombytes(f.read())
            buffers.append(a)
        file_idx += n_chunks
        n_all = n_chunks * n_blocks
        for b in rng.permutation(n_all) if shuffle else range(n_all):
            elem = (b % n_blocks) * block_size
            yield buffers[b // n_blocks][elem : elem + block_size]


def selftest():
    assert DefaultRng(42).random() == 0.7739560485559633
    g = DefaultRng(0)
    assert (g.state, g.inc) == (35399562948360463058890781895381311971, 87136372517582989555478159403783844777)
    assert DefaultRng(7).next64() == 11530976094092348043
    assert DefaultRng(1).permutation(12) == [8, 11, 4, 7, 5, 0, 1, 9, 2, 10, 6, 3]
    assert DefaultRng(10151).permutation(1186)[:14] == [373, 369, 52, 977, 616, 835, 269, 88, 811, 942, 103, 184, 281, 210]
    print("ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["selftest"]:
        selftest()
        sys.exit(0)
    if len(sys.argv) != 9:
        sys.exit(__doc__)
    pattern = sys.argv[1]
    seed, rank, world, n_chunks, block_size, shuffle, count = map(int, sys.argv[2:])
    it = blocks(pattern, seed, rank, world, n_chunks, block_size, shuffle)
    out = []
    for _ in range(count):
        out.append(str(next(it)[0]))
    print("\n".join(out))
