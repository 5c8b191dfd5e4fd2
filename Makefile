# SCOUT toolkit build.
#
#   make             build every tool into bin/ (CPU-only when nvcc is absent or CUDA=0)
#   make deps        install Debian packages and fetch pinned demo data / tokenizers into data/
#   make test        deps + build + C unit tests + tests/*.bats (what CI runs)
#   make demo        real data through the pipeline (pipelines/demo.sh)
#   make bench-*     speed tables (never part of `make test`)
#   make clean
#
# Layout is discovered, not listed: src/cmd/<tool>.c -> bin/<tool>; src/*.c -> build/libscout.a;
# kernels/cpu/*.c (+ kernels/cuda/*.cu when CUDA=1) -> build/libscoutk.a; tests/unit/test_*.c -> build/tests/.

CC      ?= gcc
# -O2 as the issue asks, plus GCC's full vectorizer cost model: the token scans of scout-pack and the
# tokenizer (max, count, copy) only vectorise with it, which doubles their throughput.
CFLAGS  ?= -O2 -g -fvect-cost-model=dynamic
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
CPPFLAGS += -std=gnu11 -D_GNU_SOURCE -Isrc -Ikernels -I/usr/include/x86_64-linux-gnu/openblas-pthread
DEPFLAGS := -MMD -MP
LDLIBS  := -lcurl -ljansson -lzstd -lsnappy -lz -lcrypto -lopenblas -lpthread -lm

# CUDA: on by default when nvcc exists; CUDA=0 forces the CPU-only build.
NVCC      ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA      ?= $(if $(NVCC),1,0)
CUDA_ARCH ?= sm_90a
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

KLIB      = $(if $(KCPU_OBJ)$(KCUDA_OBJ),build/libscoutk.a)
TOOLS     := $(patsubst src/cmd/%.c,bin/%,$(wildcard src/cmd/*.c))
LIB_SRC   := $(wildcard src/*.c)
LIB_OBJ   := $(patsubst src/%.c,build/src/%.o,$(LIB_SRC))
KCPU_SRC  := $(wildcard kernels/cpu/*.c) $(wildcard kernels/*.c)
KCPU_OBJ  := $(patsubst kernels/%.c,build/kernels/%.o,$(KCPU_SRC))
KCUDA_SRC := $(if $(filter 1,$(CUDA)),$(wildcard kernels/cuda/*.cu))
# .cu.o: kernels/cuda/adamw.cu and kernels/cpu/adamw.c must not both become adamw.o, or `ar` keeps one.
KCUDA_OBJ := $(patsubst kernels/%.cu,build/kernels/%.cu.o,$(KCUDA_SRC))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))
GPU_SRC   := $(if $(filter 1,$(CUDA)),$(wildcard tests/gpu/*.c))
GPU_BIN   := $(patsubst tests/gpu/%.c,build/gpu/%,$(GPU_SRC))

ifeq ($(CUDA),1)
  ifneq ($(KCUDA_SRC),)
    CPPFLAGS += -DSCOUT_CUDA=1 -I$(CUDA_HOME)/include
    LDLIBS   += -L$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
  endif
endif

.PHONY: all clean deps test test-unit test-bats test-gpu demo bench-pack bench-tokenize bench-parquet bench-fetch bench-train bench-attention fuzz-parquet
all: $(TOOLS)

# rm first: `ar rcs` alone never drops the object of a deleted source file.
build/libscout.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

build/libscoutk.a: $(KCPU_OBJ) $(KCUDA_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

build/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

build/kernels/%.o: kernels/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

build/kernels/%.cu.o: kernels/%.cu
	@mkdir -p $(@D)
	$(NVCC) -O3 -std=c++17 -arch=$(CUDA_ARCH) -Isrc -Ikernels -Xcompiler -Wall,-Wextra -MMD -MP -c $< -o $@

bin/%: src/cmd/%.c build/libscout.a $(KLIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< build/libscout.a $(KLIB) $(LDLIBS) -o $@

build/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) build/libscout.a $(KLIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(WARN) $< build/libscout.a $(KLIB) $(LDLIBS) -o $@

build/gpu/%: tests/gpu/%.c build/libscout.a $(KLIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(WARN) $< build/libscout.a $(KLIB) $(LDLIBS) -o $@

deps:
	@scripts/deps.sh

test: deps all $(UNIT_BIN)
	@tests/run.sh $(UNIT_BIN)

test-unit: all $(UNIT_BIN)
	@tests/run.sh --unit-only $(UNIT_BIN)

test-bats: all
	@tests/run.sh --bats-only

test-gpu: all $(GPU_BIN)
	@tests/gpu/run.sh $(GPU_BIN)

demo: deps all
	@pipelines/demo.sh

bench-pack: all
	@scripts/bench-pack.sh

bench-tokenize: deps all
	@scripts/bench-tokenize.sh

build/tests/parquet-cat: tests/parquet-cat.c build/libscout.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< build/libscout.a $(LDLIBS) -o $@

bench-parquet: deps all build/tests/parquet-cat
	@scripts/bench-parquet.sh

bench-train: all
	@scripts/bench-train.sh

# (NVIDIA GPU) the attention kernels per tile shape, then PyTorch's SDPA backends at the causal shapes, side by side.
bench-attention: all $(GPU_BIN)
	@build/gpu/bench_gpu --attn-tiles
	@python3 scripts/bench-sdpa.py || echo "bench-attention: no PyTorch with CUDA here: the SDPA side skipped"

bench-fetch: deps all
	@scripts/bench-fetch.sh

# libFuzzer + ASan/UBSan on the Parquet reader (clang); FUZZ_SECONDS=600 by default.
fuzz-parquet: deps
	@tests/fuzz/run.sh $(or $(FUZZ_SECONDS),600)

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(KCPU_OBJ:.o=.d) $(KCUDA_OBJ:.o=.d)
