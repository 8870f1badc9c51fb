// bench/swap.mjs: two models that cannot both fit, under alternating load.
//
// Each model is a fake engine that loads in LOAD ms and answers in GEN ms;
// the budget holds one. CLIENTS clients per model send requests back to
// back for SECONDS. Runs swap_policy batch (hermod's default: turns of
// swap_quantum) and fifo (naive: swap as soon as the other model waits) in
// the same invocation, and reports requests per minute, latency p50/p99
// and the number of engine starts.
//
//   node bench/swap.mjs [SECONDS] [LOAD_MS] [GEN_MS] [CLIENTS]
import { Hermod, FAKE, readRecord } from '../tests/integ/lib.mjs';
import path from 'node:path';

const SECONDS = Number(process.argv[2] || 20);
const LOAD = Number(process.argv[3] || 300);
const GEN = Number(process.argv[4] || 50);
const CLIENTS = Number(process.argv[5] || 4);

function model(name) {
  const cmd = [FAKE, '--port', '${PORT}', '--load-delay', String(LOAD), '--first-delay', String(GEN), '--record', `@DIR@/${name}.txt`];
  return `  - name: ${name}\n    memory: 150MiB\n    engines:\n      - kind: llama-server\n        cmd: [${cmd.map((a) => JSON.stringify(a)).join(', ')}]\n`;
}

async function run(policy) {
  const h = new Hermod(`budget: 200MiB\nswap_policy: ${policy}\nswap_quantum: 5s\nlog_level: warn\nmodels:\n${model('a')}${model('b')}`);
  await h.start();
  const lat = [];
  const end = Date.now() + SECONDS * 1000;
  const client = async (m) => {
    while (Date.now() < end) {
      const t0 = performance.now();
      const r = await h.post('/v1/chat/completions', { model: m, messages: [] });
      await r.text();
      if (r.status === 200) lat.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, () => [client('a'), client('b')]).flat());
  const secs = (performance.now() - t0) / 1000;
  const starts = ['a', 'b'].reduce((n, m) => n + readRecord(path.join(h.dir, `${m}.txt`)).filter((e) => e.ev === 'start').length, 0);
  await h.stop();
  h.cleanup();
  lat.sort((x, y) => x - y);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { policy, rpm: (lat.length / secs) * 60, p50: q(0.5), p99: q(0.99), starts, n: lat.length };
}

console.log(`swap under alternating load: 2 models, budget for 1, load ${LOAD} ms, answer ${GEN} ms, ${CLIENTS} clients per model, ${SECONDS} s each`);
for (const policy of ['batch', 'fifo']) {
  const r = await run(policy);
  console.log(`  ${policy.padEnd(6)} ${r.rpm.toFixed(0).padStart(6)} requests/min   p50 ${r.p50.toFixed(0).padStart(5)} ms   p99 ${r.p99.toFixed(0).padStart(6)} ms   engine starts ${r.starts}`);
}
