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
import { Hermod, managed, oneModel, waitFor, processesMentioning, SLOW } from './lib.mjs';

const SCHEMA = {
  type: 'json_schema',
  json_schema: {
    name: 'bill',
    strict: true,
    schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'], additionalProperties: false },
  },
};

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

// Chromium's helper processes (zygote, crashpad) can outlive the browser
// process by a moment; they carry the profile's path. The run is over when
// they are gone too (Hermod.stop checks that nothing under the test's
// folder is left), and those still there after the deadline are killed.
async function chromiumGone(profile) {
  try {
    await waitFor(() => processesMentioning(profile).length === 0, { what: 'Chromium\'s helpers to exit' });
  } catch {
    for (const pid of processesMentioning(profile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await waitFor(() => processesMentioning(profile).length === 0, { what: 'Chromium\'s helpers to be killed' });
  }
}

async function runChromium(dir, args, url) {
  const profile = path.join(dir, 'chromium-profile');
  const r = await new Promise((resolve) => {
    const p = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
      `--user-data-dir=${profile}`, '--window-size=1280,1000', '--timeout=' + 3000 * SLOW, ...args, url],
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
  await chromiumGone(profile);
  return r;
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

test('recent requests: the route decision and each escalation attempt, live in the events stream', async (t) => {
  const eng = (name) => `  - name: ${name}\n    languages: [en]\n    engines:\n${managed(['--content-file', `@DIR@/${name}.answers`])}`;
  const h = new Hermod('models:\n' + eng('weak') + eng('strong') + `routes:
  - name: extract
    escalation: {attempts: 3, deadline: 60s}
    rules:
      - name: bills
        models: [weak, strong]
`);
  t.after(() => h.cleanup());
  fs.writeFileSync(path.join(h.dir, 'weak.answers'), '{"total":"150"}\n');
  fs.writeFileSync(path.join(h.dir, 'strong.answers'), '{"total":150}\n');
  await h.start();
  const [empty] = await firstEvents(await h.fetch('/hermod/events'), 1);
  assert.deepEqual(empty.data.recent, []);

  const r = await h.post('/v1/chat/completions', { model: 'extract', messages: [{ role: 'user', content: 'The receipt from the restaurant says the total is 150 rupees.' }], response_format: SCHEMA });
  assert.equal(r.status, 200);
  await r.json();
  const named = await h.post('/v1/chat/completions', { model: 'weak', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(named.status, 200);
  await named.text();
  // The stream a page already holds gets them on its next tick.
  const [, st] = await firstEvents(await h.fetch('/hermod/events'), 2);
  const rec = st.data.recent;
  assert.equal(rec.length, 2);
  assert.ok(rec[0].seq < rec[1].seq, 'oldest first');
  const [esc, plain] = rec;
  // A request refused before any engine is in the list too, with why.
  const bad = await h.post('/v1/chat/completions', { model: 'nope', messages: [] });
  assert.equal(bad.status, 404);
  await bad.text();
  const [, st2] = await firstEvents(await h.fetch('/hermod/events'), 2);
  const refused = st2.data.recent.at(-1);
  assert.equal(refused.client_model, 'nope');
  assert.equal(refused.status, 404);
  assert.equal(refused.model, null);
  assert.match(refused.refused, /^model_not_found: the model 'nope' does not exist/);
  assert.equal(esc.path, '/v1/chat/completions');
  assert.equal(esc.client_model, 'extract');
  assert.equal(esc.model, 'strong', 'the model whose answer was sent');
  assert.equal(esc.status, 200);
  assert.equal(esc.route, 'extract');
  assert.equal(esc.rule, 'bills');
  assert.equal(typeof esc.reason, 'string');
  assert.ok(esc.reason.length > 0);
  assert.equal(typeof esc.ms, 'number');
  assert.ok(esc.attempts >= 2);
  assert.equal(esc.checks.length, 2);
  assert.equal(esc.checks[0].model, 'weak');
  assert.equal(esc.checks[0].ok, false);
  assert.match(esc.checks[0].problems, /\/total/);
  assert.equal(esc.checks[1].model, 'strong');
  assert.equal(esc.checks[1].ok, true);
  assert.equal(plain.client_model, 'weak');
  assert.equal(plain.model, 'weak');
  assert.equal(plain.route, undefined, 'a named model has no route decision');
  assert.deepEqual(plain.checks, []);
  assert.match(plain.engine, /weak/);

  // The page served now carries them too (rendered by Chromium below).
  const html = await (await h.fetch('/')).text();
  assert.match(html, /"recent":\[\{/);
  assert.match(html, /id="recent"/);
  await h.stop();
});

test('headless Chromium renders the model and the budget; screenshot kept', { skip: !CHROMIUM && 'chromium is not installed (scripts/deps --test installs it)' }, async (t) => {
  const h = new Hermod(config);
  t.after(() => h.cleanup());
  await h.start();
  const answered = await h.post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(answered.status, 200);
  await answered.text();
  const dom = await runChromium(h.dir, ['--dump-dom'], h.url + '/');
  assert.equal(dom.status, 0, dom.err.slice(-2000));
  assert.match(dom.out, /<td>m<\/td>/, 'the configured model is in the models table');
  assert.match(dom.out, /class="state s-(cold|ready)">(cold|ready)</);
  assert.match(dom.out, /<table id="recent">.*\/v1\/chat\/completions.*asked for m/s, 'the recent request');
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
