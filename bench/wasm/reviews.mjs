// npm run bench -- reviews [--runs N]: review analysis throughput in wasm (the shipped model,
// the 1,000 Amazon Fine Food test reviews, average length as they come), each configuration in
// its own process: analyze() with aspects (sentiment + one pass per clause) and sentiment only,
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

if (flag('child')) {
  const { createRuntime } = await import('../../web/src/index.js');
  const threads = Number(arg('threads'));
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const rv = await runtime.createReviewAnalyzer({ model: modelPath });
  const list = texts();
  const records = [];
  for (const [what, opts] of [['analyze() with aspects', {}], ['analyze() sentiment only', { aspects: false }]]) {
    for (const t of list.slice(0, 200)) rv.analyze(t, opts);  // warm-up
    const times = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      for (const t of list) rv.analyze(t, opts);
      times.push(performance.now() - t0);
    }
    const s = times.sort((a, b) => a - b);
    records.push({ what, threads, reviews: list.length, median_ms: quantile(s, 0.5), p10_ms: quantile(s, 0.1), p90_ms: quantile(s, 0.9),
                   reviews_per_s: (1000 * list.length) / quantile(s, 0.5), runs });
  }
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
console.log('engine         variant        threads  what                                 reviews/s');
for (const r of records) console.log(`${r.engine.padEnd(14)} ${r.variant.padEnd(14)} ${String(r.threads).padStart(7)}  ${r.what.padEnd(36)} ${r.reviews_per_s.toFixed(0).padStart(9)}`);
console.log('wrote bench/results/reviews.json');
