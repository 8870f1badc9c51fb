/*
 * libFuzzer harness for jschema and answer: the input is a schema, an
 * answer and a request's input text, separated by NUL bytes. The schema is
 * checked and, when it parses, applied to the answer (when that parses
 * too; a schema the check accepts must give the same result through
 * jschema_validate_checked()) and wrapped in a json_schema
 * response_format to judge the answer.
 *
 *   make build/fuzz/fuzz_answer && build/fuzz/fuzz_answer -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "route/answer.h"
#include "text/jschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Cuts the next NUL-separated part off *p. */
static const char *part(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *nul = memchr(s, '\0', (size_t)(end - s));
    *len = (size_t)((nul ? nul : end) - s);
    *p = nul ? nul + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *sch, *ans, *in;
    size_t slen, alen, ilen, n, n2;
    struct jschema_error errs[4], errs2[4];
    struct buf err = BUF_INIT;
    json_t *schema, *inst, *rf;

    sch = part(&p, end, &slen);
    ans = part(&p, end, &alen);
    in = part(&p, end, &ilen);
    schema = json_loadb(sch, slen, JSON_DECODE_ANY, NULL);
    if (!schema)
        return 0;
    int checked = jschema_check_schema(schema, &err) == 0;
    inst = json_loadb(ans, alen, JSON_DECODE_ANY, NULL);
    if (inst) {
        int rc = jschema_validate(schema, inst, errs, 4, &n);
        if (checked && (jschema_validate_checked(schema, inst, errs2, 4, &n2) != rc || n2 != n))
            abort();
    }
    rf = json_pack("{s:s,s:{s:s,s:O}}", "type", "json_schema", "json_schema", "name", "f",
                   "schema", schema);
    struct answer_spec *spec;
    if (rf && answer_spec_new(rf, in, ilen, 0.8, &spec, &err) == 0) {
        struct answer_verdict v;
        answer_verdict_init(&v);
        answer_judge(spec, ans, alen, alen & 1 ? "length" : "stop", &v);
        answer_score(&v);
        answer_verdict_describe(&v, &err);
        answer_verdict_release(&v);
        answer_spec_free(spec);
    }
    json_decref(rf);
    json_decref(inst);
    json_decref(schema);
    buf_release(&err);
    return 0;
}
