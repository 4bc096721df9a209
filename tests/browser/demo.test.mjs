// The storefront demo in real Chromium (Debian's /usr/bin/chromium driven by playwright-core),
// served once with cross-origin isolation (threads) and once without (single thread): clicking
// films changes the recommendations, the history survives a reload (IndexedDB), "Forget me"
// empties it, and after the model has loaded the page requests nothing. Screenshots are kept in
// tests/browser/artifacts/.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { serve } from '../../scripts/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, 'artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const CHROMIUM = process.env.VITRINE_CHROMIUM ?? '/usr/bin/chromium';

for (const isolated of [true, false]) {
  const mode = isolated ? 'isolated' : 'plain';
  describe(`demo page, ${isolated ? 'cross-origin isolated (threads)' : 'not isolated (single thread)'}`, () => {
    let server, browser;
    before(async () => {
      server = await serve({ port: 0, isolated });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
      });
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    test('recommendations follow clicks, persist across reloads, and no request leaves after load', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const requests = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(server.url);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      const statusText = await page.textContent('#status');
      assert.match(statusText, isolated ? /simd-threads, 2 threads/ : /simd, 1 thread /);
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), isolated);
      const loaded = requests.length;
      const origin = new URL(server.url).origin;
      for (const url of requests) assert.ok(url.startsWith(origin), `request outside the page's origin: ${url}`);

      const before = await page.$$eval('#recommendations li', (els) => els.map((e) => e.dataset.id));
      assert.equal(before.length, 10);
      // View three films and buy one: the list changes and explains itself.
      const shelf = await page.$$eval('#catalogue .card', (els) => els.map((e) => e.dataset.id));
      const clicked = [shelf[0], shelf[3], shelf[5], shelf[7]];
      for (const [n, id] of clicked.entries()) {  // the grid re-renders after each click
        await page.click(`#catalogue .card[data-id="${id}"] button[data-action="${n === 3 ? 'purchase' : 'view'}"]`);
        await page.waitForFunction((c) => document.getElementById('history-count').textContent === String(c), n + 1);
      }
      const after1 = await page.$$eval('#recommendations li', (els) => els.map((e) => e.dataset.id));
      assert.notDeepEqual(after1, before);
      assert.ok((await page.$$('#recommendations .because')).length > 0);
      for (const id of clicked) assert.ok(!after1.includes(id), `seen film ${id} recommended`);
      await page.screenshot({ path: path.join(artifacts, `demo-${mode}-after-clicks.png`), fullPage: true });
      // Privacy: the clicks, fold-in and ranking made no request at all.
      assert.equal(requests.length, loaded, `requests after load: ${requests.slice(loaded).join(', ')}`);

      // Reload: the history comes back from IndexedDB, with the same recommendations.
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      assert.equal(await page.textContent('#history-count'), '4');
      assert.deepEqual(await page.$$eval('#recommendations li', (els) => els.map((e) => e.dataset.id)), after1);
      // Forget me: nothing left, and still nothing after another reload.
      await page.click('#forget');
      await page.waitForFunction(() => document.getElementById('history-count').textContent === '0');
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      assert.equal(await page.textContent('#history-count'), '0');
      assert.deepEqual(await page.$$eval('#recommendations li', (els) => els.map((e) => e.dataset.id)), before);
      await page.screenshot({ path: path.join(artifacts, `demo-${mode}-forgotten.png`), fullPage: true });
      assert.deepEqual(errors, []);
      await context.close();
    });
  });
}
