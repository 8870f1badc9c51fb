#!/usr/bin/env python3
"""bench/gpu/bench.py: hermod in front of a real llama-server on a GPU.

Standard library only (the GPU machine has no node and no network). Each
scenario runs its baseline in the same invocation, so ratios hold on a
noisy machine:

  decode   tokens/s of long streamed generations, direct to llama-server
           vs through hermod, 1 and 8 concurrent streams
  cold     llama-server's own start-to-ready vs the first byte through
           hermod of a request that starts the engine
  memory   hermod's estimate (hermod estimate) vs what the engine took
           (nvidia-smi per process, and llama-server's own buffer report)
  swap     two models that cannot both fit a small budget, alternating
           load: requests/min and p99, swap_policy batch vs fifo

Environment: LLAMA_SERVER (the llama-server binary), HERMOD (hermod), and
for running hermod out of a bundle, HERMOD_LD (its ld.so) and
HERMOD_LIBS (its library path). Results go to $OUT as JSON.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# $OUT comes back from the GPU machine (8 files at most): results there,
# logs in LOGS (run.sh packs them into one archive).
OUT = os.environ.get("OUT", "/tmp/hermod-gpu-out")
LOGS = os.environ.get("LOGS", "/tmp/hermod-bench-logs")
os.makedirs(OUT, exist_ok=True)
os.makedirs(LOGS, exist_ok=True)
LLAMA = os.environ.get("LLAMA_SERVER", "llama-server")
HERMOD = os.environ.get("HERMOD", "build/hermod")
# Random weights sample byte tokens, which llama-server's stream parser
# rejects (gpu-anchor.md): ban ids 3..258, the <0x00>..<0xFF> tokens.
BAN = {str(i): -100 for i in range(3, 259)}


def log(*a):
    print(*a, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def hermod_argv(*args):
    if os.environ.get("HERMOD_LD"):
        return [os.environ["HERMOD_LD"], "--library-path", os.environ["HERMOD_LIBS"], HERMOD, *args]
    return [HERMOD, *args]


def wait_http(port, path="/health", timeout=600, interval=0.005):
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


def llama_argv(model, port, ctx=4096, np_=8, extra=()):
    return [LLAMA, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-c", str(ctx),
            "-np", str(np_), "-ngl", "999", "-fa", "on", "--no-webui", *extra]


def start_llama(model, ctx=4096, np_=8, logfile=None):
    port = free_port()
    lf = open(logfile or os.devnull, "w")
    p = subprocess.Popen(llama_argv(model, port, ctx, np_), stdout=lf, stderr=subprocess.STDOUT)
    if not wait_http(port):
        p.kill()
        raise RuntimeError(f"llama-server did not become ready: {logfile}")
    return p, port


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Hermod:
    def __init__(self, config_text):
        self.dir = tempfile.mkdtemp(prefix="hermod-gpu-")
        self.port = free_port()
        self.cfg = os.path.join(self.dir, "hermod.yaml")
        with open(self.cfg, "w") as f:
            f.write(f"listen: 127.0.0.1:{self.port}\nlog_level: warn\n" + config_text)
        self.log = open(os.path.join(LOGS, f"hermod-{self.port}.log"), "w")
        self.p = subprocess.Popen(hermod_argv("serve", "--config", self.cfg), stdout=self.log,
                                  stderr=subprocess.STDOUT)
        if not wait_http(self.port):
            raise RuntimeError("hermod did not start")

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("GET", path)
        r = c.getresponse()
        b = r.read()
        c.close()
        return json.loads(b)

    def post(self, path, body):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        b = r.read()
        c.close()
        return r.status, b

    def close(self):
        stop(self.p)
        shutil.rmtree(self.dir, ignore_errors=True)


def stream(port, n_tokens, path="/v1/completions", model="m", prompt="Once upon a time"):
    """One streamed completion; returns (tokens, seconds from first to last
    token, ttft seconds, server's predicted_per_second or None)."""
    body = {"model": model, "prompt": prompt, "max_tokens": n_tokens, "stream": True,
            "ignore_eos": True, "logit_bias": BAN, "temperature": 0.8}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]}")
    first = last = None
    tokens = 0
    server_tps = None
    buf = b""
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        now = time.perf_counter()
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            for line in ev.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    continue
                j = json.loads(data)
                if "error" in j:
                    raise RuntimeError(f"stream error: {j['error']}")
                ch = j.get("choices") or []
                if ch and ch[0].get("text"):
                    tokens += 1
                    if first is None:
                        first = now
                    last = now
                t = j.get("timings")
                if t and t.get("predicted_per_second"):
                    server_tps = t["predicted_per_second"]
    c.close()
    return tokens, (last - first) if first else 0, (first - t0) if first else 0, server_tps


def decode(model):
    """Direct vs through hermod, 1 and 8 streams, interleaved."""
    p, lport = start_llama(model, 4096, 8, os.path.join(LOGS, "llama-decode.log"))
    h = Hermod(f"models:\n  - name: m\n    engines:\n      - kind: llama-server\n"
               f"        url: http://127.0.0.1:{lport}\n")
    res = {"model": os.path.basename(model), "runs": []}
    try:
        stream(lport, 32)  # warm-up
        stream(h.port, 32)
        for rep in range(3):
            for via, port in (("direct", lport), ("hermod", h.port)):
                tok, secs, ttft, stps = stream(port, 512)
                res["runs"].append({"streams": 1, "via": via, "tokens": tok, "client_tps": (tok - 1) / secs,
                                    "server_tps": stps, "ttft_ms": ttft * 1000})
                log(f"  1 stream  {via:6} {(tok - 1) / secs:7.1f} tok/s client, server {stps}")
        for rep in range(3):
            for via, port in (("direct", lport), ("hermod", h.port)):
                outs = [None] * 8
                def one(i):
                    outs[i] = stream(port, 256)
                t0 = time.perf_counter()
                ths = [threading.Thread(target=one, args=(i,)) for i in range(8)]
                [t.start() for t in ths]
                [t.join() for t in ths]
                wall = time.perf_counter() - t0
                total = sum(o[0] for o in outs)
                srv = sum(o[3] or 0 for o in outs)
                res["runs"].append({"streams": 8, "via": via, "tokens": total, "aggregate_tps": total / wall,
                                    "server_sum_tps": srv})
                log(f"  8 streams {via:6} {total / wall:7.1f} tok/s aggregate, server sum {srv:.1f}")
    finally:
        h.close()
        stop(p)
    for n in (1, 8):
        key = "client_tps" if n == 1 else "aggregate_tps"
        d = [r[key] for r in res["runs"] if r["streams"] == n and r["via"] == "direct"]
        v = [r[key] for r in res["runs"] if r["streams"] == n and r["via"] == "hermod"]
        res[f"ratio_{n}"] = (sorted(v)[len(v) // 2]) / (sorted(d)[len(d) // 2])
        log(f"  {n} stream(s): hermod/direct = {res[f'ratio_{n}']:.4f}")
    return res


def rfc3339_ms(s):
    """'2026-11-27T23:36:02.123Z' -> epoch seconds (float)."""
    import calendar
    base, frac = s.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000


def drop_caches():
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def first_data(port, body, out, key):
    """Sends a streamed request; stores the wall time of its first data
    event (the first token, not hermod's keepalive comments) in out[key]."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    buf = b""
    while b"data:" not in buf:
        chunk = r.read1(65536)
        if not chunk:
            break
        buf += chunk
    out[key] = time.time()
    r.read()
    c.close()


def cold(model, rounds=5, drop=False):
    """A cold start: llama-server's own start-to-ready, and hermod's share of
    the client's wait for its first token through hermod.

    Loads vary by hundreds of ms from one start to the next, more than what
    hermod adds, so hermod's share is measured within each start: the time
    from the request to the spawn (hermod's "since"), plus the time from
    the engine's real readiness (polled here every ms on its own port) to
    the first token, minus the first-token time of the same warm engine."""
    res = {"model": os.path.basename(model), "drop_caches": drop, "rounds": []}
    h = Hermod("models:\n  - name: m\n    engines:\n      - kind: llama-server\n"
               f"        cmd: {json.dumps(llama_argv(model, '${PORT}'))}\n        start_timeout: 900\n")
    body = {"model": "m", "prompt": "hi", "max_tokens": 1, "stream": True, "logit_bias": BAN}
    try:
        for i in range(rounds):
            if drop and not drop_caches():
                res["drop_caches"] = "refused"
                drop = False
            port = free_port()
            t0 = time.perf_counter()
            p = subprocess.Popen(llama_argv(model, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_http(port, interval=0.001)
            own = (time.perf_counter() - t0) * 1000
            stop(p)
            h.post("/hermod/unload", {"model": "all"})
            while h.get("/hermod/running")["engines"]:
                time.sleep(0.01)
            if drop:
                drop_caches()
            out = {}
            t_req = time.time()
            th = threading.Thread(target=first_data, args=(h.port, body, out, "first"))
            th.start()
            eng = None
            while not eng or not eng.get("port"):
                e = h.get("/hermod/running")["engines"]
                eng = e[0] if e else None
                time.sleep(0.001)
            spawn = rfc3339_ms(eng["since"])
            wait_http(eng["port"], interval=0.001)
            t_ready = time.time()
            th.join()
            warm = {}
            t_w = time.time()
            first_data(h.port, body, warm, "first")
            ttft = warm["first"] - t_w
            pre = spawn - t_req
            post = out["first"] - t_ready - ttft
            r = {"own_ms": own, "client_ms": (out["first"] - t_req) * 1000, "engine_ready_ms": (t_ready - spawn) * 1000,
                 "pre_spawn_ms": pre * 1000, "ready_to_first_token_ms": (out["first"] - t_ready) * 1000,
                 "warm_ttft_ms": ttft * 1000, "hermod_share_ms": (pre + post) * 1000}
            res["rounds"].append(r)
            log(f"  round {i}: llama-server alone {own:.0f} ms; through hermod: client waited {r['client_ms']:.0f} ms, "
                f"engine ready after {r['engine_ready_ms']:.0f} ms; hermod's share {r['hermod_share_ms']:.1f} ms "
                f"(before spawn {r['pre_spawn_ms']:.1f}, ready->token {r['ready_to_first_token_ms']:.1f} - warm ttft {r['warm_ttft_ms']:.1f})")
    finally:
        h.close()
    med = lambda a: sorted(a)[len(a) // 2]
    for k in ("own_ms", "client_ms", "engine_ready_ms", "hermod_share_ms"):
        res[k + "_p50"] = med([r[k] for r in res["rounds"]])
    log(f"  cold start{' (caches dropped)' if drop else ''}: llama-server alone p50 {res['own_ms_p50']:.0f} ms, "
        f"client through hermod p50 {res['client_ms_p50']:.0f} ms, hermod's share p50 {res['hermod_share_ms_p50']:.1f} ms")
    return res


def smi_process_mib(pid):
    """GPU memory of pid (and its threads) per nvidia-smi, MiB."""
    try:
        q = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                           capture_output=True, text=True).stdout
    except FileNotFoundError:
        return 0
    total = 0
    for line in q.strip().splitlines():
        parts = [x.strip() for x in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) == pid:
            total += int(parts[1])
    return total


def memory(model, configs):
    """hermod's estimate vs the engine's real use, for each (ctx, np)."""
    out = []
    for ctx, np_ in configs:
        est = json.loads(subprocess.run(hermod_argv("estimate", model, "--ctx", str(ctx), "--parallel", str(np_), "--json"),
                                        capture_output=True, text=True).stdout)
        logf = os.path.join(LOGS, f"llama-mem-{os.path.basename(model)}-{ctx}-{np_}.log")
        p, port = start_llama(model, ctx, np_, logf)
        try:
            stream(port, 16)  # touch the compute path once
            real = smi_process_mib(p.pid)
        finally:
            stop(p)
        report = open(logf, errors="replace").read()
        bufs = {}
        for m in re.finditer(r"(\w+)\s+(model|KV|RS|compute|output) buffer size =\s+([\d.]+) MiB", report):
            bufs[f"{m.group(1)} {m.group(2)}"] = bufs.get(f"{m.group(1)} {m.group(2)}", 0) + float(m.group(3))
        b = est.get("bytes", {})
        gpu_est = (b.get("total", 0) - b.get("weights_cpu", 0) - b.get("compute_host", 0)) / 2**20
        r = {"model": os.path.basename(model), "ctx": ctx, "parallel": np_, "estimate_total_mib": b.get("total", 0) / 2**20,
             "estimate_bytes": b,
             "estimate_gpu_mib": gpu_est, "nvidia_smi_mib": real, "engine_buffers_mib": bufs,
             "error": (gpu_est - real) / real if real else None}
        log(f"  {r['model']} ctx {ctx} x {np_}: estimate GPU {gpu_est:.0f} MiB, nvidia-smi {real} MiB, "
            f"error {100 * r['error']:+.2f}%" if real else f"  {r['model']}: no nvidia-smi reading")
        out.append(r)
    return out


def swap(model_a, model_b, seconds=60, clients=4):
    """Alternating load on two models that cannot both fit."""
    res = {}
    for policy in ("batch", "fifo"):
        def cmd(mf):
            return json.dumps(llama_argv(mf, "${PORT}", 4096, 4))
        h = Hermod(f"budget: {os.environ.get('SWAP_BUDGET', '24GiB')}\nswap_policy: {policy}\nswap_quantum: 10s\nmodels:\n"
                   f"  - name: a\n    engines:\n      - kind: llama-server\n        cmd: {cmd(model_a)}\n        start_timeout: 600\n"
                   f"  - name: b\n    engines:\n      - kind: llama-server\n        cmd: {cmd(model_b)}\n        start_timeout: 600\n")
        lat, errors = [], 0
        end = time.time() + seconds
        lock = threading.Lock()
        def client(m):
            nonlocal errors
            while time.time() < end:
                t0 = time.perf_counter()
                try:
                    st, _ = h.post("/v1/completions", {"model": m, "prompt": "hello", "max_tokens": 32,
                                                      "ignore_eos": True, "logit_bias": BAN})
                except OSError:
                    st = 0
                with lock:
                    if st == 200:
                        lat.append(time.perf_counter() - t0)
                    else:
                        errors += 1
        t0 = time.time()
        ths = [threading.Thread(target=client, args=(m,)) for m in ("a", "b") for _ in range(clients)]
        [t.start() for t in ths]
        [t.join() for t in ths]
        wall = time.time() - t0
        budget = h.get("/hermod/budget")
        h.close()
        lat.sort()
        res[policy] = {"requests": len(lat), "errors": errors, "rpm": len(lat) / wall * 60,
                       "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
                       "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else None,
                       "engines": [{"id": e["id"], "steady": e["steady"], "measured_peak": e["measured_peak"]} for e in budget["engines"]]}
        log(f"  swap {policy:5}: {res[policy]['rpm']:.0f} requests/min, p50 {res[policy]['p50_ms']:.0f} ms, "
            f"p99 {res[policy]['p99_ms']:.0f} ms, errors {errors}")
    return res


if __name__ == "__main__":
    what = sys.argv[1]
    args = sys.argv[2:]
    if what == "decode":
        r = decode(args[0])
    elif what == "cold":
        r = cold(args[0], int(args[1]) if len(args) > 1 else 5, len(args) > 2 and args[2] == "drop")
    elif what == "memory":
        r = memory(args[0], [(4096, 8), (32768, 1)])
    elif what == "swap":
        r = swap(args[0], args[1], int(args[2]) if len(args) > 2 else 60)
    else:
        sys.exit(f"unknown scenario {what}")
    # one results file per scenario; memory runs (one per model) accumulate
    path = os.path.join(OUT, f"{what}.json")
    if what == "cold" and len(args) > 2 and args[2] == "drop":
        path = os.path.join(OUT, "cold-dropped.json")
    if what == "memory" and os.path.exists(path):
        r = json.load(open(path)) + r
    with open(path, "w") as f:
        json.dump(r, f, indent=1)
