// What a store's pages keep and fetch, made safe: per-task storage, forget() that erases
// everything (temporary files too), saves that never drop an acknowledged event, download caps,
// integrity checks of a store's own models, and TF.js weight paths confined to the model's folder.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRuntime, VitrineError } from '../../web/src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const recommendModel = path.join(root, 'models/recommend/movielens.safetensors');
const reviewModel = path.join(root, 'models/reviews/fine-foods.safetensors');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-state-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function rejects(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof VitrineError, `not a VitrineError: ${e?.stack ?? e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

// A loopback server for one test: GET /big streams `size` bytes (no length header unless `declare`).
async function serve(size, declare) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, declare ? { 'content-length': String(size) } : {});
    const chunk = Buffer.alloc(64 * 1024, 1);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!res.write(chunk.subarray(0, n))) return res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => {});
    pump();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/big`, close: () => new Promise((r) => server.close(r)) };
}

describe('state, downloads and integrity', async () => {
  const runtime = await createRuntime({ variant: 'simd' });
  after(() => runtime.dispose());

  test('one file per task and shopper; forget() removes the state and leftover temporary files', async () => {
    const file = path.join(tmp, 'shopper.json');
    const rec = await runtime.createRecommender({ model: recommendModel, storage: { type: 'file', path: file }, userKey: 'ann' });
    await rec.observe({ item: '1' });
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(doc.task, 'recommend');
    assert.equal(doc.userKey, 'ann');
    // A tagger pointed at the same file with the same userKey is refused instead of overwriting it.
    await rejects(runtime.createImageTagger({ storage: { type: 'file', path: file }, userKey: 'ann' }), 'FailedPrecondition', /recommend/);
    // A crash between write and rename leaves a temporary file: forget() erases it too.
    fs.writeFileSync(`${file}.4242.1.abc.tmp`, '{"userKey":"ann"}');
    fs.writeFileSync(path.join(tmp, 'other.json.1.1.x.tmp'), 'not ours');
    await rec.forget();
    assert.deepEqual(fs.readdirSync(tmp).sort(), ['other.json.1.1.x.tmp']);
    await rec.dispose();
  });

  test('a failed save takes back only its own event', async () => {
    let saves = 0, stored = null;
    const flaky = {
      async load() { return null; },
      async save(s) {
        saves++;
        await new Promise((r) => setTimeout(r, 5));
        if (saves === 2) throw new Error('disk full');
        stored = structuredClone(s);
      },
      async clear() { stored = null; },
    };
    const rec = await runtime.createRecommender({ model: recommendModel, storage: flaky, maxEvents: 2 });
    const results = await Promise.allSettled([rec.observe({ item: '1' }), rec.observe({ item: '2' }), rec.observe({ item: '3' })]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual((await rec.exportState()).events.map((e) => e.item), ['1', '3']);
    assert.deepEqual(stored.events.map((e) => e.item), ['1', '3']);
    // A failure that had evicted the oldest event (maxEvents 2) puts it back.
    saves = 1;
    await assert.rejects(rec.observe({ item: '260' }), /disk full/);
    assert.deepEqual((await rec.exportState()).events.map((e) => e.item), ['1', '3']);
    await rec.dispose();
  });

  test("a full origin (QuotaExceededError) is ResourceExhausted and the event is taken back", async () => {
    let full = true, stored = null;
    const quota = {
      async load() { return null; },
      async save(s) {
        if (full) throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
        stored = structuredClone(s);
      },
      async clear() { stored = null; },
    };
    const rec = await runtime.createRecommender({ model: recommendModel, storage: quota });
    await rejects(rec.observe({ item: '1' }), 'ResourceExhausted', /storage for this site is full.*requestPersistentStorage/);
    assert.deepEqual((await rec.exportState()).events, []);
    full = false;
    await rec.observe({ item: '2' });
    assert.deepEqual(stored.events.map((e) => e.item), ['2']);
    await rec.dispose();
  });

  test('requestPersistentStorage() answers without throwing where navigator.storage is missing', async () => {
    const { requestPersistentStorage } = await import('../../web/src/index.js');
    assert.deepEqual(await requestPersistentStorage(), { persisted: false, reason: 'navigator.storage.persist() is not available here' });
  });

  test('downloads and files over maxBytes are refused before they are read whole', async () => {
    for (const declare of [true, false]) {
      const s = await serve(8 << 20, declare);
      try {
        await rejects(runtime.loadModel(s.url, { maxBytes: 1 << 20 }), 'ResourceExhausted', /maxBytes/);
      } finally {
        await s.close();
      }
    }
    await rejects(runtime.loadModel(recommendModel, { maxBytes: 1000 }), 'ResourceExhausted', /more than maxBytes = 1000/);
    await rejects(runtime.loadModel(new Uint8Array(2000), { maxBytes: 1000 }), 'ResourceExhausted', /maxBytes/);
    await rejects(runtime.loadModel(recommendModel, { maxBytes: -1 }), 'InvalidArgument', /maxBytes/);
    await rejects(runtime.createReviewAnalyzer({ model: reviewModel, maxModelBytes: 1000 }), 'ResourceExhausted', /maxBytes/);
  });

  test("loadModel checks a store's own model against its integrity", async () => {
    const bytes = fs.readFileSync(reviewModel);
    const integrity = `sha256-${crypto.createHash('sha256').update(bytes).digest('base64')}`;
    const model = await runtime.loadModel(reviewModel, { integrity });
    assert.ok(model.outputNames.length > 0);
    model.dispose();
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 1] ^= 1;
    await rejects(runtime.loadModel(damaged, { integrity }), 'DataLoss', /does not match its integrity/);
    await rejects(runtime.loadModel(bytes, { integrity: 'md5-abc' }), 'InvalidArgument', /integrity must be/);
    const rv = await runtime.createReviewAnalyzer({ model: reviewModel, integrity });
    await rv.dispose();
    await rejects(runtime.createReviewAnalyzer({ model: damaged, integrity }), 'DataLoss', /integrity/);
  });

  test("TF.js weight paths cannot leave the model's folder", async () => {
    const dir = path.join(tmp, 'model');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(tmp, 'secret.bin'), 'secret');
    const description = { input: { height: 8, width: 8, channels: 3 }, outputs: { logits: 'x' } };
    for (const p of ['../secret.bin', '/etc/passwd', 'https://example.invalid/w.bin', 'sub/../../secret.bin', 'file:///etc/passwd']) {
      const json = path.join(dir, 'model.json');
      fs.writeFileSync(json, JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: [p], weights: [] }] }));
      await rejects(runtime.createImageTagger({ model: { format: 'tfjs-layers', path: json }, description }), 'DataLoss',
                    /relative to the model's folder|leaves the model's folder/);
    }
  });
});
