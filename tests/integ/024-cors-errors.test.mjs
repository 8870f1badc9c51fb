// CORS on the errors net/http.c answers itself (431, 413, 408): a browser
// on an allowed origin can read why its request failed; an origin not
// listed still gets no Access-Control-* header. Then hermod serves on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Hermod, unmanaged, startFake, waitFor, SLOW } from './lib.mjs';

const APP = 'http://app.example';

async function setup(t) {
  const a = await startFake(['--alias', 'm']);
  t.after(() => a.stop());
  const h = new Hermod(
    `cors:\n  origins: [${APP}]\nmax_header: 2KiB\nmax_body: 1KiB\nheader_timeout: 1s\nmodels:\n  - name: m\n    engines:\n${unmanaged(a.url)}`,
  );
  t.after(() => h.cleanup());
  await h.start();
  return h;
}

test('431 and 413 carry CORS headers for an allowed origin, none for another', async (t) => {
  const h = await setup(t);
  for (const [origin, want] of [[APP, APP], ['http://evil.example', null]]) {
    const big = await h.fetch('/v1/models', { headers: { origin, 'x-big': 'a'.repeat(3000) } });
    assert.equal(big.status, 431);
    assert.equal(big.headers.get('access-control-allow-origin'), want);
    assert.equal((await big.json()).error.code, 'headers_too_large');
    const body = await h.post('/v1/chat/completions', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2000) }] }), { origin });
    assert.equal(body.status, 413);
    assert.equal(body.headers.get('access-control-allow-origin'), want);
    if (want) assert.match(body.headers.get('vary') || '', /Origin/);
    assert.equal((await body.json()).error.code, 'request_too_large');
  }
  const ok = await h.post('/v1/chat/completions', { model: 'm', messages: [] }, { origin: APP });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), APP);
  await h.stop();
});

test('408 carries CORS headers when the Origin was read before the timeout', async (t) => {
  const h = await setup(t);
  const s = net.connect(h.port, '127.0.0.1');
  let data = '';
  let closed = false;
  s.on('data', (d) => (data += d));
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  await new Promise((r) => s.on('connect', r));
  s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\nContent-Length: 100\r\n\r\n{"model"`);
  await waitFor(() => closed, { what: 'the 408', timeout: 10000 * SLOW });
  assert.match(data, /^HTTP\/1\.1 408/);
  assert.match(data, new RegExp(`\r\nAccess-Control-Allow-Origin: ${APP}\r\n`, 'i'));
  assert.match(data, /"code":"request_timeout"/);
  assert.equal((await h.post('/v1/chat/completions', { model: 'm', messages: [] })).status, 200);
  await h.stop();
});
