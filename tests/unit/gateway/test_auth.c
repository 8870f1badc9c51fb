/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for gateway/auth.c: key lookup (the constant-time compare
 * over SHA-256 digests), the Bearer and x-api-key forms, admin paths,
 * per-key model allow-lists (names, aliases, routes), CORS origins and
 * protected mode. auth.c is included to reach its statics, and the few
 * net/http.c functions it calls are replaced here by a request of our own
 * (headers in, status and headers out), so no server runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../../src/gateway/auth.c"

struct http_req {
    const char *method, *path;
    const char *hdr[8][2];
    const void *principal;
    int status;
    char code[64];
    char out[8][2][256];
    int nout;
};

const char *http_req_header(const struct http_req *r, const char *name)
{
    for (int i = 0; i < 8 && r->hdr[i][0]; i++)
        if (!strcasecmp(r->hdr[i][0], name))
            return r->hdr[i][1];
    return NULL;
}
const char *http_req_method(const struct http_req *r) { return r->method; }
const char *http_req_path(const struct http_req *r) { return r->path; }
void http_req_set_principal(struct http_req *r, const void *p) { r->principal = p; }
const void *http_req_principal(const struct http_req *r) { return r->principal; }
void http_req_add_header(struct http_req *r, const char *name, const char *value)
{
    snprintf(r->out[r->nout][0], 256, "%s", name);
    snprintf(r->out[r->nout][1], 256, "%s", value);
    r->nout++;
}
void http_respond(struct http_req *r, int status, const char *ct, char *body, size_t len)
{
    r->status = status;
    free(body);
}
void http_respond_error(struct http_req *r, int status, const char *type, const char *code,
                        const char *fmt, ...)
{
    r->status = status;
    snprintf(r->code, sizeof(r->code), "%s", code);
}

static const char *out_header(const struct http_req *r, const char *name)
{
    for (int i = 0; i < r->nout; i++)
        if (!strcasecmp(r->out[i][0], name))
            return r->out[i][1];
    return NULL;
}

static const char CFG[] =
    "auth:\n"
    "  keys:\n"
    "    - {name: phone, key: hk-phone-0123456789, models: [qwen-kn, extract]}\n"
    "    - {name: laptop, key: hk-phone-0123456788}\n"
    "    - {name: ops, key: hk-admin-secret-42, admin: true}\n"
    "cors:\n  origins: [http://app.example]\n"
    "models:\n"
    "  - name: qwen-kn\n    aliases: [kannada]\n    engines:\n      - {kind: openai, url: http://127.0.0.1:1}\n"
    "  - name: big\n    engines:\n      - {kind: openai, url: http://127.0.0.1:2}\n"
    "routes:\n  - name: extract\n    rules:\n      - models: [big]\n";

static struct config *load(const char *text)
{
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    int rc = config_load_string("t.yaml", text, strlen(text), &cfg, &err);
    if (rc)
        fail_msg("config: %s", buf_cstr(&err));
    buf_release(&err);
    return cfg;
}

static const struct config_key *lookup(struct auth *a, const char *k)
{
    return find_key(a, k, strlen(k));
}

static void test_find_key(void **state)
{
    struct config *cfg = load(CFG);
    struct auth *a = auth_new(cfg);
    assert_string_equal(lookup(a, "hk-phone-0123456789")->name, "phone");
    assert_string_equal(lookup(a, "hk-phone-0123456788")->name, "laptop");
    assert_true(lookup(a, "hk-admin-secret-42")->admin);
    /* near misses: a prefix, one more byte, one byte changed, another case */
    assert_null(lookup(a, "hk-phone-012345678"));
    assert_null(lookup(a, "hk-phone-01234567890"));
    assert_null(lookup(a, "hk-phone-0123456780"));
    assert_null(lookup(a, "HK-PHONE-0123456789"));
    assert_null(lookup(a, ""));
    /* the internal key is an admin key; an over-long presented key never matches */
    const struct config_key *in = lookup(a, auth_internal_key(a));
    assert_non_null(in);
    assert_true(in->admin);
    char big[PRESENTED_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_null(lookup(a, big));
    /* the digest compare is the constant-time one, and agrees with memcmp */
    struct digest d1, d2;
    sha256("x", 1, &d1);
    sha256("x", 1, &d2);
    assert_true(memeql_sec(d1.d, d2.d, sizeof(d1.d)));
    d2.d[SHA256_DIGEST_SIZE - 1] ^= 1;
    assert_false(memeql_sec(d1.d, d2.d, sizeof(d1.d)));
    auth_free(a);
    config_free(cfg);
}

static void test_admit(void **state)
{
    struct config *cfg = load(CFG);
    struct auth *a = auth_new(cfg);
    struct http_req none = {.method = "POST", .path = "/v1/chat/completions"};
    assert_false(auth_admit(a, &none, none.path));
    assert_int_equal(none.status, 401);
    struct http_req wrong = {.method = "POST", .path = "/v1/chat/completions",
                             .hdr = {{"Authorization", "Bearer hk-nope"}}};
    assert_false(auth_admit(a, &wrong, wrong.path));
    assert_int_equal(wrong.status, 401);
    struct http_req bearer = {.method = "POST", .path = "/v1/chat/completions",
                              .hdr = {{"Authorization", "bearer   hk-phone-0123456789  "}}};
    assert_true(auth_admit(a, &bearer, bearer.path));
    assert_string_equal(((const struct config_key *)bearer.principal)->name, "phone");
    struct http_req xkey = {.method = "GET", .path = "/v1/models", .hdr = {{"x-api-key", "hk-phone-0123456788"}}};
    assert_true(auth_admit(a, &xkey, xkey.path));
    assert_string_equal(((const struct config_key *)xkey.principal)->name, "laptop");
    /* admin paths: 403 for a plain key, through for an admin key */
    struct http_req m1 = {.method = "GET", .path = "/metrics", .hdr = {{"x-api-key", "hk-phone-0123456788"}}};
    assert_false(auth_admit(a, &m1, m1.path));
    assert_int_equal(m1.status, 403);
    struct http_req m2 = {.method = "GET", .path = "/hermod/running", .hdr = {{"x-api-key", "hk-admin-secret-42"}}};
    assert_true(auth_admit(a, &m2, m2.path));
    /* /health needs no key */
    struct http_req health = {.method = "GET", .path = "/health"};
    assert_true(auth_admit(a, &health, health.path));
    auth_free(a);
    config_free(cfg);
}

static void test_allow_list(void **state)
{
    struct config *cfg = load(CFG);
    const struct config_key *phone = &cfg->auth.keys[0], *laptop = &cfg->auth.keys[1];
    struct http_req r = {.principal = phone};
    assert_true(auth_allows(cfg, &r, "qwen-kn"));
    assert_true(auth_allows(cfg, &r, "kannada")); /* an alias of a listed model */
    assert_true(auth_allows(cfg, &r, "extract")); /* a listed route */
    assert_false(auth_allows(cfg, &r, "big"));    /* reachable only through the route */
    assert_false(auth_allows(cfg, &r, "nope"));
    r.principal = laptop; /* no list: every model */
    assert_true(auth_allows(cfg, &r, "big"));
    r.principal = NULL; /* keys off or /health */
    assert_true(auth_allows(cfg, &r, "big"));
    config_free(cfg);
}

static void test_cors(void **state)
{
    struct config *cfg = load(CFG);
    struct auth *a = auth_new(cfg);
    assert_true(origin_listed(cfg, "http://app.example"));
    assert_true(origin_listed(cfg, "HTTP://APP.EXAMPLE"));
    assert_false(origin_listed(cfg, "http://app.example.evil"));
    struct http_req bad = {.method = "GET", .path = "/v1/models",
                           .hdr = {{"Origin", "http://evil.example"}, {"x-api-key", "hk-admin-secret-42"}}};
    assert_false(auth_admit(a, &bad, bad.path));
    assert_int_equal(bad.status, 403);
    assert_string_equal(bad.code, "origin_not_allowed");
    struct http_req good = {.method = "GET", .path = "/v1/models",
                            .hdr = {{"Origin", "http://app.example"}, {"x-api-key", "hk-admin-secret-42"}}};
    assert_true(auth_admit(a, &good, good.path));
    assert_string_equal(out_header(&good, "Access-Control-Allow-Origin"), "http://app.example");
    /* the daemon's own page (same Host) needs no listing */
    struct http_req self = {.method = "GET", .path = "/v1/models",
                            .hdr = {{"Origin", "http://127.0.0.1:8080"}, {"Host", "127.0.0.1:8080"},
                                    {"x-api-key", "hk-admin-secret-42"}}};
    assert_true(auth_admit(a, &self, self.path));
    auth_free(a);
    config_free(cfg);
}

static void test_protected_mode(void **state)
{
    struct config *open_cfg = load("models: []\n");
    struct buf err = BUF_INIT;
    assert_int_equal(auth_listen_check(open_cfg, "127.0.0.1", &err), 0);
    assert_int_equal(auth_listen_check(open_cfg, "::1", &err), 0);
    assert_int_equal(auth_listen_check(open_cfg, "0.0.0.0", &err), -EACCES);
    assert_non_null(strstr(buf_cstr(&err), "open: true"));
    buf_reset(&err);
    struct config *keyed = load(CFG);
    assert_int_equal(auth_listen_check(keyed, "0.0.0.0", &err), 0);
    struct config *opened = load("auth: {open: true}\nmodels: []\n");
    assert_int_equal(auth_listen_check(opened, "192.168.1.5", &err), 0);
    buf_release(&err);
    config_free(open_cfg);
    config_free(keyed);
    config_free(opened);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_key),
        cmocka_unit_test(test_admit),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_protected_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
