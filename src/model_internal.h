// model_internal.h: what the model_*.c files share: parameter accessors and the residual branches'
// forward/backward. Not for use outside the model.
//
// Every branch follows one contract. Forward: reads its input x = RMSNorm(res) [N, H] and writes
// out = res + its output [N, H] (its last product adds the residual: linear_residual_forward), keeping in
// its acts what its backward needs. Backward: given dout [N, H] (the
// gradient at the residual stream after the branch), WRITES dx [N, H] (d loss / d x) and ADDS to the
// parameter gradients; it may use the layer gradient buffers m->gacts as scratch, except dx's and dout's.
#ifndef SCOUT_MODEL_INTERNAL_H
#define SCOUT_MODEL_INTERNAL_H

#include "log.h"
#include "model.h"

// The forward copy of a tensor (activation dtype), or NULL when the architecture has none.
static inline const void *model_w(const model *m, int layer, int role) {
    const param_tensor *t = params_get(&m->pt, layer, role);
    return t ? (const char *)m->weights + t->offset * m->be->act_size : NULL;
}
// The forward copy of a stacked group (params.h): the n tensors from first_role on, which lie back to back
// in every buffer of the parameter layout, read as one matrix. Checked, since a product through it would
// otherwise read the wrong weights without a sound.
static inline const void *model_stacked_w(const model *m, int layer, int first_role, int n) {
    const param_tensor *t = params_get(&m->pt, layer, first_role);
    if (!t) return NULL;
    for (int i = 1; i < n; i++) {
        const param_tensor *u = params_get(&m->pt, layer, first_role + i),
                           *prev = params_get(&m->pt, layer, first_role + i - 1);
        if (!u || u->offset != prev->offset + prev->numel)
            die(SCOUT_EXIT_FAIL, "internal: layer %d roles %d..%d are not stacked in the parameter layout", layer,
                first_role, first_role + n - 1);
    }
    return (const char *)m->weights + t->offset * m->be->act_size;
}
// The fp32 master of a tensor: Mamba's A_log, D and dt_proj.bias are read from it by every backend (D3).
static inline const float *model_w32(const model *m, int layer, int role) {
    const param_tensor *t = params_get(&m->pt, layer, role);
    return t ? m->master + t->offset : NULL;
}
// The fp32 gradient accumulator of a tensor, or NULL.
static inline float *model_g(const model *m, int layer, int role) {
    const param_tensor *t = params_get(&m->pt, layer, role);
    return t ? m->grads + t->offset : NULL;
}

// Keys of the local attention of layer l at length T: W for a windowed layer, T (plain causal) otherwise.
int model_attention_window(const model *m, int layer, int T);

// Attention branches: the local one (first_role PR_MIX_Q: SWA or full, qwen2 biases when present) and the
// checkpoint attention (first_role PR_CK_Q). kind is BRANCH_ATTENTION or BRANCH_CHECKPOINT.
void attention_branch_forward(model *m, int layer, int kind, int first_role, attn_acts *a, const void *x,
                              const void *res, void *out, int B, int T);
void attention_branch_backward(model *m, int layer, int kind, int first_role, const attn_acts *a, const void *x,
                               const void *dout, void *dx, int B, int T);

// SwiGLU MLP; first_role PR_MLP1_GATE or PR_MLP2_GATE (gate, up, down follow it in the role enum).
void mlp_branch_forward(model *m, int layer, int first_role, mlp_acts *a, const void *x, const void *res, void *out,
                        int N);
void mlp_branch_backward(model *m, int layer, int first_role, const mlp_acts *a, const void *x, const void *dout,
                         void *dx, int N);

// Mamba-1 mixer (§7.2).
void mamba_branch_forward(model *m, int layer, mamba_acts *a, const void *x, const void *res, void *out, int B,
                          int T);
void mamba_branch_backward(model *m, int layer, const mamba_acts *a, const void *x, const void *dout, void *dx,
                           int B, int T);

// Carves the activation and activation-gradient tensors out of their allocations (model_acts.c). With
// base NULL only the sizes are computed; returns the bytes needed.
size_t model_carve_acts(model *m, char *base);
size_t model_carve_grad_acts(model *m, char *base);
// The largest workspace any op of this model needs at its capacity.
size_t model_workspace_bytes(const model *m);

#endif
