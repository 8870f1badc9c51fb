// Engine lifecycle: one start for many waiting requests, keepalive comments
// during a cold start, ttl unload, unload on demand, shutdown without
// orphans (even when an engine ignores SIGTERM, or hermod is SIGKILLed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Hermod, oneModel, managed, readRecord, readSSE, dataEvents, pidAlive, waitFor, sleep, SLOW } from './lib.mjs';

test('concurrent requests during a cold start share one start', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--load-delay', 400, '--record', '@DIR@/r.txt'])] }));
  t.after(() => h.cleanup());
  await h.start();
  const rs = await Promise.all(
    Array.from({ length: 8 }, (_, i) => h.post('/v1/chat/completions', { model: 'm', stream: i % 2 === 0, messages: [] })),
  );
  for (const r of rs) {
    assert.equal(r.status, 200);
    await r.text();
  }
  const rec = readRecord(path.join(h.dir, 'r.txt'));
  assert.equal(rec.filter((e) => e.ev === 'start').length, 1, 'one engine process');
  assert.equal(rec.filter((e) => e.ev === 'request').length, 8);
  await h.stop();
});

test('a streamed request waiting for a cold start gets keepalive comments', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed(['--load-delay', 1600])], extra: 'keepalive: 400ms\n' }));
  t.after(() => h.cleanup());
  await h.start();
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  assert.equal(s.status, 200);
  const { events } = await readSSE(s);
  const comments = events.filter((e) => e.comment !== undefined).map((e) => e.comment);
  assert.ok(comments.length >= 2, `comments: ${comments}`);
  assert.match(comments[0], /^hermod: loading m@llama-server \(pid \d+\)/);
  assert.ok(comments.some((c) => /ready, answered by m@llama-server/.test(c)));
  const data = dataEvents(events);
  assert.equal(data.at(-1), '[DONE]');
  // comments all come before the first data event
  const firstData = events.findIndex((e) => e.data !== undefined);
  const lastComment = events.findLastIndex((e) => e.comment !== undefined);
  assert.ok(lastComment < firstData);
  await h.stop();
});

test('a cold start that fails after keepalives ends with an error event', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'm', engines: [managed(['--listen-delay', 10000], '        start_timeout: 1200ms\n')], extra: 'keepalive: 300ms\n' }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  assert.equal(s.status, 200); // committed by the keepalives
  const data = dataEvents((await readSSE(s)).events);
  assert.equal(data.length, 1);
  const err = JSON.parse(data[0]).error;
  assert.equal(err.code, 'no_engine_available');
  assert.match(err.message, /not ready after 1 s/);
  await h.stop();
});

test('ttl: an idle engine is stopped, and started again on demand', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', ttl: '1s', engines: [managed(['--record', '@DIR@/r.txt'])] }));
  t.after(() => h.cleanup());
  await h.start();
  let r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  const pid = (await h.running()).engines[0].pid;
  assert.equal((await h.running()).engines.length, 1, 'still there right after its request');
  await waitFor(async () => (await h.running()).engines.length === 0, { timeout: 4000 * SLOW, what: 'ttl unload' });
  await waitFor(() => !pidAlive(pid), { what: 'process gone' });
  r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  assert.equal(readRecord(path.join(h.dir, 'r.txt')).filter((e) => e.ev === 'start').length, 2);
  await h.stop();
});

test('unload: one model, all, and an engine busy with a request drains first', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'a', engines: [managed([])] }) +
      `  - name: b\n    engines:\n${managed(['--chunks', 20, '--chunk-delay', 50])}`,
  );
  t.after(() => h.cleanup());
  await h.start();
  await (await h.post('/v1/chat/completions', { model: 'a', messages: [] })).text();
  await (await h.post('/v1/chat/completions', { model: 'b', messages: [] })).text();
  assert.equal((await h.running()).engines.length, 2);
  let u = await h.post('/hermod/unload', { model: 'a' });
  assert.deepEqual(await u.json(), { model: 'a', stopping: 1 });
  await waitFor(async () => (await h.running()).engines.length === 1, { what: 'a unloaded' });
  assert.equal((await h.running()).engines[0].model, 'b');

  // b is busy with a long stream: unload waits for it to finish.
  const sp = h.post('/v1/chat/completions', { model: 'b', stream: true, messages: [] });
  const s = await sp;
  await waitFor(async () => (await h.engine('b@llama-server'))?.in_flight === 1, { what: 'b streaming' });
  u = await h.post('/hermod/unload', { model: 'all' });
  assert.equal((await u.json()).stopping, 1);
  const data = dataEvents((await readSSE(s)).events);
  assert.equal(data.at(-1), '[DONE]', 'the running stream finished');
  await waitFor(async () => (await h.running()).engines.length === 0, { what: 'b unloaded after its stream' });
  await h.stop();
});

test('SIGTERM: an engine that ignores SIGTERM is killed after its grace', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'm', engines: [managed(['--ignore-sigterm'], '        stop_timeout: 500ms\n')] }),
  );
  t.after(() => h.cleanup());
  await h.start();
  await (await h.post('/v1/chat/completions', { model: 'm', messages: [] })).text();
  const pid = (await h.running()).engines[0].pid;
  const t0 = Date.now();
  await h.stop();
  assert.equal(h.exited.code, 0);
  assert.ok(Date.now() - t0 >= 400, 'waited for the grace period');
  assert.ok(!pidAlive(pid));
});

test('hermod killed with SIGKILL leaves no engine behind', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', engines: [managed([])] }));
  t.after(() => h.cleanup());
  await h.start();
  await (await h.post('/v1/chat/completions', { model: 'm', messages: [] })).text();
  const pid = (await h.running()).engines[0].pid;
  h.proc.kill('SIGKILL');
  await h.exitPromise;
  await waitFor(() => !pidAlive(pid), { what: 'the orphaned engine to die' });
});
