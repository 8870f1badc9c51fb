// Gateway core v2 (issue 10): the relay survives every escalation path and
// a client leaving in any state; SIGTERM drains; multipart uploads and
// binary answers pass byte-exact; the answer carries the client's model
// name; engine ports come from a range, and a taken fixed port is an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import {
  Hermod, oneModel, managed, unmanaged, startFake, readRecord, readSSE, dataEvents, waitFor,
  FAKE,
} from './lib.mjs';

const SCHEMA = {
  type: 'json_schema',
  json_schema: {
    name: 'bill',
    strict: true,
    schema: {
      type: 'object',
      properties: { merchant: { type: 'string' }, total: { type: 'number' } },
      required: ['merchant', 'total'],
      additionalProperties: false,
    },
  },
};

// A route whose first model answers prose (retried once, then escalated)
// and whose specialist is an engine hermod does not run, already up.
function escalationConfig(specialUrl) {
  return `models:
  - name: weak
    languages: [en, kn]
    engines:
${managed(['--content', 'Sure, the merchant is Mylari.', '--record', '@DIR@/weak.txt'])}  - name: special
    languages: [en, kn]
    engines:
${unmanaged(specialUrl)}routes:
  - name: extract
    escalation: {attempts: 4, deadline: 60s}
    rules:
      - models: [weak]
        escalate: [special]
`;
}

const ask = (h, init = {}) =>
  h.post('/v1/chat/completions', {
    model: 'extract',
    messages: [{ role: 'user', content: 'Mylari bill, total 150' }],
    response_format: SCHEMA,
  }, init.headers, init);

test('an escalated specialist that answers 400 leaves hermod up with the best answer', async (t) => {
  const special = await startFake(['--status', 400, '--alias', 'special']);
  t.after(() => special.stop());
  const h = new Hermod(escalationConfig(special.url));
  t.after(() => h.cleanup());
  await h.start();
  for (let i = 0; i < 2; i++) {
    const r = await ask(h);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-hermod-answer'), 'invalid');
    const j = await r.json();
    assert.equal(j.model, 'extract', 'the answer names what the client asked for');
    assert.equal(j.hermod.valid, false);
    const last = j.hermod.attempts.at(-1);
    assert.equal(last.model, 'special');
    assert.match(last.problems, /HTTP 400/);
  }
  assert.equal((await h.fetch('/health')).status, 200);
  await h.stop();
  assert.equal(h.exited.code, 0);
});

test('a client that hangs up while the escalated attempt runs costs nothing', async (t) => {
  const rec = path.join(await fs.promises.mkdtemp('/tmp/hermod-sp-'), 'special.txt');
  const special = await startFake(['--first-delay', 1500, '--record', rec, '--alias', 'special']);
  t.after(() => special.stop());
  const h = new Hermod(escalationConfig(special.url));
  t.after(() => h.cleanup());
  await h.start();
  const ac = new AbortController();
  const pending = ask(h, { signal: ac.signal }).catch((e) => e);
  await waitFor(() => readRecord(rec).some((e) => e.ev === 'request'), { what: 'the specialist got the request' });
  ac.abort();
  assert.equal((await pending).name, 'AbortError');
  await waitFor(async () => (await h.json('/hermod/running')).engines.every((e) => e.in_flight === 0), {
    what: 'no request left in flight',
  });
  // The specialist ends its answer after the client left: hermod must
  // have let go of that transfer, not deliver it into a freed request.
  const id = readRecord(rec).find((e) => e.ev === 'request').fields.id;
  await waitFor(() => readRecord(rec).some((e) => (e.ev === 'client-closed' || e.ev === 'done') && e.fields.id === id), {
    what: 'the specialist finished with the request',
  });
  assert.equal((await h.fetch('/health')).status, 200);
  // still serving, and the same escalation path works to its end
  const weak = await h.post('/v1/chat/completions', { model: 'weak', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(weak.status, 200);
  await h.stop();
  assert.equal(h.exited.code, 0);
});

test('SIGTERM drains: a running stream ends with [DONE], the port closes, exit 0', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'm', engines: [managed(['--chunks', 30, '--chunk-delay', 100])] }) +
      `  - name: cold\n    engines:\n${managed(['--load-delay', 60000])}`,
  );
  t.after(() => h.cleanup());
  await h.start();
  const s = await h.post('/v1/chat/completions', { model: 'm', stream: true, messages: [] });
  assert.equal(s.status, 200);
  const reader = s.body.getReader();
  const first = await reader.read();
  assert.ok(!first.done && first.value.length > 0, 'the stream has begun');
  // A request waiting for a cold start, on a second connection.
  const cold = h.post('/v1/chat/completions', { model: 'cold', messages: [] });
  await waitFor(async () => (await h.json('/hermod/running?all=1')).engines.some((e) => e.id.startsWith('cold') && e.state === 'starting'), {
    what: 'the cold engine starting',
  });
  h.proc.kill('SIGTERM');
  const c = await cold;
  assert.equal(c.status, 503);
  const cj = await c.json();
  assert.equal(cj.error.code, 'shutting_down');
  assert.match(cj.error.message, /shutting down/);
  // New connections are refused while the stream goes on.
  await waitFor(
    () =>
      new Promise((resolve) => {
        const sock = net.connect(h.port, '127.0.0.1');
        sock.on('connect', () => (sock.destroy(), resolve(false)));
        sock.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
      }),
    { what: 'the listener closed' },
  );
  assert.equal(h.exited, null, 'hermod waits for the stream');
  let text = Buffer.from(first.value).toString();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  assert.equal(data.at(-1), '[DONE]');
  assert.equal(data.filter((d) => d.includes('"content":"tok')).length, 30, 'all 30 chunks');
  const exit = await h.exitPromise;
  assert.equal(exit.code, 0);
  assert.match(h.log(), /draining/);
  await h.stop();
});

// A multipart body built by hand, so the bytes the engine must get are known.
function multipart(fields, file) {
  const boundary = '----hermod' + crypto.randomBytes(12).toString('hex');
  const parts = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`,
    ),
    file.data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

function audioConfig() {
  return `max_body: 16MiB
models:
  - name: whisper
    aliases: [stt]
    modalities: [audio]
    engines:
${managed(['--alias', 'whisper-large-v3', '--save', '@DIR@/upload.bin', '--record', '@DIR@/whisper.txt'])}  - name: kokoro
    engines:
${managed(['--speech-bytes', 1048576, '--record', '@DIR@/kokoro.txt'])}  - name: chat
    languages: [en]
    engines:
${managed([])}routes:
  - name: auto
    rules:
      - when: {modality: audio}
        models: [whisper]
      - models: [chat]
`;
}

test('a 3 MB multipart upload reaches the engine byte-exact; audio goes only to audio models', async (t) => {
  const h = new Hermod(audioConfig());
  t.after(() => h.cleanup());
  await h.start();
  const audio = crypto.randomBytes(3 << 20);
  const { body, type } = multipart({ model: 'stt', language: 'kn' }, { name: 'voice.wav', type: 'audio/wav', data: audio });
  const r = await h.fetch('/v1/audio/transcriptions', { method: 'POST', headers: { 'content-type': type }, body });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-model'), 'whisper');
  const j = await r.json();
  assert.equal(j.text, 'naanu nale barthini');
  assert.equal(j.model, 'stt', 'the answer names the model as the client did');
  const got = fs.readFileSync(path.join(h.dir, 'upload.bin'));
  assert.ok(got.equals(body), 'the engine got the client\'s bytes unchanged');
  const ev = readRecord(path.join(h.dir, 'whisper.txt')).find((e) => e.ev === 'audio');
  assert.equal(ev.fields.ct, type.replace(/ /g, ' ').split(' ')[0], 'the content type (boundary included) went along');

  // a route sends audio to the model that hears
  const viaRoute = multipart({ model: 'auto' }, { name: 'a.mp3', type: 'audio/mpeg', data: audio.subarray(0, 1000) });
  const r2 = await h.fetch('/v1/audio/translations', { method: 'POST', headers: { 'content-type': viaRoute.type }, body: viaRoute.body });
  assert.equal(r2.status, 200);
  assert.equal(r2.headers.get('x-hermod-model'), 'whisper');

  // a model that cannot hear is refused, with the ones that can
  const wrong = multipart({ model: 'chat' }, { name: 'a.wav', type: 'audio/wav', data: audio.subarray(0, 100) });
  const r3 = await h.fetch('/v1/audio/transcriptions', { method: 'POST', headers: { 'content-type': wrong.type }, body: wrong.body });
  assert.equal(r3.status, 400);
  const e3 = await r3.json();
  assert.equal(e3.error.code, 'unsupported_modality');
  assert.match(e3.error.message, /whisper/);

  // a form without a model, and one that does not parse
  const none = multipart({ language: 'kn' }, { name: 'a.wav', type: 'audio/wav', data: audio.subarray(0, 100) });
  const r4 = await h.fetch('/v1/audio/transcriptions', { method: 'POST', headers: { 'content-type': none.type }, body: none.body });
  assert.equal(r4.status, 404);
  assert.equal((await r4.json()).error.code, 'model_not_found');

  // a part whose Content-Disposition names no field (the fuzzer's find) is
  // passed along with the rest; the model field still decides
  const nameless = multipart({ model: 'stt' }, { name: 'a.wav', type: 'audio/wav', data: audio.subarray(0, 100) });
  const nb = Buffer.from(nameless.body.toString('latin1').replace(/(--[^\r]+\r\n)/, '$1Content-Disposition: form-data\r\n\r\nloose\r\n$1'), 'latin1');
  const r5 = await h.fetch('/v1/audio/transcriptions', { method: 'POST', headers: { 'content-type': nameless.type }, body: nb });
  assert.equal(r5.status, 200);
  assert.equal(r5.headers.get('x-hermod-model'), 'whisper');
  assert.ok(fs.readFileSync(path.join(h.dir, 'upload.bin')).equals(nb), 'the engine got the form unchanged');

  // the official client, as users' code sends it
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'x', maxRetries: 0 });
  const tr = await client.audio.transcriptions.create({ model: 'whisper', file: await toFile(audio.subarray(0, 50000), 'clip.wav') });
  assert.equal(tr.text, 'naanu nale barthini');
  await h.stop();
});

test('a 1 MB binary speech answer reaches the client byte-exact with its content type', async (t) => {
  const h = new Hermod(audioConfig());
  t.after(() => h.cleanup());
  await h.start();
  const r = await h.post('/v1/audio/speech', { model: 'kokoro', input: 'namaskara', voice: 'af' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'audio/mpeg');
  const got = Buffer.from(await r.arrayBuffer());
  assert.equal(got.length, 1 << 20);
  const want = Buffer.alloc(1 << 20);
  for (let i = 0; i < want.length; i++) want[i] = (i * 31 + 7) & 0xff;
  assert.ok(got.equals(want), 'the bytes are the engine\'s');
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'x', maxRetries: 0 });
  const sp = await client.audio.speech.create({ model: 'kokoro', input: 'hi', voice: 'af' });
  assert.equal(Buffer.from(await sp.arrayBuffer()).length, 1 << 20);
  // any other /v1 POST that names an unknown model gets the usual 404
  const u = await h.post('/v1/images/generations', { model: 'nope', prompt: 'x' });
  assert.equal(u.status, 404);
  assert.equal((await u.json()).error.code, 'model_not_found');
  await h.stop();
});

test('streamed chunks carry the model name the client sent', async (t) => {
  const h = new Hermod(oneModel({ name: 'm', aliases: ['fast'], engines: [managed(['--alias', 'x'])] }) +
    'routes:\n  - name: auto\n    rules:\n      - models: [m]\n');
  t.after(() => h.cleanup());
  await h.start();
  for (const name of ['fast', 'auto', 'm']) {
    const s = await h.post('/v1/chat/completions', { model: name, stream: true, messages: [{ role: 'user', content: 'Please summarise the meeting notes from yesterday' }] });
    const data = dataEvents((await readSSE(s)).events);
    assert.equal(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.ok(chunks.length >= 5);
    for (const c of chunks) assert.equal(c.model, name);
  }
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'x', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'fast', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  for await (const c of stream) assert.equal(c.model, 'fast');
  await h.stop();
});

test('model names of any length: no over-read, no truncated URL', async (t) => {
  const long = 'kannada-' + 'x'.repeat(300);
  const h = new Hermod(`keepalive: 100ms\nmodels:\n  - name: ${long}\n    engines:\n${managed(['--listen-delay', 600, '--alias', long])}`);
  t.after(() => h.cleanup());
  await h.start();
  const miss = await h.post('/v1/chat/completions', { model: 'y'.repeat(5000), messages: [] });
  assert.equal(miss.status, 404);
  const s = await h.post('/v1/chat/completions', { model: long, stream: true, messages: [] });
  const { events } = await readSSE(s);
  const ready = events.find((e) => e.comment && e.comment.includes('ready, answered by'));
  assert.ok(ready, 'keepalives, then the ready line');
  assert.ok(ready.comment.endsWith(`${long}@llama-server`), 'the whole engine id');
  assert.equal(dataEvents(events).at(-1), '[DONE]');
  await h.stop();
});

test('engine ports come from engine_ports; a fixed port already taken is an error naming it', async (t) => {
  const base = 30000 + Math.floor(Math.random() * 20000);
  const squatter = net.createServer((c) => c.destroy());
  const taken = await new Promise((resolve) => squatter.listen(0, '127.0.0.1', () => resolve(squatter.address().port)));
  t.after(() => squatter.close());
  let accepted = 0;
  squatter.on('connection', () => accepted++);
  const h = new Hermod(
    `engine_ports: ${base}-${base + 9}\n` +
      oneModel({ name: 'm', engines: [managed([])] }) +
      `  - name: fixed\n    engines:\n      - kind: llama-server\n        url: http://127.0.0.1:${taken}\n        cmd: [${JSON.stringify(FAKE)}, --port, "${taken}"]\n`,
  );
  t.after(() => h.cleanup());
  await h.start();
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
  const eng = await h.engine('m@llama-server');
  assert.ok(eng.port >= base && eng.port <= base + 9, `port ${eng.port} in ${base}-${base + 9}`);
  const f = await h.post('/v1/chat/completions', { model: 'fixed', messages: [] });
  assert.equal(f.status, 503);
  const e = await f.json();
  assert.match(e.error.message, new RegExp(`port ${taken} .*already in use`));
  assert.equal(accepted, 0, 'the program on that port was never taken for the engine');
  await h.stop();
});

test('a program that takes an engine port before the engine binds it is never taken for the engine', async (t) => {
  // A port free now; hermod will choose it (a range of one) and start an
  // engine that waits 4 s before listening. In that window this test, a
  // process outside the engine's tree, listens there and answers
  // everything with 200, health checks included.
  const probe = net.createServer();
  const port = await new Promise((resolve) => probe.listen(0, '127.0.0.1', () => resolve(probe.address().port)));
  await new Promise((resolve) => probe.close(resolve));
  const h = new Hermod(`engine_ports: ${port}-${port}\n` + oneModel({ name: 'm', engines: [managed(['--listen-delay', 4000])] }));
  t.after(() => h.cleanup());
  await h.start();
  const answer = h.post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'my bank PIN is 4321' }] });
  await waitFor(() => h.log().includes(`engine spawned engine=m@llama-server pid=`) && h.log().includes(`port=${port} `), { what: 'the engine spawned on the port' });
  const seen = [];
  const squatter = http.createServer((req, res) => {
    seen.push(req.url);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  const r = await answer;
  assert.equal(r.status, 503);
  const e = await r.json();
  assert.match(e.error.message, new RegExp(`port ${port} answers, but the program listening there is not the engine hermod started: it is pid ${process.pid} `));
  assert.ok(seen.length >= 1, 'the squatter answered a health check');
  assert.deepEqual(seen.filter((u) => u !== '/health'), [], 'nothing but health checks reached the squatter');
  // the engine hermod started is stopped, not left behind
  await waitFor(() => /engine stopped engine=m@llama-server|exited before becoming ready/.test(h.log()), { what: 'the engine stopped' });
  await h.stop();
});

test('SIGHUP applies a new config without dropping a stream; a broken file keeps the old one', async (t) => {
  const model = (name, extra) => `  - name: ${name}\n    engines:\n${managed(extra)}`;
  const before = 'models:\n' + model('a', ['--chunks', 20, '--chunk-delay', 100, '--content', 'old']) + model('b', []);
  const h = new Hermod(before);
  t.after(() => h.cleanup());
  await h.start();
  const s = await h.post('/v1/chat/completions', { model: 'a', stream: true, messages: [] });
  const reader = s.body.getReader();
  let text = Buffer.from((await reader.read()).value).toString();
  const oldPid = (await h.engine('a@llama-server')).pid;

  // a broken file: named with its line, nothing changes
  fs.writeFileSync(h.configPath, `listen: 127.0.0.1:${h.port}\nmodels:\n  - name: a\n    ttl: soon\n`);
  h.proc.kill('SIGHUP');
  await waitFor(() => /SIGHUP: .*hermod\.yaml:4:\d+: .*the running config stays/.test(h.log()), { what: 'the reload error' });
  assert.equal((await h.post('/v1/chat/completions', { model: 'b', messages: [] })).status, 200);

  // a changed, b removed, c added
  fs.writeFileSync(h.configPath, `listen: 127.0.0.1:${h.port}\nmodels:\n` +
    model('a', ['--chunks', 2, '--content', 'new']) + model('c', []));
  h.proc.kill('SIGHUP');
  await waitFor(() => /config .* reloaded: ~a \+c -b/.test(h.log()), { what: 'the reload' });
  const ids = (await h.json('/v1/models')).data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['a', 'c']);
  const gone = await h.post('/v1/chat/completions', { model: 'b', messages: [] });
  assert.equal(gone.status, 404);
  const c = await h.post('/v1/chat/completions', { model: 'c', messages: [] });
  assert.equal(c.status, 200);
  const a2 = await (await h.post('/v1/chat/completions', { model: 'a', messages: [] })).json();
  assert.match(a2.choices[0].message.content, /new/, 'the changed model runs its new definition');
  assert.notEqual((await h.engine('a@llama-server')).pid, oldPid);

  // the stream that began before the reload ends whole, on the old engine
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  assert.equal((text.match(/"delta":\{"content"/g) || []).length, 20, 'all 20 chunks');
  assert.match(text, /"content":"old/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  await waitFor(() => { try { process.kill(oldPid, 0); return false; } catch { return true; } }, {
    what: 'the old engine of a stopped once its stream ended',
  });
  await h.stop();
  assert.equal(h.exited.code, 0);
});
