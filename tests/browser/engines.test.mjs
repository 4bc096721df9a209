// The demo page in all three browser engines (Chromium, Firefox ESR, WebKitGTK; see drivers.mjs),
// served with and without cross-origin isolation and with and without the strict
// Content-Security-Policy with Trusted Types that storefronts run (scripts/serve.mjs STRICT_CSP).
// In each of the 12 settings: the variant is simd-threads exactly where the page is cross-origin
// isolated and has SharedArrayBuffer, else simd (never a hang); all three tasks run in workers;
// clicks change the recommendations, the history survives a reload, "Forget me" empties it; a
// catalogue photo and an uploaded PNG get tags; a typed review gets sentiment and aspects; with
// the server gone, a reload comes back from the service worker and the model cache; and under the
// CSP an inline script and a blob: worker are blocked (outside it they run: the canary can fail).
// Results per setting go to tests/browser/artifacts/engines.json.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { serve } from '../../scripts/serve.mjs';
import { ENGINES, available, launch } from './drivers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, 'artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const results = [];
after(() => fs.writeFileSync(path.join(artifacts, 'engines.json'), JSON.stringify(results, null, 1) + '\n'));

const NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

// In-page helpers (each runs inside the page, so it must be self-contained).
const ids = (sel) => [...document.querySelectorAll(sel)].map((e) => e.dataset.id);
const click = (sel) => { document.querySelector(sel).click(); return true; };
const type = ([sel, text]) => {
  const el = document.querySelector(sel);
  el.value = text;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  return true;
};
const pageErrors = () => document.getElementById('errors').textContent;

// Tries an inline script and a blob: worker (both made through a Trusted Types policy, so that only
// the CSP itself can stop them) and reports which ran.
async function canary() {
  const policy = globalThis.trustedTypes?.createPolicy(`canary-${Math.random()}`, { createScript: (s) => s, createScriptURL: (s) => s });
  const script = document.createElement('script');
  script.textContent = policy ? policy.createScript('window.__canaryInline = true') : 'window.__canaryInline = true';
  document.head.append(script);
  const blob = URL.createObjectURL(new Blob(['postMessage("ran")'], { type: 'text/javascript' }));
  const worker = await new Promise((resolve) => {
    try {
      const w = new Worker(policy ? policy.createScriptURL(blob) : blob);
      w.onmessage = () => resolve('ran');
      w.onerror = () => resolve('blocked');
      setTimeout(() => resolve('silent'), 5000);
    } catch (e) {
      resolve(`blocked (${e.name})`);
    }
  });
  return { inline: window.__canaryInline === true ? 'ran' : 'blocked', worker };
}

// VITRINE_ENGINES=firefox,webkit runs some engines only.
const engines = process.env.VITRINE_ENGINES ? process.env.VITRINE_ENGINES.split(',') : ENGINES;
for (const engine of engines) {
  for (const isolated of [true, false]) {
    for (const csp of [true, false]) {
      const setting = `${engine}, ${isolated ? 'cross-origin isolated' : 'not isolated'}, ${csp ? 'strict CSP + Trusted Types' : 'no CSP'}`;
      describe(`demo page: ${setting}`, { skip: available(engine) ? false : `${engine} is not installed (scripts/bootstrap.sh)` }, () => {
        let server, browser;
        before(async () => {
          server = await serve({ port: 0, isolated, csp });
          browser = await launch(engine);
        });
        after(async () => {
          await browser?.close();
          await server?.close();
        });

        test('every task in workers, persistence, Forget me, offline reload, the CSP in force', { timeout: 300_000 }, async () => {
          const record = { engine, version: browser.version, isolated, csp, ok: false };
          results.push(record);
          const t0 = Date.now();
          record.step = 'load';
          const page = await browser.open(server.url);
          record.version = browser.version;
          const ready = () => document.body.dataset.allReady === 'true' || document.getElementById('errors').textContent;
          await page.waitFor(ready, null, 120_000);
          assert.equal(await page.evaluate(pageErrors), '');
          record.loadMs = Date.now() - t0;
          const env = await page.evaluate(() => ({ coi: globalThis.crossOriginIsolated === true, sab: typeof SharedArrayBuffer === 'function',
                                                    status: document.getElementById('status').textContent }));
          Object.assign(record, { crossOriginIsolated: env.coi, sharedArrayBuffer: env.sab });
          assert.equal(env.coi, isolated);
          const threads = env.coi && env.sab;
          record.variant = /simd-threads/.test(env.status) ? 'simd-threads' : 'simd';
          assert.match(env.status, threads ? /simd-threads, 2 threads/ : /simd, 1 thread /);
          assert.match(env.status, /3 workers/);

          record.step = 'clicks';
          // Recommendations follow clicks.
          const before = await page.evaluate(ids, '#recommendations li');
          assert.equal(before.length, 10);
          const shelf = await page.evaluate(ids, '#catalogue .card');
          const clicked = [shelf[0], shelf[3], shelf[5], shelf[7]];
          for (const [n, id] of clicked.entries()) {
            await page.evaluate(click, `#catalogue .card[data-id="${id}"] button[data-action="${n === 3 ? 'purchase' : 'view'}"]`);
            await page.waitFor((c) => document.getElementById('history-count').textContent === String(c), n + 1);
          }
          const after1 = await page.evaluate(ids, '#recommendations li');
          assert.notDeepEqual(after1, before);
          for (const id of clicked) assert.ok(!after1.includes(id), `seen film ${id} recommended`);
          record.step = 'reload';
          // Reload: the history and the recommendations come back from IndexedDB.
          await page.reload();
          await page.waitFor(ready, null, 120_000);
          assert.equal(await page.evaluate(() => document.getElementById('history-count').textContent), '4');
          assert.deepEqual(await page.evaluate(ids, '#recommendations li'), after1);

          record.step = 'photos and reviews';
          // A catalogue photo and an uploaded PNG get tags; a typed review gets sentiment and aspects.
          const labels = await page.evaluate(async () => (await (await fetch('./data/fashion.json')).json()).labels);
          const tagged = (n) => page.waitFor((c) => document.body.dataset.photoTagged === String(c), n);
          const tags = () => page.evaluate(() => [...document.querySelectorAll('#photo-tags span')].map((e) => e.dataset.label));
          await page.evaluate(click, '#fashion canvas[data-index="0"]');
          await tagged(1);
          assert.ok((await tags()).includes(NAMES[labels[0]]), `tags ${await tags()} for a ${NAMES[labels[0]]}`);
          assert.equal(await page.evaluate(() => document.querySelectorAll('#similar canvas').length), 8);
          await page.evaluate(async () => {  // catalogue photo 1, 4x larger on a light background, as a PNG file
            const px = new Uint8Array(await (await fetch('./data/fashion.bin')).arrayBuffer()).subarray(784, 2 * 784);
            const c = new OffscreenCanvas(112, 112);
            const ctx = c.getContext('2d');
            const img = ctx.createImageData(112, 112);
            for (let y = 0; y < 112; y++) for (let x = 0; x < 112; x++) {
              const v = 255 - px[Math.floor(y / 4) * 28 + Math.floor(x / 4)];
              img.data.set([v, v, v, 255], (y * 112 + x) * 4);
            }
            ctx.putImageData(img, 0, 0);
            const blob = await c.convertToBlob({ type: 'image/png' });
            const files = new DataTransfer();
            files.items.add(new File([blob], 'product.png', { type: 'image/png' }));
            const input = document.getElementById('photo-file');
            input.files = files.files;
            input.dispatchEvent(new Event('change', { bubbles: true }));
          });
          await tagged(2);
          assert.ok((await tags()).includes(NAMES[labels[1]]), `tags ${await tags()} for an uploaded ${NAMES[labels[1]]}`);
          await page.evaluate(type, ['#review', 'Absolutely delicious and fresh, my kids love it. But the box arrived damaged.']);
          await page.waitFor(() => document.getElementById('sentiment').textContent === 'positive');
          const aspects = await page.evaluate(() => [...document.querySelectorAll('#aspects span')].map((e) => `${e.dataset.aspect}:${e.className}`));
          assert.ok(aspects.includes('delivery:negative'), `aspects ${aspects}`);

          record.step = 'forget';
          // Forget me, then a reload: nothing left.
          await page.evaluate(click, '#forget');
          await page.waitFor(() => document.getElementById('history-count').textContent === '0');
          await page.reload();
          await page.waitFor(ready, null, 120_000);
          assert.equal(await page.evaluate(() => document.getElementById('history-count').textContent), '0');
          assert.deepEqual(await page.evaluate(ids, '#recommendations li'), before);
          assert.equal(await page.evaluate(pageErrors), '');

          record.step = 'offline';
          // Offline: the server is gone; the service worker's copy and the facade's model cache answer.
          await page.waitFor(() => document.body.dataset.offlineReady === 'true', null, 60_000);
          await server.close();
          server = null;
          await page.reload();
          await page.waitFor(ready, null, 120_000);
          assert.equal(await page.evaluate(pageErrors), '');
          assert.equal((await page.evaluate(ids, '#recommendations li')).length, 10);
          await page.evaluate(type, ['#review', 'Stale, tasteless and overpriced. Do not buy.']);
          await page.waitFor(() => document.getElementById('sentiment').textContent === 'negative');
          record.offline = true;

          record.step = 'canary';
          // The canary: blocked exactly when the policy is served.
          const c = await page.evaluate(canary);
          record.canary = c;
          if (csp) {
            assert.equal(c.inline, 'blocked');
            assert.match(c.worker, /^blocked/);
          } else {
            assert.deepEqual(c, { inline: 'ran', worker: 'ran' });
          }
          await page.close();
          record.ok = true;
          delete record.step;
          record.totalMs = Date.now() - t0;
        });
      });
    }
  }
}
