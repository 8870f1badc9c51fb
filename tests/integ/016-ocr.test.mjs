// Kannada OCR fallback in the visual bridge (issue 13 part 3): a picture of
// a Kannada shop sign, which the vision model (a fake engine) reads badly or
// not at all, is read again by Tesseract; what it read joins the picture's
// answer marked "source": "ocr", reaches the entity model (routed to the
// Kannada one because the text is now Kannada) and the store, and search
// finds the photo by the shop's name in Latin letters.
//
// The signs are rendered here with pango-view (HarfBuzz shaping) and Debian's
// Noto Sans Kannada, then made JPEGs by ffmpeg (scripts/deps --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Hermod, managed, readRecord } from './lib.mjs';

const sh = (cmd, cwd) => execFileSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

// A sign: dark text on a yellow board, in the middle of a grey "street".
function sign(dir, name, text) {
  fs.writeFileSync(path.join(dir, `${name}.txt`), text + '\n');
  sh(
    `pango-view --no-display --font="Noto Sans Kannada Bold 54" --margin=40 --background=#f2d03b ` +
      `--foreground=#202020 -o ${name}.png ${name}.txt 2>/dev/null`,
    dir,
  );
  sh(`ffmpeg -nostdin -v error -y -i ${name}.png -vf "pad=iw+400:ih+500:200:150:color=gray" -q:v 3 ${name}.jpg`, dir);
}

const desc = (o) =>
  JSON.stringify({
    scene: 'A shop front with a sign board above the door.',
    objects: [{ name: 'sign board', count: 1, attributes: ['yellow'] }],
    text: [],
    actions: [],
    people_count: 0,
    kind: 'photo',
    receipt: null,
    lab_report: null,
    screenshot: null,
    whiteboard: null,
    ...o,
  });

// The model could not read the sign at all, but said it is in Kannada.
const UNREAD = desc({ scene: 'A shop front with a sign board in Kannada script above the door.' });
// The model read it, badly (the kind of Kannada a VLM without the script writes).
const MISREAD = desc({ text: [{ content: 'ವಿದಾತಿ ಬವನ', language: 'kn', script: 'Knda' }] });
// English text, read well: no OCR.
const ENGLISH = desc({ scene: 'A cafe door.', text: [{ content: 'OPEN 8 AM - 10 PM', language: 'en', script: 'Latn' }] });

const ENTITIES = JSON.stringify({ entities: [{ type: 'organisation', name: 'ಗಣೇಶ ಭವನ', surface: null }], relations: [] });
const EN_ENTITIES = JSON.stringify({ entities: [], relations: [] });

function setup(visionAnswers, { pipeline = '' } = {}) {
  let y = 'cooldown: 0s\nmodels:\n';
  const models = {
    vis: { languages: ['en', 'kn'], modalities: ['text', 'image'], answers: visionAnswers },
    param: { languages: ['kn', 'en'], modalities: ['text'], answers: [ENTITIES, EN_ENTITIES] },
    nemo: { languages: ['en'], modalities: ['text'], answers: [EN_ENTITIES] },
  };
  for (const [name, m] of Object.entries(models)) {
    y += `  - name: ${name}\n    languages: [${m.languages.join(', ')}]\n    modalities: [${m.modalities.join(', ')}]\n    engines:\n`;
    y += managed(['--content-file', `@DIR@/${name}.answers`, '--record', `@DIR@/${name}.rec`]);
  }
  y +=
    'routes:\n  - name: extract\n    rules:\n      - name: kannada\n        when: {language: kannada}\n        models: [param]\n' +
    '      - name: default\n        models: [nemo]\n';
  y += `store: @DIR@/memory.db\npipeline:\n  vision: vis\n  extract: extract\n  timezone: "+05:30"\n${pipeline}`;
  const h = new Hermod(y);
  for (const [name, m] of Object.entries(models)) fs.writeFileSync(path.join(h.dir, `${name}.answers`), m.answers.join('\n') + '\n');
  sign(h.dir, 'ganesha', 'ಗಣೇಶ ಭವನ');
  sign(h.dir, 'vidyarthi', 'ವಿದ್ಯಾರ್ಥಿ ಭವನ');
  return h;
}

const ingest = (h, name) =>
  h.fetch('/hermod/ingest?source=camera', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: fs.readFileSync(path.join(h.dir, name)) });
const requests = (h, model) => readRecord(path.join(h.dir, `${model}.rec`)).filter((e) => e.ev === 'request');
const search = async (h, q) => (await (await h.fetch('/hermod/memories/search?' + q)).json()).results.map((r) => r.id);

test('a Kannada sign the model cannot read is read by OCR, stored, and found by its name in Latin letters', async (t) => {
  const h = setup([UNREAD, MISREAD, ENGLISH]);
  t.after(() => h.cleanup());
  await h.start();

  const r = await ingest(h, 'ganesha.jpg');
  const ep = await r.json();
  assert.equal(r.status, 200, JSON.stringify(ep) + h.log());
  assert.equal(ep.status, 'done');
  // where each part came from
  assert.equal(ep.answer.ocr.reason, 'the description mentions Kannada', JSON.stringify(ep.answer));
  assert.match(ep.answer.ocr.engine, /^tesseract \d/);
  const ocr = ep.answer.text.filter((x) => x.source === 'ocr');
  assert.ok(ocr.some((x) => x.content.includes('ಗಣೇಶ') && x.script === 'Knda' && x.confidence > 50), JSON.stringify(ep.answer.text));
  assert.match(ep.ocr_text, /ಗಣೇಶ ಭವನ/);
  assert.equal(ep.language, 'kn');
  // the text reached the entity model, and the Kannada one (the model gave
  // no text, so without OCR there would have been no entity call at all)
  assert.equal(requests(h, 'param').length, 1, 'the OCR text went to the Kannada entity model');
  assert.equal(requests(h, 'nemo').length, 0);
  assert.ok(ep.entities.some((e) => e.name === 'ಗಣೇಶ ಭವನ'), JSON.stringify(ep.entities));
  // "the shop in that photo", by its name in Latin letters: the words come
  // from the OCR text alone (the model wrote none)
  assert.deepEqual(await search(h, 'q=' + encodeURIComponent('ganesha bhavana')), [ep.id]);
  assert.deepEqual(await search(h, 'entity=' + encodeURIComponent('Ganesha Bhavana')), [ep.id]);

  // misread Kannada: both kept, each with its source; the OCR line is the right one
  const m = await (await ingest(h, 'vidyarthi.jpg')).json();
  assert.equal(m.status, 'done', JSON.stringify(m));
  assert.equal(m.answer.ocr.reason, 'the model read Kannada text');
  assert.deepEqual(
    m.answer.text.map((x) => x.source),
    ['vlm', ...m.answer.text.slice(1).map(() => 'ocr')],
  );
  assert.equal(m.answer.text[0].content, 'ವಿದಾತಿ ಬವನ', 'the model\'s text is kept as it came');
  assert.ok(m.answer.text.some((x) => x.source === 'ocr' && x.content.includes('ವಿದ್ಯಾರ್ಥಿ')), JSON.stringify(m.answer.text));
  assert.deepEqual(await search(h, 'q=' + encodeURIComponent('vidyarthi')), [m.id]);

  // English read well by the model: Tesseract is not asked
  fs.copyFileSync(path.join(h.dir, 'ganesha.png'), path.join(h.dir, 'other.png'));
  const e = await (await ingest(h, 'other.png')).json();
  assert.equal(e.status, 'done', JSON.stringify(e));
  assert.equal(e.answer.ocr, undefined, JSON.stringify(e.answer));
  assert.ok(!e.answer.text.some((x) => x.source), 'no source marks without OCR');
  await h.stop();
});

test('pipeline.ocr: false keeps the model\'s text alone', async (t) => {
  const h = setup([UNREAD], { pipeline: '  ocr: false\n' });
  t.after(() => h.cleanup());
  await h.start();
  const ep = await (await ingest(h, 'ganesha.jpg')).json();
  assert.equal(ep.status, 'done', JSON.stringify(ep));
  assert.equal(ep.answer.ocr, undefined);
  assert.equal(ep.ocr_text, '');
  assert.deepEqual(await search(h, 'q=' + encodeURIComponent('ganesha bhavana')), []);
  await h.stop();
});
