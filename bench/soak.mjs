// bench/soak.mjs: mixed load for DURATION with hermod's RSS sampled every
// 5 s (issue 11: an hour with flat RSS). CONC clients loop over a mix:
// chat answers, streams, streams the client abandons half way, requests to
// a model whose engine answers 500, /v1/models and /metrics, and
// transcripts to /hermod/ingest (into a store). The verdict compares the
// 2nd quarter of the run (warm) with the last: the floor (min) and the
// median of the RSS samples in each.
//
//   node bench/soak.mjs [DURATION=3600 s, or 5m / 1h] [CONC=16]   HERMOD_BIN FAKE_ENGINE
import fs from 'node:fs';
import http from 'node:http';
import { Hermod, managed, startFake } from '../tests/integ/lib.mjs';

const dur = String(process.argv[2] || '3600');
const DURATION = (/m$/.test(dur) ? parseFloat(dur) * 60 : /h$/.test(dur) ? parseFloat(dur) * 3600 : parseFloat(dur)) * 1000;
const CONC = Number(process.argv[3] || 16);
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const FACTS = JSON.stringify({ entities: [{ type: 'person', name: 'Rajesh', surface: null }], relations: [] });

const good = await startFake(['--alias', 'chat', '--chunks', 20, '--chunk-delay', 5]);
const bad = await startFake(['--alias', 'bad', '--status', 500]);
const h = new Hermod(`log_level: warn
cooldown: 0s
models:
  - name: chat
    engines:
      - kind: openai
        url: ${good.url}
  - name: bad
    engines:
      - kind: openai
        url: ${bad.url}
  - name: lang
    languages: [en, kn]
    modalities: [text]
    engines:
${managed(['--content', FACTS])}store: @DIR@/memory.db
pipeline:
  vision: lang
  extract: lang
`);
await h.start();
const counts = { chat: 0, stream: 0, abandon: 0, bad: 0, list: 0, ingest: 0, errors: 0 };
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function abandon() {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: h.port, path: '/v1/chat/completions', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let n = 0;
      res.on('data', () => {
        if (++n === 3) {
          req.destroy();
          resolve();
        }
      });
      res.on('end', resolve);
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.end(JSON.stringify({ model: 'chat', stream: true, messages: [] }));
  });
}

const end = Date.now() + DURATION;
let seq = 0;
async function client(k) {
  while (Date.now() < end) {
    const n = seq++;
    try {
      switch (n % 10) {
        case 0: case 1: case 2: await (await h.post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: `hello ${n}` }] })).text(); counts.chat++; break;
        case 3: case 4: await (await h.post('/v1/chat/completions', { model: 'chat', stream: true, messages: [] })).text(); counts.stream++; break;
        case 5: await abandon(); counts.abandon++; break;
        case 6: await (await h.post('/v1/chat/completions', { model: 'bad', messages: [] })).text(); counts.bad++; break;
        case 7: await (await h.fetch('/v1/models')).text(); await (await h.fetch('/metrics')).text(); counts.list++; break;
        default:
          await (await h.fetch('/hermod/ingest?source=voice', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `soak note ${n}: met Rajesh about item ${n}.` })).text();
          counts.ingest++;
      }
    } catch {
      counts.errors++;
    }
  }
}
const samples = [];
const t0 = Date.now();
const sample = () => samples.push({ t: (Date.now() - t0) / 1000, kb: rss(h.proc.pid) });
sample();
const timer = setInterval(sample, 5000);
await Promise.all(Array.from({ length: CONC }, (_, k) => client(k)));
clearInterval(timer);
sample();
// Per quarter: floor (min), median and peak. One sample is noise (a burst
// of requests in flight); a leak lifts the floor quarter after quarter.
const q = Math.max(1, Math.floor(samples.length / 4));
const quarters = [0, 1, 2, 3].map((i) => samples.slice(i * q, i === 3 ? samples.length : (i + 1) * q).map((s) => s.kb / 1024).sort((a, b) => a - b));
const stat = (w) => ({ min: w[0], med: w[Math.floor(w.length / 2)], max: w.at(-1) });
const qs = quarters.map(stat);
const total = Object.values(counts).reduce((a, b) => a + b, 0) - counts.errors;
console.log(`hermod soak — ${new Date().toISOString()}, ${(DURATION / 1000).toFixed(0)} s, ${CONC} clients, ${total} requests (${JSON.stringify(counts)})`);
console.log(`RSS MiB every 5 s: ${samples.map((s) => (s.kb / 1024).toFixed(1)).join(' ')}`);
console.log(`RSS MiB per quarter (min/median/max): ${qs.map((x) => `${x.min.toFixed(1)}/${x.med.toFixed(1)}/${x.max.toFixed(1)}`).join(', ')}`);
const floor = qs[3].min - qs[1].min;
const med = qs[3].med - qs[1].med;
console.log(`from the 2nd quarter to the last: floor ${floor >= 0 ? '+' : ''}${floor.toFixed(2)} MiB, median ${med >= 0 ? '+' : ''}${med.toFixed(2)} MiB: ${floor < 1 && med < 2 ? 'flat' : 'GROWING'}`);
await h.stop();
h.cleanup();
good.stop();
bad.stop();
