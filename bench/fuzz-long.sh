#!/usr/bin/env bash
# bench/fuzz-long.sh [SECONDS] [NAME...]: the long fuzz run issue 11 asks for,
# each libFuzzer harness for SECONDS on one CPU (default 3600, one CPU-hour),
# JOBS harnesses at a time (default 1, so a 2-core machine stays usable).
# Appends to bench/results/fuzz-long.txt, per harness, the line
#
#   fuzz NAME: RUNS runs, CRASHES crashes
#
# followed by the CPU time the harness really had (user + system seconds,
# from the shell's `times`), with the date and commit: on a busy machine a
# wall-clock hour can be less than a CPU-hour, and the record says so.
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
# shellcheck disable=SC2046
make -j2 $(for n in $names; do echo "build/fuzz/fuzz_$n"; done) >/dev/null
mkdir -p bench/results
out=bench/results/fuzz-long.txt
tmp=$(mktemp -d /tmp/hermod-fuzz-long.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

one() { # one NAME: the harness's line and its CPU seconds, into $tmp/NAME
    local n=$1
    (
        scripts/fuzz "$secs" "$n" > "$tmp/$n.line" 2> "$tmp/$n.err" || true
        # the CPU time of this subshell's children: libFuzzer and its workers
        times > "$tmp/$n.times"
        tail -1 "$tmp/$n.times" | awk '{
            split($1, u, "m"); split($2, s, "m");
            printf "%.0f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' > "$tmp/$n.cpu"
    )
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD) ${secs}s wall per harness, $JOBS at a time, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
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
    line=$(cat "$tmp/$n.line" 2>/dev/null || echo "fuzz $n: did not run")
    cpu=$(cat "$tmp/$n.cpu" 2>/dev/null || echo 0)
    echo "$line (CPU ${cpu} s)" | tee -a "$out"
    [ -s "$tmp/$n.line" ] && grep -v '^fuzz ' "$tmp/$n.line" | head -40
done
