// The storefront demo: a movie store whose recommendations change as the visitor views and buys
// films. The shopper's history lives in this origin's IndexedDB only; after the model loads the
// page makes no network requests.
//
// Your own models (from `npx vitrine train …`) instead of the shipped demos, as URLs relative to
// this page: ?recommender=…/model.safetensors&catalog=…/catalog.json&tagHead=…/tag-head.safetensors
// &reviews=…/model.safetensors (`node scripts/serve.mjs --own DIR` serves DIR at /own/).
import { createRecommender, createImageTagger, createReviewAnalyzer } from '../src/index.js';

const $ = (id) => document.getElementById(id);
// Anything that goes wrong on the page, including what its Content-Security-Policy blocks, is shown
// (and kept in body[data-errors] for the browser tests).
const pageErrors = [];
const showError = (text) => {
  pageErrors.push(text);
  document.body.dataset.errors = String(pageErrors.length);
  $('errors').append(Object.assign(document.createElement('div'), { textContent: text }));
};
addEventListener('error', (e) => showError(`error: ${e.message}`));
addEventListener('unhandledrejection', (e) => showError(`unhandled: ${e.reason?.message ?? e.reason}`));
document.addEventListener('securitypolicyviolation', (e) => showError(`blocked by CSP (${e.effectiveDirective}): ${e.blockedURI || 'inline'}`));
const status = (text) => { $('status').textContent = text; };
const params = new URLSearchParams(location.search);
const own = (name) => (params.get(name) ? new URL(params.get(name), location.href) : null);
const catalogUrl = own('catalog') ?? new URL('../../models/recommend/movielens-catalog.json', import.meta.url);
document.body.dataset.own = ['recommender', 'catalog', 'tagHead', 'reviews'].filter((n) => own(n)).join(',');

const t0 = performance.now();
const catalogJson = await (await fetch(catalogUrl)).json();
const catalog = Array.isArray(catalogJson) ? catalogJson : catalogJson.items;  // vitrine train writes an array
const byId = new Map(catalog.map((m) => [m.id, m]));
const rec = await createRecommender({  // the shipped model: checked against models/registry.json, then cached
  storage: 'auto',
  catalog,
  ...(own('recommender') ? { model: own('recommender') } : {}),
  onProgress: ({ stage, loaded, total }) => status(`loading ${stage} ${total ? Math.round((100 * loaded) / total) : 0}%`),
});
const loadMs = performance.now() - t0;
const label = (id) => { const m = byId.get(id); return m?.title ? `${m.title}${m.year ? ` (${m.year})` : ''}` : id; };

// The shelf: the model's answer for a visitor it knows nothing about (its popularity prior).
const shelf = (await rec.recommendFor([], { k: 24, explain: false })).map((r) => r.id);
// Each task runs in its own worker (the default in browsers): the page's thread never blocks.
const runtimeInfo = () => rec.runtimeInfo;

async function renderCatalogue() {
  const seen = new Set((await rec.exportState()).events.map((e) => e.item));
  $('catalogue').replaceChildren(...shelf.map((id) => {
    const m = byId.get(id);
    const card = document.createElement('div');
    card.className = `card${seen.has(id) ? ' seen' : ''}`;
    card.dataset.id = id;
    const div = (className, text) => Object.assign(document.createElement('div'), { className, textContent: text });
    const button = (action, text) => {
      const b = Object.assign(document.createElement('button'), { type: 'button', textContent: text });
      b.dataset.action = action;
      return b;
    };
    card.append(div('title', label(id)), div('genres', m?.categories?.join(', ') ?? ''), button('view', 'View'), button('purchase', 'Buy'));
    return card;
  }));
}

let last = { fold: 0, rank: 0 };
async function renderRecommendations() {
  const fold = await rec.personalize();
  const t = performance.now();
  const top = await rec.recommend({ k: 10, diversity: 0.2 });
  last = { fold: fold.ms, rank: performance.now() - t };
  $('recommendations').replaceChildren(...top.map((r) => {
    const li = document.createElement('li');
    li.dataset.id = r.id;
    li.textContent = label(r.id);
    if (r.because) {
      const why = document.createElement('div');
      why.className = 'because';
      why.textContent = `because you viewed ${label(r.because.id)}`;
      li.append(why);
    }
    return li;
  }));
  const recInfo = await rec.info();
  $('history-count').textContent = String(recInfo.events);
  const info = runtimeInfo();
  status(`ready · ${info.variant}, ${info.threads} thread${info.threads > 1 ? 's' : ''} (${info.reason}) · ` +
         `loaded in ${loadMs.toFixed(0)} ms · fold-in ${last.fold.toFixed(2)} ms · ranking ${recInfo.items} films ` +
         `${last.rank.toFixed(2)} ms`);
  items = recInfo.items;
  document.body.dataset.ready = 'true';
}

$('catalogue').addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const id = button.closest('.card').dataset.id;
  await rec.observe({ item: id, type: button.dataset.action });
  await renderCatalogue();
  await renderRecommendations();
});
$('forget').addEventListener('click', async () => {
  await rec.forget();
  await renderCatalogue();
  await renderRecommendations();
});

let items = 0;
await renderCatalogue();
await renderRecommendations();

// ---- photos: tags, similar products, teach a new tag --------------------------------------------
const tagger = await createImageTagger({ storage: 'auto' });
if (own('tagHead')) await tagger.importHead(new Uint8Array(await (await fetch(own('tagHead'))).arrayBuffer()));
const fashion = await (await fetch(new URL('./data/fashion.json', import.meta.url))).json();
const fashionPixels = new Uint8Array(await (await fetch(new URL('./data/fashion.bin', import.meta.url))).arrayBuffer());
const photo = (i) => ({ data: fashionPixels.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, format: 'gray' });
function drawGray(canvas, pixels) {
  canvas.width = 28;
  canvas.height = 28;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) img.data.set([pixels[i], pixels[i], pixels[i], 255], i * 4);
  ctx.putImageData(img, 0, 0);
}
const picked = new Set();
$('fashion').replaceChildren(...Array.from({ length: fashion.count }, (_, i) => {
  const c = document.createElement('canvas');
  c.dataset.index = String(i);
  drawGray(c, photo(i).data);
  return c;
}));
await tagger.addToCatalog(Array.from({ length: fashion.count }, (_, i) => ({ id: String(i), image: photo(i) })));
let tagMs = 0;

async function showPhoto(image, previewPixels) {
  const t = performance.now();
  const tags = await tagger.tag(image, { topK: 3, threshold: 0.05 });
  const similar = await tagger.similar(image, 8);
  tagMs = performance.now() - t;
  if (previewPixels) drawGray($('photo-preview'), previewPixels);
  else $('photo-preview').getContext('2d').drawImage(image, 0, 0, 28, 28);
  $('photo-tags').replaceChildren(...tags.map((x) => {
    const span = document.createElement('span');
    span.className = x.type;
    span.dataset.label = x.label;
    span.textContent = `${x.label} ${(100 * x.score).toFixed(0)}%`;
    return span;
  }));
  $('similar').replaceChildren(...similar.map((s) => {
    const c = document.createElement('canvas');
    c.dataset.index = s.id;
    drawGray(c, photo(Number(s.id)).data);
    return c;
  }));
  document.body.dataset.photoTagged = String(Number(document.body.dataset.photoTagged ?? 0) + 1);
  renderStatus();
}
$('fashion').addEventListener('click', async (event) => {
  const c = event.target.closest('canvas');
  if (!c) return;
  const i = Number(c.dataset.index);
  if (picked.has(i)) picked.delete(i);
  else picked.add(i);
  c.classList.toggle('picked', picked.has(i));
  await showPhoto(photo(i), photo(i).data);
});
async function fromFile(file) {
  const bitmap = await createImageBitmap(file);
  await showPhoto(bitmap, null);
}
$('photo-file').addEventListener('change', (e) => e.target.files[0] && fromFile(e.target.files[0]));
$('drop').addEventListener('dragover', (e) => { e.preventDefault(); $('drop').classList.add('over'); });
$('drop').addEventListener('dragleave', () => $('drop').classList.remove('over'));
$('drop').addEventListener('drop', (e) => {
  e.preventDefault();
  $('drop').classList.remove('over');
  if (e.dataTransfer.files[0]) fromFile(e.dataTransfer.files[0]);
});
async function renderExamples() {
  const { examples, customTags } = await tagger.info();
  $('tag-examples').replaceChildren(...Object.entries(examples).map(([tag, n]) => {
    const span = document.createElement('span');
    span.className = customTags.includes(tag) ? 'custom' : '';
    span.textContent = `${tag}: ${n}`;
    return span;
  }));
}
$('tag-add').addEventListener('click', async () => {
  const name = $('tag-name').value.trim();
  if (!name || picked.size === 0) return;
  await tagger.learn([...picked].map(photo), name);
  for (const c of $('fashion').querySelectorAll('canvas.picked')) c.classList.remove('picked');
  picked.clear();
  await renderExamples();
});
$('tag-train').addEventListener('click', async () => {
  try {
    const r = await tagger.train({ onProgress: ({ step, steps, loss }) => { $('tag-progress').textContent = `step ${step}/${steps}, loss ${loss.toFixed(3)}`; } });
    $('tag-progress').textContent = `trained ${r.tags.join(', ')} on ${r.examples} photos in ${r.ms.toFixed(0)} ms`;
    document.body.dataset.tagTrained = 'true';
  } catch (e) {
    $('tag-progress').textContent = e.message;
  }
  await renderExamples();
});
await renderExamples();

// ---- reviews: live sentiment and aspects, summary ------------------------------------------------
const reviews = await createReviewAnalyzer(own('reviews') ? { model: own('reviews') } : {});
let reviewMs = 0;
async function renderReview() {
  const text = $('review').value;
  const t = performance.now();
  const r = await reviews.analyze(text);
  if (text !== $('review').value) return;  // the visitor kept typing: a newer analysis follows
  reviewMs = performance.now() - t;
  $('sentiment').textContent = r.empty ? '–' : r.positive ? 'positive' : 'negative';
  $('sentiment-score').textContent = r.empty ? '' : `(${(100 * r.score).toFixed(0)}% positive)`;
  $('aspects').replaceChildren(...r.aspects.map((a) => {
    const span = document.createElement('span');
    span.className = a.sentiment;
    span.dataset.aspect = a.aspect;
    span.textContent = `${a.aspect}: ${a.sentiment}`;
    span.title = a.snippet;
    return span;
  }));
  $('words').replaceChildren(...r.words.map((w) => {
    const span = document.createElement('span');
    span.className = w.weight > 0 ? 'positive' : 'negative';
    span.textContent = w.word;
    return span;
  }));
  document.body.dataset.reviewed = String(Number(document.body.dataset.reviewed ?? 0) + 1);
  renderStatus();
}
$('review').addEventListener('input', renderReview);
const sampleReviews = await (await fetch(new URL('./data/reviews.json', import.meta.url))).json();
$('summarize').addEventListener('click', async () => {
  const t = performance.now();
  const s = await reviews.summarize(sampleReviews, { onProgress: ({ done, total }) => { $('summary').textContent = `${done}/${total}…`; } });
  const ms = performance.now() - t;
  const lines = [`${s.count} reviews in ${ms.toFixed(0)} ms: ${(100 * s.positiveShare).toFixed(0)}% positive`,
                 `praised: ${s.praised.join(', ') || '–'}`, `criticized: ${s.criticized.join(', ') || '–'}`];
  for (const a of s.aspects.slice(0, 4)) {
    if (a.praise) lines.push(`${a.aspect} 👍 "${a.praise.slice(0, 80)}"`);
    if (a.complaint) lines.push(`${a.aspect} 👎 "${a.complaint.slice(0, 80)}"`);
  }
  $('summary').replaceChildren(...lines.map((l) => Object.assign(document.createElement('div'), { textContent: l })));
  document.body.dataset.summarized = 'true';
});

function renderStatus() {
  const info = runtimeInfo();
  status(`ready · ${info.variant}, ${info.threads} thread${info.threads > 1 ? 's' : ''} (${info.reason}) · ` +
         `loaded in ${loadMs.toFixed(0)} ms · fold-in ${last.fold.toFixed(2)} ms · ranking ${items} films ` +
         `${last.rank.toFixed(2)} ms · tag ${tagMs.toFixed(1)} ms · review ${reviewMs.toFixed(2)} ms · 3 workers`);
}
renderStatus();
document.body.dataset.allReady = 'true';

// Offline reloads: a service worker keeps the page's files (the models are in the facade's cache).
// Under Trusted Types (`require-trusted-types-for 'script'`) the script URL comes from a policy of
// the page's own, which vouches for this one file only.
if ('serviceWorker' in navigator) {
  const sw = new URL('./sw.js', import.meta.url).href;
  const policy = globalThis.trustedTypes?.createPolicy('vitrine-demo', {
    createScriptURL: (url) => { if (url !== sw) throw new TypeError(`not the demo's service worker: ${url}`); return url; },
  });
  // Scope: all of web/ (the server allows it), so the wasm variants' own workers are covered too.
  navigator.serviceWorker.register(policy ? policy.createScriptURL(sw) : sw, { scope: new URL('../', import.meta.url).pathname })
    .then(() => navigator.serviceWorker.ready)
    .then(() => { document.body.dataset.offlineReady = 'true'; })
    .catch((e) => console.warn(`offline copy unavailable: ${e.message}`));
}
