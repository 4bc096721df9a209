// npm run bench -- reviews [--runs N]: review analysis throughput in wasm (the shipped model,
// the 1,000 Amazon Fine Food test reviews, average length as they come), each configuration in
// its own process: analyze() with aspects (sentiment + one pass per clause) and sentiment only, and
// 20 KB reviews (time per byte against the test reviews' own: the linear-time check),
// simd on 1 thread and simd-threads on 2. The native engine (vitrine-review predict) for
// reference. Writes bench/results/reviews.json and prints a table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import { arg, flag, quantile, root } from '../common.mjs';
import { readCsv } from '../../scripts/reviews/csv.mjs';

const modelPath = path.join(root, 'models/reviews/fine-foods.safetensors');
const runs = Number(arg('runs', 7));
const dataDir = execFileSync('bash', [path.join(root, 'scripts/reviews/prepare-data.sh')], { encoding: 'utf8' }).trim();

const texts = () => readCsv(path.join(dataDir, 'test.csv')).map((r) => r.text);

// 20 KB reviews (at most 20,000 bytes, the facade's default maxBytes): real text, and shapes that
// hit a quadratic pass if there is one (one long word for BPE, unclosed tags, thousands of clauses).
function longReviews(list) {
  const fill = (unit) => unit.repeat(Math.floor(20000 / Buffer.byteLength(unit)));
  let real = '';
  for (const t of list) {
    if (Buffer.byteLength(real + t) + 1 > 20000) break;
    real += t + ' ';
  }
  let word = '';
  for (let i = 0; word.length < 20000; i++) word += 'abcdefghijklmnopqrstuvwxyz'[(i * 7 + (i >> 3)) % 26];
  return { 'real reviews run together': real, 'one 20 KB word': word, 'unclosed tags': fill('<a'),
           '10,000 one-word clauses': fill('ok.'), '20,000 empty clauses': fill('.') };
}

if (flag('child')) {
  const { createRuntime } = await import('../../web/src/index.js');
  const threads = Number(arg('threads'));
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const rv = await runtime.createReviewAnalyzer({ model: modelPath });
  const list = texts();
  const records = [];
  for (const [what, opts] of [['analyze() with aspects', {}], ['analyze() sentiment only', { aspects: false }]]) {
    for (const t of list.slice(0, 200)) await rv.analyze(t, opts);  // warm-up
    const times = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      for (const t of list) await rv.analyze(t, opts);
      times.push(performance.now() - t0);
    }
    const s = times.sort((a, b) => a - b);
    records.push({ what, threads, reviews: list.length, median_ms: quantile(s, 0.5), p10_ms: quantile(s, 0.1), p90_ms: quantile(s, 0.9),
                   reviews_per_s: (1000 * list.length) / quantile(s, 0.5), runs });
  }
  // Long reviews: time per byte of 20 KB texts (real reviews run together, and shapes built to hit
  // quadratic passes) against the test reviews' own rate, analyze() with aspects.
  const corpusBytes = list.reduce((a, t) => a + Buffer.byteLength(t), 0);
  const perByte = (records[0].median_ms * 1000) / corpusBytes;
  for (const [name, text] of Object.entries(longReviews(list))) {
    const bytes = Buffer.byteLength(text);
    for (let i = 0; i < 3; i++) await rv.analyze(text);
    const times = [];
    for (let r = 0; r < runs * 3; r++) {
      const t0 = performance.now();
      await rv.analyze(text);
      times.push(performance.now() - t0);
    }
    const s = times.sort((a, b) => a - b);
    const us = (quantile(s, 0.5) * 1000) / bytes;
    records.push({ what: `20 KB review: ${name}`, threads, reviews: 1, bytes, median_ms: quantile(s, 0.5), p10_ms: quantile(s, 0.1),
                   p90_ms: quantile(s, 0.9), reviews_per_s: 1000 / quantile(s, 0.5), us_per_byte: us,
                   ratio_to_test_reviews: us / perByte, runs: runs * 3 });
  }
  records[0].us_per_byte = perByte;
  await rv.dispose();
  runtime.dispose();
  fs.writeFileSync(arg('out'), JSON.stringify(records));
  process.exit(0);
}

const list = texts();
const meanChars = list.reduce((a, t) => a + t.length, 0) / list.length;
const records = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-reviews-'));
for (const threads of [1, 2]) {
  const out = path.join(tmp, `${threads}.json`);
  console.error(`[reviews] wasm, ${threads} thread(s) ...`);
  execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', '--threads', String(threads), '--out', out, '--runs', String(runs)],
               { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const r of JSON.parse(fs.readFileSync(out, 'utf8'))) records.push({ engine: 'vitrine-wasm', variant: threads > 1 ? 'simd-threads' : 'simd', ...r });
}
const native = JSON.parse(execFileSync(path.join(root, 'build/native/engine/tools/vitrine-review'),
                                       ['predict', modelPath, '--csv', path.join(dataDir, 'test.csv'), '--threads', '1'], { encoding: 'utf8' }));
records.push({ engine: 'native', variant: 'x86-64', what: 'predict (sentiment only), one run', threads: 1, reviews: native.reviews,
               reviews_per_s: native.reviews_per_s });
const cpus = os.cpus();
const result = { benchmark: 'reviews', command: 'npm run bench -- reviews', date: new Date().toISOString(),
                 machine: { cpus: cpus.length, cpu: cpus[0]?.model, node: process.version },
                 model: { file: 'models/reviews/fine-foods.safetensors', bytes: fs.statSync(modelPath).size },
                 data: { reviews: list.length, mean_chars: meanChars }, records };
fs.writeFileSync(path.join(root, 'bench/results/reviews.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`Review analysis, ${list.length} test reviews (mean ${meanChars.toFixed(0)} characters), medians of ${runs} passes`);
console.log('engine         variant        threads  what                                          reviews/s  µs/byte  ratio');
for (const r of records) {
  console.log(`${r.engine.padEnd(14)} ${r.variant.padEnd(14)} ${String(r.threads).padStart(7)}  ${r.what.padEnd(45)} ` +
              `${r.reviews_per_s.toFixed(0).padStart(9)}  ${r.us_per_byte?.toFixed(3).padStart(7) ?? '       '}  ${r.ratio_to_test_reviews?.toFixed(2) ?? ''}`);
}
console.log('wrote bench/results/reviews.json');
