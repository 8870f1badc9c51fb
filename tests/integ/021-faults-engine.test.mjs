// The fault matrix, engine side: every way a test engine can misbehave
// (nothing listening, crash at start, crash mid-stream, hang before the
// headers, hang mid-body, bytes that are not HTTP, headers larger than
// hermod reads, a storm of 5xx answers, another model's name in the
// answer). Each case checks that the client gets a clear OpenAI error,
// that a batch of the fault leaves no descriptor, relay or memory behind
// (counted in /proc before and after), and that hermod still serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Hermod, oneModel, managed, unmanaged, startFake, freePort, readSSE, dataEvents, readRecord, waitFor } from './lib.mjs';
import { procStats, settled, stillServing, errorOf, RSS_SLACK_KB, goodModel } from './faults.mjs';

// hermod with model 'm' (the faulty engine) and model 'good' (a healthy
// fake that hermod does not run), no cooldown so every request meets the
// fault again.
async function setup(t, engine, extra = '', more = '') {
  const good = await startFake(['--chunks', 2, '--alias', 'good']);
  t.after(() => good.stop());
  const h = new Hermod(
    oneModel({ name: 'm', engines: [engine], extra: `cooldown: 0s\n${extra}` }) + goodModel(good.url) + more,
  );
  t.after(() => h.cleanup());
  await h.start();
  return h;
}

const ask = (h, stream = false) =>
  h.post('/v1/chat/completions', { model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] });

// Runs one batch to warm up (first-use allocations, pooled connections),
// takes the baseline, runs `rounds` more batches, and checks that the
// descriptors come back to the baseline and RSS stays within the slack.
async function matrix(h, batch, rounds = 3) {
  await batch();
  const before = await settled(h);
  for (let i = 0; i < rounds; i++) await batch();
  const after = await settled(h, before.fds);
  assert.ok(after.fds <= before.fds, `descriptors: ${before.fds} before, ${after.fds} after`);
  if (RSS_SLACK_KB) assert.ok(after.rss - before.rss < RSS_SLACK_KB, `RSS grew ${after.rss - before.rss} KiB`);
  await stillServing(h);
}

const par = (n, f) => Promise.all(Array.from({ length: n }, (_, i) => f(i)));

test('connection refused: 503 no_engine_available naming the refusal', async (t) => {
  const h = await setup(t, unmanaged(`http://127.0.0.1:${await freePort()}`));
  await matrix(h, () =>
    par(20, async () => {
      const e = await errorOf(await ask(h), 503);
      assert.equal(e.code, 'no_engine_available');
      assert.match(e.message, /connection refused/);
    }),
  );
  await h.stop();
});

test('crash at start: 503 with the exit status and the engine\'s last words', async (t) => {
  const h = await setup(t, managed(['--fail-start', 3]));
  await matrix(h, async () => {
    const e = await errorOf(await ask(h), 503);
    assert.equal(e.code, 'no_engine_available');
    assert.match(e.message, /exited before becoming ready: exit status 3.*told to fail at start/s);
  });
  await h.stop();
});

test('crash mid-stream: the stream ends with a stream_interrupted error event', async (t) => {
  const h = await setup(t, managed(['--crash-after', 2, '--record', '@DIR@/r.txt']));
  // Each request is asked the moment the one before ended with the crash,
  // most often before hermod has handled the engine's exit (SIGCHLD): it
  // must wait for the exit and a restart, not get 503 "connection refused".
  await matrix(h, async () => {
    for (let i = 0; i < 2; i++) {
      const s = await ask(h, true);
      const { text, events } = await readSSE(s);
      assert.equal(s.status, 200, text);
      const data = dataEvents(events);
      assert.equal(JSON.parse(data[0]).choices[0].delta.content, 'tok0 ', text);
      assert.notEqual(data.at(-1), '[DONE]');
      assert.equal(JSON.parse(data.at(-1)).error.code, 'stream_interrupted');
    }
  });
  assert.ok(readRecord(path.join(h.dir, 'r.txt')).filter((e) => e.ev === 'crash').length >= 8);
  await h.stop();
});

test('a dying engine that refuses before it exits: the request waits and the engine restarts', async (t) => {
  // The crash closes the engine's sockets at once and ends its process
  // 500 ms later: the next request meets a refusal from a process that
  // still runs, and must get its answer from a restarted engine.
  const h = await setup(t, managed(['--crash-after', 2, '--exit-delay', 500, '--record', '@DIR@/r.txt']));
  await matrix(h, async () => {
    const first = await readSSE(await ask(h, true));
    assert.equal(JSON.parse(dataEvents(first.events).at(-1)).error.code, 'stream_interrupted', first.text);
    const r = await ask(h);
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal((await r.json()).choices[0].message.content, 'tok0 tok1 tok2 tok3 tok4 ');
  }, 2);
  const rec = readRecord(path.join(h.dir, 'r.txt'));
  assert.ok(rec.filter((e) => e.ev === 'crash').length >= 3);
  await h.stop();
});

test('hang before headers: 504 upstream_timeout after first_byte_timeout', async (t) => {
  const eng = await startFake(['--hang', '--alias', 'm']);
  t.after(() => eng.stop());
  const h = await setup(t, unmanaged(eng.url), 'first_byte_timeout: 300ms\n');
  await matrix(h, () =>
    par(10, async (i) => {
      const e = await errorOf(await ask(h, i % 2 === 1), 504);
      assert.equal(e.code, 'upstream_timeout');
      assert.match(e.message, /first-byte timeout/);
    }),
  );
  await h.stop();
});

test('hang mid-body: 504 for an answer cut in half, upstream_stalled for a stream', async (t) => {
  const half = await startFake(['--hang-mid-body', '--alias', 'm']);
  const mid = await startFake(['--hang-after', 2, '--alias', 's']);
  t.after(() => (half.stop(), mid.stop()));
  const h = await setup(
    t,
    unmanaged(half.url),
    'stall_timeout: 300ms\n',
    `  - name: s\n    engines:\n${unmanaged(mid.url)}`,
  );
  await matrix(h, () =>
    par(6, async (i) => {
      if (i % 2 === 0) {
        const e = await errorOf(await ask(h), 504);
        assert.equal(e.code, 'upstream_timeout');
        assert.match(e.message, /stalled/);
      } else {
        const s = await h.post('/v1/chat/completions', { model: 's', stream: true, messages: [] });
        assert.equal(s.status, 200);
        const data = dataEvents((await readSSE(s)).events);
        assert.equal(JSON.parse(data.at(-1)).error.code, 'upstream_stalled');
      }
    }),
  );
  await h.stop();
});

test('garbage bytes instead of HTTP: a clear 503, the engine judged broken', async (t) => {
  const eng = await startFake(['--garbage-bytes', '--alias', 'm']);
  t.after(() => eng.stop());
  const h = await setup(t, unmanaged(eng.url));
  await matrix(h, () =>
    par(20, async (i) => {
      const e = await errorOf(await ask(h, i % 2 === 1), 503);
      assert.equal(e.code, 'no_engine_available');
      assert.match(e.message, /answer is not HTTP/);
    }),
  );
  await h.stop();
});

test('oversized headers from the engine: refused past hermod\'s 64 KiB, a clear 503', async (t) => {
  const eng = await startFake(['--huge-headers', 200000, '--alias', 'm']);
  t.after(() => eng.stop());
  const h = await setup(t, unmanaged(eng.url));
  await matrix(h, () =>
    par(10, async () => {
      const e = await errorOf(await ask(h), 503);
      assert.equal(e.code, 'no_engine_available');
      assert.match(e.message, /not HTTP/);
    }),
  );
  await h.stop();
});

test('5xx storm: every client gets the engine\'s failure, the other model keeps answering', async (t) => {
  const eng = await startFake(['--status', 500, '--alias', 'm']);
  t.after(() => eng.stop());
  const h = await setup(t, unmanaged(eng.url));
  await matrix(h, () =>
    par(60, async (i) => {
      if (i % 10 === 0) {
        // in the middle of the storm, a healthy model is not held up
        const r = await h.post('/v1/chat/completions', { model: 'good', messages: [] });
        assert.equal(r.status, 200);
        return;
      }
      const e = await errorOf(await ask(h, i % 2 === 1), 503);
      assert.match(e.message, /HTTP 500: fake-engine: told to fail with 500/);
    }),
  );
  await h.stop();
});

test('a different model in the answer: the client sees the name it asked for', async (t) => {
  const eng = await startFake(['--wrong-model', 'someone-else', '--alias', 'm']);
  t.after(() => eng.stop());
  const h = await setup(t, unmanaged(eng.url));
  await matrix(h, () =>
    par(10, async (i) => {
      const r = await ask(h, i % 2 === 1);
      assert.equal(r.status, 200);
      const text = await r.text();
      assert.ok(!text.includes('someone-else'), text);
      const models = [...text.matchAll(/"model":"([^"]*)"/g)].map((x) => x[1]);
      assert.ok(models.length > 0 && models.every((x) => x === 'm'), text);
    }),
  );
  await h.stop();
});
