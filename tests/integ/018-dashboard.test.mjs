// The dashboard at GET /: embedded, offline (no other host), live by SSE.
// Rendered by Debian's headless Chromium, which must show the configured
// model and the memory budget; a screenshot is kept in
// BUILD/artifacts/dashboard.png for CI. Its data endpoints (the events
// stream, the routing playground) are tested with fetch as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { Hermod, managed, oneModel, waitFor, SLOW } from './lib.mjs';

const config = oneModel({
  engines: [managed([], '        memory: 2GiB\n')],
  extra: `budget: 8GiB
reserved: {whisper: 1GiB}
routes:
  - name: auto
    rules:
      - name: everything
        models: [m]
`,
});

function chromium() {
  for (const c of ['chromium', 'chromium-browser']) {
    if (spawnSync('sh', ['-c', `command -v ${c}`]).status === 0) return c;
  }
  return null;
}
const CHROMIUM = chromium();

// Reads SSE events from a streaming response until n have arrived.
async function firstEvents(res, n) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const events = [];
  while (events.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    let i;
    while ((i = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, i);
      text = text.slice(i + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data) events.push({ event: ev, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return events;
}

function runChromium(dir, args, url) {
  return new Promise((resolve) => {
    const p = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
      `--user-data-dir=${path.join(dir, 'chromium-profile')}`, '--window-size=1280,1000', '--timeout=' + 3000 * SLOW, ...args, url],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), 60000 * SLOW);
    p.on('exit', (status) => {
      clearTimeout(kill);
      resolve({ status, out, err });
    });
  });
}

test('the page is embedded, names no other host, and its data endpoints answer', async (t) => {
  const h = new Hermod(config);
  t.after(() => h.cleanup());
  await h.start();
  const page = await h.fetch('/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /EventSource\("\/hermod\/events"\)/);
  assert.doesNotMatch(html, /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, 'no URL of another host');

  // Live by SSE: a state at once, then again each second.
  const ev = await firstEvents(await h.fetch('/hermod/events'), 2);
  assert.equal(ev[0].event, 'state');
  assert.equal(ev[0].data.models[0].name, 'm');
  assert.equal(ev[0].data.models[0].state, 'cold');
  assert.equal(ev[0].data.pools[0].total, 8 * 2 ** 30);
  assert.equal(ev[0].data.pools[0].reserved, 2 ** 30);
  assert.ok(ev[1].data.time >= ev[0].data.time);

  // After a request the model is ready, its engine's log is in the stream.
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'x' });
  await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const [st] = await firstEvents(await h.fetch('/hermod/events'), 1);
  assert.equal(st.data.models[0].state, 'ready');
  const e = st.data.models[0].engines[0];
  assert.equal(e.state, 'ready');
  assert.equal(typeof e.log, 'string');
  assert.ok(e.memory.declared === 2 * 2 ** 30);

  // The playground: the daemon's own router.
  const r = await (await h.fetch('/hermod/route?text=' + encodeURIComponent('what is the capital of France?'))).json();
  assert.equal(r.language, 'en');
  assert.equal(r.route, 'auto');
  assert.equal(r.rule, 'everything');
  assert.equal(r.model, 'm');
  // Kannada never reaches a model not known to read it: refused, with why.
  const kn = await h.fetch('/hermod/route?text=' + encodeURIComponent('ninne yelli hogidde'));
  assert.equal(kn.status, 422);
  const k = await kn.json();
  assert.equal(k.language, 'kn-latn');
  assert.equal(k.needs_kannada, true);
  assert.equal(k.model, undefined);
  assert.match(k.why + k.skipped, /Kannada|kn/);
  const bad = await h.fetch('/hermod/route');
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /say what to route/);
  await h.stop();
});

test('headless Chromium renders the model and the budget; screenshot kept', { skip: !CHROMIUM && 'chromium is not installed (scripts/deps --test installs it)' }, async (t) => {
  const h = new Hermod(config);
  t.after(() => h.cleanup());
  await h.start();
  const dom = await runChromium(h.dir, ['--dump-dom'], h.url + '/');
  assert.equal(dom.status, 0, dom.err.slice(-2000));
  assert.match(dom.out, /<td>m<\/td>/, 'the configured model is in the models table');
  assert.match(dom.out, /class="state s-cold">cold</);
  assert.match(dom.out, /8\.0 GiB total/, 'the budget');
  assert.match(dom.out, /class="bar"/);
  assert.match(dom.out, /(live|updated) · \d/, 'rendered from a state');
  const artifacts = path.resolve(process.env.HERMOD_BUILD || 'build', 'artifacts');
  fs.mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, 'dashboard.png');
  fs.rmSync(shot, { force: true });
  const s = await runChromium(h.dir, [`--screenshot=${shot}`], h.url + '/');
  assert.equal(s.status, 0, s.err.slice(-2000));
  await waitFor(() => fs.existsSync(shot), { what: 'the screenshot' });
  const png = fs.readFileSync(shot);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(png.length > 10000, 'a real page, not a blank image');
  await h.stop();
});
