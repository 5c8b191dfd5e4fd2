#!/usr/bin/env python3
"""Synthetic SCOUTTOK token stream for tests and benchmarks (standard library only).

    gen_tokens.py OUT N_TOKENS [--vocab V] [--eos E] [--mean-doc L] [--seed S] [--doc-lengths a,b,c]

Random ids in [0, V) with EOS closing documents of random length (mean L), or documents of exactly the
lengths given by --doc-lengths (each length counts its EOS; N_TOKENS is then ignored). Fast enough for
100M tokens: the work is done by bytes operations, never a Python loop per token.
"""
import argparse
import os
import random
import struct


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("n", type=int)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--eos", type=int, default=2)
    p.add_argument("--mean-doc", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fingerprint", default="0123456789abcdef")
    p.add_argument("--doc-lengths", default=None)
    a = p.parse_args()
    assert a.vocab >= 512 and 0 <= a.eos < a.vocab
    rng = random.Random(a.seed)
    bpt = 2 if a.vocab <= 65536 else 4
    lengths = [int(x) for x in a.doc_lengths.split(",")] if a.doc_lengths else None
    n = sum(lengths) if lengths else a.n

    # Random ids below vocab: random bytes, with the most significant varying byte squeezed into
    # [0, hi) by a translation table, so every id is < hi * 256^k <= vocab - 1.
    buf = bytearray(rng.randbytes(n * bpt))
    if bpt == 2:
        hi = (a.vocab - 1) >> 8
        buf[1::2] = buf[1::2].translate(bytes(i * hi >> 8 for i in range(256)))
    else:
        hi = (a.vocab - 1) >> 16
        buf[3::4] = bytes(n)
        buf[2::4] = buf[2::4].translate(bytes(i * min(hi, 256) >> 8 for i in range(256)))

    # Inside documents EOS must not occur: replace aligned occurrences by another id.
    eos = a.eos.to_bytes(bpt, "little")
    other = ((a.eos + 1) % a.vocab).to_bytes(bpt, "little")
    pos = buf.find(eos)
    while pos != -1:
        if pos % bpt == 0:
            buf[pos:pos + bpt] = other
        pos = buf.find(eos, pos + 1)

    # Document ends.
    at = 0
    for length in lengths or iter(lambda: max(1, int(rng.expovariate(1.0 / a.mean_doc))), None):
        at += length
        if at > n:
            break
        buf[(at - 1) * bpt:at * bpt] = eos
    # Streams from scout-tokenize end with a document's EOS; so do these.
    if n:
        buf[(n - 1) * bpt:n * bpt] = eos

    with open(a.out + ".tmp", "wb") as f:
        f.write(b"SCOUTTOK" + struct.pack("<IIII", 1, bpt, a.vocab, a.eos) + bytes.fromhex(a.fingerprint))
        f.write(buf)
    os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
