// Uses the installed `vitrine` package the way a storefront would: the three default models,
// no hand-copied wasm or model files (the bundler ships what the package references).
import { createRecommender, createImageTagger, createReviewAnalyzer, RemoteRecommender, RemoteImageTagger,
         RemoteReviewAnalyzer } from 'vitrine';

const out = document.getElementById('out');
const violations = [];  // what the page's Content-Security-Policy blocked, if it has one
document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.effectiveDirective}: ${e.blockedURI || 'inline'}`));
// Where the page is (body[data-step]), so that a test that waits in vain can say where it stopped.
const step = (name) => { document.body.dataset.step = name; };
const progress = (name) => ({ stage, loaded, total }) => step(`${name}: ${stage} ${loaded}/${total}`);
try {
  // In a browser each task runs in its own worker by default: every method returns a Promise.
  step('createRecommender');
  const rec = await createRecommender({ storage: 'memory', onProgress: progress('createRecommender') });
  step('recommendFor');
  const films = (await rec.recommendFor(['2571', '260'], { k: 3 })).map((r) => r.id);
  // A page's own list re-ranked for the shopper (an id the model lacks comes back last).
  step('observe');
  await rec.observe({ item: '2571' });
  step('rerank');
  const reranked = (await rec.rerank(['1', 'sku-not-in-model', '296', '2571', '318'])).map((r) => r.id);
  // A store's own small model, updated by an item delta instead of a new model file.
  step('own createRecommender');
  const own = await createRecommender({ model: '/delta/from.safetensors', storage: 'memory', onProgress: progress('own createRecommender') });
  step('applyDelta');
  const applied = await own.applyDelta('/delta/delta.safetensors');
  step('itemIds');
  const ownIds = await own.itemIds();
  step('own recommendFor');
  const delta = { items: applied.items, added: ownIds.includes('n2'), removed: !ownIds.includes('i0'),
                  recommendsNew: (await own.recommendFor(['i7'], { k: 27 })).some((r) => r.id.startsWith('n')) };
  step('own dispose');
  await own.dispose();
  step('createImageTagger');
  const tagger = await createImageTagger({ storage: 'memory' });
  const boot = new Uint8Array(28 * 28);  // a bright rectangle low in the frame: shoe-like
  for (let y = 18; y < 26; y++) for (let x = 3; x < 25; x++) boot[y * 28 + x] = 200;
  step('tag');
  const tags = await tagger.tag({ data: boot, width: 28, height: 28, format: 'gray' }, { topK: 1 });
  step('createReviewAnalyzer');
  const reviews = await createReviewAnalyzer();
  step('analyze');
  const review = await reviews.analyze('Delicious, fresh and a great price!');
  step('in-page createReviewAnalyzer');
  const inPage = await createReviewAnalyzer({ worker: false });  // opting out: this thread
  step('in-page analyze');
  const fromPage = await inPage.analyze('Stale and overpriced.');
  step('in-page dispose');
  await inPage.dispose();
  const info = rec.runtimeInfo;
  out.textContent = JSON.stringify({ variant: info.variant, threads: info.threads, films, reranked, delta, tags: tags.map((t) => t.type),
                                     review: review.label, inPage: fromPage.label,
                                     remote: rec instanceof RemoteRecommender && tagger instanceof RemoteImageTagger &&
                                             reviews instanceof RemoteReviewAnalyzer,
                                     errors: violations.join(', ') });
  document.body.dataset.done = 'ok';
} catch (e) {
  out.textContent = `${e.name}: ${e.message}`;
  document.body.dataset.done = 'error';
}
