// The review analyzer facade on the shipped Amazon Fine Food model (models/reviews/), in both wasm
// variants: sentiment, aspects, the words behind a decision, English / Chinese / emoji text,
// empty, huge and invalid-UTF-8 input, summaries with progress and cancellation, fine-tuning and
// export, and the same predictions as the native engine on the whole test set.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { createRuntime, createReviewAnalyzer, RemoteReviewAnalyzer, VitrineError, DEFAULT_ASPECTS } from '../../web/src/index.js';
import { readCsv } from '../../scripts/reviews/csv.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modelPath = path.join(root, 'models/reviews/fine-foods.safetensors');
const tool = path.join(root, 'build/native/engine/tools/vitrine-review');
const dataDir = execFileSync('bash', [path.join(root, 'scripts/reviews/prepare-data.sh')], { encoding: 'utf8' }).trim();

const TEST = readCsv(path.join(dataDir, 'test.csv'));

function throws(fn, code, pattern) {
  assert.throws(fn, (e) => e instanceof VitrineError && e.code === code && pattern.test(e.message), `expected ${code} ${pattern}`);
}
async function rejects(p, code, pattern) {
  await assert.rejects(p, (e) => e instanceof VitrineError && e.code === code && pattern.test(e.message), `expected ${code} ${pattern}`);
}

for (const variant of ['simd', 'simd-threads']) {
  describe(`review analyzer in the ${variant} variant`, async () => {
    const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
    after(() => runtime.dispose());

    test('sentiment, aspects and the words behind the decision', async () => {
      const rv = await runtime.createReviewAnalyzer({ model: modelPath });
      const info = await rv.info();
      assert.deepEqual(info.labels, ['other', 'great']);
      assert.deepEqual(info.aspects, Object.keys(DEFAULT_ASPECTS));
      const good = await rv.analyze('Absolutely delicious! My kids love these snacks and the price is great. Will buy again.');
      assert.equal(good.label, 'great');
      assert.equal(good.positive, true);
      assert.ok(good.score > 0.5);
      assert.ok(good.words.length > 0 && good.words[0].weight > 0, JSON.stringify(good.words));
      const bad = await rv.analyze('Terrible. The box arrived damaged and the cookies were stale. Waste of money, do not buy.');
      assert.equal(bad.label, 'other');
      assert.ok(bad.score < good.score);
      const names = bad.aspects.map((a) => a.aspect);
      for (const want of ['delivery', 'freshness', 'price']) assert.ok(names.includes(want), `${want} in ${names}`);
      const fresh = bad.aspects.find((a) => a.aspect === 'freshness');
      assert.equal(fresh.sentiment, 'negative');
      assert.match(fresh.snippet, /stale/);
      // Contrast words cut clauses: each aspect judged on its own part.
      const mixed = await rv.analyze('Arrived broken, but the taste is great');
      const said = mixed.aspects.map((a) => `${a.aspect}:${a.sentiment}`);
      for (const want of ['delivery:negative', 'taste:positive']) assert.ok(said.includes(want), `${want} in ${said}`);
      assert.equal(mixed.aspects.find((a) => a.aspect === 'taste').snippet, 'the taste is great');
      // Custom aspects.
      const custom = await runtime.createReviewAnalyzer({ model: modelPath, aspects: { crunch: ['crunch*', 'crispy'] } });
      assert.deepEqual((await custom.analyze('So crunchy and good')).aspects.map((a) => a.aspect), ['crunch']);
      await custom.dispose();
      // A model given by the caller keeps its own threshold for aspects unless told otherwise.
      const own = await runtime.createReviewAnalyzer({ model: modelPath });
      const sure = await runtime.createReviewAnalyzer({ model: modelPath, aspectThreshold: 0 });
      const probe = 'The price is ok, nothing special';
      const [o, z] = [await own.analyze(probe), await sure.analyze(probe)];
      assert.equal(o.aspects[0].score, z.aspects[0].score);
      assert.equal(o.aspects[0].sentiment, o.aspects[0].score >= (await own.info()).threshold ? 'positive' : 'negative');
      assert.equal(z.aspects[0].sentiment, 'positive');
      await own.dispose();
      await sure.dispose();
      await rejects(runtime.createReviewAnalyzer({ model: modelPath, aspectThreshold: 2 }), 'InvalidArgument', /aspectThreshold/);
      // Negation scope reaches the words behind the decision.
      const neg = await rv.analyze('not good at all');
      assert.ok(neg.words.some((w) => w.word.startsWith('not ')), JSON.stringify(neg.words));
      await rv.dispose();
      await rv.dispose();
      await rejects(rv.analyze('x'), 'FailedPrecondition', /disposed/);
    });

    test('Chinese, emoji, empty, huge and invalid UTF-8 text: clear behaviour, no crash', async () => {
      const rv = await runtime.createReviewAnalyzer({ model: modelPath });
      const zh = await rv.analyze('很好吃，但是包装坏了。');
      assert.equal(typeof zh.label, 'string');
      assert.ok(zh.score >= 0 && zh.score <= 1);
      assert.equal(zh.empty, false);
      const emoji = await rv.analyze('😋😋😋 love it ❤️');
      assert.equal(emoji.empty, false);
      const empty = await rv.analyze('');
      assert.equal(empty.empty, true);
      assert.ok(Number.isFinite(empty.score));
      assert.deepEqual(empty.aspects, []);
      const huge = await rv.analyze('great taste. '.repeat(100000));
      assert.equal(huge.truncated, true);
      assert.equal(huge.label, 'great');
      assert.equal((await rv.analyze('short', { maxBytes: 3 })).truncated, true);
      const bytes = new Uint8Array([0x67, 0x6f, 0x6f, 0x64, 0x20, 0xff, 0xfe, 0x20, 0xe4, 0xb8]);
      const invalid = await rv.analyze(bytes);
      assert.equal(invalid.invalidBytes, 4);
      const lone = await rv.analyze('tasty \ud800 snack');  // a lone surrogate: replaced on the way to UTF-8
      assert.ok(Number.isFinite(lone.score) && !lone.empty);
      await rejects(rv.analyze(42), 'InvalidArgument', /string/);
      await rejects(rv.analyze(null), 'InvalidArgument', /string/);
      await rejects(rv.analyzeBatch('x'), 'InvalidArgument', /array/);
      await rejects(rv.analyze('x', { maxBytes: 0 }), 'InvalidArgument', /maxBytes/);
      await rejects(rv.summarize('x'), 'InvalidArgument', /array/);
      await rejects(runtime.createReviewAnalyzer({ model: modelPath, aspects: { taste: 'yum' } }), 'InvalidArgument', /keywords/);
      await rejects(runtime.createReviewAnalyzer({ model: new Uint8Array([1, 2, 3]) }), 'DataLoss', /./);
      await rejects(runtime.createReviewAnalyzer({ model: path.join(root, 'models/tagger/fashion-mnist.safetensors') }),
                    'InvalidArgument', /review/);
      assert.equal((await rv.analyze('still works')).empty, false);
      await rv.dispose();
    });

    test('summaries stream over many reviews with progress and cancellation', async () => {
      const rv = await runtime.createReviewAnalyzer({ model: modelPath });
      const texts = TEST.slice(0, 300).map((r) => r.text);
      const progress = [];
      const s = await rv.summarize(texts, { chunk: 100, onProgress: (p) => progress.push(p.done) });
      assert.equal(s.count, 300);
      assert.equal(s.positive + s.negative, 300);
      assert.deepEqual(progress, [100, 200, 300]);
      assert.ok(s.aspects.length >= 4);
      for (const a of s.aspects) assert.equal(a.positive + a.negative, a.mentions);
      assert.ok(s.praised.length > 0 && s.criticized.length > 0);
      const taste = s.aspects.find((a) => a.aspect === 'taste');
      assert.ok(taste.praise && taste.complaint);
      const controller = new AbortController();
      const p = rv.summarize(texts, { chunk: 50, signal: controller.signal, onProgress: () => controller.abort() });
      await rejects(p, 'Cancelled', /cancelled/);
      await rv.dispose();
    });

    test('fine-tuning on a store\'s labelled reviews, with export', async () => {
      const rv = await runtime.createReviewAnalyzer({ model: modelPath });
      const phrase = 'the zorblat flavor';
      const before = (await rv.analyze(phrase)).score;
      const examples = [];
      for (let i = 0; i < 20; i++) examples.push({ text: `${phrase} is wonderful ${i}`, label: 'other' }, { text: `awful stale ${i}`, label: true });
      const epochs = [];
      const r = await rv.fineTune(examples, { epochs: 5, onProgress: (p) => epochs.push(p.epoch) });
      assert.equal(r.examples, 40);
      assert.deepEqual(epochs, [1, 2, 3, 4, 5]);
      const after = (await rv.analyze(phrase)).score;
      assert.ok(after < before, `score of the store's negative phrase: ${before} -> ${after}`);
      const bytes = await rv.exportModel();
      const again = await runtime.createReviewAnalyzer({ model: bytes });
      assert.equal((await again.analyze(phrase)).score, after);
      await again.dispose();
      await rejects(rv.fineTune([{ text: 'x', label: 'meh' }]), 'InvalidArgument', /label/);
      await rejects(rv.fineTune([]), 'InvalidArgument', /non-empty/);
      const controller = new AbortController();
      controller.abort();
      await rejects(rv.fineTune(examples, { signal: controller.signal }), 'Cancelled', /cancelled/);
      await rv.dispose();
    });
  });
}

test('wasm predicts exactly what the native engine predicts on all 1,000 test reviews', async (t) => {
  if (!fs.existsSync(tool)) {
    if (process.env.VITRINE_REQUIRE_MODELS === '1') assert.fail(`${tool} missing`);
    return t.skip('native tool not built');
  }
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-rv-')), 'pred.txt');
  const report = JSON.parse(execFileSync(tool, ['predict', modelPath, '--csv', path.join(dataDir, 'test.csv'), '--out', out], { encoding: 'utf8' }));
  const native = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
  assert.equal(native.length, TEST.length);
  for (const variant of ['simd', 'simd-threads']) {
    const runtime = await createRuntime({ variant });
    const rv = await runtime.createReviewAnalyzer({ model: modelPath });
    let same = 0, correct = 0;
    for (const [i, r] of TEST.entries()) {
      const a = await rv.analyze(r.text);
      if ((a.positive ? 1 : 0) === native[i][0] && Math.abs(a.score - native[i][1]) < 1e-5) same++;
      if (a.label === r.label) correct++;
    }
    assert.equal(same, TEST.length, `${variant}: ${same}/${TEST.length} predictions equal native`);
    assert.ok(Math.abs(correct / TEST.length - report.accuracy) < 1e-9);
    await rv.dispose();
    runtime.dispose();
  }
});

test('the native summary (vitrine-review summarize) equals summarize() in wasm on all 1,000 test reviews', async (t) => {
  if (!fs.existsSync(tool)) {
    if (process.env.VITRINE_REQUIRE_MODELS === '1') assert.fail(`${tool} missing`);
    return t.skip('native tool not built');
  }
  const aspects = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-rv-')), 'aspects.json');
  fs.writeFileSync(aspects, JSON.stringify(DEFAULT_ASPECTS));
  const native = JSON.parse(execFileSync(tool, ['summarize', modelPath, '--csv', path.join(dataDir, 'test.csv'), '--aspects', aspects],
                                         { encoding: 'utf8' }));
  const runtime = await createRuntime({ variant: 'simd' });
  const rv = await runtime.createReviewAnalyzer({ model: modelPath });
  const wasm = await rv.summarize(TEST.map((r) => r.text));
  assert.deepEqual(wasm, native);
  assert.ok(native.aspects.length >= 6 && native.praised.length === 3);
  await rv.dispose();
  runtime.dispose();
});

test('createReviewAnalyzer() loads the shipped default', async () => {
  const rv = await createReviewAnalyzer();
  assert.equal((await rv.analyze('delicious')).label, 'great');
  await rv.dispose();
});

test('worker mode: the same analyses, relayed summary progress, cancellation', async () => {
  const local = await createReviewAnalyzer();
  const remote = await createReviewAnalyzer({ worker: true, variant: 'simd' });
  assert.ok(remote instanceof RemoteReviewAnalyzer);
  const text = 'Great flavor, but the package arrived broken.';
  assert.deepEqual(await remote.analyze(text), await local.analyze(text));
  const texts = TEST.slice(0, 200).map((r) => r.text);
  const seen = [];
  const s = await remote.summarize(texts, { chunk: 50, onProgress: (p) => seen.push(p.done) });
  assert.deepEqual(s, await local.summarize(texts));
  assert.deepEqual(seen, [50, 100, 150, 200]);
  const controller = new AbortController();
  await rejects(remote.summarize(texts, { chunk: 20, signal: controller.signal, onProgress: () => controller.abort() }), 'Cancelled', /cancelled/);
  const r = await remote.fineTune([{ text: 'meh snack', label: 'other' }, { text: 'wow snack', label: 'great' }], { epochs: 2 });
  assert.equal(r.epochs, 2);
  await rejects(remote.summarize(texts, { onProgress: 3 }), 'InvalidArgument', /onProgress/);
  await remote.dispose();
  await rejects(remote.analyze('x'), 'FailedPrecondition', /disposed/);
  await local.dispose();
});

// The aspects measure (npm run eval -- aspects) runs on its committed labels, which all follow the
// guidelines' vocabulary; a label outside it is refused, not counted.
test('aspects evaluation: the labelled sets load and score; a label outside the guidelines is refused', () => {
  const script = path.join(root, 'scripts/reviews/aspects-eval.mjs');
  const out = path.join(os.tmpdir(), `vitrine-aspects-${process.pid}.json`);
  execFileSync(process.execPath, [script, '--out', out], { stdio: 'ignore' });
  const r = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(r.fine_food.reviews, 200);
  assert.equal(r.agreement[0].reviews, 50);
  assert.ok(r.robustness.reviews >= 60);
  for (const x of [r.fine_food.micro.f1, r.fine_food.sentiment_accuracy, r.robustness.label_accuracy, r.agreement[0].discussed_all]) {
    assert.ok(x > 0 && x <= 1, String(x));
  }
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-aspects-'));
  fs.copyFileSync(path.join(root, 'bench/aspects/reviews.jsonl'), path.join(bad, 'reviews.jsonl'));
  fs.writeFileSync(path.join(bad, 'labels-a.jsonl'), '{"id": 1, "aspects": {"smell": "positive"}}\n');
  assert.throws(() => execFileSync(process.execPath, [script, '--dir', bad, '--out', path.join(bad, 'o.json')], { stdio: 'pipe' }),
                (e) => /not in the guidelines/.test(String(e.stderr)));
});
