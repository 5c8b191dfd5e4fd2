// model.h: the four architectures of the toolkit (spec/model.md), forward and backward, driven through the
// op table of one backend (kernels/ops.h), in the shape of llm.c's train_gpt2.c.
//
//   scout_swa    x -> +SWA(norm) -> +MLP(norm) -> +CheckpointAttn(norm) -> +MLP(norm)    per layer (§6)
//   scout_mamba  x -> +Mamba(norm) -> +MLP(norm) -> +CheckpointAttn(norm) -> +MLP(norm)  per layer (§7)
//   qwen2        x -> +Attn(norm) (QKV bias; full, all-SWA or alternating) -> +MLP(norm)  per layer
//   mamba (fla)  x -> +Mamba(norm)                                                       per layer
//   then the final RMSNorm, the head (tied to the embedding or not) and the mean cross-entropy over B*T.
//
// Memory, all of it backend memory allocated through the table:
// - parameters: one flat fp32 buffer each for the master weights, the gradient accumulators and the AdamW
//   moments m and v, laid out by params.h (param_table); `weights` is what the forward reads, in the
//   backend's activation dtype: the master buffer itself when that dtype is fp32 (CPU), a copy refreshed
//   by every AdamW step otherwise (CUDA: bf16). Mamba's A_log, D and dt_proj.bias are read from the fp32
//   master on every backend (D3).
// - activations: ONE allocation carved into named tensors per layer (model_acts below; llm.c's
//   ActivationTensors), sized for a capacity of B*T rows fixed at model_build, so any batch of at most
//   that many rows runs without allocating. By default everything the backward needs is kept, for every
//   layer. With MODEL_RECOMPUTE (full-layer recompute, as llm.c's and Megatron's) each layer keeps only its
//   input residual res[0]; every other per-layer tensor of every layer points into ONE shared set, and the
//   backward reruns a layer's forward (which reads only res[0] and the weights) to refill that set just
//   before the layer's backward: about one more forward pass of compute for activations of one layer
//   instead of L. The ops are deterministic, so losses and gradients are bit-identical either way.
// - activation gradients: one layer's worth (model_grad_acts), reused by every layer on the way down.
// - the head runs in chunks of `head_rows` rows: the logits of one chunk exist at a time, and in training
//   the chunk's dlogits are formed in place right after its loss (llm.c's fused classifier), so full
//   [B*T, V] logits are never stored.
//
// Determinism: every op is deterministic for given shapes and thread count, and the model adds no
// reduction of its own outside the ops, so the same inputs give bit-identical losses and gradients.
#ifndef SCOUT_MODEL_H
#define SCOUT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ops.h"
#include "params.h"

#define MODEL_MAX_BRANCHES 4 // residual branches per layer (scout: mixer, MLP, checkpoint attention, MLP)

// What a residual branch computes.
enum branch_kind {
    BRANCH_ATTENTION,  // windowed or full causal attention (SWA mixer, qwen2 attention)
    BRANCH_MAMBA,      // Mamba-1 mixer
    BRANCH_MLP,        // SwiGLU MLP
    BRANCH_CHECKPOINT, // checkpoint attention (self + checkpoints)
};

// Shapes below: N = rows (B*T), QD = n_h*d, KD = n_kv*d, I = intermediate size, E = Mamba inner width,
// R = dt rank, S = state size.

typedef struct attn_acts {
    void *q;    // [N, QD + 2 KD] the stacked q/k/v projection, RoPE applied to q, k: q = columns [0, QD)
    void *k;    // q + QD: k's columns [QD, QD + KD) of the same rows (row stride QD + 2 KD), RoPE applied
    void *v;    // q + QD + KD: v's columns
    void *out;  // [N, QD] attention output, input of o_proj
    float *lse; // [B, n_h, T] fp32 log-sum-exp of each query row
} attn_acts;

typedef struct mlp_acts {
    void *gate; // [N, 2I] the stacked gate_proj / up_proj output: gate = columns [0, I)
    void *up;   // gate + I: up_proj's columns [I, 2I) of the same rows (row stride 2I)
    void *h;    // [N, I] silu(gate) * up, input of down_proj
} mlp_acts;

typedef struct mamba_acts {
    void *xz;     // [N, 2E] in_proj output: x = columns [0, E), the gate z = [E, 2E)
    void *conv;   // [N, E] conv1d output before SiLU (silu_backward needs it)
    void *u;      // [N, E] SiLU(conv): the scan's input and x_proj's input
    void *xdbl;   // [N, R+2S] x_proj output: [dt (R) | B (S) | C (S)]
    void *dt_in;  // [N, R] contiguous copy of xdbl[:, :R], dt_proj's input
    void *dt_raw; // [N, E] dt_proj output without its bias (the scan adds it)
    void *y;      // [N, E] gated scan output, input of out_proj
} mamba_acts;

typedef struct layer_acts {
    void *res[MODEL_MAX_BRANCHES];    // [N, H] residual stream entering branch b
    void *norm[MODEL_MAX_BRANCHES];   // [N, H] RMSNorm of res[b]: branch b's input
    float *rstd[MODEL_MAX_BRANCHES];  // [N] fp32 RMSNorm statistics
    attn_acts mix;                    // branch 0 when it is attention (scout_swa, qwen2)
    mamba_acts mamba;                 // branch 0 when it is Mamba (scout_mamba, mamba)
    mlp_acts mlp1;                    // branch 1 (scout, qwen2)
    attn_acts ckpt;                   // branch 2 (scout)
    mlp_acts mlp2;                    // branch 3 (scout)
} layer_acts;

typedef struct model_acts {
    layer_acts *layer;  // [L]; with recompute every layer's tensors but res[0] are layer 0's
    void *final_res;    // [N, H] the last layer's output
    void *final_norm;   // [N, H] final RMSNorm output, input of the head
    float *final_rstd;  // [N] fp32
    void *logits;       // [head_rows, V] one chunk of logits; dlogits in place in training
    float *losses;      // [N] fp32 per-position cross-entropy
    int32_t *inputs;    // [N] token ids (backend copy)
    int32_t *targets;   // [N]
} model_acts;

// Gradients of one layer's activations; written by each branch's backward and reused by the next one down.
typedef struct model_grad_acts {
    void *dres;   // [N, H] d loss / d residual stream at the current point of the backward
    void *dnorm;  // [N, H] d loss / d a branch's input (its norm output)
    void *dq;     // [N, QD + 2 KD] rows [dq | dk | dv], as attn_acts.q
    void *dk;     // dq + QD (row stride QD + 2 KD)
    void *dv;     // dq + QD + KD
    void *datt;   // [N, QD] d attention output
    void *dgate;  // [N, 2I] rows [dgate | dup], as mlp_acts.gate
    void *dup;    // dgate + I (row stride 2I)
    void *dh;     // [N, I]
    void *dxz;    // [N, 2E]
    void *dconv;  // [N, E]
    void *du;     // [N, E] from the scan, then x_proj's dx added
    void *dxdbl;  // [N, R+2S]
    void *ddt_in; // [N, R]
    void *ddt;    // [N, E] d dt_raw
    void *dy;     // [N, E]
} model_grad_acts;

typedef struct model {
    const scout_backend *be;
    model_config cfg;        // sizes (source/json_text not owned)
    param_table pt;
    int n_branches;          // per layer
    int kinds[MODEL_MAX_BRANCHES]; // enum branch_kind of each branch

    float *master;           // [pt.n_floats] fp32 master weights
    void *weights;           // [pt.n_floats] forward copy (== master when act_size is 4)
    float *grads;            // [pt.n_floats] fp32 gradient accumulators
    float *adam_m, *adam_v;  // [pt.n_floats] fp32 AdamW moments

    int recompute;           // MODEL_RECOMPUTE: layers share one activation set, refilled in the backward
    int max_B, max_T;        // activation capacity: batches of at most max_B sequences of max_T tokens
    int max_rows;            // max_B * max_T
    int head_rows;           // rows per head chunk
    model_acts acts;
    void *act_mem;           // the one activation allocation
    size_t act_bytes;        // its size (smaller with recompute)
    model_grad_acts gacts;
    void *gact_mem;
    size_t gact_bytes;
    void *ws;                // op workspace, the largest any op needs
    size_t ws_bytes;

    float *host_losses;      // [max_rows] host copy of the per-position losses
    int32_t *host_tokens;    // [max_rows] staging for uploads
    adamw_tensor *host_adamw; // [pt.n] the AdamW step's tensor list (offsets, decay, seeds)
} model;

// model_build flags.
enum model_flag {
    MODEL_RECOMPUTE = 1 << 0, // keep each layer's input only; recompute the rest of its activations in the backward
};

// Builds the model for cfg on backend be with activation capacity max_B x max_T, parameters zero (call
// model_init_params or model_load_* next). flags: 0 or MODEL_RECOMPUTE. Dies (SCOUT_EXIT_FAIL) when memory
// runs out.
void model_build(model *m, const model_config *cfg, const scout_backend *be, int max_B, int max_T, unsigned flags);
void model_free(model *m);
// Bytes of backend memory the model holds: parameters, gradients, moments, forward weights, activations,
// activation gradients and the op workspace (everything model_build allocates; the head's fp32 logits
// staging of model_forward on a non-fp32 backend comes and goes).
size_t model_memory_bytes(const model *m);

// Parameters from the D4 init with seed, or from host fp32 buffers laid out by m->pt.
void model_init_params(model *m, uint64_t seed);
void model_set_params(model *m, const float *host_params);
void model_get_params(const model *m, float *host_params);
// Copies the master weights into the forward copy: after every change of master outside AdamW.
void model_sync_weights(model *m);
// Re-rounds the forward copy from the master exactly as AdamW step `step` left it (CUDA: the stochastic
// rounding with that step's seeds): after loading the master of a checkpoint written after step `step`, so
// that the resumed run reads the weights the uninterrupted one read. No-op where the forward reads the master
// (CPU) or for step < 1 (a fresh init is rounded to nearest by model_sync_weights).
void model_round_weights(model *m, int step);

// Forward over inputs [B, T] (host ids, each < V). With targets [B, T] (host) returns the mean
// cross-entropy over the B*T positions (else 0). logits_out: NULL, or a host buffer [B*T, V] that
// receives the logits. B <= max_B, T <= max_T.
float model_forward(model *m, const int32_t *inputs, const int32_t *targets, int B, int T, float *logits_out);

// Forward and backward on one micro-batch: adds to the gradient accumulators d(loss * loss_scale)/d theta,
// where loss is the mean over B*T positions (loss_scale = 1/accumulation steps, §11.2). Returns the loss.
float model_forward_backward(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                             float loss_scale);

void model_zero_grad(model *m);
// Global L2 norm of the gradient accumulators.
float model_grad_norm(model *m);

typedef struct adamw_config {
    float beta1, beta2, eps;
    float weight_decay;   // decoupled, applied to every tensor...
    int no_decay_1d;      // ...except 1-D ones when set (D5 option)
    float clip;           // global-norm clip; <= 0 disables
} adamw_config;

// One optimizer step (AdamW step number `step`, 1-based) at learning rate lr with global-norm clipping;
// refreshes the forward weights. Returns the gradient norm before clipping.
float model_update(model *m, const adamw_config *oc, float lr, int step);

// Host copies of the optimizer state (buffers of m->pt.n_floats floats), for checkpoints.
void model_get_moments(const model *m, float *host_m, float *host_v);
void model_set_moments(model *m, const float *host_m, const float *host_v);

#endif
