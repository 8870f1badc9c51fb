// bench/ingest.mjs: a photo through the whole pipeline, against its
// preprocessing alone, in one run.
//
// Uses the 12 MP photo of bench/image.sh (build/bench/media/photo.jpg; made
// if missing) and sends N distinct copies of it (bytes appended after the
// JPEG's end, which decoders ignore, so each is a new episode) to
// POST /hermod/ingest, answered by the fake engine with a canned receipt
// (no inference: what is left is hermod's own work). Compares, per photo:
//   prepare:  build/bench/image run on the same file, one thread (decode,
//             orient, downscale, JPEG): the floor;
//   ingest:   the whole request: upload, prepare, the pending commit
//             (fsync), the model call through hermod's own route, the typed
//             extraction, the final commit (fsync), the answer;
// sequentially and with 2 clients. hermod's share = ingest - prepare.
//
//   node bench/ingest.mjs [N]          (default 40)
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Hermod, managed } from '../tests/integ/lib.mjs';

const N = Number(process.argv[2] || 40);
const media = path.resolve('build/bench/media');
const photo = path.join(media, 'photo.jpg');
spawnSync('make', ['-s', 'build/bench/image', 'build/hermod', 'build/fake-engine'], { stdio: 'inherit' });
if (!fs.existsSync(photo)) {
  fs.mkdirSync(media, { recursive: true });
  execFileSync('build/bench/image', ['gen', media], { stdio: 'inherit' });
}

const answer = JSON.stringify({
  scene: 'A restaurant bill.',
  objects: [{ name: 'bill', count: 1, attributes: null }],
  text: [{ content: 'MEGHANA FOODS Biryani 2 x 300 = 600 Total Rs. 650.00', language: 'en', script: 'Latn' }],
  actions: [],
  people_count: 0,
  kind: 'receipt',
  receipt: { merchant: 'Meghana Foods', date: '20/11/2026', currency: 'INR', total: 'Rs. 650.00', items: [] },
  lab_report: null,
  screenshot: null,
  whiteboard: null,
});

const q = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const fmt = (v) => `p50 ${q(v, 0.5).toFixed(1)} ms, p90 ${q(v, 0.9).toFixed(1)} ms`;

// prepare alone: bench/image prints "... N images in S s, CPU ms/image X"
const pr = execFileSync('build/bench/image', ['run', '-t', '1', '-s', '3', photo], { encoding: 'utf8' });
const prepMs = Number((pr.match(/([\d.]+) ms cpu\/image/) || [])[1]);

const h = new Hermod(
  `store: @DIR@/memory.db\npipeline:\n  vision: vis\n  entities: false\n  timezone: "+05:30"\nmodels:\n  - name: vis\n    modalities: [text, image]\n    engines:\n${managed(['--content-file', '@DIR@/answers'])}`,
);
fs.writeFileSync(path.join(h.dir, 'answers'), answer + '\n');
await h.start();
const base = fs.readFileSync(photo);
let seq = 0;
const copy = () => Buffer.concat([base, Buffer.from(`hermod-bench-${process.pid}-${seq++}`)]);

async function one() {
  const body = copy();
  const t0 = process.hrtime.bigint();
  const r = await h.fetch('/hermod/ingest', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body });
  const j = await r.json();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 200 || j.status !== 'done') throw new Error(`ingest failed: ${r.status} ${JSON.stringify(j).slice(0, 300)}`);
  return ms;
}

await one(); // engine start, store warm-up
const lat = [];
let t0 = Date.now();
for (let i = 0; i < N; i++) lat.push(await one());
const seqRate = (N * 1000) / (Date.now() - t0);
const lat2 = [];
t0 = Date.now();
await Promise.all(
  [0, 1].map(async () => {
    for (let i = 0; i < N / 2; i++) lat2.push(await one());
  }),
);
const parRate = (N * 1000) / (Date.now() - t0);
const rss = Number((fs.readFileSync(`/proc/${h.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/) || [])[1]) / 1024;
await h.stop();
h.cleanup();

console.log(`photo: ${path.relative(process.cwd(), photo)} (${(base.length / 1048576).toFixed(1)} MiB), ${N} distinct copies, fake engine (no inference)`);
console.log(`prepare alone (bench/image, 1 thread): ${prepMs.toFixed(1)} ms CPU per photo`);
console.log(`ingest, 1 client:  ${fmt(lat)}, ${seqRate.toFixed(1)} photos/s`);
console.log(`ingest, 2 clients: ${fmt(lat2)}, ${parRate.toFixed(1)} photos/s`);
console.log(`hermod's share per photo (ingest p50 - prepare): ${(q(lat, 0.5) - prepMs).toFixed(1)} ms`);
console.log(`hermod RSS after the run: ${rss.toFixed(1)} MiB`);
