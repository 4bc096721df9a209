// createRecommender({ frame }) in all three engines: a storefront page (web/demo/framed.html) on one
// origin gets recommendations from the recommendations frame (web/frame/index.html) on another,
// whose host allows only that storefront (CSP frame-ancestors). The history lives in the frame's
// origin: it survives a reload there, the page's own IndexedDB has no Vitrine database, the page's
// object has no exportState(); another site that embeds the frame is refused.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { serve } from '../../scripts/serve.mjs';
import { ENGINES, available, launch } from './drivers.mjs';

const engines = process.env.VITRINE_ENGINES ? process.env.VITRINE_ENGINES.split(',') : ENGINES;
const ready = () => document.body.dataset.ready;
const state = () => ({ ready: document.body.dataset.ready, errors: document.getElementById('errors').textContent,
                       ids: [...document.querySelectorAll('#result li')].map((li) => li.textContent),
                       events: document.getElementById('events').textContent, canExport: window.canExport });

for (const engine of engines) {
  describe(`isolated recommendations frame: ${engine}`, { skip: available(engine) ? false : `${engine} is not installed` }, () => {
    let store, other, reco, browser;
    before(async () => {
      store = await serve({ port: 0 });
      other = await serve({ port: 0 });
      const storeOrigin = new URL(store.url).origin;
      reco = await serve({ port: 0, headers: { 'Content-Security-Policy': `frame-ancestors ${storeOrigin}` } });
      browser = await launch(engine);
    });
    after(async () => {
      await browser?.close();
      await Promise.all([store, other, reco].map((s) => s?.close()));
    });

    test('events in, recommendations out; the history stays with the frame', { timeout: 180_000 }, async () => {
      const frame = new URL('/web/frame/index.html', reco.url).href;
      const page = await browser.open(`${store.url.replace('index.html', 'framed.html')}?frame=${encodeURIComponent(frame)}`);
      await page.waitFor(ready, null, 120_000);
      let s = await page.evaluate(state);
      assert.equal(s.ready, 'true', s.errors);
      assert.equal(s.events, '0');
      assert.equal(s.canExport, false, 'the page can export the history');
      const before = s.ids;
      assert.equal(before.length, 8);
      for (const id of ['2571', '260', '1196']) await page.evaluate((i) => window.view(i), id);
      s = await page.evaluate(state);
      assert.equal(s.events, '3');
      assert.notDeepEqual(s.ids, before);
      const after3 = s.ids;
      // The page's origin holds no Vitrine state.
      const dbs = await page.evaluate(async () => (indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : []));
      assert.ok(!dbs.includes('vitrine'), `the page's origin has ${dbs}`);
      // A reload: the frame's origin kept the history.
      await page.reload();
      await page.waitFor(ready, null, 120_000);
      s = await page.evaluate(state);
      assert.equal(s.ready, 'true', s.errors);
      assert.equal(s.events, '3');
      assert.deepEqual(s.ids, after3);
      await page.close();
    });

    test('a site the frame does not allow gets an error, not the history', { timeout: 120_000 }, async () => {
      const frame = new URL('/web/frame/index.html', reco.url).href;
      const page = await browser.open(`${other.url.replace('index.html', 'framed.html')}?timeout=5000&frame=${encodeURIComponent(frame)}`);
      await page.waitFor(ready, null, 60_000);
      const s = await page.evaluate(state);
      assert.equal(s.ready, 'error');
      assert.match(s.errors, /NotFound frame: .* did not answer in 5000 ms/);
      await page.close();
    });
  });
}
