// The HTTP server's limits as config keys (issue 11), each with its clear
// status: max_header 431, max_body 413, header_timeout 408, idle_timeout
// closes a kept-alive connection, max_connections 503. After each, the
// daemon still serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Hermod, unmanaged, startFake, waitFor, SLOW } from './lib.mjs';

async function limited(t, extra) {
  const a = await startFake(['--alias', 'm']);
  t.after(() => a.stop());
  const h = new Hermod(`${extra}\nmodels:\n  - name: m\n    engines:\n${unmanaged(a.url)}`);
  t.after(() => h.cleanup());
  await h.start();
  return h;
}

// A raw connection: what it received, and whether the server closed it.
function raw(port) {
  const s = net.connect(port, '127.0.0.1');
  const st = { data: '', closed: false, sock: s };
  s.on('data', (d) => (st.data += d));
  s.on('close', () => (st.closed = true));
  s.on('error', () => {});
  return new Promise((resolve) => s.on('connect', () => resolve(st)));
}

const bodyOf = (text) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));

async function stillServes(h) {
  const r = await h.post('/v1/chat/completions', { model: 'm', messages: [] });
  assert.equal(r.status, 200);
}

test('max_header: a larger head gets 431 with the limit named', async (t) => {
  const h = await limited(t, 'max_header: 2KiB');
  const r = await h.fetch('/v1/models', { headers: { 'x-big': 'a'.repeat(3000) } });
  assert.equal(r.status, 431);
  const j = await r.json();
  assert.equal(j.error.code, 'headers_too_large');
  assert.match(j.error.message, /2048 bytes \(max_header\)/);
  assert.equal((await h.fetch('/v1/models', { headers: { 'x-small': 'a'.repeat(1000) } })).status, 200);
  await stillServes(h);
  await h.stop();
});

test('max_body: a larger body gets 413, said by Content-Length or found while reading', async (t) => {
  const h = await limited(t, 'max_body: 1KiB');
  const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2000) }] });
  const r = await h.post('/v1/chat/completions', big);
  assert.equal(r.status, 413);
  assert.equal((await r.json()).error.code, 'request_too_large');
  // chunked: no Content-Length, the limit is found while reading
  const c = await raw(h.port);
  c.sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  c.sock.write(`${(2000).toString(16)}\r\n${'y'.repeat(2000)}\r\n0\r\n\r\n`);
  await waitFor(() => c.data.includes('\r\n\r\n{'), { what: 'the 413' });
  assert.match(c.data, /^HTTP\/1\.1 413/);
  c.sock.destroy();
  await stillServes(h);
  await h.stop();
});

test('header_timeout: a request not sent whole in time gets 408', async (t) => {
  const h = await limited(t, 'header_timeout: 1s');
  const c = await raw(h.port);
  const t0 = Date.now();
  c.sock.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n'); // and never the end of the head
  await waitFor(() => c.closed, { what: 'the 408 and close', timeout: 10000 * SLOW });
  assert.match(c.data, /^HTTP\/1\.1 408/);
  assert.equal(bodyOf(c.data).error.code, 'request_timeout');
  assert.match(bodyOf(c.data).error.message, /header_timeout/);
  assert.ok(Date.now() - t0 >= 900, 'not before the timeout');
  await stillServes(h);
  await h.stop();
});

test('idle_timeout: a kept-alive connection at rest is closed', async (t) => {
  const h = await limited(t, 'idle_timeout: 1s');
  const c = await raw(h.port);
  c.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => c.data.includes('"status":"ok"'), { what: 'the answer' });
  assert.equal(c.closed, false, 'kept alive after the answer');
  await waitFor(() => c.closed, { what: 'the idle close', timeout: 10000 * SLOW });
  await stillServes(h);
  await h.stop();
});

// An open files limit below what max_connections needs (2 a connection,
// client and engine, plus hermod's own): max_connections comes down to
// what fits, hermod says so at start, and a client past it gets the 503
// with its reason. Before, accept() hit EMFILE and libuv reset the
// connection with no word to the client or in the log.
test('an open files limit too low for max_connections: lowered, said at start, 503 past it', async (t) => {
  const a = await startFake(['--alias', 'm']);
  t.after(() => a.stop());
  const h = new Hermod(`models:\n  - name: m\n    engines:\n${unmanaged(a.url)}`, {
    wrap: ['prlimit', '--nofile=100', '--'],
  });
  t.after(() => h.cleanup());
  await h.start();
  const m = h.log().match(/max_connections 16384 can need 32832 open files, but this process may open only 100: taking max_connections as (\d+)/);
  assert.ok(m, 'the start says what max_connections is taken as');
  const cap = Number(m[1]);
  assert.ok(cap >= 8 && 2 * cap + 16 <= 100, `${cap}: two files a connection and hermod's 16 at rest fit in 100`);
  const held = [];
  let refused = null;
  for (let i = 0; i < cap + 2 && !refused; i++) {
    const c = await raw(h.port);
    c.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => c.data.includes('"status"') || c.data.includes('"error"') || c.closed, { what: `connection ${i} answered` });
    if (c.data.startsWith('HTTP/1.1 200')) held.push(c);
    else refused = c;
  }
  assert.ok(refused, 'a connection beyond what fits is refused');
  assert.ok(held.length >= cap - 1 && held.length <= cap, `${held.length} served`);
  assert.match(refused.data, /^HTTP\/1\.1 503/);
  assert.equal(bodyOf(refused.data).error.code, 'too_many_connections');
  for (const c of held) c.sock.destroy();
  await stillServes(h);
  await h.stop();
});

test('max_connections: one too many gets 503 too_many_connections; a freed slot serves again', async (t) => {
  const h = await limited(t, 'max_connections: 3');
  // Connections until one is refused (the helper's own fetch may hold a
  // kept-alive one too): at most 3 are served, the next gets the 503.
  const held = [];
  let refused = null;
  for (let i = 0; i < 4 && !refused; i++) {
    const c = await raw(h.port);
    c.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => c.data.includes('"status"') || c.closed, { what: `connection ${i} answered` });
    if (c.data.startsWith('HTTP/1.1 200')) held.push(c);
    else refused = c;
  }
  assert.ok(refused, 'a connection beyond the limit is refused');
  assert.ok(held.length >= 1 && held.length <= 3, `${held.length} served`);
  await waitFor(() => refused.closed, { what: 'the refused connection closed' });
  assert.match(refused.data, /^HTTP\/1\.1 503/);
  assert.equal(bodyOf(refused.data).error.code, 'too_many_connections');
  assert.match(h.log(), /connection refused: 3 open \(max_connections\)/);
  held.pop().sock.destroy();
  await waitFor(async () => {
    const c = await raw(h.port);
    c.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => c.data.includes('"status"') || c.closed, { what: 'an answer' });
    const ok = c.data.startsWith('HTTP/1.1 200');
    if (ok) held.push(c);
    else c.sock.destroy();
    return ok;
  }, { what: 'a slot free again' });
  for (const c of held) c.sock.destroy();
  await stillServes(h);
  await h.stop();
});
