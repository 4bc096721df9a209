// `vitrine train reviews`: a store's labelled reviews in, a review model out. The choice is made on
// the training reviews only (k-fold cross-validation over a few model settings, and for two labels
// the decision threshold with the best out-of-fold macro-F1); the test reviews (--test, or a
// seeded, stratified 20% of --data) are scored once, next to the majority-class baseline.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse';

import { csvField, mulberry32, sha256File, shuffle } from './util.mjs';

const SEED = 20261128;
const MAX_TEXT_BYTES = 20000;

// Settings tried: the shipped model's (NB-weighted 4-d, 200k bigram buckets, 262k character
// 3-6-gram buckets), the same without character n-grams, and two others.
const CONFIGS = [
  { name: 'nb-chars', weighting: 'nb', dim: 4, epochs: 3, buckets: 200000, charBuckets: 262144, maxFeatures: 8192 },
  { name: 'nb-small', weighting: 'nb', dim: 4, epochs: 3, buckets: 200000 },
  { name: 'mean', weighting: 'mean', dim: 24, epochs: 10, buckets: 50000 },
  { name: 'tfidf', weighting: 'tfidf', dim: 24, epochs: 5, buckets: 50000 },
];

// At most `max` bytes of UTF-8, cut at a character boundary (as the engine cuts).
function cutBytes(text, max) {
  const b = Buffer.from(text);
  if (b.length <= max) return text;
  let end = max;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString();
}

/** Labelled reviews from a CSV with a header (text and label columns named by the caller). */
export async function readReviews(file, { textColumn = 'text', labelColumn = 'label', onRefused = () => {} } = {}) {
  const rows = [];
  const summary = { rows: 0, kept: 0, refused: 0 };
  const refuse = (line, reason) => { summary.refused++; onRefused({ line, reason }); };
  const parser = fs.createReadStream(file).pipe(parse({ bom: true, columns: (h) => h.map((c) => c.trim()),
    skip_empty_lines: true, skip_records_with_error: true, info: true }));
  parser.on('skip', (err) => { summary.rows++; refuse(err.lines ?? 0, `malformed CSV (${err.code})`); });
  let checked = false;
  for await (const { record, info } of parser) {
    if (!checked) {
      for (const c of [textColumn, labelColumn]) if (!(c in record)) throw new Error(`${file}: no column '${c}' (columns: ${Object.keys(record).join(', ')})`);
      checked = true;
    }
    summary.rows++;
    const text = record[textColumn] ?? '', label = (record[labelColumn] ?? '').trim();
    if (!text.trim()) { refuse(info.lines, 'empty text'); continue; }
    if (!label) { refuse(info.lines, 'empty label'); continue; }
    rows.push({ text: cutBytes(text, MAX_TEXT_BYTES), label, line: info.lines });
    summary.kept++;
  }
  return { rows, summary };
}

function scores(truth, predicted, numLabels) {
  let right = 0;
  const f1s = [];
  for (let c = 0; c < numLabels; c++) {
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < truth.length; i++) {
      if (predicted[i] === c && truth[i] === c) tp++;
      else if (predicted[i] === c) fp++;
      else if (truth[i] === c) fn++;
    }
    f1s.push(tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  }
  for (let i = 0; i < truth.length; i++) right += truth[i] === predicted[i] ? 1 : 0;
  const accuracy = right / truth.length;
  return { accuracy, accuracySe: Math.sqrt((accuracy * (1 - accuracy)) / truth.length), macroF1: f1s.reduce((a, b) => a + b, 0) / numLabels };
}

/** Runs the command. args: { data, test?, out, textColumn, labelColumn, labels?, folds, maxMinutes, licence, command, log, progress }. */
export async function trainReviews(args, runtime) {
  const t0 = Date.now();
  const log = args.log;
  fs.mkdirSync(args.out, { recursive: true });
  const refusedOut = fs.createWriteStream(path.join(args.out, 'refused-rows.csv'));
  refusedOut.write('file,line,reason\n');
  const onRefused = (file) => ({ line, reason }) => refusedOut.write(`${csvField(path.basename(file))},${line},${csvField(reason)}\n`);
  const opts = { textColumn: args.textColumn, labelColumn: args.labelColumn };
  const data = await readReviews(args.data, { ...opts, onRefused: onRefused(args.data) });
  const testData = args.test ? await readReviews(args.test, { ...opts, onRefused: onRefused(args.test) }) : null;
  await new Promise((r) => refusedOut.end(r));
  log(`reviews: ${data.summary.kept} kept of ${data.summary.rows} rows (${data.summary.refused} refused, in refused-rows.csv)` +
      (testData ? `; test file: ${testData.summary.kept} kept of ${testData.summary.rows}` : ''));
  const seen = [...new Set(data.rows.map((r) => r.label))];
  const labelNames = args.labels ?? seen.sort();
  const unknown = data.rows.filter((r) => !labelNames.includes(r.label));
  if (unknown.length) {
    log(`  ${unknown.length} reviews have labels not in --labels (${[...new Set(unknown.map((r) => r.label))].slice(0, 5).join(', ')}): refused`);
    fs.appendFileSync(path.join(args.out, 'refused-rows.csv'), unknown.map((r) => `${csvField(path.basename(args.data))},${r.line},${csvField(`label '${r.label}' not in --labels`)}\n`).join(''));
    data.rows = data.rows.filter((r) => labelNames.includes(r.label));
    data.summary.kept -= unknown.length;
    data.summary.refused += unknown.length;
  }
  if (labelNames.length < 2 || data.rows.length === 0) throw new Error(`the reviews have ${data.rows.length ? `one label only ('${labelNames[0]}')` : 'no usable rows'}: a model needs reviews of at least two labels`);
  if (labelNames.length !== 2) log(`  note: ${labelNames.length} labels; createReviewAnalyzer() in a page takes two-label models (the second positive), so this model is for the engine's ReviewModel and vitrine eval`);
  const index = new Map(labelNames.map((l, i) => [l, i]));
  let train = data.rows, test;
  if (testData) {
    test = testData.rows.filter((r) => index.has(r.label));
    if (test.length < testData.rows.length) log(`  ${testData.rows.length - test.length} test reviews have labels the training reviews lack: left out`);
  } else {  // a seeded, stratified 20%
    const rand = mulberry32(SEED);
    train = [];
    test = [];
    for (const l of labelNames) {
      const group = shuffle(data.rows.filter((r) => r.label === l), rand);
      const k = Math.round(0.2 * group.length);
      test.push(...group.slice(0, k));
      train.push(...group.slice(k));
    }
  }
  if (train.length < 10 || test.length < 2) throw new Error(`too few reviews to train (${train.length}) and measure (${test.length})`);
  const binary = labelNames.length === 2;
  const trainer = new runtime._module.ReviewTrainerHandle();
  const analyzer = () => new runtime._module.ReviewHandle();
  const fit = (rows, cfg, threshold) => {
    const bytes = trainer.train({ texts: rows.map((r) => r.text), labels: Int32Array.from(rows, (r) => index.get(r.label)), labelNames,
      options: { weighting: cfg.weighting, dim: cfg.dim, epochs: cfg.epochs, buckets: cfg.buckets, charBuckets: cfg.charBuckets ?? 0,
        maxFeatures: cfg.maxFeatures ?? 512, seed: SEED }, threshold, half: true });
    if (bytes === null) throw new Error(`training (${cfg.name}) failed: ${trainer.lastError()}`);
    return bytes;
  };
  const probabilities = (bytes, rows) => {
    const h = analyzer();
    try {
      if (h.load(bytes) !== 0) throw new Error(h.lastError());
      return rows.map((r) => {
        const a = h.analyze(r.text, MAX_TEXT_BYTES, false, 0);
        if (a === null) throw new Error(h.lastError());
        return a.probabilities;
      });
    } finally { h.delete(); }
  };
  const decide = (p, threshold) => (binary ? (p[1] >= threshold ? 1 : 0) : p.indexOf(Math.max(...p)));
  const folds = Math.max(2, Math.min(args.folds, Math.floor(train.length / 5)));
  const results = [];
  try {
    for (const cfg of CONFIGS) {
      if (Date.now() - t0 > 0.8 * args.maxMinutes * 60000) { log(`  ${cfg.name}: skipped (budget)`); continue; }
      if (cfg.weighting === 'nb' && !binary) { log(`  ${cfg.name}: skipped (naive-Bayes weighting needs exactly two labels)`); continue; }
      const oof = new Array(train.length);
      for (let k = 0; k < folds; k++) {
        args.progress(`cross-validating ${cfg.name}: fold ${k + 1} of ${folds}`);
        const fitRows = train.filter((_, i) => i % folds !== k), held = train.map((r, i) => [r, i]).filter(([, i]) => i % folds === k);
        const p = probabilities(fit(fitRows, cfg), held.map(([r]) => r));
        held.forEach(([, i], j) => { oof[i] = p[j]; });
      }
      const truth = train.map((r) => index.get(r.label));
      let threshold = 0.5, cv = scores(truth, oof.map((p) => decide(p, 0.5)), labelNames.length);
      if (binary) {
        for (let t = 5; t <= 95; t++) {
          const s = scores(truth, oof.map((p) => decide(p, t / 100)), 2);
          if (s.macroF1 > cv.macroF1) { cv = s; threshold = t / 100; }
        }
      }
      const bytes = fit(train, cfg, binary ? threshold : undefined);
      const testTruth = test.map((r) => index.get(r.label));
      const t = scores(testTruth, probabilities(bytes, test).map((p) => decide(p, threshold)), labelNames.length);
      results.push({ name: `vitrine-${cfg.name}`, config: cfg, threshold: binary ? threshold : null, cv, test: t, bytes: bytes.length, model: bytes });
      log(`  ${cfg.name}: CV macro-F1 ${cv.macroF1.toFixed(4)} (threshold ${threshold}), test accuracy ${(100 * t.accuracy).toFixed(2)}% ± ${(100 * t.accuracySe).toFixed(2)}, macro-F1 ${t.macroF1.toFixed(4)}, ${bytes.length} bytes`);
    }
  } finally {
    trainer.delete();
  }
  if (!results.length) throw new Error('no model was trained within --max-minutes');
  const counts = labelNames.map((l) => train.filter((r) => r.label === l).length);
  const majority = counts.indexOf(Math.max(...counts));
  const base = scores(test.map((r) => index.get(r.label)), test.map(() => majority), labelNames.length);
  const chosen = [...results].sort((a, b) => b.cv.macroF1 - a.cv.macroF1)[0];
  fs.writeFileSync(path.join(args.out, 'model.safetensors'), chosen.model);
  const report = {
    command: args.command, date: new Date().toISOString(), seconds: (Date.now() - t0) / 1000,
    data: { file: path.resolve(args.data), sha256: await sha256File(args.data),
      licence: args.licence, summary: data.summary, test: args.test ? path.resolve(args.test) : 'a seeded, stratified 20% of --data',
      testSummary: testData?.summary ?? null },
    labels: labelNames, train: train.length, testReviews: test.length, folds,
    results: [{ name: 'majority class', test: base }, ...results.map(({ model, ...r }) => ({ ...r, chosen: r === chosen || r.name === chosen.name }))],
    chosen: chosen.name, machine: { cpus: os.cpus().length, node: process.version },
  };
  fs.writeFileSync(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  const table = ['| model | CV macro-F1 (training reviews) | test accuracy | test macro-F1 | bytes |', '|---|---|---|---|---|',
    `| majority class | | ${(100 * base.accuracy).toFixed(2)}% | ${base.macroF1.toFixed(4)} | |`,
    ...results.map((r) => `| ${r.name}${r === chosen ? ' (chosen)' : ''} | ${r.cv.macroF1.toFixed(4)} | ${(100 * r.test.accuracy).toFixed(2)}% ± ${(100 * r.test.accuracySe).toFixed(2)} | ${r.test.macroF1.toFixed(4)} | ${r.bytes} |`)];
  fs.writeFileSync(path.join(args.out, 'report.md'), `# Training report (reviews)\n\n${table.join('\n')}\n`);
  fs.writeFileSync(path.join(args.out, 'MODEL_CARD.md'), [
    `# Model card: review model (model.safetensors)`, '',
    `- **What**: ${chosen.config.weighting}-pooled bag of features, ${chosen.config.dim}-d, ${chosen.config.epochs} epochs, ${chosen.config.buckets} bigram buckets` +
      (chosen.config.charBuckets ? `, ${chosen.config.charBuckets} character 3-6-gram buckets` : '') + `; labels ${labelNames.join(', ')}` +
      (binary ? `; decision threshold ${chosen.threshold} on P(${labelNames[1]})` : '') + `; ${chosen.bytes} bytes (f16).`,
    `- **Command**: \`${args.command}\` (${report.date}).`,
    `- **Data**: \`${path.basename(args.data)}\`, licence: ${args.licence}; ${train.length} training reviews, ${test.length} test reviews (${report.data.test}). ` +
      `Settings and threshold chosen by ${folds}-fold cross-validation on the training reviews only; the test reviews were scored once.`,
    '', '## Test metrics', '', ...table, '',
  ].join('\n'));
  return report;
}

/**
 * Runs `vitrine eval reviews`: a saved review model's accuracy, macro-F1 and confusion on labelled
 * reviews (its own labels and decision threshold), next to the majority label of those reviews.
 * args: { model, data, textColumn, labelColumn, log }.
 */
export async function evalReviews(args, runtime) {
  const h = new runtime._module.ReviewHandle();
  try {
    if (h.load(new Uint8Array(fs.readFileSync(args.model))) !== 0) throw new Error(`${args.model}: ${h.lastError()}`);
    const info = h.info();
    const labels = Array.from(info.labels);
    const refused = [];
    const data = await readReviews(args.data, { textColumn: args.textColumn, labelColumn: args.labelColumn, onRefused: (r) => refused.push(r) });
    const index = new Map(labels.map((l, i) => [l, i]));
    for (const r of data.rows.filter((x) => !index.has(x.label))) refused.push({ line: r.line, reason: `label '${r.label}' is not one of the model's (${labels.join(', ')})` });
    const rows = data.rows.filter((r) => index.has(r.label));
    if (!rows.length) throw new Error('no review carries one of the model\'s labels');
    const truth = rows.map((r) => index.get(r.label));
    const predicted = rows.map((r) => {
      const a = h.analyze(r.text, MAX_TEXT_BYTES, false, 0);
      if (a === null) throw new Error(`line ${r.line}: ${h.lastError()}`);
      return a.label;  // an index into the model's labels, decided with its threshold
    });
    const confusion = labels.map(() => new Array(labels.length).fill(0));
    truth.forEach((t, i) => { confusion[t][predicted[i]]++; });
    const counts = labels.map((_, c) => truth.filter((t) => t === c).length);
    const majority = counts.indexOf(Math.max(...counts));
    return {
      model: path.resolve(args.model), data: path.resolve(args.data), labels, threshold: info.threshold, reviews: rows.length, summary: data.summary,
      metrics: { ...scores(truth, predicted, labels.length), confusion },
      majority: { label: labels[majority], ...scores(truth, truth.map(() => majority), labels.length) }, refused,
    };
  } finally {
    h.delete();
  }
}
