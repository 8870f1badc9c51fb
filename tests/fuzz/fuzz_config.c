/*
 * libFuzzer harness for the YAML config: the input is a config file, read
 * by config_load_string(), the function behind `hermod check-config` and
 * `hermod serve --config` (config_load_file reads the file, then the
 * same). A config that loads is walked by the lookups the daemon makes.
 *
 *   make build/fuzz/fuzz_config && build/fuzz/fuzz_config tests/fuzz/config
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/config.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf err = BUF_INIT;
    struct config *cfg = NULL;
    if (config_load_string("fuzz.yaml", (const char *)data, size, &cfg, &err) == 0) {
        for (size_t i = 0; i < cfg->nmodels; i++)
            if (config_find_model(cfg, cfg->models[i].name) != &cfg->models[i] ||
                !config_model_equal(&cfg->models[i], &cfg->models[i]))
                __builtin_trap();
        for (size_t i = 0; i < cfg->nroutes; i++)
            if (config_find_route(cfg, cfg->routes[i].name) != &cfg->routes[i])
                __builtin_trap();
        config_free(cfg);
    } else if (!err.len) {
        __builtin_trap(); /* every refusal says why */
    }
    buf_release(&err);
    return 0;
}
