/* SPDX-License-Identifier: MIT */
/*
 * catalog: the built-in facts about the models hermod is expected to run on
 * a DGX Spark: parameters, architecture, context, modalities, languages,
 * licence and the size of each published quantization. Config files refer
 * to an entry with `catalog: NAME` to inherit its facts, and `hermod plan`
 * rebuilds the seed's memory budget (seed section 8) from it.
 *
 * Every size is marked "seed" (stated by the research seed,
 * shared/seed/) or "derived" (parameters x bits per weight / 8). Where
 * the seed contradicts itself or a source, the entry records which figure
 * was kept and why (`notes`); docs/internals/catalog.md lists them all.
 *
 * DESIGN: the catalog is a const table compiled into the binary; entries
 * and their strings live for the whole process and may be read from any
 * thread. struct catalog_entry exposes its fields (a read-only value type);
 * use the functions below for sizes, languages and modalities, which apply
 * the seed/derived rules.
 */
#ifndef HERMOD_CATALOG_H
#define HERMOD_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum catalog_modality {
    CATALOG_IN_TEXT = 1 << 0,
    CATALOG_IN_IMAGE = 1 << 1,
    CATALOG_IN_VIDEO = 1 << 2,
    CATALOG_IN_AUDIO = 1 << 3,
    CATALOG_OUT_TEXT = 1 << 8,
    CATALOG_OUT_AUDIO = 1 << 9,
    CATALOG_OUT_EMBEDDING = 1 << 10,
};

/* Published weight formats. Bits per weight for derived sizes in brackets. */
enum catalog_quant {
    CATALOG_BF16,   /* [16] */
    CATALOG_FP8,    /* [8] */
    CATALOG_NVFP4,  /* [4.5] 4-bit values + an FP8 scale per 16 */
    CATALOG_MXFP4,  /* [4.25] 4-bit values + an E8M0 scale per 32 */
    CATALOG_Q8_0,   /* [8.5] GGUF */
    CATALOG_Q4_K_M, /* [4.85] GGUF, the usual "Q4" download */
    CATALOG_QUANT_COUNT
};

enum catalog_provenance {
    CATALOG_UNKNOWN = 0,
    CATALOG_SEED,    /* the research seed states it */
    CATALOG_DERIVED, /* parameters x bits per weight */
};

/* A size the seed gives, in GB (10^9 bytes); 0 = not given. */
struct catalog_size {
    double gb;
    const char *note; /* e.g. "seed gives 18-20 GB; the upper bound is kept", or NULL */
};

struct catalog_entry {
    const char *name;           /* lowercase, used as `catalog: NAME` */
    const char *const *aliases; /* NULL-terminated */
    const char *display;        /* "Nemotron 3 Nano 30B-A3B" */
    const char *family;         /* "Nemotron", "Qwen", ... */
    const char *hf_repo;        /* Hugging Face repository, or NULL */
    double params_b;            /* total parameters, billions (the catalog figure) */
    double active_b;            /* active per token (MoE), = params_b when dense */
    double params_exact_b;      /* a more exact count from a source, 0 if none;
                                   derived sizes use it when set */
    const char *params_note;
    const char *arch;           /* for people */
    const char *gguf_arch;      /* llama.cpp general.architecture, or NULL */
    uint32_t context;           /* tokens; 0 = not applicable / unknown */
    const char *context_note;
    unsigned modalities;        /* enum catalog_modality */
    const char *const *languages; /* ISO 639 codes, NULL-terminated */
    const char *languages_note;
    const char *licence;
    struct catalog_size seed[CATALOG_QUANT_COUNT];
    double stack_gb;            /* seed section 8 "her-os stack" VRAM, 0 if not in it */
    const char *engines;        /* how it can be served ("llama.cpp, Ollama, vLLM, NIM") */
    const char *notes;          /* contradictions and their resolution, or NULL */
};

/* The entry named `name` or having it as an alias (case-insensitive), or NULL. */
const struct catalog_entry *catalog_find(const char *name);
size_t catalog_count(void);
/* Entry i (0 .. catalog_count()-1), or NULL past the end. */
const struct catalog_entry *catalog_at(size_t i);

/*
 * The size of entry e in format q: the seed's figure when it gives one
 * (provenance CATALOG_SEED), else parameters x bits / 8 (CATALOG_DERIVED).
 * Returns 0 and sets *bytes and *prov (either may be NULL), or -ENOENT when
 * nothing is known (no parameter count).
 */
int catalog_size_for(const struct catalog_entry *e, enum catalog_quant q, uint64_t *bytes,
                     enum catalog_provenance *prov);

/* True when e lists the ISO 639 code `iso` ("kn", "hi"). */
bool catalog_has_language(const struct catalog_entry *e, const char *iso);
/* True when e has every bit of `modalities` (enum catalog_modality). */
bool catalog_has_modality(const struct catalog_entry *e, unsigned modalities);

/* "BF16", "FP8", "NVFP4", "MXFP4", "Q8_0", "Q4_K_M". */
const char *catalog_quant_name(enum catalog_quant q);
/* The quant named `name` (case-insensitive; "q4" means Q4_K_M), or -1. */
int catalog_quant_from_name(const char *name);
double catalog_quant_bits(enum catalog_quant q);
const char *catalog_provenance_name(enum catalog_provenance p);

/*
 * Seed section 8, "Memory Budget on DGX Spark": the her-os stack and the
 * NVIDIA models it considered adding, in the seed's order. `entry` names a
 * catalog entry (NULL for the databases); the size is the seed's.
 */
struct catalog_budget_item {
    const char *component; /* as the seed names it */
    const char *entry;     /* catalog entry, or NULL */
    int quant;             /* enum catalog_quant the figure is for, -1 = runtime VRAM */
    double gb;
    bool addition;         /* in the seed's "Adding NVIDIA Models" table */
};

size_t catalog_budget_count(void);
const struct catalog_budget_item *catalog_budget_at(size_t i);

/*
 * Prints the catalog: a table for people, or one JSON document (an object
 * with "models" and "budget" arrays) when json is true. Returns 0, or -EIO
 * when writing to f failed.
 */
int catalog_print(FILE *f, bool json);

#endif
