// `vitrine train recommend`: a store's events in, a model for its pages out. The protocol is the
// evaluation's (../shared/DATA.md, strong generalization): users with enough positives are split
// (seeded) into training, validation and test users; a held-out user's random 80% of items are
// folded in and the other 20% ranked among all training items. Baselines (popularity, item-kNN,
// EASE where it fits in memory) and Vitrine's kinds (trained by the wasm engine) are tuned on
// validation users only; the kind with the best validation NDCG@100 that also beats popularity is
// chosen; the report gives everyone's test metrics with standard errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { cooccurrence, ease, gram, itemKnn, pairedDifference, popularity, summarize, topK, userMetrics } from './baselines.mjs';
import { readCatalog, readEvents } from './events.mjs';
import { csvField, mulberry32, sha256File, shuffle } from './util.mjs';

const SEED = 20261128;

/** Each user's distinct items, oldest first (by their first event), from the event columns. */
export function histories(ev) {
  const n = ev.users.ids.length;
  const count = new Int32Array(n + 1);
  for (const u of ev.user) count[u + 1]++;
  for (let u = 0; u < n; u++) count[u + 1] += count[u];
  const order = new Int32Array(ev.user.length);
  const fill = count.slice(0, n);
  for (let e = 0; e < ev.user.length; e++) order[fill[ev.user[e]]++] = e;
  const out = new Array(n);
  let duplicates = 0;
  for (let u = 0; u < n; u++) {
    const events = Array.from(order.subarray(count[u], count[u + 1]));
    events.sort((a, b) => ev.time[a] - ev.time[b] || a - b);
    const seen = new Set();
    const h = [];
    for (const e of events) {
      if (seen.has(ev.item[e])) { duplicates++; continue; }
      seen.add(ev.item[e]);
      h.push(ev.item[e]);
    }
    out[u] = h;
  }
  return { histories: out, duplicates };
}

/** Users split into train / validation / test; held-out users' items split 80 / 20. */
export function split(all, { minPositives = 5, heldOut = 0.1, seed = SEED } = {}) {
  const rand = mulberry32(seed);
  const eligible = [];
  for (let u = 0; u < all.length; u++) if (all[u].length >= minPositives) eligible.push(u);
  shuffle(eligible, rand);
  const n = Math.min(Math.max(1, Math.round(heldOut * eligible.length)), Math.floor(eligible.length / 4));
  if (n < 2) throw new Error(`too few users with >= ${minPositives} items to choose and measure a model (${eligible.length}); need at least 8`);
  const val = new Set(eligible.slice(0, n)), test = new Set(eligible.slice(n, 2 * n));
  const train = [], valUsers = [], testUsers = [];
  for (let u = 0; u < all.length; u++) {
    if (!val.has(u) && !test.has(u)) train.push(u);
  }
  const holdOut = (u) => {  // a random 20% to find; the rest folded in in time order (as on the device)
    const k = Math.max(1, Math.round(0.2 * all[u].length));
    const targets = shuffle([...all[u]], rand).slice(0, k);
    const held = new Set(targets);
    return { user: u, foldIn: all[u].filter((i) => !held.has(i)), targets };
  };
  for (const u of eligible.slice(0, n)) valUsers.push(holdOut(u));
  for (const u of eligible.slice(n, 2 * n)) testUsers.push(holdOut(u));
  return { train, val: valUsers, test: testUsers };
}

function flat(lists) {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => { offsets[i + 1] = offsets[i] + l.length; });
  const items = new Int32Array(offsets[lists.length]);
  lists.forEach((l, i) => items.set(l, offsets[i]));
  return { items, offsets };
}

function evaluate(model, users) {
  return users.map(({ foldIn, targets }) => userMetrics(topK(model.score(foldIn), 100, new Set(foldIn)), targets));
}

// The on-device ranking of a trained model: fold in, rank 100 with the history excluded.
function rankerFor(module, bytes, itemIndex) {
  const h = new module.RecommenderHandle();
  if (h.load(bytes, 'f32') !== 0) {
    const e = h.lastError();
    h.delete();
    throw new Error(`trained model does not load: ${e}`);
  }
  return {
    ranked(foldIn) {
      const items = Int32Array.from(foldIn);
      if (h.foldIn(items, new Float32Array(items.length).fill(1)) !== 0) throw new Error(h.lastError());
      const out = h.rank({ k: 100, history: items, excludeSeen: true, explain: false });
      if (out === null) throw new Error(h.lastError());
      return out.map((r) => itemIndex.get(r.id));
    },
    dispose() { h.delete(); },
  };
}

// Parameters of a kind at `dim` (f16 weights in the file: 2 bytes each, plus the item ids).
function estimateBytes(c, numItems) {
  if (c.kind === 'mult-dae') return 2 * (2 * numItems * c.dim + numItems + c.dim);
  if (c.kind === 'linear') return 2 * numItems * (c.dim + 2);  // one table, a fold scale and a bias per item
  if (c.kind === 'mf-bpr') return 2 * numItems * (c.dim + 1);
  return 2 * (numItems * c.embeddingDim + 3 * c.dim * (c.embeddingDim + c.dim) + numItems * (c.dim + 1));
}

// The kinds tried, best first by the evaluation's experience; dims shrink to fit the byte cap.
function candidates(itemIds, maxBytes) {
  const numItems = itemIds.length;
  // linear: EASE / EDLAE in closed form (no epochs), a few regularizations; its width shrinks to
  // the cap like the others' (exact when the training users are at most dim).
  const list = [
    { kind: 'linear', dim: 2048, l2: 100, dropout: 0.1 },
    { kind: 'linear', dim: 2048, l2: 20, dropout: 0.1 },
    { kind: 'linear', dim: 2048, l2: 500, dropout: 0.1 },
    { kind: 'mult-dae', dim: 200, dropout: 0.5, learningRate: 1e-3, epochs: 200, evalEvery: 5, batchSize: 100 },
    { kind: 'mf-bpr', dim: 64, learningRate: 5e-3, epochs: 300, evalEvery: 10, batchSize: 1024, foldInEpochs: 60, foldInLr: 3.0, foldInL2: 0.001 },
    { kind: 'mult-dae', dim: 600, dropout: 0.5, learningRate: 1e-3, epochs: 200, evalEvery: 5, batchSize: 100 },
    { kind: 'gru4rec', dim: 100, embeddingDim: 64, learningRate: 2e-3, epochs: 30, evalEvery: 2, batchSize: 64, maxLength: 25 },
  ];
  const out = [];
  // The file's header: item ids as JSON, the architecture and names (measured ~14 KB besides the ids).
  const idBytes = itemIds.reduce((sum, id) => sum + Buffer.byteLength(JSON.stringify(id)) + 1, 24576);
  for (const c of list) {
    const d = { ...c };
    while (estimateBytes(d, numItems) + idBytes > maxBytes && d.dim > 16) {  // the largest dim that fits
      d.dim = Math.max(16, d.dim - Math.max(1, Math.floor(d.dim / 10)));
      if (d.embeddingDim) d.embeddingDim = Math.min(d.embeddingDim, d.dim);
    }
    if (estimateBytes(d, numItems) + idBytes > maxBytes) continue;
    if (!out.some((o) => sameCandidate(o, d))) out.push(d);
  }
  return out;
}

// Two candidates are the same when kind, width and (linear) regularization agree.
const sameCandidate = (a, b) => a.kind === b.kind && a.dim === b.dim && a.l2 === b.l2 && a.dropout === b.dropout;

// Seconds a linear fit takes in wasm, roughly: the randomized path's products, orthonormalizations
// and small eigenproblem at ~0.3 G double operations per second (the exact path is cheaper).
function linearSeconds(c, numItems, interactions) {
  const k = Math.min(c.dim + 16, numItems);
  return (24 * interactions * k + 20 * numItems * k * k + 60 * k ** 3) / 3e8;
}

const fmt = (s) => `${s.mean.toFixed(4)} ± ${s.se.toFixed(4)}`;

/**
 * Runs the whole command. args: { events, catalog?, out, maxMinutes, maxModelBytes, minWeight,
 * minPositives, licence, threads, log(line), progress(text) }.
 */
export async function trainRecommend(args, runtime) {
  let t0 = Date.now();
  const budgetMs = args.maxMinutes * 60000;
  const elapsed = () => (Date.now() - t0) / 1000;
  const log = args.log;
  fs.mkdirSync(args.out, { recursive: true });
  for (const f of ['model.safetensors', 'catalog.json', 'MODEL_CARD.md', 'report.json', 'report.md']) fs.rmSync(path.join(args.out, f), { force: true });
  const refusedFile = path.join(args.out, 'refused-rows.csv');
  const refusedOut = fs.createWriteStream(refusedFile);
  refusedOut.write('file,line,reason\n');
  let shown = 0;
  const onRefused = (file) => ({ line, reason }) => {
    refusedOut.write(`${csvField(path.basename(file))},${line},${csvField(reason)}\n`);
    if (shown++ < 10) log(`  refused ${path.basename(file)} line ${line}: ${reason}`);
  };

  log(`reading ${args.events}`);
  const ev = await readEvents(args.events, {
    minWeight: args.minWeight, columns: args.columns, onRefused: onRefused(args.events),
    onProgress: (done, total) => args.progress(`reading events ${Math.round((100 * done) / total)}%`),
  });
  const s = ev.summary;
  log(`events: ${s.rows} rows, ${s.kept} kept, ${s.belowMinWeight} below the minimum weight, ${s.refused} refused` +
      (s.refused ? ` (${Object.entries(s.reasons).map(([r, n]) => `${n} ${r}`).join('; ')}; all in ${refusedFile})` : ''));
  let catalog = null;
  if (args.catalog) {
    catalog = await readCatalog(args.catalog, { onRefused: onRefused(args.catalog) });
    log(`catalogue: ${catalog.summary.kept} products, ${catalog.summary.refused} rows refused`);
  }
  await new Promise((r) => refusedOut.end(r));

  const { histories: all, duplicates } = histories(ev);
  log(`${ev.users.ids.length} users, ${ev.items.ids.length} items; ${duplicates} repeated user-item events merged (first time kept)`);
  const sp = split(all, { minPositives: args.minPositives, seed: SEED });
  // The model's catalogue: items of training users. Held-out users keep only those.
  const itemMap = new Map();
  const trainLists = sp.train.map((u) => all[u].map((i) => {
    let j = itemMap.get(i);
    if (j === undefined) { j = itemMap.size; itemMap.set(i, j); }
    return j;
  })).filter((h) => h.length > 0);
  const itemIds = new Array(itemMap.size);
  for (const [i, j] of itemMap) itemIds[j] = ev.items.ids[i];
  const numItems = itemIds.length;
  let unseen = 0;
  const remap = (users) => users.map((x) => {
    const f = x.foldIn.filter((i) => itemMap.has(i)).map((i) => itemMap.get(i));
    const t = x.targets.filter((i) => itemMap.has(i)).map((i) => itemMap.get(i));
    unseen += x.foldIn.length + x.targets.length - f.length - t.length;
    return { foldIn: f, targets: t };
  }).filter((x) => x.foldIn.length > 0 && x.targets.length > 0);
  const val = remap(sp.val), test = remap(sp.test);
  log(`split (seed ${SEED}): ${trainLists.length} training users, ${val.length} validation, ${test.length} test users ` +
      `(>= ${args.minPositives} items; 80% folded in, 20% to find); ${numItems} items in the model; ` +
      `${unseen} held-out events on items no training user has, left out`);
  if (val.length < 2 || test.length < 2) throw new Error('too few held-out users to choose and measure a model');

  // Checkpoints: after the baselines and after every trained model, so that --resume continues an
  // interrupted run (same data and settings) without redoing that work or overspending the budget.
  const key = JSON.stringify({ events: await sha256File(args.events), columns: args.columns, minWeight: args.minWeight, minPositives: args.minPositives,
    maxModelBytes: args.maxModelBytes, easeMaxItems: args.easeMaxItems, maxMinutes: args.maxMinutes, seed: SEED });
  const ckDir = path.join(args.out, 'checkpoint');
  let resumed = null;
  if (args.resume && fs.existsSync(path.join(ckDir, 'state.json'))) {
    const state = JSON.parse(fs.readFileSync(path.join(ckDir, 'state.json'), 'utf8'));
    if (state.key === key) resumed = state;
    else log('  --resume: the checkpoint is for other data or settings; starting afresh');
  } else if (args.resume) {
    log('  --resume: no checkpoint in the output folder; starting afresh');
  }
  if (!resumed) fs.rmSync(ckDir, { recursive: true, force: true });
  const withPerUser = (summary, perUser) => Object.defineProperty(summary, 'ndcg100PerUser', { value: perUser, enumerable: false });
  const saveCheckpoint = (baselineResults, trainedList) => {
    fs.mkdirSync(ckDir, { recursive: true });
    trainedList.forEach((t, n) => { if (!t.file) { t.file = `model-${n}.safetensors`; fs.writeFileSync(path.join(ckDir, t.file), t.model); } });
    const plain = (r) => ({ ...r, model: undefined, valPerUser: r.validation.ndcg100PerUser, testPerUser: r.test.ndcg100PerUser });
    const state = { key, spentSeconds: elapsed(), baselines: baselineResults.map(plain), trained: trainedList.map(plain) };
    fs.writeFileSync(path.join(ckDir, 'state.json.tmp'), JSON.stringify(state));
    fs.renameSync(path.join(ckDir, 'state.json.tmp'), path.join(ckDir, 'state.json'));  // a kill never leaves half a state
  };
  const restore = (r) => {
    const { valPerUser, testPerUser, ...rest } = r;
    withPerUser(rest.validation, valPerUser);
    withPerUser(rest.test, testPerUser);
    return rest;
  };

  // Baselines, tuned on validation users.
  const results = resumed ? resumed.baselines.map(restore) : [];
  if (resumed) {
    t0 = Date.now() - 1000 * resumed.spentSeconds;
    log(`  resumed from the checkpoint: ${results.length} baselines and ${resumed.trained.length} trained models kept, ${resumed.spentSeconds.toFixed(0)} s of the budget spent`);
  }
  const tune = (name, build, grid) => {
    let best = null;
    for (const p of grid) {
      const m = build(p);
      const v = summarize(evaluate(m, val));
      if (!best || v.ndcg100.mean > best.val.ndcg100.mean) best = { model: m, val: v };
    }
    const t = summarize(evaluate(best.model, test));
    results.push({ name, kind: 'baseline', params: best.model.params, validation: best.val, test: t });
    log(`  ${name} ${JSON.stringify(best.model.params)}: validation NDCG@100 ${fmt(best.val.ndcg100)}, test ${fmt(t.ndcg100)}  (${elapsed().toFixed(0)} s)`);
  };
  if (!resumed) {
    args.progress('baselines', elapsed() / (budgetMs / 1000));
    tune('popularity', () => popularity(trainLists, numItems), [{}]);
    const pairCount = trainLists.reduce((sum, h) => sum + Math.min(h.length, 300) ** 2, 0);
    let cooc = null;
    if (pairCount <= 5e7) {
      cooc = cooccurrence(trainLists, numItems);
      tune('item-knn', (p) => itemKnn(cooc, numItems, p),
        [10, 50, 100, 200, 400].flatMap((neighbors) => [0, 10, 50].map((shrink) => ({ neighbors, shrink }))));
    } else {
      log(`  item-knn: skipped (${pairCount.toExponential(1)} co-occurrence updates: too many for this command's memory)`);
    }
    // EASE inverts an items × items matrix per λ: as many λs as fit a quarter of the budget.
    const easeSeconds = numItems ** 3 / 1.2e9;  // ~n³/2 multiply-adds at ~0.6 G/s in V8 (measured on 2 cores)
    const lambdas = [100, 500, 20, 2000, 50, 1000, 200].slice(0, Math.floor((0.25 * budgetMs / 1000) / Math.max(easeSeconds, 1e-3)));
    if (cooc && numItems <= args.easeMaxItems && lambdas.length) {
      const g = gram(cooc, numItems);
      tune('ease', (p) => ease(g, numItems, p), lambdas.map((lambda) => ({ lambda })));
    } else {
      log(`  ease: skipped (${numItems} items: ${numItems > args.easeMaxItems ? `more than --ease-max-items ${args.easeMaxItems}` : 'its inversions would not fit the budget'})`);
    }
    cooc = null;
    log(`  baselines took ${elapsed().toFixed(0)} s of the ${(budgetMs / 1000).toFixed(0)} s budget`);
    saveCheckpoint(results, []);
  }

  // Vitrine's kinds under the remaining budget.
  const trainFlat = flat(trainLists), valFolds = flat(val.map((x) => x.foldIn)), valTargets = flat(val.map((x) => x.targets));
  const kinds = candidates(itemIds, args.maxModelBytes);
  const itemIndex = new Map(itemIds.map((id, j) => [id, j]));
  const trainer = new runtime._module.RecTrainerHandle();
  const trained = resumed ? resumed.trained.map((t) => ({ ...restore(t), model: new Uint8Array(fs.readFileSync(path.join(ckDir, t.file))) })) : [];
  const done = (k, stage) => trained.some((t) => t.stage === stage && sameCandidate(t.params, k));
  const trainOne = (k, seconds, stage) => {
    const label = `${k.kind} dim ${k.dim}${k.l2 !== undefined ? ` l2 ${k.l2}` : ''} (${stage})`;
    const r = trainer.train({
      histories: trainFlat.items, offsets: trainFlat.offsets, itemIds,
      options: { ...k, maxSeconds: seconds, seed: SEED },
      validation: { histories: valFolds.items, offsets: valFolds.offsets, targets: valTargets.items, targetOffsets: valTargets.offsets, k: 100 },
      half: true,
      metadata: { data_licence: args.licence, trained_by: 'vitrine train recommend' },
      onEpoch: (epoch, loss, v) => {
        try {  // nothing may throw through the engine
          args.progress(`${label}: epoch ${epoch}, loss ${loss.toFixed(4)}` +
            (Number.isNaN(v) ? '' : `, validation NDCG@100 ${v.toFixed(4)}`) + `  [${elapsed().toFixed(0)} / ${(budgetMs / 1000).toFixed(0)} s]`,
          elapsed() / (budgetMs / 1000));
        } catch { /* progress is best effort */ }
      },
    });
    if (r === null) { log(`  ${label}: training failed: ${trainer.lastError()}`); return null; }
    const bytes = r.model;
    const ranker = rankerFor(runtime._module, bytes, itemIndex);
    let v, t;
    try {
      const measure = (users) => summarize(users.map(({ foldIn, targets }) => userMetrics(ranker.ranked(foldIn), targets)));
      v = measure(val);
      t = measure(test);
    } finally {
      ranker.dispose();
    }
    log(`  vitrine ${label}: best epoch ${r.bestEpoch} of ${r.losses.length} in ${r.seconds.toFixed(0)} s, ${bytes.length} bytes; ` +
        `validation NDCG@100 ${fmt(v.ndcg100)}, test ${fmt(t.ndcg100)}`);
    const out = { name: `vitrine-${k.kind}`, kind: k.kind, stage, params: k, epochs: r.bestEpoch, seconds: r.seconds, bytes: bytes.length, validation: v, test: t, model: bytes };
    trained.push(out);
    saveCheckpoint(results, trained);
    return out;
  };
  try {
    // The linear fits first (closed form, seconds each) within 15% of the budget, then every
    // iterative kind probed on an equal share, then what is left to the best one.
    const reserve = Math.min(30, 0.1 * budgetMs / 1000);  // seconds kept for measuring and writing
    const linearBudget = 0.15 * (budgetMs / 1000 - elapsed() - reserve);
    let linearSpent = 0;
    for (const k of kinds.filter((c) => c.kind === 'linear')) {
      const label = `linear dim ${k.dim} l2 ${k.l2}`;
      if (done(k, 'probe')) { log(`  ${label}: probe kept from the checkpoint`); continue; }
      const guess = linearSeconds(k, numItems, trainFlat.items.length);
      if (linearSpent + guess > linearBudget) { log(`  ${label}: skipped (its closed-form fit would overrun 15% of the budget)`); continue; }
      const t = trainOne(k, 0, 'probe');
      linearSpent += t ? t.seconds : guess;
    }
    const iterative = kinds.filter((c) => c.kind !== 'linear');
    const probeTotal = 0.45 * (budgetMs / 1000 - elapsed() - reserve);
    for (let c = 0; c < iterative.length; c++) {
      const share = probeTotal / iterative.length;
      if (share < 2) { log(`  ${iterative[c].kind} dim ${iterative[c].dim}: skipped (the --max-minutes budget is spent)`); continue; }
      if (done(iterative[c], 'probe')) { log(`  ${iterative[c].kind} dim ${iterative[c].dim}: probe kept from the checkpoint`); continue; }
      trainOne(iterative[c], share, 'probe');
    }
    // The rest of the budget goes to the best iterative kind (a linear fit has nothing to continue).
    const leader = trained.filter((t) => t.bytes <= args.maxModelBytes && t.kind !== 'linear')
      .sort((a, b) => b.validation.ndcg100.mean - a.validation.ndcg100.mean)[0];
    const left = budgetMs / 1000 - elapsed() - reserve;
    if (trained.some((t) => t.stage === 'long run')) log('  long run kept from the checkpoint');
    else if (leader && left > 1.5 * leader.seconds) trainOne({ ...leader.params, epochs: 100000 }, left, 'long run');
  } finally {
    trainer.delete();
  }

  // The choice: best validation NDCG@100 among trained kinds within the byte cap that beats popularity.
  const pop = results.find((r) => r.name === 'popularity');
  const fits = trained.filter((t) => t.bytes <= args.maxModelBytes);
  fits.sort((a, b) => b.validation.ndcg100.mean - a.validation.ndcg100.mean);
  // Above popularity by more than one standard error of the paired difference on validation users.
  const abovePopularity = (t) => {
    const d = pairedDifference(t.validation.ndcg100PerUser, pop.validation.ndcg100PerUser);
    t.overPopularity = d;
    return d.mean > d.se;
  };
  const chosen = fits.find(abovePopularity) ?? null;
  for (const t of trained) results.push({ name: `${t.name} (${t.stage})`, kind: t.kind, params: t.params, epochs: t.epochs, seconds: t.seconds, bytes: t.bytes,
    validation: t.validation, test: t.test, chosen: t === chosen, validationOverPopularity: t.overPopularity,
    refused: t.bytes > args.maxModelBytes ? 'over --max-model-bytes'
      : t.overPopularity && !(t.overPopularity.mean > t.overPopularity.se) ? 'not above popularity on validation users by one standard error' : undefined });

  const report = {
    command: args.command, date: new Date().toISOString(), seconds: elapsed(),
    data: { events: path.resolve(args.events), sha256: await sha256File(args.events), licence: args.licence, summary: ev.summary,
      users: ev.users.ids.length, items: ev.items.ids.length, duplicates, catalog: catalog?.summary ?? null },
    split: { seed: SEED, minPositives: args.minPositives, train: trainLists.length, validation: val.length, test: test.length, items: numItems,
      protocol: 'strong generalization: held-out users, a random 20% of their items to find among every item of the training users (their other items folded in, in time order, and excluded); events on items no training user has are left out' },
    maxModelBytes: args.maxModelBytes, results, chosen: chosen ? chosen.name : null,
    machine: { cpus: os.cpus().length, node: process.version, threads: args.threads },
  };
  fs.writeFileSync(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  const table = ['| model | params | validation NDCG@100 | test NDCG@10 | test NDCG@100 | test Recall@20 | test Recall@50 | bytes |', '|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    table.push(`| ${r.name}${r.chosen ? ' (chosen)' : ''} | ${JSON.stringify(r.params).replace(/\|/g, '/')} | ${fmt(r.validation.ndcg100)} | ${fmt(r.test.ndcg10)} | ` +
      `${fmt(r.test.ndcg100)} | ${fmt(r.test.recall20)} | ${fmt(r.test.recall50)} | ${r.bytes ?? ''} |`);
  }
  fs.writeFileSync(path.join(args.out, 'report.md'), `# Training report\n\n${report.split.protocol}; ${val.length} validation and ${test.length} test users; mean ± standard error.\n\n${table.join('\n')}\n`);
  if (!chosen) {
    throw new Error('no Vitrine model beat popularity on the validation users within the budget and byte cap; ' +
      `nothing written but the report (${path.join(args.out, 'report.md')}). Try a larger --max-minutes or --max-model-bytes.`);
  }
  fs.writeFileSync(path.join(args.out, 'model.safetensors'), chosen.model);
  const info = new Map((catalog?.items ?? []).map((p) => [p.id, p]));
  const items = itemIds.map((id) => info.get(id) ?? { id });
  const missing = itemIds.filter((id) => !info.has(id)).length;
  fs.writeFileSync(path.join(args.out, 'catalog.json'), JSON.stringify(items) + '\n');  // createRecommender({ catalog })
  const best = (name) => results.find((r) => r.name === name);
  const lines = [
    `# Model card: ${chosen.kind} recommender (model.safetensors)`, '',
    `- **What**: a \`${chosen.kind}\` recommender (${JSON.stringify(chosen.params)}; best epoch ${chosen.epochs}), ${chosen.bytes} bytes (f16 weights), ${numItems} items.`,
    `- **Command**: \`${args.command}\` (${new Date().toISOString()}, ${elapsed().toFixed(0)} s on ${os.cpus().length} cores).`,
    `- **Data**: \`${path.basename(args.events)}\` (sha256 ${report.data.sha256.slice(0, 16)}…), licence: ${args.licence}. ${ev.summary.kept} events kept of ${ev.summary.rows} rows ` +
      `(${ev.summary.refused} refused, listed in refused-rows.csv; ${ev.summary.belowMinWeight} below the minimum weight).`,
    `- **Split**: ${report.split.protocol}; seed ${SEED}; ${trainLists.length} training, ${val.length} validation, ${test.length} test users. The kind and its epochs were chosen on validation users only; the shipped file is the model measured below (trained on the training users).`,
    `- **Catalogue**: catalog.json (${items.length} items${catalog ? `, ${missing} of them not in the catalogue file` : ''}).`,
    '', '## Test metrics (mean ± standard error over test users)', '', ...table, '',
    `Chosen: ${chosen.name} — test NDCG@100 ${fmt(chosen.test.ndcg100)} vs popularity ${fmt(best('popularity').test.ndcg100)}` +
      (best('item-knn') ? `, item-kNN ${fmt(best('item-knn').test.ndcg100)}` : ' (item-kNN skipped: too many co-occurrences)') +
      (best('ease') ? `, EASE ${fmt(best('ease').test.ndcg100)}.` : ' (EASE skipped: too many items).'), '',
  ];
  fs.writeFileSync(path.join(args.out, 'MODEL_CARD.md'), lines.join('\n'));
  fs.rmSync(ckDir, { recursive: true, force: true });  // finished: nothing to resume
  return report;
}

/**
 * Runs `vitrine eval recommend`: a saved model on an events file, by the training report's
 * protocol applied to every user there with >= minPositives items the model knows: a seeded
 * random 20% of each history to find, the rest folded in (time order) and excluded; popularity
 * (counted on the folded-in histories of the other users) as the baseline beside it.
 * args: { model, events, columns, minWeight, minPositives, log, progress }.
 */
export async function evalRecommend(args, runtime) {
  const bytes = new Uint8Array(fs.readFileSync(args.model));
  const probe = new runtime._module.RecommenderHandle();
  let itemIds;
  try {
    if (probe.load(bytes, 'f32') !== 0) throw new Error(`${args.model}: ${probe.lastError()}`);
    itemIds = Array.from({ length: probe.numItems() }, (_, j) => probe.itemId(j));
  } finally {
    probe.delete();
  }
  const refused = { rows: 0, reasons: {} };
  const ev = await readEvents(args.events, { minWeight: args.minWeight, columns: args.columns,
    onRefused: ({ reason }) => { refused.rows++; refused.reasons[reason] = (refused.reasons[reason] ?? 0) + 1; },
    onProgress: (done, total) => args.progress(`reading events ${Math.round((100 * done) / total)}%`) });
  const { histories: all } = histories(ev);
  const index = new Map(itemIds.map((id, j) => [id, j]));
  const rand = mulberry32(SEED);
  let unknown = 0;
  const users = [];
  for (const h of all) {
    const known = h.filter((i) => index.has(ev.items.ids[i])).map((i) => index.get(ev.items.ids[i]));
    unknown += h.length - known.length;
    if (known.length < args.minPositives) continue;
    const k = Math.max(1, Math.round(0.2 * known.length));
    const targets = shuffle([...known], rand).slice(0, k);
    const held = new Set(targets);
    users.push({ foldIn: known.filter((i) => !held.has(i)), targets });
  }
  if (users.length < 2) throw new Error(`fewer than 2 users have >= ${args.minPositives} items this model knows`);
  const ranker = rankerFor(runtime._module, bytes, index);
  const perUser = [];
  try {
    users.forEach(({ foldIn, targets }, u) => {
      if (u % 50 === 0) args.progress(`ranking user ${u} of ${users.length}`);
      perUser.push(userMetrics(ranker.ranked(foldIn), targets));
    });
  } finally {
    ranker.dispose();
  }
  // Popularity from everyone's folded-in items. Leaving the user's own out would only lower the
  // counts of items the ranking excludes anyway, so one count serves every user.
  const counts = new Float64Array(itemIds.length);
  for (const x of users) for (const i of x.foldIn) counts[i]++;
  const pop = users.map(({ foldIn, targets }) => userMetrics(topK(counts, 100, new Set(foldIn)), targets));
  const model = summarize(perUser), popularityScores = summarize(pop);
  return {
    model: path.resolve(args.model), events: path.resolve(args.events), users: users.length, items: itemIds.length,
    eventsOnUnknownItems: unknown, refused, summary: ev.summary,
    protocol: 'every user with enough known items: a seeded random 20% to find among all the model\'s items, the rest folded in (time order) and excluded',
    metrics: Object.fromEntries(['ndcg10', 'ndcg100', 'recall20', 'recall50'].map((m) => [m, model[m]])),
    popularity: Object.fromEntries(['ndcg10', 'ndcg100', 'recall20', 'recall50'].map((m) => [m, popularityScores[m]])),
    overPopularity: pairedDifference(model.ndcg100PerUser, popularityScores.ndcg100PerUser),
  };
}

/**
 * Runs `vitrine compact`: a trained model as a compact file (no training graph; item rows as
 * F16/F32 floats, int8 or product-quantized), with the content map that places new products
 * (addItems) when a catalogue is given. args: { model, out, rows, fold, f32, catalog?, buckets,
 * lambda, log }. Returns { items, bytes, content }.
 */
export async function compactModel(args, runtime) {
  const h = new runtime._module.RecommenderHandle();
  try {
    if (h.load(new Uint8Array(fs.readFileSync(args.model)), 'f32') !== 0) throw new Error(`${args.model}: ${h.lastError()}`);
    let content = null;
    if (args.catalog) {
      const { items, summary } = await readCatalog(args.catalog);
      if (h.fitContent(JSON.stringify(items), args.buckets, args.lambda) !== 0) throw new Error(`${args.catalog}: ${h.lastError()}`);
      content = { products: summary.kept };
      args.log(`content map fitted on the model's products among the ${summary.kept} read from ${path.basename(args.catalog)} ` +
               `(${summary.refused} rows refused)`);
    }
    const bytes = h.saveCompact(args.rows, args.fold, !args.f32);
    if (!bytes) throw new Error(h.lastError());
    fs.writeFileSync(args.out, bytes);
    return { items: h.numItems(), bytes: bytes.length, content };
  } finally {
    h.delete();
  }
}

/**
 * Runs `vitrine delta`: the item delta that turns the model `from` into `to`'s items (added,
 * removed and changed rows), which a page applies with applyDelta() instead of downloading `to`.
 * args: { from, to, out, tolerance, half }. Returns { bytes }.
 */
export async function itemDelta(args, runtime) {
  const h = new runtime._module.RecommenderHandle();
  try {
    if (h.load(new Uint8Array(fs.readFileSync(args.from)), 'f32') !== 0) throw new Error(`${args.from}: ${h.lastError()}`);
    const bytes = h.deltaTo(new Uint8Array(fs.readFileSync(args.to)), args.tolerance, args.half);
    if (!bytes) throw new Error(`${args.to}: ${h.lastError()}`);
    fs.writeFileSync(args.out, bytes);
    return { bytes: bytes.length };
  } finally {
    h.delete();
  }
}
