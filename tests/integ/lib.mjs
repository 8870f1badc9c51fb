// Shared helpers for hermod's integration tests: real hermod processes on
// loopback, real fake-engine children, and the official openai client.
//
// Every test gets its own temporary directory, its own port and its own
// hermod. stop() sends SIGTERM, waits for a clean exit, and fails the test
// if hermod wrote a sanitizer report or left an engine process behind.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

export const HERMOD = process.env.HERMOD_BIN || path.resolve('build/hermod');
export const FAKE = process.env.FAKE_ENGINE || path.resolve('build/fake-engine');
export const ASAN = /asan/.test(process.env.HERMOD_BUILD || HERMOD);
export const TSAN = /tsan/.test(process.env.HERMOD_BUILD || HERMOD);
// Sanitizer builds are slower; timing bounds scale with this.
export const SLOW = ASAN ? 3 : TSAN ? 5 : 1;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function tmpdir(prefix = 'hermod-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// A YAML flow sequence for a fake-engine command line.
export function fakeCmd(...args) {
  const all = [FAKE, '--port', '${PORT}', ...args.map(String)];
  return '[' + all.map((a) => JSON.stringify(a)).join(', ') + ']';
}

// Events a fake engine recorded: [{t, ev, fields}]
export function readRecord(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [t, ev, ...rest] = line.split(' ');
      const fields = {};
      for (const kv of rest) {
        const i = kv.indexOf('=');
        if (i > 0) fields[kv.slice(0, i)] = kv.slice(i + 1);
      }
      return { t: Number(t), ev, fields };
    });
}

export async function waitFor(pred, { timeout = 5000 * SLOW, interval = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Children (by pid) whose command line mentions this test's directory.
export function processesMentioning(dir) {
  let out = '';
  try {
    out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .filter((l) => l.includes(dir) && !l.includes('ps -eo'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

export class Hermod {
  // wrap: a command hermod runs under, e.g. ['prlimit', '--fsize=N', '--'].
  constructor(config, { args = [], env = {}, wrap = [] } = {}) {
    this.dir = tmpdir();
    this.config = config;
    this.args = args;
    this.wrap = wrap;
    this.env = env;
    this.stderr = '';
    this.exited = null;
  }

  async start({ expectFail = false } = {}) {
    // Port 0: hermod takes a port the kernel gives and logs it. A port
    // picked here first could be taken by another process (an engine
    // another hermod starts) before hermod binds it, and then whatever
    // took it would answer this test's requests.
    // A null config: no --config, hermod's built-in default.
    this.port = null;
    this.url = null;
    this.configPath = null;
    let serve = ['--listen', '127.0.0.1:0'];
    if (this.config !== null) {
      const text = this.config.replaceAll('@DIR@', this.dir).replaceAll('@LISTEN@', '127.0.0.1:0');
      this.configPath = path.join(this.dir, 'hermod.yaml');
      fs.writeFileSync(this.configPath, text.includes('listen:') ? text : `listen: 127.0.0.1:0\n${text}`);
      serve = ['--config', this.configPath];
    }
    const argv = [...this.wrap, HERMOD, 'serve', ...serve, ...this.args];
    this.proc = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout.on('data', (d) => (this.stderr += d));
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    // 'exit' can come before the last of the output has been read: the
    // promise waits for both pipes to end too (bounded, so that a child
    // that kept them open cannot hang a test; stop() reports such a child).
    const ended = (s) => new Promise((r) => (s.readableEnded ? r() : (s.once('end', r), s.once('close', r))));
    this.exitPromise = new Promise((resolve) =>
      this.proc.on('exit', async (code, signal) => {
        this.exited = { code, signal };
        await Promise.race([Promise.all([ended(this.proc.stdout), ended(this.proc.stderr)]), sleep(2000 * SLOW)]);
        resolve(this.exited);
      }),
    );
    if (expectFail) return this.exitPromise;
    await this.listening();
    await waitFor(
      async () => {
        if (this.exited) throw new Error(`hermod exited early (${JSON.stringify(this.exited)}):\n${this.stderr}`);
        try {
          const r = await fetch(this.url + '/health');
          return r.ok;
        } catch {
          return false;
        }
      },
      { what: 'hermod /health' },
    );
    return this;
  }

  // Waits for hermod's "listening on http://HOST:PORT" line and points
  // this.url at that port on loopback (HOST may be a wildcard).
  async listening() {
    await waitFor(
      () => {
        if (this.exited) throw new Error(`hermod exited early (${JSON.stringify(this.exited)}):\n${this.stderr}`);
        const m = / listening on http:\/\/(?:\[[^\]]*\]|[^\s:]*):(\d+) /.exec(this.stderr);
        if (m) {
          this.port = Number(m[1]);
          this.url = `http://127.0.0.1:${this.port}`;
        }
        return !!m;
      },
      { what: 'hermod listening' },
    );
    return this.port;
  }

  fetch(p, init = {}) {
    return fetch(this.url + p, init);
  }

  post(p, body, headers = {}, init = {}) {
    return fetch(this.url + p, {
      ...init,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  async json(p) {
    const r = await this.fetch(p);
    return r.json();
  }

  async running(all = false) {
    return this.json('/hermod/running' + (all ? '?all=1' : ''));
  }

  async engine(id) {
    const r = await this.running(true);
    return r.engines.find((e) => e.id === id);
  }

  // Stops hermod and checks that it exits cleanly, with no sanitizer
  // report and no engine left behind.
  async stop({ signal = 'SIGTERM', timeout = 15000 * SLOW } = {}) {
    if (!this.exited) {
      this.proc.kill(signal);
      const t = setTimeout(() => this.proc.kill('SIGKILL'), timeout);
      await this.exitPromise;
      clearTimeout(t);
    }
    this.checkSanitizers();
    const left = processesMentioning(this.dir);
    assert.deepEqual(left, [], `processes left behind: ${left}`);
    return this.exited;
  }

  checkSanitizers() {
    const bad = /(ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:|hermod: BUG at)/;
    assert.ok(!bad.test(this.stderr), `sanitizer or BUG report from hermod:\n${this.stderr.slice(-6000)}`);
  }

  log() {
    return this.stderr;
  }

  // For t.after(): kills a hermod that a failed test left running, and
  // removes the test's directory.
  cleanup() {
    if (this.proc && !this.exited) {
      try {
        this.proc.kill('SIGKILL');
      } catch {}
      for (const pid of processesMentioning(this.dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {}
  }
}

// Reads an SSE response into events: [{comment}|{data}], plus the raw text.
export async function readSSE(res) {
  const text = await res.text();
  const events = [];
  for (const block of text.split(/\n\n/)) {
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) events.push({ comment: line.slice(1).trim() });
      else if (line.startsWith('data:')) events.push({ data: line.slice(5).trim() });
    }
  }
  return { text, events };
}

export function dataEvents(events) {
  return events.filter((e) => e.data !== undefined).map((e) => e.data);
}

// A minimal config with one model served by one or more fake engines.
export function oneModel({ name = 'm', aliases = [], ttl = 0, engines, extra = '' }) {
  let y = `${extra}\nmodels:\n  - name: ${name}\n`;
  if (aliases.length) y += `    aliases: [${aliases.join(', ')}]\n`;
  y += `    ttl: ${ttl}\n    engines:\n`;
  for (const e of engines) y += e;
  return y;
}

export function managed(args, more = '') {
  return `      - kind: llama-server\n        cmd: ${fakeCmd(...args)}\n${more}`;
}

export function unmanaged(url, more = '') {
  return `      - kind: openai\n        url: ${url}\n${more}`;
}

// A fake engine that hermod does not run (an unmanaged `url:` engine),
// listening on a free port; resolves once it answers /health.
export async function startFake(args = []) {
  // --port 0: the fake engine binds a port the kernel gives and prints it
  // (a port picked here could be taken before it binds; see start()).
  const proc = spawn(FAKE, ['--port', '0', ...args.map(String)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let exited = false;
  let out = '';
  proc.on('exit', () => (exited = true));
  proc.stdout.on('data', (d) => (out += d));
  let port = null;
  await waitFor(
    () => {
      if (exited) throw new Error(`fake engine exited early: ${out}`);
      const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(out);
      if (m) port = Number(m[1]);
      return port !== null;
    },
    { what: 'fake engine listening' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (exited) throw new Error('fake engine exited early');
      try {
        return (await fetch(url + '/health')).ok;
      } catch {
        return false;
      }
    },
    { what: 'fake engine /health' },
  );
  return {
    port,
    url,
    proc,
    stop() {
      if (!exited) proc.kill('SIGKILL');
    },
  };
}
