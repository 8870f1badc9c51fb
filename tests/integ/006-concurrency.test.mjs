// Per-model concurrency limit with a bounded queue (429 + Retry-After
// beyond it), stale kept-alive upstream connections retried invisibly, and
// back-pressure from a client that stops reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Hermod, oneModel, managed, readRecord, readSSE, dataEvents, waitFor, sleep, SLOW } from './lib.mjs';

test('concurrency limit: one in flight, one queued, the rest get 429', async (t) => {
  const h = new Hermod(
    `models:\n  - name: m\n    concurrency: 1\n    queue: 1\n    engines:\n${managed(['--first-delay', 600, '--record', '@DIR@/r.txt'])}`,
  );
  t.after(() => h.cleanup());
  await h.start();
  // warm the engine so timing is about the limit, not the start
  await (await h.post('/v1/chat/completions', { model: 'm', messages: [] })).text();
  const p1 = h.post('/v1/chat/completions', { model: 'm', messages: [] });
  await waitFor(async () => (await h.running()).models[0].in_flight === 1, { what: 'one in flight' });
  const p2 = h.post('/v1/chat/completions', { model: 'm', messages: [] });
  await waitFor(async () => (await h.running()).models[0].waiting === 1, { what: 'one waiting' });
  const r3 = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r3.status, 429);
  assert.equal(r3.headers.get('retry-after'), '1');
  const j = await r3.json();
  assert.equal(j.error.code, 'model_busy');
  assert.match(j.error.message, /1 requests in flight \(concurrency 1\) and 1 waiting \(queue 1\)/);
  const running = await h.running();
  assert.equal(running.models[0].in_flight, 1);
  assert.equal(running.models[0].waiting, 1);
  const [r1, r2] = await Promise.all([p1, p2]);
  assert.equal(r1.status, 200);
  assert.equal(r2.status, 200);
  // never two at once at the engine: each answer takes the engine 600 ms
  // (--first-delay), so a second request that started before the first was
  // answered would start less than 600 ms after it. (The engine's own
  // "done" record can come after hermod already has the whole answer, so
  // it cannot order the two.)
  const starts = readRecord(path.join(h.dir, 'r.txt')).filter((e) => e.ev === 'request').map((e) => e.t * 1000);
  assert.equal(starts.length, 3, 'the warm-up and the two admitted requests');
  assert.ok(starts[2] - starts[1] >= 590, `the second started ${starts[2] - starts[1]} ms after the first`);
  await h.stop();
});

test('a kept-alive connection the engine drops is retried on a fresh one', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--drop-reused', '--record', '@DIR@/r.txt'])] }));
  t.after(() => h.cleanup());
  await h.start();
  for (let i = 0; i < 6; i++) {
    const r = await h.post('/v1/chat/completions', { model: 'm', stream: i % 2 === 1, messages: [] });
    assert.equal(r.status, 200, `request ${i}`);
    await r.text();
  }
  const rec = readRecord(path.join(h.dir, 'r.txt'));
  assert.ok(rec.some((e) => e.ev === 'drop-reused'), 'the engine did drop reused connections');
  const eng = await h.engine('m@llama-server');
  assert.equal(eng.failures, 0, 'not counted as engine failures');
  assert.equal(eng.cooldown_s, undefined);
  await h.stop();
});

test('back-pressure: a client that stops reading pauses the engine, then gets everything', async (t) => {
  const chunks = 200000; // about 40 MB of events, more than socket buffers hold
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--chunks', chunks, '--record-every', 100, '--record', '@DIR@/r.txt'])] }));
  t.after(() => h.cleanup());
  await h.start();
  await (await h.post('/v1/chat/completions', { model: 'm', messages: [] })).text();
  const rssBefore = readRss(h.proc.pid);

  const sock = net.connect(h.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  const body = JSON.stringify({ model: 'm', stream: true, messages: [] });
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  sock.pause(); // read nothing
  const rec = path.join(h.dir, 'r.txt');
  const count = () => Math.max(0, ...readRecord(rec).filter((e) => e.ev === 'chunk').map((e) => Number(e.fields.n)));
  await waitFor(() => count() > 100, { what: 'the stream to start' });
  // Paused: the engine's count stops moving (three equal readings in a row).
  let last = -1;
  let same = 0;
  await waitFor(
    () => {
      const c = count();
      same = c === last ? same + 1 : 0;
      last = c;
      return same >= 3;
    },
    { timeout: 20000 * SLOW, interval: 250, what: 'the engine to be paused' },
  );
  const c2 = count();
  assert.ok(c2 < chunks, `the engine was paused (sent ${c2} of ${chunks})`);
  const rss = readRss(h.proc.pid);
  assert.ok(rss - rssBefore < 16 * 1024, `hermod did not buffer the stream (RSS grew ${rss - rssBefore} KiB)`);

  // now read everything: the stream completes with [DONE]
  let text = '';
  sock.setEncoding('utf8');
  sock.on('data', (d) => (text += d));
  sock.resume();
  await waitFor(() => text.includes('data: [DONE]'), { timeout: 30000 * SLOW, what: 'the whole stream' });
  sock.destroy();
  const n = (dechunk(text).match(/^data: \{/gm) || []).length;
  assert.equal(n, chunks + 1);
  await h.stop();
});

// Resident set size of a process in KiB.
function readRss(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]);
}

// The body of a raw HTTP/1.1 response with chunked transfer encoding.
function dechunk(raw) {
  let i = raw.indexOf('\r\n\r\n') + 4;
  let out = '';
  for (;;) {
    const e = raw.indexOf('\r\n', i);
    if (e < 0) break;
    const size = parseInt(raw.slice(i, e), 16);
    if (!size) break;
    out += raw.slice(e + 2, e + 2 + size);
    i = e + 2 + size + 2;
  }
  return out;
}
