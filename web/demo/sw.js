// The demo's service worker: keeps the page, the facade, both wasm variants and the demo data in
// Cache Storage so that the storefront reloads offline. Models are not stored here: the facade
// keeps them (checked against models/registry.json) in its own cache. Online, the network wins and
// refreshes the copy; offline, the copy answers.
const CACHE = 'vitrine-demo-v5';
const SRC = ['index.js', 'errors.js', 'loader.js', 'dense.js', 'model.js', 'trainer.js', 'recommend.js', 'remote.js',
             'storage.js', 'tag.js', 'image.js', 'review.js', 'worker.js', 'methods.js', 'handle.js', 'trusted.js', 'frame.js'];
const DIST = ['vitrine-simd.mjs', 'vitrine-simd.wasm', 'vitrine-simd-threads.mjs', 'vitrine-simd-threads.wasm',
              'vitrine-simd-threads.worker.js', 'package.json'];
const FILES = ['./index.html', './app.js', './demo.css', './data/fashion.json', './data/fashion.bin', './data/reviews.json',
               '../../models/registry.json', '../../models/recommend/movielens-catalog.json',
               ...SRC.map((f) => `../src/${f}`), ...DIST.map((f) => `../dist/${f}`)];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(FILES.map((f) => new URL(f, self.location.href).href));
    await self.skipWaiting();
  })());
});

// No clients.claim(): the page that installed the worker stays uncontrolled and its next load is
// served through it. Claiming a cross-origin-isolated page mid-life made Firefox ESR 153 stall that
// page's next navigation for about 100 s (and then load it uncontrolled).

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.endsWith('.safetensors')) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(event.request, response.clone());
      return response;
    } catch (e) {
      const hit = await cache.match(event.request);
      if (hit) return hit;
      throw e;
    }
  })());
});
