// Quality escalation: structured answers on a route are validated (JSON,
// schema, not empty, Kannada names kept in either script); a failing answer
// goes to the next candidate, the specialist lane last, and the best answer
// comes back with the record of every attempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { Hermod, managed, readRecord } from './lib.mjs';

function model(name, answers, extra = []) {
  return `  - name: ${name}\n    languages: [en, kn]\n    engines:\n${managed(['--content-file', `@DIR@/${name}.answers`, '--record', `@DIR@/${name}.txt`, ...extra])}`;
}

const SCHEMA = {
  type: 'json_schema',
  json_schema: {
    name: 'bill',
    strict: true,
    schema: {
      type: 'object',
      properties: { merchant: { type: 'string' }, total: { type: 'number' }, people: { type: 'array', items: { type: 'string' } } },
      required: ['merchant', 'total', 'people'],
      additionalProperties: false,
    },
  },
};

function setup(answers) {
  const h = new Hermod(
    'models:\n' + model('weak') + model('strong') + model('special') +
      `routes:
  - name: extract
    escalation: {attempts: 4, deadline: 60s, coverage: 0.8}
    rules:
      - models: [weak, strong]
        escalate: [special]
`,
  );
  for (const [name, lines] of Object.entries(answers)) fs.writeFileSync(path.join(h.dir, `${name}.answers`), lines.join('\n') + '\n');
  return h;
}

const count = (h, name) => readRecord(path.join(h.dir, `${name}.txt`)).filter((e) => e.ev === 'request').length;
const ask = (h, content, extra = {}) =>
  h.post('/v1/chat/completions', { model: 'extract', messages: [{ role: 'user', content }], response_format: SCHEMA, ...extra });

test('a schema violation escalates to the next candidate', async (t) => {
  const h = setup({
    weak: ['{"merchant":"Mylari","total":"150","people":[]}'],
    strong: ['{"merchant":"Mylari","total":150,"people":[]}'],
    special: ['{}'],
  });
  t.after(() => h.cleanup());
  await h.start();
  const r = await ask(h, 'Mylari bill: 2 masala dosa, total 150 rupees');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-model'), 'strong');
  assert.equal(r.headers.get('x-hermod-answer'), 'valid');
  assert.equal(r.headers.get('x-hermod-answers'), '2');
  const j = await r.json();
  assert.deepEqual(JSON.parse(j.choices[0].message.content), { merchant: 'Mylari', total: 150, people: [] });
  assert.equal(j.hermod.valid, true);
  assert.equal(j.hermod.attempts.length, 2);
  assert.equal(j.hermod.attempts[0].model, 'weak');
  assert.match(j.hermod.attempts[0].problems, /\/total/);
  assert.equal(j.hermod.attempts[1].ok, true);
  // a valid first answer goes straight back, unannotated
  fs.writeFileSync(path.join(h.dir, 'weak.answers'), '{"merchant":"MTR","total":90,"people":[]}\n');
  const r2 = await ask(h, 'MTR bill 90');
  assert.equal(r2.headers.get('x-hermod-model'), 'weak');
  const j2 = await r2.json();
  assert.equal(j2.hermod, undefined);
  await h.stop();
});

test('an answer that is not JSON is retried once on the same model, then escalated', async (t) => {
  const h = setup({
    weak: ['Sure! The merchant is Mylari.', 'I think it is Mylari'],
    strong: ['```json\\n{"merchant":"Mylari","total":150,"people":[]}\\n```'],
    special: ['{}'],
  });
  t.after(() => h.cleanup());
  await h.start();
  const r = await ask(h, 'Mylari total 150');
  const j = await r.json();
  assert.equal(r.headers.get('x-hermod-model'), 'strong');
  assert.equal(count(h, 'weak'), 2, 'retried once on the same model');
  // the fenced JSON is handed over clean
  assert.deepEqual(JSON.parse(j.choices[0].message.content), { merchant: 'Mylari', total: 150, people: [] });
  assert.equal(j.hermod.attempts.length, 3);
  assert.match(j.hermod.attempts[0].problems, /not_json/);
  await h.stop();
});

test('Kannada names must survive: a name in either script counts, a missing one escalates', async (t) => {
  const h = setup({
    weak: ['{"merchant":"a shop","total":40,"people":["a friend"]}'],
    strong: ['{"merchant":"Mysuru Pak stall","total":40,"people":["someone"]}'],
    special: ['{"merchant":"Mysuru Pak stall","total":40,"people":["Rajesh"]}'],
  });
  t.after(() => h.cleanup());
  await h.start();
  const r = await ask(h, 'ನಾನು ರಾಜೇಶ್ ಜೊತೆ ಮೈಸೂರಿಗೆ ಹೋಗಿ 40 ರೂಪಾಯಿ ಕೊಟ್ಟೆ');
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(r.headers.get('x-hermod-model'), 'special', 'the specialist lane kept both names');
  assert.equal(r.headers.get('x-hermod-answer'), 'valid');
  assert.equal(j.hermod.attempts.length, 3);
  assert.match(j.hermod.attempts[0].problems, /names/);
  assert.match(j.hermod.attempts[1].problems, /names/);
  await h.stop();
});

test('when every attempt fails, the best answer comes back marked invalid', async (t) => {
  const h = setup({
    weak: ['no json here', 'still none'],
    strong: ['{"merchant":"x","total":"oops","people":[]}'],
    special: ['{"merchant":"x","total":"oops","people":"nobody"}'],
  });
  t.after(() => h.cleanup());
  await h.start();
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'x', maxRetries: 0 });
  const { data, response } = await client.chat.completions
    .create({ model: 'extract', messages: [{ role: 'user', content: 'bill' }], response_format: SCHEMA })
    .withResponse();
  assert.equal(response.headers.get('x-hermod-answer'), 'invalid');
  assert.equal(response.headers.get('x-hermod-model'), 'strong', 'one schema error beats two and beats no JSON');
  assert.equal(data.hermod.valid, false);
  assert.equal(data.hermod.attempts.length, 4);
  assert.equal(data.choices[0].message.content, '{"merchant":"x","total":"oops","people":[]}');
  await h.stop();
});

test('bad schemas are refused; streamed requests are routed but not judged', async (t) => {
  const h = setup({ weak: ['not json'], strong: ['{}'], special: ['{}'] });
  t.after(() => h.cleanup());
  await h.start();
  let r = await ask(h, 'x', { response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object', properties: 'nope' } } } });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, 'invalid_response_format');
  r = await ask(h, 'x', { stream: true });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-model'), 'weak');
  await r.text();
  assert.equal(count(h, 'strong'), 0);
  await h.stop();
});
