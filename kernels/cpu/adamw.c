// adamw.c: one AdamW step (D5) on fp32 master weights, PyTorch's torch.optim.AdamW semantics.
//
// The element loop is written in blocks of ADAMW_BLOCK so that it vectorises: GCC will not vectorise a
// sqrtf() call under the default -fmath-errno (it keeps the errno path for negative arguments, which v never
// is), so the block's square roots are taken with SSE's sqrtps where there is SSE (x86-64 always has it) and
// with sqrtf elsewhere. Both are the correctly rounded square root, so every element gets the bits of the
// plain scalar loop.
#include <math.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "ops.h"

#define ADAMW_BLOCK 16

static inline void sqrt_block_(float *x) { // x[ADAMW_BLOCK] = sqrt(x), in place
#if defined(__SSE__)
    for (int j = 0; j < ADAMW_BLOCK; j += 4) _mm_storeu_ps(x + j, _mm_sqrt_ps(_mm_loadu_ps(x + j)));
#else
    for (int j = 0; j < ADAMW_BLOCK; j++) x[j] = sqrtf(x[j]);
#endif
}

void adamw_step_cpu(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                    float beta2, float eps, float weight_decay, float grad_scale, int step) {
    // Bias corrections once per call, in double: 1 - beta^step is tiny early on and loses digits in float.
    const float bc1 = (float)(1.0 - pow(beta1, step));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, step));
    const float step_size = lr / bc1;
    const float decay = 1.0f - lr * weight_decay;
    size_t i = 0;
    for (; i + ADAMW_BLOCK <= n; i += ADAMW_BLOCK) {
        float mi[ADAMW_BLOCK], vi[ADAMW_BLOCK], root[ADAMW_BLOCK];
        for (int j = 0; j < ADAMW_BLOCK; j++) {
            float g = grad[i + j] * grad_scale;
            mi[j] = beta1 * m[i + j] + (1.0f - beta1) * g;
            vi[j] = beta2 * v[i + j] + (1.0f - beta2) * g * g;
            root[j] = vi[j];
        }
        sqrt_block_(root);
        for (int j = 0; j < ADAMW_BLOCK; j++) {
            m[i + j] = mi[j];
            v[i + j] = vi[j];
            // Decoupled decay first (param *= 1 - lr wd), then the Adam step, as PyTorch orders them.
            param[i + j] = param[i + j] * decay - step_size * mi[j] / (root[j] / bc2_sqrt + eps);
        }
    }
    for (; i < n; i++) { // the same arithmetic, one element at a time
        float g = grad[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}
