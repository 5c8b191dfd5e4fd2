// gemm_tune.cuh: which of cuBLASLt's candidate algorithms a GEMM configuration runs (kernels/cuda/gemm_tune.cu).
#pragma once

#include "cuda/common.cuh"

// The algorithm for one configuration, described by `key` (one word, no spaces: the configuration and its
// operands' alignments), its descriptor and layouts (C laid out as D), and the heuristic's candidates
// cand[0..n_cand), best-ranked first. With tuning on (the default; SCOUT_CUDA_GEMM_TUNE=0 turns it off) the choice
// comes from the cache file when the key is there, else the candidates are timed on the stream with the real A
// and B, a scratch D (and C) and the context's cuBLASLt workspace, and the fastest is kept and appended to the file.
// The caller's D and C are never written. Falls back to cand[0] when tuning is off, when only one candidate
// exists, or when the scratch D cannot be allocated (that choice is not written down).
cublasLtMatmulAlgo_t gemm_tune_choose(const char *key, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la,
                                      cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t ld,
                                      const cublasLtMatmulHeuristicResult_t *cand, int n_cand, const void *A,
                                      const void *B, size_t d_bytes, float beta, cudaStream_t stream);
