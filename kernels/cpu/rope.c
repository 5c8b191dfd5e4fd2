// rope.c: rotary position embedding, rotate-half (NeoX) convention (spec §6.5), in place.
#include <math.h>

#include "ops.h"

// Rotates every head of every token by the angles (pos0 + t) * inv_freq[j]; sign = +1 forward, -1 backward
// (a rotation's transpose is the rotation by the negative angle). The frequencies are computed once per call
// and the cos / sin of one position once for all its heads; the rotation itself is a contiguous loop over j
// that vectorises. Every value is computed as before, element by element, so the results are unchanged.
static void rope_rotate(float *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta, float sign) {
    const int half = d / 2;
    float inv_freq[half > 0 ? half : 1], c[half > 0 ? half : 1], s[half > 0 ? half : 1];
    // fp32 exactly as Hugging Face forms it: inv_freq = 1 / theta^(2j/d), angle = pos * inv_freq.
    for (int j = 0; j < half; j++) inv_freq[j] = 1.0f / powf(theta, (float)(2 * j) / (float)d);
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < half; j++) {
            float angle = (float)(pos0 + t) * inv_freq[j];
            c[j] = cosf(angle);
            s[j] = sign * sinf(angle);
        }
        for (int b = 0; b < B; b++) {
            float *row = x + ((size_t)b * T + t) * x_stride;
            for (int h = 0; h < n_heads; h++) {
                float *x1 = row + (size_t)h * d, *x2 = x1 + half;
                for (int j = 0; j < half; j++) {
                    float a = x1[j], e = x2[j];
                    x1[j] = a * c[j] - e * s[j];
                    x2[j] = e * c[j] + a * s[j];
                }
            }
        }
    }
}

void rope_forward_cpu(float *x, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_rotate(x, x_stride, B, T, n_heads, d, pos0, theta, 1.0f);
}

void rope_backward_cpu(float *dx, int x_stride, int B, int T, int n_heads, int d, int pos0, float theta) {
    rope_rotate(dx, x_stride, B, T, n_heads, d, pos0, theta, -1.0f);
}
