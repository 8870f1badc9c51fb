#!/usr/bin/env bash
# bench/langid.sh [DATA_DIR]: accuracy and speed of the language identifier.
#
# Builds build/tools/langid-eval and build/bench/langid, then prints
#   - accuracy on DATA_DIR/dev.tsv and on the held-out fifth of
#     DATA_DIR/kancmd_train.tsv (the split train.py leaves out), and
#   - speed on one core: MB/s per message and in bulk, and the time for a
#     1 KiB message, on the built-in chat messages and on dev.tsv;
#   - `hermod langid` on 64 MiB of lines (the texts of train.tsv, dev.tsv
#     and kancmd_train.tsv, repeated), pinned to CPU 0, output piped:
#     MB/s of input, median and spread of 5 runs.
# Accuracy on the held-out real text needs build/langid/heldout-*.tsv, which
# tools/langid/train.py writes; the PR curve goes to bench/results/.
# DATA_DIR defaults to ../shared/langid. Without it only speed is measured.
# Results of a run are kept in bench/README-langid.md.
set -eu
cd "$(dirname "$0")/.."
data=${1:-../shared/langid}

make -j2 --no-print-directory build/hermod build/tools/langid-eval build/bench/langid >/dev/null

echo "## machine"
echo "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo

if [ -f "$data/dev.tsv" ]; then
    echo "## accuracy"
    build/tools/langid-eval "$data/dev.tsv"
    build/tools/langid-eval --part heldout "$data/kancmd_train.tsv"
    if [ -f build/langid/heldout-real.tsv ]; then
        mkdir -p bench/results
        build/tools/langid-eval --pr bench/results/langid-pr-heldout-comments.tsv \
            build/langid/heldout-comments.tsv
        build/tools/langid-eval --pr bench/results/langid-pr-heldout-real.tsv \
            build/langid/heldout-real.tsv
        build/tools/langid-eval --pr bench/results/langid-pr-dev.tsv "$data/dev.tsv" >/dev/null
    fi
else
    echo "## accuracy: skipped ($data/dev.tsv not found)"
    echo
fi

echo "## speed (one core; best of 5 rounds)"
echo "### built-in chat messages"
build/bench/langid
if [ -f "$data/dev.tsv" ]; then
    echo "### dev.tsv, one message per line"
    build/bench/langid "$data/dev.tsv"
fi

if [ -f "$data/dev.tsv" ]; then
    echo "### hermod langid: 64 MiB of lines, taskset -c 0, output piped"
    lines=$(mktemp /tmp/langid-lines.XXXXXX)
    trap 'rm -f "$lines"' EXIT
    for i in $(seq 40); do
        cut -f2 "$data/train.tsv" "$data/dev.tsv" "$data/kancmd_train.tsv"
    done | head -c $((64 << 20)) | sed '$d' >"$lines"
    size=$(stat -c %s "$lines")
    for i in 1 2 3 4 5; do
        s=$(date +%s.%N)
        taskset -c 0 build/hermod langid <"$lines" | cat >/dev/null
        e=$(date +%s.%N)
        echo "$size $s $e" | awk '{printf "%.1f\n", $1 / ($3 - $2) / 1e6}'
    done | sort -n | awk '{v[NR] = $1} END {printf "%d bytes, %d lines: median %.1f MB/s (min %.1f, max %.1f, 5 runs)\n", '"$size"', '"$(wc -l <"$lines")"', v[3], v[1], v[5]}'
fi
