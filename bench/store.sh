#!/usr/bin/env bash
# bench/store.sh: the store and transliteration measurements behind
# bench/README-store.md. Prints Markdown on stdout.
#
#   bench/store.sh [N]      N episodes for the search benchmark (100000)
#
# Runs under nice: the build machine is shared. The transliteration part
# needs ../shared/langid/lexicon/kn_script_to_latin_pairs.tsv (or
# TRANSLIT_PAIRS=path); it is skipped when the file is not there.
set -eu
cd "$(dirname "$0")/.."
n=${1:-100000}
pairs=${TRANSLIT_PAIRS:-../shared/langid/lexicon/kn_script_to_latin_pairs.tsv}
db=${TMPDIR:-/tmp}/hermod-bench-store.$$.db

make --no-print-directory -j2 build/bench/store build/bench/translit >&2

echo "## Store, $n synthetic episodes"
echo
echo "$(uname -m), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo
nice -n 10 build/bench/store --db "$db" --n "$n" --runs 200 --durable 300
echo
echo "## FTS5 tokenizers on Kannada script"
nice -n 10 build/bench/store --db "$db" --n 20000 --tokenizers
echo
if [ -f "$pairs" ]; then
    echo "## Transliteration keys"
    echo
    echo '```'
    nice -n 10 build/bench/translit "$pairs" --rules
    echo '```'
else
    echo "(no $pairs: transliteration measurement skipped)"
fi
