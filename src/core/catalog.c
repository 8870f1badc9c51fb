/* SPDX-License-Identifier: MIT */
/*
 * catalog.c: the table behind catalog.h.
 *
 * Sources, in order of preference: the research seed (shared/seed, "seed
 * section N" below), research/gpu-anchor.md, then public model cards and
 * code as cited in docs/internals/catalog.md. A figure the seed gives is
 * kept even when a source disagrees; the disagreement goes in `notes`.
 */
#include "core/catalog.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

#define IN_T CATALOG_IN_TEXT
#define IN_I CATALOG_IN_IMAGE
#define IN_V CATALOG_IN_VIDEO
#define IN_A CATALOG_IN_AUDIO
#define OUT_T CATALOG_OUT_TEXT
#define OUT_A CATALOG_OUT_AUDIO
#define OUT_E CATALOG_OUT_EMBEDDING

#define NVIDIA_OML "NVIDIA Open Model License"
#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Nemotron 3 Nano, seed sections 10 and 14.2 (see the entry's notes). */
#define NANO_LANGS                                                                             \
    LIST("en", "ar", "zh", "cs", "da", "nl", "fi", "fr", "de", "he", "hi", "id", "it", "ja", \
         "ko", "pl", "pt", "ru", "es", "sv", "th", "vi")
/* Nemotron Nano v2 VL, seed section 14.3 */
#define NANO_V2_LANGS LIST("en", "de", "es", "fr", "it", "ko", "pt", "ru", "ja", "zh")
/* the 22 languages of the Eighth Schedule of the Constitution of India */
#define SCHEDULED_22                                                                          \
    "as", "bn", "brx", "doi", "gu", "hi", "kn", "kok", "ks", "mai", "ml", "mni", "mr", "ne", \
        "or", "pa", "sa", "sat", "sd", "ta", "te", "ur"

static const struct catalog_entry entries[] = {
    {
        .name = "nemotron-3-nano-30b-a3b",
        .aliases = LIST("nemotron-3-nano", "nemotron-nano-30b", "nemotron3-nano"),
        .display = "Nemotron 3 Nano 30B-A3B",
        .family = "Nemotron",
        .hf_repo = "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
        .params_b = 30, .active_b = 3.5, .params_exact_b = 31.6,
        .params_note = "seed: 30B total / 3.5B active; the technical report counts 31.6B total",
        .arch = "hybrid Mamba-2 + attention + MoE (52 layers: 23 Mamba-2, 23 MoE with 128 "
                "experts + 1 shared, top-6, 6 attention)",
        .gguf_arch = "nemotron_h_moe",
        .context = 1048576,
        .context_note = "seed: 1M tokens, which is what the GGUF context_length says; the HF "
                        "config.json's native max_position_embeddings is 262144",
        .modalities = IN_T | OUT_T,
        .languages = NANO_LANGS,
        .languages_note = "seed 14.2 says 20 languages but lists English + 21; all listed are "
                          "kept. No Kannada; Hindi is the only Indic language",
        .licence = NVIDIA_OML,
        .seed = {
            [CATALOG_BF16] = {60, NULL},
            [CATALOG_FP8] = {32, NULL},
            [CATALOG_NVFP4] = {20, NULL},
            [CATALOG_Q4_K_M] = {20, "seed gives 18-20 GB for GGUF Q4; the upper bound is kept"},
        },
        .engines = "llama.cpp, Ollama (nemotron-3-nano), vLLM, NIM "
                   "(nvcr.io/nim/nvidia/nemotron-3-nano)",
        .notes = "NVFP4 20 GB is the seed's figure (sections 2, 7, 8, 14.1 agree); 31.6B x 4.5 "
                 "bits gives 17.8 GB, the rest being layers NVIDIA keeps in higher precision. "
                 "GGUF Q4: the seed's 18-20 GB is kept but is probably low. Rows of 2688 and "
                 "1856 are not multiples of 256, so llama-quantize stores most Q4_K tensors as "
                 "Q5_0: gguf-gen's pure-Q4_K shape is 21.7 GB, and ggml-org's Q4_K_M of the "
                 "same-shape Nemotron 3.5 Lightning is 25.4 GB (NVFP4 22.5, Q8_0 35.0, BF16 65.9). "
                 "18-20 GB matches IQ4_XS/Q4_0 builds (18.7 GB). Measure the file you download "
                 "with `hermod estimate FILE` rather than trust either figure.",
    },
    {
        .name = "nemotron-nano-9b-v2",
        .aliases = LIST("nemotron-nano-9b", "nvidia-nemotron-nano-9b-v2"),
        .display = "Nemotron Nano 9B v2",
        .family = "Nemotron",
        .hf_repo = "nvidia/NVIDIA-Nemotron-Nano-9B-v2",
        .params_b = 9, .active_b = 9,
        .arch = "hybrid Mamba-2 + attention (56 layers, mostly Mamba-2)",
        .gguf_arch = "nemotron_h",
        .context = 131072,
        .context_note = "128K (Megatron-Bridge NemotronNanoModelProvider9Bv2 seq_length)",
        .modalities = IN_T | OUT_T,
        .languages = NANO_V2_LANGS,
        .languages_note = "seed 14.1 says ~10 languages without a list; the Nano v2 list of "
                          "seed 14.3 is used. No Kannada",
        .licence = NVIDIA_OML,
        .seed = {[CATALOG_NVFP4] = {5, NULL}},
        .engines = "llama.cpp, vLLM, NIM (nvcr.io/nim/nvidia/nvidia-nemotron-nano-9b-v2)",
        .notes = "seed 14.1 calls it Dense; NVIDIA's Megatron-Bridge recipe gives a hybrid "
                 "Mamba-2/attention layer pattern, which is recorded here",
    },
    {
        .name = "nemotron-nano-12b-v2",
        .aliases = LIST("nemotron-nano-12b"),
        .display = "Nemotron Nano 12B v2",
        .family = "Nemotron",
        .hf_repo = "nvidia/NVIDIA-Nemotron-Nano-12B-v2",
        .params_b = 12, .active_b = 12,
        .arch = "hybrid Mamba-2 + attention (62 layers)",
        .gguf_arch = "nemotron_h",
        .context = 131072,
        .context_note = "128K",
        .modalities = IN_T | OUT_T,
        .languages = NANO_V2_LANGS,
        .languages_note = "seed 14.1: 10 languages (list of seed 14.3). No Kannada",
        .licence = NVIDIA_OML,
        .seed = {[CATALOG_NVFP4] = {7, NULL}},
        .engines = "llama.cpp, vLLM, NIM",
    },
    {
        .name = "nemotron-nano-12b-v2-vl",
        .aliases = LIST("nemotron-nano-vl", "nemotron-nano-12b-vl", "nemotron-12b-vl"),
        .display = "Nemotron Nano 12B v2 VL",
        .family = "Nemotron",
        .hf_repo = "nvidia/NVIDIA-Nemotron-Nano-12B-v2-VL-BF16",
        .params_b = 12, .active_b = 12,
        .arch = "hybrid Mamba-2 + attention LLM + RADIOv2.5 vision encoder",
        .gguf_arch = "nemotron_h",
        .context = 131072,
        .context_note = "seed 14.3: 16K to 128K; the upper bound is kept",
        .modalities = IN_T | IN_I | IN_V | OUT_T,
        .languages = NANO_V2_LANGS,
        .languages_note = "seed 14.3: 10 languages; no Kannada OCR",
        .licence = NVIDIA_OML,
        .seed = {
            [CATALOG_BF16] = {24, "seed section 8 (\"~24 GB\", no format given): 12B x 16 bits"},
            [CATALOG_NVFP4] = {7, "seed 14.1 (\"~7 GB\", NVFP4 column)"},
        },
        .engines = "vLLM, NIM (nvcr.io/nim/nvidia/nemotron-nano-12b-v2-vl:1.5.0)",
        .notes = "the seed gives ~24 GB (section 8) and ~7 GB (section 14.1): both hold, for "
                 "different formats. 24 GB = 12B x 2 bytes is BF16; 7 GB sits in the NVFP4 "
                 "column and matches 12B x 4.5 bits (6.75 GB). Section 8's budget uses the BF16 "
                 "figure",
    },
    {
        .name = "nemotron-4-mini-hindi-4b",
        .aliases = LIST("nemotron-mini-hindi", "nemotron-4-mini-hindi"),
        .display = "Nemotron-4-Mini-Hindi 4B",
        .family = "Nemotron",
        .hf_repo = "nvidia/Nemotron-4-Mini-Hindi-4B-Instruct",
        .params_b = 4, .active_b = 4,
        .arch = "dense transformer (distilled from Nemotron-4 15B)",
        .gguf_arch = "nemotron",
        .context = 4096,
        .modalities = IN_T | OUT_T,
        .languages = LIST("en", "hi"),
        .languages_note = "seed: English, Hindi and Hinglish (code-mixed); no Kannada",
        .licence = NVIDIA_OML,
        .seed = {[CATALOG_NVFP4] = {2, NULL}},
        .engines = "llama.cpp, vLLM, NIM",
    },
    {
        .name = "nemotron-speech-0.6b",
        .aliases = LIST("nemotron-speech-streaming-en-0.6b", "nemotron-speech"),
        .display = "Nemotron Speech 0.6B (streaming, English)",
        .family = "Nemotron",
        .hf_repo = "nvidia/nemotron-speech-streaming-en-0.6b",
        .params_b = 0.6, .active_b = 0.6,
        .arch = "FastConformer, cache-aware streaming ASR",
        .modalities = IN_A | OUT_T,
        .languages = LIST("en"),
        .languages_note = "English only (seed 14.4)",
        .licence = NVIDIA_OML " (family licence, seed section 9; not checked for this model)",
        .seed = {[CATALOG_NVFP4] = {1, "seed says <1 GB (VRAM column headed NVFP4); 1 GB is "
                                       "kept as the upper bound"}},
        .engines = "NeMo / Riva, NIM",
        .notes = "an ASR model has no GGUF; the derived GGUF sizes are meaningless",
    },
    {
        .name = "cosmos-reason2-2b",
        .aliases = LIST("cosmos-reason-2b"),
        .display = "Cosmos Reason2 2B",
        .family = "Cosmos",
        .hf_repo = "nvidia/Cosmos-Reason2-2B",
        .params_b = 2, .active_b = 2,
        .arch = "vision-language model fine-tuned from Qwen3-VL",
        .gguf_arch = "qwen3vl",
        .context = 262144,
        .context_note = "Qwen3-VL's native 256K; not stated by the seed",
        .modalities = IN_T | IN_I | IN_V | OUT_T,
        .languages = LIST("kn", "hi", "en", "zh"),
        .languages_note = "base Qwen3-VL covers 119 languages including Kannada (seed section "
                          "10); Cosmos fine-tuning is mostly English/Chinese. Only kn, hi, en, "
                          "zh are listed",
        .licence = NVIDIA_OML,
        .engines = "vLLM, llama.cpp (qwen3vl + mmproj), NIM (TBD)",
    },
    {
        .name = "cosmos-reason2-8b",
        .aliases = LIST("cosmos-reason2", "cosmos-reason-8b"),
        .display = "Cosmos Reason2 8B",
        .family = "Cosmos",
        .hf_repo = "nvidia/Cosmos-Reason2-8B",
        .params_b = 8, .active_b = 8,
        .arch = "vision-language model fine-tuned from Qwen3-VL",
        .gguf_arch = "qwen3vl",
        .context = 262144,
        .context_note = "Qwen3-VL's native 256K; not stated by the seed",
        .modalities = IN_T | IN_I | IN_V | OUT_T,
        .languages = LIST("kn", "hi", "en", "zh"),
        .languages_note = "base Qwen3-VL covers 119 languages including Kannada (seed section "
                          "10); Cosmos fine-tuning is mostly English/Chinese. Only kn, hi, en, "
                          "zh are listed",
        .licence = NVIDIA_OML,
        .seed = {[CATALOG_BF16] = {16, "seed sections 3 and 8 (\"~16 GB\"): 8B x 16 bits"}},
        .engines = "vLLM, llama.cpp (qwen3vl + mmproj), NIM (TBD)",
    },
    {
        .name = "qwen3.5-35b-a3b",
        .aliases = LIST("qwen3.5", "qwen35-35b-a3b", "qwen3.5-35b"),
        .display = "Qwen3.5-35B-A3B",
        .family = "Qwen",
        .hf_repo = "Qwen/Qwen3.5-35B-A3B",
        .params_b = 35, .active_b = 3,
        .arch = "hybrid Gated DeltaNet + gated attention (3:1, 40 layers), MoE with 256 experts "
                "(8 routed + 1 shared), vision encoder",
        .gguf_arch = "qwen35moe",
        .context = 262144,
        .context_note = "seed 14.6: 262K native, 1M with YaRN",
        .modalities = IN_T | IN_I | IN_V | OUT_T,
        .languages = LIST("kn", "hi", "en"),
        .languages_note = "201 languages (seed 14.6); only kn, hi, en are listed. Kannada OCR "
                          "scored 2-5/10 in the seed's test (14.9)",
        .licence = "Apache-2.0",
        .engines = "llama.cpp, vLLM, Ollama",
        .notes = "the seed says it was validated on the Titan (DGX Spark) but gives no size",
    },
    {
        .name = "qwen3-30b-a3b",
        .aliases = LIST("qwen3-30b", "qwen3moe-30b-a3b"),
        .display = "Qwen3 30B-A3B",
        .family = "Qwen",
        .hf_repo = "Qwen/Qwen3-30B-A3B",
        .params_b = 30.5, .active_b = 3.3, .params_exact_b = 30.53,
        .params_note = "30.5B total / 3.3B active (Qwen); llama.cpp reports 30.53B for this "
                       "shape (research/gpu-anchor.md)",
        .arch = "MoE transformer (48 layers, 128 experts / 8 active)",
        .gguf_arch = "qwen3moe",
        .context = 131072,
        .context_note = "seed 14.6: 128K (32K native, 131K with YaRN; GGUF context_length 40960)",
        .modalities = IN_T | OUT_T,
        .languages = LIST("kn", "hi", "en"),
        .languages_note = "119 languages (seed 14.6); only kn, hi, en are listed",
        .licence = "Apache-2.0",
        .engines = "llama.cpp, Ollama, vLLM",
        .notes = "published Q4_K_M files are about 18.6 GB (research/gpu-anchor.md, not checked); "
                 "the derived 18.5 GB agrees",
    },
    {
        .name = "param2-17b-a2.4b",
        .aliases = LIST("param2", "param-2-17b", "bharatgen-param2"),
        .display = "BharatGen Param2-17B-A2.4B",
        .family = "BharatGen",
        .hf_repo = "bharatgenai/Param2-17B-A2.4B-Thinking",
        .params_b = 17, .active_b = 2.4,
        .arch = "MoE transformer, 64 experts",
        .context = 4096,
        .context_note = "4096 per the model card; not stated by the seed",
        .modalities = IN_T | OUT_T,
        .languages = LIST(SCHEDULED_22, "en"),
        .languages_note = "English, Hindi and 21 Indian languages (seed 14.7, model card), "
                          "Kannada benchmarked",
        .licence = "unknown (see the model card)",
        .seed = {[CATALOG_Q4_K_M] = {12, "seed gives ~10-12 GB for Q4; the upper bound is kept"}},
        .engines = "vLLM (transformers); GGUF support unknown",
    },
    {
        .name = "sarvam-30b",
        .aliases = LIST("sarvam", "sarvam-30b-vikram"),
        .display = "Sarvam-30B",
        .family = "Sarvam",
        .hf_repo = "sarvamai/sarvam-30b",
        .params_b = 30, .active_b = 2.4,
        .params_note = "seed: ~1B active; Sarvam's documentation says 2.4B active, which is kept",
        .arch = "MoE transformer (128 experts + 1 shared, top-6, GQA)",
        .context = 32768,
        .context_note = "seed 14.7: 32K",
        .modalities = IN_T | OUT_T,
        .languages = LIST(SCHEDULED_22, "en"),
        .languages_note = "seed: 22 Indic languages + English, Kannada included",
        .licence = "Apache-2.0 (announced open source; the seed had not seen the weights)",
        .engines = "vLLM",
        .notes = "the seed's ~1B active parameters disagrees with Sarvam's own 2.4B; not a size, "
                 "so the source wins (active parameters change speed, not memory)",
    },
    {
        .name = "whisper-large-v3",
        .aliases = LIST("whisper", "whisper-large"),
        .display = "Whisper large-v3",
        .family = "Whisper",
        .hf_repo = "openai/whisper-large-v3",
        .params_b = 1.55, .active_b = 1.55,
        .arch = "encoder-decoder transformer (ASR)",
        .context = 0,
        .context_note = "30 s audio windows, 448 decoder tokens",
        .modalities = IN_A | OUT_T,
        .languages = LIST("kn", "hi", "en"),
        .languages_note = "99 languages (seed 14.4), Kannada included; only kn, hi, en are listed",
        .licence = "MIT",
        .stack_gb = 8.75,
        .engines = "faster-whisper / CTranslate2, whisper.cpp",
        .notes = "8.75 GB is the seed's measured her-os VRAM, far above 1.55B x 2 bytes (3.1 GB): "
                 "it includes the runtime's caches and batch buffers",
    },
    {
        .name = "nv-embed-0.6b",
        .aliases = LIST("nv-embed-small"),
        .display = "NV-Embed 0.6B",
        .family = "NV-Embed",
        .params_b = 0.6, .active_b = 0.6,
        .arch = "text embedding model",
        .modalities = IN_T | OUT_E,
        .languages = LIST("en"),
        .languages_note = "not stated by the seed",
        .licence = "unknown",
        .stack_gb = 1.2,
        .engines = "NIM / sentence-transformers",
        .notes = "the seed names it only as the her-os fallback embedder; 1.2 GB = 0.6B x 2 bytes",
    },
    {
        .name = "nv-embed-8b",
        .aliases = LIST("nv-embed", "nv-embed-v2"),
        .display = "NV-Embed 8B",
        .family = "NV-Embed",
        .hf_repo = "nvidia/NV-Embed-v2",
        .params_b = 8, .active_b = 8,
        .arch = "decoder-based text embedding model",
        .modalities = IN_T | OUT_E,
        .languages = LIST("en"),
        .languages_note = "English-centric; not stated by the seed",
        .licence = "CC-BY-NC-4.0 (NV-Embed-v2)",
        .stack_gb = 14.1,
        .engines = "NIM / sentence-transformers",
        .notes = "identified with NV-Embed-v2 (7.85B); the seed's 14.1 GB is measured VRAM",
    },
    {
        .name = "kokoro",
        .aliases = LIST("kokoro-82m", "kokoro-tts"),
        .display = "Kokoro TTS (82M)",
        .family = "Kokoro",
        .hf_repo = "hexgrad/Kokoro-82M",
        .params_b = 0.082, .active_b = 0.082,
        .arch = "StyleTTS 2 based text-to-speech",
        .modalities = IN_T | OUT_A,
        .languages = LIST("en", "es", "fr", "hi", "it", "ja", "pt", "zh"),
        .languages_note = "no Kannada voice",
        .licence = "Apache-2.0",
        .stack_gb = 0.5,
        .engines = "kokoro / ONNX",
        .notes = "the seed's ~0.5 GB is measured VRAM",
    },
};

static const struct catalog_budget_item budget[] = {
    {"NV-Embed 0.6B (fallback)", "nv-embed-0.6b", -1, 1.2, false},
    {"NV-Embed 8B (primary)", "nv-embed-8b", -1, 14.1, false},
    {"Whisper large-v3", "whisper-large-v3", -1, 8.75, false},
    {"Kokoro TTS", "kokoro", -1, 0.5, false},
    {"FalkorDB", NULL, -1, 2, false},
    {"Qdrant", NULL, -1, 2, false},
    {"PostgreSQL", NULL, -1, 1, false},
    {"Nemotron 3 Nano 30B (NVFP4)", "nemotron-3-nano-30b-a3b", CATALOG_NVFP4, 20, true},
    {"Cosmos Reason2 8B", "cosmos-reason2-8b", CATALOG_BF16, 16, true},
    {"Nemotron Nano 12B VL", "nemotron-nano-12b-v2-vl", CATALOG_BF16, 24, true},
};

static const struct {
    const char *name;
    double bits;
} quants[CATALOG_QUANT_COUNT] = {
    [CATALOG_BF16] = {"BF16", 16},   [CATALOG_FP8] = {"FP8", 8},
    [CATALOG_NVFP4] = {"NVFP4", 4.5}, [CATALOG_MXFP4] = {"MXFP4", 4.25},
    [CATALOG_Q8_0] = {"Q8_0", 8.5},  [CATALOG_Q4_K_M] = {"Q4_K_M", 4.85},
};

const struct catalog_entry *catalog_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
        const struct catalog_entry *e = &entries[i];
        if (strcasecmp(e->name, name) == 0)
            return e;
        for (const char *const *a = e->aliases; a && *a; a++)
            if (strcasecmp(*a, name) == 0)
                return e;
    }
    return NULL;
}

size_t catalog_count(void)
{
    return ARRAY_SIZE(entries);
}

const struct catalog_entry *catalog_at(size_t i)
{
    return i < ARRAY_SIZE(entries) ? &entries[i] : NULL;
}

const char *catalog_quant_name(enum catalog_quant q)
{
    return (unsigned)q < CATALOG_QUANT_COUNT ? quants[q].name : "?";
}

double catalog_quant_bits(enum catalog_quant q)
{
    return (unsigned)q < CATALOG_QUANT_COUNT ? quants[q].bits : 0;
}

int catalog_quant_from_name(const char *name)
{
    for (int q = 0; q < CATALOG_QUANT_COUNT; q++)
        if (strcasecmp(quants[q].name, name) == 0)
            return q;
    if (strcasecmp(name, "q4") == 0 || strcasecmp(name, "q4_k") == 0)
        return CATALOG_Q4_K_M;
    if (strcasecmp(name, "f16") == 0 || strcasecmp(name, "fp16") == 0)
        return CATALOG_BF16;
    return -1;
}

const char *catalog_provenance_name(enum catalog_provenance p)
{
    switch (p) {
    case CATALOG_SEED:
        return "seed";
    case CATALOG_DERIVED:
        return "derived";
    default:
        return "unknown";
    }
}

int catalog_size_for(const struct catalog_entry *e, enum catalog_quant q, uint64_t *bytes,
                     enum catalog_provenance *prov)
{
    if ((unsigned)q >= CATALOG_QUANT_COUNT)
        return -EINVAL;
    double gb = e->seed[q].gb;
    enum catalog_provenance p = CATALOG_SEED;
    if (gb <= 0) {
        double params = e->params_exact_b > 0 ? e->params_exact_b : e->params_b;
        if (params <= 0)
            return -ENOENT;
        gb = params * quants[q].bits / 8;
        p = CATALOG_DERIVED;
    }
    if (bytes)
        *bytes = (uint64_t)llround(gb * 1e9);
    if (prov)
        *prov = p;
    return 0;
}

bool catalog_has_language(const struct catalog_entry *e, const char *iso)
{
    for (const char *const *l = e->languages; l && *l; l++)
        if (strcasecmp(*l, iso) == 0)
            return true;
    return false;
}

bool catalog_has_modality(const struct catalog_entry *e, unsigned modalities)
{
    return (e->modalities & modalities) == modalities;
}

size_t catalog_budget_count(void)
{
    return ARRAY_SIZE(budget);
}

const struct catalog_budget_item *catalog_budget_at(size_t i)
{
    return i < ARRAY_SIZE(budget) ? &budget[i] : NULL;
}

/* ------------------------------------------------------------ printing */

/* The modality bits, inputs first; the outputs start at OUT_T. */
static const struct {
    unsigned bit;
    const char *dir, *name;
} mods[] = {
    {IN_T, "in", "text"},   {IN_I, "in", "image"},   {IN_V, "in", "video"},
    {IN_A, "in", "audio"},  {OUT_T, "out", "text"},  {OUT_A, "out", "audio"},
    {OUT_E, "out", "embedding"},
};

/* "text,image,video->text" */
static void modalities_str(unsigned m, char *out, size_t n)
{
    size_t len = 0;
    bool first = true;
    out[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
        if (mods[i].bit == OUT_T && len < n) {
            len += (size_t)snprintf(out + len, n - len, "->");
            first = true;
        }
        if (!(m & mods[i].bit) || len >= n)
            continue;
        len += (size_t)snprintf(out + len, n - len, "%s%s", first ? "" : ",", mods[i].name);
        first = false;
    }
}

static void count_str(double b, char *out, size_t n)
{
    if (b >= 1)
        snprintf(out, n, "%gB", b);
    else
        snprintf(out, n, "%gM", b * 1000);
}

static void ctx_str(uint32_t c, char *out, size_t n)
{
    if (c == 0)
        snprintf(out, n, "-");
    else if (c % (1u << 20) == 0)
        snprintf(out, n, "%uM", c >> 20);
    else if (c % 1024 == 0)
        snprintf(out, n, "%uK", c >> 10);
    else
        snprintf(out, n, "%u", c);
}

static int print_table(FILE *f)
{
    static const enum catalog_quant cols[] = {CATALOG_BF16, CATALOG_FP8, CATALOG_NVFP4,
                                              CATALOG_Q4_K_M};
    fprintf(f, "%-24s %-13s %-5s %-24s %-3s %-26s", "NAME", "PARAMS", "CTX", "MODALITIES", "KN",
            "LICENCE");
    for (size_t q = 0; q < ARRAY_SIZE(cols); q++)
        fprintf(f, " %8s", catalog_quant_name(cols[q]));
    fputc('\n', f);
    for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
        const struct catalog_entry *e = &entries[i];
        char params[32], total[16], active[16], ctx[16], mod[64], lic[27];
        count_str(e->params_b, total, sizeof(total));
        count_str(e->active_b, active, sizeof(active));
        if (e->active_b < e->params_b)
            snprintf(params, sizeof(params), "%s/%s", total, active);
        else
            snprintf(params, sizeof(params), "%s", total);
        ctx_str(e->context, ctx, sizeof(ctx));
        modalities_str(e->modalities, mod, sizeof(mod));
        snprintf(lic, sizeof(lic), "%s", e->licence);
        fprintf(f, "%-24s %-13s %-5s %-24s %-3s %-26s", e->name, params, ctx, mod,
                catalog_has_language(e, "kn") ? "yes" : "no", lic);
        for (size_t q = 0; q < ARRAY_SIZE(cols); q++) {
            uint64_t bytes;
            enum catalog_provenance p;
            if (catalog_size_for(e, cols[q], &bytes, &p))
                fprintf(f, " %8s", "-");
            else /* two decimals below 1 GB */
                fprintf(f, " %6.*fG%c", bytes < 1000000000 ? 2 : 1, (double)bytes / 1e9,
                        p == CATALOG_SEED ? 's' : 'd');
        }
        fputc('\n', f);
    }
    fprintf(f, "\nsizes in GB (10^9 bytes): s = stated by the research seed, d = derived as "
               "parameters x bits per weight\n(BF16 16, FP8 8, NVFP4 4.5, MXFP4 4.25, Q8_0 8.5, "
               "Q4_K_M 4.85)\n\nnotes:\n");
    for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
        const struct catalog_entry *e = &entries[i];
        if (e->notes)
            fprintf(f, "  %s: %s\n", e->name, e->notes);
    }
    fprintf(f, "\nseed section 8, memory budget on DGX Spark (GB):\n");
    double sum = 0;
    for (size_t i = 0; i < ARRAY_SIZE(budget); i++) {
        sum += budget[i].gb;
        fprintf(f, "  %-30s %6.2f  %-12s running total %6.2f\n", budget[i].component,
                budget[i].gb, budget[i].addition ? "addition" : "her-os stack", sum);
    }
    fprintf(f, "  %-30s %6.2f  of 128 GB unified memory\n", "free", 128 - sum);
    return ferror(f) ? -EIO : 0;
}

static json_t *str_list(const char *const *l)
{
    json_t *a = json_array();
    for (; l && *l; l++)
        json_array_append_new(a, json_string(*l));
    return a;
}

static json_t *opt_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *entry_json(const struct catalog_entry *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "aliases", str_list(e->aliases));
    json_object_set_new(o, "display", json_string(e->display));
    json_object_set_new(o, "family", json_string(e->family));
    json_object_set_new(o, "hf_repo", opt_str(e->hf_repo));
    json_object_set_new(o, "params_b", json_real(e->params_b));
    json_object_set_new(o, "active_b", json_real(e->active_b));
    json_object_set_new(o, "params_exact_b", e->params_exact_b > 0 ? json_real(e->params_exact_b)
                                                                   : json_null());
    json_object_set_new(o, "params_note", opt_str(e->params_note));
    json_object_set_new(o, "arch", json_string(e->arch));
    json_object_set_new(o, "gguf_arch", opt_str(e->gguf_arch));
    json_object_set_new(o, "context", json_integer(e->context));
    json_object_set_new(o, "context_note", opt_str(e->context_note));
    json_t *m = json_object();
    json_object_set_new(m, "in", json_array());
    json_object_set_new(m, "out", json_array());
    for (size_t i = 0; i < ARRAY_SIZE(mods); i++)
        if (e->modalities & mods[i].bit)
            json_array_append_new(json_object_get(m, mods[i].dir), json_string(mods[i].name));
    json_object_set_new(o, "modalities", m);
    json_object_set_new(o, "languages", str_list(e->languages));
    json_object_set_new(o, "languages_note", opt_str(e->languages_note));
    json_object_set_new(o, "kannada", json_boolean(catalog_has_language(e, "kn")));
    json_object_set_new(o, "licence", json_string(e->licence));
    json_t *sizes = json_object();
    for (int q = 0; q < CATALOG_QUANT_COUNT; q++) {
        uint64_t bytes;
        enum catalog_provenance p;
        if (catalog_size_for(e, (enum catalog_quant)q, &bytes, &p))
            continue;
        json_t *s = json_object();
        json_object_set_new(s, "bytes", json_integer((json_int_t)bytes));
        json_object_set_new(s, "provenance", json_string(catalog_provenance_name(p)));
        if (p == CATALOG_SEED && e->seed[q].note)
            json_object_set_new(s, "note", json_string(e->seed[q].note));
        json_object_set_new(sizes, catalog_quant_name((enum catalog_quant)q), s);
    }
    json_object_set_new(o, "sizes", sizes);
    json_object_set_new(o, "stack_bytes",
                        e->stack_gb > 0 ? json_integer((json_int_t)llround(e->stack_gb * 1e9))
                                        : json_null());
    json_object_set_new(o, "engines", opt_str(e->engines));
    json_object_set_new(o, "notes", opt_str(e->notes));
    return o;
}

int catalog_print(FILE *f, bool json)
{
    if (!json)
        return print_table(f);
    json_t *root = json_object(), *models = json_array(), *b = json_array();
    for (size_t i = 0; i < ARRAY_SIZE(entries); i++)
        json_array_append_new(models, entry_json(&entries[i]));
    for (size_t i = 0; i < ARRAY_SIZE(budget); i++) {
        json_t *o = json_object();
        json_object_set_new(o, "component", json_string(budget[i].component));
        json_object_set_new(o, "entry", opt_str(budget[i].entry));
        json_object_set_new(o, "quant", budget[i].quant < 0
                                            ? json_null()
                                            : json_string(catalog_quant_name(
                                                  (enum catalog_quant)budget[i].quant)));
        json_object_set_new(o, "bytes", json_integer((json_int_t)llround(budget[i].gb * 1e9)));
        json_object_set_new(o, "provenance", json_string("seed"));
        json_object_set_new(o, "addition", json_boolean(budget[i].addition));
        json_array_append_new(b, o);
    }
    json_object_set_new(root, "models", models);
    json_object_set_new(root, "budget", b);
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    fputc('\n', f);
    return rc || ferror(f) ? -EIO : 0;
}
