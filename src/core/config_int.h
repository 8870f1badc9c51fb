/* SPDX-License-Identifier: MIT */
/*
 * config_int.h: what config.c (the loader, the sections) and config_auth.c
 * (auth: and cors:) share. Nothing outside core/config*.c includes this.
 */
#ifndef HERMOD_CONFIG_INT_H
#define HERMOD_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "core/config.h"
#include "lib/buf.h"

/* The loader's state. */
struct ld {
    const char *file;
    yaml_document_t *doc;
    struct buf *err;     /* every problem, one line each */
    unsigned nerr;       /* problems found; only the first ERR_MAX are in err */
    struct config *cfg;
};

/* check-config lists every problem; past this many, it says how many more. */
#define ERR_MAX 50

enum key_type {
    K_STR,
    K_BOOL,
    K_UINT,
    K_SIZE,
    K_DURATION,
    K_FLOAT,
    K_STRLIST, /* NULL-terminated char ** */
    K_CUSTOM,
};

struct key {
    const char *name;
    enum key_type type;
    size_t off;
    uint64_t min, max;
    int (*custom)(struct ld *ld, yaml_node_t *node, void *target);
};

/* Records a problem at node n (FILE:LINE:COL) and returns -EINVAL. */
__attribute__((format(printf, 3, 4))) int config__fail(struct ld *ld, const yaml_node_t *n,
                                                       const char *fmt, ...);
yaml_node_t *config__node_at(struct ld *ld, int idx);
const char *config__node_type_name(const yaml_node_t *n);
/* A string's ${env.NAME} expanded (caller frees), or NULL with a problem recorded. */
char *config__expand(struct ld *ld, const yaml_node_t *n, const char *s);
int config__get_scalar(struct ld *ld, yaml_node_t *n, const char *key, const char **out);
void config__strlist_free(char **v);
/* Parses mapping n against tab into target; *seen gets a bit per key found. */
int config__parse_map(struct ld *ld, yaml_node_t *n, const char *where, const struct key *tab,
                      size_t ntab, void *target, uint64_t *seen);
uint64_t config__key_bit(const struct key *tab, size_t n, const char *name);
bool config__valid_name(const char *s);

/* config_auth.c */
int config__parse_auth(struct ld *ld, yaml_node_t *n, void *target);
int config__parse_cors(struct ld *ld, yaml_node_t *n, void *target);
void config__key_release(struct config_key *k);

#endif
