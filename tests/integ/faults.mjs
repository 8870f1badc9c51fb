// Helpers for the fault matrix (tests/integ/017-*): descriptors and RSS of
// a hermod from /proc, waiting for it to settle, and the checks every case
// ends with. Not a test file (node --test runs *.test.mjs only).
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { ASAN, TSAN, waitFor, unmanaged } from './lib.mjs';

// RSS may grow by this much over a batch of faults. Under ASan the
// allocator keeps freed memory in quarantine (256 MB), so RSS says nothing
// there and LeakSanitizer, at exit, is the check instead; TSan's shadow
// memory grows with what it has seen.
export const RSS_SLACK_KB = ASAN || TSAN ? 0 : 4096;

export function procStats(pid) {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(st)[1]);
  return { fds, rss };
}

async function metric(h, name) {
  const t = await (await h.fetch('/metrics')).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(t);
  return m ? Number(m[1]) : NaN;
}

// Waits until no relay is active and (with maxFds) the descriptors are
// back to at most maxFds; returns the stats then. The /metrics request
// itself holds one connection: node's fetch keeps it alive, so it is
// counted the same before and after.
export async function settled(h, maxFds = Infinity) {
  let s;
  await waitFor(
    async () => {
      if ((await metric(h, 'hermod_relays_active')) !== 0) return false;
      s = procStats(h.proc.pid);
      return s.fds <= maxFds;
    },
    { what: `relays to end and descriptors to come back (${maxFds})` },
  );
  return s;
}

// The daemon is alive and answering.
export async function stillServing(h, model = 'good') {
  assert.equal(h.exited, null, 'hermod is still running');
  assert.equal((await h.fetch('/health')).status, 200);
  const r = await h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'still there?' }] });
  assert.equal(r.status, 200, await r.text());
}

// The OpenAI error object of a response with this status.
export async function errorOf(r, status) {
  const text = await r.text();
  assert.equal(r.status, status, text);
  const j = JSON.parse(text);
  assert.ok(j.error && typeof j.error.message === 'string' && j.error.message.length > 0, text);
  for (const k of ['type', 'param', 'code']) assert.ok(k in j.error, `error.${k} missing: ${text}`);
  return j.error;
}

// A second, healthy model (a fake hermod does not run), for stillServing().
export function goodModel(url) {
  return `  - name: good\n    engines:\n${unmanaged(url)}`;
}
