// rope.c: rotary position embedding, rotate-half (NeoX) convention (spec §6.5), in place.
#include <math.h>

#include "ops.h"

// Rotates every head of every token by the angles (pos0 + t) * inv_freq[j]; sign = +1 forward, -1 backward
// (a rotation's transpose is the rotation by the negative angle).
static void rope_rotate(float *x, int B, int T, int n_heads, int d, int pos0, float theta, float sign) {
    int half = d / 2;
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < half; j++) {
            // fp32 exactly as Hugging Face forms it: inv_freq = 1 / theta^(2j/d), angle = pos * inv_freq.
            float inv_freq = 1.0f / powf(theta, (float)(2 * j) / (float)d);
            float angle = (float)(pos0 + t) * inv_freq;
            float c = cosf(angle), s = sign * sinf(angle);
            for (int b = 0; b < B; b++) {
                float *row = x + ((size_t)b * T + t) * n_heads * d;
                for (int h = 0; h < n_heads; h++) {
                    float *xh = row + (size_t)h * d;
                    float x1 = xh[j], x2 = xh[j + half];
                    xh[j] = x1 * c - x2 * s;
                    xh[j + half] = x2 * c + x1 * s;
                }
            }
        }
    }
}

void rope_forward_cpu(float *x, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_rotate(x, B, T, n_heads, d, pos0, theta, 1.0f);
}

void rope_backward_cpu(float *dx, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_rotate(dx, B, T, n_heads, d, pos0, theta, -1.0f);
}
