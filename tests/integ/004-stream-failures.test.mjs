// Failures after the first byte cannot be hidden: the client gets an
// explicit SSE error event, never a clean [DONE]. A client that goes away
// aborts the engine's work at once. Timeouts answer 504.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { Hermod, oneModel, managed, readRecord, readSSE, dataEvents, pidAlive, waitFor, sleep, SLOW } from './lib.mjs';

function errorEvent(data) {
  const last = data.at(-1);
  assert.notEqual(last, '[DONE]', 'no clean [DONE] after a failure');
  const j = JSON.parse(last);
  assert.ok(j.error, 'the last event is an error');
  return j.error;
}

test('engine crash mid-stream: error event; the next request restarts it', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'm', engines: [managed(['--crash-after', 2, '--chunk-delay', 20, '--record', '@DIR@/r.txt'])] }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  assert.equal(s.status, 200);
  const { events } = await readSSE(s);
  const data = dataEvents(events);
  assert.equal(JSON.parse(data[0]).choices[0].delta.content, 'tok0 ');
  const err = errorEvent(data);
  assert.equal(err.code, 'stream_interrupted');
  assert.match(err.message, /incomplete/);

  const first = readRecord(path.join(h.dir, 'r.txt')).filter((e) => e.ev === 'start');
  assert.equal(first.length, 1);
  await waitFor(async () => (await h.running()).engines.length === 0, { what: 'the crash to be noticed' });
  const all = await h.engine('m@llama-server');
  assert.match(all.last_error, /crashed: exit status 3/);

  // Crash-restart: a non-streamed request (the fake crashes only streams
  // after 2 chunks) gets a new process.
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  const starts = readRecord(path.join(h.dir, 'r.txt')).filter((e) => e.ev === 'start');
  assert.equal(starts.length, 2);
  assert.notEqual(starts[0].fields.pid, starts[1].fields.pid);
  await h.stop();
});

test('a stream that ends without [DONE] is reported as cut', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--no-done'])] }));
  t.after(() => h.cleanup());
  await h.start();
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  const data = dataEvents((await readSSE(s)).events);
  assert.equal(data.length, 7); // 6 engine events + our error
  assert.equal(errorEvent(data).code, 'stream_interrupted');
  await h.stop();
});

test('engine stalls mid-stream: stall timeout ends it with an error event', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'm', engines: [managed(['--hang-after', 2, '--record', '@DIR@/r.txt'])], extra: 'stall_timeout: 700ms\n' }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const t0 = Date.now();
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  const data = dataEvents((await readSSE(s)).events);
  assert.ok(Date.now() - t0 >= 600);
  assert.equal(errorEvent(data).code, 'upstream_stalled');
  // hermod dropped the connection to the hung engine
  await waitFor(() => readRecord(path.join(h.dir, 'r.txt')).some((e) => e.ev === 'client-closed'), {
    what: 'the engine to see its connection closed',
  });
  await h.stop();
});

test('no first byte within first_byte_timeout: 504', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--hang'])], extra: 'first_byte_timeout: 600ms\n' }));
  t.after(() => h.cleanup());
  await h.start();
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 504);
  const j = await r.json();
  assert.equal(j.error.code, 'upstream_timeout');
  await h.stop();
});

// Opens a streamed request with node:http so the test can drop the socket.
function openStream(h, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: h.port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => resolve({ req, res }),
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('client disconnect mid-stream aborts the engine request at once', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'm', engines: [managed(['--chunks', 1000, '--chunk-delay', 50, '--record', '@DIR@/r.txt'])] }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const rec = path.join(h.dir, 'r.txt');
  const { req, res } = await openStream(h, { model: 'm', stream: true, messages: [] });
  let got = 0;
  res.on('data', (d) => (got += d.length));
  await waitFor(() => readRecord(rec).filter((e) => e.ev === 'chunk').length >= 3, { what: 'a few chunks' });
  const closedAt = Date.now();
  req.destroy();
  res.destroy();
  const ev = await waitFor(() => readRecord(rec).find((e) => e.ev === 'client-closed'), {
    what: 'the engine to see the abort',
  });
  // The engine noticed within about one chunk interval (plus slack).
  assert.ok(ev.t * 1000 - closedAt < 1000 * SLOW, `abort took ${ev.t * 1000 - closedAt} ms`);
  const sent = Number(ev.fields.after);
  assert.ok(sent < 100, `the engine stopped generating (sent ${sent} chunks)`);
  // client-closed is the engine's last word on the request (its handler
  // has returned): every chunk it recorded was sent before the close.
  const chunks = readRecord(rec).filter((e) => e.ev === 'chunk').length;
  assert.ok(chunks <= sent + 1, `no chunks after the abort (${chunks} recorded, ${sent} sent)`);
  // The request is gone from hermod's books.
  const eng = await h.engine('m@llama-server');
  assert.equal(eng.in_flight, 0);
  await h.stop();
});

test('client disconnect while the engine has not answered yet aborts it too', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--hang', '--record', '@DIR@/r.txt'])] }));
  t.after(() => h.cleanup());
  await h.start();
  const rec = path.join(h.dir, 'r.txt');
  const req = http.request({ host: '127.0.0.1', port: h.port, path: '/v1/chat/completions', method: 'POST' });
  req.on('error', () => {});
  req.end(JSON.stringify({ model: 'm', stream: true, messages: [] }));
  await waitFor(() => readRecord(rec).some((e) => e.ev === 'hang'), { what: 'the engine to get the request' });
  const closedAt = Date.now();
  req.destroy();
  const ev = await waitFor(() => readRecord(rec).find((e) => e.ev === 'client-closed'), {
    what: 'the engine to see the abort',
  });
  assert.ok(ev.t * 1000 - closedAt < 1000 * SLOW);
  await h.stop();
});

test('client disconnect during a cold start: no harm, the engine still becomes ready', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--load-delay', 500])] }));
  t.after(() => h.cleanup());
  await h.start();
  const req = http.request({ host: '127.0.0.1', port: h.port, path: '/v1/chat/completions', method: 'POST' });
  req.on('error', () => {});
  req.end(JSON.stringify({ model: 'm', messages: [] }));
  await waitFor(async () => (await h.running()).engines.length === 1, { what: 'the start' });
  req.destroy();
  await waitFor(async () => (await h.running()).engines[0]?.state === 'ready', { what: 'ready' });
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  await h.stop();
});
