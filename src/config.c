// config.c: see config.h.
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "xio.h"

#define A_SWA (1 << ARCH_SCOUT_SWA)
#define A_SMB (1 << ARCH_SCOUT_MAMBA)
#define A_QW (1 << ARCH_QWEN2)
#define A_MB (1 << ARCH_MAMBA)
#define A_ALL (A_SWA | A_SMB | A_QW | A_MB)
#define A_TF (A_SWA | A_SMB | A_QW) // architectures with attention and SwiGLU MLPs

// Every key a config may hold, and for which architectures it is parsed (used) or skipped (ignored).
// A key outside both masks of the config's architecture is refused.
static const struct known_field {
    const char *name;
    int used;    // parsed and checked by config_parse
    int ignored; // skipped, with the reason
} FIELDS[] = {
    {"model_type", A_ALL, 0},
    {"vocab_size", A_ALL, 0},
    {"hidden_size", A_ALL, 0},
    {"num_hidden_layers", A_ALL, 0},
    {"num_attention_heads", A_TF, 0},
    {"num_key_value_heads", A_TF, 0},
    {"head_dim", A_TF, 0},                 // newer HF configs spell d out; must equal H / n_h
    {"intermediate_size", A_ALL, 0},       // mamba: must equal int(expand * H), which fla recomputes
    {"hidden_act", A_ALL, 0},
    {"rms_norm_eps", A_TF, 0},
    {"norm_eps", A_MB, 0},                 // fla's name
    {"layer_norm_epsilon", A_MB, 0},       // transformers' MambaConfig name, carried by the fla configs
    {"rope_theta", A_TF, 0},
    {"rope_scaling", A_TF, 0},             // only null: scaled RoPE variants are not implemented
    {"initializer_range", A_ALL, 0},
    {"tie_word_embeddings", A_ALL, 0},
    {"attention_dropout", A_TF, 0},        // only 0: no dropout anywhere
    {"max_position_embeddings", A_ALL, 0}, // stored; no effect with default RoPE
    {"pad_token_id", A_TF, A_MB},          // transformers: an embedding padding row, refused unless null;
                                           // fla's Mamba embedding has no padding row
    {"selection_window_size", A_SWA | A_SMB, 0},
    {"sliding_window", A_SWA | A_QW, A_SMB}, // scout_mamba configs carry 131072, unused by its code
    {"use_sliding_window", A_QW, A_SWA | A_SMB}, // the SCOUT code never reads it (470m sets false, uses SWA)
    {"max_window_layers", A_QW, A_SWA | A_SMB},
    {"swa_layers", A_QW, 0},               // ours: "all" or "alternating" (config.h)
    {"alter_swa", 0, A_QW},                // no code in the reference; HF ignores it (config.h)
    {"state_size", A_SMB | A_MB, 0},
    {"expand", A_SMB | A_MB, 0},
    {"conv_kernel", A_SMB | A_MB, 0},
    {"time_step_rank", A_SMB | A_MB, 0},
    {"time_step_scale", A_SMB | A_MB, 0},
    {"time_step_min", A_SMB | A_MB, 0},
    {"time_step_max", A_SMB | A_MB, 0},
    {"time_step_floor", A_SMB | A_MB, 0},
    {"time_step_init_scheme", A_SMB | A_MB, 0},
    {"use_bias", A_SMB | A_MB, 0},         // only false: in_proj/out_proj without bias
    {"use_conv_bias", A_SMB | A_MB, 0},    // only true
    {"mamba_hidden_act", A_SMB, 0},        // only "silu"
    {"residual_in_fp32", A_SMB | A_MB, 0},
    {"rescale_prenorm_residual", A_SMB | A_MB, 0}, // only false: no 1/sqrt(L) init rescale
    {"fuse_linear_cross_entropy", A_MB, 0}, // only false (fla's fused head changes precision)
    {"use_l2warp", A_MB, 0},               // only false (fla's l2 warp changes the loss)
    {"fuse_norm", 0, A_MB},                // fla kernel fusion switches: same math
    {"fuse_cross_entropy", 0, A_MB},
    {"fuse_swiglu", 0, A_MB},
    // Python-side bookkeeping of transformers, never part of the math.
    {"architectures", 0, A_ALL},
    {"auto_map", 0, A_ALL},
    {"_name_or_path", 0, A_ALL},
    {"_attn_implementation", 0, A_ALL},
    {"torch_dtype", 0, A_ALL},
    {"dtype", 0, A_ALL},
    {"transformers_version", 0, A_ALL},
    {"use_cache", 0, A_ALL},
    {"bos_token_id", 0, A_ALL},
    {"eos_token_id", 0, A_ALL},
};

static const char *ARCH_NAMES[ARCH_COUNT] = {"scout_swa", "scout_mamba", "qwen2", "mamba"};

const char *config_arch_name(int arch) { return arch >= 0 && arch < ARCH_COUNT ? ARCH_NAMES[arch] : "?"; }

// Parse state: the first error wins and every later getter becomes a no-op.
typedef struct parser {
    const char *src;
    json_t *root;
    char *err;
    size_t err_size;
    int failed;
} parser;

__attribute__((format(printf, 2, 3))) static int fail(parser *p, const char *fmt, ...) {
    if (p->failed) return -1;
    p->failed = 1;
    int n = snprintf(p->err, p->err_size, "%s: ", p->src);
    if (n < 0 || (size_t)n >= p->err_size) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

// Integer field in [lo, hi]. Absent (or null when null_ok): *out = def, or an error when required.
static void get_int(parser *p, const char *key, int *out, int required, int def, long long lo, long long hi) {
    json_t *v = json_object_get(p->root, key);
    if (!v || json_is_null(v)) {
        if (required) fail(p, "field \"%s\" is missing (expected an integer in [%lld, %lld])", key, lo, hi);
        *out = def;
        return;
    }
    if (!json_is_integer(v)) {
        fail(p, "field \"%s\": expected an integer in [%lld, %lld], got %s", key, lo, hi, json_kind(v));
        return;
    }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        fail(p, "field \"%s\" = %lld: expected an integer in [%lld, %lld]", key, x, lo, hi);
        return;
    }
    *out = (int)x;
}

// Number field (integer or real) with lo < x (strict when lo_open) and x <= hi.
static void get_num(parser *p, const char *key, double *out, double def, double lo, int lo_open, double hi) {
    json_t *v = json_object_get(p->root, key);
    if (!v) {
        *out = def;
        return;
    }
    if (!json_is_number(v)) {
        fail(p, "field \"%s\": expected a number, got %s", key, json_kind(v));
        return;
    }
    double x = json_number_value(v);
    if (!isfinite(x) || (lo_open ? x <= lo : x < lo) || x > hi) {
        fail(p, "field \"%s\" = %g: expected a number in %s%g, %g]", key, x, lo_open ? "(" : "[", lo, hi);
        return;
    }
    *out = x;
}

static void get_bool(parser *p, const char *key, int *out, int def) {
    json_t *v = json_object_get(p->root, key);
    if (!v) {
        *out = def;
        return;
    }
    if (!json_is_boolean(v)) {
        fail(p, "field \"%s\": expected true or false, got %s", key, json_kind(v));
        return;
    }
    *out = json_is_true(v);
}

// A boolean that must have one value: the other one selects a variant we do not implement.
static void require_bool(parser *p, const char *key, int want, const char *why) {
    int got = want;
    get_bool(p, key, &got, want);
    if (!p->failed && got != want)
        fail(p, "field \"%s\" = %s is not supported (%s); set it to %s or remove it", key, got ? "true" : "false",
             why, want ? "true" : "false");
}

// String field; returns the value (owned by the JSON tree) or def when absent.
static const char *get_str(parser *p, const char *key, const char *def) {
    json_t *v = json_object_get(p->root, key);
    if (!v) return def;
    if (!json_is_string(v)) {
        fail(p, "field \"%s\": expected a string, got %s", key, json_kind(v));
        return def;
    }
    return json_string_value(v);
}

// String field that must be one of the listed values (NULL-terminated); absent means def.
static void require_str(parser *p, const char *key, const char *def, const char *const *allowed, const char *why) {
    const char *s = get_str(p, key, def);
    if (p->failed) return;
    if (!s) {
        fail(p, "field \"%s\" is missing (%s)", key, why);
        return;
    }
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(s, *a) == 0) return;
    fail(p, "field \"%s\" = \"%s\" is not supported (%s)", key, s, why);
}

static void require_null(parser *p, const char *key, const char *why) {
    json_t *v = json_object_get(p->root, key);
    if (v && !json_is_null(v)) fail(p, "field \"%s\" must be null or absent (%s), got %s", key, why, json_kind(v));
}

// Refuses keys that the architecture neither uses nor knows to be safe to ignore.
static void check_keys(parser *p, int arch) {
    const char *key;
    json_t *v;
    int bit = 1 << arch;
    json_object_foreach(p->root, key, v) {
        (void)v;
        const struct known_field *f = NULL;
        for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
            if (strcmp(FIELDS[i].name, key) == 0) f = &FIELDS[i];
        if (!f) {
            fail(p, "unknown field \"%s\" for model_type \"%s\": the toolkit does not know what it changes, so it "
                    "refuses to guess (remove it if it has no effect on the model)",
                 key, ARCH_NAMES[arch]);
            return;
        }
        if (!((f->used | f->ignored) & bit)) {
            fail(p, "field \"%s\" does not belong to a \"%s\" config (is model_type right?)", key, ARCH_NAMES[arch]);
            return;
        }
    }
}

// Sizes shared by the attention architectures.
static void parse_transformer(parser *p, model_config *c) {
    const long long MAXDIM = 1 << 20; // keeps every product of two sizes far from overflow
    get_int(p, "hidden_size", &c->hidden_size, 1, 0, 1, MAXDIM);
    get_int(p, "num_hidden_layers", &c->n_layers, 1, 0, 1, 4096);
    get_int(p, "num_attention_heads", &c->n_heads, 1, 0, 1, 4096);
    get_int(p, "num_key_value_heads", &c->n_kv_heads, 0, c->n_heads, 1, 4096);
    get_int(p, "intermediate_size", &c->intermediate_size, 1, 0, 1, MAXDIM);
    get_num(p, "rms_norm_eps", &c->norm_eps, 1e-6, 0, 1, 1);
    get_num(p, "rope_theta", &c->rope_theta, 10000.0, 0, 1, 1e300);
    get_int(p, "max_position_embeddings", &c->max_position_embeddings, 0, 0, 1, 1LL << 30);
    double dropout = 0;
    get_num(p, "attention_dropout", &dropout, 0, 0, 0, 1);
    if (!p->failed && dropout != 0)
        fail(p, "field \"attention_dropout\" = %g is not supported (no dropout is implemented); set 0.0", dropout);
    require_null(p, "rope_scaling", "only the default RoPE is implemented");
    require_null(p, "pad_token_id", "a padding row in the embedding is not implemented; the reference configs set none");
    if (p->failed) return;
    if (c->hidden_size % c->n_heads)
        fail(p, "hidden_size %d is not a multiple of num_attention_heads %d", c->hidden_size, c->n_heads);
    else if (c->n_heads % c->n_kv_heads)
        fail(p, "num_attention_heads %d is not a multiple of num_key_value_heads %d (GQA groups must be equal)",
             c->n_heads, c->n_kv_heads);
    else if ((c->hidden_size / c->n_heads) % 2)
        fail(p, "head dimension %d (hidden_size / num_attention_heads) is odd; rotate-half RoPE needs it even",
             c->hidden_size / c->n_heads);
    if (p->failed) return;
    c->head_dim = c->hidden_size / c->n_heads;
    int hd = c->head_dim;
    get_int(p, "head_dim", &hd, 0, c->head_dim, 1, MAXDIM);
    if (!p->failed && hd != c->head_dim)
        fail(p, "field \"head_dim\" = %d: only head_dim = hidden_size / num_attention_heads = %d is supported", hd,
             c->head_dim);
}

// The Mamba-1 mixer fields (scout_mamba and mamba). Defaults are those of both reference classes.
static void parse_mamba(parser *p, model_config *c) {
    double expand = 2;
    get_num(p, "expand", &expand, 2.0, 0, 1, 64);
    get_int(p, "state_size", &c->state_size, 0, 16, 1, 4096);
    get_int(p, "conv_kernel", &c->conv_kernel, 0, 4, 1, 64);
    get_num(p, "time_step_scale", &c->dt_scale, 1.0, 0, 0, 1e6);
    get_num(p, "time_step_min", &c->dt_min, 0.001, 0, 1, 1e6);
    get_num(p, "time_step_max", &c->dt_max, 0.1, 0, 1, 1e6);
    get_num(p, "time_step_floor", &c->dt_floor, 1e-4, 0, 0, 1e6);
    get_bool(p, "residual_in_fp32", &c->residual_in_fp32, 0);
    require_bool(p, "use_bias", 0, "in_proj/out_proj biases are not implemented");
    require_bool(p, "use_conv_bias", 1, "the conv1d bias is always present");
    require_bool(p, "rescale_prenorm_residual", 0, "the 1/sqrt(L) out_proj init rescale is not implemented");
    static const char *const schemes[] = {"random", "constant", NULL};
    require_str(p, "time_step_init_scheme", "random", schemes, "expected \"random\" or \"constant\"");
    if (p->failed) return;
    c->dt_init_constant = strcmp(get_str(p, "time_step_init_scheme", "random"), "constant") == 0;
    if (c->dt_max < c->dt_min) {
        fail(p, "time_step_max %g is below time_step_min %g", c->dt_max, c->dt_min);
        return;
    }
    // Python's int(expand * hidden_size), as both reference classes compute it.
    double e = expand * (double)c->hidden_size;
    if (e < 1 || e > (double)(1 << 22)) {
        fail(p, "expand %g x hidden_size %d gives no usable Mamba inner width", expand, c->hidden_size);
        return;
    }
    c->mamba_inner = (int)e;
    // time_step_rank: an integer, or "auto" = ceil(H / 16).
    json_t *r = json_object_get(p->root, "time_step_rank");
    if (!r || (json_is_string(r) && strcmp(json_string_value(r), "auto") == 0))
        c->dt_rank = (c->hidden_size + 15) / 16;
    else if (json_is_integer(r) && json_integer_value(r) >= 1 && json_integer_value(r) <= (1 << 20))
        c->dt_rank = (int)json_integer_value(r);
    else
        fail(p, "field \"time_step_rank\": expected a positive integer or \"auto\", got %s", json_kind(r));
}

static void parse_scout_swa(parser *p, model_config *c) {
    parse_transformer(p, c);
    get_int(p, "selection_window_size", &c->selection_window, 0, 50, 1, 1 << 30);
    // Unlike qwen2, W has no usable default here: the SCOUT-SWA mixer is the window.
    get_int(p, "sliding_window", &c->sliding_window, 1, 0, 1, 1 << 30);
    c->swa_layers = SWA_LAYERS_FROM;
    c->swa_first_layer = 0;
}

static void parse_scout_mamba(parser *p, model_config *c) {
    parse_transformer(p, c);
    get_int(p, "selection_window_size", &c->selection_window, 0, 50, 1, 1 << 30);
    static const char *const silu[] = {"silu", NULL};
    require_str(p, "mamba_hidden_act", "silu", silu, "the Mamba gate and conv activation is SiLU");
    parse_mamba(p, c);
}

static void parse_qwen2(parser *p, model_config *c) {
    parse_transformer(p, c);
    c->qkv_bias = 1;
    int use_swa = 0;
    get_bool(p, "use_sliding_window", &use_swa, 0);
    const char *pattern = get_str(p, "swa_layers", NULL);
    if (p->failed) return;
    if (!use_swa) {
        if (pattern)
            fail(p, "field \"swa_layers\" is set but use_sliding_window is false; set use_sliding_window to true");
        c->swa_layers = SWA_LAYERS_NONE;
        return;
    }
    // HF: sliding_window null disables the window even when use_sliding_window is true.
    json_t *w = json_object_get(p->root, "sliding_window");
    if (w && json_is_null(w)) {
        c->swa_layers = SWA_LAYERS_NONE;
        return;
    }
    get_int(p, "sliding_window", &c->sliding_window, 0, 4096, 1, 1 << 30);
    get_int(p, "max_window_layers", &c->swa_first_layer, 0, 28, 0, 1 << 30);
    if (p->failed) return;
    if (!pattern) {
        c->swa_layers = SWA_LAYERS_FROM;
    } else if (strcmp(pattern, "all") == 0) {
        c->swa_layers = SWA_LAYERS_FROM;
        c->swa_first_layer = 0;
    } else if (strcmp(pattern, "alternating") == 0) {
        c->swa_layers = SWA_LAYERS_ALTERNATING;
    } else {
        fail(p, "field \"swa_layers\" = \"%s\": expected \"all\" or \"alternating\"", pattern);
        return;
    }
    // HF's rule can leave every layer unwindowed (max_window_layers >= L): then no layer uses W.
    if (c->swa_layers == SWA_LAYERS_FROM && c->swa_first_layer >= c->n_layers) {
        c->swa_layers = SWA_LAYERS_NONE;
        c->sliding_window = 0;
    }
}

static void parse_fla_mamba(parser *p, model_config *c) {
    get_int(p, "hidden_size", &c->hidden_size, 1, 0, 1, 1 << 20);
    get_int(p, "num_hidden_layers", &c->n_layers, 1, 0, 1, 4096);
    get_int(p, "max_position_embeddings", &c->max_position_embeddings, 0, 0, 1, 1LL << 30);
    // fla reads norm_eps; the fla-hub configs were written by transformers' MambaConfig, which calls it
    // layer_norm_epsilon (and fla then ignores it: both are 1e-5 in every config we know).
    double eps_fla = 1e-5, eps_hf = 1e-5;
    get_num(p, "norm_eps", &eps_fla, 1e-5, 0, 1, 1);
    get_num(p, "layer_norm_epsilon", &eps_hf, 1e-5, 0, 1, 1);
    if (p->failed) return;
    int has_fla = json_object_get(p->root, "norm_eps") != NULL;
    int has_hf = json_object_get(p->root, "layer_norm_epsilon") != NULL;
    if (has_fla && has_hf && eps_fla != eps_hf) {
        fail(p, "norm_eps %g and layer_norm_epsilon %g disagree; keep one", eps_fla, eps_hf);
        return;
    }
    c->norm_eps = has_fla ? eps_fla : eps_hf;
    static const char *const silu[] = {"silu", NULL};
    require_str(p, "hidden_act", "silu", silu, "the Mamba activation is SiLU");
    require_bool(p, "fuse_linear_cross_entropy", 0, "fla's fused linear cross-entropy is not implemented");
    require_bool(p, "use_l2warp", 0, "fla's l2 warp changes the loss and is not implemented");
    parse_mamba(p, c);
    if (p->failed) return;
    // fla overwrites intermediate_size with int(expand * H); a different value means a wrong config.
    int inter = c->mamba_inner;
    get_int(p, "intermediate_size", &inter, 0, c->mamba_inner, 1, 1 << 22);
    if (!p->failed && inter != c->mamba_inner)
        fail(p, "field \"intermediate_size\" = %d disagrees with expand x hidden_size = %d (fla uses the latter)",
             inter, c->mamba_inner);
}

int config_parse(model_config *c, const char *text, size_t len, const char *source, char *err, size_t err_size) {
    memset(c, 0, sizeof *c);
    parser p = {.src = source ? source : "config", .err = err, .err_size = err_size};
    if (err_size) err[0] = 0;
    json_error_t je;
    // Duplicate keys are refused: which one HF would take is an accident of its parser.
    p.root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!p.root) {
        fail(&p, "not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return -1;
    }
    if (!json_is_object(p.root)) {
        fail(&p, "expected a JSON object, got %s", json_kind(p.root));
        json_decref(p.root);
        return -1;
    }
    const char *mt = get_str(&p, "model_type", NULL);
    if (!p.failed && !mt) fail(&p, "field \"model_type\" is missing (expected scout_swa, scout_mamba, qwen2 or mamba)");
    if (p.failed) {
        json_decref(p.root);
        return -1;
    }
    c->arch = -1;
    for (int a = 0; a < ARCH_COUNT; a++)
        if (strcmp(mt, ARCH_NAMES[a]) == 0) c->arch = a;
    if (c->arch < 0) {
        fail(&p, "model_type \"%s\" is not supported (expected scout_swa, scout_mamba, qwen2 or mamba)", mt);
        json_decref(p.root);
        return -1;
    }
    check_keys(&p, c->arch);
    get_int(&p, "vocab_size", &c->vocab_size, 1, 0, 1, 1 << 24);
    get_num(&p, "initializer_range", &c->initializer_range, 0.02, 0, 0, 10);
    get_bool(&p, "tie_word_embeddings", &c->tie_embeddings, 0);
    if (c->arch == ARCH_SCOUT_SWA || c->arch == ARCH_SCOUT_MAMBA) {
        // fla's GatedMLP (fuse_swiglu) accepts only "swish"; the class default "silu" would not build.
        static const char *const swish[] = {"swish", NULL};
        require_str(&p, "hidden_act", NULL, swish, "the SCOUT MLPs are fla GatedMLP, which requires \"swish\"");
    } else if (c->arch == ARCH_QWEN2) {
        static const char *const silu[] = {"swish", "silu", NULL};
        require_str(&p, "hidden_act", "silu", silu, "the Qwen2 MLP is SwiGLU: \"silu\" or \"swish\"");
    }
    switch (c->arch) {
    case ARCH_SCOUT_SWA: parse_scout_swa(&p, c); break;
    case ARCH_SCOUT_MAMBA: parse_scout_mamba(&p, c); break;
    case ARCH_QWEN2: parse_qwen2(&p, c); break;
    case ARCH_MAMBA: parse_fla_mamba(&p, c); break;
    }
    json_decref(p.root);
    if (p.failed) {
        memset(c, 0, sizeof *c);
        return -1;
    }
    c->source = xstrdup(p.src);
    c->json_text = xmalloc(len + 1);
    memcpy(c->json_text, text, len);
    c->json_text[len] = 0;
    c->json_len = len;
    return 0;
}

void config_load(model_config *c, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(SCOUT_EXIT_IO, "%s: cannot open model config: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) die(SCOUT_EXIT_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size > (16 << 20))
        die(SCOUT_EXIT_DATA, "%s: not a config.json (not a regular file of at most 16 MiB)", path);
    size_t n = (size_t)st.st_size, got = 0;
    char *text = xmalloc(n + 1);
    while (got < n) {
        ssize_t r = read(fd, text + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die(SCOUT_EXIT_IO, "%s: read failed at byte %zu: %s", path, got, r < 0 ? strerror(errno) : "EOF");
        got += (size_t)r;
    }
    close(fd);
    char err[512];
    if (config_parse(c, text, n, path, err, sizeof err) != 0) die(SCOUT_EXIT_DATA, "%s", err);
    free(text);
}

void config_free(model_config *c) {
    free(c->source);
    free(c->json_text);
    memset(c, 0, sizeof *c);
}

void config_write(const model_config *c, const char *path) {
    atomic_out *out = atomic_open(path);
    atomic_write(out, c->json_text, c->json_len);
    atomic_commit(out);
}

int config_layer_is_swa(const model_config *c, int layer) {
    switch (c->swa_layers) {
    case SWA_LAYERS_FROM: return layer >= c->swa_first_layer;
    case SWA_LAYERS_ALTERNATING: return layer % 2 == 0;
    default: return 0;
    }
}

int config_has_checkpoint_attn(const model_config *c) {
    return c->arch == ARCH_SCOUT_SWA || c->arch == ARCH_SCOUT_MAMBA;
}

int config_has_mamba(const model_config *c) { return c->arch == ARCH_SCOUT_MAMBA || c->arch == ARCH_MAMBA; }

void config_summary(const model_config *c, char *buf, size_t n) {
    int k = snprintf(buf, n, "%s H=%d L=%d", config_arch_name(c->arch), c->hidden_size, c->n_layers);
    if (c->arch != ARCH_MAMBA && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " heads=%d/%d I=%d", c->n_heads, c->n_kv_heads, c->intermediate_size);
    if (c->swa_layers != SWA_LAYERS_NONE && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " W=%d%s", c->sliding_window,
                      c->arch != ARCH_QWEN2                  ? ""
                      : c->swa_layers == SWA_LAYERS_ALTERNATING ? "(even layers)"
                      : c->swa_first_layer == 0              ? "(all layers)"
                                                             : "(upper layers)");
    if (config_has_checkpoint_attn(c) && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " s=%d", c->selection_window);
    if (config_has_mamba(c) && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " E=%d N=%d r=%d k=%d", c->mamba_inner, c->state_size, c->dt_rank,
                      c->conv_kernel);
    if (k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, " V=%d %s", c->vocab_size, c->tie_embeddings ? "tied" : "untied");
}
