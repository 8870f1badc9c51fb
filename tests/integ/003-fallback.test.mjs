// Fallback from one engine to the next: failed starts, 5xx answers,
// refused connections and start timeouts; cooldown; 503 with every reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Hermod, oneModel, managed, unmanaged, readRecord, readSSE, dataEvents, freePort, pidAlive, waitFor } from './lib.mjs';

test('an engine that fails to start falls back to the next, then cools down', async (t) => {
  const h = new Hermod(
    oneModel({
      name: 'm',
      engines: [
        managed(['--fail-start', 3, '--record', '@DIR@/a.txt']),
        managed(['--record', '@DIR@/b.txt', '--alias', 'b-model'], '        model: b-model\n'),
      ],
      extra: 'cooldown: 30s\n',
    }),
  );
  t.after(() => h.cleanup());
  await h.start();

  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-engine'), 'm@llama-server.2');
  assert.equal(r.headers.get('x-hermod-attempts'), '2');
  // The second engine answered (its own model id went upstream), and the
  // client sees the name it sent.
  assert.equal((await r.json()).model, 'm');

  const a = await h.engine('m@llama-server.1');
  assert.ok(a.cooldown_s > 20, 'the failed engine cools down');
  assert.match(a.cooldown_reason, /exit status 3/);
  assert.match(a.cooldown_reason, /told to fail at start/, 'the engine\'s last words are in the reason');

  // Within the cooldown the failed engine is not tried again.
  const r2 = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r2.headers.get('x-hermod-engine'), 'm@llama-server.2');
  assert.equal(readRecord(path.join(h.dir, 'a.txt')).filter((e) => e.ev === 'start').length, 1);
  await h.stop();
});

test('5xx before the first byte falls back, streamed or not', async (t) => {
  const h = new Hermod(
    oneModel({
      name: 'm',
      engines: [managed(['--status', 500, '--record', '@DIR@/a.txt']), managed(['--record', '@DIR@/b.txt'])],
    }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-engine'), 'm@llama-server.2');
  const a = await h.engine('m@llama-server.1');
  assert.match(a.cooldown_reason, /HTTP 500: fake-engine: told to fail with 500/);

  // Let the cooldown lapse by unloading and using a fresh hermod instead:
  // here just check the streamed path on the second engine.
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  const { events } = await readSSE(s);
  assert.equal(dataEvents(events).at(-1), '[DONE]');
  await h.stop();
});

test('streamed request: 500 on the first engine, stream from the second', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'm', engines: [managed(['--status', 503]), managed([])] }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  assert.equal(s.status, 200);
  assert.equal(s.headers.get('x-hermod-engine'), 'm@llama-server.2');
  const { events } = await readSSE(s);
  const d = dataEvents(events);
  assert.equal(d.at(-1), '[DONE]');
  assert.ok(!d.some((x) => x.includes('error')));
  await h.stop();
});

test('unmanaged engine refusing connections: fallback; all failing: 503 with reasons', async (t) => {
  const dead = await freePort();
  const h = new Hermod(
    oneModel({
      name: 'm',
      engines: [unmanaged(`http://127.0.0.1:${dead}`), managed([])],
    }) +
      `  - name: doomed\n    engines:\n${unmanaged(`http://127.0.0.1:${dead}`)}${managed(['--fail-start', 1])}      - kind: llama-server\n        cmd: [/nonexistent/llama-server, --port, "\${PORT}"]\n`,
  );
  t.after(() => h.cleanup());
  await h.start();
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-engine'), 'm@llama-server');

  const d = await h.post('/v1/chat/completions', { model: 'doomed', messages: [] });
  assert.equal(d.status, 503);
  const j = await d.json();
  assert.equal(j.error.code, 'no_engine_available');
  assert.match(j.error.message, /doomed@openai: .*(refused|connect)/i);
  assert.match(j.error.message, /doomed@llama-server\.1: .*exit status 1/);
  assert.match(j.error.message, /doomed@llama-server\.2: \/nonexistent\/llama-server not found/);

  // A streamed request that cannot be served gets a plain 503 too.
  const ds = await h.post('/v1/chat/completions', { model: 'doomed', stream: true, messages: [] });
  assert.equal(ds.status, 503);

  const models = await h.json('/v1/models');
  const dm = models.data.find((m) => m.id === 'doomed');
  assert.equal(dm.hermod.state, 'unavailable');
  assert.match(dm.hermod.reason, /not found/);
  await h.stop();
});

test('start timeout: the slow engine is killed and the next one serves', async (t) => {
  const h = new Hermod(
    oneModel({
      name: 'm',
      engines: [
        managed(['--listen-delay', 20000, '--record', '@DIR@/a.txt'], '        start_timeout: 1s\n        stop_timeout: 500ms\n'),
        managed([]),
      ],
    }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const t0 = Date.now();
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-engine'), 'm@llama-server.2');
  assert.ok(Date.now() - t0 >= 900, 'waited for the start timeout');
  const a = await h.engine('m@llama-server.1');
  assert.match(a.cooldown_reason, /not ready after 1 s/);
  const startPid = Number(readRecord(path.join(h.dir, 'a.txt')).find((e) => e.ev === 'start').fields.pid);
  await waitFor(() => !pidAlive(startPid), { what: 'the timed-out engine to be killed' });
  await h.stop();
});
