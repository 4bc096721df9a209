// The storefront demo in real Chromium (Debian's /usr/bin/chromium driven by playwright-core),
// served once with cross-origin isolation (threads) and once without (single thread): clicking
// films changes the recommendations, the history survives a reload (IndexedDB), "Forget me"
// empties it; a catalogue photo and an uploaded image get tags and similar products, a new tag is
// taught and trained in the page, a typed review gets sentiment and aspects, 300 reviews are
// summarized; and after the models have loaded the page requests nothing. Screenshots are kept in
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

// A fresh browser context on the demo page, recording page errors and every request, once all
// models have loaded.
async function openDemo(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForSelector('body[data-all-ready="true"]', { timeout: 120_000 });
  return { context, page, errors, requests };
}

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
      const { context, page, errors, requests } = await openDemo(browser, server.url);
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

      // Reload: the history comes back from IndexedDB, with the same recommendations, and the
      // models come from Cache Storage (checked against models/registry.json), not the network.
      const beforeReload = requests.length;
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      assert.equal(await page.textContent('#history-count'), '4');
      await page.waitForSelector('body[data-all-ready="true"]', { timeout: 120_000 });
      const refetched = requests.slice(beforeReload).filter((u) => u.endsWith('.safetensors'));
      assert.deepEqual(refetched, [], 'models fetched again instead of the cache');
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

    test('photos get tags and similar products, a new tag is taught, reviews get sentiment and aspects', async () => {
      const { context, page, errors, requests } = await openDemo(browser, server.url);
      const loaded = requests.length;
      const labels = await page.evaluate(async () => (await (await fetch('./data/fashion.json')).json()).labels);
      const NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
      const tagged = async (n) => page.waitForFunction((c) => document.body.dataset.photoTagged === String(c), n);
      // A catalogue photo: its class among the tags, similar products of the same kind.
      await page.click('#fashion canvas[data-index="0"]');
      await tagged(1);
      const tags = await page.$$eval('#photo-tags span', (els) => els.map((e) => e.dataset.label));
      assert.ok(tags.includes(NAMES[labels[0]]), `tags ${tags} for a ${NAMES[labels[0]]}`);
      const similar = await page.$$eval('#similar canvas', (els) => els.map((e) => Number(e.dataset.index)));
      assert.equal(similar.length, 8);
      assert.equal(similar[0], 0);
      assert.ok(similar.filter((i) => labels[i] === labels[0]).length >= 6);
      // An uploaded image file (a PNG made from catalogue photo 1, 4x larger, on a light background).
      const png = await page.evaluate(async () => {
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
        return Array.from(new Uint8Array(await blob.arrayBuffer()));
      });
      await page.setInputFiles('#photo-file', { name: 'product.png', mimeType: 'image/png', buffer: Buffer.from(png) });
      await tagged(2);
      const uploaded = await page.$$eval('#photo-tags span', (els) => els.map((e) => e.dataset.label));
      assert.ok(uploaded.includes(NAMES[labels[1]]), `tags ${uploaded} for an uploaded ${NAMES[labels[1]]}`);
      // Teach two tags from catalogue photos and train in the page.
      const pick = (label, n) => labels.map((l, i) => (l === label ? i : -1)).filter((i) => i > 1).slice(0, n);
      let count = 2;
      for (const [name, label] of [['sporty', 7], ['carry', 8]]) {
        for (const i of pick(label, 3)) {
          await page.click(`#fashion canvas[data-index="${i}"]`);
          await tagged(++count);
        }
        await page.fill('#tag-name', name);
        await page.click('#tag-add');
        await page.waitForFunction((t) => document.getElementById('tag-examples').textContent.includes(t), name);
      }
      await page.click('#tag-train');
      await page.waitForSelector('body[data-tag-trained="true"]', { timeout: 60_000 });
      const sneaker = labels.map((l, i) => (l === 7 ? i : -1)).filter((i) => i > 1)[5];
      await page.click(`#fashion canvas[data-index="${sneaker}"]`);
      await tagged(++count);
      const custom = await page.$$eval('#photo-tags span.custom', (els) => els.map((e) => e.dataset.label));
      assert.equal(custom[0], 'sporty');
      // A review typed into the box: sentiment and aspects, live.
      await page.fill('#review', 'Absolutely delicious and fresh, my kids love it. But the box arrived damaged.');
      await page.waitForFunction(() => Number(document.body.dataset.reviewed ?? 0) > 0);
      assert.equal(await page.textContent('#sentiment'), 'positive');
      const aspects = await page.$$eval('#aspects span', (els) => els.map((e) => `${e.dataset.aspect}:${e.className}`));
      assert.ok(aspects.includes('delivery:negative'), `aspects ${aspects}`);
      assert.ok(aspects.some((a) => a.startsWith('taste:') || a.startsWith('freshness:')), `aspects ${aspects}`);
      await page.fill('#review', 'Stale, tasteless and overpriced. Do not buy.');
      await page.waitForFunction(() => document.getElementById('sentiment').textContent === 'negative');
      // The summary of 300 reviews.
      await page.click('#summarize');
      await page.waitForSelector('body[data-summarized="true"]', { timeout: 60_000 });
      assert.match(await page.textContent('#summary'), /300 reviews in \d+ ms: \d+% positive/);
      await page.screenshot({ path: path.join(artifacts, `demo-${mode}-photos-reviews.png`), fullPage: true });
      // Privacy: after loading, nothing was requested but the test's own two fetches of the demo data.
      const later = requests.slice(loaded).filter((u) => !/\/data\/fashion\.(json|bin)$/.test(u));
      assert.deepEqual(later, [], `requests after load: ${later.join(', ')}`);
      assert.equal(requests.length - loaded, 2);
      // Offline: with the network cut, a reload comes back from the service worker's copy and the
      // facade's model cache, and everything still works.
      await page.waitForSelector('body[data-offline-ready="true"]', { timeout: 60_000 });
      await context.setOffline(true);
      await page.reload();
      await page.waitForSelector('body[data-all-ready="true"]', { timeout: 120_000 });
      assert.equal((await page.$$('#recommendations li')).length, 10);
      await page.fill('#review', 'Stale, tasteless and overpriced. Do not buy.');
      await page.waitForFunction(() => document.getElementById('sentiment').textContent === 'negative');
      await page.click('#fashion canvas[data-index="0"]');
      await page.waitForFunction(() => document.querySelectorAll('#photo-tags span').length > 0);
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), isolated);
      await context.setOffline(false);
      assert.deepEqual(errors, []);
      await context.close();
    });
  });
}
