#!/usr/bin/env node
// npm run eval -- aspects [--aspects FILE.json] [--model FILE] [--aspect-threshold T] [--dir DIR] [--out FILE]
// The review analyzer's aspects measured against labels made by reading (bench/aspects/: the
// guidelines, 200 Fine Food test reviews labelled before the detector changed, 50 of them labelled
// twice, and the team's robustness set). Through the npm facade (wasm), with the shipped model and
// default aspects unless given. Reports:
//   - per aspect: precision, recall, F1 of "the review discusses it"; micro- and macro-F1;
//   - aspect-sentiment accuracy: among aspects both labelled and detected whose label is positive
//     or negative, the share the analyzer gives the same sentiment;
//   - agreement of the two labellings of reviews 1-50 (Cohen's kappa per aspect for "discussed",
//     and for the sentiment where both saw the aspect), the measure's own ceiling;
//   - robustness set: great/other accuracy (and the majority label's), aspects as above.
// Writes bench/results/eval-aspects.json and prints tables.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { aspects: { type: 'string' }, model: { type: 'string' }, out: { type: 'string' }, dir: { type: 'string' },
  'aspect-threshold': { type: 'string' } } });
const dir = path.resolve(values.dir ?? path.join(root, 'bench/aspects'));

const ASPECTS = ['taste', 'price', 'packaging', 'delivery', 'quality', 'freshness', 'service', 'size'];
const SENTIMENTS = new Set(['positive', 'negative', 'mixed', 'neutral']);

function readJsonl(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    try { return JSON.parse(l); } catch (e) { throw new Error(`${path.relative(root, file)}:${i + 1}: ${e.message}`); }
  });
}

// One labelled entry checked against the guidelines' vocabulary.
function checkEntry(f, r) {
  if (!Number.isInteger(r.id) || typeof r.aspects !== 'object' || r.aspects === null || Array.isArray(r.aspects)) {
    throw new Error(`${path.basename(f)}: bad entry ${JSON.stringify(r).slice(0, 200)}`);
  }
  for (const [a, s] of Object.entries(r.aspects)) {
    if (!ASPECTS.includes(a) || !SENTIMENTS.has(s)) throw new Error(`${path.basename(f)} id ${r.id}: '${a}: ${s}' is not in the guidelines`);
  }
}

// Labels: id -> { aspect: sentiment }.
function readLabels(files) {
  const out = new Map();
  for (const f of files) {
    for (const r of readJsonl(f)) {
      checkEntry(f, r);
      if (out.has(r.id)) throw new Error(`${path.basename(f)}: id ${r.id} labelled twice`);
      out.set(r.id, r.aspects);
    }
  }
  return out;
}

// Detection and sentiment scores of predictions against gold labels (both id -> { aspect: s }).
function score(gold, pred, ids) {
  const per = Object.fromEntries(ASPECTS.map((a) => [a, { tp: 0, fp: 0, fn: 0, sentiment_right: 0, sentiment_total: 0 }]));
  for (const id of ids) {
    const g = gold.get(id) ?? {}, p = pred.get(id) ?? {};
    for (const a of ASPECTS) {
      const c = per[a];
      if (g[a] && p[a]) {
        c.tp++;
        if (g[a] === 'positive' || g[a] === 'negative') {
          c.sentiment_total++;
          if (p[a] === g[a]) c.sentiment_right++;
        }
      } else if (p[a]) c.fp++;
      else if (g[a]) c.fn++;
    }
  }
  const prf = (c) => {
    const p = c.tp + c.fp ? c.tp / (c.tp + c.fp) : null, r = c.tp + c.fn ? c.tp / (c.tp + c.fn) : null;
    return { precision: p, recall: r, f1: p !== null && r !== null && p + r > 0 ? 2 * p * r / (p + r) : (c.tp + c.fp + c.fn ? 0 : null), support: c.tp + c.fn };
  };
  const sum = ASPECTS.reduce((s, a) => ({ tp: s.tp + per[a].tp, fp: s.fp + per[a].fp, fn: s.fn + per[a].fn,
                                          r: s.r + per[a].sentiment_right, t: s.t + per[a].sentiment_total }), { tp: 0, fp: 0, fn: 0, r: 0, t: 0 });
  const aspects = Object.fromEntries(ASPECTS.map((a) => [a, { ...prf(per[a]), sentiment_accuracy: per[a].sentiment_total ? per[a].sentiment_right / per[a].sentiment_total : null,
                                                              sentiment_n: per[a].sentiment_total }]));
  const f1s = ASPECTS.map((a) => aspects[a].f1).filter((x) => x !== null);
  return { reviews: ids.length, micro: prf(sum), macro_f1: f1s.length ? f1s.reduce((s, x) => s + x, 0) / f1s.length : null,
           sentiment_accuracy: sum.t ? sum.r / sum.t : null, sentiment_n: sum.t, aspects };
}

// Cohen's kappa of two label lists.
function kappa(x, y) {
  const n = x.length;
  if (!n) return null;
  const cats = [...new Set([...x, ...y])];
  const po = x.filter((v, i) => v === y[i]).length / n;
  const pe = cats.reduce((s, c) => s + (x.filter((v) => v === c).length / n) * (y.filter((v) => v === c).length / n), 0);
  return pe === 1 ? 1 : (po - pe) / (1 - pe);
}

function agreement(a, b, ids) {
  const out = { reviews: ids.length, discussed: {}, sentiment: {} };
  const allD = [[], []], allS = [[], []];
  for (const asp of ASPECTS) {
    const da = ids.map((id) => Boolean(a.get(id)?.[asp])), db = ids.map((id) => Boolean(b.get(id)?.[asp]));
    out.discussed[asp] = kappa(da, db);
    allD[0].push(...da); allD[1].push(...db);
    const both = ids.filter((id) => a.get(id)?.[asp] && b.get(id)?.[asp]);
    const sa = both.map((id) => a.get(id)[asp]), sb = both.map((id) => b.get(id)[asp]);
    out.sentiment[asp] = { kappa: kappa(sa, sb), n: both.length };
    allS[0].push(...sa); allS[1].push(...sb);
  }
  out.discussed_all = kappa(...allD);
  out.sentiment_all = { kappa: kappa(...allS), n: allS[0].length, agreement: allS[0].filter((v, i) => v === allS[1][i]).length / Math.max(1, allS[0].length) };
  return out;
}

// ---- the analyzer's predictions -------------------------------------------------------------------
const { createRuntime } = await import(path.join(root, 'web/src/index.js'));
const runtime = await createRuntime({ variant: 'simd', threads: 1 });
const analyzer = await runtime.createReviewAnalyzer({
  ...(values.model ? { model: new Uint8Array(fs.readFileSync(values.model)) } : {}),
  ...(values.aspects ? { aspects: JSON.parse(fs.readFileSync(values.aspects, 'utf8')) } : {}),
  ...(values['aspect-threshold'] !== undefined ? { aspectThreshold: Number(values['aspect-threshold']) } : {}),
});
async function predict(rows) {
  const out = new Map(), labels = new Map();
  const results = await analyzer.analyzeBatch(rows.map((r) => r.text));
  rows.forEach((r, i) => {
    const p = {};
    for (const m of results[i].aspects) if (ASPECTS.includes(m.aspect)) p[m.aspect] = m.sentiment;
    out.set(r.id, p);
    labels.set(r.id, results[i].label);
  });
  return { aspects: out, labels };
}

const reviews = readJsonl(path.join(dir, 'reviews.jsonl'));
const labelFiles = fs.readdirSync(dir).filter((f) => /^labels-.*\.jsonl$/.test(f)).sort().map((f) => path.join(dir, f));
const gold = readLabels(labelFiles);
const ids = reviews.map((r) => r.id).filter((id) => gold.has(id));
const pred = await predict(reviews.filter((r) => gold.has(r.id)));
const fineFood = score(gold, pred.aspects, ids);

const doubles = fs.readdirSync(dir).filter((f) => /^double-.*\.jsonl$/.test(f)).sort();
const agree = [];
for (const f of doubles) {
  const second = readLabels([path.join(dir, f)]);
  const both = [...second.keys()].filter((id) => gold.has(id)).sort((x, y) => x - y);
  agree.push({ file: f, ...agreement(gold, second, both),
               // the second labeller scored as if it were a detector: the humans' own F1
               human_vs_human: (({ micro, sentiment_accuracy }) => ({ micro_f1: micro.f1, sentiment_accuracy }))(score(gold, second, both)) });
}

let robustness = null;
const robFile = path.join(dir, 'robustness.jsonl');
if (fs.existsSync(robFile)) {
  const rows = readJsonl(robFile);
  for (const r of rows) {
    checkEntry(robFile, r);
    if (typeof r.text !== 'string' || !['great', 'other'].includes(r.label)) throw new Error(`robustness.jsonl id ${r.id}: needs text and label great|other`);
  }
  const rGold = new Map(rows.map((r) => [r.id, r.aspects ?? {}]));
  const rp = await predict(rows);
  const right = rows.filter((r) => rp.labels.get(r.id) === r.label).length;
  const counts = rows.reduce((m, r) => m.set(r.label, (m.get(r.label) ?? 0) + 1), new Map());
  const byPhenomenon = {};
  for (const r of rows) {
    for (const ph of r.phenomena ?? []) {
      byPhenomenon[ph] ??= { n: 0, right: 0 };
      byPhenomenon[ph].n++;
      if (rp.labels.get(r.id) === r.label) byPhenomenon[ph].right++;
    }
  }
  robustness = { reviews: rows.length, label_accuracy: right / rows.length, majority_accuracy: Math.max(...counts.values()) / rows.length,
                 by_phenomenon: Object.fromEntries(Object.entries(byPhenomenon).map(([k, v]) => [k, { n: v.n, accuracy: v.right / v.n }])),
                 aspects: score(rGold, rp.aspects, rows.map((r) => r.id)) };
}
await analyzer.dispose();
runtime.dispose();

const out = {
  what: 'review aspects against labels made by reading (bench/aspects/GUIDELINES.md)',
  command: `npm run eval -- aspects${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
  date: new Date().toISOString(), node: process.version, cpus: os.cpus().length,
  detector: values.aspects ? path.relative(root, path.resolve(values.aspects)) : 'DEFAULT_ASPECTS (web/src/review.js keyword rules)',
  model: values.model ?? 'shipped review model', aspect_threshold: values['aspect-threshold'] !== undefined ? Number(values['aspect-threshold']) : 'the facade default', labels: path.relative(root, dir), label_files: labelFiles.map((f) => path.relative(root, f)),
  fine_food: fineFood, agreement: agree, robustness,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(values.out ?? path.join(root, 'bench/results/eval-aspects.json'), JSON.stringify(out, null, 1) + '\n');
console.log(table(out));

function table(o) {
  const f = (x, d = 2) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const lines = [`Reviews labelled by reading (${o.labels}): ${o.fine_food.reviews}; micro-F1 ${f(o.fine_food.micro.f1)} ` +
                 `(precision ${f(o.fine_food.micro.precision)}, recall ${f(o.fine_food.micro.recall)}), macro-F1 ${f(o.fine_food.macro_f1)}, ` +
                 `aspect-sentiment accuracy ${f(o.fine_food.sentiment_accuracy)} (n ${o.fine_food.sentiment_n})`, '',
                 '| aspect | precision | recall | F1 | labelled | sentiment accuracy (n) |', '|---|---|---|---|---|---|'];
  for (const [a, s] of Object.entries(o.fine_food.aspects)) {
    lines.push(`| ${a} | ${f(s.precision)} | ${f(s.recall)} | ${f(s.f1)} | ${s.support} | ${f(s.sentiment_accuracy)} (${s.sentiment_n}) |`);
  }
  for (const g of o.agreement) {
    lines.push('', `Two labellings of ${g.reviews} reviews (${g.file}): Cohen's κ ${f(g.discussed_all)} for "discussed", ` +
               `${f(g.sentiment_all.kappa)} for the sentiment (agreement ${f(g.sentiment_all.agreement)}, n ${g.sentiment_all.n}); ` +
               `one labeller scored against the other: micro-F1 ${f(g.human_vs_human.micro_f1)}, sentiment accuracy ${f(g.human_vs_human.sentiment_accuracy)}`);
  }
  if (o.robustness) {
    const r = o.robustness;
    lines.push('', `Robustness set (${r.reviews} reviews written by the team): great/other accuracy ${f(r.label_accuracy)} ` +
               `(majority ${f(r.majority_accuracy)}); aspects micro-F1 ${f(r.aspects.micro.f1)}, sentiment accuracy ${f(r.aspects.sentiment_accuracy)}`,
               '', '| phenomenon | reviews | great/other accuracy |', '|---|---|---|');
    for (const [k, v] of Object.entries(r.by_phenomenon)) lines.push(`| ${k} | ${v.n} | ${f(v.accuracy)} |`);
  }
  return lines.join('\n');
}
