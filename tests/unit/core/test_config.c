/*
 * Unit tests for src/config: parsing, defaults, validation with file:line
 * positions, and name resolution (models, aliases, routes). The
 * integration test 008-config runs the same kind of cases through
 * `hermod check-config`; these pin the parsed values themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "core/config.h"
#include "lib/buf.h"

static struct config *load(const char *text)
{
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    int rc = config_load_string("t.yaml", text, strlen(text), &cfg, &err);
    if (rc)
        fail_msg("config did not load: %s", buf_cstr(&err));
    buf_release(&err);
    return cfg;
}

/* Loading fails, and the message starts with (or contains) want. */
static void load_fails(const char *text, const char *want)
{
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    int rc = config_load_string("t.yaml", text, strlen(text), &cfg, &err);
    if (!rc)
        fail_msg("config loaded but should fail with '%s'", want);
    assert_null(cfg);
    if (!strstr(buf_cstr(&err), want))
        fail_msg("error '%s' lacks '%s'", buf_cstr(&err), want);
    buf_release(&err);
}

/* The example of issue 2, whose keys outside checks rely on. */
static void test_contract_keys(void **state)
{
    struct config *cfg = load("listen: 127.0.0.1:8411\n"
                              "models:\n"
                              "  - name: nemotron-3-nano\n"
                              "    aliases: [nemotron, fast]\n"
                              "    ttl: 600\n"
                              "    engines:\n"
                              "      - kind: nim\n"
                              "        url: http://127.0.0.1:8000\n"
                              "        model: nvidia/nemotron-3-nano\n"
                              "      - kind: llama-server\n"
                              "        cmd: [llama-server, --port, \"${PORT}\", -m, /m/n.gguf]\n"
                              "        ready: /health\n"
                              "        start_timeout: 120\n");
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8411);
    assert_int_equal(cfg->nmodels, 1);
    const struct config_model *m = &cfg->models[0];
    assert_string_equal(m->name, "nemotron-3-nano");
    assert_string_equal(m->aliases[0], "nemotron");
    assert_string_equal(m->aliases[1], "fast");
    assert_null(m->aliases[2]);
    assert_int_equal(m->ttl_ms, 600000);
    assert_int_equal(m->nengines, 2);
    assert_int_equal(m->engines[0].kind, ENGINE_KIND_NIM);
    assert_string_equal(m->engines[0].url, "http://127.0.0.1:8000");
    assert_string_equal(m->engines[0].model, "nvidia/nemotron-3-nano");
    assert_null(m->engines[0].cmd); /* unmanaged */
    assert_int_equal(m->engines[1].kind, ENGINE_KIND_LLAMA_SERVER);
    assert_string_equal(m->engines[1].cmd[0], "llama-server");
    assert_string_equal(m->engines[1].cmd[2], "${PORT}"); /* filled in per start */
    assert_null(m->engines[1].cmd[5]);
    assert_string_equal(m->engines[1].ready, "/health");
    assert_int_equal(m->engines[1].start_timeout_ms, 120000);
    config_free(cfg);
}

static void test_defaults(void **state)
{
    struct config *cfg = load("models:\n"
                              "  - name: a\n"
                              "    engines:\n"
                              "      - kind: ollama\n"
                              "        url: http://127.0.0.1:11434\n");
    assert_string_equal(cfg->listen_host, "127.0.0.1"); /* loopback by default */
    assert_int_equal(cfg->listen_port, 8400);
    assert_int_equal(cfg->max_body, 64ull << 20);
    assert_int_equal(cfg->budget, 0); /* auto */
    assert_true(cfg->serialize_loads);
    assert_false(cfg->swap_fifo);
    assert_null(cfg->store_path);
    assert_null(cfg->pipeline.vision); /* picked by the pipeline */
    assert_int_equal(cfg->pipeline.max_side, 1024);
    assert_string_equal(cfg->models[0].engines[0].ready, "/api/version");
    assert_int_equal(cfg->models[0].gpu, -1);
    assert_int_equal(cfg->models[0].image_side, 0);
    config_free(cfg);
}

static void test_sizes_and_durations(void **state)
{
    struct config *cfg = load("budget: 120GiB\n"
                              "reserved: {whisper: 8.75GB, db: 512MiB}\n"
                              "swap_policy: fifo\n"
                              "swap_quantum: 1500ms\n"
                              "models:\n"
                              "  - name: a\n"
                              "    memory: 20GB\n"
                              "    image_side: 768\n"
                              "    engines:\n"
                              "      - url: http://x\n");
    assert_int_equal(cfg->budget, 120ull << 30);
    assert_int_equal(cfg->nreserved, 2);
    assert_string_equal(cfg->reserved[0].name, "whisper");
    assert_int_equal(cfg->reserved[0].bytes, 8750000000ull);
    assert_int_equal(cfg->reserved[1].bytes, 512ull << 20);
    assert_true(cfg->swap_fifo);
    assert_int_equal(cfg->swap_quantum_ms, 1500);
    assert_int_equal(cfg->models[0].memory, 20000000000ull);
    assert_int_equal(cfg->models[0].image_side, 768);
    config_free(cfg);
}

static void test_name_resolution(void **state)
{
    struct config *cfg = load("models:\n"
                              "  - name: qwen\n"
                              "    aliases: [kannada, big]\n"
                              "    engines:\n"
                              "      - url: http://q\n"
                              "  - name: nemo\n"
                              "    engines:\n"
                              "      - url: http://n\n"
                              "routes:\n"
                              "  - name: auto\n"
                              "    aliases: [default]\n"
                              "    rules:\n"
                              "      - when: {language: kannada}\n"
                              "        models: [qwen]\n"
                              "      - models: [nemo]\n");
    assert_ptr_equal(config_find_model(cfg, "qwen"), &cfg->models[0]);
    assert_ptr_equal(config_find_model(cfg, "big"), &cfg->models[0]);
    assert_ptr_equal(config_find_model(cfg, "nemo"), &cfg->models[1]);
    assert_null(config_find_model(cfg, "auto"));
    assert_null(config_find_model(cfg, "Qwen")); /* names are exact */
    assert_ptr_equal(config_find_route(cfg, "default"), &cfg->routes[0]);
    assert_null(config_find_route(cfg, "qwen"));
    assert_int_equal(cfg->routes[0].nrules, 2);
    config_free(cfg);
}

static void test_errors_with_positions(void **state)
{
    load_fails("models:\n  - name: a\n    engines:\n      - kind: tgi\n        url: http://x\n",
               "t.yaml:4:15: unknown engine kind 'tgi'");
    load_fails("models:\n  - name: a\n    ttl: forever\n    engines:\n      - url: http://x\n",
               "t.yaml:3:10: 'ttl' must be a duration");
    load_fails("budget: 12 apples\nmodels: []\n", "t.yaml:1:9: 'budget' must be a size");
    load_fails("models:\n  - name: a\n    engines:\n      - url: http://x\n  - name: b\n"
               "    aliases: [a]\n    engines:\n      - url: http://y\n",
               "t.yaml:5: model name or alias 'a' is already used by model 'a' (line 2)");
    load_fails("models:\n  - name: a\n    engines:\n      - url: http://x\n"
               "routes:\n  - name: a\n    rules:\n      - models: [a]\n",
               "route name or alias 'a' is already used by model 'a'");
    load_fails("models:\n  - name: a\n    engines:\n      - url: http://x\n"
               "routes:\n  - name: r\n    rules:\n      - models: [nope]\n",
               "no model 'nope'");
    load_fails("models:\n  - name: a\n    image_side: 9\n    engines:\n      - url: http://x\n",
               "t.yaml:3:17:");
    load_fails("", "the config is empty");
    /* a condition given twice (fuzz_config: the first list leaked) */
    load_fails("models:\n  - name: a\n    engines:\n      - url: http://x\n"
               "routes:\n  - name: r\n    rules:\n"
               "      - when: {language: kn, task: chat, language: [en]}\n        models: [a]\n",
               "t.yaml:8:42: duplicate key 'language' in 'when'");
    /* and in the other mappings hermod reads key by key */
    load_fails("reserved: {whisper: 8GB, tts: 1GB, whisper: 8GB}\nmodels: []\n",
               "t.yaml:1:36: duplicate key 'whisper' in 'reserved'");
    load_fails("models:\n  - name: a\n    engines:\n      - cmd: [x, --port, \"${PORT}\"]\n"
               "        env: {A: 1, AB: 2, A: 3}\n",
               "t.yaml:5:28: duplicate key 'A' in 'env'");
}

/* Every problem, a line each, in one load; a bad key, item or model does
 * not hide what follows it, and references are still checked. */
static void test_every_error(void **state)
{
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    static const char text[] = "budgt: 8GiB\n"                        /* 1 */
                               "models:\n"                            /* 2 */
                               "  - name: a\n"                        /* 3 */
                               "    ttl: forever\n"                   /* 4 */
                               "    engines:\n"                       /* 5 */
                               "      - url: https://x\n"             /* 6 */
                               "      - url: http://y\n"              /* 7 */
                               "        memry: 1GiB\n"                /* 8 */
                               "  - engines:\n"                       /* 9 */
                               "      - url: http://z\n"              /* 10 */
                               "routes:\n"                            /* 11 */
                               "  - name: r\n"                        /* 12 */
                               "    rules:\n"                         /* 13 */
                               "      - models: [a, nope]\n"          /* 14 */
                               "auth:\n"                              /* 15 */
                               "  keys:\n"                            /* 16 */
                               "    - {name: k, key: short}\n"        /* 17 */
                               "pipeline: {timezone: Mars}\n";        /* 18 */
    int rc = config_load_string("t.yaml", text, strlen(text), &cfg, &err);
    assert_int_equal(rc, -EINVAL);
    assert_null(cfg);
    static const char *const want[] = {
        "t.yaml:1:1: unknown key 'budgt' in the config (did you mean 'budget'?)",
        "t.yaml:4:10: 'ttl' must be a duration",
        "t.yaml:6:9: 'url' must be http://",
        "t.yaml:8:9: unknown key 'memry' in an engine",
        "t.yaml:9:5: a model needs a 'name'",
        "t.yaml:17:7: key 'k' is too short",
        "t.yaml:14: route 'r', rule 1: no model 'nope'",
        "t.yaml:18: pipeline: timezone must be an offset",
    };
    const char *p = buf_cstr(&err);
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        const char *at = strstr(p, want[i]);
        if (!at)
            fail_msg("missing, or out of order: \"%s\" in:\n%s", want[i], buf_cstr(&err));
        p = at + strlen(want[i]);
    }
    size_t lines = 1;
    for (size_t i = 0; i < err.len; i++)
        lines += err.data[i] == '\n';
    assert_int_equal(lines, sizeof(want) / sizeof(*want));
    buf_release(&err);
}

static void test_pipeline_validation(void **state)
{
    load_fails("models:\n  - name: a\n    engines:\n      - url: http://x\n"
               "pipeline:\n  vision: eyes\n",
               "t.yaml:6: pipeline: vision names 'eyes', which is neither a model nor a route");
    load_fails("models:\n  - name: a\n    engines:\n      - url: http://x\n"
               "pipeline:\n  timezone: Mars\n",
               "pipeline: timezone must be an offset like +05:30");
    struct config *cfg = load("models:\n  - name: a\n    engines:\n      - url: http://x\n"
                              "pipeline:\n  vision: a\n  timezone: \"+05:30\"\n  retry_interval: 0s\n");
    assert_string_equal(cfg->pipeline.vision, "a");
    assert_int_equal(cfg->pipeline.retry_interval_ms, 0);
    config_free(cfg);
}

/* The shipped default: the seed's stack, every route naming real models. */
static void test_default_config(void **state)
{
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    if (config_load_default(&cfg, &err))
        fail_msg("default config: %s", buf_cstr(&err));
    assert_int_equal(cfg->nmodels, 7);
    const char *routes[] = {"auto", "vision", "extract"};
    for (size_t i = 0; i < 3; i++)
        assert_non_null(config_find_route(cfg, routes[i]));
    assert_non_null(config_find_model(cfg, "nemotron-3-nano"));
    assert_non_null(config_find_model(cfg, "qwen3.5-35b-a3b"));
    /* NIM, then Ollama, then llama.cpp, for the models that have all three */
    const struct config_model *m = config_find_model(cfg, "nemotron-3-nano");
    assert_true(m->nengines >= 2);
    assert_int_equal(m->engines[0].kind, ENGINE_KIND_NIM);
    assert_int_equal(m->engines[m->nengines - 1].kind, ENGINE_KIND_LLAMA_SERVER);
    config_free(cfg);
    buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_keys),       cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sizes_and_durations), cmocka_unit_test(test_name_resolution),
        cmocka_unit_test(test_errors_with_positions), cmocka_unit_test(test_pipeline_validation),
        cmocka_unit_test(test_every_error),
        cmocka_unit_test(test_default_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
