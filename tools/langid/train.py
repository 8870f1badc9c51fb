#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Train hermod's language identifier and write src/text/langid_tables.c.

    nice python3 tools/langid/train.py [DATA_DIR] [--out src/text/langid_tables.c]

DATA_DIR defaults to ../shared/langid relative to the repository root and
must hold train.tsv, kancmd_train.tsv and lexicon/ (see its README.md).
The English word list is Debian's wamerican (/usr/share/dict/american-english);
it is needed here only, never at build or run time.

The model is one multinomial logistic regression with four "language lanes"
(en, kn, hi, other) over hashed features of Latin and Devanagari words:
character 2..5-grams with word-boundary marks and the whole word. Which
script the text is in decides which lanes compete (Latin: all four;
Devanagari: hi and other) and what the lane means (kn in Latin letters is
kn-latn). Kannada script never reaches the model: langid.c decides kn and
mixed-script by counting code points.

The feature extraction below is a line-by-line twin of the one in
src/text/langid.c. If you change one, change the other, and `make
build/tests/test_langid` checks that the two agree on the golden scores
this script writes into the tables.

Everything is deterministic: fixed seeds, sorted inputs, no dict-order or
hash() dependence, so the same inputs give a byte-identical output file.

Standard library only (no numpy): training takes about 1.5 minutes on one core.
"""

import argparse
import math
import os
import random
import sys
import time

# ---------------------------------------------------------------------------
# Labels and lanes.

LABELS = ["kn", "kn-latn", "en", "hi", "hi-latn", "mixed-script", "other"]
LANES = ["en", "kn", "hi", "other"]
L_EN, L_KN, L_HI, L_OT = 0, 1, 2, 3
NLANES = 4

# ---------------------------------------------------------------------------
# Text scanning: the twin of scan_text() in src/text/langid.c.

C_SPACE, C_LATIN, C_DEVA, C_KANNADA, C_OTHER, C_PUNCT, C_JOINER = range(7)
WORD_NONE, WORD_LATIN, WORD_DEVA = 0, 1, 2

BOUND_START = 2
BOUND_END = 3
FNV_PRIME = 0x01000193
SEED_NGRAM = 0x811C9DC5
SEED_WORD = 0x2F6B1A53
GOLDEN = 0x9E3779B1
MAX_RUN = 2  # a letter repeated more than this ("sooooper") counts as MAX_RUN


def char_class(cp):
    """Classifies one code point; returns (class, symbol) where symbol is the
    lowercased code point for Latin letters and the code point for Devanagari
    word characters."""
    if cp < 0x80:
        if 0x61 <= cp <= 0x7A:
            return C_LATIN, cp
        if 0x41 <= cp <= 0x5A:
            return C_LATIN, cp + 0x20
        if cp <= 0x20 or cp == 0x7F:
            return C_SPACE, 0
        return C_PUNCT, 0
    if cp < 0x250:
        if cp < 0xC0 or cp == 0xD7 or cp == 0xF7:
            if cp == 0xA0 or cp < 0xA0:
                return C_SPACE, 0
            return C_PUNCT, 0
        if cp <= 0xDE:
            return C_LATIN, cp + 0x20
        return C_LATIN, cp
    if 0x900 <= cp <= 0x97F:
        if 0x964 <= cp <= 0x96F:  # danda, double danda, digits
            return C_DEVA, 0
        return C_DEVA, cp
    if 0xC80 <= cp <= 0xCFF:
        return C_KANNADA, 0
    if 0x1E00 <= cp <= 0x1EFF:
        return C_LATIN, cp
    if cp == 0x200C or cp == 0x200D:
        return C_JOINER, 0
    if 0x2000 <= cp <= 0x200B or cp == 0x2028 or cp == 0x2029 or cp == 0x202F \
            or cp == 0x205F or cp == 0x3000 or cp == 0xFEFF:
        return C_SPACE, 0
    if 0x2010 <= cp <= 0x2BFF or 0x3001 <= cp <= 0x303F or 0xFE00 <= cp <= 0xFE0F \
            or 0xFE30 <= cp <= 0xFE4F or 0xFF01 <= cp <= 0xFF0F or 0x1F000 <= cp <= 0x1FAFF \
            or 0xE0000 <= cp <= 0xE007F:
        return C_PUNCT, 0
    return C_OTHER, 0


def mix(h, sym):
    return ((h ^ sym) * FNV_PRIME) & 0xFFFFFFFF


def bucket(h, bits):
    return ((h * GOLDEN) & 0xFFFFFFFF) >> (32 - bits)


class Scan:
    """Script counts and the feature hashes of one text."""

    __slots__ = ("kannada", "deva", "latin", "other", "punct", "latin_words",
                 "deva_words", "hashes", "words")

    def __init__(self):
        self.kannada = self.deva = self.latin = self.other = self.punct = 0
        self.latin_words = self.deva_words = 0
        self.hashes = []
        # (first, end, may be a name) in hashes of each Latin word with features
        self.words = []


def scan(text, nmax, want_hashes=True):
    """Twin of scan_text() in langid.c. Returns a Scan; its hashes are the raw
    32-bit feature hashes (n-grams of 2..nmax symbols, and whole words)."""
    sc = Scan()
    out = sc.hashes
    hist = [0] * 8  # the last symbols of the current word, newest first
    kind = WORD_NONE
    wh = 0          # whole-word hash so far
    prev_sym = -1
    run = 0
    skip = False    # the current word follows '@' (a mention): no features
    prev_at = False
    wstart = 0
    sent_start = True   # no word yet, or the last one ended a sentence
    may_name = cap_first = cap_rest = False

    def push(sym):
        hist.pop()
        hist.insert(0, sym)
        if want_hashes and not skip:
            h = SEED_NGRAM
            for k in range(nmax):
                s = hist[k]
                if s == 0:
                    break
                h = mix(h, s)
                if k >= 1:
                    out.append(h)

    def end_word():
        nonlocal kind, wh, prev_sym, run, skip
        if kind == WORD_NONE:
            return
        push(BOUND_END)
        if want_hashes and not skip:
            out.append(mix(wh, BOUND_END))
        if kind == WORD_LATIN:
            sc.latin_words += 1
            if not skip:
                sc.words.append((wstart, len(out), may_name and cap_first and not cap_rest))
        else:
            sc.deva_words += 1
        kind = WORD_NONE
        for i in range(len(hist)):
            hist[i] = 0
        prev_sym = -1
        run = 0
        skip = False

    for ch in text:
        cp = ord(ch)
        cls, sym = char_class(cp)
        if cls == C_JOINER:
            continue
        wk = WORD_LATIN if cls == C_LATIN else (WORD_DEVA if cls == C_DEVA and sym else WORD_NONE)
        if cls == C_LATIN:
            sc.latin += 1
        elif cls == C_DEVA:
            sc.deva += 1
        elif cls == C_KANNADA:
            sc.kannada += 1
        elif cls == C_OTHER:
            sc.other += 1
        elif cls == C_PUNCT:
            sc.punct += 1
        if wk != kind:
            end_word()
            if wk != WORD_NONE:
                kind = wk
                wh = SEED_WORD
                skip = prev_at
                may_name = not sent_start
                sent_start = False
                wstart = len(out)
                push(BOUND_START)
                cap_first = 0x41 <= cp <= 0x5A
                cap_rest = False
        elif wk == WORD_LATIN:
            cap_rest = cap_rest or 0x41 <= cp <= 0x5A
        if wk == WORD_NONE:
            prev_at = cp == 0x40
            if cp in (0x2E, 0x21, 0x3F):
                sent_start = True
            continue
        prev_at = False
        if sym == prev_sym:
            run += 1
            if run > MAX_RUN:
                continue
        else:
            prev_sym = sym
            run = 1
        wh = mix(wh, sym)
        push(sym)
    end_word()
    return sc


# ---------------------------------------------------------------------------
# Data.

def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            lab, _, text = line.partition("\t")
            rows.append((lab, text))
    return rows


def fnv1a_bytes(b):
    h = 0x811C9DC5
    for x in b:
        h = ((h ^ x) * FNV_PRIME) & 0xFFFFFFFF
    return h


def kancmd_is_heldout(text):
    """The held-out 20 % of kancmd_train.tsv: FNV-1a of the text's UTF-8
    bytes, modulo 5, is 0. tools/langid/eval.c applies the same rule."""
    return fnv1a_bytes(text.encode("utf-8")) % 5 == 0


def read_lexicon(path, word_col, count_col, eng_col, lang_col=None):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            p = line.rstrip("\n").split("\t")
            lang = p[lang_col] if lang_col is not None else None
            out.append((p[word_col], int(p[count_col]), p[eng_col] == "1", lang))
    return out


def read_english(path):
    words = set()
    with open(path, encoding="utf-8") as f:
        for w in f:
            w = w.strip()
            if w and w.isascii() and w.isalpha() and w.islower():
                words.add(w)
    return sorted(words)


# ---------------------------------------------------------------------------
# Training.

class Doc:
    __slots__ = ("idx", "cnt", "lane", "weight", "deva")

    def __init__(self, idx, cnt, lane, weight, deva):
        self.idx, self.cnt, self.lane, self.weight, self.deva = idx, cnt, lane, weight, deva


def doc_features(sc, bits):
    d = {}
    for h in sc.hashes:
        b = bucket(h, bits) * NLANES
        d[b] = d.get(b, 0) + 1
    keys = sorted(d)
    return keys, [d[k] for k in keys]


def lane_of(label):
    return {"en": L_EN, "kn-latn": L_KN, "hi-latn": L_HI, "hi": L_HI, "other": L_OT}.get(label)


def train(docs, bits, epochs, lr0, l2, seed, log):
    nb = 1 << bits
    W = [0.0] * (nb * NLANES)
    bias = [0.0] * NLANES
    rng = random.Random(seed)
    order = list(range(len(docs)))
    exp = math.exp
    step = 0
    total = epochs * len(docs)
    for ep in range(epochs):
        rng.shuffle(order)
        loss = 0.0
        t0 = time.time()
        for di in order:
            d = docs[di]
            lr = lr0 * (1.0 - 0.9 * step / total)
            step += 1
            idx, cnt = d.idx, d.cnt
            s0, s1, s2, s3 = bias
            for i, c in zip(idx, cnt):
                s0 += W[i] * c
                s1 += W[i + 1] * c
                s2 += W[i + 2] * c
                s3 += W[i + 3] * c
            if d.deva:
                m = max(s2, s3)
                e2, e3 = exp(s2 - m), exp(s3 - m)
                z = e2 + e3
                p = [0.0, 0.0, e2 / z, e3 / z]
            else:
                m = max(s0, s1, s2, s3)
                e0, e1, e2, e3 = exp(s0 - m), exp(s1 - m), exp(s2 - m), exp(s3 - m)
                z = e0 + e1 + e2 + e3
                p = [e0 / z, e1 / z, e2 / z, e3 / z]
            y = d.lane
            loss -= d.weight * math.log(max(p[y], 1e-12))
            p[y] -= 1.0
            g = [x * d.weight * lr for x in p]
            g0, g1, g2, g3 = g
            decay = 1.0 - lr * l2
            for i, c in zip(idx, cnt):
                W[i] = W[i] * decay - g0 * c
                W[i + 1] = W[i + 1] * decay - g1 * c
                W[i + 2] = W[i + 2] * decay - g2 * c
                W[i + 3] = W[i + 3] * decay - g3 * c
            for k in range(NLANES):
                bias[k] -= g[k] * 0.1
        log("  epoch %d: loss %.4f (%.0f s)" % (ep + 1, loss / len(docs), time.time() - t0))
    return W, bias


def quantize(W, qmax=127):
    """Symmetric int8 quantization; the largest 0.001 % of weights clip."""
    mags = sorted(abs(w) for w in W if w != 0.0)
    if not mags:
        return [0] * len(W), 1.0
    cap = mags[min(len(mags) - 1, int(len(mags) * 0.99999))]
    scale = cap / qmax
    q = []
    for w in W:
        v = int(round(w / scale))
        q.append(max(-qmax, min(qmax, v)))
    return q, scale


# ---------------------------------------------------------------------------
# The decision rules: the twin of langid_classify() in langid.c.

NROUTE = 5


class Params:
    """Decision parameters; written into the tables as langid_* constants."""

    def __init__(self):
        # The routing decision for Latin text: p_kannada = sigmoid(route_w .
        # route_features() + route_bias); needs_kannada = p_kannada >= route_min.
        self.route_w = [4.0, 0.0, 0.0, 0.0, 0.0]
        self.route_bias = 0.0
        self.route_min = 0.5
        self.short_words = 3
        self.uncertain_below = 0.60  # top probability under this: uncertain
        self.min_letters = 5         # fewer letters than this: uncertain
        self.cost = 0.0              # the tuning objective reached (for the log)


def softmax(xs):
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    z = sum(es)
    return [e / z for e in es]


NAME_EN_MAX = -20  # a capitalised word's own en sum below this: a name


def label_logits(sc, Wq, bias, scale, bits, logits):
    """Twin of the name check in end_word() in langid.c: the lane logits
    for the label leave out names, capitalised words that do not start a
    sentence and whose own en sum is clearly negative ("Tell me about
    Mysuru." is English). Routing keeps them: in comments, names of Kannada
    actors are evidence of Kannada."""
    out = list(logits)
    for a, b, may in sc.words:
        if not may:
            continue
        d = [0, 0, 0, 0]
        for h in sc.hashes[a:b]:
            i = bucket(h, bits) * NLANES
            for k in range(NLANES):
                d[k] += Wq[i + k]
        if d[L_EN] < NAME_EN_MAX:
            out = [o - x * scale for o, x in zip(out, d)]
    return out


def lane_logits(sc, Wq, bias, scale, bits):
    s = [0, 0, 0, 0]
    for h in sc.hashes:
        b = bucket(h, bits) * NLANES
        s[0] += Wq[b]
        s[1] += Wq[b + 1]
        s[2] += Wq[b + 2]
        s[3] += Wq[b + 3]
    return [s[k] * scale + bias[k] for k in range(NLANES)]


def word_votes(sc, Wq, bits):
    """(words with features, words leaning kn, words leaning en): the twin
    of the votes in end_word() in langid.c. A word leans to the lane with
    the largest sum of its own weights (the first on a tie)."""
    nkn = nen = 0
    for a, b, _ in sc.words:
        d = [0, 0, 0, 0]
        for h in sc.hashes[a:b]:
            i = bucket(h, bits) * NLANES
            d[0] += Wq[i]
            d[1] += Wq[i + 1]
            d[2] += Wq[i + 2]
            d[3] += Wq[i + 3]
        best = 0
        for k in range(1, NLANES):
            if d[k] > d[best]:
                best = k
        nkn += best == L_KN
        nen += best == L_EN
    return len(sc.words), nkn, nen


def route_features(sc, logits, votes, P):
    """Twin of route_features() in langid.c."""
    others = [logits[k] for k in range(NLANES) if k != L_KN]
    m = max(others)
    z = logits[L_KN] - m - math.log(sum(math.exp(x - m) for x in others))
    z = max(-12.0, min(12.0, z))
    nv = votes[0] or 1
    short = 1.0 if sc.latin_words <= P.short_words else 0.0
    return [z / 4, votes[1] / nv, votes[2] / nv, short, short * z / 4]


def route_prob(x, P):
    a = P.route_bias + sum(w * v for w, v in zip(P.route_w, x))
    a = max(-60.0, min(60.0, a))
    return 1.0 / (1.0 + math.exp(-a))


def decide(sc, logits, P, votes=None, lab_logits=None):
    """Returns (label, probs[7], needs_kannada, uncertain)."""
    probs = [0.0] * len(LABELS)
    ix = LABELS.index
    if sc.kannada > 0:
        lab = "mixed-script" if sc.latin_words > 0 else "kn"
        probs[ix(lab)] = 1.0
        return lab, probs, True, False
    if sc.deva > 0 and sc.deva >= sc.latin and sc.deva >= sc.other:
        p = softmax([logits[L_HI], logits[L_OT]])
        probs[ix("hi")], probs[ix("other")] = p
        lab = "hi" if p[0] >= p[1] else "other"
        return lab, probs, False, max(p) < P.uncertain_below
    if sc.latin > 0 and sc.latin >= sc.other:
        p = softmax(lab_logits if lab_logits is not None else logits)
        probs[ix("en")], probs[ix("kn-latn")], probs[ix("hi-latn")], probs[ix("other")] = p
        best = max(range(NLANES), key=lambda k: (p[k], -k))
        lab = ["en", "kn-latn", "hi-latn", "other"][best]
        need = route_prob(route_features(sc, logits, votes, P), P) >= P.route_min
        unc = p[best] < P.uncertain_below or sc.latin < P.min_letters \
            or need != (lab == "kn-latn")
        return lab, probs, need, unc
    probs[ix("other")] = 1.0
    return "other", probs, False, sc.other == 0


# ---------------------------------------------------------------------------
# Metrics.

def metrics(gold, pred):
    labs = [l for l in LABELS if l in set(gold)]
    out = {}
    for l in labs:
        tp = sum(1 for g, p in zip(gold, pred) if g == l and p == l)
        fp = sum(1 for g, p in zip(gold, pred) if g != l and p == l)
        fn = sum(1 for g, p in zip(gold, pred) if g == l and p != l)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        out[l] = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
    return sum(out.values()) / len(out), out


def evaluate(name, rows, model, P, log):
    Wq, bias, scale, bits, nmax = model
    gold, pred, ng, npred = [], [], [], []
    for lab, text in rows:
        sc = scan(text, nmax)
        lg = lane_logits(sc, Wq, bias, scale, bits)
        lab2, _, need, _ = decide(sc, lg, P, word_votes(sc, Wq, bits),
                                  label_logits(sc, Wq, bias, scale, bits, lg))
        gold.append(lab)
        pred.append(lab2)
        ng.append(lab in ("kn", "kn-latn", "mixed-script"))
        npred.append(need)
    mf, per = metrics(gold, pred)
    tp = sum(1 for g, p in zip(ng, npred) if g and p)
    rc = tp / max(1, sum(ng))
    pr = tp / max(1, sum(npred))
    log("%s: n=%d macro-F1 %.4f  needs_kannada R %.4f P %.4f" % (name, len(rows), mf, rc, pr))
    log("  " + "  ".join("%s %.3f" % (l, f) for l, f in per.items()))
    conf = {}
    for g, p in zip(gold, pred):
        conf[(g, p)] = conf.get((g, p), 0) + 1
    errs = sorted(((c, g, p) for (g, p), c in conf.items() if g != p), reverse=True)[:8]
    log("  top confusions: " + ", ".join("%s->%s %d" % (g, p, c) for c, g, p in errs))
    return gold, pred, ng, npred


# ---------------------------------------------------------------------------
# Output.

ENC_ZERO = 79  # byte value of weight 0: the printable range 0x20..0x7E is -47..47
QMAX = 47


def c_string_lines(data, width=90):
    lines = []
    cur = []
    n = 0
    for b in data:
        if b == 0x22 or b == 0x5C or b == 0x3F:  # '"', '\\', '?' (trigraphs)
            cur.append("\\%03o" % b)
        else:
            cur.append(chr(b))
        n += 1
        if n == width:
            lines.append('    "' + "".join(cur) + '"')
            cur, n = [], 0
    if cur:
        lines.append('    "' + "".join(cur) + '"')
    return lines


def write_tables(path, cmdline, Wq, bias, scale, bits, nmax, P, golden, summary):
    data = bytes(ENC_ZERO + w for w in Wq)
    o = []
    o.append("/* SPDX-License-Identifier: CC-BY-SA-4.0 */")
    o.append("/*")
    o.append(" * langid_tables.c: GENERATED by tools/langid/train.py. Do not edit.")
    o.append(" *")
    o.append(" * Regenerate with (from the repository root):")
    o.append(" *   " + cmdline)
    o.append(" *")
    o.append(" * The weights of the language identifier's linear model (see langid.c and")
    o.append(" * docs/internals/langid.md), derived from the CC BY-SA 4.0 / CC BY / CC0 /")
    o.append(" * MIT / Apache-2.0 data described in docs/internals/langid.md, hence the")
    o.append(" * licence above. No text of the training data is in this file.")
    o.append(" *")
    for line in summary:
        o.append(" * " + line)
    o.append(" */")
    o.append('#include "langid_tables.h"')
    o.append("")
    o.append("const float langid_scale = %.9gf;" % scale)
    o.append("const float langid_bias[LANGID_NLANES] = {%s};" %
             ", ".join("%.9gf" % b for b in bias))
    o.append("")
    o.append("/* The routing decision and the thresholds, fitted on 1/8 of the training")
    o.append(" * groups (train.py). */")
    o.append("const float langid_route_w[LANGID_NROUTE] = {%s};" %
             ", ".join("%.9gf" % w for w in P.route_w))
    o.append("const float langid_route_bias = %.9gf;" % P.route_bias)
    o.append("const float langid_route_min = %.9gf;" % P.route_min)
    o.append("const unsigned langid_short_words = %du;" % P.short_words)
    o.append("const float langid_uncertain_below = %.9gf;" % P.uncertain_below)
    o.append("const unsigned langid_min_letters = %du;" % P.min_letters)
    o.append("")
    o.append("/* Lane logits, word votes and p_kannada (Latin text) that the Python twin")
    o.append(" * computed for a few texts; the unit tests check that langid.c computes the")
    o.append(" * same ones (the two feature extractors must agree byte for byte). */")
    o.append("const struct langid_golden langid_golden[LANGID_NGOLDEN] = {")
    for text, logits, votes, proute in golden:
        esc = "".join(c if (0x20 <= ord(c) < 0x7F and c not in '"\\?') else
                      "".join("\\%03o" % b for b in c.encode("utf-8")) for c in text)
        o.append('    {"%s",' % esc)
        o.append('     {%s}, {%s}, %.6gf},' % (", ".join("%.6gf" % x for x in logits),
                                              ", ".join("%du" % v for v in votes), proute))
    o.append("};")
    o.append("")
    o.append("/*")
    o.append(" * 1 << LANGID_BITS buckets of LANGID_NLANES weights each (en, kn, hi, other),")
    o.append(" * one byte per weight: weight = byte - LANGID_WEIGHT_ZERO, in -47..47, so")
    o.append(" * that every weight is one printable character in the source.")
    o.append(" */")
    o.append("const char langid_weights[LANGID_NLANES << LANGID_BITS] =")
    o.extend(c_string_lines(data))
    o[-1] += ";"
    o.append("")
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(o))

    hpath = os.path.join(os.path.dirname(path), "langid_tables.h")
    h = []
    h.append("/* SPDX-License-Identifier: MIT */")
    h.append("/*")
    h.append(" * langid_tables.h: GENERATED by tools/langid/train.py. Do not edit.")
    h.append(" *")
    h.append(" * The model that langid.c evaluates; private to langid.c and its tests.")
    h.append(" */")
    h.append("#ifndef HERMOD_LANGID_TABLES_H")
    h.append("#define HERMOD_LANGID_TABLES_H")
    h.append("")
    h.append("/* Feature extraction parameters: must match train.py. */")
    h.append("#define LANGID_BITS %d" % bits)
    h.append("#define LANGID_NGRAM_MAX %d" % nmax)
    h.append("#define LANGID_NLANES %d" % NLANES)
    h.append("#define LANGID_WEIGHT_ZERO %d" % ENC_ZERO)
    h.append("#define LANGID_NGOLDEN %d" % len(golden))
    h.append("#define LANGID_NROUTE %d" % NROUTE)
    h.append("")
    h.append("struct langid_golden {")
    h.append("    const char *text;")
    h.append("    float logits[LANGID_NLANES];")
    h.append("    unsigned votes[3]; /* Latin words with features, leaning kn, leaning en */")
    h.append("    float p_kannada;   /* of the routing decision, for Latin text */")
    h.append("};")
    h.append("")
    h.append("extern const float langid_scale;")
    h.append("extern const float langid_bias[LANGID_NLANES];")
    h.append("extern const float langid_route_w[LANGID_NROUTE];")
    h.append("extern const float langid_route_bias;")
    h.append("extern const float langid_route_min;")
    h.append("extern const unsigned langid_short_words;")
    h.append("extern const float langid_uncertain_below;")
    h.append("extern const unsigned langid_min_letters;")
    h.append("extern const struct langid_golden langid_golden[LANGID_NGOLDEN];")
    h.append("extern const char langid_weights[LANGID_NLANES << LANGID_BITS];")
    h.append("")
    h.append("#endif")
    h.append("")
    with open(hpath, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(h))


# ---------------------------------------------------------------------------

GOLDEN_TEXTS = [
    "naanu nale office ge hogtini, meeting ide",
    "kal office jaana hai, meeting hai",
    "I will go to the office tomorrow",
    "Sooooper   SONG guruuuu!! @Rakshith Shetty #DBoss",
    "Ça va très bien, merci. Größe",
    "मैं कल दफ़्तर जाऊँगा।",
    "मी उद्या ऑफिसला जाणार आहे",
]


def group_key(tag, ref):
    """The group of a train.tsv line, from its train.sources.tsv line: one
    FLORES sentence (all its languages, romanizations and windows), one
    Tatoeba pair, one Hinglish-TOP row, one EWT document, one comment, one
    Kanglish-care record. Used to hold groups out for tuning."""
    ref = ref.split("#")[0]
    if "flores200" in tag:
        return "flores:" + ref.rsplit(":", 1)[-1]
    if "tatoeba" in tag:
        return "tatoeba:" + ref.split(";")[0]
    if tag.startswith("hinglish-top"):
        return "htop:" + ref
    if tag.startswith("ud-en-ewt"):
        return "ewt:" + ref.rsplit("-", 1)[0]
    if tag.startswith("kanglish-care"):
        return "care:" + ref
    return tag + ":" + ref


# Sources of real, human-written text (not machine-romanized or synthetic):
# social-media comments, hand-written chat prompts, typed queries, web text,
# Tatoeba sentences. A fifth of their groups is held out from training and
# tuning altogether, to be scored by build/tools/langid-eval.
REAL_TAGS = ("dravidiancodemix:", "kanglish-care-seed:seed:", "hinglish-top:", "ud-en-ewt:",
             "tatoeba:")
COMMENT_TAGS = ("dravidiancodemix:", "kanglish-care-seed:seed:")


def in_heldout_split(key):
    """About 1 in 5 groups of real text is held out for evaluation. Every
    row of a held-out group is left out of training (a Tatoeba pair's
    synthetic romanization too); only its real rows are scored."""
    fam = key.split(":", 1)[0]
    if fam not in ("dravidiancodemix", "care", "htop", "ewt", "tatoeba"):
        return False
    return fnv1a_bytes(("heldout:" + key).encode("utf-8")) % 5 == 0


def write_heldout(outdir, rows, srcs, heldout_mask, kc_held, log):
    """Writes the held-out real text as label<TAB>text files for langid-eval:
    heldout-comments.tsv (social-media comments and chat prompts: the
    KanCMD fifth, DravidianCodeMix, Kanglish-care seed prompts) and
    heldout-real.tsv (those plus Hinglish-TOP queries, EWT web text and
    Tatoeba sentences). Nothing of it is committed."""
    os.makedirs(outdir, exist_ok=True)
    comments = list(kc_held)
    other = []
    for (lab, text), s, m in zip(rows, srcs, heldout_mask):
        if not m:
            continue
        if s[0].startswith(COMMENT_TAGS):
            comments.append((lab, text))
        elif s[0].startswith(REAL_TAGS):
            other.append((lab, text))
    for name, items in (("heldout-comments.tsv", comments),
                        ("heldout-real.tsv", comments + other)):
        with open(os.path.join(outdir, name), "w", encoding="utf-8", newline="\n") as f:
            for lab, text in items:
                f.write("%s\t%s\n" % (lab, text))
        log("wrote %s: %d items" % (os.path.join(outdir, name), len(items)))


def in_tune_split(key):
    """About 1 in 8 groups is held out to tune the decision thresholds."""
    return fnv1a_bytes(("tune:" + key).encode("utf-8")) % 8 == 0


def build_docs(train_rows, kc_rows, args, log):
    """Sentence documents plus word documents from the lexicons."""
    bits, nmax = args.bits, args.ngram_max
    docs = []
    seen = set()

    def add(text, lane, weight):
        sc = scan(text, nmax)
        deva = sc.deva > 0 and sc.deva >= sc.latin and sc.deva >= sc.other
        latin = not deva and sc.latin > 0 and sc.latin >= sc.other
        # Kannada-script rows never reach the model; neither do rows the
        # script rules decide alone.
        if sc.kannada > 0 or not (deva or latin) or not sc.hashes:
            return
        if deva and lane not in (L_HI, L_OT):
            return
        if (text, lane) in seen:
            return
        seen.add((text, lane))
        idx, cnt = doc_features(sc, bits)
        docs.append(Doc(idx, cnt, lane, weight, deva))

    for lab, text, w in train_rows:
        lane = lane_of(lab)
        if lane is not None:
            add(text, lane, w)
    for lab, text in kc_rows:
        lane = lane_of(lab)
        if lane is not None:
            add(text, lane, args.kancmd_weight)
    nsent = len(docs)

    # Word documents from the lexicons, so that words the sentences never
    # showed still carry their language's n-grams. Forms that are also
    # English words are left out of the Indic lists.
    rng = random.Random(args.seed)
    lex = os.path.join(args.data, "lexicon")
    eng = read_english(args.english)
    kn = [w for w, c, e, _ in read_lexicon(os.path.join(lex, "kn_romanized_words.txt"), 0, 1, 2)
          if not e]
    hi = [w for w, c, e, _ in read_lexicon(os.path.join(lex, "hi_romanized_words.txt"), 0, 1, 2)
          if not e]
    ot = [w for w, c, e, _ in read_lexicon(os.path.join(lex, "other_romanized_words.tsv"),
                                             0, 2, 3, 1) if not e]
    for words, lane in ((eng, L_EN), (kn, L_KN), (hi, L_HI), (ot, L_OT)):
        words = sorted(set(words))
        if len(words) > args.lex_max:
            words = rng.sample(words, args.lex_max)
        for w in words:
            add(w, lane, args.lex_weight)
    log("%d sentence docs, %d word docs" % (nsent, len(docs) - nsent))
    return docs, nsent


def fit(train_rows, kc_rows, args, log):
    docs, nsent = build_docs(train_rows, kc_rows, args, log)
    W, bias = train(docs, args.bits, args.epochs, args.lr, args.l2, args.seed, log)
    Wq, qscale = quantize(W, QMAX)
    return (Wq, bias, qscale, args.bits, args.ngram_max), len(docs), nsent


def solve(A, y):
    """Solves A x = y (small, dense) by Gaussian elimination with pivoting."""
    n = len(y)
    M = [row[:] + [y[i]] for i, row in enumerate(A)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[piv] = M[piv], M[c]
        for r in range(n):
            if r != c and M[c][c] != 0:
                f = M[r][c] / M[c][c]
                for k in range(c, n + 1):
                    M[r][k] -= f * M[c][k]
    return [M[i][n] / M[i][i] if M[i][i] else 0.0 for i in range(n)]


def fit_route(items, l2, log):
    """Logistic regression of gold Kannada on the routing features, by
    Newton's method (a handful of features, a few thousand texts).
    items: (features, is_kannada, weight). Returns (w, bias)."""
    n = NROUTE + 1
    beta = [0.0] * n
    for it in range(30):
        H = [[0.0] * n for _ in range(n)]
        g = [0.0] * n
        for x, y, wt in items:
            xx = x + [1.0]
            a = max(-30.0, min(30.0, sum(b * v for b, v in zip(beta, xx))))
            p = 1.0 / (1.0 + math.exp(-a))
            r = wt * (p - (1.0 if y else 0.0))
            q = wt * p * (1 - p)
            for i in range(n):
                g[i] += r * xx[i]
                for j in range(n):
                    H[i][j] += q * xx[i] * xx[j]
        for i in range(NROUTE):
            g[i] += l2 * beta[i]
            H[i][i] += l2
        step = solve(H, g)
        beta = [b - d for b, d in zip(beta, step)]
        if max(abs(d) for d in step) < 1e-6:
            break
    return beta[:NROUTE], beta[NROUTE]


def tune_thresholds(rows, model, target, miss_cost, log):
    """Fits the routing decision on held-out tuning rows and sets its
    threshold.

    needs_kannada for Latin text is a decision of its own: a logistic
    regression over route_features() (the kn lane's log-odds, the share of
    words that lean to kn and to en on their own, shortness), fitted here on
    texts the lane model did not see. Its threshold is the lowest that keeps
    needs_kannada precision, over all tuning rows, at `target`: a lower one
    catches more Kannada but sends English and other text to the Kannada
    model, which is what an unsure text must not do by default. If no
    threshold reaches the target, the one that minimises miss_cost x missed
    Kannada + misrouted non-Kannada is used."""
    Wq, bias, scale, bits, nmax = model
    P = Params()
    items = []
    always = 0  # Kannada-script rows: routed whatever the threshold
    for lab, text in rows:
        g = lab in ("kn", "kn-latn", "mixed-script")
        sc = scan(text, nmax)
        if sc.kannada:
            always += g
            continue
        if not (sc.latin > 0 and sc.latin >= sc.other and
                not (sc.deva > 0 and sc.deva >= sc.latin)):
            continue
        lg = lane_logits(sc, Wq, bias, scale, bits)
        items.append((route_features(sc, lg, word_votes(sc, Wq, bits), P), g, 1.0))
    npos = sum(1 for _, g, _ in items if g)
    # Balance the classes in the fit; the threshold below sets the trade-off.
    wpos = (len(items) - npos) / max(1, npos)
    P.route_w, P.route_bias = fit_route([(x, g, wpos if g else 1.0) for x, g, _ in items],
                                        1e-3, log)
    log("  routing model: w %s bias %.3f (%d Latin texts, %d Kannada)" %
        (" ".join("%.3f" % w for w in P.route_w), P.route_bias, len(items), npos))
    probs = sorted(((route_prob(x, P), g) for x, g, _ in items), reverse=True)
    best = None
    chosen = None
    for i in range(5, 96):
        t = i / 100.0
        tp = always + sum(1 for p, g in probs if g and p >= t)
        fp = sum(1 for p, g in probs if not g and p >= t)
        fn = sum(1 for p, g in probs if g and p < t)
        prec = tp / max(1, tp + fp)
        if chosen is None and prec >= target:
            chosen = (t, tp, fp, fn, prec)
        c = (miss_cost * fn + fp, t)
        if best is None or c < best[0]:
            best = (c, (t, tp, fp, fn, prec))
    if chosen is None:
        chosen = best[1]
        log("  precision %.3f unreachable; cost-based threshold" % target)
    t, tp, fp, fn, prec = chosen
    P.route_min = t
    P.cost = miss_cost * fn + fp
    log("  threshold %.2f: tp %d fp %d fn %d, precision %.4f recall %.4f" %
        (t, tp, fp, fn, prec, tp / max(1, tp + fn)))
    return P


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", default=os.path.join(repo, "..", "shared", "langid"))
    ap.add_argument("--out", default=os.path.join(repo, "src", "text", "langid_tables.c"))
    ap.add_argument("--english", default="/usr/share/dict/american-english")
    ap.add_argument("--bits", type=int, default=17)
    ap.add_argument("--ngram-max", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--l2", type=float, default=1e-5)
    ap.add_argument("--kancmd-weight", type=float, default=3.0)
    ap.add_argument("--comment-weight", type=float, default=1.0)
    ap.add_argument("--lex-weight", type=float, default=0.1)
    ap.add_argument("--lex-max", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=20250611)
    ap.add_argument("--miss-cost", type=float, default=3.0,
                    help="cost of a missed Kannada text relative to a misrouted one, "
                         "for tuning the needs_kannada thresholds")
    ap.add_argument("--route-precision", type=float, default=0.98,
                    help="needs_kannada precision the threshold keeps on the tuning rows")
    ap.add_argument("--tune-only", action="store_true",
                    help="train on 7/8 of the groups, report on the other 1/8 and stop "
                         "(for choosing hyperparameters without looking at dev)")
    ap.add_argument("--heldout-dir", default=os.path.join(repo, "build", "langid"),
                    help="where to write the held-out real text for langid-eval")
    ap.add_argument("--eval-dev", action="store_true",
                    help="also print Python-side scores on dev.tsv and the held-out "
                         "comments; the official numbers come from build/tools/langid-eval")
    args = ap.parse_args()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t0 = time.time()
    data = args.data
    rows = read_tsv(os.path.join(data, "train.tsv"))
    with open(os.path.join(data, "train.sources.tsv"), encoding="utf-8") as f:
        srcs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    if len(srcs) != len(rows):
        sys.exit("train.sources.tsv does not match train.tsv")
    kancmd = read_tsv(os.path.join(data, "kancmd_train.tsv"))
    kc_train = [r for r in kancmd if not kancmd_is_heldout(r[1])]
    kc_held = [r for r in kancmd if kancmd_is_heldout(r[1])]
    keys = [group_key(s[0], s[1] if len(s) > 1 else "") for s in srcs]
    held_mask = [in_heldout_split(k) for k in keys]
    write_heldout(args.heldout_dir, rows, srcs, held_mask, kc_held, log)
    all_rows = rows
    # Real comments weigh more: they are what users type, and the romanized
    # Tamil and Malayalam ones are the closest confusers of Kanglish.
    rows = [(lab, text, args.comment_weight if s[0].startswith(COMMENT_TAGS) else 1.0)
            for (lab, text), s, m in zip(rows, srcs, held_mask) if not m]
    keys = [k for k, m in zip(keys, held_mask) if not m]
    tune_mask = [in_tune_split(k) for k in keys]
    kc_tune_mask = [in_tune_split("kancmd:" + t) for _, t in kc_train]
    log("train.tsv %d rows (%d held out), kancmd %d train + %d held out" %
        (len(rows), len(all_rows) - len(rows), len(kc_train), len(kc_held)))

    # 1. Thresholds: fit on 7/8 of the groups, tune on the rest.
    log("tuning fit (7/8 of the groups):")
    fit_rows = [r for r, m in zip(rows, tune_mask) if not m]
    rows2 = [(lab, text) for lab, text, _ in rows]
    fit_kc = [r for r, m in zip(kc_train, kc_tune_mask) if not m]
    tune_rows = [r for r, m in zip(rows2, tune_mask) if m]
    tune_kc = [r for r, m in zip(kc_train, kc_tune_mask) if m]
    model, _, _ = fit(fit_rows, fit_kc, args, log)
    P = tune_thresholds(tune_rows + tune_kc, model, args.route_precision, args.miss_cost, log)
    evaluate("tune split, train.tsv part", tune_rows, model, P, log)
    evaluate("tune split, kancmd part", tune_kc, model, P, log)
    if args.tune_only:
        return

    # 2. The model: fit on everything but dev.tsv and the held-out comments.
    log("final fit:")
    model, ndocs, nsent = fit(rows, kc_train, args, log)
    if args.eval_dev:
        evaluate("kancmd held-out", kc_held, model, P, log)
        for name in ("heldout-comments.tsv", "heldout-real.tsv"):
            evaluate(name, read_tsv(os.path.join(args.heldout_dir, name)), model, P, log)
        evaluate("dev", read_tsv(os.path.join(data, "dev.tsv")), model, P, log)

    Wq, bias, qscale, bits, nmax = model
    golden = []
    golden_route = []
    for t in GOLDEN_TEXTS:
        sc = scan(t, nmax)
        votes = word_votes(sc, Wq, bits)
        lg = lane_logits(sc, Wq, bias, qscale, bits)
        golden_route.append((votes, route_prob(route_features(sc, lg, votes, P), P)))
        golden.append((t, lane_logits(sc, Wq, bias, qscale, bits)))
    summary = ["Model: %d buckets x %d lanes, character 2..%d-grams and whole words," %
               (1 << bits, NLANES, nmax),
               "%d sentence and %d lexicon-word documents, %d epochs." %
               (nsent, ndocs - nsent, args.epochs)]
    cmd = "nice python3 tools/langid/train.py" + "".join(
        " " + a for a in sys.argv[1:] if not a.startswith(("--eval", "--heldout-dir")))
    golden = [(t, lg, v, pr) for (t, lg), (v, pr) in zip(golden, golden_route)]
    write_tables(args.out, cmd, Wq, bias, qscale, bits, nmax, P, golden, summary)
    log("wrote %s (%d bytes) in %.0f s" % (args.out, os.path.getsize(args.out), time.time() - t0))


if __name__ == "__main__":
    main()
