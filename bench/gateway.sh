#!/usr/bin/env bash
# bench/gateway.sh: what hermod costs as a proxy, against nginx, in one run.
#
# Starts the fake engine, hermod and nginx (Debian's, as a streaming reverse
# proxy with upstream keep-alive: the reference for a proxy written in C),
# and measures, each against the direct engine in the same invocation:
#   1. added latency of a small non-streamed request at 1 connection, with
#      client, proxy and engine pinned to one CPU;
#   2. requests/s at 32 connections (unpinned) and the proxy's CPU time per
#      request;
#   3. streamed time to first byte and per-chunk delay at 0 and 10 ms pacing
#      (the engine stamps each chunk with its send time);
#   4. RSS idle and under load.
# Every figure is a median of ROUNDS interleaved rounds. Needs wrk, nginx
# (`apt-get install wrk nginx-light`) and taskset.
#
# At 32 connections client, proxy and engine share the machine's CPUs, so
# requests/s is the CPUs over the CPU time all three spend per request;
# the report gives that split (wrk's from `times`, the others' from
# /proc). The small requests go to build/bench/streams_engine (one libuv
# loop, ~20 µs a request) by default: the fake engine's thread per
# connection spends 50-90 µs a request, more than either proxy, and its
# 32 runnable threads take the proxy's share of the CPUs, so the ratio
# then measured the scheduler (bench/README.md, 2026-12-07).
# ENGINE=fake measures with it all the same.
set -euo pipefail
cd "$(dirname "$0")/.."
# 7 rounds: on the 2-core VM one round's req/s ratio moves 0.70-1.38, so the
# median of 3 could land anywhere in 0.8-1.1 (bench/README.md, 2026-12-07).
ROUNDS=${ROUNDS:-7}
DUR=${DUR:-5}
make -s build/hermod build/fake-engine build/bench/sse_client build/bench/streams_engine >/dev/null
HERMOD=${HERMOD:-build/hermod}   # another build, for an A/B in one sitting

for tool in wrk nginx taskset; do
    command -v $tool >/dev/null || { echo "bench: $tool is missing (apt-get install wrk nginx-light util-linux)" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/hermod-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    sleep 0.2
    rm -rf "$dir"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
E1=$(port); E2=$(port); E3=$(port); HP=$(port); NP=$(port)

# engines: E1 small non-streamed answers; E2 streams paced 10 ms; E3 unpaced
# ENGINE=event (the default) answers the small requests with
# build/bench/streams_engine; ENGINE=fake with the fake engine.
if [ "${ENGINE:-event}" = event ]; then
    build/bench/streams_engine --port "$E1" --alias bench >/dev/null 2>&1 & pids+=($!)
else
    build/fake-engine --port "$E1" --chunks 1 --alias bench >/dev/null 2>&1 & pids+=($!)
fi
E1PID=${pids[0]}
build/fake-engine --port "$E2" --bench --chunks 100 --chunk-delay 10 >/dev/null 2>&1 & pids+=($!)
build/fake-engine --port "$E3" --bench --chunks 400 >/dev/null 2>&1 & pids+=($!)
ENGINE_PIDS="${pids[*]}"

cat > "$dir/hermod.yaml" <<EOF
listen: 127.0.0.1:$HP
log_level: info
models:
  - name: bench
    engines:
      - kind: openai
        url: http://127.0.0.1:$E1
  - name: paced
    engines:
      - kind: openai
        url: http://127.0.0.1:$E2
        model: fake-model
  - name: unpaced
    engines:
      - kind: openai
        url: http://127.0.0.1:$E3
        model: fake-model
EOF
"$HERMOD" serve --config "$dir/hermod.yaml" 2>"$dir/hermod.log" & HPID=$!; pids+=($HPID)

mkdir -p "$dir/nginx"
cat > "$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
user root;
events { worker_connections 4096; }
http {
    access_log $dir/nginx-access.log;
    client_body_temp_path $dir/nginx;
    proxy_temp_path $dir/nginx;
    upstream e1 { server 127.0.0.1:$E1; keepalive 64; }
    upstream e2 { server 127.0.0.1:$E2; keepalive 64; }
    upstream e3 { server 127.0.0.1:$E3; keepalive 64; }
    server {
        listen 127.0.0.1:$NP;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        location /e1/ { proxy_pass http://e1/; }
        location /e2/ { proxy_pass http://e2/; }
        location /e3/ { proxy_pass http://e3/; }
    }
}
EOF
nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon on;'
sleep 0.5
NPIDS="$(cat "$dir/nginx.pid") $(pgrep -P "$(cat "$dir/nginx.pid")" | tr '\n' ' ')"

for i in $(seq 50); do curl -sf "http://127.0.0.1:$HP/health" >/dev/null && break; sleep 0.1; done
# Warm hermod's health check of the engines.
sleep 0.5

cat > "$dir/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
wrk.headers["Content-Type"] = "application/json"
EOF

declare -A URL=(
    [direct]="http://127.0.0.1:$E1/v1/chat/completions"
    [nginx]="http://127.0.0.1:$NP/e1/v1/chat/completions"
    [hermod]="http://127.0.0.1:$HP/v1/chat/completions"
)
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
pin_all() { # pin_all CPUS: engine, hermod, nginx to CPUS
    for p in $ENGINE_PIDS $HPID $NPIDS; do taskset -a -p -c "$1" "$p" >/dev/null; done
}
to_us() { # wrk latency value ("52.00us", "1.20ms", "2.01s") -> µs
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

IDLE_RSS=$(rss_kb $HPID)
NGINX_WORKER=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -1)
NGINX_IDLE_RSS=$(( $(rss_kb "$(cat "$dir/nginx.pid")") + $(rss_kb "$NGINX_WORKER") ))
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# The CPU time (µs) of this shell's waited-for children (wrk's, once it
# ended) in FILE, written by `times > FILE` in this shell, not a subshell.
child_cpu_us() {
    awk 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000000 }' "$1"
}

declare -A P50 RPS CPU CLI ENG
for round in $(seq "$ROUNDS"); do
    # 1. pinned, one connection
    pin_all 0
    for t in direct nginx hermod; do
        out=$(taskset -c 0 wrk -t1 -c1 -d"${DUR}s" --latency -s "$dir/post.lua" "${URL[$t]}")
        v=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
        P50[$t]+="$(to_us "$v") "
    done
    # 2. unpinned, 32 connections
    pin_all 0,1
    for t in direct nginx hermod; do
        case $t in hermod) who=$HPID ;; nginx) who=$NGINX_WORKER ;; *) who="" ;; esac
        before=$([ -n "$who" ] && cpu_ticks $who || echo 0)
        e0=$(cpu_ticks $E1PID); times > "$dir/times.0"
        out=$(wrk -t2 -c32 -d"${DUR}s" -s "$dir/post.lua" "${URL[$t]}")
        e1=$(cpu_ticks $E1PID); times > "$dir/times.1"
        c0=$(child_cpu_us "$dir/times.0"); c1=$(child_cpu_us "$dir/times.1")
        after=$([ -n "$who" ] && cpu_ticks $who || echo 0)
        [ "$t" = hermod ] && LOAD_RSS=$(rss_kb $HPID)
        reqs=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
        RPS[$t]+="$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}') "
        [ -n "$who" ] && CPU[$t]+="$(awk -v d=$((after - before)) -v r="$reqs" -v u=$TICK_US 'BEGIN {printf "%.1f", d * u / r}') "
        ENG[$t]+="$(awk -v d=$((e1 - e0)) -v r="$reqs" -v u=$TICK_US 'BEGIN {printf "%.1f", d * u / r}') "
        CLI[$t]+="$(awk -v d=$((c1 - c0)) -v r="$reqs" 'BEGIN {printf "%.1f", d / r}') "
    done
done

med() { printf '%s\n' $1 | median; }
d50=$(med "${P50[direct]}"); n50=$(med "${P50[nginx]}"); h50=$(med "${P50[hermod]}")
drps=$(med "${RPS[direct]}"); nrps=$(med "${RPS[nginx]}"); hrps=$(med "${RPS[hermod]}")
ncpu=$(med "${CPU[nginx]}"); hcpu=$(med "${CPU[hermod]}")

# 3. streaming
stream() { # stream URL MODEL
    build/bench/sse_client "$1" "$2" "${3:-5}"
}
declare -A ST
for round in $(seq "$ROUNDS"); do
    ST[direct10]+="$(stream "http://127.0.0.1:$E2/v1/chat/completions" x)|"
    ST[nginx10]+="$(stream "http://127.0.0.1:$NP/e2/v1/chat/completions" x)|"
    ST[hermod10]+="$(stream "http://127.0.0.1:$HP/v1/chat/completions" paced)|"
    ST[direct0]+="$(stream "http://127.0.0.1:$E3/v1/chat/completions" x 20)|"
    ST[nginx0]+="$(stream "http://127.0.0.1:$NP/e3/v1/chat/completions" x 20)|"
    ST[hermod0]+="$(stream "http://127.0.0.1:$HP/v1/chat/completions" unpaced 20)|"
done
field() { # field KEY NAME: median over rounds of NAME=VALUE in ST[KEY]
    printf '%s' "${ST[$1]}" | tr '|' '\n' | grep -o "$2=[0-9.]*" | cut -d= -f2 | median
}

echo "hermod gateway benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), 1 worker, proxy_buffering off, upstream keepalive; wrk; ${ROUNDS} rounds x ${DUR}s, medians"
echo "engine for the small requests: ${ENGINE:-event}"
echo
printf '%-44s %12s %12s %12s\n' "" direct nginx hermod
printf '%-44s %12.1f %12.1f %12.1f\n' "p50 latency, 1 conn, pinned to 1 CPU (µs)" "$d50" "$n50" "$h50"
printf '%-44s %12s %12.1f %12.1f\n' "  added over direct (µs)" "-" "$(echo "$n50 - $d50" | bc -l)" "$(echo "$h50 - $d50" | bc -l)"
printf '%-44s %12.0f %12.0f %12.0f\n' "requests/s, 32 conns" "$drps" "$nrps" "$hrps"
printf '%-44s %12s %12.2f %12.2f\n' "  ratio to direct" "1.00" "$(echo "$nrps / $drps" | bc -l)" "$(echo "$hrps / $drps" | bc -l)"
printf '%-44s %12s %12s %12.2f\n' "  hermod / nginx" "" "" "$(echo "$hrps / $nrps" | bc -l)"
# The same ratio round by round (paired runs), for its spread.
pr=$(paste -d' ' <(printf '%s\n' ${RPS[hermod]}) <(printf '%s\n' ${RPS[nginx]}) |
     awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1 / $2}')
printf '%-44s %38s\n' "  hermod / nginx, each round" "$pr"
printf '%-44s %12s %12s %12.2f\n' "  hermod / nginx, median of the rounds" "" "" \
    "$(printf '%s\n' $pr | median)"
pc=$(paste -d' ' <(printf '%s\n' ${CPU[hermod]}) <(printf '%s\n' ${CPU[nginx]}) |
     awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1 / $2}')
printf '%-44s %38s\n' "  CPU/request hermod / nginx, each round" "$pc"
pl=$(paste -d' ' <(printf '%s\n' ${P50[hermod]}) <(printf '%s\n' ${P50[nginx]}) <(printf '%s\n' ${P50[direct]}) |
     awk '{printf "%s%+.0f", (NR > 1 ? " " : ""), ($1 - $3) - ($2 - $3)}')
printf '%-44s %38s\n' "  added p50 hermod - nginx (µs), each round" "$pl"
printf '%-44s %12s %12.1f %12.1f\n' "proxy CPU per request (µs)" "-" "$ncpu" "$hcpu"
printf '%-44s %12.1f %12.1f %12.1f\n' "  client (wrk) CPU per request (µs)" \
    "$(med "${CLI[direct]}")" "$(med "${CLI[nginx]}")" "$(med "${CLI[hermod]}")"
printf '%-44s %12.1f %12.1f %12.1f\n' "  engine CPU per request (µs)" \
    "$(med "${ENG[direct]}")" "$(med "${ENG[nginx]}")" "$(med "${ENG[hermod]}")"
for pace in 10 0; do
    printf '%-44s %12.1f %12.1f %12.1f\n' "stream ${pace} ms pacing: per-chunk delay p50 (µs)" \
        "$(field direct$pace chunk_p50_us)" "$(field nginx$pace chunk_p50_us)" "$(field hermod$pace chunk_p50_us)"
    printf '%-44s %12.1f %12.1f %12.1f\n' "stream ${pace} ms pacing: per-chunk delay p99 (µs)" \
        "$(field direct$pace chunk_p99_us)" "$(field nginx$pace chunk_p99_us)" "$(field hermod$pace chunk_p99_us)"
    printf '%-44s %12.1f %12.1f %12.1f\n' "stream ${pace} ms pacing: TTFB p50 (µs)" \
        "$(field direct$pace ttfb_p50_us)" "$(field nginx$pace ttfb_p50_us)" "$(field hermod$pace ttfb_p50_us)"
done
printf '%-44s %12s %12s %12s\n' "RSS idle (KiB)" "-" "$NGINX_IDLE_RSS" "$IDLE_RSS"
printf '%-44s %12s %12s %12s\n' "RSS after load (KiB)" "-" "-" "$LOAD_RSS"
