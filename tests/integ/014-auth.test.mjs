// Inbound API keys, protected mode and CORS (issue 11): no key and a wrong
// key get 401, the right key 200, a model outside the key's list is 404
// model_not_found and absent from /v1/models, /health needs no key, admin
// paths need an admin key, a non-loopback listen without keys refuses to
// start, and a web origin not listed gets 403.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { Hermod, unmanaged, startFake, freePort, tmpdir, HERMOD } from './lib.mjs';

const PHONE = 'hk-phone-0123456789abcdef0123456789';
const ADMIN = 'hk-admin-fedcba9876543210fedcba9876';
const LAPTOP = 'hk-laptop-00112233445566778899aabbcc';

function keysConfig(urlA, urlB, extra = '') {
  return `${extra}
auth:
  keys:
    - name: phone
      key: ${PHONE}
      models: [qwen-kn]
    - name: admin
      key_env: HERMOD_TEST_ADMIN_KEY
      admin: true
    - name: laptop
      key_file: @DIR@/laptop.key
models:
  - name: qwen-kn
    aliases: [kn]
    engines:
${unmanaged(urlA)}  - name: secret
    engines:
${unmanaged(urlB)}routes:
  - name: auto
    rules:
      - models: [qwen-kn, secret]
`;
}

async function keyed(t, extra = '') {
  const a = await startFake(['--alias', 'qwen-kn']);
  const b = await startFake(['--alias', 'secret']);
  t.after(() => (a.stop(), b.stop()));
  const h = new Hermod(keysConfig(a.url, b.url, extra), { env: { HERMOD_TEST_ADMIN_KEY: ADMIN } });
  t.after(() => h.cleanup());
  fs.writeFileSync(path.join(h.dir, 'laptop.key'), LAPTOP + '\n', { mode: 0o600 });
  await h.start();
  return h;
}

const chat = (h, model, headers = {}) =>
  h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }, headers);
const bearer = (k) => ({ authorization: `Bearer ${k}` });

function assertOpenAIError(j, code) {
  assert.equal(typeof j.error, 'object');
  assert.equal(typeof j.error.message, 'string');
  assert.ok(j.error.message.length > 10);
  assert.equal(j.error.type, 'invalid_request_error');
  assert.ok('param' in j.error);
  assert.equal(j.error.code, code);
}

test('no key and a wrong key get 401; the right key, by Bearer or x-api-key, 200', async (t) => {
  const h = await keyed(t);
  const none = await chat(h, 'qwen-kn');
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') || '', /Bearer/);
  assertOpenAIError(await none.json(), 'missing_api_key');
  const wrong = await chat(h, 'qwen-kn', bearer(PHONE.slice(0, -1) + 'x'));
  assert.equal(wrong.status, 401);
  assertOpenAIError(await wrong.json(), 'invalid_api_key');
  const ok = await chat(h, 'qwen-kn', bearer(PHONE));
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).object, 'chat.completion');
  const xk = await chat(h, 'kn', { 'x-api-key': LAPTOP });
  assert.equal(xk.status, 200, 'key_file key through x-api-key');
  // Unknown paths are not enumerable without a key.
  assert.equal((await h.fetch('/v1/nothing')).status, 401);
  // The official client with its apiKey.
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: PHONE });
  const r = await client.chat.completions.create({ model: 'qwen-kn', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.model, 'qwen-kn');
  const badClient = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'hk-nope-nope-nope-nope-nope', maxRetries: 0 });
  await assert.rejects(badClient.models.list(), (e) => e.status === 401);
  // Keys never reach the log; names do.
  const log = h.log();
  for (const k of [PHONE, ADMIN, LAPTOP]) assert.ok(!log.includes(k), 'a key in the log');
  assert.match(log, /auth: refused path=\/v1\/chat\/completions reason=no-key/);
  await h.stop();
  assert.equal(h.exited.code, 0);
});

test('a model outside the key list is 404 model_not_found and hidden from /v1/models', async (t) => {
  const h = await keyed(t);
  const hidden = await chat(h, 'secret', bearer(PHONE));
  assert.equal(hidden.status, 404);
  const j = await hidden.json();
  assertOpenAIError(j, 'model_not_found');
  assert.ok(!/secret'?;.*secret/.test(j.error.message));
  assert.ok(!j.error.message.includes('auto'), 'the list of models names only the key\'s');
  // a route the key does not list is a model it does not have either
  assert.equal((await chat(h, 'auto', bearer(PHONE))).status, 404);
  const list = await (await h.fetch('/v1/models', { headers: bearer(PHONE) })).json();
  const ids = list.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['kn', 'qwen-kn']);
  assert.equal((await h.fetch('/v1/models/secret', { headers: bearer(PHONE) })).status, 404);
  assert.equal((await h.fetch('/v1/models/qwen-kn', { headers: bearer(PHONE) })).status, 200);
  // A key without a list sees everything.
  const all = await (await h.fetch('/v1/models', { headers: bearer(LAPTOP) })).json();
  assert.deepEqual(all.data.map((m) => m.id).sort(), ['auto', 'kn', 'qwen-kn', 'secret']);
  assert.equal((await chat(h, 'secret', bearer(LAPTOP))).status, 200);
  await h.stop();
});

test('/health is open; /hermod/ and /metrics need an admin key', async (t) => {
  const h = await keyed(t);
  assert.equal((await h.fetch('/health')).status, 200);
  assert.equal((await h.fetch('/metrics')).status, 401);
  const notAdmin = await h.fetch('/hermod/running', { headers: bearer(PHONE) });
  assert.equal(notAdmin.status, 403);
  assertOpenAIError(await notAdmin.json(), 'permission_denied');
  assert.equal((await h.fetch('/metrics', { headers: bearer(LAPTOP) })).status, 403);
  assert.equal((await h.fetch('/hermod/running', { headers: bearer(ADMIN) })).status, 200);
  assert.equal((await h.fetch('/metrics', { headers: { 'x-api-key': ADMIN } })).status, 200);
  await h.stop();
});

test('a config holding keys that others can read gets a warning', async (t) => {
  const h = await keyed(t);
  // Hermod writes its config with the default mode (0644 under umask 022).
  const mode = fs.statSync(h.configPath).mode & 0o777;
  if (mode & 0o044) assert.match(h.log(), /holds API keys and other users can read it.*chmod 600/);
  assert.ok(!/key_file .*laptop\.key holds/.test(h.log()), 'a 0600 key_file is not warned about');
  await h.stop();
});

test('0.0.0.0 without keys refuses to start and names both ways out; open: true starts', async (t) => {
  const port = await freePort();
  const cfg = `listen: 0.0.0.0:${port}\nmodels:\n  - name: m\n    engines:\n${unmanaged('http://127.0.0.1:9')}`;
  const h = new Hermod(cfg);
  t.after(() => h.cleanup());
  const ex = await h.start({ expectFail: true });
  assert.equal(ex.code, 1);
  assert.match(h.log(), /refusing to listen on 0\.0\.0\.0 without API keys/);
  assert.match(h.log(), /auth:\n\s+keys:/);
  assert.match(h.log(), /auth: \{open: true\}/);
  // --listen on the command line is held to the same rule.
  const h2 = new Hermod(`models:\n  - name: m\n    engines:\n${unmanaged('http://127.0.0.1:9')}`, {
    args: ['--listen', `0.0.0.0:${port}`],
  });
  t.after(() => h2.cleanup());
  assert.equal((await h2.start({ expectFail: true })).code, 1);
  // open: true is the explicit way to serve the network without keys.
  const h3 = new Hermod('listen: 0.0.0.0:0\nauth: {open: true}\n' + `models:\n  - name: m\n    engines:\n${unmanaged('http://127.0.0.1:9')}`);
  t.after(() => h3.cleanup());
  await h3.start();
  assert.match(h3.log(), /listening on http:\/\/0\.0\.0\.0:/);
  assert.equal((await h3.fetch('/v1/models')).status, 200);
  await h3.stop();
});

test('bad auth and cors config is an error with FILE:LINE:COL', () => {
  const dir = tmpdir();
  const check = (yaml) => {
    const f = path.join(dir, 'c.yaml');
    fs.writeFileSync(f, yaml);
    try {
      execFileSync(HERMOD, ['check-config', f], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (e) {
      return e.stderr;
    }
  };
  const models = `models:\n  - name: m\n    engines:\n      - url: http://127.0.0.1:9\n`;
  assert.match(check(`auth:\n  keys:\n    - name: a\n      key: short\n${models}`), /c\.yaml:3:7: key 'a' is too short/);
  assert.match(check(`auth:\n  keys:\n    - name: a\n${models}`), /c\.yaml:3:7: key 'a' needs exactly one of 'key', 'key_file' or 'key_env'/);
  assert.match(check(`auth:\n  keys:\n    - name: a\n      key_env: HERMOD_TEST_UNSET_VAR\n${models}`), /c\.yaml:4:16: key_env: the environment variable HERMOD_TEST_UNSET_VAR is not set/);
  assert.match(check(`auth:\n  keys:\n    - name: a\n      key: ${PHONE}\n      models: [nope]\n${models}`), /auth: key 'a' lists 'nope', which is neither a model nor a route/);
  assert.match(check(`auth:\n  open: true\n  keys:\n    - name: a\n      key: ${PHONE}\n${models}`), /keep the keys .* or 'open: true'/);
  assert.match(check(`auth:\n  keys:\n    - name: a\n      key: ${PHONE}\n    - name: b\n      key: ${PHONE}\n${models}`), /keys 'a' and 'b' are the same key/);
  assert.match(check(`cors:\n  origins: [https://x.example/app]\n${models}`), /c\.yaml:2:3: cors: an origin is a scheme and host/);
  assert.match(check(`max_connections: 0\n${models}`), /'max_connections' must be a whole number from 1/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('CORS: an origin not listed gets 403; a listed one its headers and a preflight 204', async (t) => {
  const a = await startFake(['--alias', 'm']);
  t.after(() => a.stop());
  const h = new Hermod(`cors:\n  origins: [https://app.example]\nmodels:\n  - name: m\n    engines:\n${unmanaged(a.url)}`);
  t.after(() => h.cleanup());
  await h.start();
  const evil = await h.fetch('/v1/models', { headers: { origin: 'https://evil.example' } });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  assertOpenAIError(await evil.json(), 'origin_not_allowed');
  const pre = await h.fetch('/v1/chat/completions', {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/i);
  const ok = await h.post('/v1/chat/completions', { model: 'm', messages: [] }, { origin: 'https://app.example' });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
  // Without cors config a browser page elsewhere gets nothing; the daemon's own origin is fine.
  const same = await h.fetch('/v1/models', { headers: { origin: h.url } });
  assert.equal(same.status, 200);
  await h.stop();
});

test('ingest with keys on: the pipeline calls its own API with the internal key', async (t) => {
  const facts = JSON.stringify({ entities: [{ type: 'person', name: 'Rajesh', surface: null }], relations: [] });
  const h = new Hermod(`auth:
  keys:
    - name: me
      key: ${ADMIN}
      admin: true
models:
  - name: nemo
    languages: [en]
    modalities: [text]
    engines:
      - kind: llama-server
        cmd: ["${process.env.FAKE_ENGINE || path.resolve('build/fake-engine')}", "--port", "\${PORT}", "--content-file", "@DIR@/nemo.answers", "--record", "@DIR@/nemo.rec"]
store: @DIR@/memory.db
pipeline:
  extract: nemo
`);
  t.after(() => h.cleanup());
  fs.writeFileSync(path.join(h.dir, 'nemo.answers'), facts + '\n');
  await h.start();
  const text = 'Had coffee with Rajesh at the office today.';
  assert.equal((await h.post('/hermod/ingest', { text })).status, 401);
  const r = await h.post('/hermod/ingest', { text, source: 'voice' }, bearer(ADMIN));
  const ep = await r.json();
  assert.equal(r.status, 200, JSON.stringify(ep));
  assert.equal(ep.model, 'nemo');
  assert.ok(!/auth: refused path=\/v1\/chat/.test(h.log()), 'the pipeline was let in');
  // hermod ingest sends $HERMOD_API_KEY
  const cli = (env) =>
    spawnSync(HERMOD, ['ingest', '-', '--kind', 'transcript', '--url', h.url], {
      input: 'Lunch with Rajesh tomorrow.', encoding: 'utf8', env: { ...process.env, ...env },
    });
  const without = cli({ HERMOD_API_KEY: '' });
  assert.equal(without.status, 1, without.stdout + without.stderr);
  assert.match(without.stderr, /key/i);
  const withKey = cli({ HERMOD_API_KEY: ADMIN });
  assert.equal(withKey.status, 0, withKey.stdout + withKey.stderr);
  await h.stop();
});
