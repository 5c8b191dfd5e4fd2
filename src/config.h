// config.h: model configs in Hugging Face config.json form (DESIGN.md, configs/; spec/model.md §4).
//
// One parser for the four architectures the toolkit trains, selected by `model_type`:
//
//   model_type    class in the reference            layer
//   "scout_swa"   ScoutSWAConfig                    SWA mixer, MLP, checkpoint attention, MLP
//   "scout_mamba" ScoutMambaConfig                  Mamba-1 mixer, MLP, checkpoint attention, MLP
//   "qwen2"       transformers Qwen2Config          attention (QKV bias; full or sliding window), MLP
//   "mamba"       fla MambaConfig (MambaForCausalLM) Mamba-1 mixer only
//
// Every key of the JSON object must be known: either used (parsed and checked), or on the list of keys the
// reference code itself ignores or that only steer Python-side machinery (torch_dtype, use_cache,
// transformers_version, fla's fuse_* kernel switches, ...). Anything else is refused with the file, the
// field and what is expected (exit 3), because a silently ignored field is a model we would train wrong.
//
// Defaults for absent optional fields are the reference classes' (selection_window_size 50, conv_kernel 4,
// expand 2, state_size 16, time_step_rank "auto" = ceil(H/16), rope_theta 10000, rms_norm_eps 1e-6,
// tie_word_embeddings false, ...). Deliberate exceptions, all stricter: the size fields (vocab_size,
// hidden_size, num_hidden_layers, num_attention_heads, intermediate_size) must be present, because the
// classes' defaults (151936, 4096, 32, ...) describe some other model; an absent or null
// num_key_value_heads means num_attention_heads (the class default 32 only fits 32-head models).
//
// Sliding window in qwen2 (spec §4.4). HF Qwen2 applies the window to layers l >= max_window_layers when
// use_sliding_window is true (max_window_layers 0: every layer; absent: 28). The reference's
// `alter_swa: true` has no code anywhere and HF ignores it, so the reference "alternate SWA" baselines ran
// with SWA in every layer; we do the same and keep `alter_swa` on the ignored list. Alternating layers
// are selected by a key of ours, `"swa_layers": "alternating"` (even layers 0, 2, ... windowed, odd layers
// full attention, as Gemma 2 alternates), or `"swa_layers": "all"`; HF ignores that key too. The window
// itself follows decision D1 for every architecture: W keys i-W < j <= i.
//
// The original bytes are kept, so config_write() reproduces the input file exactly (a checkpoint's
// config.json equals the config it was trained from).
#ifndef SCOUT_CONFIG_H
#define SCOUT_CONFIG_H

#include <stddef.h>

enum model_arch { ARCH_SCOUT_SWA = 0, ARCH_SCOUT_MAMBA = 1, ARCH_QWEN2 = 2, ARCH_MAMBA = 3, ARCH_COUNT = 4 };

// Which attention layers use a sliding window (qwen2; scout_swa's mixer always does).
enum swa_layers {
    SWA_LAYERS_NONE = 0,        // full causal attention everywhere
    SWA_LAYERS_FROM = 1,        // layers l >= swa_first_layer (HF's max_window_layers rule; 0 = all)
    SWA_LAYERS_ALTERNATING = 2, // even layers windowed, odd layers full
};

typedef struct model_config {
    int arch;                 // enum model_arch
    // Sizes (spec/model.md §2 notation).
    int vocab_size;           // V
    int hidden_size;          // H
    int n_layers;             // L
    int n_heads;              // n_h (0 for mamba)
    int n_kv_heads;           // n_kv; query head h reads KV head h / (n_h / n_kv)
    int head_dim;             // d = H / n_h
    int intermediate_size;    // I of each SwiGLU MLP (0 for mamba)
    double norm_eps;          // RMSNorm eps: rms_norm_eps, or norm_eps / layer_norm_epsilon for mamba
    double rope_theta;
    double initializer_range; // std of the N(0, std) init of Linear weights and the embedding
    int tie_embeddings;       // lm_head shares model.embed_tokens.weight
    int max_position_embeddings; // not used by the model (default RoPE); 0 when absent
    int qkv_bias;             // q/k/v projections carry a bias (qwen2)
    // Attention structure.
    int sliding_window;       // W (scout_swa mixer; qwen2 windowed layers); 0 when no layer is windowed
    int swa_layers;           // enum swa_layers (scout_swa: SWA_LAYERS_FROM with first layer 0)
    int swa_first_layer;      // for SWA_LAYERS_FROM
    int selection_window;     // s, checkpoint spacing (scout archs; 0 otherwise)
    // Mamba-1 mixer (scout_mamba, mamba; 0 otherwise).
    int mamba_inner;          // E = int(expand * H)
    int state_size;           // N
    int conv_kernel;          // k
    int dt_rank;              // r
    double dt_scale, dt_min, dt_max, dt_floor; // time_step_{scale,min,max,floor} (init only, §8.2)
    int dt_init_constant;     // time_step_init_scheme "constant" (1) or "random" (0)
    int residual_in_fp32;     // mamba: residual stream kept fp32 (a numerics hint; CPU is fp32 anyway)
    // Provenance.
    char *source;             // the path (or name) it was parsed from, for messages
    char *json_text;          // the exact bytes of the file
    size_t json_len;
} model_config;

// Parses a config.json held in memory. Returns 0, or -1 with "<source>: <what is wrong>" in err. On
// success c owns copies of source and text (config_free releases them).
int config_parse(model_config *c, const char *text, size_t len, const char *source, char *err, size_t err_size);
// Reads and parses a file; dies with SCOUT_EXIT_IO when it cannot be read, SCOUT_EXIT_DATA when invalid.
void config_load(model_config *c, const char *path);
void config_free(model_config *c);
// Writes the original bytes atomically (atomic.h) to path; dies with SCOUT_EXIT_IO on failure.
void config_write(const model_config *c, const char *path);

const char *config_arch_name(int arch); // the model_type string
// 1 when the local attention of layer l is windowed (scout_swa: always; qwen2: per swa_layers).
int config_layer_is_swa(const model_config *c, int layer);
int config_has_checkpoint_attn(const model_config *c); // scout_swa, scout_mamba
int config_has_mamba(const model_config *c);           // scout_mamba, mamba
// One line for logs: "scout_swa H=1024 L=17 heads=16/16 I=2816 W=1024 s=10 V=32000 tied".
void config_summary(const model_config *c, char *buf, size_t n);

#endif
