#!/usr/bin/env node
// npm run bench -- recommend [--runs N] [--passes P] [--k K] [--model PATH] [--dim D] [--sizes N,N,..] [--quick] [--skip-peers]
//                            [--out FILE] [--verbose]
// Latency of the recommender's two hot paths, in one run, on the same machine:
//   fold-in    the shipped model (--model, default models/recommend/movielens.safetensors) through
//              the facade: createRecommender({ model }), importState() of a history of 10 / 100 /
//              1000 'view' events (items drawn from itemIds() with a fixed-seed LCG, repeats
//              allowed), then await rec.personalize() timed; also await rec.recommend({ k: 10, explain: false })
//              on the model's own catalogue with the 100-event history
//   recommend  score a whole synthetic catalogue (10k / 100k / 1M items × --dim, default 64; rows,
//              bias and user vector random normal with a fixed seed) and take its top --k (default 100):
//     vitrine          the low-level RecommenderHandle (loadTable, setUserVector, then
//                      rank({ k }) timed: the ranking pipeline, ids and scores), item table stored as
//                      f32, f16 and int8; simd (1 thread), simd-threads (1 and 2 threads)
//     plain-js         the floor a storefront engineer would write: a Float32Array table, one loop of
//                      dot products into a Float64Array, a k-item min-heap (1 thread)
//     onnxruntime-web  wasm backend, 1 and 2 threads: ONNX models written here in two forms,
//                      MatMul(table[n,d], user[d,1]) and MatMul(user[1,d], tableT[d,n]) (the
//                      table a pre-transposed initializer), → Reshape → Add(bias) → TopK(k)
//     tfjs-wasm        @tensorflow/tfjs-backend-wasm, 1 and 2 threads (2 forced as in
//                      mobilenet.mjs): tf.topk(matMul(table, u).reshape([n]).add(bias), k), and
//                      matMul(u[1,d], tableT[d,n]) with the table transposed once; the values and
//                      indices read back; tensors kept across runs. Ratios use each peer's fastest form.
// Every configuration (engine, variant, threads, catalogue size) runs in its own child process
// (this file with --child '<JSON config>'), and the whole list of configurations runs --passes
// times (default 3) one after another, so that the engines compared alternate in time. Per pass:
// the median, p10 and p90 over --runs timed runs (default 200; a fifth of that at 1M items) after
// warm-up; reported: the median of the pass medians and their spread (min..max), and every ratio
// per pass (against the same pass's peer), then its median and spread. Bandwidth = the bytes a
// scoring pass reads (table values, per-row scales, bias) / the median time. The peers' top k are
// checked against Vitrine's f32 top k on the same table and user (ties aside: equal exact scores
// position by position), and Vitrine's against a float64 reference computed here. A peer that fails
// (e.g. out of memory at 1M items) is recorded with its error instead of failing the run.
// Peers are dev dependencies in bench/package.json (scripts/bench.sh installs them).
// Writes bench/results/recommend.json (or --out) and prints a table plus Vitrine/peer latency ratios;
// exits 1 when a Vitrine configuration fails or a ranking disagrees.
// --quick: 10k items and 10 / 100 events only, few runs (a smoke test).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { aggregatePasses, arg, args, flag, loadTfjsWasm, mulberry32, quantile, root } from '../common.mjs';
import { ONNX_FLOAT, ONNX_INT64, nodeProto, onnxModel, pb, tensorProto, valueInfo } from '../onnx-writer.mjs';

const self = fileURLToPath(import.meta.url);

const quick = flag('quick');
const runs = Number(arg('runs', quick ? 20 : 200));
const passes = Number(arg('passes', quick ? 1 : 3));
const warmup = quick ? 3 : 10;
const dim = Number(arg('dim', 64));
const modelPath = path.resolve(arg('model', path.join(root, 'models/recommend/movielens.safetensors')));
const SIZES = arg('sizes', '') ? arg('sizes').split(',').map(Number) : quick ? [10_000] : [10_000, 100_000, 1_000_000];
const EVENTS = quick ? [10, 100] : [10, 100, 1000];
const MODEL_RECOMMEND_EVENTS = 100;  // the history await rec.recommend() is timed with on the shipped model
const PRECISIONS = ['f32', 'f16', 'int8'];
const K = Number(arg('k', 100));
const SEED = 20261128;
const TIE_TOLERANCE = 1e-5;  // float64 score difference under which two rankings count as tied
const CRITERIA = { foldin_100_ms: 5, topk_100k_ms: 3,
  // issue 21: ratios to the fastest peer form at 100k items, medians over the passes
  f32_1t_ratio: 0.9, f32_2t_ratio: 0.7, int8_1t_ratio_to_f32_peer: 0.4, int8_recall: 0.98 };

// Fewer timed runs where one run takes tens of milliseconds. The parent puts runs, warm-up and the
// history lengths into each child's config: the children do not see the command-line flags.
const runsFor = (items) => (items >= 1_000_000 ? Math.max(5, Math.round(runs / 5)) : runs);
const warmupFor = (items) => (items >= 1_000_000 ? Math.min(warmup, 3) : warmup);

// ---------------------------------------------------------------------------------------------
// deterministic data: synthetic catalogues, histories, and a float64 reference ranking

// `count` normal(0, scale²) floats (Box–Muller).
function normals(rand, count, scale) {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand())) * scale;
    const a = 2 * Math.PI * rand();
    out[i] = r * Math.cos(a);
    if (i + 1 < count) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

// rows (n, d) ~ N(0, 1), bias (n) ~ N(0, 0.1²), user (d) ~ N(0, 1/d): scores are roughly N(0, 1).
// Separate streams, so the 10k table is the first rows of the 1M one.
function syntheticCatalogue(n, d) {
  return {
    rows: normals(mulberry32(SEED), n * d, 1),
    bias: normals(mulberry32(SEED + 2), n, 0.1),
    user: normals(mulberry32(SEED + 1), d, 1 / Math.sqrt(d)),
  };
}

// The exact (float64) score of item i.
function exactScore({ rows, bias, user }, d, i) {
  let s = bias[i];
  for (let j = 0; j < d; j++) s += rows[i * d + j] * user[j];
  return s;
}

// The exact top k: items and float64 scores, best first, equal scores by lower index.
function exactTopK(cat, n, d, k) {
  const top = [];  // [score, item], kept sorted best first
  for (let i = 0; i < n; i++) {
    const s = exactScore(cat, d, i);
    if (top.length === k && s <= top[k - 1][0]) continue;
    let at = top.length;
    while (at > 0 && top[at - 1][0] < s) at--;
    top.splice(at, 0, [s, i]);
    if (top.length > k) top.pop();
  }
  return { items: top.map((t) => t[1]), scores: top.map((t) => t[0]) };
}

// `count` 'view' events on items drawn from `ids` with a 32-bit LCG (Numerical Recipes constants;
// the high bits pick the item). The same seed for every length: shorter histories are prefixes.
function lcgHistory(ids, count) {
  let s = SEED >>> 0;
  const events = [];
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    events.push({ item: ids[Math.floor((s / 4294967296) * ids.length)], type: 'view', weight: 1, time: i });
  }
  return events;
}

// The peers' forms: the item table as given (table[n,d] · user[d,1]) or pre-transposed
// (user[1,d] · tableT[d,n], the table an initializer / a kept tensor already in that layout).
const PEER_FORMS = ['table·user', 'user·tableT'];
function transposed(rows, n, d) {
  const t = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) t[j * n + i] = rows[i * d + j];
  return t;
}

// scores = Reshape(MatMul(table, user), [n]) + bias; values, indices = TopK(scores, k); or with
// form 'user·tableT': Reshape(MatMul(user, tableT), [n]) + bias
function onnxTopKModel({ rows, bias }, n, d, k, form = 'table·user') {
  const userFirst = form === 'user·tableT';
  const graph = pb.msg(  // GraphProto { node = 1, name = 2, initializer = 5, input = 11, output = 12 }
    pb.bytes(1, nodeProto('MatMul', userFirst ? ['user', 'table'] : ['table', 'user'], ['scores_2d'])),
    pb.bytes(1, nodeProto('Reshape', ['scores_2d', 'shape'], ['dots'])),
    pb.bytes(1, nodeProto('Add', ['dots', 'bias'], ['scores'])),
    pb.bytes(1, nodeProto('TopK', ['scores', 'K'], ['values', 'indices'])),  // axis -1, largest, sorted
    pb.str(2, 'recommend_topk'),
    pb.bytes(5, userFirst ? tensorProto('table', ONNX_FLOAT, [d, n], transposed(rows, n, d)) : tensorProto('table', ONNX_FLOAT, [n, d], rows)),
    pb.bytes(5, tensorProto('bias', ONNX_FLOAT, [n], bias)),
    pb.bytes(5, tensorProto('shape', ONNX_INT64, [1], BigInt64Array.of(BigInt(n)))),
    pb.bytes(5, tensorProto('K', ONNX_INT64, [1], BigInt64Array.of(BigInt(k)))),
    pb.bytes(11, valueInfo('user', ONNX_FLOAT, userFirst ? [1, d] : [d, 1])),
    pb.bytes(12, valueInfo('values', ONNX_FLOAT, [k])),
    pb.bytes(12, valueInfo('indices', ONNX_INT64, [k])),
  );
  return onnxModel(graph);
}

// ---------------------------------------------------------------------------------------------
// timing (children)

function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  return { median_ms: quantile(s, 0.5), p10_ms: quantile(s, 0.1), p90_ms: quantile(s, 0.9), runs: s.length };
}

// fn may be synchronous (Vitrine) or return a promise (peers); only promises are awaited, so the
// synchronous calls are timed without a microtask turn.
// Warm-up: at least `warm` calls and WARM_MS of calls (V8 first runs wasm in its baseline tier and
// tiers up hot functions later: a few quick calls would time the baseline code).
const WARM_MS = 500;
async function timeIt(fn, n, warm) {
  const w0 = performance.now();
  for (let i = 0; i < warm || performance.now() - w0 < WARM_MS; i++) {
    const r = fn();
    if (r?.then) await r;
  }
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = fn();
    if (r?.then) await r;
    times.push(performance.now() - t0);
  }
  return stats(times);
}

// ---------------------------------------------------------------------------------------------
// children: one configuration each; they write { records, tops?, reference?, info } to --out

async function vitrineRuntime(variant, threads) {
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
  runtime.setThreads(threads);
  const info = runtime.info();
  if (info.threads !== threads) throw new Error(`vitrine runs ${info.threads} threads, asked for ${threads}`);
  return { runtime, info };
}

// Fold-in latency and recommend() on the shipped model, through the facade.
async function childFoldin({ variant, threads, model, events: lengths, runs: n, warmup: warm }) {
  const { runtime, info } = await vitrineRuntime(variant, threads);
  const rec = await runtime.createRecommender({ model });
  const modelInfo = await rec.info();
  const ids = await rec.itemIds();
  const records = [];
  for (const count of lengths) {
    const events = lcgHistory(ids, count);
    await rec.importState({ version: 1, events });
    const got = await rec.info();
    if (got.events !== count || got.droppedOnLoad !== 0) {
      throw new Error(`importState kept ${got.events} of ${count} events (${got.droppedOnLoad} dropped)`);
    }
    const t = await timeIt(() => rec.personalize(), n, warm);
    records.push({ part: 'foldin', engine: 'vitrine', variant, threads, events: count,
      distinct_items: new Set(events.map((e) => e.item)).size, ...t });
  }
  await rec.importState({ version: 1, events: lcgHistory(ids, MODEL_RECOMMEND_EVENTS) });
  await rec.personalize();
  const top = await rec.recommend({ k: K, explain: false });
  if (top.length !== K) throw new Error(`recommend returned ${top.length} items`);
  const t = await timeIt(() => rec.recommend({ k: K, explain: false }), n, warm);
  records.push({ part: 'model', engine: 'vitrine', variant, threads, precision: rec.precision, items: modelInfo.items,
    dim: modelInfo.dim, events: MODEL_RECOMMEND_EVENTS, ...t });
  await rec.dispose();
  runtime.dispose();
  return {
    records,
    info: { runtime: info, model: { kind: modelInfo.kind, items: modelInfo.items, dim: modelInfo.dim,
      bytes: modelInfo.bytes, precision: modelInfo.precision } },
  };
}

// The RecommenderHandle on a synthetic table, in each precision.
async function childVitrine({ variant, threads, items: n, dim: d, runs: timed, warmup: warm }, cat) {
  const { runtime, info } = await vitrineRuntime(variant, threads);
  const M = runtime._module;
  const records = [];
  const tops = {};
  for (const precision of PRECISIONS) {
    const h = new M.RecommenderHandle();
    try {
      const t0 = performance.now();
      // ids [] = "0".."n-1"; the rows are copied into the wasm heap and converted to `precision`
      if (h.loadTable(cat.rows, n, d, cat.bias, [], precision) !== 0) throw new Error(`loadTable(${precision}): ${h.lastError()}`);
      const loadMs = performance.now() - t0;
      if (h.setUserVector(cat.user) !== 0) throw new Error(`setUserVector: ${h.lastError()}`);
      const request = { k: K, excludeSeen: false, explain: false };
      const run = () => {
        const top = h.rank(request);
        if (top === null) throw new Error(`rank: ${h.lastError()}`);
        return [top.map((r) => Number(r.id)), top.map((r) => r.score)];
      };
      const [itemsOut, scoresOut] = run();
      const t = await timeIt(run, timed, warm);
      records.push({ part: 'synthetic', engine: 'vitrine', variant, threads, items: n, dim: d, precision,
        table_bytes: h.bytes(), load_ms: loadMs, ...t });
      tops[precision] = { items: Array.from(itemsOut), scores: Array.from(scoresOut) };
    } finally {
      h.delete();
    }
  }
  runtime.dispose();
  return { records, tops, info: { runtime: info, memoryBytes: M.HEAPU8.length } };
}

async function childOrt({ threads, items: n, dim: d, runs: timed, warmup: warm }, cat) {
  const ort = await import('onnxruntime-web');  // resolves to dist/ort.node.min.mjs under Node
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  const records = [], tops = {};
  for (const form of PEER_FORMS) {  // one session at a time (a 1M-item table is 256 MB)
    const bytes = onnxTopKModel(cat, n, d, K, form);
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const feeds = { user: new ort.Tensor('float32', cat.user, form === 'user·tableT' ? [1, d] : [d, 1]) };
    const run = async () => {
      const out = await session.run(feeds);
      return [out.indices.data, out.values.data];
    };
    const [itemsOut, scoresOut] = await run();
    const t = await timeIt(run, timed, warm);
    await session.release();
    records.push({ part: 'synthetic', engine: 'onnxruntime-web', variant: 'wasm', form, threads, items: n, dim: d, precision: 'f32',
      onnx_bytes: bytes.byteLength, ...t });
    tops[`f32 ${form}`] = { items: Array.from(itemsOut, Number), scores: Array.from(scoresOut) };
  }
  return { records, tops, info: { numThreads: ort.env.wasm.numThreads, version: ort.env.versions?.web } };
}

async function childTfjs({ threads, items: n, dim: d, runs: timed, warmup: warm }, cat) {
  const { tf, wasm } = await loadTfjsWasm(threads);
  const bias = tf.tensor1d(cat.bias);
  const records = [], tops = {};
  for (const form of PEER_FORMS) {
    const userFirst = form === 'user·tableT';
    const table = userFirst ? tf.tensor2d(transposed(cat.rows, n, d), [d, n]) : tf.tensor2d(cat.rows, [n, d]);
    const user = tf.tensor2d(cat.user, userFirst ? [1, d] : [d, 1]);
    const before = tf.memory().numTensors;
    const run = async () => {
      const { values, indices } = tf.tidy(() => tf.topk((userFirst ? tf.matMul(user, table) : tf.matMul(table, user)).reshape([n]).add(bias), K));
      const [i, v] = await Promise.all([indices.data(), values.data()]);
      values.dispose();
      indices.dispose();
      return [i, v];
    };
    const [itemsOut, scoresOut] = await run();
    const t = await timeIt(run, timed, warm);
    if (tf.memory().numTensors !== before) throw new Error('tfjs leaks tensors');
    tf.dispose([table, user]);
    records.push({ part: 'synthetic', engine: 'tfjs-wasm', variant: 'wasm', form, threads, items: n, dim: d, precision: 'f32',
      binary: threads > 1 ? 'threaded-simd (forced)' : 'simd', ...t });
    tops[`f32 ${form}`] = { items: Array.from(itemsOut), scores: Array.from(scoresOut) };
  }
  bias.dispose();
  return { records, tops, info: { threads: wasm.getThreadsCount(), version: tf.version.tfjs } };
}

// Plain JavaScript: what a storefront engineer would write without a library.
async function childPlainJs({ items: n, dim: d, runs: timed, warmup: warm }, cat) {
  const { rows, bias, user } = cat;
  const scores = new Float64Array(n);
  const heapS = new Float64Array(K), heapI = new Int32Array(K);  // min-heap on (score, then higher index)
  const worse = (a, b) => heapS[a] < heapS[b] || (heapS[a] === heapS[b] && heapI[a] > heapI[b]);
  const swap = (a, b) => {
    const s = heapS[a]; heapS[a] = heapS[b]; heapS[b] = s;
    const i = heapI[a]; heapI[a] = heapI[b]; heapI[b] = i;
  };
  const sift = (at, size) => {
    for (;;) {
      const l = 2 * at + 1, r = l + 1;
      let m = at;
      if (l < size && worse(l, m)) m = l;
      if (r < size && worse(r, m)) m = r;
      if (m === at) return;
      swap(at, m);
      at = m;
    }
  };
  const run = () => {
    for (let i = 0; i < n; i++) {
      let s = bias[i];
      for (let j = 0, o = i * d; j < d; j++) s += rows[o + j] * user[j];
      scores[i] = s;
    }
    let size = 0;
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      if (size < K) {
        let at = size++;
        heapS[at] = s; heapI[at] = i;
        while (at > 0 && worse(at, (at - 1) >> 1)) { swap(at, (at - 1) >> 1); at = (at - 1) >> 1; }
      } else if (s > heapS[0]) {
        heapS[0] = s; heapI[0] = i;
        sift(0, size);
      }
    }
    const order = Array.from({ length: size }, (_, r) => r).sort((a, b) => heapS[b] - heapS[a] || heapI[a] - heapI[b]);
    return [order.map((r) => heapI[r]), order.map((r) => heapS[r])];
  };
  const [itemsOut, scoresOut] = run();
  const t = await timeIt(run, timed, warm);
  return {
    records: [{ part: 'synthetic', engine: 'plain-js', variant: 'js', threads: 1, items: n, dim: d, precision: 'f32', ...t }],
    tops: { f32: { items: itemsOut, scores: scoresOut } },
    info: { node: process.version },
  };
}

async function child() {
  const config = JSON.parse(arg('child'));
  let result;
  if (config.part === 'foldin') {
    result = await childFoldin(config);
  } else {
    const fn = { vitrine: childVitrine, 'onnxruntime-web': childOrt, 'tfjs-wasm': childTfjs, 'plain-js': childPlainJs }[config.engine];
    const cat = syntheticCatalogue(config.items, config.dim);
    result = await fn(config, cat);
    // exact scores of every returned item, for the tie-aware comparison in the parent; and (in
    // Vitrine's f32 configuration only) the exact float64 top k
    for (const top of Object.values(result.tops)) top.exact = top.items.map((i) => exactScore(cat, config.dim, i));
    if (config.engine === 'vitrine' && config.variant === 'simd') result.reference = exactTopK(cat, config.items, config.dim, K);
  }
  fs.writeFileSync(arg('out'), JSON.stringify(result));
  process.exit(0);  // peers may leave worker threads running
}

// ---------------------------------------------------------------------------------------------
// parent

const PEERS = ['onnxruntime-web', 'tfjs-wasm'];

// The bytes one scoring pass reads: table values, per-row scales (int8) and the bias.
function bytesRead({ items: n, dim: d, precision }) {
  const perValue = { f32: 4, f16: 2, int8: 1 }[precision] ?? 4;
  return n * d * perValue + n * 4 + (precision === 'int8' ? n * 4 : 0);
}

function version(pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'bench/node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

// Whether ranking b agrees with ranking a: the same items in the same order, or (ties aside) the
// same exact scores position by position.
function agreement(a, b) {
  const identical = a.items.length === b.items.length && a.items.every((x, i) => x === b.items[i]);
  const len = Math.min(a.items.length, b.items.length);
  let gap = a.items.length === b.items.length ? 0 : Infinity;
  for (let i = 0; i < len; i++) gap = Math.max(gap, Math.abs(a.exact[i] - b.exact[i]));
  const common = b.items.filter((x) => a.items.includes(x)).length;
  return { identical, same_set: common === a.items.length && common === b.items.length, overlap: common,
    max_exact_score_gap: gap, pass: identical || gap <= TIE_TOLERANCE };
}

const threadsLabel = (t) => `${t} thread${t > 1 ? 's' : ''}`;
const configLabel = (c) => c.part === 'foldin'
  ? `fold-in: vitrine ${c.variant}, ${threadsLabel(c.threads)}`
  : `${c.items} items: ${c.engine}${c.variant ? ' ' + c.variant : ''}, ${threadsLabel(c.threads)}`;

async function parent() {
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs must be a positive integer, got ${arg('runs')}`);
  if (!(Number.isInteger(dim) && dim >= 1)) throw new Error(`--dim must be a positive integer, got ${arg('dim')}`);
  if (!(Number.isInteger(passes) && passes >= 1)) throw new Error(`--passes must be a positive integer, got ${arg('passes')}`);
  if (!(Number.isInteger(K) && K >= 1)) throw new Error(`--k must be a positive integer, got ${arg('k')}`);
  if (!SIZES.every((n) => Number.isInteger(n) && n >= K)) throw new Error(`--sizes must be integers >= k, got ${arg('sizes')}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-recommend-'));
  const loadavgStart = os.loadavg();
  const vitrineConfigs = [['simd', 1], ['simd-threads', 1], ['simd-threads', 2]];
  const configs = [];
  const notes = [];
  let failed = false;
  const modelExists = fs.existsSync(modelPath);
  if (modelExists) {
    for (const [variant, threads] of vitrineConfigs) {
      configs.push({ part: 'foldin', variant, threads, model: modelPath, events: EVENTS, runs, warmup });
    }
  } else {
    console.error(`[recommend] model ${modelPath} does not exist: fold-in not measured (pass --model PATH)`);
    notes.push(`fold-in: failed: model ${modelPath} does not exist`);
    failed = true;
  }
  // Grouped by size and thread count so that the configurations compared with each other run close in time.
  for (const items of SIZES) {
    const common = { part: 'synthetic', items, dim, runs: runsFor(items), warmup: warmupFor(items) };
    for (const threads of [1, 2]) {
      for (const [variant, t] of vitrineConfigs) {
        if (t === threads) configs.push({ ...common, engine: 'vitrine', variant, threads });
      }
      if (!flag('skip-peers')) {
        configs.push({ ...common, engine: 'onnxruntime-web', variant: 'wasm', threads });
        configs.push({ ...common, engine: 'tfjs-wasm', variant: 'wasm', threads });
        if (threads === 1) configs.push({ ...common, engine: 'plain-js', variant: 'js', threads });
      }
    }
  }

  const foldinPasses = [];     // one record per configuration and pass
  const recommendPasses = [];
  const tops = {};        // `${items}/${engine}/${variant}/${threads}/${precision}` → { items, scores, exact }
  const references = {};  // items → exact top k
  const infos = {};
  // every pass runs the whole list: the engines compared alternate in time
  const schedule = [];
  for (let pass = 0; pass < passes; pass++) for (const c of configs) schedule.push({ ...c, pass });
  for (const c of schedule) {
    const label = `${configLabel(c)}${passes > 1 ? ` [pass ${c.pass + 1}/${passes}]` : ''}`;
    const out = path.join(tmp, 'out.json');
    const errorFile = `${out}.error`;  // the child's exception message, when it caught one
    fs.rmSync(out, { force: true });
    fs.rmSync(errorFile, { force: true });
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [self, '--child', JSON.stringify(c), '--out', out],
      { cwd: root, encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
    if (flag('verbose')) process.stderr.write(r.stdout + r.stderr);
    if (r.status !== 0 || !fs.existsSync(out)) {
      const lines = (r.stderr || '').trim().split('\n');
      const caught = fs.existsSync(errorFile) ? fs.readFileSync(errorFile, 'utf8') : null;
      const why = (caught ?? r.error?.message ?? lines.find((l) => /Error|error|abort|memory/i.test(l)) ?? lines.pop() ??
        (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`)).trim().slice(0, 400);
      console.error(`[recommend] ${label}: FAILED (${why})`);
      if (!flag('verbose')) process.stderr.write(lines.slice(-10).join('\n') + '\n');
      notes.push(`${label}: failed: ${why}`);
      const { part, engine = 'vitrine', variant, threads, items, dim: d } = c;
      (part === 'foldin' ? foldinPasses : recommendPasses).push({ part, engine, variant, threads, items, dim: d, error: why, pass: c.pass });
      if (!PEERS.includes(c.engine)) failed = true;
      continue;
    }
    const result = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const rec of result.records) (rec.part === 'foldin' ? foldinPasses : recommendPasses).push({ ...rec, pass: c.pass });
    for (const [precision, top] of Object.entries(result.tops ?? {})) {
      tops[`${c.items}/${c.engine}/${c.variant}/${c.threads}/${precision}`] = top;
    }
    if (result.reference) references[c.items] = result.reference;
    infos[c.part === 'foldin' ? `foldin/${c.variant}/${c.threads}` : `${c.items}/${c.engine}/${c.variant}/${c.threads}`] = result.info;
    const summary = result.records.map((rec) => `${rec.part === 'foldin' ? `${rec.events} ev` : rec.precision} ` +
      `${rec.median_ms.toFixed(3)} ms`).join(', ');
    console.error(`[recommend] ${label}: ${summary}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  const foldin = aggregatePasses(foldinPasses);
  const recommend = aggregatePasses(recommendPasses);
  for (const r of recommend) {
    if (r.part !== 'synthetic' || r.error) continue;
    r.bytes_read = bytesRead(r);
    r.gb_per_s = r.bytes_read / (r.median_ms * 1e6);
  }

  // checks: Vitrine f32 (simd, 1 thread) against the exact float64 ranking; every other f32
  // configuration against Vitrine's; f16 / int8 recall@k against the exact ranking (informational)
  const checks = [];
  for (const items of SIZES) {
    const ref = references[items] && { ...references[items], exact: references[items].scores };
    const base = tops[`${items}/vitrine/simd/1/f32`];
    if (ref && base) checks.push({ items, check: `vitrine simd 1t f32 vs exact float64 top-${K}`, ...agreement(ref, base) });
    for (const [key, top] of Object.entries(tops)) {
      const [n, engine, variant, threads, precision] = key.split('/');
      if (Number(n) !== items || key === `${items}/vitrine/simd/1/f32`) continue;
      if (precision.startsWith('f32') && base) {
        checks.push({ items, check: `${engine} ${variant} ${threads}t ${precision} vs vitrine simd 1t f32 top-${K}`, ...agreement(base, top) });
      } else if (precision !== 'f32' && ref && variant === 'simd') {
        const hits = top.items.filter((x) => ref.items.includes(x)).length;
        checks.push({ items, check: `vitrine ${variant} ${threads}t ${precision} recall@${K} vs exact`, recall: hits / K, pass: null });
      } else if (precision !== 'f32' && tops[`${items}/vitrine/simd/1/${precision}`]) {
        // the same table in the other build or thread count ranks identically
        const same = tops[`${items}/vitrine/simd/1/${precision}`];
        const identical = same.items.length === top.items.length && same.items.every((x, i) => x === top.items[i] && same.scores[i] === top.scores[i]);
        checks.push({ items, check: `vitrine ${variant} ${threads}t ${precision} vs vitrine simd 1t ${precision} top-${K}`, identical, pass: identical });
      }
    }
    if (!base) notes.push(`${items} items: no Vitrine f32 top-${K}: peers not checked`);
  }
  if (checks.some((c) => c.pass === false)) failed = true;

  // ratios, per pass: Vitrine / each peer's fastest form in that pass, at the same catalogue size and
  // thread count (< 1: Vitrine faster); 'best peer' = the fastest form of any peer (not plain-js);
  // then the median over the passes and its spread
  // a peer form whose ranking disagreed with Vitrine's is never a reference
  const wrong = new Set(checks.filter((c) => c.pass === false).map((c) => c.check));
  const agreed = (r) => r.engine === 'vitrine' ||
    !wrong.has(`${r.engine} ${r.variant} ${r.threads}t ${r.precision}${r.form ? ' ' + r.form : ''} vs vitrine simd 1t f32 top-${K}`);
  const okPasses = recommendPasses.filter((r) => r.part === 'synthetic' && !r.error && agreed(r));
  const perPass = [];
  for (const v of okPasses.filter((r) => r.engine === 'vitrine' && (r.precision === 'f32' || r.precision === 'int8'))) {
    const same = okPasses.filter((r) => r.pass === v.pass && r.items === v.items && r.threads === v.threads && r.engine !== 'vitrine');
    const fastest = (rows) => rows.reduce((a, b) => (b.median_ms < a.median_ms ? b : a));
    for (const peer of [...PEERS, 'best peer', 'plain-js']) {
      const rows = same.filter((r) => (peer === 'best peer' ? PEERS.includes(r.engine) : r.engine === peer));
      if (!rows.length) continue;
      const p = fastest(rows);
      perPass.push({ items: v.items, threads: v.threads, vitrine_variant: v.variant, precision: v.precision, peer,
        peer_engine: p.engine, peer_form: p.form ?? null, pass: v.pass, ratio: v.median_ms / p.median_ms });
    }
  }
  const ratios = [];
  for (const r of perPass) {
    let g = ratios.find((x) => x.items === r.items && x.threads === r.threads && x.vitrine_variant === r.vitrine_variant &&
      x.precision === r.precision && x.peer === r.peer);
    if (!g) ratios.push(g = { items: r.items, threads: r.threads, vitrine_variant: r.vitrine_variant, precision: r.precision,
      peer: r.peer, per_pass: [] });
    g.per_pass.push({ pass: r.pass, ratio: r.ratio, peer_engine: r.peer_engine, peer_form: r.peer_form });
  }
  for (const g of ratios) {
    const v = g.per_pass.map((x) => x.ratio).sort((a, b) => a - b);
    g.ratio = quantile(v, 0.5);
    g.spread = [v[0], v[v.length - 1]];
  }

  // criteria (displayed, not asserted)
  const foldin100 = foldin.find((r) => !r.error && r.variant === 'simd' && r.events === 100);
  const criteria = [{
    criterion: `fold-in of 100 events < ${CRITERIA.foldin_100_ms} ms (vitrine simd, 1 thread)`,
    limit_ms: CRITERIA.foldin_100_ms, median_ms: foldin100?.median_ms ?? null,
    met: foldin100 ? foldin100.median_ms < CRITERIA.foldin_100_ms : null,
  }];
  const ok = recommend.filter((r) => r.part === 'synthetic' && !r.error);
  for (const precision of PRECISIONS) {
    const r = ok.find((x) => x.engine === 'vitrine' && x.variant === 'simd' && x.items === 100_000 && x.precision === precision);
    criteria.push({
      criterion: `top-${K} over 100k items < ${CRITERIA.topk_100k_ms} ms (vitrine simd, 1 thread, ${precision}, d ${dim})`,
      limit_ms: CRITERIA.topk_100k_ms, median_ms: r?.median_ms ?? null, met: r ? r.median_ms < CRITERIA.topk_100k_ms : null,
    });
  }
  const ratioOf = (variant, threads, precision) =>
    ratios.find((g) => g.items === 100_000 && g.peer === 'best peer' && g.vitrine_variant === variant && g.threads === threads && g.precision === precision);
  const int8Recall = checks.find((c) => c.items === 100_000 && c.recall !== undefined && /simd 1t int8/.test(c.check))?.recall;
  for (const [label, g, limit, extra] of [
    ['f32, 1 thread (simd)', ratioOf('simd', 1, 'f32'), CRITERIA.f32_1t_ratio],
    ['f32, 2 threads (simd-threads)', ratioOf('simd-threads', 2, 'f32'), CRITERIA.f32_2t_ratio],
    [`int8, 1 thread (simd), recall@${K} >= ${CRITERIA.int8_recall}`, ratioOf('simd', 1, 'int8'), CRITERIA.int8_1t_ratio_to_f32_peer,
      int8Recall == null || int8Recall >= CRITERIA.int8_recall],
  ]) {
    criteria.push({
      criterion: `scoring + top-${K} over 100k × ${dim}, ${label}: ratio to the best peer's f32 form ≤ ${limit} (median of ${passes} passes)`,
      limit_ratio: limit, ratio: g?.ratio ?? null, spread: g?.spread ?? null, recall: label.startsWith('int8') ? int8Recall ?? null : undefined,
      met: g ? g.ratio <= limit && extra !== false : null,
    });
  }

  const modelInfo = modelExists ? {
    file: modelPath, file_bytes: fs.statSync(modelPath).size,
    sha256: crypto.createHash('sha256').update(fs.readFileSync(modelPath)).digest('hex'),
    ...(Object.entries(infos).find(([k]) => k.startsWith('foldin/'))?.[1].model ?? {}),
  } : { file: modelPath, error: 'does not exist' };

  notes.push(
    `fold-in: createRecommender({ model }) (precision f32), importState({ version: 1, events }) with N events ` +
      `{ item, type: 'view', weight: 1, time: i }, items drawn from itemIds() by an LCG (seed ${SEED}, repeats allowed; ` +
      'distinct_items counts the different ones), then await rec.personalize() timed (item ids → indices in JS, then the ' +
      'engine\'s foldIn); the fold-in itself is single-threaded',
    `model recommend: await rec.recommend({ k: ${K}, explain: false }) after personalize() of a ${MODEL_RECOMMEND_EVENTS}-event ` +
      'history; includes the JS seen-items mask (excludeSeen) and the id strings of the results',
    `synthetic: rows (n, d) ~ N(0, 1), bias ~ N(0, 0.01), user ~ N(0, 1/d), mulberry32 seeds ${SEED}..${SEED + 2}; ` +
      `timed: one whole-catalogue scoring + top-${K} with the results` + ' read back to JS; the user vector is set once ' +
      '(Vitrine setUserVector, a kept tf tensor, one ort.Tensor reused as the feed)',
    'vitrine: RecommenderHandle.loadTable(rows, n, d, bias, [], precision) (load_ms: copy in + conversion), ' +
      `setUserVector, then rank({ k: ${K} }) (the ranking pipeline, ids and scores); scoring runs on the thread ` +
      'pool in tiles of 2048 items; table_bytes = h.bytes() (table, row norms, bias); simd-threads: ' +
      'createRuntime({ variant, threads: 2 }) then setThreads(n); simd: threads 1',
    'onnxruntime-web: wasm backend (dist/ort.node.min.mjs), env.wasm.numThreads = threads, graphOptimizationLevel all; ' +
      'models written by this script (ir_version 8, opset 17), two forms, each timed, the fastest the reference of the ' +
      'ratios: table·user = MatMul(table[n,d] initializer, user[d,1]), user·tableT = MatMul(user[1,d], tableT[d,n] ' +
      `initializer, pre-transposed); then Reshape [n] → Add(bias) → TopK(K = ${K}); outputs values (float) and indices (int64)`,
    'tfjs-wasm: @tensorflow/tfjs-backend-wasm; table, bias and user tensors created once; tf.tidy(() => tf.topk(' +
      'tf.matMul(table, user).reshape([n]).add(bias), k)) (form table·user) or tf.matMul(user[1,d], tableT[d,n]) with the ' +
      'table transposed once (form user·tableT), the faster the reference; then values.data() and indices.data(); 2 threads forced as in ' +
      'mobilenet.mjs (tfjs-backend-wasm never uses threads under Node, tensorflow/tfjs#3830; getThreadsCount() checked)',
    'plain-js: Float32Array table (n, d), one loop of float64 dot products plus bias into a Float64Array, a k-item ' +
      'min-heap, then the k sorted; the floor without any library (1 thread)',
    `passes: the whole list of configurations ran ${passes} time(s) in turn; medians are medians of the pass medians, ` +
      'ratios are taken within a pass and then their median and min..max reported; GB/s = bytes_read (table values, int8 ' +
      'row scales, bias) / median',
    `checks: rankings agree when identical or, ties aside, when their exact (float64) scores match position by position ` +
      `within ${TIE_TOLERANCE}; f16 / int8 recall@${K} against the exact ranking is informational`,
    `runs: ${runs} timed runs after ${warmup} warm-up calls and at least ${WARM_MS} ms of them (at 1M items ${runsFor(1_000_000)} after ${warmupFor(1_000_000)}); ` +
      'one child process per configuration; the machine may be shared (see machine.loadavg_*)',
  );

  const cpus = os.cpus();
  const result = {
    benchmark: 'recommend',
    command: `npm run bench -- recommend${args.length ? ' ' + args.join(' ') : ''}`,
    date: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model, cores: cpus.length,
      loadavg_start: loadavgStart.map((l) => +l.toFixed(2)), loadavg_end: os.loadavg().map((l) => +l.toFixed(2)),
    },
    node: process.version,
    peers: {
      'onnxruntime-web': version('onnxruntime-web'),
      '@tensorflow/tfjs': version('@tensorflow/tfjs'),
      '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
    },
    settings: { runs, passes, warmup, dim, k: K, sizes: SIZES, events: EVENTS, quick, skip_peers: flag('skip-peers') },
    model: modelInfo,
    foldin,
    recommend,
    recommend_passes: recommendPasses,
    checks,
    ratios,
    criteria,
    details: infos,
    notes,
  };
  const outFile = path.resolve(arg('out', path.join(root, 'bench/results/recommend.json')));
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');

  // ---- the table ----
  const f = (v, w = 9) => (v == null ? '' : v.toFixed(3)).padStart(w);
  const mb = (b) => (b / 2 ** 20).toFixed(1);
  console.log(`Recommender latency, median of ${runs} runs after ${warmup} warm-up (${cpus.length}× ${cpus[0]?.model}, Node ${process.version})`);
  if (modelInfo.kind) {
    console.log(`model ${path.relative(root, modelPath).startsWith('..') ? modelPath : path.relative(root, modelPath)}: ` +
      `${modelInfo.kind}, ${modelInfo.items} items, dim ${modelInfo.dim}, ${mb(modelInfo.bytes)} MB in the engine ` +
      `(${mb(modelInfo.file_bytes)} MB file)`);
  } else {
    console.log(`model ${modelPath}: ${modelInfo.error ?? 'no info'}; fold-in not measured`);
  }
  if (foldin.length) {
    console.log('\nfold-in: await rec.personalize() after importState of N view events');
    console.log('variant        threads  events  distinct  median ms    p10 ms    p90 ms');
  }
  for (const r of foldin) {
    if (r.error) { console.log(`${r.variant.padEnd(14)} ${String(r.threads).padStart(7)}  failed: ${r.error}`); continue; }
    console.log(`${r.variant.padEnd(14)} ${String(r.threads).padStart(7)} ${String(r.events).padStart(7)} ${String(r.distinct_items).padStart(9)} ` +
      `${f(r.median_ms, 10)} ${f(r.p10_ms)} ${f(r.p90_ms)}`);
  }
  const modelRows = recommend.filter((r) => r.part === 'model');
  if (modelRows.length) {
    console.log(`\nrecommend on the model's catalogue: await rec.recommend({ k: ${K}, explain: false }), ${MODEL_RECOMMEND_EVENTS}-event history`);
    console.log('variant        threads    items  median ms    p10 ms    p90 ms');
    for (const r of modelRows) {
      console.log(`${r.variant.padEnd(14)} ${String(r.threads).padStart(7)} ${String(r.items).padStart(8)} ${f(r.median_ms, 10)} ${f(r.p10_ms)} ${f(r.p90_ms)}`);
    }
  }
  console.log(`\ntop-${K} over synthetic catalogues (d ${dim}, with bias): score every item, take the top ${K}, read back`);
  console.log(`   items  engine            variant        threads  precision  table MB  median ms  pass spread ms     GB/s`);
  for (const r of recommend.filter((x) => x.part === 'synthetic')) {
    const head = `${String(r.items).padStart(8)}  ${r.engine.padEnd(17)} ${(r.form ?? r.variant ?? '').padEnd(14)} ${String(r.threads).padStart(7)}  `;
    if (r.error) { console.log(`${head}failed: ${r.error}`); continue; }
    console.log(`${head}${r.precision.padEnd(9)} ${(r.table_bytes ? mb(r.table_bytes) : '').padStart(9)} ` +
      `${f(r.median_ms, 10)} ${`${r.spread_ms[0].toFixed(3)}..${r.spread_ms[1].toFixed(3)}`.padStart(15)} ${r.gb_per_s.toFixed(1).padStart(8)}`);
  }
  if (ratios.length) {
    console.log(`\nratio vitrine_ms / peer_ms, each peer in its fastest form, same size, threads and pass; median of ${passes} ` +
      'pass(es) [min..max] (< 1: Vitrine faster)');
    console.log('   items  threads  vitrine              vs onnxruntime-web      vs tfjs-wasm       vs best peer        vs plain-js');
    const groups = new Map();
    for (const r of ratios) {
      const key = `${r.items}/${r.threads}/${r.vitrine_variant}/${r.precision}`;
      if (!groups.has(key)) groups.set(key, { ...r, by: {} });
      groups.get(key).by[r.peer] = r;
    }
    for (const g of groups.values()) {
      const cell = (x, w) => (x == null ? '-' : `${x.ratio.toFixed(2)} [${x.spread[0].toFixed(2)}..${x.spread[1].toFixed(2)}]`).padStart(w);
      console.log(`${String(g.items).padStart(8)} ${String(g.threads).padStart(8)}  ${`${g.vitrine_variant} ${g.precision}`.padEnd(18)} ` +
        `${cell(g.by['onnxruntime-web'], 20)} ${cell(g.by['tfjs-wasm'], 17)} ${cell(g.by['best peer'], 17)} ${cell(g.by['plain-js'], 18)}`);
    }
  }
  console.log(`\nchecks (top-${K} items):`);
  for (const c of checks) {
    const detail = c.recall !== undefined ? `recall ${c.recall.toFixed(2)}`
      : `${c.identical ? 'identical' : `overlap ${c.overlap}/${K}, max exact score gap ${c.max_exact_score_gap.toExponential(1)}`}  ${c.pass ? 'ok' : 'MISMATCH'}`;
    console.log(`  ${String(c.items).padStart(7)} items: ${c.check}: ${detail}`);
  }
  console.log('\ncriteria (not asserted):');
  for (const c of criteria) {
    const value = c.limit_ratio !== undefined
      ? (c.ratio == null ? null : `${c.ratio.toFixed(2)} [${c.spread[0].toFixed(2)}..${c.spread[1].toFixed(2)}]${c.recall != null ? `, recall ${c.recall.toFixed(3)}` : ''}`)
      : (c.median_ms == null ? null : `${c.median_ms.toFixed(3)} ms`);
    console.log(`  ${c.criterion}: ${value == null ? 'not measured' : `${value}, ${c.met ? 'met' : 'NOT met'}`}`);
  }
  for (const n of notes.filter((x) => /failed|not checked/.test(x))) console.log(`note: ${n}`);
  console.log(`wrote ${path.relative(root, outFile)}`);
  if (failed) process.exitCode = 1;
}

if (arg('child')) {
  child().catch((e) => {
    console.error(e?.stack ?? e);
    try {
      fs.writeFileSync(arg('out') + '.error', String(e?.message ?? e));
    } catch { /* the parent falls back to stderr */ }
    process.exit(1);
  });
} else {
  await parent();
}
