/*
 * libFuzzer harness for the OpenAI request JSON as the router reads it
 * (route/router.c): the input is a /v1/chat/completions body; when it
 * parses, router_features() takes the model, messages, text and media
 * parts (image_url, input_audio, video), response_format and hermod
 * options from it, as proxy_handle() does before routing.
 *
 *   make build/fuzz/fuzz_request && build/fuzz/fuzz_request tests/fuzz/request
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "route/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    struct route_request rq;
    if (body) {
        router_features(body, size & 1 ? "extract" : NULL, &rq);
        router_request_release(&rq);
        json_decref(body);
    }
    router_features_text((const char *)data, size, &rq);
    router_request_release(&rq);
    return 0;
}
