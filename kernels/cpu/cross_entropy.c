// cross_entropy.c: softmax cross-entropy over the vocabulary, max-subtracted, per row.
#include <math.h>

#include "ops.h"

// log sum_v exp(row[v]), with the max taken out first so no exp overflows; the sum in double since V is
// tens of thousands.
static float row_logsumexp(const float *row, int V) {
    float m = row[0];
    for (int v = 1; v < V; v++) m = row[v] > m ? row[v] : m;
    double s = 0.0;
    for (int v = 0; v < V; v++) s += exp((double)row[v] - m);
    return m + (float)log(s);
}

void cross_entropy_forward_cpu(float *losses, const float *logits, const int32_t *targets, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *row = logits + (size_t)n * V;
        losses[n] = row_logsumexp(row, V) - row[targets[n]];
    }
}

void cross_entropy_backward_cpu(float *dlogits, const float *logits, const int32_t *targets, float dloss, int N,
                                int V) {
    for (int n = 0; n < N; n++) {
        const float *row = logits + (size_t)n * V;
        float *drow = dlogits + (size_t)n * V;
        float lse = row_logsumexp(row, V); // read the whole row before drow (maybe the same memory) changes
        for (int v = 0; v < V; v++) drow[v] = expf(row[v] - lse) * dloss;
        drow[targets[n]] -= dloss;
    }
}
