#!/usr/bin/env python3
"""preprocess.py IN.cu OUT.cpp: rewrites the two pieces of CUDA syntax a host C++ compiler cannot parse, for the
CUDA emulator (cuda_emu.h):

  kernel<args><<<grid, block, smem, stream>>>(a, b);
      -> emu_launch(dim3(grid), dim3(block), smem, stream, [=]() { kernel<args>(a, b); });
  extern __shared__ __align__(16) T name[];
      -> T *name = (T *)emu_dyn_smem();

A #line directive keeps compiler messages pointing at the .cu file.
"""
import re
import sys


def split_top(s):
    """Splits s at commas outside (), <>, [], {}."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def rewrite_launches(src):
    out, pos = [], 0
    while True:
        i = src.find("<<<", pos)
        if i < 0:
            out.append(src[pos:])
            return "".join(out)
        # Start of the kernel expression: back over whitespace, one balanced <...> (template arguments) and
        # the name (identifier characters and ::).
        start = i
        while start > 0 and src[start - 1].isspace():
            start -= 1
        if src[start - 1] == ">":
            depth, start = 0, start - 1
            while True:
                if src[start] == ">":
                    depth += 1
                elif src[start] == "<":
                    depth -= 1
                    if depth == 0:
                        break
                start -= 1
        while start > 0 and (src[start - 1].isalnum() or src[start - 1] in "_:"):
            start -= 1
        j = src.find(">>>", i)
        if j < 0:
            raise SystemExit("unterminated <<< at offset %d" % i)
        cfg = split_top(src[i + 3:j])
        k = j + 3
        while src[k].isspace():
            k += 1
        if src[k] != "(":
            raise SystemExit("expected ( after >>> at offset %d" % k)
        depth, m = 0, k
        while True:
            if src[m] == "(":
                depth += 1
            elif src[m] == ")":
                depth -= 1
                if depth == 0:
                    break
            m += 1
        args = src[k + 1:m]
        end = src.find(";", m)
        kernel = src[start:i].strip()
        lead = ""
        while len(cfg) < 4:
            cfg.append("0")
        out.append(src[pos:start])
        out.append("%semu_launch(dim3(%s), dim3(%s), (size_t)(%s), (cudaStream_t)(%s), [=]() { %s(%s); });" %
                   (lead, cfg[0], cfg[1], cfg[2], cfg[3], kernel, " ".join(args.split())))
        out.append("\n" * src.count("\n", start, end + 1))  # keep the .cu line numbers
        pos = end + 1


SHARED = re.compile(r"extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?([\w:<> ]+?)\s+(\w+)\s*\[\s*\]\s*;")


def main():
    src = open(sys.argv[1]).read()
    src = SHARED.sub(lambda m: "%s *%s = (%s *)emu_dyn_smem();" % (m.group(1), m.group(2), m.group(1)), src)
    src = rewrite_launches(src)
    with open(sys.argv[2], "w") as f:
        f.write('#line 1 "%s"\n' % sys.argv[1])
        f.write(src)


if __name__ == "__main__":
    main()
