// ops_cpu.h: CPU ops that fill optional slots of the backend table (ops.h's scout_backend) and so are not
// among ops.h's per-op declarations, as kernels/cuda/ops_cuda.cuh declares their CUDA counterparts. Internal
// to kernels/cpu and its tests.
#ifndef SCOUT_OPS_CPU_H
#define SCOUT_OPS_CPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// cross_entropy_forward_cpu and cross_entropy_backward_cpu in one pass over each row (the table's
// cross_entropy_fused): losses [N] fp32 and dlogits [N, V] (=, may alias logits), bit for bit what the two
// ops give.
void cross_entropy_fused_cpu(float *losses, float *dlogits, const float *logits, const int32_t *targets,
                             float dloss, int N, int V);

#ifdef __cplusplus
}
#endif

#endif
