// global_norm.c: the global L2 norm over all gradient tensors, for clipping (D5: max norm 1.0).
#include <math.h>

#include "ops.h"

float global_norm_cpu(const float *const *tensors, const size_t *numels, int n_tensors, void *ws) {
    (void)ws;
    double ss = 0.0; // double: hundreds of millions of squares would swamp a float accumulator
    for (int t = 0; t < n_tensors; t++)
        for (size_t i = 0; i < numels[t]; i++) ss += (double)tensors[t][i] * tensors[t][i];
    return (float)sqrt(ss);
}

// One double accumulator suffices on CPU; a GPU needs per-block partial sums.
size_t global_norm_workspace_size_cpu(int n_tensors) {
    (void)n_tensors;
    return 0;
}
