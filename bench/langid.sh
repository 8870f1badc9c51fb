#!/usr/bin/env bash
# bench/langid.sh [DATA_DIR]: accuracy and speed of the language identifier.
#
# Builds build/tools/langid-eval and build/bench/langid, then prints
#   - accuracy on DATA_DIR/dev.tsv and on the held-out fifth of
#     DATA_DIR/kancmd_train.tsv (the split train.py leaves out), and
#   - speed on one core: MB/s per message and in bulk, and the time for a
#     1 KiB message, on the built-in chat messages and on dev.tsv.
# DATA_DIR defaults to ../shared/langid. Without it only speed is measured.
# Results of a run are kept in bench/README-langid.md.
set -eu
cd "$(dirname "$0")/.."
data=${1:-../shared/langid}

make -j2 --no-print-directory build/tools/langid-eval build/bench/langid >/dev/null

echo "## machine"
echo "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo

if [ -f "$data/dev.tsv" ]; then
    echo "## accuracy"
    build/tools/langid-eval "$data/dev.tsv"
    build/tools/langid-eval --part heldout "$data/kancmd_train.tsv"
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
