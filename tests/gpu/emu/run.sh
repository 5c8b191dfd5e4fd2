#!/usr/bin/env bash
# tests/gpu/emu/run.sh [TEST ARGS]: builds kernels/cuda/*.cu against the CPU emulator of CUDA (cuda_emu.h) with
# g++, links them with the CPU reference and tests/gpu/test_gpu_ops.c, and runs the test (--quick by default:
# the emulator runs every GPU thread as a fiber, so it is slow). Needs the CUDA headers (not a GPU, not nvcc's
# compiler): CUDA_HOME (default: the directory above `nvcc`, or /usr/local/cuda).
#   tests/gpu/emu/run.sh                         all ops, small shapes
#   tests/gpu/emu/run.sh --quick --filter scan   one op
#   EMU_PROG=test_gpu_train tests/gpu/emu/run.sh --steps 4 --config configs/scout_swa_tiny.json
#                                                the trainer check (links build/libscout.a: run `make` first)
# What it checks: indexing, masking, barriers (a divergent __syncthreads is reported as a deadlock), warp
# collectives with exited lanes, the tensor-core fragment layouts (mma.sync, and wgmma's register fragments,
# matrix descriptors and 128-byte swizzle), reads of never-written shared memory (NaN).
# wgmma runs asynchronously here too: its products are computed at the wait that covers them, so an accumulator
# read or an operand overwritten before that wait gives wrong results, as it may on the device.
# What it cannot: timing, races between warps that the fiber order happens to serialise, device math ulps.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
nvcc_bin=$(command -v nvcc || true)
CUDA_HOME=${CUDA_HOME:-$( [ -n "$nvcc_bin" ] && dirname "$(dirname "$nvcc_bin")" || echo /usr/local/cuda)}
out=${EMU_BUILD:-build/emu}
mkdir -p "$out/src/cuda" "$out/obj"
CXXFLAGS=(-std=c++17 -O2 -g -fno-strict-aliasing -Wall -Wno-unknown-pragmas -Wno-unused-variable -Wno-unused-function
          -include tests/gpu/emu/cuda_emu.h -Itests/gpu/emu/include -I"$CUDA_HOME/include" -I"$out/src" -Isrc -Ikernels)
CFLAGS=(-std=gnu11 -O2 -g -D_GNU_SOURCE -DSCOUT_CUDA=1 -I"$CUDA_HOME/include" -Isrc -Ikernels -Itests/gpu
        -I/usr/include/x86_64-linux-gnu/openblas-pthread)
objs=()
pids=()
# Headers too: "cuda/x.cuh" then resolves to the rewritten copy next to the rewritten .cu.
for f in kernels/cuda/*.cuh; do python3 tests/gpu/emu/preprocess.py "$f" "$out/src/cuda/$(basename "$f")"; done
for f in kernels/cuda/*.cu; do
    b=$(basename "$f" .cu)
    python3 tests/gpu/emu/preprocess.py "$f" "$out/src/$b.cpp"
    g++ "${CXXFLAGS[@]}" -c "$out/src/$b.cpp" -o "$out/obj/$b.o" & pids+=($!)
    objs+=("$out/obj/$b.o")
done
g++ -std=c++17 -O2 -g -I"$CUDA_HOME/include" -c tests/gpu/emu/emu_runtime.cpp -o "$out/obj/emu_runtime.o" & pids+=($!)
prog=${EMU_PROG:-test_gpu_ops}
for f in kernels/cpu/*.c kernels/*.c tests/gpu/$prog.c; do
    b=$(basename "$f" .c)
    gcc "${CFLAGS[@]}" -c "$f" -o "$out/obj/c_$b.o" & pids+=($!)
    objs+=("$out/obj/c_$b.o")
done
for p in "${pids[@]}"; do wait "$p"; done
extra=()
[ "$prog" = test_gpu_ops ] || extra=(build/libscout.a -ljansson -lzstd -lsnappy -lz -lcrypto -lcurl)
g++ -o "$out/$prog" "${objs[@]}" "$out/obj/emu_runtime.o" "${extra[@]}" -lopenblas -lm
args=("$@")
[ ${#args[@]} -eq 0 ] && [ "$prog" = test_gpu_ops ] && args=(--quick)
exec "$out/$prog" "${args[@]}"
