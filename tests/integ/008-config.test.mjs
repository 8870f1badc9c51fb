// Config: broken files fail at start with FILE:LINE:COL and what is wrong;
// check-config validates without starting; the built-in default config
// starts with nothing installed and serves as soon as an engine exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { Hermod, HERMOD, FAKE, tmpdir, freePort } from './lib.mjs';

const broken = [
  ['listen: nowhere\nmodels: []\n', /:1:9: 'listen' must be HOST:PORT/],
  ['models:\n  - name: a\n    engins: []\n', /:3:5: unknown key 'engins' in a model \(did you mean 'engines'\?\)/],
  ['models:\n  - name: a\n    engines: []\n', /:3:14: 'engines' is empty/],
  ['models:\n  - name: a\n    engines:\n      - kind: llama-server\n        cmd: llama-server -m x.gguf\n', /:5:14: 'cmd' must be a list of arguments/],
  ['models:\n  - name: a\n    engines:\n      - kind: llama-server\n        cmd: [llama-server, -m, x.gguf]\n', /:4:9: 'cmd' must pass \$\{PORT\}/],
  ['models:\n  - name: a\n    engines:\n      - kind: tgi\n        url: http://x\n', /:4:15: unknown engine kind 'tgi'/],
  ['models:\n  - name: a\n    ttl: forever\n    engines:\n      - url: http://x\n', /:3:10: 'ttl' must be a duration/],
  ['models:\n  - name: a\n    engines:\n      - url: http://x\n  - name: b\n    aliases: [a]\n    engines:\n      - url: http://y\n', /:5: model name or alias 'a' is already used by model 'a' \(line 2\)/],
  ['models:\n  - name: a\n    memory: lots\n    engines:\n      - url: http://x\n', /:3:13: 'memory' must be a size/],
  ['budget: 12 apples\nmodels: []\n', /:1:9: 'budget' must be a size/],
  ['models:\n  - name: a\n    engines:\n      - url: ftp://x\n', /'url' must start with http/],
  ['models:\n  - name: a\n   engines: [\n', /:3:4: did not find expected/],
  ['models:\n  - name: a\n    engines:\n      - url: http://x\n        cmd: [x, "${NOPE}"]\n', /unknown macro \$\{NOPE\}/],
  ['models:\n  - name: a\n    engines:\n      - url: "${env.HERMOD_SURELY_UNSET_VAR}"\n', /environment variable HERMOD_SURELY_UNSET_VAR is not set/],
  ['', /the config is empty/],
  ['models:\n  - name: a\n    catalog: nemotron-3-nan\n    engines:\n      - url: http://x\n', /:2: model 'a': unknown catalog entry 'nemotron-3-nan' \(did you mean 'nemotron-3-nano-30b-a3b'\?\)/],
  ['- a\n- b\n', /the config must be a mapping/],
];

test('broken configs: check-config and serve fail with file:line and the problem', () => {
  const dir = tmpdir();
  broken.forEach(([text, re], i) => {
    const f = path.join(dir, `c${i}.yaml`);
    fs.writeFileSync(f, text);
    const c = spawnSync(HERMOD, ['check-config', f], { encoding: 'utf8' });
    assert.equal(c.status, 1, `check-config exit for case ${i}`);
    assert.match(c.stderr, re, `case ${i}: ${c.stderr}`);
    assert.ok(c.stderr.includes(f), `names the file (case ${i})`);
    const s = spawnSync(HERMOD, ['serve', '--config', f, '--listen', '127.0.0.1:1'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(s.status, 1, `serve exit for case ${i}`);
    assert.match(s.stderr, re);
  });
  const missing = spawnSync(HERMOD, ['check-config', path.join(dir, 'nope.yaml')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot open: No such file/);
  // a file that is not a config at all
  const bin = spawnSync(HERMOD, ['check-config', HERMOD], { encoding: 'utf8' });
  assert.equal(bin.status, 1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('check-config accepts the shipped default and reports what it holds', () => {
  const out = execFileSync(HERMOD, ['check-config', '--no-files', 'etc/hermod.yaml'], { encoding: 'utf8' });
  assert.match(out, /ok \(7 models, 12 engines, listen 127\.0\.0\.1:8400\)/);
  const def = execFileSync(HERMOD, ['config', '--default'], { encoding: 'utf8' });
  assert.equal(def, fs.readFileSync('etc/hermod.yaml', 'utf8'));
});

test('port already in use: a clear start-up error', async () => {
  const port = await freePort();
  const net = await import('node:net');
  const srv = net.createServer().listen(port, '127.0.0.1');
  await new Promise((r) => srv.on('listening', r));
  const dir = tmpdir();
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f, `listen: 127.0.0.1:${port}\nmodels: []\n`);
  const s = spawnSync(HERMOD, ['serve', '--config', f], { encoding: 'utf8', timeout: 10000 });
  srv.close();
  assert.equal(s.status, 1);
  assert.match(s.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('default config: starts with no engine anywhere, then serves through llama-server from PATH', async (t) => {
  // serve with no --config: hermod's built-in default
  const h = new Hermod(null);
  t.after(() => h.cleanup());
  const bin = path.join(h.dir, 'bin');
  const models = path.join(h.dir, 'models');
  fs.mkdirSync(bin);
  fs.mkdirSync(models);
  // A stand-in llama-server (our fake engine accepts llama-server's flags).
  fs.symlinkSync(FAKE, path.join(bin, 'llama-server'));
  // No NIM on :8000, no Ollama on :11434 here, and no model files yet.
  h.env = { PATH: `${bin}:/usr/bin:/bin`, HERMOD_MODEL_DIR: models };
  await h.start();

  let list = await h.json('/v1/models');
  const nemo = list.data.find((m) => m.id === 'nemotron-3-nano');
  assert.equal(nemo.hermod.state, 'unavailable');
  assert.match(nemo.hermod.reason, /nemotron-3-nano@nim: not reachable at http:\/\/127\.0\.0\.1:8000 .*is it running\?/);
  assert.match(nemo.hermod.reason, /nemotron-3-nano@ollama: not reachable at http:\/\/127\.0\.0\.1:11434/);
  assert.match(nemo.hermod.reason, /nemotron-3-nano-30b-a3b-Q4_K_M\.gguf: No such file/);
  assert.ok(list.data.some((m) => m.id === 'qwen3.5-35b-a3b'));
  assert.ok(list.data.some((m) => m.id === 'cosmos-reason2-8b'));

  // A file that is not a model is refused with a clear reason.
  const file = path.join(models, 'nemotron-3-nano-30b-a3b-Q4_K_M.gguf');
  fs.writeFileSync(file, 'not a model at all');
  const bad = await h.post('/v1/chat/completions', { model: 'nemotron', messages: [] });
  assert.equal(bad.status, 503);
  assert.match((await bad.json()).error.message, /nemotron-3-nano-30b-a3b-Q4_K_M\.gguf is not a GGUF model/);

  // The user drops a real model file in place: it is served at once.
  fs.rmSync(file);
  execFileSync(path.resolve('build/gguf-gen'), ['--preset', 'tiny-llama', '--out', file]);
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'x', maxRetries: 0 });
  const { data, response } = await client.chat.completions
    .create({ model: 'nemotron', messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  assert.equal(response.headers.get('x-hermod-engine'), 'nemotron-3-nano@llama-server');
  // NIM and Ollama were found down by their health checks and skipped.
  assert.equal(response.headers.get('x-hermod-attempts'), null);
  assert.equal(data.choices[0].message.content, 'tok0 tok1 tok2 tok3 tok4 ');
  list = await h.json('/v1/models');
  assert.equal(list.data.find((m) => m.id === 'nemotron-3-nano').hermod.state, 'ready');
  await h.stop();
  assert.equal(h.exited.code, 0);
});
