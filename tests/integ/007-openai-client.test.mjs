// The official openai npm client against hermod, as users' code would use
// it: chat (plain and streamed), completions, embeddings, models, and the
// errors it must surface (unknown model, no engine, a cut stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Hermod, oneModel, managed } from './lib.mjs';

test('openai client: chat, stream, completions, embeddings, models, errors', async (t) => {
  const h = new Hermod(
    oneModel({ name: 'nemotron-3-nano', aliases: ['fast'], engines: [managed(['--chunks', 4])] }) +
      `  - name: crashy\n    engines:\n${managed(['--crash-after', 2])}` +
      `  - name: broken\n    engines:\n${managed(['--fail-start', 2])}` +
      `  - name: slow-start\n    engines:\n${managed(['--load-delay', 1200])}` +
      'keepalive: 300ms\n',
  );
  t.after(() => h.cleanup());
  await h.start();
  const client = new OpenAI({ baseURL: h.url + '/v1', apiKey: 'unused', maxRetries: 0 });

  const chat = await client.chat.completions.create({
    model: 'fast',
    messages: [{ role: 'user', content: 'naanu nale office ge hogtini' }],
  });
  assert.equal(chat.choices[0].message.content, 'tok0 tok1 tok2 tok3 ');
  assert.equal(chat.choices[0].finish_reason, 'stop');

  const stream = await client.chat.completions.create({
    model: 'nemotron-3-nano',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
  });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, 'tok0 tok1 tok2 tok3 ');
  assert.equal(finish, 'stop');

  // The helper that collects a stream, with the raw response headers.
  const { data: s2, response } = await client.chat.completions
    .create({ model: 'fast', messages: [], stream: true })
    .withResponse();
  assert.equal(response.headers.get('x-hermod-engine'), 'nemotron-3-nano@llama-server');
  let n = 0;
  for await (const _ of s2) n++;
  assert.equal(n, 5);

  // Keepalive comments while a model loads do not disturb the parser.
  const slow = await client.chat.completions.create({ model: 'slow-start', messages: [], stream: true });
  let slowText = '';
  for await (const c of slow) slowText += c.choices[0]?.delta?.content ?? '';
  assert.equal(slowText, 'tok0 tok1 tok2 tok3 tok4 ');

  const comp = await client.completions.create({ model: 'fast', prompt: 'x' });
  assert.equal(comp.choices[0].text, 'tok0 tok1 tok2 tok3 ');

  const emb = await client.embeddings.create({ model: 'fast', input: 'hello' });
  assert.equal(emb.data[0].embedding.length, 8);

  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  assert.deepEqual(models.sort(), ['broken', 'crashy', 'fast', 'nemotron-3-nano', 'slow-start']);

  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [] }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.match(e.message, /does not exist/);
    return true;
  });

  await assert.rejects(client.chat.completions.create({ model: 'broken', messages: [] }), (e) => {
    assert.equal(e.status, 503);
    assert.match(e.message, /exit status 2/);
    return true;
  });

  // A stream cut by an engine crash makes the iterator throw: the user's
  // code does not mistake the partial answer for a complete one.
  const cut = await client.chat.completions.create({ model: 'crashy', messages: [], stream: true });
  let partial = '';
  await assert.rejects(
    (async () => {
      for await (const c of cut) partial += c.choices[0]?.delta?.content ?? '';
    })(),
    (e) => {
      assert.match(e.message, /failed mid-stream/);
      return true;
    },
  );
  assert.equal(partial, 'tok0 tok1 ');
  await h.stop();
});
