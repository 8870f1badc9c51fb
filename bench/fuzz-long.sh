#!/bin/sh
# bench/fuzz-long.sh [SECONDS]: the long fuzz run issue 11 asks for, each
# libFuzzer harness for SECONDS of one CPU (default 3600, one CPU-hour),
# one after the other, so a 2-core machine stays usable. Appends the
# "fuzz NAME: RUNS runs, CRASHES crashes" lines, with the date and commit,
# to bench/results/fuzz-long.txt. Ten harnesses: about 10 hours.
#
#   bench/fuzz-long.sh            # the full run
#   bench/fuzz-long.sh 60         # a minute each, to try it
set -eu
cd "$(dirname "$0")/.."
secs=${1:-3600}
make -j2 $(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/|build/fuzz/|; s|\.c$||')
names=$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')
mkdir -p bench/results
out=bench/results/fuzz-long.txt
{
    echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD) ${secs}s per harness, $(nproc) cores"
    # shellcheck disable=SC2086
    scripts/fuzz "$secs" $names
} | tee -a "$out"
