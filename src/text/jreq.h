/*
 * text/jreq.h: what the relay needs from an OpenAI request body, read
 * without building a tree.
 *
 * A request that names a model (not a route) needs three things from its
 * body: that it is one JSON object, the "model" string (and where its bytes
 * are, to put the engine's name there), and "stream". yajl (Debian's
 * libyajl) reads the body once, as events, and builds nothing: ~10
 * instructions a byte where jansson's json_loadb spends ~145 (an 8 KB chat
 * body: 84k against 1.16M instructions; bench/README.md, "Gateway v3").
 *
 * The scan says yes only where jansson would read the same body the same
 * way; anything it is not sure of (a NUL or a surrogate escape in a string,
 * an exponent or a number over 18 characters, nesting deeper than 512)
 * makes it say no, and the caller parses with jansson as before, which
 * then also words the error. tests/fuzz/fuzz_request.c checks this against
 * jansson on every input.
 */
#ifndef HERMOD_TEXT_JREQ_H
#define HERMOD_TEXT_JREQ_H

#include <stdbool.h>
#include <stddef.h>

enum jreq_kind {
    JREQ_ABSENT,
    JREQ_STRING,
    JREQ_TRUE,
    JREQ_FALSE,
    JREQ_NULL,
    JREQ_OTHER, /* a number, an object or an array */
};

struct jreq {
    enum jreq_kind model_kind, stream_kind; /* of the top-level keys (the last, if repeated) */
    char *model;                            /* the decoded string, when model_kind is JREQ_STRING */
    size_t model_off, model_end;            /* its bytes in the body, quotes included */
    bool has_hermod;                        /* a top-level "hermod" key */
};

/* 0 and *q filled (release it) when p is one JSON object read as jansson
 * would; -1 otherwise, with nothing to release. */
int jreq_scan(const char *p, size_t n, struct jreq *q);
void jreq_release(struct jreq *q);

#endif
