// cross_entropy.c: softmax cross-entropy over the vocabulary, max-subtracted, per row.
//
// The cost is an exp per logit (V = 32000 makes it as large as the head's matmul on a small model), so the
// row passes are written for GCC's vectoriser: fast_expf_ (cpu_math.h, < 1 ulp) instead of libm, and sums
// kept in CE_LANES independent float lanes, each lane flushed into its own double every CE_BLOCK elements
// and the lanes added in a fixed order at the end. The summation order depends only on V, not on the vector
// width or the buffers' alignment, so the results are deterministic (and the same in every SIMD clone).
//
// The backward alone cannot take the forward's log-sum-exp (ops.h passes it none, and ops keep no state), so
// it recomputes the statistics itself, but with a single exp per logit: pass 1 takes the max, pass 2 writes
// e = exp(x - max) into dlogits while summing it (the same lanes as the forward, so the same sum), pass 3
// scales by dloss / sum. Each element is read before it is overwritten, so dlogits may alias logits. In
// training the model calls cross_entropy_fused_cpu (ops_cpu.h) instead, which does those three passes once
// for the loss and the gradient.
#include "cpu_math.h"
#include "ops.h"
#include "ops_cpu.h"

#define CE_LANES 16  // independent partial sums: 4 SSE / 2 AVX / 1 AVX-512 registers
#define CE_BLOCK 512 // elements per float partial (32 per lane) before it joins its double accumulator

// max over the row. Compared as integers, through the map from float bits to an int32 of the same order
// (negative floats have their magnitude bits flipped): an integer max is a reduction GCC vectorises, a float
// one is not (without -ffinite-math-only), and a max is exact in any order. A NaN logit would come out as the
// max (or below -inf); the loss is NaN anyway, through the sum.
static inline int32_t order_key_(int32_t b) {
    return b ^ (int32_t)((uint32_t)(b >> 31) >> 1); // b ^ 0x7fffffff when the sign is set; its own inverse
}

static float row_max(const float *row, int V) {
    int32_t k = INT32_MIN;
    for (int v = 0; v < V; v++) {
        int32_t kv = order_key_((int32_t)f32_bits_(row[v]));
        k = kv > k ? kv : k;
    }
    return f32_from_bits_((uint32_t)order_key_(k));
}

// sum_v exp(row[v] - m) in double; with out != NULL also out[v] = exp(row[v] - m) (out may be row).
// Inlined into each caller, so the `out` test folds away.
static inline __attribute__((always_inline)) double row_sum_exp(const float *row, float *out, float m, int V) {
    double total[CE_LANES] = {0};
    int v = 0;
    while (v + CE_LANES <= V) {
        const int end = V - v > CE_BLOCK ? v + CE_BLOCK : V;
        float acc[CE_LANES] = {0};
        for (; v + CE_LANES <= end; v += CE_LANES) {
            float e[CE_LANES];
            for (int j = 0; j < CE_LANES; j++) e[j] = fast_expf_(row[v + j] - m);
            for (int j = 0; j < CE_LANES; j++) acc[j] += e[j];
            if (out)
                for (int j = 0; j < CE_LANES; j++) out[v + j] = e[j];
        }
        for (int j = 0; j < CE_LANES; j++) total[j] += acc[j];
    }
    double s = 0.0;
    for (; v < V; v++) { // the last V % CE_LANES elements
        float e = fast_expf_(row[v] - m);
        if (out) out[v] = e;
        s += e;
    }
    for (int j = 0; j < CE_LANES; j++) s += total[j];
    return s;
}

// The loss from the row's statistics: lse - x_t = (m - x_t) + log(s), in double (m - x_t is exact there).
static inline float row_loss(float m, float x_t, double s) { return (float)((double)m - (double)x_t + log(s)); }

// drow = e * (dloss / s) - dloss onehot(t): e = exp(x - m) as row_sum_exp wrote it.
static inline void row_grad_finish(float *drow, double s, float dloss, int32_t t, int V) {
    const float scale = (float)(dloss / s);
    for (int v = 0; v < V; v++) drow[v] *= scale;
    drow[t] -= dloss;
}

SCOUT_SIMD_CLONES
void cross_entropy_forward_cpu(float *losses, const float *logits, const int32_t *targets, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *row = logits + (size_t)n * V;
        float m = row_max(row, V);
        double s = row_sum_exp(row, NULL, m, V);
        losses[n] = row_loss(m, row[targets[n]], s);
    }
}

SCOUT_SIMD_CLONES
void cross_entropy_backward_cpu(float *dlogits, const float *logits, const int32_t *targets, float dloss, int N,
                                int V) {
    for (int n = 0; n < N; n++) {
        const float *row = logits + (size_t)n * V;
        float *drow = dlogits + (size_t)n * V;
        float m = row_max(row, V); // the whole row is read before drow (maybe the same memory) changes
        double s = row_sum_exp(row, drow, m, V);
        row_grad_finish(drow, s, dloss, targets[n], V);
    }
}

// Both at once (the table's cross_entropy_fused, which the model's head uses in training): the max and the
// sum are taken once and serve the loss and the gradient, so a row costs one exp per logit instead of two.
// The same helpers in the same order as the two ops above: the same bits.
SCOUT_SIMD_CLONES
void cross_entropy_fused_cpu(float *losses, float *dlogits, const float *logits, const int32_t *targets,
                             float dloss, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *row = logits + (size_t)n * V;
        float *drow = dlogits + (size_t)n * V;
        const float x_t = row[targets[n]]; // read before drow (maybe the same memory) changes
        float m = row_max(row, V);
        double s = row_sum_exp(row, drow, m, V);
        losses[n] = row_loss(m, x_t, s);
        row_grad_finish(drow, s, dloss, targets[n], V);
    }
}
