#!/usr/bin/env bash
# bench/instr.sh: user-space instructions per relayed request, hermod
# against nginx, counted by valgrind's callgrind under the same wrk load.
#
# Wall-clock figures on a shared 2-core machine move by +-30% from one run
# to the next (bench/README.md); an instruction count does not. Each proxy
# runs under callgrind with collection off; wrk warms it up for 2 s, then
# collection is switched on (callgrind_control -i on) for DUR seconds of
# wrk -c32 and off again. The requests counted are the proxy's own: calls
# of upstream_start (hermod) or ngx_http_create_request (nginx) inside the
# window. Kernel time (system calls) is not in these counts: see
# bench/gateway.sh for the wall-clock side.
#
#   bench/instr.sh                 # small chat request (78 bytes)
#   BODY=big bench/instr.sh        # an 8 KB chat request (20 turns, Kannada in Latin letters)
#   ROUNDS=3 bench/instr.sh        # medians of 3 rounds each
#   HERMOD=/path/to/hermod bench/instr.sh   # another build (an A/B in one sitting)
#
# Needs valgrind, wrk, nginx (apt-get install valgrind wrk nginx-light).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-1}
DUR=${DUR:-3}
BODY=${BODY:-small}
make -s build/hermod build/fake-engine >/dev/null
HERMOD=${HERMOD:-build/hermod}
for tool in valgrind callgrind_control callgrind_annotate wrk nginx; do
    command -v $tool >/dev/null || { echo "bench: $tool is missing (apt-get install valgrind wrk nginx-light)" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/hermod-instr.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    rm -rf "$dir"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
E1=$(port)
build/fake-engine --port "$E1" --chunks 1 --alias bench >/dev/null 2>&1 & pids+=($!)

if [ "$BODY" = big ]; then
    python3 - "$dir/body.json" <<'EOF'
import json, sys
msgs = [{"role": "system", "content": "You are a helpful assistant. " * 10}]
for i in range(20):
    msgs.append({"role": "user" if i % 2 == 0 else "assistant",
                 "content": "Namaskara, naanu ninna jothe maathaadabeku. How are you doing today? " * 5})
open(sys.argv[1], "w").write(json.dumps({"model": "bench", "messages": msgs, "max_tokens": 512, "temperature": 0.7}))
EOF
else
    printf '%s' '{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":8}' > "$dir/body.json"
fi
cat > "$dir/post.lua" <<EOF
local f = io.open("$dir/body.json"); local b = f:read("*a"); f:close()
wrk.method = "POST"
wrk.body = b
wrk.headers["Content-Type"] = "application/json"
EOF

run() { # run hermod|nginx -> "REQUESTS IR"
    local who=$1 d=$dir/$1 P URL fn
    mkdir -p "$d/ng"
    P=$(port)
    if [ "$who" = hermod ]; then
        printf 'listen: 127.0.0.1:%s\nlog_level: info\nmodels:\n  - name: bench\n    engines:\n      - kind: openai\n        url: http://127.0.0.1:%s\n' "$P" "$E1" > "$d/h.yaml"
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$d/cg.out" \
            "$HERMOD" serve --config "$d/h.yaml" 2>"$d/log" & VP=$!
        URL=http://127.0.0.1:$P/v1/chat/completions
        fn=upstream_start
    else
        cat > "$d/n.conf" <<EOF
worker_processes 1; master_process off; daemon off;
pid $d/nginx.pid; error_log $d/err.log warn; user root;
events { worker_connections 4096; }
http { access_log $d/acc.log; client_body_temp_path $d/ng; proxy_temp_path $d/ng;
 client_body_buffer_size 64k;
 upstream e1 { server 127.0.0.1:$E1; keepalive 64; }
 server { listen 127.0.0.1:$P; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;
  location /e1/ { proxy_pass http://e1/; } } }
EOF
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$d/cg.out" \
            nginx -c "$d/n.conf" -p "$d" 2>"$d/log" & VP=$!
        URL=http://127.0.0.1:$P/e1/v1/chat/completions
        fn=ngx_http_create_request
    fi
    for _ in $(seq 150); do curl -sf -o /dev/null -XPOST --data-binary @"$dir/body.json" "$URL" && break; sleep 0.2; done
    wrk -t2 -c32 -d2s -s "$dir/post.lua" "$URL" >/dev/null
    callgrind_control -i on "$VP" >/dev/null
    wrk -t2 -c32 -d"${DUR}s" -s "$dir/post.lua" "$URL" >/dev/null
    callgrind_control -i off "$VP" >/dev/null
    callgrind_control -d "$VP" >/dev/null
    sleep 0.5
    kill "$VP"; wait "$VP" 2>/dev/null || true
    local f=$d/cg.out.1 # the dump; cg.out is written at exit, with collection off
    local ir calls
    ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
    calls=$(callgrind_annotate --tree=calling "$f" 2>/dev/null | grep -E ">   .*[:]$fn \\(" |
            sed 's/.*(\([0-9,]*\)x).*/\1/' | tr -d , | awk '{s += $1} END {print s + 0}')
    [ -n "${KEEP:-}" ] && cp "$f" "/tmp/instr-$who.out"; rm -f "$d"/cg.out*
    echo "$calls $ir"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
H=() N=()
for _ in $(seq "$ROUNDS"); do
    read -r hc hi < <(run hermod)
    read -r nc ni < <(run nginx)
    H+=("$((hi / hc))") N+=("$((ni / nc))")
done
h=$(printf '%s\n' "${H[@]}" | median); n=$(printf '%s\n' "${N[@]}" | median)
echo "hermod instructions per request — $(date -u +%Y-%m-%dT%H:%MZ), $HERMOD at $(git rev-parse --short HEAD), body $BODY ($(wc -c < "$dir/body.json") bytes), wrk -c32, ${ROUNDS} round(s) x ${DUR}s"
printf '%-34s %12s %12s\n' "" nginx hermod
printf '%-34s %12s %12s\n' "user instructions / request" "$n" "$h"
printf '%-34s %12s %12s\n' "  each round" "${N[*]}" "${H[*]}"
printf '%-34s %12s %12.2f\n' "  hermod / nginx" "" "$(echo "$h / $n" | bc -l)"
