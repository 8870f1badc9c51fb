/* SPDX-License-Identifier: MIT */
/*
 * import_cli.c: `hermod import llama-swap FILE`, a llama-swap config
 * (github.com/mostlygeek/llama-swap, config.yaml) rewritten as a hermod
 * config, so that its users move in one command.
 *
 * What maps to what:
 *   macros          expanded in cmd, as llama-swap does (${name})
 *   models.NAME     a model NAME
 *     cmd           engine cmd (argv: the string split as a shell would,
 *                   with quotes, backslash-newlines and # comment lines;
 *                   no shell runs); kind from the program's name
 *     proxy         engine url when it is not the default
 *                   http://localhost:${PORT} (then hermod picks the port)
 *     checkEndpoint engine ready ("none" is left out)
 *     ttl           ttl (seconds; 0 = never unloaded)
 *     aliases       aliases
 *     useModelName  engine model (the name sent upstream)
 *     env           engine env
 *     unlisted, cmdStop, filters: no counterpart; said in a comment
 *   groups          swap: true makes the members a hermod group (one at
 *                   a time); persistent: true makes them pinned
 *   healthCheckTimeout  every engine's start_timeout
 * The result is loaded by hermod's own loader before it is written, so
 * what comes out is a config `hermod serve` accepts.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/config.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

static const char import_usage[] =
    "usage: hermod import llama-swap FILE [--out FILE]\n"
    "  Reads a llama-swap config.yaml and writes the equivalent hermod config\n"
    "  (models, cmd, proxy, ttl, aliases, groups, macros) to stdout or --out.\n"
    "  Check it with hermod check-config, run it with hermod serve --config.\n";

struct doc {
    yaml_document_t d;
    const char *path;
    struct buf *err;
};

static yaml_node_t *node(struct doc *y, int i)
{
    return i ? yaml_document_get_node(&y->d, i) : NULL;
}

static yaml_node_t *get(struct doc *y, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(y, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return node(y, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void q(struct buf *o, const char *s)
{
    buf_add_json_str(o, s);
}

/* Expands ${name} from the macros mapping (repeatedly: macros may use
 * macros, to a depth of 8); ${PORT} and unknown names stay. */
static void expand(struct doc *y, yaml_node_t *macros, const char *in, struct buf *out, int depth)
{
    for (const char *p = in; *p;) {
        const char *d = strstr(p, "${");
        const char *e = d ? strchr(d, '}') : NULL;
        if (!d || !e) {
            buf_addstr(out, p);
            return;
        }
        buf_add(out, p, (size_t)(d - p));
        char *name = xstrndup(d + 2, (size_t)(e - d - 2));
        const char *v = strcmp(name, "PORT") ? scalar(get(y, macros, name)) : NULL;
        if (v && depth < 8)
            expand(y, macros, v, out, depth + 1);
        else
            buf_add(out, d, (size_t)(e - d + 1));
        free(name);
        p = e + 1;
    }
}

/* Splits a command line into words as a POSIX shell would for plain
 * words, quotes and backslashes; no expansion, no shell. Lines whose first
 * non-blank is # are comments (llama-swap allows them). Returns 0 or
 * -EINVAL (an unterminated quote). */
static int split_words(const char *s, char ***argv, size_t *argc)
{
    struct buf w = BUF_INIT;
    bool in_word = false, line_start = true;
    size_t n = 0, cap = 0;
    char **v = NULL;
    int rc = 0;
    for (const char *p = s; *p; p++) {
        if (line_start) {
            const char *t = p;
            while (*t == ' ' || *t == '\t')
                t++;
            if (*t == '#') {
                while (*t && *t != '\n')
                    t++;
                if (!*t)
                    break;
                p = t;
                continue;
            }
        }
        line_start = *p == '\n';
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            if (in_word) {
                ALLOC_GROW(v, n + 2, cap);
                v[n++] = buf_detach(&w, NULL);
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if (*p == '\\' && p[1] == '\n') {
            p++;
            line_start = true;
            in_word = w.len > 0;
            continue;
        }
        if (*p == '\\' && p[1]) {
            buf_addch(&w, *++p);
        } else if (*p == '\'' || *p == '"') {
            char qc = *p++;
            while (*p && *p != qc) {
                if (qc == '"' && *p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                    p++;
                buf_addch(&w, *p++);
            }
            if (!*p) {
                rc = -EINVAL;
                break;
            }
        } else {
            buf_addch(&w, *p);
        }
    }
    if (in_word && !rc) {
        ALLOC_GROW(v, n + 2, cap);
        v[n++] = buf_detach(&w, NULL);
    }
    buf_release(&w);
    ALLOC_GROW(v, n + 1, cap);
    v[n] = NULL;
    *argv = v;
    *argc = n;
    return rc;
}

static void free_words(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static const char *kind_of(const char *prog)
{
    if (strstr(prog, "llama-server") || strstr(prog, "llama.cpp"))
        return "llama-server";
    if (strstr(prog, "vllm"))
        return "vllm";
    if (strstr(prog, "ollama"))
        return "ollama";
    return "openai";
}

static void strlist(struct doc *y, yaml_node_t *seq, struct buf *o)
{
    buf_addch(o, '[');
    if (seq && seq->type == YAML_SEQUENCE_NODE)
        for (yaml_node_item_t *it = seq->data.sequence.items.start;
             it < seq->data.sequence.items.top; it++) {
            const char *s = scalar(node(y, *it));
            if (!s)
                continue;
            if (it != seq->data.sequence.items.start)
                buf_addstr(o, ", ");
            q(o, s);
        }
    buf_addch(o, ']');
}

/* The group a model belongs to (NULL if none with swap), and whether it is
 * persistent. */
static const char *group_of(struct doc *y, yaml_node_t *groups, const char *model,
                            bool *persistent)
{
    *persistent = false;
    if (!groups || groups->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = groups->data.mapping.pairs.start;
         p < groups->data.mapping.pairs.top; p++) {
        yaml_node_t *g = node(y, p->value), *mem = get(y, g, "members");
        if (!mem || mem->type != YAML_SEQUENCE_NODE)
            continue;
        for (yaml_node_item_t *it = mem->data.sequence.items.start;
             it < mem->data.sequence.items.top; it++) {
            const char *s = scalar(node(y, *it));
            if (!s || strcmp(s, model))
                continue;
            const char *pers = scalar(get(y, g, "persistent"));
            *persistent = pers && !strcmp(pers, "true");
            const char *swap = scalar(get(y, g, "swap"));
            return swap && !strcmp(swap, "false") ? NULL : scalar(node(y, p->key));
        }
    }
    return NULL;
}

static int convert(struct doc *y, struct buf *o)
{
    yaml_node_t *root = yaml_document_get_root_node(&y->d);
    if (!root || root->type != YAML_MAPPING_NODE) {
        buf_addf(y->err, "%s: not a llama-swap config (the top level must be a mapping with "
                         "'models')", y->path);
        return -EINVAL;
    }
    yaml_node_t *models = get(y, root, "models"), *macros = get(y, root, "macros"),
                *groups = get(y, root, "groups");
    if (!models || models->type != YAML_MAPPING_NODE) {
        buf_addf(y->err, "%s: no 'models' mapping; is this a llama-swap config.yaml?", y->path);
        return -EINVAL;
    }
    const char *hct = scalar(get(y, root, "healthCheckTimeout"));
    buf_addf(o, "# hermod config imported from the llama-swap config %s\n", y->path);
    buf_addstr(o, "# (hermod import llama-swap). Check it: hermod check-config FILE\n");
    buf_addstr(o, "listen: 127.0.0.1:8400\nmodels:\n");
    for (yaml_node_pair_t *p = models->data.mapping.pairs.start;
         p < models->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(y, p->key), *m = node(y, p->value);
        const char *name = scalar(kn);
        const char *cmd = scalar(get(y, m, "cmd"));
        if (!name || !cmd) {
            buf_addf(y->err, "%s:%zu: model %s has no 'cmd'; every llama-swap model needs one",
                     y->path, kn->start_mark.line + 1, name ? name : "(unnamed)");
            return -EINVAL;
        }
        struct buf full = BUF_INIT;
        expand(y, macros, cmd, &full, 0);
        char **argv;
        size_t argc;
        int rc = split_words(buf_cstr(&full), &argv, &argc);
        buf_release(&full);
        if (rc || !argc) {
            buf_addf(y->err, "%s:%zu: model %s: the cmd %s", y->path, kn->start_mark.line + 1,
                     name, rc ? "has an unterminated quote" : "is empty");
            free_words(argv);
            return -EINVAL;
        }
        buf_addstr(o, "  - name: ");
        q(o, name);
        buf_addch(o, '\n');
        if (get(y, m, "aliases"))
            buf_addstr(o, "    aliases: "), strlist(y, get(y, m, "aliases"), o),
                buf_addch(o, '\n');
        const char *ttl = scalar(get(y, m, "ttl"));
        buf_addf(o, "    ttl: %s\n", ttl ? ttl : "0");
        bool persistent;
        const char *grp = group_of(y, groups, name, &persistent);
        if (grp)
            buf_addstr(o, "    group: "), q(o, grp), buf_addch(o, '\n');
        if (persistent)
            buf_addstr(o, "    pinned: true\n");
        const char *un = scalar(get(y, m, "unlisted"));
        if (un && !strcmp(un, "true"))
            buf_addstr(o, "    # llama-swap 'unlisted': hermod lists every model\n");
        if (get(y, m, "cmdStop"))
            buf_addstr(o, "    # llama-swap 'cmdStop': hermod stops engines with SIGTERM, "
                          "then SIGKILL after stop_timeout\n");
        buf_addf(o, "    engines:\n      - kind: %s\n        cmd: [", kind_of(argv[0]));
        for (size_t i = 0; i < argc; i++) {
            if (i)
                buf_addstr(o, ", ");
            q(o, argv[i]);
        }
        buf_addstr(o, "]\n");
        free_words(argv);
        const char *proxy = scalar(get(y, m, "proxy"));
        if (proxy && !strstr(proxy, "${PORT}"))
            buf_addstr(o, "        url: "), q(o, proxy), buf_addch(o, '\n');
        const char *check = scalar(get(y, m, "checkEndpoint"));
        if (check && strcmp(check, "none"))
            buf_addstr(o, "        ready: "), q(o, check), buf_addch(o, '\n');
        const char *use = scalar(get(y, m, "useModelName"));
        if (use)
            buf_addstr(o, "        model: "), q(o, use), buf_addch(o, '\n');
        if (get(y, m, "env"))
            buf_addstr(o, "        env: "), strlist(y, get(y, m, "env"), o), buf_addch(o, '\n');
        if (hct)
            buf_addf(o, "        start_timeout: %s\n", hct);
    }
    return 0;
}

int import_main(int argc, char **argv)
{
    const char *kind = NULL, *file = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(import_usage, stdout);
            return 0;
        }
        if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && !kind)
            kind = argv[i];
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "hermod import: unexpected '%s'\n%s", argv[i], import_usage);
            return 2;
        }
    }
    if (!kind || strcmp(kind, "llama-swap") || !file) {
        fprintf(stderr, "hermod import: %s\n%s",
                kind && strcmp(kind, "llama-swap") ? "only llama-swap configs can be imported"
                                                   : "say what to import: llama-swap FILE",
                import_usage);
        return 2;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "hermod import: %s: %s\n", file, strerror(errno));
        return 1;
    }
    struct buf err = BUF_INIT, o = BUF_INIT;
    struct doc y = {.path = file, .err = &err};
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = 0;
    if (!yaml_parser_load(&p, &y.d)) {
        buf_addf(&err, "%s:%zu:%zu: %s; is this YAML?", file, p.problem_mark.line + 1,
                 p.problem_mark.column + 1, p.problem ? p.problem : "cannot be read");
        rc = -EINVAL;
    } else {
        rc = convert(&y, &o);
        yaml_document_delete(&y.d);
    }
    yaml_parser_delete(&p);
    fclose(f);
    if (!rc) {
        /* What we wrote must be a config hermod accepts. */
        struct config *cfg = NULL;
        struct buf cerr = BUF_INIT;
        rc = config_load_string("(imported config)", o.data, o.len, &cfg, &cerr);
        if (rc)
            buf_addf(&err, "the converted config does not load: %s; please report this with "
                           "the llama-swap file", buf_cstr(&cerr));
        config_free(cfg);
        buf_release(&cerr);
    }
    if (!rc) {
        FILE *w = out ? fopen(out, "w") : stdout;
        if (!w || fwrite(o.data, 1, o.len, w) != o.len) {
            buf_addf(&err, "%s: %s", out ? out : "stdout", strerror(errno));
            rc = -EIO;
        }
        if (w && w != stdout && fclose(w) && !rc) {
            buf_addf(&err, "%s: %s", out, strerror(errno));
            rc = -EIO;
        }
        if (!rc && out)
            fprintf(stderr, "wrote %s; check it with hermod check-config %s\n", out, out);
    }
    if (rc)
        fprintf(stderr, "hermod import: %s\n", buf_cstr(&err));
    buf_release(&err);
    buf_release(&o);
    return rc ? 1 : 0;
}
