// global_norm.c: the global L2 norm over all gradient tensors, for clipping (D5: max norm 1.0).
#include <math.h>

#include "cpu_math.h"
#include "ops.h"

// GN_LANES independent double partial sums, so the loop vectorises (4 SSE2 / 2 AVX registers); the lane
// loop is unrolled by pragma so that the partial sums live in registers, not in a stack array.
#define GN_LANES 8

// Sum of squares of one tensor in double: lane j takes the elements i = j mod GN_LANES, the lanes are added
// in a fixed order, then the tail: the order depends on n alone (deterministic).
static double sum_squares(const float *x, size_t n) {
    double lane[GN_LANES] = {0};
    size_t i = 0;
    for (; i + GN_LANES <= n; i += GN_LANES)
        SCOUT_UNROLL(GN_LANES)
        for (int j = 0; j < GN_LANES; j++) lane[j] += (double)x[i + j] * x[i + j];
    double s = ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
    for (; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

float global_norm_cpu(const float *const *tensors, const size_t *numels, int n_tensors, void *ws) {
    (void)ws;
    double ss = 0.0; // double: hundreds of millions of squares would swamp a float accumulator
    for (int t = 0; t < n_tensors; t++) ss += sum_squares(tensors[t], numels[t]);
    return (float)sqrt(ss);
}

// One double accumulator suffices on CPU; a GPU needs per-block partial sums.
size_t global_norm_workspace_size_cpu(int n_tensors) {
    (void)n_tensors;
    return 0;
}
