/*
 * libFuzzer harness for the OpenAI request JSON as the relay reads it:
 *
 * - jreq_scan() (text/jreq.c, yajl's events) against jansson on the same
 *   bytes: where the scan says yes, jansson must parse the body to an
 *   object with the same "model" (kind and string), "stream" kind and
 *   "hermod" key, and the model's byte span must hold that very string;
 * - router_features() (route/router.c) on the tree: model, messages, text
 *   and media parts (image_url, input_audio, video), response_format and
 *   hermod options, as proxy_handle() does before routing.
 *
 *   make build/fuzz/fuzz_request && build/fuzz/fuzz_request tests/fuzz/request
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route/router.h"
#include "text/jreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum jreq_kind kind_of(const json_t *v)
{
    if (!v)
        return JREQ_ABSENT;
    if (json_is_string(v))
        return JREQ_STRING;
    if (json_is_true(v))
        return JREQ_TRUE;
    if (json_is_false(v))
        return JREQ_FALSE;
    if (json_is_null(v))
        return JREQ_NULL;
    return JREQ_OTHER;
}

static void check_scan(const char *p, size_t n, const json_t *body)
{
    struct jreq q;
    if (jreq_scan(p, n, &q))
        return;
    /* The scan said yes: jansson must agree on everything it says. */
    if (!json_is_object(body))
        abort();
    const json_t *m = json_object_get(body, "model");
    if (kind_of(m) != q.model_kind || kind_of(json_object_get(body, "stream")) != q.stream_kind ||
        !!json_object_get(body, "hermod") != q.has_hermod)
        abort();
    if (q.model_kind == JREQ_STRING) {
        if (strlen(q.model) != json_string_length(m) || strcmp(q.model, json_string_value(m)))
            abort();
        /* The span is that string's token: jansson reads the same string. */
        json_t *t = json_loadb(p + q.model_off, q.model_end - q.model_off, JSON_DECODE_ANY, NULL);
        if (!json_is_string(t) || strcmp(json_string_value(t), q.model))
            abort();
        json_decref(t);
    }
    jreq_release(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    check_scan((const char *)data, size, body);
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
