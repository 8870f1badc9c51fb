// Ollama's API on hermod's port: /api/chat and /api/generate (NDJSON
// streams by default, stream:false too), /api/embed, /api/tags, /api/ps,
// /api/show, /api/version, options mapped onto the OpenAI request, routes,
// cold starts and errors in Ollama's shape. Tested with the official
// `ollama` npm client, and with plain fetch for the exact shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Ollama } from 'ollama';
import { Hermod, managed, readRecord, waitFor } from './lib.mjs';

const CONFIG = `keepalive: 300ms
models:
  - name: m
    aliases: [mm]
    context: 4096
    languages: [en, kn]
    ttl: 0
    engines:
${managed(['--record', '@DIR@/m.txt', '--save-json', '@DIR@/m.json', '--chunks', 4])}
  - name: slow
    languages: [en]
    ttl: 0
    engines:
${managed(['--record', '@DIR@/slow.txt', '--load-delay', 1200, '--chunks', 2])}
routes:
  - name: auto
    rules:
      - name: kannada
        when: {language: kannada}
        models: [m]
      - name: default
        models: [slow]
`;

async function start(t) {
  const h = new Hermod(CONFIG);
  t.after(() => h.cleanup());
  await h.start();
  return h;
}

// Reads an NDJSON answer into its objects; every line must be JSON.
async function ndjson(res) {
  const text = await res.text();
  assert.ok(text.endsWith('\n'), `NDJSON ends with a newline: ${JSON.stringify(text.slice(-80))}`);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

const isTime = (s) => typeof s === 'string' && !Number.isNaN(Date.parse(s));

test('/api/version, /api/tags and /api/show answer in Ollama shapes', async (t) => {
  const h = await start(t);
  const ol = new Ollama({ host: h.url });
  assert.equal(typeof (await ol.version()).version, 'string');

  const tags = await ol.list();
  const names = tags.models.map((m) => m.name);
  for (const n of ['m', 'mm', 'slow', 'auto']) assert.ok(names.includes(n), `${n} in ${names}`);
  for (const m of tags.models) {
    assert.equal(m.model, m.name);
    assert.ok(isTime(m.modified_at), `modified_at ${m.modified_at}`);
    assert.equal(typeof m.size, 'number');
    assert.equal(typeof m.digest, 'string');
    assert.equal(typeof m.details, 'object');
    assert.equal(typeof m.details.format, 'string');
  }

  const show = await ol.show({ model: 'm' });
  assert.deepEqual(show.capabilities, ['completion']);
  assert.equal(show.model_info['hermod.context_length'], 4096);
  assert.ok(isTime(show.modified_at));
  const auto = await ol.show({ model: 'auto' });
  assert.deepEqual(auto.hermod.rules, ['kannada', 'default']);

  await assert.rejects(ol.show({ model: 'nope' }), (e) => {
    assert.equal(e.status_code, 404);
    assert.match(e.error, /model 'nope' not found; available models: auto, m, slow/);
    return true;
  });
  await h.stop();
});

test('/api/chat with stream:false answers one object with counts and durations', async (t) => {
  const h = await start(t);
  const ol = new Ollama({ host: h.url });
  const r = await ol.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: false });
  assert.equal(r.model, 'm');
  assert.ok(isTime(r.created_at));
  assert.deepEqual(r.message, { role: 'assistant', content: 'tok0 tok1 tok2 tok3 ' });
  assert.equal(r.done, true);
  assert.equal(r.done_reason, 'stop');
  assert.equal(r.prompt_eval_count, 3);
  assert.equal(r.eval_count, 4);
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration'])
    assert.ok(Number.isInteger(r[k]) && r[k] >= 0, `${k} = ${r[k]}`);
  assert.ok(r.total_duration > 0);

  // The engine got an OpenAI request for its own model, not streamed.
  const sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.equal(typeof sent.model, 'string');
  assert.equal(sent.stream, false);
  assert.deepEqual(sent.messages, [{ role: 'user', content: 'hi' }]);
  await h.stop();
});

test('/api/chat streams NDJSON by default, ending with done and the usage counts', async (t) => {
  const h = await start(t);
  // plain fetch: no "stream" field means a stream in Ollama's API
  const res = await h.post('/api/chat', { model: 'mm', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/x-ndjson/);
  assert.equal(res.headers.get('x-hermod-model'), 'm');
  const lines = await ndjson(res);
  const last = lines.at(-1);
  const parts = lines.slice(0, -1);
  assert.deepEqual(
    parts.map((l) => l.message.content),
    ['tok0 ', 'tok1 ', 'tok2 ', 'tok3 '],
  );
  for (const l of parts) {
    assert.equal(l.model, 'mm');
    assert.equal(l.done, false);
    assert.equal(l.message.role, 'assistant');
    assert.ok(isTime(l.created_at));
  }
  assert.equal(last.done, true);
  assert.equal(last.done_reason, 'stop');
  assert.equal(last.message.content, '');
  assert.equal(last.eval_count, 4); // from the stream's usage chunk
  assert.equal(last.prompt_eval_count, 3);
  const sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.equal(sent.stream, true);
  assert.deepEqual(sent.stream_options, { include_usage: true });

  // the official client, streaming
  const ol = new Ollama({ host: h.url });
  let text = '';
  let done;
  for await (const part of await ol.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true })) {
    text += part.message.content;
    if (part.done) done = part;
  }
  assert.equal(text, 'tok0 tok1 tok2 tok3 ');
  assert.equal(done.eval_count, 4);
  await h.stop();
});

test('/api/generate streams and answers whole; system, images and raw map onto OpenAI', async (t) => {
  const h = await start(t);
  const ol = new Ollama({ host: h.url });
  const r = await ol.generate({ model: 'm', prompt: 'why', system: 'be brief', stream: false });
  assert.equal(r.response, 'tok0 tok1 tok2 tok3 ');
  assert.equal(r.done, true);
  assert.equal(r.model, 'm');
  assert.equal(r.eval_count, 4);
  let sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.deepEqual(sent.messages, [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'why' },
  ]);

  let text = '';
  let last;
  for await (const part of await ol.generate({ model: 'm', prompt: 'why', stream: true })) {
    text += part.response;
    last = part;
  }
  assert.equal(text, 'tok0 tok1 tok2 tok3 ');
  assert.equal(last.done, true);

  // images become image_url parts; raw goes to /v1/completions
  await ol.generate({ model: 'm', prompt: 'what is this', images: ['iVBORw0KGgo='], stream: false });
  sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.deepEqual(sent.messages[0].content, [
    { type: 'text', text: 'what is this' },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
  ]);
  const raw = await ol.generate({ model: 'm', prompt: '[INST] hi [/INST]', raw: true, stream: false });
  assert.equal(raw.response, 'tok0 tok1 tok2 tok3 ');
  sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.equal(sent.prompt, '[INST] hi [/INST]');
  const kinds = readRecord(`${h.dir}/m.txt`).filter((e) => e.ev === 'request').map((e) => e.fields.kind);
  assert.equal(kinds.at(-1), '1'); // K_COMPLETION in the fake engine
  await h.stop();
});

test('options are mapped: num_predict, temperature, top_p, stop, seed, format; num_ctx is checked', async (t) => {
  const h = await start(t);
  const ol = new Ollama({ host: h.url });
  await ol.chat({
    model: 'm',
    messages: [{ role: 'user', content: 'hi' }],
    stream: false,
    format: 'json',
    options: { num_predict: 64, temperature: 0.2, top_p: 0.9, top_k: 40, stop: ['\n\n', 'END'], seed: 7, num_ctx: 2048 },
  });
  let sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.equal(sent.max_tokens, 64);
  assert.equal(sent.temperature, 0.2);
  assert.equal(sent.top_p, 0.9);
  assert.equal(sent.top_k, 40);
  assert.deepEqual(sent.stop, ['\n\n', 'END']);
  assert.equal(sent.seed, 7);
  assert.deepEqual(sent.response_format, { type: 'json_object' });
  assert.equal(sent.options, undefined);
  assert.equal(sent.num_ctx, undefined);

  const schema = { type: 'object', properties: { a: { type: 'string' } } };
  await ol.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: false, format: schema, options: { num_predict: -1 } });
  sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.deepEqual(sent.response_format, { type: 'json_schema', json_schema: { name: 'format', schema } });
  assert.equal(sent.max_tokens, undefined); // -1: until the model stops

  // more context than the model serves: refused, saying how much it has
  const big = await h.post('/api/chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }], options: { num_ctx: 32768 } });
  assert.equal(big.status, 400);
  assert.match((await big.json()).error, /num_ctx 32768 is more than m serves \(context 4096 tokens\)/);

  const bad = await h.post('/api/generate', { model: 'm', prompt: 'x', options: { temperature: 'hot' } });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { error: 'options.temperature must be a number' });
  await h.stop();
});

test('a route works through /api/chat; a cold start streams no keepalive comments into NDJSON', async (t) => {
  const h = await start(t);
  // "auto" with English text picks "slow", which loads for 1.2 s (keepalive 300 ms)
  const res = await h.post('/api/chat', { model: 'auto', messages: [{ role: 'user', content: 'good morning, how are you' }] });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-hermod-route'), 'auto');
  assert.equal(res.headers.get('x-hermod-model'), 'slow');
  const lines = await ndjson(res);
  assert.deepEqual(lines.slice(0, -1).map((l) => l.message.content), ['tok0 ', 'tok1 ']);
  assert.ok(lines.every((l) => l.model === 'auto'));
  assert.equal(lines.at(-1).done, true);

  // Kannada in any script goes to m
  const ol = new Ollama({ host: h.url });
  const r = await ol.chat({ model: 'auto', messages: [{ role: 'user', content: 'naanu nale office ge hogtini' }] });
  assert.equal(r.message.content, 'tok0 tok1 tok2 tok3 ');
  assert.equal(readRecord(`${h.dir}/m.txt`).filter((e) => e.ev === 'request').length, 1);
  await h.stop();
});

test('/api/ps lists loaded models; keep_alive 0 unloads', async (t) => {
  const h = await start(t);
  const ol = new Ollama({ host: h.url });
  assert.deepEqual((await ol.ps()).models, []);
  await ol.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const ps = await ol.ps();
  assert.deepEqual(ps.models.map((m) => m.name), ['m']);
  const m = ps.models[0];
  assert.equal(m.model, 'm');
  assert.ok(isTime(m.expires_at));
  assert.equal(typeof m.size, 'number');
  assert.equal(typeof m.size_vram, 'number');
  assert.equal(m.context_length, 4096);

  const un = await ol.generate({ model: 'm', prompt: '', keep_alive: 0 });
  assert.equal(un.done_reason, 'unload');
  await waitFor(async () => (await ol.ps()).models.length === 0, { what: 'm unloaded' });
  await h.stop();
});

test('/api/embed and /api/embeddings', async (t) => {
  const h = await start(t);
  const ol = new Ollama({ host: h.url });
  const e = await ol.embed({ model: 'm', input: ['a', 'b'] });
  assert.equal(e.model, 'm');
  assert.equal(e.embeddings.length, 1); // the fake engine answers one vector
  assert.ok(e.embeddings[0].length > 0 && e.embeddings[0].every((x) => typeof x === 'number'));
  assert.equal(e.prompt_eval_count, 3);
  const sent = JSON.parse(fs.readFileSync(`${h.dir}/m.json`, 'utf8'));
  assert.deepEqual(sent.input, ['a', 'b']);
  const old = await ol.embeddings({ model: 'm', prompt: 'a' });
  assert.deepEqual(old.embedding, e.embeddings[0]);
  await h.stop();
});

test('errors come in Ollama shape: unknown model, bad JSON, bad fields, failing engine', async (t) => {
  const h = await start(t);
  const ol = new Ollama({ host: h.url });
  await assert.rejects(ol.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.equal(e.status_code, 404);
    assert.match(e.error, /model 'nope' not found; available models:/);
    return true;
  });
  let r = await h.post('/api/chat', '{"model":');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /^the body is not valid JSON/);
  r = await h.post('/api/chat', { messages: [] });
  assert.equal(r.status, 400);
  assert.deepEqual(await r.json(), { error: 'model is required' });
  r = await h.post('/api/chat', { model: 'm', messages: [{ content: 'no role' }] });
  assert.equal(r.status, 400);
  assert.deepEqual(await r.json(), { error: 'messages[0] needs a "role"' });
  r = await h.post('/api/chat', { model: 'm', messages: 'hi' });
  assert.deepEqual(await r.json(), { error: 'messages must be a list' });
  r = await h.fetch('/api/chat');
  assert.equal(r.status, 405);
  // "NAME:latest" is the model
  const ok = await ol.chat({ model: 'm:latest', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(ok.model, 'm:latest');
  assert.equal(ok.done, true);
  await h.stop();
});

test('an engine that fails mid-stream ends the NDJSON with an error line, never done', async (t) => {
  const h = new Hermod(`models:
  - name: m
    ttl: 0
    engines:
${managed(['--chunks', 5, '--crash-after', 2])}
`);
  t.after(() => h.cleanup());
  await h.start();
  const res = await h.post('/api/chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(res.status, 200);
  const lines = await ndjson(res);
  assert.deepEqual(lines.slice(0, -1).map((l) => l.message.content), ['tok0 ', 'tok1 ']);
  assert.match(lines.at(-1).error, /failed mid-stream/);
  assert.ok(!lines.some((l) => l.done === true));
  const ol = new Ollama({ host: h.url });
  await assert.rejects(
    (async () => {
      for await (const _ of await ol.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }));
    })(),
    /./,
  );
  await h.stop();
});
