// bench/streams.mjs: N concurrent streams, straight to the engine and
// through hermod, in one run (issue 10: 1,000 streams, first-chunk p99
// within 1.25x + 100 ms of direct).
//
// The engine streams CHUNKS chunks DELAY ms apart to every request, all of
// them at once. N streaming requests are opened at the same moment; for
// each, the time from the connect to its first data chunk and to [DONE] is
// taken. Rounds alternate direct and hermod. Also hermod's RSS: idle, peak
// during the hermod rounds (sampled from /proc every 20 ms) and after the
// load, with the bar (1,000 streams, all complete, peak RSS under
// 64 MB).
//
// The load side, chosen by two variables:
//   STREAMS_ENGINE=event (default): build/bench/streams_engine, one libuv
//     loop thread, as llama-server's HTTP side is a few threads;
//     =fake: tests/fakes/fake-engine, a thread per connection.
//   STREAMS_CLIENT=c (default): build/bench/streams_client, one libuv loop;
//     =node: node's http client in this process.
// On a 2-core machine the fake engine (~75 us of CPU a chunk) and the node
// client together need more CPU than the machine has during a round, and
// then the first chunks wait for a core, direct or not (bench/README.md).
//
//   node bench/streams.mjs [N=1000] [ROUNDS=3] [CHUNKS=20] [DELAY=50]
//   HERMOD_BIN, FAKE_ENGINE; STREAMS_VERBOSE=1 prints each round's first-chunk deciles
//   and the CPU time the engine, hermod and the client spent in it
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Hermod, FAKE, freePort, sleep } from '../tests/integ/lib.mjs';

const N = Number(process.argv[2] || 1000);
const ROUNDS = Number(process.argv[3] || 3);
const CHUNKS = Number(process.argv[4] || 20);
const DELAY = Number(process.argv[5] || 50);

const ENGINE = process.env.STREAMS_ENGINE || 'event';
const CLIENT = process.env.STREAMS_CLIENT || 'c';
const BENCH_BIN = path.resolve(process.env.HERMOD_BUILD || 'build', 'bench');
for (const [k, v, prog] of [['STREAMS_ENGINE', ENGINE, 'streams_engine'], ['STREAMS_CLIENT', CLIENT, 'streams_client']]) {
  if (!['event', 'fake', 'c', 'node'].includes(v)) throw new Error(`${k}=${v}: event|fake for the engine, c|node for the client`);
  if ((v === 'event' || v === 'c') && !fs.existsSync(path.join(BENCH_BIN, prog)))
    throw new Error(`${path.join(BENCH_BIN, prog)} is missing: make build/bench/${prog}`);
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function stream(port, body) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let first = null;
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          if (first === null && d.includes('data: {')) first = Number(process.hrtime.bigint() - t0) / 1e6;
          text += d;
        });
        res.on('end', () =>
          resolve({ ok: res.statusCode === 200 && text.includes('data: [DONE]'), first, total: Number(process.hrtime.bigint() - t0) / 1e6 }),
        );
        res.on('error', () => resolve({ ok: false }));
      },
    );
    req.on('error', () => resolve({ ok: false }));
    req.end(JSON.stringify(body));
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// TCP segments retransmitted so far, machine-wide (Linux: /proc/net/snmp).
const retrans = () => {
  const l = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((x) => x.startsWith('Tcp:'));
  return Number(l[1].split(' ')[l[0].split(' ').indexOf('RetransSegs')]);
};

// CPU time of a process so far, in ms (utime + stime from /proc, 10 ms ticks).
const cpu = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

// One round through node's http client: [{ok, first, total}], client CPU ms.
async function nodeRound(port, model) {
  const c0 = process.cpuUsage();
  const rs = await Promise.all(Array.from({ length: N }, () => stream(port, { model, stream: true, messages: [] })));
  const c = process.cpuUsage(c0);
  return { rs, clientCpu: (c.user + c.system) / 1000 };
}

// The same through build/bench/streams_client, a process of its own.
function cRound(port, model) {
  return new Promise((resolve, reject) => {
    const p = spawn(path.join(BENCH_BIN, 'streams_client'), [String(port), String(N), model], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`streams_client exited ${code}`));
      const j = JSON.parse(out);
      const rs = j.first.map((f, i) => ({ ok: true, first: f, total: j.total[i] }));
      for (let i = j.ok; i < j.n; i++) rs.push({ ok: false });
      resolve({ rs, clientCpu: j.cpu_ms });
    });
  });
}

async function round(port, model) {
  const r0 = retrans();
  const c0 = { engine: cpu(engine.pid), hermod: cpu(h.proc.pid), hs: sched(h.proc.pid), es: sched(engine.pid) };
  const { rs, clientCpu } = await (CLIENT === 'c' ? cRound : nodeRound)(port, model);
  const ok = rs.filter((r) => r.ok);
  if (process.env.STREAMS_VERBOSE) {
    const f = ok.map((r) => r.first);
    const hs = sched(h.proc.pid), es = sched(engine.pid);
    console.log(`  CPU ms in the round: engine ${cpu(engine.pid) - c0.engine}, hermod ${cpu(h.proc.pid) - c0.hermod}, client ${clientCpu.toFixed(0)}; waiting for a CPU while runnable: hermod ${(hs.wait - c0.hs.wait).toFixed(0)}, engine ${(es.wait - c0.es.wait).toFixed(0)}`);
    console.log(`  ${port === h.port ? 'hermod' : 'direct'} first chunk p10..p100: ${[10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 100].map((q) => pct(f, q).toFixed(0)).join(' ')}; ${retrans() - r0} TCP segments retransmitted`);
  }
  return { ok: ok.length, p50: pct(ok.map((r) => r.first), 50), p99: pct(ok.map((r) => r.first), 99), done99: pct(ok.map((r) => r.total), 99) };
}

// Time on a CPU and time runnable but waiting for one, in ms (schedstat, ns).
const sched = (pid) => {
  const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { run: run / 1e6, wait: wait / 1e6 };
};

const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

const eport = await freePort();
let h = null;
const engine = spawn(ENGINE === 'event' ? path.join(BENCH_BIN, 'streams_engine') : FAKE, ['--port', String(eport), '--chunks', String(CHUNKS), '--chunk-delay', String(DELAY), '--alias', 'bench'], { stdio: 'ignore' });
for (;;) {
  try {
    if ((await fetch(`http://127.0.0.1:${eport}/health`)).ok) break;
  } catch {}
  await sleep(20);
}
h = new Hermod(`log_level: warn\nmodels:\n  - name: bench\n    concurrency: 0\n    queue: 100000\n    engines:\n      - kind: openai\n        url: http://127.0.0.1:${eport}\n`);
await h.start();
const idle = rss(h.proc.pid);
const res = { direct: [], hermod: [] };
let peak = idle;
const sampler = setInterval(() => {
  try {
    peak = Math.max(peak, rss(h.proc.pid));
  } catch {}
}, 20);
for (let i = 0; i < ROUNDS; i++) {
  res.direct.push(await round(eport, 'bench'));
  res.hermod.push(await round(h.port, 'bench'));
}
clearInterval(sampler);
const loaded = rss(h.proc.pid);
const med = (xs) => pct(xs, 50);
const show = (k) => {
  const rs = res[k];
  return `${k.padEnd(7)} ok ${rs.map((r) => r.ok).join('/')} of ${N}; first chunk p50 ${med(rs.map((r) => r.p50)).toFixed(1)} ms, p99 ${med(rs.map((r) => r.p99)).toFixed(1)} ms (rounds: ${rs.map((r) => r.p99.toFixed(0)).join(', ')}); [DONE] p99 ${med(rs.map((r) => r.done99)).toFixed(0)} ms`;
};
console.log(`hermod ${N} concurrent streams — ${new Date().toISOString()}, ${ROUNDS} rounds, ${CHUNKS} chunks ${DELAY} ms apart, medians over rounds; engine ${ENGINE}, client ${CLIENT}`);
console.log(show('direct'));
console.log(show('hermod'));
const d99 = med(res.direct.map((r) => r.p99));
const h99 = med(res.hermod.map((r) => r.p99));
console.log(`first-chunk p99: hermod ${h99.toFixed(1)} ms, bound 1.25 x direct + 100 ms = ${(1.25 * d99 + 100).toFixed(1)} ms: ${h99 <= 1.25 * d99 + 100 ? 'met' : 'missed'}`);
peak = Math.max(peak, loaded);
console.log(`hermod RSS: idle ${(idle / 1024).toFixed(1)} MiB, peak ${(peak / 1024).toFixed(1)} MiB, after the load ${(loaded / 1024).toFixed(1)} MiB`);
const allOk = res.hermod.every((r) => r.ok === N);
console.log(`bar: all ${N} streams complete through hermod: ${allOk ? 'yes' : 'no'}; peak RSS ${(peak / 1024).toFixed(1)} MiB under 64 MB (61.0 MiB): ${peak * 1024 < 64e6 ? 'met' : 'missed'}`);
await h.stop();
engine.kill('SIGKILL');
