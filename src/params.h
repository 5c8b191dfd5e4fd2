// params.h: the parameter table of every architecture: each tensor's Hugging Face name, shape, place in
// one flat fp32 buffer (llm.c style: one allocation carved into named tensors), role in the layer, and
// initialisation rule (spec/model.md §5, §8, D4). Also the model FLOPs per token for MFU (§10.1).
//
// Names are exactly the reference implementations':
//   scout_swa / scout_mamba  model.embed_tokens.weight, model.layers.N.{input_layernorm, swa_attn.q_proj |
//                            mamba.in_proj ..., post_swa_layernorm | post_mamba_layernorm, mlp.*,
//                            pre_attention_layernorm, self_attn.*, post_attention_layernorm, sec_mlp.*},
//                            model.norm.weight, lm_head.weight (untied only)
//   qwen2                    model.layers.N.{input_layernorm, self_attn.{q,k,v}_proj.{weight,bias},
//                            self_attn.o_proj.weight, post_attention_layernorm, mlp.*} (transformers Qwen2)
//   mamba (fla)              backbone.embeddings.weight, backbone.layers.N.norm.weight,
//                            backbone.layers.N.mixer.{in_proj.weight, conv1d.weight, conv1d.bias,
//                            x_proj.weight, dt_proj.weight, dt_proj.bias, A_log, D, out_proj.weight},
//                            backbone.norm_f.weight, lm_head.weight (untied only)
// A tied model has no lm_head tensor: params_get(pt, -1, PR_LM_HEAD) returns the embedding, so the model
// code reads the head weight, and accumulates its gradient, through the embedding's storage.
//
// Layout: tensors in table order (execution order), each starting on a PARAM_ALIGN-float boundary
// (64 bytes, for vector loads on every backend); padding floats are zero and stay zero under AdamW
// (zero weight, zero gradient). Gradients and AdamW moments use the same layout. Exception, the stacked
// groups: the k_proj and v_proj weights follow q_proj's directly (qwen2's k / v biases likewise follow
// q_proj.bias, after o_proj), and up_proj follows gate_proj, so each group is one [sum of out, in] matrix
// (one bias vector) that a single product reads (model_stacked); `packed` marks those later members.
//
// Init (D4, §8) is a pure function of (seed, tensor name, element index) through the counter-based
// generator of rng.h, so it is reproducible across runs, thread counts and platforms, and one tensor's
// values do not depend on which other tensors exist (tied vs untied, layer count).
#ifndef SCOUT_PARAMS_H
#define SCOUT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "safetensors.h"

#define PARAM_NAME_MAX 96
#define PARAM_ALIGN 16 // floats

// What a tensor is, by its place in the layer (spec §3 block order), independent of the architecture.
enum param_role {
    // top level (layer -1)
    PR_EMBED, PR_FINAL_NORM, PR_LM_HEAD,
    // per layer: 1. local mixer
    PR_NORM1,                                      // input_layernorm (scout, qwen2) / norm (mamba)
    PR_MIX_Q, PR_MIX_K, PR_MIX_V, PR_MIX_O,        // swa_attn.* (scout_swa) / self_attn.* (qwen2)
    PR_MIX_Q_BIAS, PR_MIX_K_BIAS, PR_MIX_V_BIAS,   // qwen2
    PR_MAMBA_IN, PR_MAMBA_CONV_W, PR_MAMBA_CONV_B, PR_MAMBA_X, PR_MAMBA_DT_W, PR_MAMBA_DT_B,
    PR_MAMBA_A_LOG, PR_MAMBA_D, PR_MAMBA_OUT,      // mamba.* (scout_mamba) / mixer.* (mamba)
    // 2. first MLP
    PR_NORM2,                                      // post_swa_layernorm / post_mamba_layernorm / qwen2's post_attention_layernorm
    PR_MLP1_GATE, PR_MLP1_UP, PR_MLP1_DOWN,        // mlp.*
    // 3. checkpoint attention (scout)
    PR_NORM3,                                      // pre_attention_layernorm
    PR_CK_Q, PR_CK_K, PR_CK_V, PR_CK_O,            // self_attn.*
    // 4. second MLP (scout)
    PR_NORM4,                                      // post_attention_layernorm
    PR_MLP2_GATE, PR_MLP2_UP, PR_MLP2_DOWN,        // sec_mlp.*
    PR_COUNT
};

enum param_init {
    INIT_NORMAL,   // N(0, a): Linear weights, embedding (a = initializer_range)
    INIT_ONES,     // RMSNorm weights, Mamba D
    INIT_ZEROS,    // Linear biases (qwen2 q/k/v)
    INIT_UNIFORM,  // U(-a, a): dt_proj.weight (a = r^-1/2 * time_step_scale), conv1d (a = 1/sqrt(k))
    INIT_CONSTANT, // a: dt_proj.weight with time_step_init_scheme "constant"
    INIT_DT_BIAS,  // softplus^-1(dt), dt log-uniform in [time_step_min, time_step_max], floored
    INIT_A_LOG,    // A_log[e, n] = ln(n + 1)
};

typedef struct param_tensor {
    char name[PARAM_NAME_MAX]; // Hugging Face name
    int ndim;
    int64_t shape[3];          // PyTorch shape: Linear weights [out_features, in_features]
    size_t numel;
    size_t offset;             // in floats from the start of the flat buffer
    int layer;                 // -1 for top-level tensors
    int role;                  // enum param_role
    int init;                  // enum param_init
    double init_a;             // std, bound or value of the init rule
    int matmul;                // a weight of a matrix product: counted in P_mm (§10.1)
    int is_1d;                 // 1-D tensor: excluded from weight decay by the optional no-decay-1d rule (D5)
    int packed;                // follows the previous tensor with no padding (a stacked group's later member)
} param_tensor;

typedef struct param_table {
    model_config cfg;          // a copy of the sizes (source and json_text not owned: NULL)
    param_tensor *t;           // [n] in layout order
    int n;
    int *index;                // [(n_layers + 1) * PR_COUNT]: tensor index, or -1 (row 0 = top level)
    size_t n_params;           // sum of numel: the model's parameter count
    size_t n_floats;           // flat buffer length, alignment padding included
    size_t n_matmul;           // P_mm: parameters used in matrix products (head counted when tied)
} param_table;

void params_build(param_table *pt, const model_config *c);
void params_free(param_table *pt);

// Tensor of a role in a layer (layer -1: top level), or NULL when the architecture has none.
const param_tensor *params_get(const param_table *pt, int layer, int role);
// Its storage in a flat buffer (parameters, gradients or moments), or NULL.
float *params_ptr(const param_table *pt, float *buf, int layer, int role);
const param_tensor *params_find(const param_table *pt, const char *name);

// A zeroed flat buffer of pt->n_floats, 64-byte aligned (free with free()).
float *params_alloc(const param_table *pt);
// Initialises every tensor (D4) from seed; padding is zeroed. Runs on all cores.
void params_init(const param_table *pt, float *buf, uint64_t seed);

// Writes buf's tensors to a safetensors file under "<prefix><name>" (prefix "" for model.safetensors),
// atomically, as dtype (ST_F32 or ST_BF16). Tied models store no lm_head.weight, as HF save_pretrained.
// meta NULL writes {"format": "pt"}, the metadata transformers requires to load the file.
void params_save(const param_table *pt, const float *buf, const char *path, const char *prefix, int dtype,
                 const char *const *meta);
// Reads every tensor "<prefix><name>" of the table from f into buf (any of F32/BF16/F16). Dies with
// SCOUT_EXIT_DATA naming the file and tensor when one is missing, has another shape, or when f holds a
// "<prefix>..." tensor the table does not know (a checkpoint of another architecture or size). A tied
// model accepts an lm_head.weight too and ignores it (warning when it differs from the embedding).
void params_load(const param_table *pt, float *buf, const st_file *f, const char *prefix);

// Model FLOPs per token for sequence length T (spec §10.1): forward = 2 * P_mm + core(T), where core is
// the per-token attention work averaged over positions 0..T-1 (SWA: min(i+1, W) keys, checkpoint
// attention: floor(i/s) + 1 keys, full causal: i + 1 keys; 4 * n_h * d FLOPs per key). Training = 3 x forward.
double params_forward_flops_per_token(const param_table *pt, int T);
double params_train_flops_per_token(const param_table *pt, int T);

#endif
