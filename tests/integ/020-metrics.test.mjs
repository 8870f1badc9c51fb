// /metrics in the Prometheus text format: HELP and TYPE for every family,
// histograms with le="+Inf", tokens in and out per model from the answers'
// usage (stream chunks too), requests by model, route and status,
// fallbacks, cold starts, budget gauges; health checks of an engine that
// is down are not upstream failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hermod, managed, unmanaged, freePort } from './lib.mjs';

// Parses the text format strictly: every line is a comment or a sample,
// every sample's family has HELP and TYPE before it.
function parse(text) {
  const help = new Map();
  const type = new Map();
  const samples = [];
  const family = (name) => {
    for (const suf of ['_bucket', '_sum', '_count'])
      if (name.endsWith(suf) && type.get(name.slice(0, -suf.length)) === 'histogram') return name.slice(0, -suf.length);
    return name;
  };
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) {
      assert.ok(!help.has(m[1]), `one HELP for ${m[1]}`);
      help.set(m[1], m[2]);
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line))) {
      assert.ok(help.has(m[1]), `HELP before TYPE for ${m[1]}`);
      assert.ok(!type.has(m[1]), `one TYPE for ${m[1]}`);
      type.set(m[1], m[2]);
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$/.exec(line))) {
      const labels = {};
      for (const [, k, v] of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
      const f = family(m[1]);
      assert.ok(type.has(f), `TYPE before the samples of ${f} (${line})`);
      samples.push({ name: m[1], labels, value: Number(m[3]) });
    } else {
      assert.fail(`not Prometheus text: ${JSON.stringify(line)}`);
    }
  }
  const get = (name, labels = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  const value = (name, labels) => {
    const s = get(name, labels);
    assert.equal(s.length, 1, `one ${name} ${JSON.stringify(labels)}: ${JSON.stringify(s)}`);
    return s[0].value;
  };
  return { help, type, samples, get, value };
}

test('/metrics: HELP and TYPE everywhere, per-model series, tokens, histograms, fallbacks', async (t) => {
  const deadPort = await freePort(); // nothing listens here
  const h = new Hermod(`health_interval: 200ms
models:
  - name: m
    ttl: 0
    engines:
${managed(['--chunks', 3])}
  - name: f
    ttl: 0
    engines:
${managed(['--status', 500])}${managed(['--chunks', 2])}
  - name: broken
    languages: [en]
    ttl: 0
    engines:
${managed(['--fail-start', 1])}
  - name: away
    ttl: 0
    engines:
${unmanaged(`http://127.0.0.1:${deadPort}`)}
routes:
  - name: auto
    rules:
      - models: [broken, m]
`);
  t.after(() => h.cleanup());
  await h.start();

  // Before any traffic every family is there, with HELP and TYPE.
  let p = parse(await (await h.fetch('/metrics')).text());
  for (const f of ['hermod_requests_total', 'hermod_request_duration_seconds', 'hermod_time_to_first_byte_seconds',
    'hermod_prompt_tokens_total', 'hermod_completion_tokens_total', 'hermod_fallbacks_total',
    'hermod_route_fallbacks_total', 'hermod_escalations_total', 'hermod_cold_start_seconds',
    'hermod_budget_capacity_bytes', 'hermod_budget_used_bytes', 'hermod_engine_up',
    'hermod_upstream_failures_total', 'hermod_health_checks_total'])
    assert.ok(p.type.has(f), `family ${f}`);

  const chat = (model, extra = {}) => h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hello there' }], ...extra });
  let r = await chat('m');
  assert.equal(r.status, 200);
  await r.text();
  r = await chat('m', { stream: true, stream_options: { include_usage: true } });
  await r.text();
  r = await chat('m', { stream: true }); // no usage asked: no tokens counted
  await r.text();
  r = await chat('f'); // the first engine answers 500: falls back to the second
  assert.equal(r.status, 200);
  await r.text();
  r = await chat('auto'); // broken cannot start: the route moves on to m
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-model'), 'm');
  await r.text();
  r = await chat('nope');
  assert.equal(r.status, 404);
  await r.text();
  // Ollama's API counts the same way
  r = await h.post('/api/chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  await r.text();

  const res = await h.fetch('/metrics');
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  p = parse(await res.text());
  assert.equal(p.value('hermod_requests_total', { model: 'm', route: '', status: '200' }), 4);
  assert.equal(p.value('hermod_requests_total', { model: 'm', route: 'auto', status: '200' }), 1);
  assert.equal(p.value('hermod_requests_total', { model: 'f', route: '', status: '200' }), 1);
  assert.equal(p.value('hermod_requests_total', { model: '', route: '', status: '404' }), 1);
  // tokens: usage of the whole answers (3 in, 3 out each: m twice, auto->m
  // once), the stream that asked for usage, and the Ollama stream
  assert.equal(p.value('hermod_prompt_tokens_total', { model: 'm' }), 3 * 4);
  assert.equal(p.value('hermod_completion_tokens_total', { model: 'm' }), 3 * 4);
  assert.equal(p.value('hermod_completion_tokens_total', { model: 'f' }), 2);
  assert.equal(p.value('hermod_fallbacks_total', { model: 'f' }), 1);
  assert.equal(p.value('hermod_route_fallbacks_total', { route: 'auto', model: 'broken' }), 1);
  // histograms: cumulative buckets ending with +Inf, which equals _count
  for (const name of ['hermod_request_duration_seconds', 'hermod_time_to_first_byte_seconds']) {
    const b = p.get(`${name}_bucket`, { model: 'm' });
    assert.ok(b.length > 2);
    assert.equal(b.at(-1).labels.le, '+Inf');
    for (let i = 1; i < b.length; i++) assert.ok(b[i].value >= b[i - 1].value, `${name} cumulative`);
    assert.equal(b.at(-1).value, p.value(`${name}_count`, { model: 'm' }));
    assert.equal(p.value(`${name}_count`, { model: 'm' }), 5);
  }
  assert.equal(p.value('hermod_cold_start_seconds_count', { model: 'm' }), 1);
  assert.equal(p.get('hermod_cold_start_seconds_bucket', { model: 'm', le: '+Inf' })[0].value, 1);
  assert.equal(p.value('hermod_engine_up', { model: 'm', engine: 'm@llama-server' }), 1);
  assert.ok(p.value('hermod_budget_capacity_bytes', { pool: 'system' }) > 0);
  assert.ok(p.value('hermod_budget_used_bytes', { pool: 'system' }) >= 0);
  // The engine nobody runs is down: its health checks fail, and that is
  // not counted as a failed request.
  assert.ok(p.value('hermod_health_check_failures_total') > 0);
  assert.equal(p.value('hermod_upstream_failures_total'), 0);
  await h.stop();
});

test('a usage chunk cut in two by the engine\'s writes is still counted', async (t) => {
  // --split-writes sends every chunk in two writes 5 ms apart, the usage
  // line cut inside its object: hermod keeps the cut line until its end.
  const h = new Hermod(`models:
  - name: s
    engines:
${managed(['--chunks', 4, '--split-writes'])}`);
  t.after(() => h.cleanup());
  await h.start();
  const r = await h.post('/v1/chat/completions', { model: 's', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.match(text, /"usage":\{"prompt_tokens":3,"completion_tokens":4/);
  assert.match(text, /data: \[DONE\]/);
  const p = parse(await (await h.fetch('/metrics')).text());
  assert.equal(p.value('hermod_prompt_tokens_total', { model: 's' }), 3);
  assert.equal(p.value('hermod_completion_tokens_total', { model: 's' }), 4);
  await h.stop();
});
