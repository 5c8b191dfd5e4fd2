// test_config.c: every shipped config loads with the values of spec/model.md §4; defaults are the
// reference classes'; each kind of bad field is refused with a message naming it; a config is written
// back byte for byte. Run from the repository root (tests/run.sh does).
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static int parse(model_config *c, const char *json, char *err, size_t n) {
    return config_parse(c, json, strlen(json), "test.json", err, n);
}

// Parses json and checks that it is refused with a message containing every NULL-terminated needle.
static void refused(const char *json, const char *needle, const char *needle2) {
    model_config c;
    char err[512];
    int rc = parse(&c, json, err, sizeof err);
    CHECK(rc == -1);
    if (rc == 0) {
        fprintf(stderr, "  accepted: %s\n", json);
        config_free(&c);
        return;
    }
    CHECK(strncmp(err, "test.json: ", 11) == 0);
    if (!strstr(err, needle) || (needle2 && !strstr(err, needle2))) {
        CHECK(!"message names the problem");
        fprintf(stderr, "  message: %s (wanted \"%s\")\n", err, needle);
    }
}

static void test_reference_configs(void) {
    model_config c;
    config_load(&c, "configs/scout_swa_470m.json");
    CHECK_EQ_INT(c.arch, ARCH_SCOUT_SWA);
    CHECK_EQ_INT(c.hidden_size, 1024);
    CHECK_EQ_INT(c.n_layers, 17);
    CHECK_EQ_INT(c.n_heads, 16);
    CHECK_EQ_INT(c.n_kv_heads, 16);
    CHECK_EQ_INT(c.head_dim, 64);
    CHECK_EQ_INT(c.intermediate_size, 2816);
    CHECK_EQ_INT(c.sliding_window, 1024);
    CHECK_EQ_INT(c.selection_window, 10);
    CHECK_EQ_INT(c.tie_embeddings, 1);
    CHECK_EQ_INT(c.vocab_size, 32000);
    CHECK_EQ_INT(c.max_position_embeddings, 131072);
    CHECK(c.rope_theta == 1e6 && c.norm_eps == 1e-6 && c.initializer_range == 0.02);
    // use_sliding_window is false in this file, yet SCOUT-SWA uses the window in every layer (§4.2).
    CHECK(config_layer_is_swa(&c, 0) && config_layer_is_swa(&c, 16));
    CHECK(config_has_checkpoint_attn(&c) && !config_has_mamba(&c));
    char s[256];
    config_summary(&c, s, sizeof s);
    CHECK_EQ_STR(s, "scout_swa H=1024 L=17 heads=16/16 I=2816 W=1024 s=10 V=32000 tied");
    config_free(&c);

    config_load(&c, "configs/scout_swa_1.57b.json");
    CHECK_EQ_INT(c.hidden_size, 2048);
    CHECK_EQ_INT(c.n_layers, 14);
    CHECK_EQ_INT(c.n_heads, 32);
    CHECK_EQ_INT(c.intermediate_size, 5632);
    CHECK_EQ_INT(c.tie_embeddings, 0);
    config_free(&c);

    config_load(&c, "configs/scout_mamba_430m.json");
    CHECK_EQ_INT(c.arch, ARCH_SCOUT_MAMBA);
    CHECK_EQ_INT(c.n_layers, 14);
    CHECK_EQ_INT(c.mamba_inner, 2048);
    CHECK_EQ_INT(c.state_size, 16);
    CHECK_EQ_INT(c.dt_rank, 128);
    CHECK_EQ_INT(c.conv_kernel, 4); // absent from the file: class default
    CHECK_EQ_INT(c.sliding_window, 0); // the file's 131072 is ignored by scout_mamba
    CHECK(!config_layer_is_swa(&c, 0));
    CHECK(c.dt_min == 0.001 && c.dt_max == 0.1 && c.dt_floor == 1e-4 && c.dt_scale == 1.0 && !c.dt_init_constant);
    CHECK(config_has_checkpoint_attn(&c) && config_has_mamba(&c));
    config_summary(&c, s, sizeof s);
    CHECK_EQ_STR(s, "scout_mamba H=1024 L=14 heads=16/16 I=2816 s=10 E=2048 N=16 r=128 k=4 V=32000 tied");
    config_free(&c);

    config_load(&c, "configs/scout_mamba_1.59b.json");
    CHECK_EQ_INT(c.mamba_inner, 4096);
    CHECK_EQ_INT(c.n_layers, 13);
    CHECK_EQ_INT(c.tie_embeddings, 0);
    config_free(&c);

    config_load(&c, "configs/qwen2_340m.json");
    CHECK_EQ_INT(c.arch, ARCH_QWEN2);
    CHECK_EQ_INT(c.n_layers, 24);
    CHECK_EQ_INT(c.qkv_bias, 1);
    CHECK_EQ_INT(c.swa_layers, SWA_LAYERS_NONE);
    CHECK(!config_layer_is_swa(&c, 0));
    config_free(&c);

    config_load(&c, "configs/qwen2_1.36b.json");
    CHECK_EQ_INT(c.max_position_embeddings, 2048);
    CHECK_EQ_INT(c.tie_embeddings, 0);
    config_free(&c);

    // alter_swa is ignored as HF ignores it: max_window_layers 0 puts the window in every layer.
    config_load(&c, "configs/qwen2_alternate_swa_366m.json");
    CHECK_EQ_INT(c.n_layers, 26);
    CHECK_EQ_INT(c.sliding_window, 2048);
    CHECK_EQ_INT(c.swa_layers, SWA_LAYERS_FROM);
    CHECK(config_layer_is_swa(&c, 0) && config_layer_is_swa(&c, 1) && config_layer_is_swa(&c, 25));
    config_free(&c);
    config_load(&c, "configs/qwen2_alternate_swa_1.42b.json");
    CHECK_EQ_INT(c.sliding_window, 1024);
    CHECK(config_layer_is_swa(&c, 24));
    config_free(&c);

    config_load(&c, "configs/mamba_546m.json");
    CHECK_EQ_INT(c.arch, ARCH_MAMBA);
    CHECK_EQ_INT(c.n_layers, 74);
    CHECK_EQ_INT(c.mamba_inner, 2048);
    CHECK_EQ_INT(c.dt_rank, 128);
    CHECK(c.norm_eps == 1e-5 && c.initializer_range == 0.1);
    CHECK_EQ_INT(c.tie_embeddings, 1);
    CHECK_EQ_INT(c.n_heads, 0);
    config_free(&c);
    config_load(&c, "configs/mamba_1.3b.json");
    CHECK_EQ_INT(c.mamba_inner, 4096);
    config_free(&c);
}

static void test_small_configs(void) {
    static const char *names[] = {"scout_swa_tiny", "scout_swa_tiny_v256", "scout_mamba_tiny", "scout_mamba_tiny_v256",
                                  "qwen2_tiny", "qwen2_tiny_v256", "qwen2_swa_tiny", "qwen2_alternate_swa_tiny",
                                  "mamba_tiny", "mamba_tiny_v256", "scout_swa_demo"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "configs/%s.json", names[i]);
        model_config c;
        config_load(&c, path);
        CHECK_EQ_INT(c.vocab_size, strstr(names[i], "v256") ? 256 : 32000);
        config_free(&c);
    }
    model_config c;
    config_load(&c, "configs/scout_swa_tiny.json");
    CHECK_EQ_INT(c.n_kv_heads, 2); // GQA in the tiny configs
    CHECK_EQ_INT(c.hidden_size, 64);
    config_free(&c);
    config_load(&c, "configs/scout_mamba_tiny.json");
    CHECK_EQ_INT(c.dt_rank, 4); // "auto" = ceil(64 / 16)
    CHECK_EQ_INT(c.conv_kernel, 4);
    CHECK_EQ_INT(c.tie_embeddings, 0);
    config_free(&c);
    config_load(&c, "configs/qwen2_alternate_swa_tiny.json");
    CHECK_EQ_INT(c.swa_layers, SWA_LAYERS_ALTERNATING);
    CHECK(config_layer_is_swa(&c, 0) && !config_layer_is_swa(&c, 1) && config_layer_is_swa(&c, 2) &&
          !config_layer_is_swa(&c, 3));
    config_free(&c);
    config_load(&c, "configs/scout_swa_demo.json");
    CHECK_EQ_INT(c.hidden_size, 256);
    CHECK_EQ_INT(c.sliding_window, 64);
    CHECK_EQ_INT(c.selection_window, 10);
    config_free(&c);
}

static void test_defaults(void) {
    model_config c;
    char err[512];
    // selection_window_size absent: the class default 50; rope_theta, eps, tie: class defaults.
    CHECK(parse(&c,
                "{\"model_type\":\"scout_swa\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":1,"
                "\"num_attention_heads\":2,\"intermediate_size\":64,\"hidden_act\":\"swish\",\"sliding_window\":8}",
                err, sizeof err) == 0);
    CHECK_EQ_INT(c.selection_window, 50);
    CHECK_EQ_INT(c.n_kv_heads, 2);
    CHECK(c.rope_theta == 10000.0 && c.norm_eps == 1e-6 && c.initializer_range == 0.02);
    CHECK_EQ_INT(c.tie_embeddings, 0);
    config_free(&c);
    // Mamba defaults: expand 2, state 16, conv 4, rank ceil(H/16) (H = 100 -> 7).
    CHECK(parse(&c,
                "{\"model_type\":\"scout_mamba\",\"vocab_size\":100,\"hidden_size\":100,\"num_hidden_layers\":1,"
                "\"num_attention_heads\":2,\"intermediate_size\":64,\"hidden_act\":\"swish\"}",
                err, sizeof err) == 0);
    CHECK_EQ_INT(c.mamba_inner, 200);
    CHECK_EQ_INT(c.state_size, 16);
    CHECK_EQ_INT(c.conv_kernel, 4);
    CHECK_EQ_INT(c.dt_rank, 7);
    config_free(&c);
    CHECK(parse(&c,
                "{\"model_type\":\"mamba\",\"vocab_size\":100,\"hidden_size\":48,\"num_hidden_layers\":1,"
                "\"expand\":1.5,\"time_step_rank\":\"auto\",\"norm_eps\":1e-6,\"time_step_init_scheme\":\"constant\"}",
                err, sizeof err) == 0);
    CHECK_EQ_INT(c.mamba_inner, 72); // int(1.5 * 48)
    CHECK_EQ_INT(c.dt_rank, 3);
    CHECK(c.norm_eps == 1e-6 && c.dt_init_constant);
    config_free(&c);
    // qwen2: HF's rule, windowed layers l >= max_window_layers (default 28).
    const char *q = "{\"model_type\":\"qwen2\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":4,"
                    "\"num_attention_heads\":2,\"intermediate_size\":64,\"use_sliding_window\":true,"
                    "\"sliding_window\":8,\"max_window_layers\":2}";
    CHECK(parse(&c, q, err, sizeof err) == 0);
    CHECK(!config_layer_is_swa(&c, 0) && !config_layer_is_swa(&c, 1) && config_layer_is_swa(&c, 2) &&
          config_layer_is_swa(&c, 3));
    config_free(&c);
    CHECK(parse(&c,
                "{\"model_type\":\"qwen2\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":4,"
                "\"num_attention_heads\":2,\"intermediate_size\":64,\"use_sliding_window\":true,\"sliding_window\":8}",
                err, sizeof err) == 0);
    CHECK_EQ_INT(c.swa_layers, SWA_LAYERS_NONE); // max_window_layers 28 >= 4 layers: no layer windowed
    CHECK_EQ_INT(c.sliding_window, 0);
    config_free(&c);
    CHECK(parse(&c,
                "{\"model_type\":\"qwen2\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":4,"
                "\"num_attention_heads\":2,\"intermediate_size\":64,\"use_sliding_window\":true,"
                "\"sliding_window\":8,\"max_window_layers\":3,\"swa_layers\":\"all\",\"alter_swa\":true}",
                err, sizeof err) == 0);
    CHECK(config_layer_is_swa(&c, 0) && config_layer_is_swa(&c, 3));
    config_free(&c);
}

#define SWA_OK "\"model_type\":\"scout_swa\",\"vocab_size\":100,\"num_hidden_layers\":1,\"intermediate_size\":64,\"sliding_window\":8"
#define MB_OK "\"model_type\":\"mamba\",\"vocab_size\":100,\"num_hidden_layers\":1"

static void test_refusals(void) {
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\",\"use_flash\":true}",
            "unknown field \"use_flash\"", NULL);
    refused("{" SWA_OK ",\"hidden_size\":30,\"num_attention_heads\":4,\"hidden_act\":\"swish\"}", "hidden_size 30",
            "num_attention_heads 4");
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":4,\"num_key_value_heads\":3,\"hidden_act\":\"swish\"}",
            "num_key_value_heads 3", NULL);
    refused("{" SWA_OK ",\"hidden_size\":36,\"num_attention_heads\":4,\"hidden_act\":\"swish\"}", "odd", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"silu\"}", "\"hidden_act\"",
            "swish");
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2}", "\"hidden_act\" is missing", NULL);
    refused("{" SWA_OK ",\"hidden_size\":-32,\"num_attention_heads\":2,\"hidden_act\":\"swish\"}", "\"hidden_size\" = -32",
            NULL);
    refused("{" SWA_OK ",\"hidden_size\":\"32\",\"num_attention_heads\":2,\"hidden_act\":\"swish\"}", "\"hidden_size\"",
            "got a string");
    refused("{" SWA_OK ",\"hidden_size\":32.0,\"num_attention_heads\":2,\"hidden_act\":\"swish\"}", "\"hidden_size\"",
            "real number");
    refused("{" SWA_OK ",\"num_attention_heads\":2,\"hidden_act\":\"swish\"}", "\"hidden_size\" is missing", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"hidden_size\":64,\"num_attention_heads\":2,\"hidden_act\":\"swish\"}",
            "duplicate", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,", "not valid JSON", NULL);
    refused("[1, 2]", "expected a JSON object", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\",\"state_size\":16}",
            "\"state_size\" does not belong", "scout_swa");
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\",\"attention_dropout\":0.1}",
            "attention_dropout", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\","
            "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2}}",
            "rope_scaling", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\",\"pad_token_id\":0}",
            "pad_token_id", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\",\"head_dim\":32}",
            "head_dim", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\",\"selection_window_size\":0}",
            "selection_window_size", NULL);
    refused("{\"model_type\":\"scout_swa\",\"vocab_size\":100,\"num_hidden_layers\":1,\"intermediate_size\":64,"
            "\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\"}",
            "\"sliding_window\" is missing", NULL);
    refused("{" SWA_OK ",\"hidden_size\":32,\"num_attention_heads\":2,\"hidden_act\":\"swish\",\"tie_word_embeddings\":1}",
            "tie_word_embeddings", "true or false");
    refused("{\"model_type\":\"llama\",\"vocab_size\":100}", "model_type \"llama\"", NULL);
    refused("{\"vocab_size\":100}", "\"model_type\" is missing", NULL);
    refused("{\"model_type\":\"qwen2\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":1,"
            "\"num_attention_heads\":2,\"intermediate_size\":64,\"hidden_act\":\"gelu\"}",
            "\"hidden_act\" = \"gelu\"", NULL);
    refused("{\"model_type\":\"qwen2\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":1,"
            "\"num_attention_heads\":2,\"intermediate_size\":64,\"swa_layers\":\"alternating\"}",
            "swa_layers", "use_sliding_window");
    refused("{\"model_type\":\"qwen2\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":1,"
            "\"num_attention_heads\":2,\"intermediate_size\":64,\"use_sliding_window\":true,\"swa_layers\":\"odd\"}",
            "swa_layers", "alternating");
    refused("{" MB_OK ",\"hidden_size\":64,\"intermediate_size\":100}", "intermediate_size", "128");
    refused("{" MB_OK ",\"hidden_size\":64,\"use_bias\":true}", "use_bias", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"use_conv_bias\":false}", "use_conv_bias", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"rescale_prenorm_residual\":true}", "rescale_prenorm_residual", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"time_step_rank\":0}", "time_step_rank", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"time_step_rank\":\"big\"}", "time_step_rank", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"time_step_min\":0.5,\"time_step_max\":0.1}", "time_step_max", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"time_step_init_scheme\":\"uniform\"}", "time_step_init_scheme", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"norm_eps\":1e-6,\"layer_norm_epsilon\":1e-5}", "disagree", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"hidden_act\":\"gelu\"}", "hidden_act", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"num_attention_heads\":4}", "\"num_attention_heads\" does not belong", NULL);
    refused("{" MB_OK ",\"hidden_size\":64,\"use_l2warp\":true}", "use_l2warp", NULL);
    refused("{\"model_type\":\"scout_mamba\",\"vocab_size\":100,\"hidden_size\":32,\"num_hidden_layers\":1,"
            "\"num_attention_heads\":2,\"intermediate_size\":64,\"hidden_act\":\"swish\",\"mamba_hidden_act\":\"gelu\"}",
            "mamba_hidden_act", NULL);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static void test_write_back(void) {
    char dir[] = "/tmp/test_config.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static const char *files[] = {"configs/scout_swa_470m.json", "configs/mamba_546m.json", "configs/qwen2_tiny.json"};
    for (int i = 0; i < 3; i++) {
        model_config c;
        config_load(&c, files[i]);
        char out[256];
        snprintf(out, sizeof out, "%s/config.json", dir);
        config_write(&c, out);
        size_t na, nb;
        char *a = slurp(files[i], &na), *b = slurp(out, &nb);
        CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
        free(a), free(b);
        unlink(out);
        config_free(&c);
    }
    rmdir(dir);
}

// config_load dies with exit 3 for a bad file and 4 for a missing one, naming the file.
static int load_exit_code(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        model_config c;
        config_load(&c, path);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_exit_codes(void) {
    char path[] = "/tmp/test_config_bad.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "{\"model_type\": \"qwen2\"}", 23) == 23);
    close(fd);
    CHECK_EQ_INT(load_exit_code(path), 3);
    unlink(path);
    CHECK_EQ_INT(load_exit_code("/nonexistent/config.json"), 4);
    CHECK_EQ_INT(load_exit_code("configs/qwen2_tiny.json"), 0);
}

int main(int argc, char **argv) {
    (void)argc;
    test_reference_configs();
    test_small_configs();
    test_defaults();
    test_refusals();
    test_write_back();
    test_exit_codes();
    return check_summary(argv[0]);
}
