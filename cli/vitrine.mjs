#!/usr/bin/env node
// The `vitrine` command of the npm package: trains and inspects models with the wasm engine in
// Node (threads on), so a store needs neither a native build nor Python.
//   vitrine train recommend --events FILE [--catalog FILE] --out DIR [options]
//   vitrine info MODEL
//   vitrine help
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createRuntime } from '../web/src/index.js';

const HELP = `vitrine — train and inspect Vitrine models on your own data (wasm engine, no native build)

  vitrine train recommend --events FILE --out DIR [options]
      FILE: CSV/TSV (columns user,item[,event][,time][,weight], by header names or in that order)
            or JSON Lines ({"user": …, "item": …, "event"?, "time"?, "weight"?} per line)
      --columns MAP         your export's column names, e.g. user=userId,item=movieId,weight=rating,time=timestamp
      --catalog FILE        products: CSV (id[,title][,categories][,in_stock]; categories a|b)
                            or JSON ([{ id, title?, categories?, inStock? }])
      --max-minutes M       time budget for the whole run (default 15)
      --max-model-bytes B   the model file may be at most this big (default 2000000)
      --min-weight W        events whose weight is below W are ignored (e.g. 4 for 1-5 star ratings;
                            default: only weights <= 0 are ignored)
      --min-positives N     users with at least N items can be held out for measuring (default 5)
      --ease-max-items N    run the EASE baseline only up to N items (default 3000)
      --licence TEXT        the licence of your data, recorded in the model file and card
      --threads N           engine threads (default: all cores)
    Writes DIR/model.safetensors, catalog.json, MODEL_CARD.md, report.json, report.md and
    refused-rows.csv (every input row that could not be used, with its line and reason).

  vitrine train reviews --data FILE --out DIR [options]
      FILE: CSV with a header; one review a row, its text and its label (e.g. great / other)
      --test FILE           test reviews (default: a seeded, stratified 20% of --data)
      --text-column NAME    (default text)     --label-column NAME   (default label)
      --labels a,b          label order; with two labels the threshold is on P(b) (default: sorted)
      --folds K             cross-validation folds on the training reviews (default 5)
      --max-minutes M, --licence TEXT, --threads N   as above
    Writes DIR/model.safetensors, MODEL_CARD.md, report.json, report.md and refused-rows.csv.

  vitrine info MODEL      kind, items or labels, bytes, metadata and the model card beside it
`;

function fail(message) {
  process.stderr.write(`vitrine: ${message}\n`);
  process.exit(1);
}

function progressLine() {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (text) => {
    const now = Date.now();
    if (!tty && now - last < 10000) return;  // logs: a line every 10 s
    last = now;
    process.stderr.write(tty ? `\r\x1b[K${text.slice(0, process.stderr.columns - 1 || 120)}` : `${text}\n`);
  };
}

async function trainRecommend(argv) {
  const { values } = parseArgs({
    args: argv, strict: true, options: {
      events: { type: 'string' }, catalog: { type: 'string' }, out: { type: 'string' }, columns: { type: 'string' },
      'max-minutes': { type: 'string', default: '15' }, 'max-model-bytes': { type: 'string', default: '2000000' },
      'min-weight': { type: 'string' }, 'min-positives': { type: 'string', default: '5' },
      'ease-max-items': { type: 'string', default: '3000' }, licence: { type: 'string', default: 'not stated' },
      threads: { type: 'string', default: String(os.cpus().length) },
    },
  });
  if (!values.events) fail('train recommend needs --events FILE');
  if (!values.out) fail('train recommend needs --out DIR');
  if (!fs.existsSync(values.events)) fail(`no such file: ${values.events}`);
  if (values.catalog && !fs.existsSync(values.catalog)) fail(`no such file: ${values.catalog}`);
  const number = (name, { min = 0, integer = false } = {}) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) fail(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${values[name]}`);
    return v;
  };
  const threads = number('threads', { min: 1, integer: true });
  const columns = {};
  for (const pair of (values.columns ?? '').split(',').filter(Boolean)) {
    const [k, v] = pair.split('=');
    if (!['user', 'item', 'event', 'time', 'weight'].includes(k) || !v) fail(`--columns: '${pair}' is not user|item|event|time|weight=NAME`);
    columns[k] = v;
  }
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const progress = progressLine();
  const { trainRecommend: run } = await import('./recommend.mjs');
  const args = {
    events: values.events, catalog: values.catalog, out: values.out, columns,
    maxMinutes: number('max-minutes', { min: 0.5 }), maxModelBytes: number('max-model-bytes', { min: 1000, integer: true }),
    minWeight: values['min-weight'] === undefined ? null : number('min-weight', { min: -Infinity }),
    minPositives: number('min-positives', { min: 2, integer: true }), easeMaxItems: number('ease-max-items', { integer: true }),
    licence: values.licence, threads,
    command: `vitrine train recommend ${argv.join(' ')}`,
    log: (line) => process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${line}\n`),
    progress,
  };
  try {
    const report = await run(args, runtime);
    const chosen = report.results.find((r) => r.chosen);
    process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}chosen: ${chosen.name} (test NDCG@100 ${chosen.test.ndcg100.mean.toFixed(4)}); wrote ${path.join(values.out, 'model.safetensors')} and the report\n`);
  } catch (e) {
    fail(e.message);
  } finally {
    runtime.dispose();
  }
}

async function trainReviews(argv) {
  const { values } = parseArgs({
    args: argv, strict: true, options: {
      data: { type: 'string' }, test: { type: 'string' }, out: { type: 'string' },
      'text-column': { type: 'string', default: 'text' }, 'label-column': { type: 'string', default: 'label' },
      labels: { type: 'string' }, folds: { type: 'string', default: '5' }, 'max-minutes': { type: 'string', default: '15' },
      licence: { type: 'string', default: 'not stated' }, threads: { type: 'string', default: String(os.cpus().length) },
    },
  });
  if (!values.data) fail('train reviews needs --data FILE');
  if (!values.out) fail('train reviews needs --out DIR');
  for (const f of [values.data, values.test]) if (f && !fs.existsSync(f)) fail(`no such file: ${f}`);
  const folds = Number(values.folds), minutes = Number(values['max-minutes']), threads = Number(values.threads);
  if (!Number.isInteger(folds) || folds < 2) fail(`--folds must be an integer >= 2, got ${values.folds}`);
  if (!(minutes > 0)) fail(`--max-minutes must be a number > 0, got ${values['max-minutes']}`);
  if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be an integer >= 1, got ${values.threads}`);
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const { trainReviews: run } = await import('./reviews.mjs');
  try {
    const report = await run({
      data: values.data, test: values.test, out: values.out, textColumn: values['text-column'], labelColumn: values['label-column'],
      labels: values.labels ? values.labels.split(',').map((l) => l.trim()) : undefined, folds, maxMinutes: minutes, licence: values.licence,
      command: `vitrine train reviews ${argv.join(' ')}`,
      log: (line) => process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${line}\n`), progress: progressLine(),
    }, runtime);
    const chosen = report.results.find((r) => r.chosen);
    process.stderr.write(`chosen: ${chosen.name} (test accuracy ${(100 * chosen.test.accuracy).toFixed(2)}%, macro-F1 ${chosen.test.macroF1.toFixed(4)}); wrote ${path.join(values.out, 'model.safetensors')}\n`);
  } catch (e) {
    fail(e.message);
  } finally {
    runtime.dispose();
  }
}

async function info(argv) {
  const file = argv[0];
  if (!file) fail('info needs a MODEL file');
  if (!fs.existsSync(file)) fail(`no such file: ${file}`);
  const bytes = new Uint8Array(fs.readFileSync(file));
  const runtime = await createRuntime({ variant: 'simd', threads: 1 });
  try {
    const h = new runtime._module.ModelHandle();
    try {
      if (h.load(bytes) !== 0) fail(`${file}: ${h.lastError()}`);
      const meta = h.metadata();
      const out = { file: path.resolve(file), bytes: bytes.length, inputs: h.inputNames(), outputs: h.outputNames(), metadata: {} };
      for (const [k, v] of Object.entries(meta)) {
        if (k === 'architecture') continue;
        let value = v;
        try { value = JSON.parse(v); } catch { /* a plain string */ }
        out.metadata[k] = typeof value === 'object' && JSON.stringify(value).length > 2000 ? `(${JSON.stringify(value).length} characters)` : value;
      }
      const parsed = (k) => { try { return JSON.parse(meta[k]); } catch { fail(`${file}: its '${k}' metadata is not JSON`); } };
      const rec = meta.recommender ? parsed('recommender') : null;
      if (rec) {
        out.kind = rec.kind;
        out.items = Array.isArray(rec.items) ? rec.items.length : undefined;
        out.metadata.recommender = Object.fromEntries(Object.entries(rec).filter(([k]) => k !== 'items'));
      }
      if (meta.review) {
        const review = parsed('review');
        out.kind = 'review';
        out.labels = review.labels;
        out.metadata.review = `(vocabulary and settings, ${meta.review.length} characters)`;
      }
      const card = path.join(path.dirname(file), 'MODEL_CARD.md');
      if (fs.existsSync(card)) out.card = card;
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } finally {
      h.delete();
    }
  } finally {
    runtime.dispose();
  }
}

const [command, sub, ...rest] = process.argv.slice(2);
if (!command || command === 'help' || command === '--help' || command === '-h') {
  process.stdout.write(HELP);
} else if (command === 'train' && sub === 'recommend') {
  await trainRecommend(rest);
} else if (command === 'train' && sub === 'reviews') {
  await trainReviews(rest);
} else if (command === 'info') {
  await info([sub, ...rest].filter((x) => x !== undefined));
} else if (command === 'train') {
  fail(`train ${sub ?? ''}: 'train recommend' and 'train reviews' exist so far (tagger training is planned)`);
} else {
  fail(`unknown command '${command}' (vitrine help)`);
}
process.exit(0);
