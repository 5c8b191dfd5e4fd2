// embedding.c: token embedding lookup and its backward (scatter-add into the embedding gradient).
#include <string.h>

#include "ops.h"

void embedding_forward_cpu(float *out, const int32_t *tokens, const float *emb, int N, int C) {
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, emb + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
}

void embedding_backward_cpu(float *demb, const float *dout, const int32_t *tokens, void *ws, int N, int C) {
    (void)ws;
    for (int n = 0; n < N; n++) {
        float *drow = demb + (size_t)tokens[n] * C;
        const float *g = dout + (size_t)n * C;
        for (int c = 0; c < C; c++) drow[c] += g[c];
    }
}

// Rows are added in token order by one thread, so the CPU needs no scratch (a GPU buckets rows by token).
size_t embedding_backward_workspace_size_cpu(int N, int C) {
    (void)N, (void)C;
    return 0;
}
