#!/usr/bin/env bash
# bench/fuzz-long.sh [SECONDS] [NAME...]: the long fuzz run issue 11 asks for:
# each libFuzzer harness until it has had SECONDS of CPU time (default 3600,
# one CPU-hour), JOBS harnesses at a time (default 1, so a 2-core machine
# stays usable). A harness runs in pieces of at most 15 wall-clock minutes
# over one corpus that it keeps, until its CPU time (user + system, from
# the shell's `times`) reaches SECONDS: on a busy machine a wall-clock hour
# is less than a CPU-hour. Appends to bench/results/fuzz-long.txt, per
# harness, the line
#
#   fuzz NAME: RUNS runs, CRASHES crashes
#
# with the CPU seconds it had, after a line with the date and commit. A
# crash ends the harness; its input is kept as build/fuzz/artifacts/NAME-*.
# Do not stop (SIGSTOP) a harness to free the CPU for a while: libFuzzer's
# -timeout is wall-clock time, and the unit it was running is then reported
# as a timeout. nice it instead (this script does, at 10).
#
#   bench/fuzz-long.sh                          # every harness, an hour each
#   JOBS=2 bench/fuzz-long.sh 3600 http request # two of them, side by side
#   bench/fuzz-long.sh 60                       # a minute each, to try it
set -eu
cd "$(dirname "$0")/.."
secs=${1:-3600}
[ $# -gt 0 ] && shift
names=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')}
JOBS=${JOBS:-1}
# shellcheck disable=SC2046 # (flock: two runs side by side share build/fuzz)
mkdir -p build && flock build/.fuzz-long.lock make -j2 $(for n in $names; do echo "build/fuzz/fuzz_$n"; done) >/dev/null
mkdir -p bench/results
out=bench/results/fuzz-long.txt
tmp=$(mktemp -d /tmp/hermod-fuzz-long.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

one() { # one NAME: the harness's line and its CPU seconds, into $tmp/NAME.*
    local n=$1
    (
        cpu=0 runs=0 crashes=0
        while [ "$cpu" -lt "$secs" ] && [ "$crashes" -eq 0 ]; do
            left=$((secs - cpu))
            piece=$((left > 900 ? 900 : left < 30 ? 30 : left))
            # scripts/fuzz prints "fuzz NAME: RUNS runs, CRASHES crashes"
            # and, after a crash, the report's tail
            FUZZ_CORPUS=$tmp nice -n 10 scripts/fuzz "$piece" "$n" >"$tmp/$n.piece" 2>&1 || true
            set -- $(sed -n "s/^fuzz $n: \([0-9]*\) runs, \([0-9]*\) crashes$/\1 \2/p" "$tmp/$n.piece")
            runs=$((runs + ${1:-0}))
            crashes=${2:-1}
            # the CPU time of this subshell's children so far (libFuzzer's);
            # `times` in a pipe or $(...) would be another subshell's
            times >"$tmp/$n.times"
            cpu=$(tail -1 "$tmp/$n.times" | awk '{
                split($1, u, "m"); split($2, s, "m");
                printf "%.0f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
        done
        echo "fuzz $n: $runs runs, $crashes crashes" >"$tmp/$n.line"
        [ "$crashes" -ne 0 ] && grep -v "^fuzz $n: " "$tmp/$n.piece" >>"$tmp/$n.line"
        echo "$cpu" >"$tmp/$n.cpu"
    )
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD) ${secs} CPU-s per harness, $JOBS at a time, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
running=0
for n in $names; do
    one "$n" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait
for n in $names; do
    line=$(head -1 "$tmp/$n.line" 2>/dev/null || echo "fuzz $n: did not run")
    cpu=$(cat "$tmp/$n.cpu" 2>/dev/null || echo 0)
    echo "$line (CPU ${cpu} s)" | tee -a "$out"
    # a crash's report: on the terminal, not in the record
    tail -n +2 "$tmp/$n.line" 2>/dev/null || true
done
