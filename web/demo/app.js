// The storefront demo: a movie store whose recommendations change as the visitor views and buys
// films. The shopper's history lives in this origin's IndexedDB only; after the model loads the
// page makes no network requests.
import { init, runtimeInfo, createRecommender } from '../src/index.js';

const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };
const modelUrl = new URL('../../models/recommend/movielens.safetensors', import.meta.url);
const catalogUrl = new URL('../../models/recommend/movielens-catalog.json', import.meta.url);

const t0 = performance.now();
await init({ onProgress: ({ stage, loaded, total }) => status(`loading ${stage} ${total ? Math.round((100 * loaded) / total) : 0}%`) });
const catalog = (await (await fetch(catalogUrl)).json()).items;
const byId = new Map(catalog.map((m) => [m.id, m]));
const rec = await createRecommender({
  model: modelUrl,
  storage: 'auto',
  catalog,
  onProgress: ({ stage, loaded, total }) => status(`loading ${stage} ${total ? Math.round((100 * loaded) / total) : 0}%`),
});
const loadMs = performance.now() - t0;
const label = (id) => { const m = byId.get(id); return m ? `${m.title} (${m.year ?? '?'})` : id; };

// The shelf: the model's answer for a visitor it knows nothing about (its popularity prior).
const shelf = rec.recommendFor([], { k: 24, explain: false }).map((r) => r.id);

function renderCatalogue() {
  const seen = new Set(rec.exportState().events.map((e) => e.item));
  $('catalogue').replaceChildren(...shelf.map((id) => {
    const m = byId.get(id);
    const card = document.createElement('div');
    card.className = `card${seen.has(id) ? ' seen' : ''}`;
    card.dataset.id = id;
    card.innerHTML = '<div class="title"></div><div class="genres"></div>' +
      '<button type="button" data-action="view">View</button><button type="button" data-action="purchase">Buy</button>';
    card.querySelector('.title').textContent = label(id);
    card.querySelector('.genres').textContent = m?.categories.join(', ') ?? '';
    return card;
  }));
}

let last = { fold: 0, rank: 0 };
function renderRecommendations() {
  const fold = rec.personalize();
  const t = performance.now();
  const top = rec.recommend({ k: 10, diversity: 0.2 });
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
  $('history-count').textContent = String(rec.info().events);
  const info = runtimeInfo();
  status(`ready · ${info.variant}, ${info.threads} thread${info.threads > 1 ? 's' : ''} (${info.reason}) · ` +
         `loaded in ${loadMs.toFixed(0)} ms · fold-in ${last.fold.toFixed(2)} ms · ranking ${rec.info().items} films ` +
         `${last.rank.toFixed(2)} ms`);
  document.body.dataset.ready = 'true';
}

$('catalogue').addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const id = button.closest('.card').dataset.id;
  await rec.observe({ item: id, type: button.dataset.action });
  renderCatalogue();
  renderRecommendations();
});
$('forget').addEventListener('click', async () => {
  await rec.forget();
  renderCatalogue();
  renderRecommendations();
});

renderCatalogue();
renderRecommendations();
