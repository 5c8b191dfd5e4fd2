#!/usr/bin/env python3
"""Reference packer: lit-gpt / TinyLlama PackedDatasetBuilder semantics, written independently of
scout-pack from spec/data.md §8 (the builder class of lit_gpt/packed_dataset.py, numpy swapped for the
standard library's array module so it runs anywhere). It is what scout-pack's bytes are checked against.

    packed_dataset_builder.py TOKENS.bin OUTDIR PREFIX CHUNK_SIZE

reads a SCOUTTOK token stream, splits it into documents at EOS (each document keeps its EOS, as the
reference data scripts append it), feeds each document to the builder with add_array(), and calls
write_reminder() at the end, exactly as the SCOUT reference's prepare script does per input file.
"""
import array
import os
import struct
import sys

HDR_MAGIC = b"LITPKDS"
HDR_SIZE = 24
DTYPE_CODES = {"B": 1, "b": 2, "h": 3, "i": 4, "q": 5, "f": 6, "d": 7, "H": 8}


class PackedDatasetBuilder:
    def __init__(self, outdir, prefix, chunk_size, sep_token, vocab_size):
        # dtype "auto": uint16 below 65500 tokens, else int32 (lit-gpt's rule).
        self._typecode = "H" if vocab_size is not None and vocab_size < 65500 else "i"
        self._counter = 0
        self._chunk_size = chunk_size
        self._outdir = outdir
        self._prefix = prefix
        self._sep_token = sep_token
        self._arr = array.array(self._typecode, [sep_token]) * chunk_size
        self._idx = 0
        self._version = 1
        self._filenames = []

    def _write_chunk(self):
        filename = os.path.join(self._outdir, f"{self._prefix}_{self._counter:010d}.bin")
        with open(filename, "wb") as f:
            f.write(HDR_MAGIC)
            f.write(struct.pack("<Q", self._version))
            f.write(struct.pack("<B", DTYPE_CODES[self._typecode]))
            f.write(struct.pack("<Q", self._chunk_size))
            f.write(self._arr.tobytes())
        self._filenames.append(filename)
        self._counter += 1
        self._arr = array.array(self._typecode, [self._sep_token]) * self._chunk_size
        self._idx = 0

    def add_array(self, arr):
        while self._idx + len(arr) > self._chunk_size:
            part_len = self._chunk_size - self._idx
            self._arr[self._idx:self._idx + part_len] = arr[:part_len]
            self._write_chunk()
            arr = arr[part_len:]
        arr_len = len(arr)
        self._arr[self._idx:self._idx + arr_len] = arr
        self._idx += arr_len

    def write_reminder(self):
        self._write_chunk()


def main():
    path, outdir, prefix, chunk_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(path, "rb") as f:
        hdr = f.read(32)
        assert hdr[:8] == b"SCOUTTOK", "not a token stream"
        version, bpt, vocab, eos = struct.unpack("<IIII", hdr[8:24])
        tokens = array.array("H" if bpt == 2 else "I")
        tokens.frombytes(f.read())
    assert sys.byteorder == "little"
    os.makedirs(outdir, exist_ok=True)
    builder = PackedDatasetBuilder(outdir, prefix, chunk_size, eos, vocab)
    typecode = builder._typecode
    start, n = 0, len(tokens)
    while start < n:
        try:
            end = tokens.index(eos, start) + 1
        except ValueError:
            end = n
        doc = tokens[start:end]
        builder.add_array(doc if doc.typecode == typecode else array.array(typecode, doc))
        start = end
    builder.write_reminder()


if __name__ == "__main__":
    main()
