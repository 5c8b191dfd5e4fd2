// elementwise.c: small helpers the model needs between ops: the residual add and strided row copies.
#include <string.h>

#include "ops.h"

void add_cpu(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void copy_rows_cpu(float *dst, int dst_stride, const float *src, int src_stride, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * dst_stride, src + (size_t)r * src_stride, (size_t)cols * sizeof(float));
}
