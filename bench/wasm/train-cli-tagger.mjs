#!/usr/bin/env node
// npm run bench -- train-cli-tagger [--per-tag 100]
// `vitrine train tagger` as a store runs it, on a photo folder nobody here prepared for it: real
// product photos (Fashion-MNIST t10k through scripts/tagger/photo-folder.mjs: the first N of each of
// the 10 tags, PNG / JPEG / WebP, enlarged 4x, dark on light), with two backbones:
//   default    the shipped tagger (trained on Fashion-MNIST's *training* set: the same kind of
//              photos, so this is the easy case)
//   mobilenet  MobileNetV2 from npm nsfwjs (scripts/tagger/prepare-nsfwjs.sh; ImageNet-style
//              features trained for another task: transfer to the store's tags)
// Each run: wall clock, peak memory (max RSS of the CLI's process), the report's test accuracy of
// the chosen head next to the majority tag and nearest centroid. Writes
// bench/results/train-cli-tagger.json and prints a table.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { arg, root } from '../common.mjs';

const perTag = Number(arg('per-tag', 100));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-tagger-cli-'));
const photos = path.join(tmp, 'photos');
execFileSync(process.execPath, [path.join(root, 'scripts/tagger/photo-folder.mjs'), '--out', photos, '--per-tag', String(perTag)], { stdio: 'inherit' });
const nsfw = execFileSync('bash', [path.join(root, 'scripts/tagger/prepare-nsfwjs.sh')], { encoding: 'utf8' }).trim();
const description = path.join(tmp, 'mobilenet.json');
fs.writeFileSync(description, JSON.stringify({
  input: { height: 224, width: 224, channels: 3, mean: [0, 0, 0], std: [1, 1, 1], background: 'light' }, outputs: { embedding: 'flatten_1' },
}));
const runs = {
  default: [],
  mobilenet: ['--backbone', path.join(nsfw, 'model.json'), '--backbone-description', description, '--output-layer', 'flatten_1'],
};
const records = [];
for (const [name, extra] of Object.entries(runs)) {
  const out = path.join(tmp, name);
  const args = [path.join(root, 'cli/vitrine.mjs'), 'train', 'tagger', '--images', photos, '--out', out, '--max-minutes', '15', '--licence', 'Fashion-MNIST (MIT)', ...extra];
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr.slice(-2000)}`);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  const chosen = report.results.find((x) => x.chosen);
  const pick = (prefix) => report.results.find((x) => x.name.startsWith(prefix)).test;
  records.push({
    backbone: name, command: `vitrine train tagger --images photos --out out --max-minutes 15 ${extra.length ? '--backbone model.json --backbone-description mobilenet.json --output-layer flatten_1' : ''}`.trim(),
    seconds, max_rss_mb: Number(/maxrss_kb=(\d+)/.exec(r.stderr)[1]) / 1024, photos: report.data.photos, train: report.train, test: report.testPhotos,
    embedding_dim: report.backbone.embeddingDim, chosen: chosen.name, head_bytes: chosen.bytes,
    accuracy: chosen.test.accuracy, accuracy_se: chosen.test.accuracySe, cv_accuracy: chosen.cv.accuracy,
    majority: pick('majority').accuracy, centroid: pick('nearest centroid').accuracy,
    heads: report.results.filter((x) => x.cv).map((x) => ({ name: x.name, cv: x.cv.accuracy, test: x.test.accuracy })),
    per_tag: chosen.test.perTag.map((p) => ({ tag: p.tag, photos: p.photos, accuracy: p.accuracy })),
  });
}
fs.rmSync(tmp, { recursive: true, force: true });
const result = {
  benchmark: 'train-cli-tagger', command: `npm run bench -- train-cli-tagger --per-tag ${perTag}`, date: new Date().toISOString(),
  data: `Fashion-MNIST t10k (dataset-fashion-mnist), first ${perTag} photos of each of 10 tags as PNG/JPEG/WebP files; a seeded 20% of each tag held out`,
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, records,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/train-cli-tagger.json'), JSON.stringify(result, null, 2) + '\n');
const pct = (x) => `${(100 * x).toFixed(1)}%`;
console.log('| backbone | photos (train / test) | chosen head | test accuracy | nearest centroid | majority | wall clock | peak memory |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of records) {
  console.log(`| ${r.backbone} (${r.embedding_dim}-d) | ${r.train} / ${r.test} | ${r.chosen.replace('vitrine-head-', '')} (${r.head_bytes} B) | ${pct(r.accuracy)} ± ${pct(r.accuracy_se)} | ` +
    `${pct(r.centroid)} | ${pct(r.majority)} | ${r.seconds.toFixed(0)} s | ${r.max_rss_mb.toFixed(0)} MB |`);
}
