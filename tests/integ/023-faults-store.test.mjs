// The fault matrix, store side: the disk fills up (a file size limit on
// hermod, RLIMIT_FSIZE, so that SQLite's writes fail with EFBIG as they
// would with ENOSPC), and another process holds the store's write lock
// during ingest. Each gets a clear error status, hermod keeps serving, and
// every ingest it acknowledged is there after a restart, with PRAGMA
// integrity_check passing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Hermod, managed, waitFor } from './lib.mjs';
import { settled } from './faults.mjs';

const FACTS = JSON.stringify({ entities: [{ type: 'person', name: 'Rajesh', surface: null }], relations: [] });

function config() {
  return `cooldown: 0s
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
}

const note = (i) => `Note ${i}: met Rajesh about the budget. ` + 'More words about the meeting. '.repeat(60);
const ingest = (h, i) => h.fetch('/hermod/ingest?source=voice', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: note(i) });

const sqlite = (db, sql) =>
  execFileSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print("\\n".join(str(r[0]) for r in c.execute(sys.argv[2])))', db, sql], { encoding: 'utf8' }).trim();

// Every acknowledged episode is there, done, and the file is sound.
async function allThere(t, h, acked) {
  const h2 = new Hermod(h.config);
  h2.dir = h.dir;
  t.after(() => h2.cleanup());
  await h2.start();
  for (const id of acked) {
    const r = await h2.fetch(`/hermod/episodes/${id}`);
    assert.equal(r.status, 200, `episode ${id} acknowledged, then lost`);
    assert.ok(['done', 'pending'].includes((await r.json()).status));
  }
  await h2.stop();
  assert.equal(sqlite(path.join(h.dir, 'memory.db'), 'PRAGMA integrity_check'), 'ok');
}

test('disk full during ingest: a clear 5xx, the daemon serves on, nothing acknowledged is lost', async (t) => {
  // 1 MiB per file: the store and its WAL fill up after some notes.
  const h = new Hermod(config(), { wrap: ['prlimit', `--fsize=${1 << 20}`, '--'] });
  t.after(() => h.cleanup());
  await h.start();
  const acked = [];
  let failure = null;
  for (let i = 0; i < 400 && !failure; i++) {
    const r = await ingest(h, i);
    const b = await r.json();
    if (r.status === 200) acked.push(b.id);
    else failure = { status: r.status, b };
  }
  assert.ok(acked.length > 0, 'some notes fit');
  assert.ok(failure, 'the limit was reached');
  assert.ok(failure.status >= 500, JSON.stringify(failure));
  assert.equal(failure.b.error.code, 'store_error', JSON.stringify(failure));
  assert.match(failure.b.error.message, /disk|full|I\/O/i);
  // still serving: health, search, and more failures stay clean
  assert.equal((await h.fetch('/health')).status, 200);
  assert.equal((await h.fetch('/hermod/memories/search?q=rajesh')).status, 200);
  const fds = (await settled(h)).fds;
  for (let i = 0; i < 5; i++) assert.ok((await ingest(h, 1000 + i)).status >= 500);
  assert.ok((await settled(h, fds)).fds <= fds);
  await h.stop();
  await allThere(t, h, acked);
});

test('store busy (another process holds the write lock): an error after busy_timeout, then ingest resumes', async (t) => {
  const h = new Hermod(config());
  t.after(() => h.cleanup());
  await h.start();
  const first = await ingest(h, 0);
  assert.equal(first.status, 200);
  const acked = [(await first.json()).id];
  // another process takes the write lock and holds it until told
  const db = path.join(h.dir, 'memory.db');
  const holder = spawn('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute("BEGIN EXCLUSIVE"); print("locked", flush=True); sys.stdin.read()', db], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  let out = '';
  holder.stdout.on('data', (d) => (out += d));
  await waitFor(() => out.includes('locked'), { what: 'the lock' });
  const r = await ingest(h, 1);
  const b = await r.json();
  assert.ok(r.status >= 500, JSON.stringify(b));
  assert.equal(b.error.code, 'store_error');
  assert.match(b.error.message, /locked|busy/i);
  assert.equal((await h.fetch('/health')).status, 200);
  holder.stdin.end(); // the holder lets go
  await new Promise((res) => holder.on('exit', res));
  const again = await ingest(h, 1);
  assert.equal(again.status, 200);
  acked.push((await again.json()).id);
  await h.stop();
  await allThere(t, h, acked);
});
