// bench/idle.mjs: N idle keep-alive connections held by hermod, and its RSS
// (issue 11: 10,000 connections under 100 MB). Each connection sends one
// GET /health with keep-alive, reads the answer, and then stays open and
// silent; hermod's RSS is read from /proc before any and with all N held,
// then hermod must still answer a request on every one of them.
//
//   node bench/idle.mjs [N=10000]    HERMOD_BIN
// The machine needs N + a few hundred descriptors for this process (ulimit -n);
// hermod raises its own soft limit to the hard one at start (main.c).
import net from 'node:net';
import fs from 'node:fs';
import { Hermod, sleep } from '../tests/integ/lib.mjs';

const N = Number(process.argv[2] || 10000);
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const fds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

const h = new Hermod(`log_level: warn\nidle_timeout: 600s\nmax_connections: ${N + 1000}\nmodels: []\n`);
await h.start();
await sleep(200);
const before = rss(h.proc.pid);
const REQ = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';

function one() {
  return new Promise((resolve, reject) => {
    const s = net.connect(h.port, '127.0.0.1');
    let data = '';
    s.on('error', reject);
    s.on('data', (d) => {
      data += d;
      if (data.includes('"status"')) {
        s.removeAllListeners('data');
        resolve(s);
      }
    });
    s.on('connect', () => s.write(REQ));
  });
}

const socks = [];
const t0 = Date.now();
for (let i = 0; i < N; i += 500) socks.push(...(await Promise.all(Array.from({ length: Math.min(500, N - i) }, one))));
const held = rss(h.proc.pid);
const nfd = fds(h.proc.pid);
// every connection is still alive and served
let answered = 0;
await Promise.all(
  socks.map(
    (s) =>
      new Promise((resolve) => {
        let data = '';
        s.on('data', (d) => {
          data += d;
          if (data.includes('"status"')) {
            answered++;
            resolve();
          }
        });
        s.on('close', resolve);
        s.write(REQ);
      }),
  ),
);
console.log(`hermod ${N} idle keep-alive connections — ${new Date().toISOString()}, ${Date.now() - t0} ms to open`);
console.log(`hermod RSS: ${(before / 1024).toFixed(1)} MiB before, ${(held / 1024).toFixed(1)} MiB with ${socks.length} held (${(((held - before) * 1024) / socks.length).toFixed(0)} bytes each); descriptors ${nfd}`);
console.log(`answered again on ${answered} of ${socks.length}`);
console.log(`bar: ${N} held under 100 MB: ${held * 1024 < 100e6 && answered === N ? 'met' : 'missed'}`);
socks.forEach((s) => s.destroy());
await h.stop();
