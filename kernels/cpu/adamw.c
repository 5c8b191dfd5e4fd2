// adamw.c: one AdamW step (D5) on fp32 master weights, PyTorch's torch.optim.AdamW semantics.
#include <math.h>

#include "ops.h"

void adamw_step_cpu(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                    float beta2, float eps, float weight_decay, float grad_scale, int step) {
    // Bias corrections once per call, in double: 1 - beta^step is tiny early on and loses digits in float.
    const float bc1 = (float)(1.0 - pow(beta1, step));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, step));
    const float step_size = lr / bc1;
    const float decay = 1.0f - lr * weight_decay;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        // Decoupled decay first (param *= 1 - lr wd), then the Adam step, as PyTorch orders them.
        param[i] = param[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}
