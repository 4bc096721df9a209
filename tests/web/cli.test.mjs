// The `vitrine` command (cli/vitrine.mjs) from the package: a store's export with the usual flaws
// becomes a model, a catalogue, a card and a report; every refused row is listed with its line.
// The events are synthetic (clusters of items that users share) — this checks the mechanics; the
// quality figures of the README come from real data (npm run bench -- train-cli is not this).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'cli/vitrine.mjs');
const run = promisify(execFile);

function rand(seed) {
  let a = seed;
  return () => ((a = (Math.imul(a, 1664525) + 1013904223) >>> 0) / 4294967296);
}

// 240 users in 4 taste groups of 30 items each; each user views 12 items of their group.
function events() {
  const r = rand(7);
  const rows = ['customer_id,sku,kind,ts'];
  for (let u = 0; u < 240; u++) {
    const g = u % 4;
    for (let k = 0; k < 12; k++) {
      const item = `p-${g * 30 + Math.floor(r() * 30)}`;
      rows.push(`u${u},${item},${k % 5 === 0 ? 'purchase' : 'view'},${1700000000 + u * 100 + k}`);
    }
  }
  return rows;
}

test('train recommend: flawed rows are reported by line, the chosen model beats popularity, info reads it', { timeout: 180000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-cli-'));
  const rows = events();
  rows.splice(5, 0, ',p-1,view,1700000000');                       // line 6: no user
  rows.splice(9, 0, 'u1,p-2,teleport,1700000000');                 // line 10: unknown event
  rows.splice(12, 0, 'u1,p-3,view,yesterday');                     // line 13: bad time
  rows.splice(20, 0, 'u2,"p-4,view,1700000000');                   // line 21: unclosed quote (csv-parse)
  const file = path.join(dir, 'events.csv');
  fs.writeFileSync(file, '\ufeff' + rows.join('\r\n') + '\r\n');  // BOM + CRLF, as spreadsheets write
  fs.writeFileSync(path.join(dir, 'catalog.csv'), 'id,title,categories,in_stock\np-1,"Mug, large",kitchen|gifts,1\np-2,Plate,kitchen,0\n');
  const out = path.join(dir, 'out');
  const { stderr } = await run(process.execPath, [cli, 'train', 'recommend', '--events', file, '--catalog', path.join(dir, 'catalog.csv'),
    '--columns', 'user=customer_id,item=sku,event=kind,time=ts', '--out', out, '--max-minutes', '0.6', '--licence', 'CC0 (synthetic)'], { maxBuffer: 1 << 24 });
  assert.match(stderr, /chosen: vitrine-/);
  const refused = fs.readFileSync(path.join(out, 'refused-rows.csv'), 'utf8').trim().split('\n').slice(1);
  const lines = refused.map((l) => Number(l.split(',')[1]));
  assert.ok(lines.includes(6) && lines.includes(10) && lines.includes(13), refused.join('\n'));
  assert.ok(refused.some((l) => /^"events.csv",21,"malformed CSV/.test(l)), refused.join('\n'));
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.equal(report.data.summary.refused, refused.length);
  assert.equal(report.data.summary.kept + report.data.summary.refused + report.data.summary.belowMinWeight, report.data.summary.rows);
  const chosen = report.results.find((r) => r.chosen);
  const pop = report.results.find((r) => r.name === 'popularity');
  assert.ok(chosen.validation.ndcg100.mean > pop.validation.ndcg100.mean);
  assert.ok(chosen.bytes <= 2000000 && fs.statSync(path.join(out, 'model.safetensors')).size === chosen.bytes);
  const catalog = JSON.parse(fs.readFileSync(path.join(out, 'catalog.json'), 'utf8'));
  assert.deepEqual(catalog.find((p) => p.id === 'p-1'), { id: 'p-1', title: 'Mug, large', categories: ['kitchen', 'gifts'], inStock: true });
  assert.match(fs.readFileSync(path.join(out, 'MODEL_CARD.md'), 'utf8'), /licence: CC0 \(synthetic\)/);
  const { stdout } = await run(process.execPath, [cli, 'info', path.join(out, 'model.safetensors')]);
  const info = JSON.parse(stdout);
  assert.equal(info.kind, chosen.kind);
  assert.equal(info.items, catalog.length);
  assert.equal(info.metadata.data_licence, 'CC0 (synthetic)');
  // The model works in the facade, with the catalogue it came with.
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant: 'simd', threads: 1 });
  const rec = await runtime.createRecommender({ model: new Uint8Array(fs.readFileSync(path.join(out, 'model.safetensors'))), catalog });
  await rec.observe({ item: 'p-1' });
  await rec.observe({ item: 'p-5', type: 'purchase' });
  const top = await rec.recommend({ k: 5 });
  assert.equal(top.length, 5);
  await rec.dispose();
  runtime.dispose();
  // vitrine eval recommend: the same measures for the saved model on an events file.
  const ev = await run(process.execPath, [cli, 'eval', 'recommend', '--model', path.join(out, 'model.safetensors'), '--events', file,
    '--columns', 'user=customer_id,item=sku,event=kind,time=ts', '--threads', '1'], { maxBuffer: 1 << 24 });
  const e = JSON.parse(ev.stdout);
  assert.ok(e.users > 200, `${e.users} users`);
  assert.ok(e.metrics.ndcg100.mean > e.popularity.ndcg100.mean + 2 * e.overPopularity.se, JSON.stringify(e.metrics));
  assert.equal(e.refused.rows, report.data.summary.refused);
});

// An interrupted run (killed once a model is checkpointed) continues with --resume: the baselines
// and the checkpointed model are not trained again, and the run ends with a model and a report.
test('train recommend: --resume continues a killed run from its checkpoint', { timeout: 240000 }, async () => {
  const { spawn } = await import('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-resume-'));
  const file = path.join(dir, 'events.csv');
  fs.writeFileSync(file, events().join('\n') + '\n');
  const out = path.join(dir, 'out');
  const args = [cli, 'train', 'recommend', '--events', file, '--columns', 'user=customer_id,item=sku,event=kind,time=ts', '--out', out, '--max-minutes', '0.8', '--threads', '1'];
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  const state = path.join(out, 'checkpoint', 'state.json');
  const trainedIn = () => { try { return JSON.parse(fs.readFileSync(state, 'utf8')).trained.length; } catch { return 0; } };
  await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (trainedIn() >= 1) { clearInterval(timer); child.kill('SIGKILL'); resolve(); }
    }, 50);
    child.on('exit', () => { clearInterval(timer); reject(new Error('the run ended before a model was checkpointed')); });
  });
  const kept = JSON.parse(fs.readFileSync(state, 'utf8'));
  assert.ok(!fs.existsSync(path.join(out, 'report.json')));
  const { stderr } = await run(process.execPath, [...args, '--resume'], { maxBuffer: 1 << 24 });
  assert.match(stderr, new RegExp(`resumed from the checkpoint: ${kept.baselines.length} baselines and ${kept.trained.length} trained models kept`));
  assert.match(stderr, /probe kept from the checkpoint/);
  assert.doesNotMatch(stderr, /popularity \{\}: validation/);  // the baselines were not run again
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.ok(report.results.some((r) => r.name === `vitrine-${kept.trained[0].kind} (probe)` && r.validation.ndcg100.mean === kept.trained[0].validation.ndcg100.mean));
  assert.ok(report.seconds >= kept.spentSeconds);
  assert.ok(!fs.existsSync(path.join(out, 'checkpoint')), 'the checkpoint is removed once the run finishes');
});

test('train recommend: bad arguments and files end in one clear line', async () => {
  const fails = async (args, pattern) => {
    await assert.rejects(run(process.execPath, [cli, ...args]), (e) => { assert.match(e.stderr, pattern); return true; });
  };
  await fails(['train', 'recommend', '--out', '/tmp/x'], /needs --events/);
  await fails(['train', 'recommend', '--events', '/no/such.csv', '--out', '/tmp/x'], /no such file/);
  await fails(['train', 'recommend', '--events', cli, '--out', '/tmp/x', '--max-minutes', 'soon'], /--max-minutes must be a number/);
  await fails(['train', 'recommend', '--events', cli, '--out', '/tmp/x', '--columns', 'shopper=id'], /--columns/);
  await fails(['bake'], /unknown command/);
  await fails(['info', cli], /vitrine: /);
});

// compact and delta: what a store runs after training, with the package alone. The delta must be
// the native tool's byte for byte; the compact file must load in the facade and place new products.
test('compact and delta: a PQ file with a content map that addItems() uses, the native tool\'s delta', { timeout: 180000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-compact-'));
  const model = path.join(root, 'models/recommend/movielens.safetensors');
  const out = path.join(dir, 'pq.safetensors');
  await run(process.execPath, [cli, 'compact', model, '--out', out, '--rows', 'pq:16', '--fold', 'pq:16',
                               '--catalog', path.join(root, 'models/recommend/movielens-catalog.json'), '--buckets', '256']);
  assert.ok(fs.statSync(out).size < fs.statSync(model).size / 2);
  const { createRecommender } = await import('../../web/src/index.js');
  const rec = await createRecommender({ model: new Uint8Array(fs.readFileSync(out)), worker: false, storage: 'memory' });
  const info = await rec.info();
  assert.equal(info.precision, 'pq');
  assert.equal(info.contentMap, true);
  await rec.observe({ item: '1', type: 'view' });  // Toy Story
  await rec.addItems([{ id: 'new-1', title: 'Toy Story 5', categories: ['Animation', 'Children', 'Comedy'], year: 2026 }]);
  const ranked = await rec.rerank(['new-1', '2571'], { explain: false });
  assert.deepEqual(ranked.map((r) => r.id).sort(), ['2571', 'new-1']);
  assert.ok(ranked.every((r) => Number.isFinite(r.score)));
  await rec.dispose();

  const tool = path.join(root, 'build/native/engine/tools/vitrine-recommend');
  const { makeDeltaFiles } = await import('./delta-fixture.mjs');
  const f = makeDeltaFiles(tool, dir);
  const mine = path.join(dir, 'cli-delta.safetensors');
  await run(process.execPath, [cli, 'delta', '--from', f.from, '--to', f.to, '--out', mine]);
  assert.deepEqual(fs.readFileSync(mine), fs.readFileSync(f.delta));

  const fails = async (args, pattern) => {
    await assert.rejects(run(process.execPath, [cli, ...args]), (e) => { assert.match(e.stderr, pattern); return true; });
  };
  await fails(['compact', model, '--out', path.join(dir, 'x'), '--rows', 'pq:x'], /storage must be float, int8 or pq:M/);
  await fails(['compact', model], /needs --out/);
  await fails(['compact', cli, '--out', path.join(dir, 'x')], /vitrine: /);
  await fails(['delta', '--from', f.from, '--to', cli, '--out', path.join(dir, 'x')], /vitrine: /);
  await fails(['delta', '--from', f.from, '--out', path.join(dir, 'x')], /needs --to/);
  await fails(['delta', f.from, f.to], /vitrine: .*(argument|positional)/i);  // one line, not a stack trace
  await fails(['compact', model, '--out', path.join(dir, 'x'), '--lambda', '3'], /give --catalog/);
  const badYear = path.join(dir, 'bad-year.csv');
  fs.writeFileSync(badYear, 'id,title,year\n1,Toy Story,1995\n2,Jumanji,2023-01-15\n');
  const { readCatalog } = await import('../../cli/events.mjs');
  const refused = [];
  const read = await readCatalog(badYear, { onRefused: (r) => refused.push(r) });
  assert.deepEqual(read.items, [{ id: '1', title: 'Toy Story', year: 1995 }]);
  assert.match(refused[0].reason, /not a year/);
  assert.equal(fs.existsSync(path.join(dir, 'x')), false);  // nothing written on failure
});

// The events reader is a parser of untrusted files: random mutations of CSV and JSON Lines exports
// (bytes flipped, cut, duplicated, quotes and delimiters inserted) never throw, and every row is
// accounted for: rows = kept + refused + below the minimum weight.
test('readEvents survives 400 mutated exports and accounts for every row', async () => {
  const { readEvents } = await import('../../cli/events.mjs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-events-'));
  const csv = Buffer.from('\ufeffuser,item,event,time,weight\r\nu1,p1,view,2024-01-02T03:04:05Z,1\r\n"u,2",p2,cart,1700000000,\r\nu3,"p ""3""",purchase,,2\r\nu4,p4,rate,1700000001000,4.5\r\n');
  const jsonl = Buffer.from('\ufeff{"user":"u1","item":"p1"}\n{"user":2,"item":"p2","event":"cart","weight":3}\n[1,2]\n{"user":"u3"}\nnot json\n');
  const r = rand(99);
  const mutate = (b) => {
    const out = [...b];
    const n = 1 + Math.floor(r() * 6);
    for (let k = 0; k < n; k++) {
      const at = Math.floor(r() * (out.length + 1));
      const op = Math.floor(r() * 5);
      if (op === 0) out[at] = Math.floor(r() * 256);
      else if (op === 1) out.splice(at, Math.floor(r() * 8));
      else if (op === 2) out.splice(at, 0, ...out.slice(at, at + Math.floor(r() * 20)));
      else if (op === 3) out.splice(at, 0, 0x22);
      else out.splice(at, 0, [0x2c, 0x0a, 0x0d, 0x7b, 0x7d][Math.floor(r() * 5)]);
    }
    return Buffer.from(out.map((x) => x & 255));
  };
  for (let i = 0; i < 400; i++) {
    const json = i % 2 === 1;
    const file = path.join(dir, json ? 'e.jsonl' : 'e.csv');
    fs.writeFileSync(file, mutate(json ? jsonl : csv));
    const ev = await readEvents(file);
    const s = ev.summary;
    assert.equal(s.rows, s.kept + s.refused + s.belowMinWeight, `mutation ${i}`);
    assert.equal(ev.user.length, s.kept);
    assert.ok(ev.user.every((u) => u >= 0 && u < ev.users.ids.length));
    assert.ok(ev.weight.every((w) => Number.isFinite(w) && w > 0));
  }
  // The unmutated files: exactly what they say.
  fs.writeFileSync(path.join(dir, 'e.csv'), csv);
  const ev = await readEvents(path.join(dir, 'e.csv'));
  assert.deepEqual(ev.users.ids, ['u1', 'u,2', 'u3', 'u4']);
  assert.deepEqual(ev.items.ids, ['p1', 'p2', 'p "3"', 'p4']);
  assert.deepEqual(Array.from(ev.weight), [1, 2, 2, 4.5]);
  assert.deepEqual(Array.from(ev.time).map((t, i) => (i === 2 ? 'row' : t)), [Date.parse('2024-01-02T03:04:05Z'), 1700000000000, 'row', 1700000001000]);
  fs.writeFileSync(path.join(dir, 'e.jsonl'), jsonl);
  const refused = [];
  const j = await readEvents(path.join(dir, 'e.jsonl'), { onRefused: (x) => refused.push(x) });
  assert.equal(j.summary.kept, 2);
  assert.deepEqual(refused.map((x) => x.line), [3, 4, 5]);
});

// Real reviews (Debian's r-cran-modeldata, scripts/reviews/prepare-data.sh): a sample of the
// training file and of the test file through `vitrine train reviews`.
test('train reviews: CSV reviews become a model that beats the majority class, with a card and a report', { timeout: 300000 }, async () => {
  const { execFileSync } = await import('node:child_process');
  const dataDir = execFileSync('bash', [path.join(root, 'scripts/reviews/prepare-data.sh')], { encoding: 'utf8' }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-reviews-'));
  const { readReviews } = await import('../../cli/reviews.mjs');
  const sample = async (file, n) => (await readReviews(file)).rows.slice(0, n);
  const csvOf = (rows) => 'review,stars\n' + rows.map((r) => `"${r.text.replace(/"/g, '""')}",${r.label}`).join('\n') + '\n';
  const train = await sample(path.join(dataDir, 'train.csv'), 800);
  fs.writeFileSync(path.join(dir, 'train.csv'), csvOf(train) + '"",great\n"an unlabelled review",\n');  // two rows to refuse
  fs.writeFileSync(path.join(dir, 'test.csv'), csvOf(await sample(path.join(dataDir, 'test.csv'), 300)));
  const out = path.join(dir, 'out');
  await run(process.execPath, [cli, 'train', 'reviews', '--data', path.join(dir, 'train.csv'), '--test', path.join(dir, 'test.csv'),
    '--text-column', 'review', '--label-column', 'stars', '--labels', 'other,great', '--folds', '2', '--out', out,
    '--licence', 'Amazon Fine Food reviews (SNAP): no licence stated'], { maxBuffer: 1 << 24 });
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.deepEqual(report.labels, ['other', 'great']);
  assert.equal(report.data.summary.refused, 2);
  const refused = fs.readFileSync(path.join(out, 'refused-rows.csv'), 'utf8');
  assert.match(refused, /empty text/);
  assert.match(refused, /empty label/);
  const chosen = report.results.find((r) => r.chosen), majority = report.results.find((r) => r.name === 'majority class');
  assert.ok(chosen.test.macroF1 > majority.test.macroF1 + 0.1, JSON.stringify(report.results.map((r) => [r.name, r.test])));
  const { stdout } = await run(process.execPath, [cli, 'info', path.join(out, 'model.safetensors')]);
  assert.deepEqual(JSON.parse(stdout).labels, ['other', 'great']);
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant: 'simd', threads: 1 });
  const rv = await runtime.createReviewAnalyzer({ model: new Uint8Array(fs.readFileSync(path.join(out, 'model.safetensors'))) });
  const a = await rv.analyze('Absolutely delicious, the best tea I have ever had. Will buy again!');
  assert.ok(['other', 'great'].includes(a.label));
  assert.equal((await rv.info()).shippedModel, null);
  await rv.dispose();
  runtime.dispose();
  // vitrine eval reviews: the test file again, through the saved model: the report's figures.
  const ev = await run(process.execPath, [cli, 'eval', 'reviews', '--model', path.join(out, 'model.safetensors'), '--data', path.join(dir, 'test.csv'),
    '--text-column', 'review', '--label-column', 'stars', '--threads', '1'], { maxBuffer: 1 << 24 });
  const e = JSON.parse(ev.stdout);
  assert.equal(e.reviews, report.testReviews);
  assert.ok(Math.abs(e.metrics.accuracy - chosen.test.accuracy) < 1e-9, `${e.metrics.accuracy} vs ${chosen.test.accuracy}`);
  assert.equal(e.metrics.confusion.flat().reduce((a, b) => a + b, 0), e.reviews);
});

// Real product photos (Fashion-MNIST through scripts/tagger/photo-folder.mjs: PNG, JPEG and WebP
// files, one folder per tag) plus the flaws of a real folder: a damaged JPEG, an SVG, a hidden
// file, a loose file, the same photo in two tag folders. The head beats both baselines and works
// in the facade on the same backbone.
test('train tagger: a photo folder becomes a tag head with per-tag accuracy; eval and the facade agree', { timeout: 300000 }, async () => {
  const { execFileSync } = await import('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-tagger-'));
  const photos = path.join(dir, 'photos');
  execFileSync(process.execPath, [path.join(root, 'scripts/tagger/photo-folder.mjs'), '--out', photos, '--per-tag', '30', '--tags', '0,1,3,5,8'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(photos, 'bag', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));
  fs.writeFileSync(path.join(photos, 'bag', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
  fs.writeFileSync(path.join(photos, 'dress', '.DS_Store'), 'x');
  fs.writeFileSync(path.join(photos, 'notes.txt'), 'loose file');
  const twin = fs.readdirSync(path.join(photos, 'sandal'))[0];
  fs.copyFileSync(path.join(photos, 'sandal', twin), path.join(photos, 'trouser', `copy-${twin}`));
  const out = path.join(dir, 'out');
  const { stderr } = await run(process.execPath, [cli, 'train', 'tagger', '--images', photos, '--out', out, '--max-minutes', '2', '--threads', '1',
    '--licence', 'Fashion-MNIST (MIT)'], { maxBuffer: 1 << 24 });
  assert.match(stderr, /chosen: vitrine-head-/);
  const refused = fs.readFileSync(path.join(out, 'refused-rows.csv'), 'utf8');
  for (const r of [/broken\.jpg","not an image that can be decoded/, /logo\.svg","format 'svg' is not accepted/, /\.DS_Store","hidden file/,
    /"notes\.txt","a file directly in --images/, /copy-.*same bytes as sandal/]) assert.match(refused, r);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.deepEqual(report.tags, ['bag', 'dress', 'sandal', 't-shirt or top', 'trouser']);
  assert.equal(report.train + report.testPhotos, 150);
  const chosen = report.results.find((r) => r.chosen);
  const majority = report.results.find((r) => r.name.startsWith('majority'));
  assert.ok(chosen.test.accuracy > majority.test.accuracy + 0.4, JSON.stringify(report.results.map((r) => [r.name, r.test.accuracy])));
  assert.equal(chosen.test.perTag.length, 5);
  assert.equal(chosen.test.confusion.flat().reduce((a, b) => a + b, 0), report.testPhotos - 1);  // the twin has two tags
  assert.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /\| tag \| test photos \| accuracy \| confused most with \|/);
  const { stdout } = await run(process.execPath, [cli, 'info', path.join(out, 'tag-head.safetensors')]);
  assert.deepEqual(JSON.parse(stdout).tags, report.tags);
  // eval tagger on the whole folder: every decodable photo is measured.
  const ev = JSON.parse((await run(process.execPath, [cli, 'eval', 'tagger', '--head', path.join(out, 'tag-head.safetensors'), '--images', photos, '--threads', '1'],
    { maxBuffer: 1 << 24 })).stdout);
  assert.equal(ev.metrics.photos, 150);
  assert.ok(ev.metrics.accuracy > 0.8, `${ev.metrics.accuracy}`);
  // The head in the facade: the same backbone, importHead(), the photo decoded as the CLI decodes it.
  const { decodeImage } = await import('../../cli/images.mjs');
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant: 'simd', threads: 1 });
  const tagger = await runtime.createImageTagger();
  await tagger.importHead(new Uint8Array(fs.readFileSync(path.join(out, 'tag-head.safetensors'))));
  const file = path.join(photos, 'trouser', fs.readdirSync(path.join(photos, 'trouser')).find((f) => !f.startsWith('copy')));
  const tags = await tagger.tag(await decodeImage(file), { topK: 1 });
  const custom = tags.find((t) => t.type === 'custom');
  assert.ok(custom && report.tags.includes(custom.label), JSON.stringify(tags));
  await tagger.dispose();
  runtime.dispose();
});

// The EASE baseline's inverse (Cholesky, lower triangle read): A · A⁻¹ = I on random SPD matrices,
// and a matrix that is not positive definite is refused.
test('invertSpd inverts SPD matrices and refuses others', async () => {
  const { invertSpd } = await import('../../cli/baselines.mjs');
  const r = rand(5);
  for (const n of [1, 2, 3, 17, 64]) {
    const x = Array.from({ length: n * 4 }, () => r() - 0.5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = i === j ? 0.1 : 0;
      for (let k = 0; k < 4; k++) s += x[i * 4 + k] * x[j * 4 + k];
      a[i * n + j] = s;
    }
    const p = invertSpd(Float64Array.from(a), n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * p[k * n + j];
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8, `n=${n} (${i},${j}): ${s}`);
    }
  }
  assert.throws(() => invertSpd(Float64Array.from([1, 2, 2, 1]), 2), /not positive definite/);
});

// The photo decoder (cli/images.mjs: sharp with our limits) on the hostile corpus
// (tests/fixtures/hostile-photos: a 60000² pixel bomb, cut and corrupt files, a lying RIFF size,
// an SVG pointing at a local file) and on 300 mutations of real PNG, JPEG and WebP photos: each
// file either decodes to RGBA of the size it reports or is refused with an Error — no crash, no
// hang, no giant allocation. The tag CSV reader survives mutated CSVs the same way.
test('decodeImage and listImages on hostile and mutated files', { timeout: 180000 }, async () => {
  const { execFileSync } = await import('node:child_process');
  const { decodeImage, listImages } = await import('../../cli/images.mjs');
  const hostile = path.join(root, 'tests/fixtures/hostile-photos');
  const refusedAs = {
    'empty.webp': /empty file/, 'jpeg_header_only.jpg': /not an image/, 'png_60000x60000_bomb.png': /exceeds pixel limit/,
    'png_bad_crc.png': /damaged/, 'png_truncated.png': /not an image/, 'svg_external_href.svg': /format 'svg' is not accepted/,
    'webp_riff_lies.webp': /not an image/,
  };
  for (const [f, why] of Object.entries(refusedAs)) await assert.rejects(decodeImage(path.join(hostile, f)), why, f);
  const valid = (img) => img.width >= 1 && img.height >= 1 && img.data.length === img.width * img.height * 4 && img.format === 'rgba';
  const gif = await decodeImage(path.join(hostile, 'gif_zero_size.gif')).catch((e) => e);
  assert.ok(gif instanceof Error || valid(gif));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-photos-'));
  execFileSync(process.execPath, [path.join(root, 'scripts/tagger/photo-folder.mjs'), '--out', dir, '--per-tag', '3', '--tags', '8'], { encoding: 'utf8' });
  const seeds = fs.readdirSync(path.join(dir, 'bag')).map((f) => fs.readFileSync(path.join(dir, 'bag', f)));
  const r = rand(31);
  let decoded = 0, refused = 0;
  for (let i = 0; i < 300; i++) {
    const b = [...seeds[i % seeds.length]];
    for (let k = 0, n = 1 + Math.floor(r() * 4); k < n; k++) {
      const at = Math.floor(r() * b.length);
      const op = Math.floor(r() * 3);
      if (op === 0) b[at] = Math.floor(r() * 256);
      else if (op === 1) b.splice(at, Math.floor(r() * 64));
      else b.splice(at, 0, ...b.slice(at, at + Math.floor(r() * 32)));
    }
    const file = path.join(dir, `m${i % 7}`);
    fs.writeFileSync(file, Buffer.from(b));
    try {
      const img = await decodeImage(file);
      assert.ok(valid(img), `mutation ${i}: ${img.width}x${img.height}, ${img.data.length} bytes`);
      assert.ok(img.width * img.height <= 1 << 25);
      decoded++;
    } catch (e) {
      assert.ok(e instanceof Error && e.message.length > 0 && !(e instanceof assert.AssertionError), `mutation ${i}: ${e}`);
      refused++;
    }
  }
  assert.ok(decoded > 0 && refused > 0, `${decoded} decoded, ${refused} refused`);

  const csv = Buffer.from('path,tags\nbag/' + fs.readdirSync(path.join(dir, 'bag'))[0] + ',bag,"hand bag"\n"bag/x.png",bag\n,bag\nbag/m0\n');
  for (let i = 0; i < 200; i++) {
    const b = [...csv];
    for (let k = 0, n = 1 + Math.floor(r() * 5); k < n; k++) {
      const at = Math.floor(r() * (b.length + 1));
      const op = Math.floor(r() * 3);
      if (op === 0) b[at] = Math.floor(r() * 256);
      else if (op === 1) b.splice(at, Math.floor(r() * 6));
      else b.splice(at, 0, [0x22, 0x2c, 0x0a, 0x00, 0x2e, 0x2f][Math.floor(r() * 6)]);
    }
    const file = path.join(dir, 'tags.csv');
    fs.writeFileSync(file, Buffer.from(b.map((x) => x & 255)));
    const why = [];
    const list = await listImages({ csv: file }, { onRefused: (x) => why.push(x) });
    for (const x of list) {
      assert.ok(x.tags.length >= 1 && x.tags.every((t) => t.length > 0 && !/[\u0000-\u001f]/.test(t)), `mutation ${i}: ${JSON.stringify(x.tags)}`);
      assert.ok(fs.statSync(x.file).isFile());
    }
    assert.ok(why.every((w) => typeof w.reason === 'string' && w.where));
  }
});
