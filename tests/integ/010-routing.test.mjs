// Routing: a route ("auto") picks the model by language and script,
// modality and task; Kannada in any script never reaches a model without
// Kannada; unavailable candidates are passed over; the decision travels in
// headers and is shown by `hermod route --explain`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { Hermod, HERMOD, managed, readRecord } from './lib.mjs';

function m(name, extra, args = []) {
  return `  - name: ${name}\n${extra}    engines:\n${managed(['--record', `@DIR@/${name}.txt`, ...args])}`;
}

const CONFIG =
  'models:\n' +
  m('fast-en', '    languages: [en, hi]\n') +
  m('kn-reader', '    languages: [en, kn]\n') +
  m('kn-specialist', '    languages: [kn]\n') +
  m('seer', '    languages: [en, kn]\n    modalities: [text, image]\n') +
  m('ocr-en', '    languages: [en]\n    modalities: [text, image]\n') +
  m('mystery', '') +
  m('broken', '    languages: [en, kn]\n', ['--fail-start', 1]) +
  `routes:
  - name: auto
    aliases: [default]
    rules:
      - name: ocr
        when: {modality: image, task: ocr}
        models: [ocr-en, seer]
      - name: vision
        when: {modality: [image, video]}
        models: [seer]
      - name: kannada
        when: {language: kannada}
        models: [broken, kn-reader]
        escalate: [kn-specialist]
      - name: default
        models: [mystery, fast-en, kn-reader]
  - name: english-only
    rules:
      - models: [fast-en, mystery]
`;

const chat = (model, content, extra = {}) => ({ model, messages: [{ role: 'user', content }], ...extra });
const image = (text) => [
  { type: 'text', text },
  { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
];

test('auto routes by language, script, modality and task; Kannada never reaches a model without it', async (t) => {
  const h = new Hermod(CONFIG);
  t.after(() => h.cleanup());
  await h.start();
  const cases = [
    ['naanu nale office ge hogtini, meeting ide', 'kn-reader', 'kannada'],
    ['ನಾಳೆ ಬೆಳಿಗ್ಗೆ ಹತ್ತು ಗಂಟೆಗೆ ಡಾಕ್ಟರ್ ಅಪಾಯಿಂಟ್ಮೆಂಟ್ ಇದೆ', 'kn-reader', 'kannada'],
    ['ನಾನು office ಗೆ late ಆಗಿ ಬರ್ತೀನಿ sir', 'kn-reader', 'kannada'],
    // a model of unknown languages is trusted with English only
    ['What is on my calendar for tomorrow morning?', 'mystery', 'default'],
    ['kal office jaana hai, meeting hai', 'fast-en', 'default'],
  ];
  for (const [i, [text, want, rule]] of cases.entries()) {
    const r = await h.post('/v1/chat/completions', chat('auto', text));
    if (i === 0) {
      // the Kannada rule's first model fails to start: passed over, and said so
      assert.match(r.headers.get('x-hermod-passed-over') ?? '', /^broken: .*exit status 1/);
    }
    assert.equal(r.status, 200, text);
    assert.equal(r.headers.get('x-hermod-model'), want, `${text} -> ${r.headers.get('x-hermod-reason')}`);
    assert.equal(r.headers.get('x-hermod-route'), 'auto');
    assert.equal(r.headers.get('x-hermod-rule'), rule);
    assert.match(r.headers.get('x-hermod-reason'), new RegExp(`rule '${rule}'`));
    await r.text();
  }
  // While it cools down, the router does not even try it.
  const k = await h.post('/v1/chat/completions', chat('default', 'ee vara Mysuru ge hogona'));
  assert.equal(k.headers.get('x-hermod-model'), 'kn-reader');
  assert.equal(k.headers.get('x-hermod-passed-over'), null);
  await k.text();

  // images go to a model that takes images; OCR task by header
  let r = await h.post('/v1/chat/completions', chat('auto', image('What is in this photo?')));
  assert.equal(r.headers.get('x-hermod-model'), 'seer');
  assert.equal(r.headers.get('x-hermod-rule'), 'vision');
  await r.text();
  r = await h.post('/v1/chat/completions', chat('auto', image('Read this receipt')), { 'X-Hermod-Task': 'ocr' });
  assert.equal(r.headers.get('x-hermod-model'), 'ocr-en');
  await r.text();
  // the task can also come in the body, and hermod's own field is not passed on
  r = await h.post('/v1/chat/completions', chat('auto', image('Read this receipt'), { hermod: { task: 'ocr' } }));
  assert.equal(r.headers.get('x-hermod-model'), 'ocr-en');
  await r.text();
  const last = readRecord(path.join(h.dir, 'ocr-en.txt')).filter((e) => e.ev === 'request').at(-1);
  assert.equal(last.fields.keys, 'model,messages');
  assert.equal(last.fields.model, 'ocr-en');
  // Kannada text with an image and an OCR task: the English OCR model is excluded
  r = await h.post('/v1/chat/completions', chat('auto', image('ee bill nalli total eshtu?')), { 'X-Hermod-Task': 'ocr' });
  assert.equal(r.headers.get('x-hermod-model'), 'seer');
  await r.text();

  // A route that has no Kannada model: an immediate 503 that says why.
  r = await h.post('/v1/chat/completions', chat('english-only', 'naanu nale barthini'));
  assert.equal(r.status, 503);
  const j = await r.json();
  assert.equal(j.error.code, 'no_route');
  assert.match(j.error.message, /fast-en: no Kannada/);
  assert.match(j.error.message, /mystery: no Kannada \(its languages are unknown/);

  // Naming a model directly bypasses routing and its constraints.
  r = await h.post('/v1/chat/completions', chat('fast-en', 'naanu nale barthini'));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-hermod-model'), 'fast-en');
  assert.equal(r.headers.get('x-hermod-route'), null);
  await r.text();

  // Routes are listed as models.
  const models = (await h.json('/v1/models')).data;
  const auto = models.find((x) => x.id === 'auto');
  assert.deepEqual(auto.hermod.rules, ['ocr', 'vision', 'kannada', 'default']);
  assert.equal(models.find((x) => x.id === 'default').hermod.alias_of, 'auto');

  // Streaming is routed too, with the openai client.
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'x', maxRetries: 0 });
  const { data: stream, response } = await client.chat.completions
    .create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'naanu barthini' }] })
    .withResponse();
  assert.equal(response.headers.get('x-hermod-model'), 'kn-reader');
  let n = 0;
  for await (const _ of stream) n++;
  assert.equal(n, 6);
  await h.stop();
});

test('hermod route --explain prints the decision without calling any engine', () => {
  const dir = fs.mkdtempSync('/tmp/hermod-route-');
  const cfg = path.join(dir, 'c.yaml');
  fs.writeFileSync(cfg, CONFIG.replaceAll('@DIR@', dir));
  const run = (input, ...args) =>
    spawnSync(HERMOD, ['route', '--explain', '--config', cfg, '--json', ...args], { input, encoding: 'utf8' });
  let r = run(JSON.stringify(chat('auto', 'naanu nale office ge hogtini')));
  assert.equal(r.status, 0, r.stderr);
  let j = JSON.parse(r.stdout);
  assert.equal(j.language.label, 'kn-latn');
  assert.equal(j.language.needs_kannada, true);
  assert.equal(j.rule, 'kannada');
  assert.deepEqual(j.candidates, ['broken', 'kn-reader', 'kn-specialist']);
  assert.equal(j.escalation_from, 2);
  // plain text, with a route named
  r = run('Summarise this meeting for me', '--route', 'auto');
  j = JSON.parse(r.stdout);
  assert.equal(j.model, 'mystery');
  assert.match(j.skipped, /kannada: language en/);
  // an image request from a file
  const f = path.join(dir, 'req.json');
  fs.writeFileSync(f, JSON.stringify(chat('auto', image('Read this receipt'))));
  r = spawnSync(HERMOD, ['route', '--explain', '--config', cfg, '--task', 'ocr', f], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /rule +ocr/);
  assert.match(r.stdout, /candidates ocr-en seer/);
  // no model can take it
  r = run(JSON.stringify(chat('english-only', 'ನಮಸ್ಕಾರ')));
  assert.equal(r.status, 1);
  assert.match(JSON.parse(r.stdout).why, /no model can take this request/);
  // no engine was started by any of this
  assert.deepEqual(fs.readdirSync(dir).filter((x) => x.endsWith('.txt')), []);
  fs.rmSync(dir, { recursive: true, force: true });
});
