// bench/kill9.mjs: durability of ingest under kill -9 (issue 11). Each of
// TRIALS trials starts hermod on the same store, sends transcripts to
// /hermod/ingest from CONC clients without pause, kills hermod with
// SIGKILL at a random point (0..MAXMS ms into the load), and checks on
// the next start that every ingest hermod acknowledged (200 with an id)
// is there, and that PRAGMA integrity_check says ok. Prints one line per
// failure and a summary; exits 1 if any trial lost something.
//
//   node bench/kill9.mjs [TRIALS=200] [CONC=4] [MAXMS=1500]   HERMOD_BIN FAKE_ENGINE
// `make durability` runs 50 trials (CI, .ci/run).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Hermod, managed, processesMentioning } from '../tests/integ/lib.mjs';

const TRIALS = Number(process.argv[2] || 200);
const CONC = Number(process.argv[3] || 4);
const MAXMS = Number(process.argv[4] || 1500);
const FACTS = JSON.stringify({ entities: [{ type: 'person', name: 'Rajesh', surface: null }], relations: [] });
const config = `log_level: warn
cooldown: 0s
models:
  - name: lang
    languages: [en, kn]
    modalities: [text]
    engines:
${managed(['--content', FACTS])}store: @DIR@/memory.db
pipeline:
  vision: lang
  extract: lang
`;

const acked = new Map(); // id -> trial
let dir = null;
let seq = 0;
let failures = 0;
const t0 = Date.now();

function sql(db, q) {
  return execFileSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print("\\n".join(str(r[0]) for r in c.execute(sys.argv[2])))', db, q], { encoding: 'utf8' }).trim();
}

for (let trial = 0; trial < TRIALS; trial++) {
  const h = new Hermod(config);
  if (dir) h.dir = dir;
  dir = h.dir;
  await h.start();
  // what the last trial acknowledged is all there
  if (trial > 0) {
    // the last trial's (the ones its kill put at risk); all of them at the end
    const ids = [...acked.keys()].filter((id) => acked.get(id) === trial - 1);
    const st = await Promise.all(ids.map(async (id) => (await h.fetch(`/hermod/episodes/${id}`)).status));
    const lost = ids.filter((id, i) => st[i] !== 200);
    if (lost.length) {
      failures++;
      console.log(`trial ${trial}: ${lost.length} acknowledged episodes lost: ${lost.slice(0, 10).join(', ')}`);
    }
  }
  let stop = false;
  const client = async () => {
    while (!stop) {
      const n = seq++;
      try {
        const r = await h.fetch('/hermod/ingest?source=voice', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `note ${n}: met Rajesh about item ${n} of the budget.` });
        if (r.status === 200) {
          const b = await r.json();
          acked.set(b.id, trial);
        } else await r.arrayBuffer();
      } catch {
        return; // hermod is gone
      }
    }
  };
  const clients = Array.from({ length: CONC }, client);
  await new Promise((r) => setTimeout(r, Math.floor(Math.random() * MAXMS)));
  h.proc.kill('SIGKILL');
  await h.exitPromise;
  stop = true;
  await Promise.all(clients);
  for (const pid of processesMentioning(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  const ic = sql(path.join(dir, 'memory.db'), 'PRAGMA integrity_check');
  if (ic !== 'ok') {
    failures++;
    console.log(`trial ${trial}: integrity_check: ${ic}`);
  }
}
// every acknowledgement of every trial, checked by one more start
const h = new Hermod(config);
h.dir = dir;
await h.start();
const ids = [...acked.keys()];
const lost = [];
for (let i = 0; i < ids.length; i += 200) {
  const part = ids.slice(i, i + 200);
  const st = await Promise.all(part.map(async (id) => (await h.fetch(`/hermod/episodes/${id}`)).status));
  lost.push(...part.filter((id, k) => st[k] !== 200));
}
if (lost.length) failures++;
await h.stop();
const stored = sql(path.join(dir, 'memory.db'), 'SELECT count(*) FROM episodes');
console.log(`kill -9 during ingest — ${new Date().toISOString()}: ${TRIALS} trials, ${CONC} clients, kill at 0..${MAXMS} ms; ` +
  `${acked.size} ingests acknowledged, ${stored} episodes stored, ${lost.length} lost at the end; ${failures} failed trials; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
h.cleanup();
process.exit(failures ? 1 : 0);
