// The fault matrix, client side: clients that send slowly, never read, or
// go away in each state of the relay (gateway/proxy.c: WAITING for an
// engine slot, CONNECTING with no status line yet, STREAMING, COLLECTING a
// body, and an ESCALATING relay's next attempt). Each case checks what the
// engine saw (the abort reached it, or it was never asked), that no
// descriptor or relay is left behind, and that hermod still serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { Hermod, startFake, unmanaged, readRecord, waitFor, tmpdir, sleep, SLOW } from './lib.mjs';
import { procStats, settled, stillServing, RSS_SLACK_KB, goodModel } from './faults.mjs';

// hermod over one unmanaged fake (model m) that records to rec, and a good one.
async function setup(t, args, extra = '', more = '') {
  const dir = tmpdir();
  const rec = path.join(dir, 'm.rec');
  const eng = await startFake(['--alias', 'm', '--record', rec, ...args]);
  const good = await startFake(['--alias', 'good', '--chunks', 2]);
  t.after(() => (eng.stop(), good.stop(), fs.rmSync(dir, { recursive: true, force: true })));
  const h = new Hermod(`${extra}\nmodels:\n  - name: m\n    engines:\n${unmanaged(eng.url)}${goodModel(good.url)}${more}`);
  t.after(() => h.cleanup());
  await h.start();
  const events = (ev) => readRecord(rec).filter((e) => e.ev === ev);
  return { h, rec, events };
}

// A request that will be torn down: resolves once sent.
function open(h, body) {
  const req = http.request({ host: '127.0.0.1', port: h.port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } });
  req.on('error', () => {});
  req.on('response', (res) => res.on('data', () => {}).on('error', () => {}));
  req.end(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }));
  return req;
}

// Warm-up round, baseline, more rounds, then descriptors back and RSS flat.
async function rounds(h, one, n = 3) {
  await one(0);
  const before = await settled(h);
  for (let i = 1; i <= n; i++) await one(i);
  const after = await settled(h, before.fds);
  assert.ok(after.fds <= before.fds, `descriptors: ${before.fds} before, ${after.fds} after`);
  if (RSS_SLACK_KB) assert.ok(after.rss - before.rss < RSS_SLACK_KB, `RSS grew ${after.rss - before.rss} KiB`);
  await stillServing(h);
}

const closedSeen = (events, k) => waitFor(() => events('client-closed').length >= k, { what: `the engine to see abort ${k}` });

test('disconnect while WAITING for a slot: the engine is never asked', async (t) => {
  const { h, events } = await setup(t, ['--first-delay', 300 * SLOW], 'concurrency: 1\n');
  await rounds(h, async (i) => {
    const busy = h.post('/v1/chat/completions', { model: 'm', messages: [] });
    await waitFor(() => events('request').length === i + 1, { what: 'the first request at the engine' });
    const waiting = open(h, { model: 'm' });
    await waitFor(async () => /hermod_relays_active 2/.test(await (await h.fetch('/metrics')).text()), { what: 'the second relay to wait' });
    waiting.destroy();
    assert.equal((await busy).status, 200);
    await settled(h);
    assert.equal(events('request').length, i + 1, 'the one that went away never reached the engine');
  });
  await h.stop();
});

test('disconnect while CONNECTING (no status line yet): the engine sees the abort', async (t) => {
  const { h, events } = await setup(t, ['--hang']);
  await rounds(h, async (i) => {
    const reqs = [open(h, { model: 'm' }), open(h, { model: 'm', stream: true })];
    await waitFor(() => events('hang').length >= 2 * (i + 1), { what: 'both requests at the engine' });
    reqs.forEach((r) => r.destroy());
    await closedSeen(events, 2 * (i + 1));
  });
  await h.stop();
});

test('disconnect while STREAMING: the engine sees the abort mid-stream', async (t) => {
  const { h, events } = await setup(t, ['--chunks', 1000, '--chunk-delay', 20]);
  await rounds(h, async (i) => {
    const req = open(h, { model: 'm', stream: true });
    await waitFor(() => events('chunk').filter((e) => Number(e.fields.id) === i + 1 && Number(e.fields.n) >= 3).length, { what: 'a few chunks' });
    req.destroy();
    await closedSeen(events, i + 1);
    const ev = events('client-closed').at(-1);
    assert.ok(Number(ev.fields.after) < 1000, 'stopped before the end');
  });
  await h.stop();
});

test('disconnect while COLLECTING a body: the engine sees the abort', async (t) => {
  const { h, events } = await setup(t, ['--hang-mid-body']);
  await rounds(h, async (i) => {
    const req = open(h, { model: 'm' });
    await waitFor(() => events('hang').length >= i + 1, { what: 'half the body sent' });
    req.destroy();
    await closedSeen(events, i + 1);
  });
  await h.stop();
});

test('disconnect during an escalation\'s next attempt: the next engine sees the abort', async (t) => {
  const dir = tmpdir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const strongRec = path.join(dir, 'strong.rec');
  const strong = await startFake(['--alias', 'strong', '--hang', '--record', strongRec]);
  t.after(() => strong.stop());
  const { h, events } = await setup(
    t,
    ['--content', 'not json at all'],
    '',
    `  - name: strong\n    engines:\n${unmanaged(strong.url)}\nroutes:\n  - name: extract\n    rules:\n      - models: [m, strong]\n`,
  );
  const strongEv = (ev) => readRecord(strongRec).filter((e) => e.ev === ev);
  await rounds(h, async (i) => {
    const req = open(h, { model: 'extract', response_format: { type: 'json_object' } });
    await waitFor(() => strongEv('hang').length >= i + 1, { what: 'the escalation to reach the next model' });
    assert.ok(events('request').length >= i + 1, 'the first model answered first');
    req.destroy();
    await waitFor(() => strongEv('client-closed').length >= i + 1, { what: 'the next model to see the abort' });
  });
  await h.stop();
});

test('a client that never reads a stream: back-pressure reaches the engine, nothing piles up', async (t) => {
  const { h, events } = await setup(t, ['--chunks', 1000000, '--record-every', 100]);
  await rounds(
    h,
    async (i) => {
      const before = procStats(h.proc.pid);
      const s = net.connect(h.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.on('connect', r));
      s.pause(); // never reads: the kernel buffers fill, then hermod's write side stalls
      const body = JSON.stringify({ model: 'm', stream: true, messages: [] });
      s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await waitFor(() => events('chunk').some((e) => Number(e.fields.id) === i + 1 && Number(e.fields.n) >= 2000), { what: 'the stream to run' });
      // 1,000,000 chunks are ~150 MB: held anywhere in hermod they would show
      const during = procStats(h.proc.pid);
      if (RSS_SLACK_KB) assert.ok(during.rss - before.rss < 4 * RSS_SLACK_KB, `RSS grew ${during.rss - before.rss} KiB while the client did not read`);
      s.destroy();
      await closedSeen(events, i + 1);
      assert.ok(Number(events('client-closed').at(-1).fields.after) < 1000000, 'the engine was held back, not drained');
    },
    2,
  );
  await h.stop();
});

test('clients that send slowly: served when they finish in time, 408 when they do not', async (t) => {
  const { h } = await setup(t, [], 'header_timeout: 3s\n');
  const body = JSON.stringify({ model: 'm', messages: [] });
  const msg = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
  const client = async (pieces) => {
    const s = net.connect(h.port, '127.0.0.1');
    let data = '';
    let closed = false;
    s.on('data', (d) => (data += d));
    s.on('close', () => (closed = true));
    s.on('error', () => {});
    await new Promise((r) => s.on('connect', r));
    const step = Math.ceil(msg.length / pieces);
    // the client's pace (a slow link), not a wait for hermod
    for (let o = 0; o < msg.length && pieces; o += step) {
      s.write(msg.slice(o, o + step));
      await sleep(20);
    }
    if (!pieces) s.write(msg.slice(0, 40)); // a slow loris: never the end of its head
    await waitFor(() => closed, { what: 'hermod to answer and close', timeout: 15000 * SLOW });
    return data;
  };
  await rounds(h, async () => {
    const [slow, loris] = await Promise.all([client(25), client(0)]);
    assert.match(slow, /^HTTP\/1\.1 200/);
    assert.match(loris, /^HTTP\/1\.1 408/);
    assert.match(loris, /"code":"request_timeout"/);
  }, 2);
  await h.stop();
});
