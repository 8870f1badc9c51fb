// The basics: a managed engine started on the first request, non-streamed
// and streamed answers, /v1/models, /health, /hermod/running, the model
// rewrite, and a clean exit that stops every engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Hermod, oneModel, managed, readRecord, readSSE, dataEvents, pidAlive } from './lib.mjs';

test('managed engine: start on demand, relay, rewrite model, stop on exit', async (t) => {
  const h = new Hermod(
    oneModel({
      name: 'nemo',
      aliases: ['fast', 'nemotron'],
      engines: [managed(['--record', '@DIR@/rec.txt', '--alias', 'upstream-id', '--load-delay', 200], '        model: upstream-id\n')],
    }),
  );
  const rec = path.join(h.dir, 'rec.txt');
  t.after(() => h.cleanup());
  await h.start();

  // Before any request the engine is not running.
  let models = await h.json('/v1/models');
  const ids = models.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['fast', 'nemo', 'nemotron']);
  assert.equal(models.data.find((m) => m.id === 'nemo').hermod.state, 'stopped');
  assert.equal(models.data.find((m) => m.id === 'fast').hermod.alias_of, 'nemo');
  assert.deepEqual((await h.running()).engines, []);

  // Non-streamed, by alias.
  const r = await h.post('/v1/chat/completions', {
    model: 'fast',
    messages: [{ role: 'user', content: 'hello' }],
    temperature: 0.25,
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-model'), 'nemo');
  assert.equal(r.headers.get('x-hermod-engine'), 'nemo@llama-server');
  const body = await r.json();
  assert.equal(body.object, 'chat.completion');
  assert.equal(body.choices[0].message.content, 'tok0 tok1 tok2 tok3 tok4 ');
  // The answer names the model as the client did (the engine said
  // 'upstream-id'), and the engine saw its own model id.
  assert.equal(body.model, 'fast');
  const reqs = readRecord(rec).filter((e) => e.ev === 'request');
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].fields.model, 'upstream-id');

  // Streamed.
  const s = await h.post('/v1/chat/completions', { model: 'nemo', stream: true, messages: [] });
  assert.equal(s.status, 200);
  assert.match(s.headers.get('content-type'), /text\/event-stream/);
  const { events } = await readSSE(s);
  const data = dataEvents(events);
  assert.equal(data.at(-1), '[DONE]');
  assert.equal(data.length, 7);
  assert.equal(JSON.parse(data[0]).choices[0].delta.content, 'tok0 ');

  // /v1/completions and /v1/embeddings are relayed too.
  const c = await h.post('/v1/completions', { model: 'nemo', prompt: 'x' });
  assert.equal((await c.json()).object, 'text_completion');
  const e = await h.post('/v1/embeddings', { model: 'nemo', input: 'x' });
  const ej = await e.json();
  assert.equal(ej.data[0].embedding.length, 8);

  // One engine, ready, in /hermod/running with its pid and port.
  const run = await h.running();
  assert.equal(run.engines.length, 1);
  const eng = run.engines[0];
  assert.equal(eng.state, 'ready');
  assert.equal(eng.model, 'nemo');
  assert.equal(eng.kind, 'llama-server');
  assert.equal(eng.in_flight, 0);
  assert.ok(eng.pid > 0 && pidAlive(eng.pid));
  assert.ok(eng.port > 0);
  assert.ok(eng.since);
  models = await h.json('/v1/models');
  assert.equal(models.data.find((m) => m.id === 'nemo').hermod.state, 'ready');

  // The engine's output was captured.
  const log = await (await h.fetch('/hermod/logs?engine=nemo@llama-server')).text();
  assert.match(log, /server is listening/);

  const health = await h.json('/health');
  assert.equal(health.status, 'ok');

  await h.stop();
  assert.equal(h.exited.code, 0);
  assert.ok(!pidAlive(eng.pid), 'the engine was stopped');
  assert.ok(readRecord(rec).some((e) => e.ev === 'stop'), 'the engine got SIGTERM');
});

test('the body goes upstream as the client sent it unless something must change', async (t) => {
  const h = new Hermod(oneModel({ name: 'same', aliases: ['other'], engines: [managed(['--record', '@DIR@/rec.txt', '--alias', 'same'])] }));
  t.after(() => h.cleanup());
  await h.start();
  const reqs = () => readRecord(path.join(h.dir, 'rec.txt')).filter((e) => e.ev === 'request');
  // the engine knows the model by the client's name: the very bytes go
  const raw = '{ "messages" : [ {"role":"user","content":"ನಮಸ್ಕಾರ"} ],\n  "model":"same", "temperature": 0.5 }';
  assert.equal((await h.post('/v1/chat/completions', raw)).status, 200);
  assert.equal(Number(reqs()[0].fields.bytes), Buffer.byteLength(raw));
  assert.equal(reqs()[0].fields.keys, 'messages,model,temperature');
  // hermod's own field is taken out, so the body is rebuilt
  assert.equal((await h.post('/v1/chat/completions', { model: 'same', messages: [], hermod: { task: 'x' } })).status, 200);
  assert.equal(reqs()[1].fields.keys, 'model,messages');
  // by alias: the engine gets its own name
  assert.equal((await h.post('/v1/chat/completions', { model: 'other', messages: [] })).status, 200);
  assert.equal(reqs()[2].fields.model, 'same');
  // by alias, as sent: only the model's value changes, every other byte stays
  const raw2 = '{ "stream" : false,\n  "model" :  "other" , "messages":[{"role":"user","content":"\\u0c95 \\"hi\\""}] }';
  assert.equal((await h.post('/v1/chat/completions', raw2)).status, 200);
  assert.equal(reqs()[3].fields.model, 'same');
  assert.equal(reqs()[3].fields.keys, 'stream,model,messages');
  assert.equal(Number(reqs()[3].fields.bytes), Buffer.byteLength(raw2) - '"other"'.length + '"same"'.length);
  await h.stop();
});

test('after a fallback the next engine gets its own model name, not the client\'s bytes', async (t) => {
  const h = new Hermod(
    oneModel({
      name: 'm',
      aliases: ['fast'],
      engines: [
        managed(['--status', 500, '--record', '@DIR@/a.txt'], '        model: up\n'),
        managed(['--record', '@DIR@/b.txt', '--alias', 'up'], '        model: up\n'),
      ],
    }),
  );
  t.after(() => h.cleanup());
  await h.start();
  const r = await h.post('/v1/chat/completions', { model: 'fast', messages: [] });
  assert.equal(r.status, 200);
  const got = (f) => readRecord(path.join(h.dir, f)).filter((e) => e.ev === 'request').map((e) => e.fields.model);
  assert.deepEqual(got('a.txt'), ['up']);
  assert.deepEqual(got('b.txt'), ['up']);
  await h.stop();
});
