// Every bad input gets an OpenAI-style error with the right status, and
// nothing crashes: malformed JSON, missing or unknown model, oversized
// bodies, wrong types, unknown paths and methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Hermod, oneModel, managed } from './lib.mjs';

function assertOpenAIError(j, code) {
  assert.ok(j.error, 'has an error object');
  assert.equal(typeof j.error.message, 'string');
  assert.equal(typeof j.error.type, 'string');
  assert.ok('param' in j.error && 'code' in j.error);
  if (code) assert.equal(j.error.code, code);
}

test('bad requests get clear OpenAI errors and hermod keeps serving', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'alpha', aliases: ['a'], engines: [managed([])], extra: 'max_body: 4KiB\n' }) +
      `  - name: beta\n    engines:\n${managed([])}`,
  );
  t.after(() => h.cleanup());
  await h.start();

  let r = await h.post('/v1/chat/completions', '{"model": "alpha", "messages": [');
  assert.equal(r.status, 400);
  let j = await r.json();
  assertOpenAIError(j, 'invalid_json');
  assert.match(j.error.message, /line 1/);

  r = await h.post('/v1/chat/completions', '[1,2,3]');
  assert.equal(r.status, 400);
  assertOpenAIError(await r.json(), 'invalid_json');

  r = await h.post('/v1/chat/completions', '');
  assert.equal(r.status, 400);

  r = await h.post('/v1/chat/completions', { messages: [] });
  assert.equal(r.status, 404);
  j = await r.json();
  assertOpenAIError(j, 'model_not_found');
  assert.match(j.error.message, /alpha/);
  assert.match(j.error.message, /beta/);

  r = await h.post('/v1/chat/completions', { model: 'gpt-17', messages: [] });
  assert.equal(r.status, 404);
  j = await r.json();
  assert.match(j.error.message, /'gpt-17' does not exist; available models: alpha, beta/);

  r = await h.post('/v1/chat/completions', { model: 42 });
  assert.equal(r.status, 404);

  r = await h.post('/v1/chat/completions', { model: 'a', stream: 'yes' });
  assert.equal(r.status, 400);
  assertOpenAIError(await r.json(), 'invalid_stream');

  // Over max_body, with a Content-Length: refused before reading it all.
  const big = JSON.stringify({ model: 'alpha', messages: [{ role: 'user', content: 'x'.repeat(10000) }] });
  r = await h.post('/v1/chat/completions', big);
  assert.equal(r.status, 413);
  assertOpenAIError(await r.json(), 'request_too_large');

  // Over max_body, chunked (no Content-Length).
  const chunked = await new Promise((resolve, reject) => {
    const s = net.connect(h.port, '127.0.0.1', () => {
      s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n');
      for (let i = 0; i < 10; i++) s.write('400\r\n' + 'y'.repeat(1024) + '\r\n');
      s.write('0\r\n\r\n');
    });
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
  assert.match(chunked, /^HTTP\/1\.1 413/);

  // Garbage that is not HTTP at all, and a TLS hello: the connection is
  // closed or left to time out, and hermod carries on.
  for (const junk of ['GARBAGE\r\n\r\n', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03']) {
    await new Promise((resolve) => {
      const s = net.connect(h.port, '127.0.0.1', () => s.write(junk));
      s.on('data', () => {});
      s.on('close', resolve);
      s.on('error', resolve);
      setTimeout(() => s.destroy(), 300);
    });
  }

  r = await h.fetch('/v1/nothing');
  assert.equal(r.status, 404);
  assertOpenAIError(await r.json(), 'not_found');

  r = await h.fetch('/v1/chat/completions');
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST');

  r = await h.fetch('/v1/models/nope');
  assert.equal(r.status, 404);
  r = await h.fetch('/v1/models/a');
  assert.equal((await r.json()).hermod.alias_of, 'alpha');

  r = await h.post('/hermod/unload', { model: 'nope' });
  assert.equal(r.status, 404);
  r = await h.post('/hermod/unload', 'not json');
  assert.equal(r.status, 400);
  r = await h.fetch('/hermod/logs?engine=nope');
  assert.equal(r.status, 404);

  // After all that, a good request still works.
  r = await h.post('/v1/chat/completions', { model: 'alpha', messages: [] });
  assert.equal(r.status, 200);
  await h.stop();
  assert.equal(h.exited.code, 0);
});
