// A product page whose recommender lives in a frame on another origin (createRecommender({ frame })).
// window.view(id) records a view there and re-renders; the page never holds the history.
import { createRecommender } from '../src/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const show = (text) => { $('errors').textContent += `${text}\n`; };
addEventListener('unhandledrejection', (e) => show(`unhandled: ${e.reason?.code ?? ''} ${e.reason?.message ?? e.reason}`));

try {
  const rec = await createRecommender({ frame: params.get('frame'), frameTimeoutMs: Number(params.get('timeout') ?? 30000) });
  const render = async () => {
    const top = await rec.recommend({ k: 8, explain: false });
    $('result').replaceChildren(...top.map((r) => Object.assign(document.createElement('li'), { textContent: r.id })));
    $('events').textContent = String((await rec.info()).events);
    $('where').textContent = new URL(params.get('frame'), location.href).origin;
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
  };
  window.view = async (id) => { await rec.observe({ item: id, event: 'view' }); await render(); return true; };
  window.canExport = typeof rec.exportState === 'function';
  await render();
  document.body.dataset.ready = 'true';
} catch (e) {
  show(`${e.code ?? ''} ${e.message}`);
  document.body.dataset.ready = 'error';
}
