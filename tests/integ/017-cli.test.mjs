// The CLI: every subcommand answers --help with exit 0; route --explain
// takes TEXT; check-config reports every problem, missing programs and
// model files included; `hermod config` prints an effective config that
// loads again; ps, unload, logs and chat talk to a running daemon found by
// HERMOD_URL, --url or the config's listen; import llama-swap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Hermod, HERMOD, FAKE, ASAN, managed, unmanaged, freePort, oneModel, tmpdir, waitFor, SLOW } from './lib.mjs';

const run = (args, opts = {}) => spawnSync(HERMOD, args, { encoding: 'utf8', timeout: 30000 * SLOW, ...opts });

// Runs the CLI without blocking the test's event loop (the daemon's
// client in this process must keep running).
function runAsync(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(HERMOD, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr })); // close: after the output is read
  });
}

test('every subcommand answers its own --help with exit 0', () => {
  const cmds = ['serve', 'check-config', 'config', 'models', 'plan', 'estimate', 'route', 'langid',
    'ingest', 'search', 'export', 'ps', 'chat', 'unload', 'logs', 'import'];
  for (const c of cmds) {
    const r = run([c, '--help']);
    assert.equal(r.status, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`usage: hermod ${c}`), `${c} --help prints its own usage`);
  }
  const top = run(['--help']);
  assert.equal(top.status, 0);
  for (const c of ['ps', 'chat', 'unload', 'logs', 'import']) assert.match(top.stdout, new RegExp(`\\n  ${c} `));
});

test('route --explain takes the text itself, a file or stdin', () => {
  const a = run(['route', '--explain', '--json', 'ninne', 'hotel', 'ge', 'hogidde']);
  assert.equal(a.status, 0, a.stderr);
  const j = JSON.parse(a.stdout);
  assert.equal(j.language.label, 'kn-latn');
  assert.equal(j.language.needs_kannada, true);
  const dir = tmpdir();
  const f = path.join(dir, 'q.txt');
  fs.writeFileSync(f, 'What is the capital of France?');
  const b = JSON.parse(run(['route', '--explain', '--json', f]).stdout);
  assert.equal(b.language.label, 'en');
  const c = JSON.parse(run(['route', '--explain', '--json', '-'], { input: 'What is the capital of France?' }).stdout);
  assert.equal(c.language.label, 'en');
  assert.equal(c.model, b.model);
  // Reals at 10 significant digits, never 0.98536807298660278.
  assert.doesNotMatch(run(['route', '--explain', '--json', f]).stdout, /\d\.\d{11,}/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('check-config names every missing program and model file, with the next step', () => {
  const dir = tmpdir();
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f, `models:
  - name: a
    engines:
      - cmd: [no-such-engine-binary, --port, "\${PORT}", -m, ${dir}/missing-a.gguf]
  - name: b
    engines:
      - cmd: [${FAKE}, --port, "\${PORT}", --model, ${dir}/missing-b.gguf]
        cwd: ${dir}/nowhere
`);
  const r = run(['check-config', f]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /c\.yaml:4: model 'a', engine 1: the program 'no-such-engine-binary' is not found in \$PATH; install it/);
  assert.match(r.stderr, /missing-a\.gguf does not exist; download it there/);
  assert.match(r.stderr, /model 'b', engine 1: the model file .*missing-b\.gguf does not exist/);
  assert.match(r.stderr, /working directory .*nowhere does not exist/);
  assert.match(r.stderr, /4 problems/);
  fs.writeFileSync(path.join(dir, 'missing-a.gguf'), 'x');
  fs.writeFileSync(path.join(dir, 'missing-b.gguf'), 'x');
  fs.mkdirSync(path.join(dir, 'nowhere'));
  const r2 = run(['check-config', f]);
  assert.match(r2.stderr, /1 problem \(/);
  const r3 = run(['check-config', '--no-files', f]);
  assert.equal(r3.status, 0);
  assert.match(r3.stdout, /ok \(2 models, 2 engines/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('check-config lists every mistake in the file, each with FILE:LINE:COL, and exits 1', () => {
  const dir = tmpdir();
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f, `listen: 127.0.0.1:8080
budgt: 8GiB
models:
  - name: a
    ttl: forever
    engines:
      - url: https://127.0.0.1:1
  - name: b
    engines:
      - url: http://127.0.0.1:2
        memry: 1GiB
routes:
  - name: auto
    rules:
      - models: [a, nosuch]
pipeline:
  timezone: Mars
`);
  const r = run(['check-config', f]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  const want = [
    /c\.yaml:2:1: unknown key 'budgt' in the config \(did you mean 'budget'\?\)/,
    /c\.yaml:5:10: 'ttl' must be a duration/,
    /c\.yaml:7:9: 'url' must be http:\/\//,
    /c\.yaml:11:9: unknown key 'memry' in an engine \(did you mean 'memory'\?\)/,
    /c\.yaml:15: route 'auto', rule 1: no model 'nosuch'/,
    /c\.yaml:17: pipeline: timezone must be an offset/,
    /c\.yaml: 6 problems; fix them and run hermod check-config again/,
  ];
  assert.equal(lines.length, want.length, r.stderr);
  want.forEach((re, i) => assert.match(lines[i], re));
  // A YAML syntax error stops the reading: that one, with its position.
  fs.writeFileSync(f, 'models:\n  - name: a\n  bad: [\n');
  const s = run(['check-config', f]);
  assert.equal(s.status, 1);
  assert.match(s.stderr, /c\.yaml:\d+:\d+: .*\n.*c\.yaml: 1 problem; fix it/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('refusals say what to do next; an unmanaged engine is "not reachable", a crash is counted', async (t) => {
  const port = await freePort(); // nothing listens there
  const h = new Hermod(`models:
  - name: m
    languages: [en]
    engines:
${managed([])}  - name: u
    engines:
${unmanaged(`http://127.0.0.1:${port}`)}routes:
  - name: auto
    rules:
      - models: [m]
`);
  t.after(() => h.cleanup());
  await h.start();
  const ask = (model, content = 'hello') => h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content }] });

  // Not running, not ours to start: said so, with the next step.
  const u = await ask('u');
  assert.equal(u.status, 503);
  const ue = (await u.json()).error;
  assert.equal(ue.code, 'no_engine_available');
  assert.match(ue.message, new RegExp(`not reachable at http://127\\.0\\.0\\.1:${port} .*is it running\\?`));
  assert.match(ue.message, /Next: see why with hermod ps and hermod logs u/);
  await waitFor(() => /engine not reachable engine=u/.test(h.log()), { what: 'the log line' });
  assert.doesNotMatch(h.log(), /engine failed to start engine=u/);

  // No model on the route reads Kannada: why, and what to do.
  const kn = await ask('auto', 'ninne yelli hogidde? naale banni');
  assert.equal(kn.status, 503);
  const ke = (await kn.json()).error;
  assert.equal(ke.code, 'no_route');
  assert.match(ke.message, /Next: name a model that can take it, or add one to the route's rules/);

  // A crash with no request in flight is a failure, and counted as a crash.
  const ok = await ask('m');
  assert.equal(ok.status, 200);
  await ok.text();
  const before = await h.engine('m@llama-server');
  assert.equal(before.failures, 0);
  assert.equal(before.crashes, 0);
  process.kill(before.pid, 'SIGKILL');
  await waitFor(async () => (await h.engine('m@llama-server'))?.crashes === 1, { what: 'the crash counted' });
  assert.equal((await h.engine('m@llama-server')).failures, 1);
  await h.stop();
});

test('search and export take --config and use its store', () => {
  const dir = tmpdir();
  const f = path.join(dir, 'c.yaml');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(f, `store: ${dir}/sub/mem.db\nmodels:\n  - name: a\n    engines:\n      - url: http://127.0.0.1:1\n`);
  const r = run(['search', '--config', f, '--json', 'restaurant']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).results, []);
  assert.ok(fs.existsSync(path.join(dir, 'sub/mem.db')), 'the config\'s store was opened');
  const e = run(['export', '--config', f]);
  assert.equal(e.status, 0, e.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('hermod config prints the effective config, which loads to the same thing', () => {
  const dir = tmpdir();
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f, `listen: 127.0.0.1:9999
models:
  - name: a
    aliases: [x]
    ttl: 90
    engines:
      - url: http://127.0.0.1:1
`);
  const r = run(['config', '--config', f]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /listen: "127\.0\.0\.1:9999"/);
  assert.match(r.stdout, /ttl: 90s/);
  assert.match(r.stdout, /request_timeout: /, 'defaults are filled in');
  const g = path.join(dir, 'effective.yaml');
  fs.writeFileSync(g, r.stdout);
  const again = run(['config', '--config', g]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout.split('\n').slice(1).join('\n'), r.stdout.split('\n').slice(1).join('\n'));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('ps, chat, logs and unload against a running daemon via HERMOD_URL', async (t) => {
  const h = new Hermod(oneModel({ ttl: 0, engines: [managed(['--content', 'hello back', '--load-delay', 1200 * SLOW, '--chunks', 3])],
    extra: 'keepalive: 150ms' }));
  t.after(() => h.cleanup());
  await h.start();
  const env = { HERMOD_URL: h.url };
  // Nothing asked yet: the model is cold.
  let ps = await runAsync(['ps'], env);
  assert.equal(ps.status, 0, ps.stderr);
  assert.match(ps.stdout, /^MODEL\s+STATE/m);
  assert.match(ps.stdout, /^m\s+\S+/m);
  // chat: a cold start shows progress on stderr, the answer streams to stdout.
  const chat = await runAsync(['chat', '-m', 'm', 'hello'], env);
  assert.equal(chat.status, 0, chat.stderr);
  assert.match(chat.stdout.replace(/\s+/g, ' '), /hello back/);
  assert.match(chat.stderr, /m@llama-server|starting|loading/i, `progress on stderr: ${chat.stderr}`);
  ps = await runAsync(['ps'], env);
  assert.match(ps.stdout, /^m\s+ready/m);
  assert.match(ps.stdout, /^m@llama-server\s+ready\s+\d+/m);
  const psj = JSON.parse((await runAsync(['ps', '--json'], env)).stdout);
  assert.equal(psj.engines[0].requests, 1);
  // --url wins over HERMOD_URL.
  const viaUrl = await runAsync(['ps', '--url', h.url], { HERMOD_URL: 'http://127.0.0.1:1' });
  assert.equal(viaUrl.status, 0, viaUrl.stderr);
  // logs: the engine's own output.
  const logs = await runAsync(['logs', 'm'], env);
  assert.equal(logs.status, 0, logs.stderr);
  assert.match(logs.stdout, /model loaded|listening|fake/i);
  // an unknown model: a plain error that says what exists
  const bad = await runAsync(['chat', '-m', 'nope', 'hi'], env);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /hermod chat: .*nope/);
  // unload stops the engine.
  const un = await runAsync(['unload', 'm'], env);
  assert.equal(un.status, 0, un.stderr);
  assert.match(un.stdout, /m: stopping 1 engine/);
  await waitFor(async () => !/ready/.test((await runAsync(['ps'], env)).stdout), { what: 'engine stopped' });
  await h.stop();
  // the daemon gone: the message says what to do next
  const gone = await runAsync(['ps'], env);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /cannot reach hermod at .*: nothing answers there; is hermod running\? Start it with 'hermod serve'/);
});

test('the daemon is found from the config\'s listen', async (t) => {
  const h = new Hermod(oneModel({ engines: [managed([])] }));
  t.after(() => h.cleanup());
  await h.start();
  // hermod listens on a port the kernel gave (listen: 127.0.0.1:0); the
  // CLI reads a copy of its config that names that port.
  const cfg = path.join(h.dir, 'cli.yaml');
  fs.writeFileSync(cfg, fs.readFileSync(h.configPath, 'utf8').replace(/^listen: .*$/m, `listen: 127.0.0.1:${h.port}`));
  const env = { ...process.env };
  delete env.HERMOD_URL;
  const r = await new Promise((resolve) => {
    const p = spawn(HERMOD, ['ps', '--config', cfg], { env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (status) => resolve({ status, out }));
  });
  assert.equal(r.status, 0);
  assert.match(r.out, /^m\s+/m);
  await h.stop();
});

test('import llama-swap: models, cmd with macros, proxy, ttl, aliases, groups', () => {
  const dir = tmpdir();
  const f = path.join(dir, 'config.yaml');
  fs.writeFileSync(f, `healthCheckTimeout: 90
macros:
  "server": /opt/llama/llama-server --port \${PORT} -ngl 99
models:
  "qwen":
    cmd: |
      \${server}
      # the big one
      --model /models/qwen.gguf --ctx-size 8192 --alias "qwen 32b"
    aliases: [gpt-4o-mini, q]
    ttl: 300
    useModelName: "qwen:32b"
    env: ["CUDA_VISIBLE_DEVICES=0"]
  "fixed":
    cmd: /opt/vllm/bin/vllm serve m --port 9001
    proxy: http://127.0.0.1:9001
    checkEndpoint: /v1/models
groups:
  "big":
    swap: true
    members: ["qwen", "fixed"]
`);
  const r = run(['import', 'llama-swap', f]);
  assert.equal(r.status, 0, r.stderr);
  const y = r.stdout;
  assert.match(y, /- name: "qwen"/);
  assert.match(y, /aliases: \["gpt-4o-mini", "q"\]/);
  assert.match(y, /ttl: 300/);
  assert.match(y, /group: "big"/);
  assert.match(y, /kind: llama-server\n\s+cmd: \["\/opt\/llama\/llama-server", "--port", "\$\{PORT\}", "-ngl", "99", "--model", "\/models\/qwen.gguf", "--ctx-size", "8192", "--alias", "qwen 32b"\]/);
  assert.match(y, /model: "qwen:32b"/);
  assert.match(y, /env: \["CUDA_VISIBLE_DEVICES=0"\]/);
  assert.match(y, /start_timeout: 90/);
  assert.match(y, /kind: vllm\n\s+cmd: \[.*"9001"\]\n\s+url: "http:\/\/127\.0\.0\.1:9001"\n\s+ready: "\/v1\/models"/);
  const out = path.join(dir, 'hermod.yaml');
  assert.equal(run(['import', 'llama-swap', f, '--out', out]).status, 0);
  const chk = run(['check-config', '--no-files', out]);
  assert.equal(chk.status, 0, chk.stderr);
  assert.match(chk.stdout, /ok \(2 models, 2 engines/);
  // not a llama-swap file: a plain message
  fs.writeFileSync(f, 'listen: 1\n');
  const bad = run(['import', 'llama-swap', f]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /no 'models' mapping; is this a llama-swap config\.yaml\?/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('make install PREFIX= DESTDIR= lays out the binary, man pages, completion and unit', { skip: ASAN && 'the layout is checked once, with the normal build' }, () => {
  const dest = tmpdir();
  const r = spawnSync('make', ['-s', 'install', `DESTDIR=${dest}`, 'PREFIX=/opt/hermod', `INSTALL_BIN=${HERMOD}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const root = path.join(dest, 'opt/hermod');
  for (const f of ['bin/hermod', 'share/man/man1/hermod.1', 'share/man/man5/hermod.yaml.5',
    'share/bash-completion/completions/hermod', 'lib/systemd/system/hermod.service', 'share/doc/hermod/hermod.yaml.example'])
    assert.ok(fs.existsSync(path.join(root, f)), `${f} installed`);
  assert.match(spawnSync(path.join(root, 'bin/hermod'), ['version'], { encoding: 'utf8' }).stdout, /^hermod \d/);
  const unit = fs.readFileSync(path.join(root, 'lib/systemd/system/hermod.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/opt\/hermod\/bin\/hermod serve --config \/etc\/hermod\/hermod\.yaml$/m);
  assert.match(unit, /^NoNewPrivileges=yes$/m);
  assert.match(unit, /^ProtectSystem=strict$/m);
  const man5 = fs.readFileSync(path.join(root, 'share/man/man5/hermod.yaml.5'), 'utf8');
  assert.match(man5, /^\.TH HERMOD\.YAML 5/);
  assert.match(man5, /^\\fBdrain_timeout\\fR \(default: \\fB30s\\fR\)$/m, 'the keys of docs/config.md');
  assert.equal(spawnSync('bash', ['-n', path.join(root, 'share/bash-completion/completions/hermod')]).status, 0);
  fs.rmSync(dest, { recursive: true, force: true });
});
