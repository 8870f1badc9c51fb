// bench/coldstart.mjs: what hermod adds to a cold start.
//
// For an engine that takes LOAD ms to load (the fake engine with
// --load-delay, which, like llama-server, answers /health 503 while loading
// and prints a line when loaded), compares in one run, alternating:
//   engine:  spawn the engine directly and poll /health every 1 ms until
//            200: its own start-to-ready time;
//   hermod:  unload, then time a request through hermod to its first
//            byte (the engine is started on demand).
// hermod's share = hermod - engine (medians and p90 over ROUNDS).
//
//   node bench/coldstart.mjs [ROUNDS] [LOAD_MS]
//   HERMOD_BIN, FAKE_ENGINE, or REAL_ENGINE_CMD (a JSON argv with ${PORT})
import { spawn } from 'node:child_process';
import http from 'node:http';
import { Hermod, FAKE, freePort, sleep } from '../tests/integ/lib.mjs';

const ROUNDS = Number(process.argv[2] || 15);
const LOAD = Number(process.argv[3] || 500);
const argv = process.env.REAL_ENGINE_CMD ? JSON.parse(process.env.REAL_ENGINE_CMD) : [FAKE, '--port', '${PORT}', '--load-delay', String(LOAD)];
const model = process.env.REAL_ENGINE_MODEL || 'fake-model';
const readyPath = process.env.REAL_ENGINE_READY || '/health';

function get(port, p) {
  return new Promise((resolve) => {
    const r = http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    r.on('error', () => resolve(0));
  });
}

async function engineOwn() {
  const port = await freePort();
  const args = argv.map((a) => a.replace('${PORT}', String(port)));
  const t0 = process.hrtime.bigint();
  const p = spawn(args[0], args.slice(1), { stdio: 'ignore' });
  for (;;) {
    if ((await get(port, readyPath)) === 200) break;
    await sleep(1);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  p.kill('SIGTERM');
  await new Promise((r) => p.on('exit', r));
  return ms;
}

function firstByte(h, body) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port: h.port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.once('data', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
      res.on('error', reject);
      res.resume();
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const cmd = '[' + argv.map((a) => JSON.stringify(a)).join(', ') + ']';
const h = new Hermod(`models:\n  - name: m\n    engines:\n      - kind: llama-server\n        cmd: ${cmd}\n        model: ${model}\n        ready: ${readyPath}\n        start_timeout: 600\n`);
await h.start();
const own = [], via = [];
for (let i = 0; i < ROUNDS; i++) {
  own.push(await engineOwn());
  await h.post('/hermod/unload', { model: 'all' });
  while ((await h.running()).engines.length) await sleep(5);
  via.push(await firstByte(h, { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }));
}
await h.stop();
h.cleanup();
const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
const diff = via.map((v, i) => v - own[i]);
console.log(`cold start, engine loading ${process.env.REAL_ENGINE_CMD ? 'real engine' : LOAD + ' ms (fake engine)'}, ${ROUNDS} rounds`);
console.log(`  engine's own start-to-ready   p50 ${q(own, 0.5).toFixed(1)} ms   p90 ${q(own, 0.9).toFixed(1)} ms`);
console.log(`  first byte through hermod     p50 ${q(via, 0.5).toFixed(1)} ms   p90 ${q(via, 0.9).toFixed(1)} ms`);
console.log(`  hermod's share                p50 ${q(diff, 0.5).toFixed(1)} ms   p90 ${q(diff, 0.9).toFixed(1)} ms`);
