#!/bin/bash
# bench/gpu/run.sh PHASE: the GPU scenarios of issue 5, run on the device
# machine from the repository root (see bench/README.md, "GPU"). Needs:
#   LLAMA_SERVER        a llama-server binary built with CUDA (not ours, not
#                       built here)
#   VOCAB_GGUF          a vocab-only GGUF for a real tokenizer (default
#                       .gpu/ggml-vocab-llama-spm.gguf; fetched, never committed)
#   .gpu/bundle/        hermod, gguf-gen and their libraries (bundle.sh)
#
# PHASE decode: writes the Qwen3-30B-A3B-shaped Q4_K model, measures
#   decode through hermod vs direct and the cold start.
# PHASE memory+swap: writes each generated model in turn and compares
#   hermod's estimate with the engine's real use; then the swap scenario.
# A phase rebuilds what a fresh machine lacks, so each can run alone.
set -uo pipefail
cd "$(dirname "$0")/../.." 2>/dev/null || true
ROOT=$PWD
G=$ROOT/.gpu
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
M=/dev/shm/hermod-models
mkdir -p "$M"
B=$G/bundle
export HERMOD="$B/hermod" HERMOD_LD="$B/lib/ld-linux-x86-64.so.2"
export HERMOD_LIBS="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}:/usr/local/nvidia/lib64:/usr/lib/x86_64-linux-gnu"
LOGS=/tmp/hermod-bench-logs
mkdir -p "$LOGS"
export OUT LOGS
pack_logs() { tar czf "$OUT/logs.tar.gz" -C "$LOGS" . 2>/dev/null; }
trap pack_logs EXIT
gen() { "$HERMOD_LD" --library-path "$HERMOD_LIBS" "$B/gguf-gen" "$@"; }
say() { echo "== $(date +%T) $*"; }

model() { # model PRESET TYPE -> path (written if missing)
    local f="$M/$1-$2.gguf"
    if [ ! -f "$f" ]; then
        local t0=$(date +%s.%N)
        gen --preset "$1" --type "$2" --vocab "${VOCAB_GGUF:-$G/ggml-vocab-llama-spm.gguf}" --out "$f" >&2 ||
            { echo "gguf-gen failed for $1 $2" >&2; return 1; }
        echo "wrote $f ($(du -h "$f" | cut -f1)) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s" >&2
    fi
    echo "$f"
}

say "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "$(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r)"
"$HERMOD_LD" --library-path "$HERMOD_LIBS" "$HERMOD" version || exit 1

# llama-server is not ours: it is built by hand from a fetched llama.cpp
# (bench/README.md, "GPU") and named here; this script never builds it.
if [ -z "${LLAMA_SERVER:-}" ] || [ ! -x "$LLAMA_SERVER" ]; then
    echo "bench/gpu/run.sh: set LLAMA_SERVER to a llama-server built with CUDA" >&2
    exit 1
fi
# the GPU machine has no network: nothing for llama-server to download
case "${1:-all}" in
decode | build+decode)
    Q=$(model qwen3moe-30b-a3b q4_k) || exit 1
    say "decode: direct vs through hermod"
    python3 "$ROOT/bench/gpu/bench.py" decode "$Q"
    say "cold start"
    python3 "$ROOT/bench/gpu/bench.py" cold "$Q" 5
    ;;
cold)
    Q=$(model qwen3moe-30b-a3b q4_k) || exit 1
    say "cold start, model in page cache"
    python3 "$ROOT/bench/gpu/bench.py" cold "$Q" 5
    say "which llama-server verbosity prints the buffer report hermod reads"
    for lv in 3 4; do
        port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
        $LLAMA_SERVER -m "$Q" --port $port -c 4096 -np 8 -ngl 999 -fa on --no-webui -lv $lv > "$LOGS/lv$lv.log" 2>&1 &
        lp=$!
        for i in $(seq 600); do curl -sf localhost:$port/health >/dev/null 2>&1 && break; sleep 0.05; done
        kill $lp; wait $lp 2>/dev/null
        echo "  -lv $lv: $(grep -c 'buffer size' "$LOGS/lv$lv.log") buffer-size lines"
        grep 'buffer size' "$LOGS/lv$lv.log" | head -6
    done
    say "cold start, caches dropped (model on disk)"
    mkdir -p /root/hermod-models && cp "$Q" /root/hermod-models/ && rm -f "$Q"
    python3 "$ROOT/bench/gpu/bench.py" cold /root/hermod-models/$(basename "$Q") 2 drop
    ;;
memory+swap)
    for spec in "qwen3moe-30b-a3b q4_k" "llama-8b q4_k" "llama-8b q8_0" "nemotron-h q4_k" \
                "qwen3moe-30b-a3b q8_0" "nemotron-h q8_0"; do
        set -- $spec
        f=$(model "$1" "$2") || continue
        say "memory: $1 $2"
        python3 "$ROOT/bench/gpu/bench.py" memory "$f"
        case "$1-$2" in qwen3moe-30b-a3b-q4_k|llama-8b-q8_0) ;; *) rm -f "$f" ;; esac
    done
    say "swap: two models that cannot both fit 24 GiB"
    python3 "$ROOT/bench/gpu/bench.py" swap "$(model qwen3moe-30b-a3b q4_k)" "$(model llama-8b q8_0)" 60
    ;;
esac
say "done"
