#!/usr/bin/env python3
"""Independent safetensors writer and checker, from the published format alone (python3 stdlib only).

Format (huggingface/safetensors README): 8 bytes little-endian u64 N, then N bytes of a UTF-8 JSON object
{"__metadata__": {str: str}, name: {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}, ...}
that may be padded with spaces, then the data section; offsets are relative to its start, the byte ranges
tile it exactly.

    safetensors_ref.py write PATH    writes the fixture the C test reads (F32, BF16, F16, a scalar, an
                                     empty tensor; entries deliberately not in name order, header length
                                     not a multiple of 8 so the data section starts unaligned)
    safetensors_ref.py verify PATH   checks a file written by the C writer for the test's tensors
                                     t<k> (k = 0..3, shape below, value[i] = (i % 7) - 3 + 0.25 * k as F32)
                                     byte for byte against what safetensors' serializer produces: compact
                                     JSON, __metadata__ first, tensors sorted by name, header padded with
                                     spaces to a multiple of 8. Exit status 0 when it matches.
"""
import json
import struct
import sys

VERIFY_SHAPES = {"t2": [3, 5], "t0": [4], "t3": [], "t1": [2, 1, 3]}
VERIFY_META = {"format": "pt"}


def f32_bytes(values):
    return struct.pack("<%df" % len(values), *values)


def bf16_bytes(values):
    # The values are exactly representable in bf16: the top half of their float32 bits.
    out = b""
    for v in values:
        (u,) = struct.unpack("<I", struct.pack("<f", v))
        assert u & 0xFFFF == 0, v
        out += struct.pack("<H", u >> 16)
    return out


def f16_bytes(values):
    return struct.pack("<%de" % len(values), *values)


def write(path):
    tensors = [  # (name, dtype, shape, bytes): not in name order on purpose
        ("c.f16", "F16", [2, 3], f16_bytes([1.0, -2.0, 65504.0, 2.0**-24, 2.0**-14, -0.0])),
        ("a.f32", "F32", [2, 2], f32_bytes([0.5, -1.25, 3.0e-8, 1.0e30])),
        ("d.scalar", "F32", [], f32_bytes([7.0])),
        ("b.bf16", "BF16", [3], bf16_bytes([1.0, -2.5, 3.140625])),
        ("e.empty", "F32", [0, 4], b""),
    ]
    header = {"__metadata__": {"format": "pt", "source": "tests/ref/safetensors_ref.py"}}
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode("utf-8")  # default separators: spaces included, as allowed
    if len(h) % 8 == 0:
        h += b" "  # keep the data section unaligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        f.write(data)


def verify(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = {"__metadata__": VERIFY_META}
    data = b""
    for name in sorted(VERIFY_SHAPES):
        shape = VERIFY_SHAPES[name]
        k = int(name[1:])
        numel = 1
        for d in shape:
            numel *= d
        raw = f32_bytes([(i % 7) - 3 + 0.25 * k for i in range(numel)])
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    want = struct.pack("<Q", len(h)) + h + data
    if blob != want:
        print("mismatch: header %r\nwanted   %r" % (blob[8 : 8 + n], h), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "verify"):
        sys.exit(__doc__)
    if sys.argv[1] == "write":
        write(sys.argv[2])
        sys.exit(0)
    sys.exit(verify(sys.argv[2]))
