// The recommender facade on the shipped MovieLens model (models/recommend/), in both wasm variants:
// recommendations, persistence across reloads (file storage), forget(), exports, bad input, and
// the same rankings as the native engine (vitrine-recommend rank).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { createRecommender, createRuntime, RemoteRecommender, VitrineError } from '../../web/src/index.js';
import { makeDeltaFiles } from './delta-fixture.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modelPath = path.join(root, 'models/recommend/movielens.safetensors');
const catalog = JSON.parse(fs.readFileSync(path.join(root, 'models/recommend/movielens-catalog.json'), 'utf8'));
const tool = path.join(root, 'build/native/engine/tools/vitrine-recommend');

// Three well-known films (MovieLens ids): The Matrix, Toy Story, Star Wars.
const HISTORY = ['2571', '1', '260'];

let deltaCache;
function deltaFiles() {
  deltaCache ??= makeDeltaFiles(tool, fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-delta-')));
  return deltaCache;
}

// The shipped model as a compact file with PQ score and fold-in rows (16 one-byte codes each).
let compactCache;
function compactFile() {
  if (!compactCache) {
    compactCache = tmpFile('movielens-pq.safetensors');
    execFileSync(tool, ['compact', modelPath, '--out', compactCache, '--rows', 'pq:16', '--fold', 'pq:16']);
  }
  return compactCache;
}

// The shipped model with a content map (fitted on its catalogue's titles, genres and years).
let contentCache;
function contentFile() {
  if (!contentCache) {
    contentCache = tmpFile('movielens-content.safetensors');
    execFileSync(tool, ['compact', modelPath, '--out', contentCache, '--content', path.join(root, 'models/recommend/movielens-catalog.json')]);
  }
  return contentCache;
}

// A linear (EASE-class) model and its blend with a Mult-DAE, trained natively on clustered
// synthetic histories (240 users, 300 items in 6 taste groups; a fixed LCG).
let linearCache;
function linearFiles() {
  if (!linearCache) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-linear-'));
    let s = 777;
    const rand = (n) => { s = (s * 1103515245 + 12345) % 2147483648; return s % n; };
    const hs = Array.from({ length: 240 }, (_, u) => Array.from({ length: 4 + rand(12) }, () => 6 * rand(50) + (u % 6)));
    const h = path.join(dir, 'h.txt'), items = path.join(dir, 'items.txt');
    fs.writeFileSync(h, hs.map((x) => x.join(' ')).join('\n') + '\n');
    fs.writeFileSync(items, Array.from({ length: 300 }, (_, i) => `item-${i}`).join('\n') + '\n');
    const linear = path.join(dir, 'linear.safetensors'), dae = path.join(dir, 'dae.safetensors'), blend = path.join(dir, 'blend.safetensors');
    execFileSync(tool, ['train', '--kind', 'linear', '--histories', h, '--items', items, '--save', linear, '--dim', '64', '--l2', '20', '--dropout', '0.1', '--half']);
    execFileSync(tool, ['train', '--kind', 'mult-dae', '--histories', h, '--items', items, '--save', dae, '--dim', '16', '--epochs', '40', '--lr', '0.01', '--dropout', '0.2']);
    execFileSync(tool, ['blend', '--linear', linear, '--dae', dae, '--out', blend, '--scale-histories', h, '--share', '0.4']);
    linearCache = { linear, blend };
  }
  return linearCache;
}

function tmpFile(name) {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-rec-')), name);
}

async function rejects(promise, code, pattern) {
  await assert.rejects(promise, (e) => e instanceof VitrineError && e.code === code && pattern.test(e.message));
}

for (const variant of ['simd', 'simd-threads']) {
  describe(`recommender in the ${variant} variant`, async () => {
    const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
    after(() => runtime.dispose());

    test('ranked ids of any text come back whole, with their explanations', () => {
      const M = runtime._module;
      const ids = ['a', 'é', '𝄞x', '日本', 'k\u{1F600}', 'z'];
      const rows = Float32Array.from(ids.flatMap((_, i) => [i, 1]));  // item i scores i (user [1, 0])
      // a lone surrogate is not UTF-8 once encoded; a byte-order mark or NUL would be dropped or split
      // at by JS's decoder: those lists take the item-by-item path
      for (const [set, odd] of [[ids, null], [[...ids.slice(0, 5), '\uD800x'], 'lone'], [['\uFEFFa', ...ids.slice(1)], 'bom'],
        [['a\0b', ...ids.slice(1)], 'nul']]) {
        const h = new M.RecommenderHandle();
        try {
          assert.equal(h.loadTable(rows, set.length, 2, new Float32Array(set.length), set, 'f32'), 0, h.lastError());
          assert.equal(h.setUserVector(Float32Array.of(1, 0)), 0);
          const top = h.rank({ k: 6, excludeSeen: false, history: Int32Array.of(0, 1), explain: true });
          assert.deepEqual(top.map((r) => r.score), [5, 4, 3, 2, 1, 0]);
          const want = set.map((_, i) => (odd === 'lone' && i === 5 ? h.itemId(5) : set[i])).reverse();
          assert.deepEqual(top.map((r) => r.id), want);
          for (const r of top) {
            assert.ok([set[0], set[1]].includes(r.because.id), JSON.stringify(r));
            assert.equal(typeof r.because.similarity, 'number');
          }
          assert.deepEqual(h.rank({ k: 2, excludeSeen: false, explain: false }), [{ id: want[0], score: 5 }, { id: want[1], score: 4 }]);
        } finally {
          h.delete();
        }
      }
    });

    test('recommends unseen catalogue items with scores, explanations and options', async () => {
      const progress = [];
      const rec = await runtime.createRecommender({ model: modelPath, onProgress: (p) => progress.push(p.stage) });
      assert.ok(progress.includes('model'));
      const info = await rec.info();
      assert.ok(info.items > 1000, `items: ${info.items}`);
      assert.ok(['mult-dae', 'linear', 'blend', 'mf-bpr', 'gru4rec'].includes(info.kind));
      for (const id of HISTORY) await rec.observe({ item: id, type: 'view' });
      await rec.observe({ item: '2571', type: 'purchase' });
      const top = await rec.recommend({ k: 10 });
      assert.equal(top.length, 10);
      for (let i = 1; i < top.length; i++) assert.ok(top[i - 1].score >= top[i].score);
      for (const r of top) {
        assert.ok(!HISTORY.includes(r.id), `seen item ${r.id} recommended`);
        assert.ok(await rec.hasItem(r.id));
        assert.ok(HISTORY.includes(r.because.id), JSON.stringify(r.because));
      }
      // Exclusions, a filter, a category constraint and an out-of-stock item.
      const banned = top.slice(0, 3).map((r) => r.id);
      const next = await rec.recommend({ k: 10, exclude: banned, explain: false });
      for (const r of next) assert.ok(!banned.includes(r.id) && r.because === undefined);
      assert.deepEqual(next.slice(0, 7).map((r) => r.id), top.slice(3).map((r) => r.id));
      const odd = await rec.recommend({ k: 5, filter: (id) => Number(id) % 2 === 1 });
      for (const r of odd) assert.equal(Number(r.id) % 2, 1);
      const withCatalog = await runtime.createRecommender({
        model: modelPath,
        catalog: catalog.items.map((m) => ({ ...m, inStock: m.id !== top[0].id })),
      });
      await withCatalog.importState(await rec.exportState());
      const comedies = await withCatalog.recommend({ k: 5, categories: ['Comedy'] });
      for (const r of comedies) {
        assert.ok(catalog.items.find((m) => m.id === r.id).categories.includes('Comedy'));
        assert.notEqual(r.id, top[0].id);
      }
      assert.ok(!(await withCatalog.recommend({ k: 10 })).some((r) => r.id === top[0].id));
      // Diversity re-ranks within the candidate pool: different list, same first item.
      const diverse = await rec.recommend({ k: 10, diversity: 0.8 });
      assert.equal(diverse[0].id, top[0].id);
      assert.notDeepEqual(diverse.map((r) => r.id), top.map((r) => r.id));
      // Similar items exclude the item itself.
      const similar = await rec.similarItems('2571', 5);
      assert.equal(similar.length, 5);
      assert.ok(!similar.some((r) => r.id === '2571'));
      await withCatalog.dispose();
      await rec.dispose();
    });

    test('the shopper state survives a reload; forget() erases it', async () => {
      const file = tmpFile('state.json');
      const a = await runtime.createRecommender({ model: modelPath, storage: { type: 'file', path: file } });
      for (const id of HISTORY) await a.observe({ item: id, type: 'click', time: 1700000000000 });
      const before = await a.recommend({ k: 10 });
      await a.dispose();  // "reload"
      assert.ok(fs.existsSync(file));
      const b = await runtime.createRecommender({ model: modelPath, storage: { type: 'file', path: file } });
      assert.equal((await b.info()).events, 3);
      assert.deepEqual((await b.exportState()).events.map((e) => e.item), HISTORY);
      assert.deepEqual(await b.recommend({ k: 10 }), before);
      await b.forget();
      assert.equal(fs.existsSync(file), false);
      assert.equal((await b.exportState()).events.length, 0);
      await b.dispose();
      const c = await runtime.createRecommender({ model: modelPath, storage: { type: 'file', path: file } });
      assert.equal((await c.info()).events, 0);
      // Cold start: no history, still a ranking (the model's prior), nothing excluded.
      assert.equal((await c.recommend({ k: 3 })).length, 3);
      await c.dispose();
    });

    test('bad input gives clear errors and changes nothing', async () => {
      const rec = await runtime.createRecommender({ model: modelPath });
      await rejects(rec.observe({ item: 'no-such-movie' }), 'NotFound', /unknown item id 'no-such-movie'/);
      await rejects(rec.observe(null), 'InvalidArgument', /event must be an object/);
      await rejects(rec.observe({ item: 2571 }), 'InvalidArgument', /non-empty string id/);
      await rejects(rec.observe({ item: '1', type: 'teleport' }), 'InvalidArgument', /unknown event type 'teleport'/);
      await rejects(rec.observe({ item: '1', weight: NaN }), 'InvalidArgument', /weight/);
      await rejects(rec.observe({ item: '1', weight: -2 }), 'InvalidArgument', /weight/);
      await rejects(rec.observe({ item: '1', time: Infinity }), 'InvalidArgument', /time/);
      await rejects(rec.observe({ item: '1', type: 'toString' }), 'InvalidArgument', /unknown event type 'toString'/);
      (await rec.itemIds()).sort();  // a copy: sorting it must not disturb filters
      await rejects(rec.recommend({ pool: 'x', diversity: 0.5 }), 'InvalidArgument', /pool/);
      assert.equal((await rec.recommend({ k: 1e6 })).length, (await rec.info()).items);  // k beyond the catalogue: all of it
      assert.equal((await rec.info()).events, 0);
      await rejects(rec.recommend({ k: 0 }), 'InvalidArgument', /k must be a positive integer/);
      await rejects(rec.recommend({ k: 2.5 }), 'InvalidArgument', /k must be/);
      await rejects(rec.recommend({ diversity: 2 }), 'InvalidArgument', /diversity/);
      await rejects(rec.recommend({ exclude: 'abc' }), 'InvalidArgument', /exclude/);
      await rejects(rec.recommend({ exclude: ['nope'] }), 'NotFound', /unknown item id 'nope'/);
      await rejects(rec.recommend({ categories: ['Comedy'] }), 'FailedPrecondition', /catalog/);
      await rejects(rec.recommend({ kk: 3 }), 'InvalidArgument', /unknown option 'kk'/);
      await rejects(rec.similarItems('nope'), 'NotFound', /nope/);
      await assert.rejects(rec.importState({ version: 9, events: [] }), /exportState/);
      // A state saved with items the model lacks: those are kept (dormant) and saved again; damaged
      // entries are dropped and counted.
      await rec.importState({ version: 1, events: [{ item: '1', type: 'view', weight: 1, time: 1 }, { item: 'gone', type: 'view', weight: 1, time: 2 },
                                                   { item: 7, time: 3 }] });
      assert.equal((await rec.info()).events, 1);
      assert.equal((await rec.info()).dormantEvents, 1);
      assert.equal((await rec.info()).droppedOnLoad, 1);
      assert.deepEqual((await rec.exportState()).events.map((e) => e.item), ['1', 'gone']);
      await rec.observe({ item: '2', time: 0 });
      assert.deepEqual((await rec.exportState()).events.map((e) => e.item), ['2', '1', 'gone']);
      await Promise.all([rec.dispose(), rec.dispose()]);  // twice at once is fine
      await rejects(rec.recommend(), 'FailedPrecondition', /disposed/);
      await rejects(runtime.createRecommender({ model: modelPath, maxEvents: 0 }), 'InvalidArgument', /maxEvents/);
      // One shopper per state file.
      const owned = tmpFile('state.json');
      const first = await runtime.createRecommender({ model: modelPath, storage: { type: 'file', path: owned }, userKey: 'ann' });
      await first.observe({ item: '1' });
      await first.dispose();
      await rejects(runtime.createRecommender({ model: modelPath, storage: { type: 'file', path: owned }, userKey: 'bob' }),
                    'FailedPrecondition', /userKey 'ann'/);
      // Not a recommender, corrupt bytes, a damaged state file.
      await rejects(runtime.createRecommender({ model: new Uint8Array([1, 2, 3]) }), 'DataLoss', /./);
      const shipped = await runtime.createRecommender({});  // the registered default, size and SHA-256 checked
      assert.equal((await shipped.info()).items, 6169);
      await shipped.dispose();
      const bad = tmpFile('state.json');
      fs.writeFileSync(bad, '{"version": 1, "events": [');
      await rejects(runtime.createRecommender({ model: modelPath, storage: { type: 'file', path: bad } }), 'DataLoss', /not valid JSON/);
      await rejects(runtime.createRecommender({ model: modelPath, storage: 'cloud' }), 'InvalidArgument', /unknown storage/);
      await rejects(runtime.createRecommender({ model: modelPath, precision: 'f64' }), 'InvalidArgument', /precision/);
    });

    test('compact item tables rank close to f32', async () => {
      const full = await runtime.createRecommender({ model: modelPath });
      const top = (await full.recommendFor(HISTORY, { k: 20 })).map((r) => r.id);
      for (const precision of ['f16', 'int8']) {
        const rec = await runtime.createRecommender({ model: modelPath, precision });
        assert.ok((await rec.info()).bytes < (await full.info()).bytes);
        const got = (await rec.recommendFor(HISTORY, { k: 20 })).map((r) => r.id);
        const overlap = got.filter((id) => top.includes(id)).length;
        assert.ok(overlap >= 16, `${precision}: ${overlap}/20 shared with f32`);
        await rec.dispose();
      }
      await full.dispose();
    });

    test('ranks a page-given candidate list: recommend({ candidates }) and rerank()', async () => {
      const rec = await runtime.createRecommender({ model: modelPath });
      for (const id of HISTORY) await rec.observe({ item: id });
      const all = await rec.recommend({ k: 200, explain: false });
      // A "search results" list: 12 known films from the full ranking, shuffled, a seen one, an
      // unknown id and a repeat.
      const picked = all.filter((_, i) => i % 15 === 3).slice(0, 12).map((r) => r.id);
      const list = [...picked].reverse().concat(['2571', 'sku-not-in-model', picked[0]]);
      const top5 = await rec.recommend({ k: 5, candidates: list });
      assert.deepEqual(top5.map((r) => r.id), picked.slice(0, 5), 'the candidates in the full ranking\'s order');
      for (const r of top5) assert.equal(r.score, all.find((a) => a.id === r.id).score);
      assert.ok(top5.every((r) => HISTORY.includes(r.because.id)));
      const reranked = await rec.rerank(list);
      assert.equal(reranked.length, 14, 'every distinct candidate once');
      assert.deepEqual(reranked.at(-1), { id: 'sku-not-in-model', score: null, unknown: true });
      assert.ok(reranked.some((r) => r.id === '2571'), 'seen items stay in a re-ranked page');
      const known = reranked.filter((r) => !r.unknown);
      for (let i = 1; i < known.length; i++) assert.ok(known[i - 1].score >= known[i].score);
      assert.deepEqual((await rec.rerank(list, { excludeSeen: true, exclude: [picked[1]] })).map((r) => r.id),
                       reranked.map((r) => r.id).filter((id) => id !== '2571' && id !== picked[1]));
      assert.deepEqual(await rec.rerank([]), []);
      assert.deepEqual(await rec.rerank(['nope']), [{ id: 'nope', score: null, unknown: true }]);
      await rejects(rec.rerank('2571'), 'InvalidArgument', /array/);
      await rejects(rec.rerank([2571]), 'InvalidArgument', /string/);
      await rejects(rec.rerank(list, { k: 3 }), 'InvalidArgument', /'k' is not an option/);
      await rejects(rec.recommend({ candidates: '1' }), 'InvalidArgument', /candidates must be an array/);
      await rec.dispose();
    });

    test('item deltas add, change and remove items without a new model', { skip: !fs.existsSync(tool) && 'native tool not built' }, async () => {
      const { from, to, delta } = deltaFiles();
      const rec = await runtime.createRecommender({ model: from });
      const target = await runtime.createRecommender({ model: to });
      await rec.observe({ item: 'i0', time: 1 });  // i0 is removed by the delta
      await rec.observe({ item: 'i7', time: 2 });
      const before = await rec.recommend({ k: 3 });
      await rejects(rec.applyDelta(delta, { integrity: 'sha256-' + 'A'.repeat(43) + '=' }), 'DataLoss', /integrity/);
      const damaged = fs.readFileSync(delta).subarray(0, 100);
      await rejects(rec.applyDelta(damaged), 'DataLoss', /./);
      assert.deepEqual(await rec.recommend({ k: 3 }), before, 'a refused delta changes nothing');
      const integrity = 'sha256-' + crypto.createHash('sha256').update(fs.readFileSync(delta)).digest('base64');
      const out = await rec.applyDelta(delta, { integrity });
      assert.equal(out.items, 28);
      assert.match(out.fingerprint, /^[0-9a-f]{16}$/);
      assert.deepEqual(await rec.itemIds(), await target.itemIds());
      const info = await rec.info();
      assert.equal(info.events, 1);
      assert.equal(info.dormantEvents, 1, 'the removed item\'s event is kept aside');
      assert.equal(await rec.hasItem('i0'), false);
      for (const id of ['n0', 'i10', 'i29']) {
        const got = await rec.similarItems(id, 5), want = await target.similarItems(id, 5);
        assert.deepEqual(got.map((r) => r.id), want.map((r) => r.id));
        got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i].score) < 1e-5));
      }
      const recs = await rec.recommend({ k: 40 });
      assert.equal(recs.length, 27);
      assert.ok(recs.some((r) => r.id.startsWith('n')), 'new items are recommendable');
      await rejects(rec.applyDelta(delta), 'FailedPrecondition', /another model state/);
      await rejects(target.applyDelta(delta), 'FailedPrecondition', /another model state/);
      await rec.dispose();
      await target.dispose();
    });

    test('compact files (PQ item tables) load, rank close to the model, and exactly like native', { skip: !fs.existsSync(tool) && 'native tool not built' }, async () => {
      const pqPath = compactFile();
      assert.ok(fs.statSync(pqPath).size < fs.statSync(modelPath).size / 8);
      const rec = await runtime.createRecommender({ model: pqPath });
      const full = await runtime.createRecommender({ model: modelPath });
      const info = await rec.info();
      assert.equal(info.precision, 'pq');
      assert.equal(rec.precision, 'pq');
      assert.equal(info.items, 6169);
      assert.ok(info.bytes < (await full.info()).bytes / 8, `${info.bytes} engine bytes`);
      const got = (await rec.recommendFor(HISTORY, { k: 20 })).map((r) => r.id);
      const want = (await full.recommendFor(HISTORY, { k: 20 })).map((r) => r.id);
      assert.ok(got.filter((id) => want.includes(id)).length >= 8, `${got} vs ${want}`);
      const ids = await rec.itemIds();
      const index = new Map(ids.map((id, i) => [id, i]));
      const histories = [[0, 5, 17], [100, 2000, 3000, 6000], [42]];
      const hFile = tmpFile('h.txt');
      const oFile = hFile.replace('h.txt', 'ranked.txt');
      fs.writeFileSync(hFile, histories.map((h) => h.join(' ')).join('\n') + '\n');
      execFileSync(tool, ['rank', pqPath, '--histories', hFile, '--k', '50', '--out', oFile]);
      const native = fs.readFileSync(oFile, 'utf8').trim().split('\n');
      for (const [u, h] of histories.entries()) {
        const wasm = (await rec.recommendFor(h.map((i) => ids[i]), { k: 50, explain: false })).map((r) => index.get(r.id)).join(' ');
        assert.equal(wasm, native[u], `user ${u}`);
      }
      await rec.dispose();
      await full.dispose();
    });

    test('new products placed by their content are recommendable without retraining', { skip: !fs.existsSync(tool) && 'native tool not built' }, async () => {
      const rec = await runtime.createRecommender({ model: contentFile() });
      assert.equal((await rec.info()).contentMap, true);
      const kids = { id: 'new-kids-film', title: 'Toy Adventure 5', categories: ['Adventure', 'Animation', 'Children', 'Comedy'], year: 2019 };
      const horror = { id: 'new-horror-film', title: 'The Haunting Night', categories: ['Horror', 'Thriller'], year: 2019 };
      assert.deepEqual(await rec.addItems([kids, horror]), { added: 2, items: 6171 });
      assert.ok(await rec.hasItem('new-kids-film'));
      const info = await rec.info();
      assert.equal(info.addedItems, 2);
      const films = new Map(catalog.items.map((f) => [f.id, f]));
      // Its nearest films are family films more often than the catalogue's base rate.
      const isFamily = (f) => f?.categories.some((c) => c === 'Children' || c === 'Animation');
      const base = catalog.items.filter(isFamily).length / catalog.items.length;
      const similar = await rec.similarItems('new-kids-film', 20);
      const share = similar.filter((r) => isFamily(films.get(r.id))).length / similar.length;
      assert.ok(share >= 2 * base, `${share} of its similar films are family films (base rate ${base.toFixed(3)})`);
      // Among the new arrivals, a family history puts the family film first, a horror history the horror film.
      const family = ['1', '2355', '3114', '588'];        // Toy Story, A Bug's Life, Toy Story 2, Aladdin
      const horrorFan = ['1258', '1997', '2710', '1387', '1345'];  // The Shining, The Exorcist, Blair Witch, Jaws, Carrie
      for (const id of [...family, ...horrorFan]) assert.ok(await rec.hasItem(id), id);
      const arrivals = ['new-horror-film', 'new-kids-film'];
      assert.deepEqual((await rec.recommendFor(family, { candidates: arrivals, k: 2 })).map((r) => r.id), ['new-kids-film', 'new-horror-film']);
      assert.deepEqual((await rec.recommendFor(horrorFan, { candidates: arrivals, k: 2 })).map((r) => r.id), ['new-horror-film', 'new-kids-film']);
      // A new item can be observed like any other.
      await rec.observe({ item: 'new-kids-film' });
      assert.ok((await rec.recommend({ k: 5 })).every((r) => r.id !== 'new-kids-film'));
      await rejects(rec.addItems([kids]), 'InvalidArgument', /already in the model/);
      await rejects(rec.addItems([{ title: 'no id' }]), 'InvalidArgument', /id/);
      await rejects(rec.addItems('x'), 'InvalidArgument', /array/);
      const plain = await runtime.createRecommender({ model: modelPath });
      assert.equal((await plain.info()).contentMap, false);
      await rejects(plain.addItems([kids]), 'FailedPrecondition', /content map/);
      await plain.dispose();
      await rec.dispose();
    });

    test('linear and blend models rank their taste group first, exactly like native', { skip: !fs.existsSync(tool) && 'native tool not built' }, async () => {
      for (const [kind, file] of Object.entries(linearFiles())) {
        const rec = await runtime.createRecommender({ model: file });
        assert.equal((await rec.info()).kind, kind);
        const ids = await rec.itemIds();
        const index = new Map(ids.map((id, i) => [id, i]));
        const histories = [[0, 6, 12], [1, 7, 13, 19, 25], [5], [2, 8, 100, 200], []];
        const hFile = tmpFile('h.txt');
        const oFile = hFile.replace('h.txt', 'ranked.txt');
        fs.writeFileSync(hFile, histories.map((h) => h.join(' ')).join('\n') + '\n');
        execFileSync(tool, ['rank', file, '--histories', hFile, '--k', '30', '--out', oFile]);
        const native = fs.readFileSync(oFile, 'utf8').split('\n');
        for (const [u, h] of histories.entries()) {
          const top = await rec.recommendFor(h.map((i) => ids[i]), { k: 30, explain: false });
          assert.equal(top.map((r) => index.get(r.id)).join(' '), native[u], `${kind} user ${u}`);
          if (h.length >= 3) {  // the history's taste groups (index mod 6) lead the ranking
            const groups = new Set(h.map((i) => i % 6));
            assert.ok(top.slice(0, 10).filter((r) => groups.has(index.get(r.id) % 6)).length >= 8, `${kind} user ${u}: ${top.slice(0, 10).map((r) => r.id)}`);
          }
        }
        await rec.dispose();
      }
    });

    test('ranks exactly like the native engine', { skip: !fs.existsSync(tool) && 'native tool not built' }, async () => {
      const rec = await runtime.createRecommender({ model: modelPath });
      const ids = await rec.itemIds();
      const index = new Map(ids.map((id, i) => [id, i]));
      // 30 pseudo-random histories of 1..60 items (a fixed LCG).
      let s = 12345;
      const rand = (n) => { s = (s * 1103515245 + 12345) % 2147483648; return s % n; };
      const histories = Array.from({ length: 30 }, () => Array.from({ length: 1 + rand(60) }, () => rand(ids.length)));
      const hFile = tmpFile('h.txt');
      const oFile = hFile.replace('h.txt', 'ranked.txt');
      fs.writeFileSync(hFile, histories.map((h) => h.join(' ')).join('\n') + '\n');
      execFileSync(tool, ['rank', modelPath, '--histories', hFile, '--k', '50', '--out', oFile]);
      const native = fs.readFileSync(oFile, 'utf8').trim().split('\n');
      for (const [u, h] of histories.entries()) {
        const wasm = (await rec.recommendFor(h.map((i) => ids[i]), { k: 50, explain: false })).map((r) => index.get(r.id)).join(' ');
        assert.equal(wasm, native[u], `user ${u}`);
      }
      await rec.dispose();
    });
  });
}

describe('recommender in a worker', () => {
  test('same answers as in-thread, errors cross as VitrineErrors, dispose stops the worker', async () => {
    const stages = [];
    const remote = await createRecommender({ model: modelPath, worker: true, variant: 'simd', onProgress: (p) => stages.push(p.stage) });
    assert.ok(remote instanceof RemoteRecommender);
    assert.ok(stages.includes('model'));
    assert.equal(remote.runtimeInfo.variant, 'simd');
    for (const id of HISTORY) await remote.observe({ item: id, type: 'view', time: 5 });
    const got = await remote.recommend({ k: 10, diversity: 0.2 });

    const runtime = await createRuntime({ variant: 'simd' });
    const local = await runtime.createRecommender({ model: modelPath });
    for (const id of HISTORY) await local.observe({ item: id, type: 'view', time: 5 });
    assert.deepEqual(got, await local.recommend({ k: 10, diversity: 0.2 }));
    assert.deepEqual(await remote.similarItems('1', 3), await local.similarItems('1', 3));
    const page = ['1', '296', 'sku-x', '318', '260'];
    assert.deepEqual(await remote.rerank(page), await local.rerank(page));
    assert.deepEqual(await remote.recommend({ k: 2, candidates: page }), await local.recommend({ k: 2, candidates: page }));
    assert.deepEqual(await remote.exportState(), await local.exportState());
    await local.dispose();
    runtime.dispose();

    await rejects(remote.observe({ item: 'no-such-movie' }), 'NotFound', /unknown item id/);
    await rejects(remote.recommend({ filter: () => true }), 'InvalidArgument', /cannot be sent to a worker/);
    await remote.forget();
    assert.equal((await remote.info()).events, 0);
    await remote.dispose();
    await rejects(remote.recommend(), 'FailedPrecondition', /disposed/);
    await rejects(createRecommender({ model: modelPath, worker: true, storage: { load() {}, save() {}, clear() {} } }),
                  'InvalidArgument', /custom storage/);
  });
});
