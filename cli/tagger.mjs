// `vitrine train tagger` and `vitrine eval tagger`: a store's labelled photos in, a tag head out.
// Photos are decoded with sharp (images.mjs), pre-processed and embedded by the backbone in the
// engine exactly as in a page, and a few-shot head (the one ImageTagger.train() makes in the
// browser) is trained on the embeddings. The head's settings are chosen by k-fold
// cross-validation on the training photos only; the test photos (--test-images / --test-csv, or
// a seeded 20% of each tag) are scored once, next to the majority-tag and nearest-centroid
// baselines on the same embeddings.
//
// A photo may carry several tags (--csv, or identical files in several folders): it is trained
// on once per tag, and a prediction counts as right when the top tag is one of its tags; a tag's
// accuracy is the share of its test photos that have it among their top m tags (m = their tag
// count), i.e. per-tag recall for single-tag photos.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createImageTaggerOn } from '../web/src/tag.js';
import { decodeImage, listImages } from './images.mjs';
import { csvField, mulberry32, sha256File, shuffle } from './util.mjs';

const SEED = 20261128;
const BATCH_IMAGES = 32;
const BATCH_BYTES = 64 * 1024 * 1024;  // decoded pixels held at once

// Head settings tried (full-batch Adam on the L2-normalized embeddings): the page's default and three others.
const CONFIGS = [
  { name: 'default', steps: 150, learningRate: 0.01, weightDecay: 1e-3 },
  { name: 'long', steps: 500, learningRate: 0.01, weightDecay: 1e-4 },
  { name: 'regularized', steps: 300, learningRate: 0.03, weightDecay: 1e-2 },
  { name: 'converged', steps: 2000, learningRate: 0.01, weightDecay: 0 },
];

/**
 * Loads the backbone: 'default' (the shipped tagger), a Vitrine/ONNX model file, or a TF.js
 * layers model.json; `description` (a JSON file) describes a foreign model's input and outputs.
 * @returns {Promise<{ tagger, backbone: object }>}
 */
export async function loadBackbone(runtime, { backbone = 'default', description, outputLayer, fit = 'letterbox' }) {
  const desc = description ? JSON.parse(fs.readFileSync(description, 'utf8')) : undefined;
  const options = { storage: 'memory', fit, description: desc };
  let info;
  if (backbone === 'default') {
    info = { name: 'default (the shipped Fashion-MNIST tagger, models/tagger/)' };
  } else {
    if (!fs.existsSync(backbone)) throw new Error(`no such backbone file: ${backbone}`);
    info = { name: path.basename(backbone), file: path.resolve(backbone), sha256: await sha256File(backbone) };
    if (/\.json$/i.test(backbone)) {
      if (!desc) throw new Error('a TF.js layers backbone (model.json) needs --backbone-description FILE (input size, normalization, outputs)');
      options.model = { format: 'tfjs-layers', path: backbone, outputLayer };
    } else {
      options.model = backbone;
    }
    options.maxModelBytes = 512 * 1024 * 1024;
  }
  if (description) info.description = desc;
  const tagger = await createImageTaggerOn(runtime, options);
  const i = await tagger.info();
  if (!(i.embeddingDim > 0)) {
    await tagger.dispose();
    throw new Error(`the backbone has no embedding output (describe one with --backbone-description: outputs.embedding)`);
  }
  info.embeddingDim = i.embeddingDim;
  info.input = i.input;
  return { tagger, backbone: info };
}

/**
 * Embeds every listed photo (decoded one by one, embedded in batches). Photos that fail to decode
 * or that the engine refuses are reported and left out.
 * @returns {Promise<{ item, embedding: Float32Array }[]>}
 */
export async function embedImages(tagger, items, { onRefused, progress }) {
  const out = [];
  let batch = [], bytes = 0, done = 0;
  const flush = async () => {
    if (!batch.length) return;
    try {
      const e = await tagger.embedBatch(batch.map((b) => b.pixels));
      batch.forEach((b, i) => out.push({ item: b.item, embedding: e[i] }));
    } catch {  // find the photo the engine refuses
      for (const b of batch) {
        try {
          out.push({ item: b.item, embedding: await tagger.embed(b.pixels) });
        } catch (e) {
          onRefused({ where: b.item.where, reason: `the engine refused the image: ${e.message}` });
        }
      }
    }
    batch = [];
    bytes = 0;
  };
  for (const item of items) {
    progress(`decoding and embedding photos: ${done} of ${items.length}`);
    done++;
    let pixels;
    try {
      pixels = await decodeImage(item.file);
    } catch (e) {
      onRefused({ where: item.where, reason: e.message });
      continue;
    }
    batch.push({ item, pixels });
    bytes += pixels.data.length;
    if (batch.length >= BATCH_IMAGES || bytes >= BATCH_BYTES) await flush();
  }
  await flush();
  return out;
}

/** Writes refusals as CSV rows and logs the first few. */
function refusalLog(file, log) {
  const out = fs.createWriteStream(file);
  out.write('source,where,reason\n');
  let count = 0;
  const onRefused = (source) => ({ where, reason }) => {
    out.write(`${csvField(source)},${csvField(where)},${csvField(reason)}\n`);
    if (count++ < 10) log(`  refused ${where}: ${reason}`);
  };
  return { onRefused, count: () => count, close: () => new Promise((r) => out.end(r)) };
}

// Embeddings and label indices of (photo, tag) pairs: one row per tag of each photo.
function rows(examples, index, dim) {
  const pairs = examples.flatMap((x) => x.tags.filter((t) => index.has(t)).map((t) => [x.embedding, index.get(t)]));
  const xs = new Float32Array(pairs.length * dim), labels = new Int32Array(pairs.length);
  pairs.forEach(([e, l], i) => { xs.set(e, i * dim); labels[i] = l; });
  return { xs, labels, n: pairs.length };
}

const normalized = (e) => {
  let s = 0;
  for (const v of e) s += v * v;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return Float32Array.from(e, (v) => v * inv);
};

/** Head probabilities (one Float64Array over `tags` per example) from the tagger's loaded head. */
function headScores(h, examples, tags, dim) {
  const x = new Float32Array(examples.length * dim);
  examples.forEach((ex, i) => x.set(ex.embedding, i * dim));
  const list = h.headClassify(x, examples.length, { topK: tags.length });
  if (list === null) throw new Error(h.lastError());
  const index = new Map(tags.map((t, i) => [t, i]));
  return list.map((tagsOf) => {
    const p = new Float64Array(tags.length);
    for (const t of tagsOf) p[index.get(t.label)] = t.score;
    return p;
  });
}

function trainHead(h, examples, tags, dim, cfg) {
  const index = new Map(tags.map((t, i) => [t, i]));
  const r = rows(examples, index, dim);
  if (h.headBegin(r.xs, r.n, r.labels, tags, cfg.steps, cfg.learningRate, cfg.weightDecay) !== 0) throw new Error(h.lastError());
  if (h.headStep(cfg.steps) !== 0) throw new Error(h.lastError());
  if (h.headFinish() !== 0) throw new Error(h.lastError());
  return h.headLoss();
}

/** Nearest centroid (cosine) over `tags`: scores for each example. */
function centroidScores(train, test, tags, dim) {
  const c = tags.map(() => new Float64Array(dim));
  const index = new Map(tags.map((t, i) => [t, i]));
  for (const x of train) {
    const e = normalized(x.embedding);
    for (const t of x.tags) if (index.has(t)) for (let j = 0; j < dim; j++) c[index.get(t)][j] += e[j];
  }
  const units = c.map((v) => normalized(v));
  return test.map((x) => {
    const e = normalized(x.embedding);
    return Float64Array.from(units, (u) => u.reduce((s, v, j) => s + v * e[j], 0));
  });
}

/**
 * Accuracy (top tag among the photo's tags) ± standard error, per-tag accuracy and the confusion
 * of single-tag photos (rows: true tag, columns: top tag).
 */
export function tagMetrics(examples, scores, tags) {
  const index = new Map(tags.map((t, i) => [t, i]));
  const perTag = tags.map((t) => ({ tag: t, photos: 0, right: 0 }));
  const confusion = tags.map(() => new Array(tags.length).fill(0));
  let right = 0;
  examples.forEach((x, i) => {
    const s = scores[i];
    const order = [...s.keys()].sort((a, b) => s[b] - s[a] || a - b);
    const truth = x.tags.filter((t) => index.has(t)).map((t) => index.get(t));
    if (truth.includes(order[0])) right++;
    const top = new Set(order.slice(0, truth.length));
    for (const t of truth) { perTag[t].photos++; if (top.has(t)) perTag[t].right++; }
    if (truth.length === 1) confusion[truth[0]][order[0]]++;
  });
  const n = examples.length, accuracy = n ? right / n : 0;
  return {
    photos: n, accuracy, accuracySe: n ? Math.sqrt((accuracy * (1 - accuracy)) / n) : 0,
    perTag: perTag.map((p) => ({ ...p, accuracy: p.photos ? p.right / p.photos : null })),
    meanTagAccuracy: perTag.filter((p) => p.photos).reduce((s, p) => s + p.right / p.photos, 0) / Math.max(1, perTag.filter((p) => p.photos).length),
    confusion,
  };
}

// A seeded split per tag (by the photo's first tag): `share` of each tag's photos to the test side.
// The examples grouped by their first tag (in tag order), each group shuffled with `rand`.
function shuffledByFirstTag(examples, rand) {
  const groups = new Map();
  for (const x of examples) {
    const t = [...x.tags].sort()[0];
    if (!groups.has(t)) groups.set(t, []);
    groups.get(t).push(x);
  }
  return [...groups.keys()].sort().map((t) => shuffle(groups.get(t), rand));
}

function splitByTag(examples, share, seed) {
  const sorted = [...examples].sort((a, b) => (a.item.digest < b.item.digest ? -1 : 1));
  const train = [], test = [];
  for (const g of shuffledByFirstTag(sorted, mulberry32(seed))) {
    const k = g.length >= 2 ? Math.min(g.length - 1, Math.max(1, Math.round(share * g.length))) : 0;
    test.push(...g.slice(0, k));
    train.push(...g.slice(k));
  }
  return { train, test };
}

function table(tags, results) {
  const lines = ['| model | CV accuracy (training photos) | test accuracy | mean per-tag accuracy |', '|---|---|---|---|'];
  for (const r of results) {
    lines.push(`| ${r.name}${r.chosen ? ' (chosen)' : ''} | ${r.cv ? `${(100 * r.cv.accuracy).toFixed(2)}%` : ''} | ` +
      `${(100 * r.test.accuracy).toFixed(2)}% ± ${(100 * r.test.accuracySe).toFixed(2)} | ${(100 * r.test.meanTagAccuracy).toFixed(2)}% |`);
  }
  return lines;
}

function perTagTable(m, tags) {
  const lines = ['| tag | test photos | accuracy | confused most with |', '|---|---|---|---|'];
  m.perTag.forEach((p, i) => {
    const row = m.confusion[i];
    let worst = -1;
    row.forEach((v, j) => { if (j !== i && v > 0 && (worst < 0 || v > row[worst])) worst = j; });
    lines.push(`| ${p.tag.replace(/\|/g, '/')} | ${p.photos} | ${p.accuracy === null ? '' : `${(100 * p.accuracy).toFixed(1)}%`} | ${worst >= 0 ? `${tags[worst]} (${row[worst]})` : ''} |`);
  });
  return lines;
}

async function readSet(spec, tagger, log, progress, onRefused, label) {
  const items = await listImages(spec, { onRefused });
  log(`${label}: ${items.length} photos listed`);
  const embedded = await embedImages(tagger, items, { onRefused, progress });
  return embedded.map((x) => ({ item: x.item, tags: x.item.tags, embedding: x.embedding }));
}

/**
 * Runs `vitrine train tagger`. args: { images?, csv?, testImages?, testCsv?, out, backbone,
 * description?, outputLayer?, fit, folds, maxMinutes, licence, command, log, progress }.
 */
export async function trainTagger(args, runtime) {
  const t0 = Date.now();
  const log = args.log;
  fs.mkdirSync(args.out, { recursive: true });
  for (const f of ['tag-head.safetensors', 'MODEL_CARD.md', 'report.json', 'report.md']) fs.rmSync(path.join(args.out, f), { force: true });
  const refusals = refusalLog(path.join(args.out, 'refused-rows.csv'), log);
  const { tagger, backbone } = await loadBackbone(runtime, args);
  try {
    const dim = backbone.embeddingDim;
    log(`backbone: ${backbone.name}, ${backbone.input.width}x${backbone.input.height}x${backbone.input.channels} in, ${dim}-d embeddings`);
    const source = args.images ? { images: args.images } : { csv: args.csv };
    const all = await readSet(source, tagger, log, args.progress, refusals.onRefused(args.images ?? args.csv), 'photos');
    let train = all, test;
    const testSource = args.testImages ? { images: args.testImages } : args.testCsv ? { csv: args.testCsv } : null;
    if (testSource) {
      test = await readSet(testSource, tagger, log, args.progress, refusals.onRefused(args.testImages ?? args.testCsv), 'test photos');
    } else {
      ({ train, test } = splitByTag(all, 0.2, SEED));
    }
    const tags = [...new Set(train.flatMap((x) => x.tags))].sort();
    if (tags.length < 2) throw new Error(`the training photos carry ${tags.length} tag${tags.length === 1 ? '' : 's'}: a tagger needs at least two`);
    const known = new Set(tags);
    const unknownTest = test.filter((x) => !x.tags.some((t) => known.has(t)));
    for (const x of unknownTest) refusals.onRefused('test')({ where: x.item.where, reason: `test photo whose tags (${x.tags.join(', ')}) no training photo has` });
    test = test.filter((x) => x.tags.some((t) => known.has(t)));
    if (train.length < 4 || test.length < 2) throw new Error(`too few photos to train (${train.length}) and measure (${test.length})`);
    const counts = Object.fromEntries(tags.map((t) => [t, train.filter((x) => x.tags.includes(t)).length]));
    log(`${train.length} training photos, ${test.length} test photos (${testSource ? 'the test set given' : `a seeded 20% of each tag, seed ${SEED}`}); tags: ` +
        tags.map((t) => `${t} (${counts[t]})`).join(', '));

    // Cross-validation folds over the training photos (stratified by the seeded order per tag).
    const folds = Math.max(2, Math.min(args.folds, Math.min(...Object.values(counts))));
    const fold = new Map();
    for (const g of shuffledByFirstTag(train, mulberry32(SEED + 1))) g.forEach((x, i) => fold.set(x, i % folds));
    const h = tagger._handle;
    const results = [];
    for (const cfg of CONFIGS) {
      if (Date.now() - t0 > 0.8 * args.maxMinutes * 60000 && results.length) { log(`  ${cfg.name}: skipped (budget)`); continue; }
      const oof = new Array(train.length);
      for (let k = 0; k < folds; k++) {
        args.progress(`cross-validating head '${cfg.name}': fold ${k + 1} of ${folds}`);
        const fit = train.filter((x) => fold.get(x) !== k);
        const fitTags = [...new Set(fit.flatMap((x) => x.tags))].sort();
        trainHead(h, fit, fitTags, dim, cfg);
        const held = train.map((x, i) => [x, i]).filter(([x]) => fold.get(x) === k);
        const s = headScores(h, held.map(([x]) => x), fitTags, dim);
        // Back onto all tags (a tag missing from this fold's training photos scores 0).
        held.forEach(([, i], j) => { oof[i] = Float64Array.from(tags, (t) => { const c = fitTags.indexOf(t); return c < 0 ? 0 : s[j][c]; }); });
      }
      const cv = tagMetrics(train, oof, tags);
      const loss = trainHead(h, train, tags, dim, cfg);
      const model = h.headSave();
      if (model === null) throw new Error(h.lastError());
      const t = tagMetrics(test, headScores(h, test, tags, dim), tags);
      results.push({ name: `vitrine-head-${cfg.name}`, config: cfg, cv, test: t, loss, bytes: model.length, model });
      log(`  head '${cfg.name}': CV accuracy ${(100 * cv.accuracy).toFixed(2)}%, test ${(100 * t.accuracy).toFixed(2)}% ± ${(100 * t.accuracySe).toFixed(2)}, ${model.length} bytes`);
    }
    const majorityTag = tags.reduce((a, b) => (counts[b] > counts[a] ? b : a));
    const majority = tagMetrics(test, test.map(() => Float64Array.from(tags, (t) => (t === majorityTag ? 1 : 0))), tags);
    const centroid = tagMetrics(test, centroidScores(train, test, tags, dim), tags);
    const chosen = [...results].sort((a, b) => b.cv.accuracy - a.cv.accuracy)[0];
    fs.writeFileSync(path.join(args.out, 'tag-head.safetensors'), chosen.model);
    await refusals.close();
    const all3 = [{ name: `majority tag (${majorityTag})`, test: majority }, { name: 'nearest centroid (cosine, same embeddings)', test: centroid },
      ...results.map(({ model, ...r }) => ({ ...r, chosen: r.name === chosen.name }))];
    const report = {
      command: args.command, date: new Date().toISOString(), seconds: (Date.now() - t0) / 1000,
      data: { source: path.resolve(args.images ?? args.csv), test: testSource ? path.resolve(args.testImages ?? args.testCsv) : `a seeded 20% of each tag (seed ${SEED})`,
        licence: args.licence, photos: all.length, refused: refusals.count() },
      backbone, tags, counts, train: train.length, testPhotos: test.length, folds, fit: args.fit,
      results: all3, chosen: chosen.name, machine: { cpus: os.cpus().length, node: process.version },
    };
    fs.writeFileSync(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    const main = table(tags, all3), per = perTagTable(chosen.test, tags);
    fs.writeFileSync(path.join(args.out, 'report.md'), `# Training report (tagger)\n\n${main.join('\n')}\n\n## Per tag (chosen head, test photos)\n\n${per.join('\n')}\n`);
    const loadLine = backbone.file
      ? `createImageTagger({ model: '${path.basename(backbone.file)}'${backbone.description ? ', description: <the --backbone-description JSON>' : ''} })`
      : 'createImageTagger()';
    fs.writeFileSync(path.join(args.out, 'MODEL_CARD.md'), [
      '# Model card: tag head (tag-head.safetensors)', '',
      `- **What**: a few-shot tag head (softmax over ${tags.length} tags on the L2-normalized ${dim}-d embeddings of the backbone; ` +
        `${chosen.config.steps} Adam steps, learning rate ${chosen.config.learningRate}, weight decay ${chosen.config.weightDecay}); ${chosen.bytes} bytes.`,
      `- **Backbone**: ${backbone.name}${backbone.sha256 ? ` (sha256 ${backbone.sha256.slice(0, 16)}…)` : ''}; photos fitted by '${args.fit}'. ` +
        `In a page: \`const t = await ${loadLine}; await t.importHead(headBytes);\`.`,
      `- **Command**: \`${args.command}\` (${report.date}, ${report.seconds.toFixed(0)} s on ${os.cpus().length} cores).`,
      `- **Data**: \`${path.basename(args.images ?? args.csv)}\`, licence: ${args.licence}; ${train.length} training photos, ${test.length} test photos (${report.data.test}); ` +
        `${refusals.count()} files or rows refused (refused-rows.csv). The head's settings were chosen by ${folds}-fold cross-validation on the training photos only; the test photos were scored once.`,
      '', '## Test metrics', '', ...main, '', '## Per tag', '', ...per, '',
    ].join('\n'));
    return report;
  } finally {
    await tagger.dispose();
  }
}

/** Runs `vitrine eval tagger`: the report of a saved head on labelled photos. args: { head, images?, csv?, backbone, description?, outputLayer?, fit, log, progress }. */
export async function evalTagger(args, runtime) {
  const { tagger, backbone } = await loadBackbone(runtime, args);
  try {
    const h = tagger._handle;
    const bytes = new Uint8Array(fs.readFileSync(args.head));
    if (h.headLoad(bytes) !== 0) throw new Error(`${args.head}: ${h.lastError()}`);
    const tags = Array.from(h.headTags());
    const refused = [];
    const onRefused = ({ where, reason }) => refused.push({ where, reason });
    const photos = await readSet(args.images ? { images: args.images } : { csv: args.csv }, tagger, args.log, args.progress, onRefused, 'photos');
    const known = new Set(tags);
    for (const x of photos.filter((p) => !p.tags.some((t) => known.has(t)))) onRefused({ where: x.item.where, reason: `tags (${x.tags.join(', ')}) not in the head` });
    const usable = photos.filter((p) => p.tags.some((t) => known.has(t)));
    if (!usable.length) throw new Error('no photo carries a tag of this head');
    const m = tagMetrics(usable, headScores(h, usable, tags, backbone.embeddingDim), tags);
    return { head: path.resolve(args.head), backbone, tags, metrics: m, refused, table: perTagTable(m, tags) };
  } finally {
    await tagger.dispose();
  }
}
