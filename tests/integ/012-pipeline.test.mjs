// The ingest pipeline end to end: photos (JPEG with EXIF orientation, time
// and GPS; PNG, WebP, HEIC), a video, transcripts in Kannada script and in
// Latin letters, through hermod's own routes to fake vision and language
// engines, into the memory store; idempotence, pending and retry, kill -9,
// bad input, and the command line.
//
// Every fixture is made here with Debian tools (ffmpeg, exiftool, heif-enc).
// The fake vision engine runs with --look: it decodes the JPEGs it is sent
// and records their size, their APP1 segments and the colour of their
// corners, which is how these tests see what the model was shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Hermod, HERMOD, managed, readRecord, waitFor, sleep, SLOW } from './lib.mjs';

const sh = (cmd, cwd) => execFileSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
const FF = 'ffmpeg -nostdin -v error -y';

// ---- fixtures -------------------------------------------------------------------

// Upright: white, red block at the top left, blue at the bottom right.
const UPRIGHT =
  `-f lavfi -i color=white:s=1600x1200 -f lavfi -i color=red:s=400x300 -f lavfi -i color=blue:s=400x300 ` +
  `-filter_complex "[0][1]overlay=0:0[a];[a][2]overlay=1200:900`;

function makeFixtures(dir) {
  // Stored turned 90 degrees anticlockwise, EXIF orientation 6 says "turn
  // it clockwise to show": what a phone held upright writes.
  sh(`${FF} ${UPRIGHT},transpose=2" -frames:v 1 -q:v 2 rotated.jpg`, dir);
  sh(
    `exiftool -q -overwrite_original -Orientation#=6 "-DateTimeOriginal=2026:11:20 13:05:00" ` +
      `-GPSLatitude=12.9716 -GPSLatitudeRef=N -GPSLongitude=77.5946 -GPSLongitudeRef=E ` +
      `-Make=TestCam -Model=T1000 rotated.jpg`,
    dir,
  );
  sh(`${FF} ${UPRIGHT},scale=640:480" -frames:v 1 upright.png`, dir);
  sh(`${FF} -i upright.png -c:v libwebp -quality 80 upright.webp`, dir);
  sh(`heif-enc -q 60 upright.png -o upright.heic >/dev/null`, dir);
  // 6 s: 3 s of a still black frame, then a red block moving.
  sh(
    `${FF} -f lavfi -i "color=c=black:s=160x120:r=10:d=6[bg];color=c=red:s=40x40:r=10:d=6[fg];` +
      `[bg][fg]overlay=x=if(lt(t\\,3)\\,10\\,10+(t-3)*30):y=40" -c:v libx264 -preset ultrafast ` +
      `-pix_fmt yuv420p -metadata creation_time=2026-11-19T10:00:00Z clip.mp4`,
    dir,
  );
  fs.writeFileSync(path.join(dir, 'doc.pdf'), '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n');
  const jpg = fs.readFileSync(path.join(dir, 'rotated.jpg'));
  fs.writeFileSync(path.join(dir, 'truncated.jpg'), jpg.subarray(0, jpg.length >> 1));
}

// ---- canned answers -------------------------------------------------------------

const desc = (o) =>
  JSON.stringify({
    scene: 'A bill on a restaurant table.',
    objects: [{ name: 'bill', count: 1, attributes: ['paper'] }],
    text: [{ content: 'MEGHANA FOODS Biryani 2 x 300 = 600 Total Rs. 650.00', language: 'en', script: 'Latn' }],
    actions: [],
    people_count: 0,
    kind: 'receipt',
    receipt: { merchant: 'Meghana Foods', date: '20/11/2026', currency: 'INR', total: 'Rs. 650.00', items: [{ name: 'Biryani', qty: '2', price: '300', amount: '600' }] },
    lab_report: null,
    screenshot: null,
    whiteboard: null,
    ...o,
  });

const LAB = desc({
  scene: 'A printed thyroid test report.',
  text: [{ content: 'TSH 6.5 uIU/mL (0.4-4.0)', language: 'en', script: 'Latn' }],
  kind: 'lab_report',
  receipt: null,
  lab_report: { lab: 'Anand Diagnostics', date: '18/11/2026', tests: [{ test: 'TSH', value: '6.5', unit: 'uIU/mL', reference_range: '0.4-4.0', flag: 'H' }] },
});

const VIDEO = desc({
  scene: 'A red square slides across a dark room.',
  text: [],
  actions: ['0:00 the room is still', '0:03 a red square starts to move right'],
  kind: 'other',
  receipt: null,
});

const SIGN = desc({
  scene: 'A shop sign on a street in Mysuru.',
  text: [{ content: 'ಮೈಲಾರಿ ಹೋಟೆಲ್ Mylari Hotel', language: 'kn', script: 'Knda' }],
  kind: 'photo',
  receipt: null,
});

const facts = (entities, relations = []) => JSON.stringify({ entities, relations });
const RAJESH_KN = facts(
  [{ type: 'person', name: 'ರಾಜೇಶ್', surface: 'ರಾಜೇಶನನ್ನು' }, { type: 'place', name: 'ಮೈಸೂರು', surface: 'ಮೈಸೂರಿನಲ್ಲಿ' }],
  [{ subject: 'me', subject_type: 'person', predicate: 'met', object: 'ರಾಜೇಶ್', object_type: 'person', value: null, unit: null, time_said: 'ನಿನ್ನೆ', date: null, fact: 'I met Rajesh in Mysuru yesterday.' }],
);
const RAJESH_LATN = facts([{ type: 'person', name: 'Rajesh', surface: null }]);
const MYLARI = facts([{ type: 'organisation', name: 'Mylari Hotel', surface: null }, { type: 'place', name: 'Mysuru', surface: null }]);

// ---- a hermod with a vision route and a language route ------------------------------

// models: {name: {answers: [...], args: [...], languages, modalities}}
function setup(models, { pipeline = '', extra = '', visionRoute = ['vis'], extractRoute = null } = {}) {
  let y = `cooldown: 0s\n${extra}\nmodels:\n`;
  for (const [name, m] of Object.entries(models)) {
    y += `  - name: ${name}\n    languages: [${(m.languages || ['en', 'kn']).join(', ')}]\n`;
    y += `    modalities: [${(m.modalities || ['text', 'image']).join(', ')}]\n${m.extra || ''}    engines:\n`;
    y += managed(['--content-file', `@DIR@/${name}.answers`, '--record', `@DIR@/${name}.rec`, '--look', ...(m.args || [])]);
  }
  y += `routes:\n  - name: vision\n    rules:\n      - models: [${visionRoute.join(', ')}]\n`;
  if (extractRoute) y += `  - name: extract\n${extractRoute}`;
  y += `store: @DIR@/memory.db\npipeline:\n  vision: vision\n  extract: ${extractRoute ? 'extract' : Object.keys(models)[0]}\n  timezone: "+05:30"\n${pipeline}`;
  const h = new Hermod(y);
  for (const [name, m] of Object.entries(models)) fs.writeFileSync(path.join(h.dir, `${name}.answers`), (m.answers || [desc()]).join('\n') + '\n');
  makeFixtures(h.dir);
  return h;
}

const file = (h, name) => fs.readFileSync(path.join(h.dir, name));
const ingest = (h, name, query = '', type = 'application/octet-stream') =>
  h.fetch(`/hermod/ingest${query ? '?' + query : ''}`, { method: 'POST', headers: { 'content-type': type }, body: file(h, name) });
const requests = (h, model) => readRecord(path.join(h.dir, `${model}.rec`)).filter((e) => e.ev === 'request');
const images = (h, model) => readRecord(path.join(h.dir, `${model}.rec`)).filter((e) => e.ev === 'image');

// ---- tests --------------------------------------------------------------------------

test('a phone photo: upright, downscaled, stripped, timed by EXIF, described, typed and searchable', async (t) => {
  const h = setup({ vis: { answers: [desc()] } });
  t.after(() => h.cleanup());
  await h.start();
  const r = await ingest(h, 'rotated.jpg', 'source=camera&filename=bill.jpg');
  const ep = await r.json();
  assert.equal(r.status, 200, JSON.stringify(ep));
  assert.equal(ep.status, 'done');
  assert.equal(ep.duplicate, false);
  assert.equal(ep.kind, 'receipt', 'the model read it as a receipt');
  assert.equal(ep.source, 'camera');
  assert.equal(ep.model, 'vis');
  // EXIF time, local to the configured zone (+05:30)
  assert.equal(ep.captured_at, '2026-11-20T07:35:00.000Z');
  assert.equal(ep.media.captured_from, 'exif');
  assert.equal(ep.media.orientation, 6);
  assert.deepEqual([ep.media.width, ep.media.height], [1200, 1600]);
  assert.deepEqual([ep.media.sent_width, ep.media.sent_height], [1024, 768]);
  assert.equal(ep.media.filename, 'bill.jpg');
  // place and camera are neither sent nor kept (keep_location is off)
  assert.equal(ep.media.metadata_dropped, true);
  assert.equal(ep.media.lat, undefined);
  // what the model saw: upright (red top left), 1024x768, no EXIF at all
  const seen = images(h, 'vis');
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].fields, { ...seen[0].fields, w: '1024', h: '768', app1: '0', tl: 'red', br: 'blue', tr: 'white' });
  // the request carried the vision schema as response_format
  assert.match(requests(h, 'vis')[0].fields.keys, /response_format/);
  // typed receipt: numbers and dates parsed, raw text kept
  assert.equal(ep.extract.type, 'receipt');
  assert.equal(ep.extract.total, 650);
  assert.equal(ep.extract.total_raw, 'Rs. 650.00');
  assert.equal(ep.extract.date, '2026-11-20');
  assert.equal(ep.extract.items[0].amount, 600);
  assert.ok(ep.entities.some((e) => e.type === 'merchant' && e.name === 'Meghana Foods'), JSON.stringify(ep.entities));
  // searchable in the daemon, with time words
  const s = await (await h.fetch('/hermod/memories/search?q=biryani&since=2026-11-01&until=2026-11-30&kind=receipt')).json();
  assert.equal(s.results.length, 1);
  assert.equal(s.results[0].id, ep.id);
  assert.match(s.results[0].snippet, /\[Biryani\]/);
  const none = await (await h.fetch('/hermod/memories/search?q=biryani&since=2026-11-21')).json();
  assert.equal(none.results.length, 0);
  // and as stored
  const got = await (await h.fetch(`/hermod/episodes/${ep.id}`)).json();
  assert.equal(got.status, 'done');
  assert.equal(got.extract.total, 650);
  // metrics
  const m = await (await h.fetch('/metrics')).text();
  assert.match(m, /hermod_ingest_total\{result="done"\} 1/);
  await h.stop();
});

test('PNG, WebP and HEIC are read; keep_location keeps place and camera in the store only', async (t) => {
  const h = setup({ vis: { answers: [desc({ kind: 'photo', receipt: null })] } }, { pipeline: '  keep_location: true\n' });
  t.after(() => h.cleanup());
  await h.start();
  for (const [name, fmt] of [['upright.png', 'png'], ['upright.webp', 'webp'], ['upright.heic', 'heic']]) {
    const r = await ingest(h, name);
    const ep = await r.json();
    assert.equal(r.status, 200, `${name}: ${JSON.stringify(ep)}`);
    assert.equal(ep.media.format, fmt);
    assert.equal(ep.kind, 'photo');
    assert.equal(ep.media.captured_from, 'now');
  }
  const seen = images(h, 'vis');
  assert.equal(seen.length, 3);
  for (const s of seen) assert.deepEqual([s.fields.w, s.fields.h, s.fields.tl, s.fields.br, s.fields.app1], ['640', '480', 'red', 'blue', '0']);
  const r = await ingest(h, 'rotated.jpg');
  const ep = await r.json();
  assert.ok(Math.abs(ep.media.lat - 12.9716) < 1e-3 && Math.abs(ep.media.lon - 77.5946) < 1e-3, JSON.stringify(ep.media));
  assert.equal(ep.media.camera_make, 'TestCam');
  // still nothing of it reaches the model
  assert.equal(images(h, 'vis').at(-1).fields.app1, '0');
  await h.stop();
});

test('pictures are sized for the model that will see them', async (t) => {
  const h = setup(
    { small: { extra: '    image_side: 512\n', answers: [desc()] }, large: { extra: '    image_side: 1536\n', answers: [desc()] } },
    { visionRoute: ['small', 'large'] },
  );
  t.after(() => h.cleanup());
  await h.start();
  // forced to the small model: 512 on the long side
  let ep = await (await ingest(h, 'rotated.jpg', 'model=small')).json();
  assert.deepEqual([ep.media.sent_width, ep.media.sent_height], [512, 384]);
  assert.deepEqual([images(h, 'small')[0].fields.w, images(h, 'small')[0].fields.h], ['512', '384']);
  // through the route, which may pick either: the larger of the two (never upscaled)
  ep = await (await ingest(h, 'upright.png')).json();
  assert.deepEqual([ep.media.sent_width, ep.media.sent_height], [640, 480]);
  const big = Buffer.concat([file(h, 'rotated.jpg'), Buffer.from('another copy')]);
  ep = await (await h.fetch('/hermod/ingest', { method: 'POST', body: big })).json();
  assert.deepEqual([ep.media.sent_width, ep.media.sent_height], [1536, 1152]);
  await h.stop();
});

test('the same content is one episode: concurrent uploads wait for one description', async (t) => {
  const h = setup({ vis: { answers: [desc()], args: ['--first-delay', '300'] } });
  t.after(() => h.cleanup());
  await h.start();
  const rs = await Promise.all([0, 1, 2].map(() => ingest(h, 'rotated.jpg')));
  const eps = await Promise.all(rs.map((r) => r.json()));
  for (const [i, r] of rs.entries()) assert.equal(r.status, 200, JSON.stringify(eps[i]));
  assert.equal(new Set(eps.map((e) => e.id)).size, 1, 'one episode');
  assert.equal(eps.filter((e) => e.duplicate === false).length, 1, 'one of them described it');
  assert.equal(requests(h, 'vis').length, 1, 'the model was asked once');
  // later: answered from the store, the model not asked again
  const again = await (await ingest(h, 'rotated.jpg', 'source=whatsapp')).json();
  assert.equal(again.id, eps[0].id);
  assert.equal(again.duplicate, true);
  assert.equal(again.source, eps[0].source, 'the first upload\'s label stays');
  assert.equal(requests(h, 'vis').length, 1);
  await h.stop();
});

test('a video: sampled, still frames dropped, described as one episode with a timeline', async (t) => {
  const h = setup({ vis: { answers: [VIDEO] } }, { pipeline: '  video_fps: 2\n  video_frames: 16\n' });
  t.after(() => h.cleanup());
  await h.start();
  const r = await ingest(h, 'clip.mp4', 'source=phone');
  const ep = await r.json();
  assert.equal(r.status, 200, JSON.stringify(ep));
  assert.equal(ep.kind, 'video');
  assert.equal(ep.captured_at, '2026-11-19T10:00:00.000Z');
  assert.equal(ep.media.captured_from, 'video');
  assert.ok(ep.media.frames_dropped_duplicate >= 4, `still frames dropped: ${JSON.stringify(ep.media)}`);
  const sent = images(h, 'vis');
  assert.equal(sent.length, ep.media.frames.length);
  assert.ok(sent.length >= 3 && sent.length < ep.media.frames_sampled, `${sent.length} of ${ep.media.frames_sampled} frames sent`);
  assert.equal(ep.media.frames[0].t, 0);
  assert.deepEqual(ep.extract.timeline, [
    { t: 0, what: 'the room is still' },
    { t: 3, what: 'a red square starts to move right' },
  ]);
  await h.stop();
});

test('transcripts: Kannada goes to a Kannada model, names in both scripts are one person', async (t) => {
  const h = setup(
    {
      vis: { answers: [SIGN] },
      nemo: { languages: ['en', 'hi'], modalities: ['text'], answers: [RAJESH_LATN] },
      param: { languages: ['kn', 'en'], modalities: ['text'], answers: [RAJESH_KN, MYLARI] },
    },
    {
      extractRoute: `    rules:\n      - name: kannada\n        when: {language: kannada}\n        models: [param]\n      - name: default\n        models: [nemo]\n`,
    },
  );
  t.after(() => h.cleanup());
  await h.start();
  const kn = await h.fetch('/hermod/ingest?source=voice&at=2026-11-25T18:00:00%2B05:30', {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: 'ನಿನ್ನೆ ಮೈಸೂರಿನಲ್ಲಿ ರಾಜೇಶನನ್ನು ಭೇಟಿಯಾದೆ',
  });
  const a = await kn.json();
  assert.equal(kn.status, 200, JSON.stringify(a));
  assert.equal(a.kind, 'transcript');
  assert.equal(a.model, 'param', 'Kannada went to the Kannada model');
  assert.equal(a.language, 'kn');
  assert.equal(a.captured_at, '2026-11-25T12:30:00.000Z');
  // "ನಿನ್ನೆ" is the day before the recording, worked out by hermod
  const met = a.facts.find((f) => f.predicate === 'met');
  assert.equal(met.valid_from, '2026-11-23T18:30:00.000Z');
  assert.equal(requests(h, 'nemo').length, 0, 'the model without Kannada never saw it');

  const en = await h.post('/hermod/ingest', { text: 'Had coffee with Rajesh at the office today; we went over the quarterly budget.', source: 'voice' });
  const b = await en.json();
  assert.equal(en.status, 200, JSON.stringify(b));
  assert.equal(b.model, 'nemo');
  // one person across both scripts
  const s = await (await h.fetch('/hermod/memories/search?entity=' + encodeURIComponent('ರಾಜೇಶ್'))).json();
  assert.deepEqual(s.results.map((x) => x.id).sort(), [a.id, b.id].sort());

  // a picture with text: the vision model describes it, the extract route
  // names what is in it, Kannada text going to the Kannada model
  const p = await (await ingest(h, 'upright.png')).json();
  assert.equal(p.status, 'done', JSON.stringify(p));
  assert.equal(p.language, 'kn');
  assert.equal(requests(h, 'param').length, 2, 'the sign was read by the Kannada model: ' + JSON.stringify(p) + h.log());
  assert.ok(p.entities.some((e) => e.name === 'Mylari Hotel' && e.type === 'organisation'), JSON.stringify(p.entities));
  await h.stop();
});

test('malformed descriptions are retried and escalated; incomplete ones are repaired', async (t) => {
  const h = setup(
    {
      bad: { answers: ['I think this is a bill {not json'] },
      good: { answers: [LAB] },
      sloppy: { answers: ['```json\\n{"scene":"A page.","kind":"document"}\\n```'] },
    },
    { visionRoute: ['bad', 'good'] },
  );
  t.after(() => h.cleanup());
  await h.start();
  const r = await ingest(h, 'upright.png');
  const ep = await r.json();
  assert.equal(r.status, 200, JSON.stringify(ep));
  assert.equal(requests(h, 'bad').length, 2, 'the broken answer was retried once');
  assert.equal(ep.model, 'good');
  assert.equal(ep.answer_check, 'valid');
  assert.equal(ep.kind, 'lab_report');
  const tsh = ep.extract.tests[0];
  assert.equal(tsh.test, 'TSH');
  assert.equal(tsh.value, 6.5);
  assert.equal(tsh.out_of_range, true);
  assert.equal(tsh.unit, 'µIU/mL');

  // forced to a model whose answers lack fields: stored with what it said
  const s = await (await ingest(h, 'upright.webp', 'model=sloppy')).json();
  assert.equal(s.status, 'done', JSON.stringify(s));
  assert.equal(s.model, 'sloppy');
  assert.equal(s.kind, 'document');
  assert.match(s.warnings.join(' '), /repaired/);
  await h.stop();
});

test('a model that fails leaves the episode pending; it is retried, then failed, and can be revived', async (t) => {
  const h = setup({ vis: { answers: [desc()], args: ['--fail-first', '3'] } }, { pipeline: '  retry_interval: 500ms\n  max_attempts: 10\n' });
  t.after(() => h.cleanup());
  await h.start();
  const r = await ingest(h, 'rotated.jpg');
  const ep = await r.json();
  assert.equal(r.status, 202, JSON.stringify(ep));
  assert.equal(ep.status, 'pending');
  assert.ok(ep.error && ep.error.message, 'says why');
  assert.equal(ep.retry_in_s, 0.5);
  // nothing half-written: not searchable while pending
  const s0 = await (await h.fetch('/hermod/memories/search?q=biryani')).json();
  assert.equal(s0.results.length, 0);
  // the retry timer gets it done once the engine answers
  const done = await waitFor(
    async () => {
      const e = await (await h.fetch(`/hermod/episodes/${ep.id}`)).json();
      return e.status === 'done' && e;
    },
    { timeout: 15000 * SLOW, what: 'the retried episode' },
  );
  assert.equal(done.extract.total, 650);
  assert.equal(done.attempts, 4);
  const s1 = await (await h.fetch('/hermod/memories/search?q=biryani')).json();
  assert.equal(s1.results.length, 1);
  await h.stop();

  // always failing: failed after max_attempts; revived by POST /hermod/ingest/retry?id=
  const f = setup({ vis: { args: ['--status', '503'] } }, { pipeline: '  retry_interval: 200ms\n  max_attempts: 2\n' });
  t.after(() => f.cleanup());
  await f.start();
  const p = await (await ingest(f, 'upright.png')).json();
  assert.equal(p.status, 'pending');
  await waitFor(async () => (await (await f.fetch(`/hermod/episodes/${p.id}`)).json()).status === 'failed', { what: 'failed' });
  const rv = await f.fetch(`/hermod/ingest/retry?id=${p.id}`, { method: 'POST' });
  assert.equal(rv.status, 200);
  const after = await (await f.fetch(`/hermod/episodes/${p.id}`)).json();
  assert.ok(['pending', 'failed'].includes(after.status));
  assert.equal((await f.fetch(`/hermod/ingest/retry?id=99`, { method: 'POST' })).status, 404);
  await f.stop();
});

test('kill -9: what was acknowledged survives, and a cut-off description is finished after restart', async (t) => {
  const h = setup({ vis: { answers: [desc()] } }, { pipeline: '  retry_interval: 500ms\n' });
  t.after(() => h.cleanup());
  await h.start();
  const ep = await (await ingest(h, 'rotated.jpg')).json();
  assert.equal(ep.status, 'done');
  h.proc.kill('SIGKILL');
  await h.exitPromise;
  for (const pid of (await import('./lib.mjs')).processesMentioning(h.dir)) process.kill(pid, 'SIGKILL');

  // the next hermod on the same store: still there, still searchable
  const h2 = new Hermod(h.config);
  h2.dir = h.dir;
  t.after(() => h2.cleanup());
  await h2.start();
  const got = await (await h2.fetch(`/hermod/episodes/${ep.id}`)).json();
  assert.equal(got.status, 'done');
  assert.equal(got.extract.total, 650);
  const s = await (await h2.fetch('/hermod/memories/search?q=meghana')).json();
  assert.equal(s.results.length, 1);

  // killed while the model is still describing: the upload was recorded
  // as pending with its prepared input, and the next start finishes it
  fs.writeFileSync(path.join(h.dir, 'vis.answers'), desc({ scene: 'A second bill.' }) + '\n');
  const slow = h2.config.replace('"--look"', '"--look", "--first-delay", "20000"');
  assert.notEqual(slow, h2.config);
  await h2.stop();
  const h3 = new Hermod(slow);
  h3.dir = h.dir;
  t.after(() => h3.cleanup());
  await h3.start();
  const pending = ingest(h3, 'upright.png').catch((e) => e);
  await waitFor(() => requests(h3, 'vis').length >= 2, { what: 'the second description to start' });
  h3.proc.kill('SIGKILL');
  await h3.exitPromise;
  for (const pid of (await import('./lib.mjs')).processesMentioning(h.dir)) process.kill(pid, 'SIGKILL');
  await pending;
  const h4 = new Hermod(h.config);
  h4.dir = h.dir;
  t.after(() => h4.cleanup());
  await h4.start();
  const s2 = await waitFor(
    async () => {
      const x = await (await h4.fetch('/hermod/memories/search?q=second')).json();
      return x.results.length === 1 && x;
    },
    { timeout: 15000 * SLOW, what: 'the pending episode to be finished after restart' },
  );
  assert.equal(s2.results[0].kind, 'receipt');
  assert.match(h4.log(), /retrying 1 pending episode/);
  await h4.stop();
});

test('bad input is refused with a clear error and stores nothing', async (t) => {
  const h = setup({ vis: {} }, { extra: 'max_body: 2m\n' });
  t.after(() => h.cleanup());
  await h.start();
  const check = async (r, status, code, re) => {
    const b = await r.json();
    assert.equal(r.status, status, JSON.stringify(b));
    assert.equal(b.error.code, code);
    if (re) assert.match(b.error.message, re);
  };
  await check(await ingest(h, 'doc.pdf'), 415, 'unsupported_media', /not an image.*PDF.*JPEG, PNG, WebP and HEIC/s);
  await check(await ingest(h, 'truncated.jpg'), 422, 'unreadable_media');
  await check(await h.fetch('/hermod/ingest', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: '' }), 400, 'empty_body');
  await check(await h.fetch('/hermod/ingest', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' }), 400, 'bad_transcript', /empty/);
  await check(await h.post('/hermod/ingest', '{"data": "###"}'), 400, 'bad_base64');
  await check(await h.post('/hermod/ingest', '{"text": '), 400, 'invalid_json', /line 1/);
  await check(await h.post('/hermod/ingest', { nothing: 1 }), 400, 'missing_field');
  await check(await ingest(h, 'upright.png', 'model=nope'), 404, 'model_not_found');
  await check(await ingest(h, 'upright.png', 'kind=spaceship'), 400, 'bad_kind');
  await check(await ingest(h, 'upright.png', 'at=someday'), 400, 'bad_time');
  await check(
    await h.fetch('/hermod/ingest', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--' }),
    415,
    'unsupported_media',
    /data-binary/,
  );
  await check(
    await h.fetch('/hermod/ingest', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.from([0xff, 0xfe, 0x41]) }),
    400,
    'bad_transcript',
    /UTF-8/,
  );
  const big = await h.fetch('/hermod/ingest', { method: 'POST', body: Buffer.alloc(3 << 20, 1) });
  assert.equal(big.status, 413);
  await check(await h.fetch('/hermod/memories/search?since=tomorrowish'), 400, 'invalid_parameter', /since/);
  await check(await h.fetch('/hermod/episodes/abc'), 404, 'not_found');
  assert.equal((await h.fetch('/hermod/ingest')).status, 405);
  // nothing was stored, and the model was never asked
  const s = await (await h.fetch('/hermod/memories/search')).json();
  assert.equal(s.results.length, 0);
  assert.equal((await h.fetch('/hermod/episodes/1')).status, 404);
  assert.equal(requests(h, 'vis').length, 0);
  // a good one still works afterwards
  assert.equal((await ingest(h, 'upright.png')).status, 200);
  await h.stop();
});

test('hermod ingest and hermod search from the command line', async (t) => {
  const h = setup({ vis: { answers: [desc()] }, down: { args: ['--status', '503'] } }, { pipeline: '  retry_interval: 0s\n' });
  t.after(() => h.cleanup());
  await h.start();
  const run = (...args) => spawnSync(HERMOD, args, { encoding: 'utf8', cwd: h.dir, env: { ...process.env, HERMOD_URL: h.url } });
  let r = run('ingest', 'rotated.jpg', 'upright.png', '--source', 'camera', '--at', '2026-11-21T09:00:00+05:30');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /rotated\.jpg: episode \d+ done, receipt by vis/);
  assert.match(r.stdout, /receipt: Meghana Foods, 2026-11-20, total INR 650\.00/);
  assert.match(r.stdout, /captured 2026-11-21T03:30:00\.000Z \(request\)/);
  r = run('ingest', '--json', 'upright.png');
  assert.equal(r.status, 0);
  const j = JSON.parse(r.stdout.trim());
  assert.equal(j.duplicate, true);
  r = run('ingest', 'upright.webp', '--model', 'down');
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /pending.*\n(.*\n)*.*not described yet/);
  r = run('ingest', 'missing.jpg');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /missing\.jpg/);
  r = run('ingest', 'doc.pdf');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not an image/);
  r = spawnSync(HERMOD, ['ingest', path.join(h.dir, 'upright.png'), '--url', 'http://127.0.0.1:1'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot reach hermod/);
  // the CLI reads the daemon's store beside it
  r = run('search', 'biryani', '--store', path.join(h.dir, 'memory.db'), '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).results.length, 2, 'both receipts');
  await h.stop();
});
