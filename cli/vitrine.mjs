#!/usr/bin/env node
// The `vitrine` command of the npm package: trains and inspects models with the wasm engine in
// Node (threads on), so a store needs neither a native build nor Python.
//   vitrine train recommend --events FILE [--catalog FILE] --out DIR [options]
//   vitrine train tagger (--images DIR | --csv FILE) --out DIR [options]
//   vitrine train reviews --data FILE --out DIR [options]
//   vitrine eval recommend|reviews|tagger ...
//   vitrine compact MODEL --out FILE [options]
//   vitrine delta --from OLD --to NEW --out FILE
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
      --ease-max-items N    run the EASE baseline only up to N items (default 6000; it holds
                            four N x N matrices: ~1.1 GB at 6000)
      --licence TEXT        the licence of your data, recorded in the model file and card
      --threads N           engine threads (default: all cores)
      --resume              continue an interrupted run from DIR/checkpoint/ (same data and options):
                            the baselines and models trained so far are kept, and the time they
                            took counts against --max-minutes
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

  vitrine train tagger (--images DIR | --csv FILE) --out DIR [options]
      DIR: one sub-folder per tag (JPEG, PNG, WebP, GIF, AVIF, TIFF; any depth below the tag's folder)
      FILE: CSV, one photo a row: path,tag[,tag...] (paths relative to the CSV; optional header "path,...")
      --test-images DIR | --test-csv FILE   test photos (default: a seeded 20% of each tag)
      --backbone default|model.onnx|model.safetensors|model.json   the embedding model (default: the
                            shipped tagger); model.json is a TF.js layers model
      --backbone-description FILE   JSON describing a foreign backbone: { input: { height, width,
                            channels, mean, std, layout }, outputs: { embedding: NAME } }
      --output-layer NAME   (TF.js layers) the layer whose output is the embedding
      --fit letterbox|crop|stretch  how photos are fitted to the backbone's input (default letterbox)
      --folds K, --max-minutes M, --licence TEXT, --threads N   as above
    Writes DIR/tag-head.safetensors (load it with tagger.importHead() on the same backbone),
    MODEL_CARD.md, report.json, report.md (per-tag accuracy, confusion) and refused-rows.csv.

  vitrine eval recommend --model FILE --events FILE [--columns MAP] [--min-weight W] [--min-positives N]
  vitrine eval reviews --model FILE --data FILE [--text-column NAME] [--label-column NAME]
  vitrine eval tagger --head FILE (--images DIR | --csv FILE) [--backbone ...] [--backbone-description FILE]
      The training report's measures for a saved model on the data given (JSON on stdout,
      a table on stderr).

  vitrine compact MODEL --out FILE [options]
      A recommender model as a compact file: no training graph, item rows stored small enough for
      catalogues of 100k+ products (e.g. --rows pq:16 --fold pq:16: 16 bytes a product and table).
      --rows float|int8|pq:M   the score rows (default float: F16 unless --f32)
      --fold float|int8|pq:M   the fold-in rows of an autoencoder (default float)
      --f32                    float rows as F32 (default F16)
      --catalog FILE           products with title / description / categories / year (CSV or JSON as
                               for train): fits the content map that lets addItems() place new
                               products without retraining
      --buckets N, --lambda L  the content map's hashed features (default 2048) and ridge penalty
                               (default: chosen on held-out products)

  vitrine delta --from OLD --to NEW --out FILE [--tolerance T] [--half]
      The item delta from the model OLD to NEW (products added, removed and changed), for pages that
      already hold OLD: rec.applyDelta(FILE) instead of downloading NEW.

  vitrine info MODEL      kind, items or labels, bytes, metadata and the model card beside it
`;

function fail(message) {
  process.stderr.write(`vitrine: ${message}\n`);
  process.exit(1);
}

// A progress bar on a terminal (redrawn in place), a line every 10 s in logs. fraction: 0..1 or
// undefined (text only).
function progressLine() {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (text, fraction) => {
    const now = Date.now();
    if (!tty && now - last < 10000) return;
    if (tty && now - last < 100) return;  // at most 10 redraws a second
    last = now;
    let line = text;
    if (Number.isFinite(fraction)) {
      const f = Math.min(1, Math.max(0, fraction)), width = 24, full = Math.round(f * width);
      line = `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.round(100 * f)).padStart(3)}%  ${text}`;
    }
    process.stderr.write(tty ? `\r\x1b[K${line.slice(0, (process.stderr.columns || 120) - 1)}` : `${line}\n`);
  };
}

const logLine = (line) => process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${line}\n`);

// Shared option checks: a number >= min (an integer when asked), or the command fails.
function numberOption(values, name, { min = 0, integer = false } = {}) {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) fail(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${values[name]}`);
  return v;
}

function columnMap(text) {
  const columns = {};
  for (const pair of (text ?? '').split(',').filter(Boolean)) {
    const [k, v] = pair.split('=');
    if (!['user', 'item', 'event', 'time', 'weight'].includes(k) || !v) fail(`--columns: '${pair}' is not user|item|event|time|weight=NAME`);
    columns[k] = v;
  }
  return columns;
}

async function trainRecommend(argv) {
  const { values } = parseArgs({
    args: argv, strict: true, options: {
      events: { type: 'string' }, catalog: { type: 'string' }, out: { type: 'string' }, columns: { type: 'string' },
      'max-minutes': { type: 'string', default: '15' }, 'max-model-bytes': { type: 'string', default: '2000000' },
      'min-weight': { type: 'string' }, 'min-positives': { type: 'string', default: '5' },
      'ease-max-items': { type: 'string', default: '6000' }, licence: { type: 'string', default: 'not stated' }, resume: { type: 'boolean', default: false },
      threads: { type: 'string', default: String(os.cpus().length) },
    },
  });
  if (!values.events) fail('train recommend needs --events FILE');
  if (!values.out) fail('train recommend needs --out DIR');
  if (!fs.existsSync(values.events)) fail(`no such file: ${values.events}`);
  if (values.catalog && !fs.existsSync(values.catalog)) fail(`no such file: ${values.catalog}`);
  const number = (name, o) => numberOption(values, name, o);
  const threads = number('threads', { min: 1, integer: true });
  const columns = columnMap(values.columns);
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const progress = progressLine();
  const { trainRecommend: run } = await import('./recommend.mjs');
  const args = {
    events: values.events, catalog: values.catalog, out: values.out, columns,
    maxMinutes: number('max-minutes', { min: 0.5 }), maxModelBytes: number('max-model-bytes', { min: 1000, integer: true }),
    minWeight: values['min-weight'] === undefined ? null : number('min-weight', { min: -Infinity }),
    minPositives: number('min-positives', { min: 2, integer: true }), easeMaxItems: number('ease-max-items', { integer: true }),
    licence: values.licence, threads, resume: values.resume,
    command: `vitrine train recommend ${argv.join(' ')}`,
    log: logLine,
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
      log: logLine, progress: progressLine(),
    }, runtime);
    const chosen = report.results.find((r) => r.chosen);
    process.stderr.write(`chosen: ${chosen.name} (test accuracy ${(100 * chosen.test.accuracy).toFixed(2)}%, macro-F1 ${chosen.test.macroF1.toFixed(4)}); wrote ${path.join(values.out, 'model.safetensors')}\n`);
  } catch (e) {
    fail(e.message);
  } finally {
    runtime.dispose();
  }
}

const BACKBONE_OPTIONS = {
  backbone: { type: 'string', default: 'default' }, 'backbone-description': { type: 'string' }, 'output-layer': { type: 'string' },
  fit: { type: 'string', default: 'letterbox' },
};

function backboneArgs(values) {
  for (const f of [values['backbone-description']]) if (f && !fs.existsSync(f)) fail(`no such file: ${f}`);
  if (!['letterbox', 'crop', 'stretch'].includes(values.fit)) fail(`--fit must be letterbox, crop or stretch, got ${values.fit}`);
  return { backbone: values.backbone, description: values['backbone-description'], outputLayer: values['output-layer'], fit: values.fit };
}

async function trainTagger(argv) {
  const { values } = parseArgs({
    args: argv, strict: true, options: {
      images: { type: 'string' }, csv: { type: 'string' }, 'test-images': { type: 'string' }, 'test-csv': { type: 'string' }, out: { type: 'string' },
      ...BACKBONE_OPTIONS, folds: { type: 'string', default: '5' }, 'max-minutes': { type: 'string', default: '15' },
      licence: { type: 'string', default: 'not stated' }, threads: { type: 'string', default: String(os.cpus().length) },
    },
  });
  if (!values.images === !values.csv) fail('train tagger needs --images DIR or --csv FILE (one of them)');
  if (values['test-images'] && values['test-csv']) fail('give --test-images or --test-csv, not both');
  if (!values.out) fail('train tagger needs --out DIR');
  for (const f of [values.images, values.csv, values['test-images'], values['test-csv']]) if (f && !fs.existsSync(f)) fail(`no such file or folder: ${f}`);
  const folds = numberOption(values, 'folds', { min: 2, integer: true }), threads = numberOption(values, 'threads', { min: 1, integer: true });
  const maxMinutes = numberOption(values, 'max-minutes', { min: 0.1 });
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const { trainTagger: run } = await import('./tagger.mjs');
  try {
    const report = await run({
      images: values.images, csv: values.csv, testImages: values['test-images'], testCsv: values['test-csv'], out: values.out,
      ...backboneArgs(values), folds, maxMinutes, licence: values.licence, command: `vitrine train tagger ${argv.join(' ')}`,
      log: logLine, progress: progressLine(),
    }, runtime);
    const chosen = report.results.find((r) => r.chosen);
    logLine(`chosen: ${chosen.name} (test accuracy ${(100 * chosen.test.accuracy).toFixed(2)}% on ${report.testPhotos} photos); wrote ${path.join(values.out, 'tag-head.safetensors')}`);
  } catch (e) {
    fail(e.message);
  } finally {
    runtime.dispose();
  }
}

async function evaluate(kind, argv) {
  const options = {
    recommend: { model: { type: 'string' }, events: { type: 'string' }, columns: { type: 'string' }, 'min-weight': { type: 'string' },
      'min-positives': { type: 'string', default: '5' } },
    reviews: { model: { type: 'string' }, data: { type: 'string' }, 'text-column': { type: 'string', default: 'text' },
      'label-column': { type: 'string', default: 'label' } },
    tagger: { head: { type: 'string' }, images: { type: 'string' }, csv: { type: 'string' }, ...BACKBONE_OPTIONS },
  }[kind];
  if (!options) fail(`eval ${kind ?? ''}: one of eval recommend, eval reviews, eval tagger`);
  const { values } = parseArgs({ args: argv, strict: true, options: { ...options, threads: { type: 'string', default: String(os.cpus().length) } } });
  const required = { recommend: ['model', 'events'], reviews: ['model', 'data'], tagger: ['head'] }[kind];
  for (const r of required) if (!values[r]) fail(`eval ${kind} needs --${r}`);
  if (kind === 'tagger' && !values.images === !values.csv) fail('eval tagger needs --images DIR or --csv FILE (one of them)');
  for (const f of [values.model, values.events, values.data, values.head, values.images, values.csv]) if (f && !fs.existsSync(f)) fail(`no such file or folder: ${f}`);
  const threads = numberOption(values, 'threads', { min: 1, integer: true });
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const pct = (m) => `${(100 * m.accuracy).toFixed(2)}% ± ${(100 * m.accuracySe).toFixed(2)}`;
  const fmt = (s) => `${s.mean.toFixed(4)} ± ${s.se.toFixed(4)}`;
  try {
    let report;
    if (kind === 'recommend') {
      const { evalRecommend } = await import('./recommend.mjs');
      report = await evalRecommend({ model: values.model, events: values.events, columns: columnMap(values.columns),
        minWeight: values['min-weight'] === undefined ? null : numberOption(values, 'min-weight', { min: -Infinity }),
        minPositives: numberOption(values, 'min-positives', { min: 2, integer: true }), log: logLine, progress: progressLine() }, runtime);
      logLine(`${report.users} users: NDCG@100 ${fmt(report.metrics.ndcg100)} (popularity ${fmt(report.popularity.ndcg100)}), ` +
        `Recall@20 ${fmt(report.metrics.recall20)} (popularity ${fmt(report.popularity.recall20)})`);
    } else if (kind === 'reviews') {
      const { evalReviews } = await import('./reviews.mjs');
      report = await evalReviews({ model: values.model, data: values.data, textColumn: values['text-column'], labelColumn: values['label-column'], log: logLine }, runtime);
      logLine(`${report.reviews} reviews: accuracy ${pct(report.metrics)}, macro-F1 ${report.metrics.macroF1.toFixed(4)} ` +
        `(majority '${report.majority.label}': ${pct(report.majority)})`);
    } else {
      const { evalTagger } = await import('./tagger.mjs');
      report = await evalTagger({ head: values.head, images: values.images, csv: values.csv, ...backboneArgs(values), log: logLine, progress: progressLine() }, runtime);
      logLine(`${report.metrics.photos} photos: accuracy ${pct(report.metrics)}\n${report.table.join('\n')}`);
      delete report.table;
    }
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
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
      if (h.load(bytes, '') !== 0) fail(`${file}: ${h.lastError()}`);
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
      if (meta.tag_head) {
        out.kind = 'tag-head';
        out.tags = parsed('tag_head').tags;
      }
      if (meta.tagger) {
        const t = parsed('tagger');
        out.kind = 'tagger';
        out.labels = t.labels;
        out.input = t.input;
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

// parseArgs with its errors (an unknown option, a stray argument) as one clear line.
function parsed(config) {
  try {
    return parseArgs(config);
  } catch (e) {
    return fail(e.message);
  }
}

async function compact(argv) {
  const { values, positionals } = parsed({
    args: argv, strict: true, allowPositionals: true, options: {
      out: { type: 'string' }, rows: { type: 'string', default: 'float' }, fold: { type: 'string', default: 'float' },
      f32: { type: 'boolean', default: false }, catalog: { type: 'string' }, buckets: { type: 'string', default: '0' },
      lambda: { type: 'string', default: '0' },
    },
  });
  const model = positionals[0];
  if (!model || positionals.length > 1) fail('compact needs one MODEL file');
  if (!values.out) fail('compact needs --out FILE');
  for (const f of [model, values.catalog]) if (f && !fs.existsSync(f)) fail(`no such file: ${f}`);
  const buckets = numberOption(values, 'buckets', { integer: true });
  if (buckets > 4096) fail(`--buckets must be at most 4096, got ${buckets}`);
  if (!values.catalog && argv.some((a) => /^--(buckets|lambda)(=|$)/.test(a))) fail('--buckets and --lambda shape the content map: give --catalog');
  const args = { model, out: values.out, rows: values.rows, fold: values.fold, f32: values.f32, catalog: values.catalog,
                 buckets, lambda: numberOption(values, 'lambda'), log: logLine };
  const runtime = await createRuntime({ variant: 'simd', threads: 1 });
  try {
    const { compactModel } = await import('./recommend.mjs');
    const r = await compactModel(args, runtime);
    process.stderr.write(`wrote ${values.out}: ${r.items} items, ${r.bytes} bytes${r.content ? ', with a content map' : ''}\n`);
  } catch (e) {
    fail(e.message);
  } finally {
    runtime.dispose();
  }
}

async function delta(argv) {
  const { values } = parsed({
    args: argv, strict: true, options: {
      from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, tolerance: { type: 'string', default: '0' },
      half: { type: 'boolean', default: false },
    },
  });
  for (const k of ['from', 'to', 'out']) if (!values[k]) fail(`delta needs --${k} FILE`);
  for (const f of [values.from, values.to]) if (!fs.existsSync(f)) fail(`no such file: ${f}`);
  const runtime = await createRuntime({ variant: 'simd', threads: 1 });
  try {
    const { itemDelta } = await import('./recommend.mjs');
    const r = await itemDelta({ from: values.from, to: values.to, out: values.out, tolerance: numberOption(values, 'tolerance'), half: values.half }, runtime);
    process.stderr.write(`wrote ${values.out}: ${r.bytes} bytes\n`);
  } catch (e) {
    fail(e.message);
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
} else if (command === 'train' && sub === 'tagger') {
  await trainTagger(rest);
} else if (command === 'eval') {
  await evaluate(sub, rest);
} else if (command === 'compact') {
  await compact([sub, ...rest].filter((x) => x !== undefined));
} else if (command === 'delta') {
  await delta([sub, ...rest].filter((x) => x !== undefined));
} else if (command === 'info') {
  await info([sub, ...rest].filter((x) => x !== undefined));
} else if (command === 'train') {
  fail(`train ${sub ?? ''}: one of train recommend, train tagger, train reviews`);
} else {
  fail(`unknown command '${command}' (vitrine help)`);
}
process.exit(0);
