// A minimal product page per task (product.html?task=…): the page's first result as early as
// possible, then `interact(n)` for n shopper interactions, and `cycle(n)` for create/dispose cycles
// (?cycles; ?cycles=N runs them by itself and reports its progress to the server).
// `performance.mark('vitrine-first-result')` marks the first result; npm run bench -- page reads it.
import { createRecommender, createImageTagger, createReviewAnalyzer } from '../src/index.js';

performance.mark('vitrine-script');  // the page's modules (and the facade's) are loaded
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const task = params.get('task') ?? 'recommend';
addEventListener('error', (e) => { $('errors').textContent += `error: ${e.message}\n`; });
addEventListener('unhandledrejection', (e) => { $('errors').textContent += `unhandled: ${e.reason?.message ?? e.reason}\n`; });

// A 28x28 product photo drawn by the page (a bright shape low in the frame: shoe-like).
function photo(seed) {
  const data = new Uint8Array(28 * 28);
  for (let y = 16 + (seed % 4); y < 26; y++) for (let x = 2 + (seed % 3); x < 26; x++) data[y * 28 + x] = 150 + (seed * 7) % 100;
  return { data, width: 28, height: 28, format: 'gray' };
}
const REVIEWS = ['Delicious, fresh and a great price!', 'Stale and overpriced. The box arrived crushed.',
                 'My kids love the taste, will order again.', 'Not bad at all, but shipping was slow.'];

// The start's stages as marks (first of each: the worker's engine 'start', 'instantiate', 'ready',
// the model read, 'state'), for the bench's breakdown of the time to the first result.
const onProgress = (p) => {
  if (p?.stage && !performance.getEntriesByName(`vitrine-stage-${p.stage}`).length) performance.mark(`vitrine-stage-${p.stage}`);
};
const TASKS = {
  recommend: {
    title: 'Recommended for you',
    create: () => createRecommender({ storage: 'memory', onProgress }),
    async first(t) { return (await t.recommendFor(['2571', '260'], { k: 8, explain: false })).map((r) => r.id); },
    async interact(t, i) {
      await t.observe({ item: ['1', '296', '318', '593', '2571', '260'][i % 6], event: 'view' });
      return (await t.recommend({ k: 8, explain: false })).map((r) => r.id);
    },
  },
  tag: {
    title: 'Tags for this photo',
    create: () => createImageTagger({ storage: 'memory', onProgress }),
    async first(t) { return (await t.tag(photo(0), { topK: 3 })).map((r) => r.label); },
    async interact(t, i) { return (await t.tag(photo(i + 1), { topK: 3 })).map((r) => r.label); },
  },
  review: {
    title: 'What this review says',
    create: () => createReviewAnalyzer({ onProgress }),
    async first(t) { const r = await t.analyze(REVIEWS[0]); return [r.label, ...r.aspects.map((a) => `${a.aspect}: ${a.sentiment}`)]; },
    async interact(t, i) { const r = await t.analyze(REVIEWS[i % REVIEWS.length]); return [r.label]; },
  },
};
const spec = TASKS[task];
if (!spec) throw new Error(`unknown task ${task}`);
$('title').textContent = spec.title;
const show = (lines) => $('result').replaceChildren(...lines.map((l) => Object.assign(document.createElement('li'), { textContent: l })));

if (params.has('cycles')) {
  // create → one call → dispose, n times; the bench samples the browser's memory in between.
  window.cycle = async (n) => {
    for (let i = 0; i < n; i++) {
      const t = await spec.create();
      show(await spec.first(t));
      await t.dispose();
    }
    return true;
  };
  document.body.dataset.ready = 'true';
  // ?cycles=N&batch=B runs by itself, for a browser started without a driver: after 10 cycles and
  // then every B, it fetches progress?done=<cycles so far> and rests 3 s (the bench samples memory
  // then); progress?error=<message> on a failure.
  const total = Number(params.get('cycles'));
  if (total > 0) {
    const batch = Math.max(1, Number(params.get('batch') ?? 20));
    const report = (q) => fetch(`progress?${q}`).catch(() => {});
    try {
      for (let done = 0; done < total;) {
        const n = Math.min(total - done, done === 0 ? Math.min(10, total) : batch);
        await window.cycle(n);
        done += n;
        await report(`done=${done}`);
        await new Promise((r) => setTimeout(r, 3000));
      }
    } catch (e) {
      await report(`error=${encodeURIComponent(e?.message ?? String(e))}`);
    }
  }
} else {
  const t = await spec.create();
  performance.mark('vitrine-created');  // worker started, wasm compiled, model loaded
  show(await spec.first(t));
  performance.mark('vitrine-first-result');
  document.body.dataset.ready = 'true';
  window.interact = async (n) => {
    for (let i = 0; i < n; i++) {
      show(await spec.interact(t, i));
      await new Promise((r) => setTimeout(r, 50));  // a shopper's pace, not a loop
    }
    return true;
  };
}
