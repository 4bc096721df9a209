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
});
