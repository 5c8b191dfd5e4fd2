// dx_mode.h: the dx_mode argument of the backward ops whose input feeds several consumers (a residual stream,
// the shared input of q/k/v or of gate/up), shared by the CPU declarations (ops.h) and the CUDA ones
// (cuda/ops_cuda.cuh). SCOUT_DX_ADD adds the op's input gradient to dx instead of overwriting it, so the sum over
// the consumers needs no temporary and no separate add pass (and on bf16 backends, one rounding per sum).
#ifndef SCOUT_DX_MODE_H
#define SCOUT_DX_MODE_H

enum { SCOUT_DX_WRITE = 0, SCOUT_DX_ADD = 1 };

#endif
