// The demo page with a store's own models, as `npx vitrine train` writes them: a recommender (and
// its catalog.json) from an events CSV, a tag head from a photo folder, a review model from a
// review CSV — trained by the CLI here, served at /own/ (scripts/serve.mjs --own) and loaded by the
// page's ?recommender=&catalog=&tagHead=&reviews= parameters, in real Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { serve } from '../../scripts/serve.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'cli/vitrine.mjs');
const run = promisify(execFile);
const CHROMIUM = process.env.VITRINE_CHROMIUM ?? '/usr/bin/chromium';

let own, server, browser;
before(async () => {
  own = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-own-'));
  // Events: 160 shoppers in 4 taste groups of 25 products (the mechanics; quality is measured on real data elsewhere).
  let a = 11;
  const r = () => ((a = (Math.imul(a, 1664525) + 1013904223) >>> 0) / 4294967296);
  const rows = ['user,item,event,time'];
  for (let u = 0; u < 160; u++) for (let k = 0; k < 10; k++) rows.push(`s${u},sku-${(u % 4) * 25 + Math.floor(r() * 25)},view,${1700000000 + u * 100 + k}`);
  fs.writeFileSync(path.join(own, 'events.csv'), rows.join('\n') + '\n');
  fs.writeFileSync(path.join(own, 'products.csv'), 'id,title,categories\n' + Array.from({ length: 100 }, (_, i) => `sku-${i},Product ${i},group ${Math.floor(i / 25)}`).join('\n') + '\n');
  const photos = path.join(own, 'photos');
  execFileSync(process.execPath, [path.join(root, 'scripts/tagger/photo-folder.mjs'), '--out', photos, '--per-tag', '15', '--tags', '1,5,8']);
  const reviewsDir = execFileSync('bash', [path.join(root, 'scripts/reviews/prepare-data.sh')], { encoding: 'utf8' }).trim();
  const { readReviews } = await import('../../cli/reviews.mjs');
  const sample = (await readReviews(path.join(reviewsDir, 'train.csv'))).rows.slice(0, 600);
  fs.writeFileSync(path.join(own, 'reviews.csv'), 'text,label\n' + sample.map((x) => `"${x.text.replace(/"/g, '""')}",${x.label}`).join('\n') + '\n');
  await Promise.all([
    run(process.execPath, [cli, 'train', 'recommend', '--events', path.join(own, 'events.csv'), '--catalog', path.join(own, 'products.csv'), '--out', path.join(own, 'rec'), '--max-minutes', '0.5', '--threads', '1']),
    run(process.execPath, [cli, 'train', 'tagger', '--images', photos, '--out', path.join(own, 'tags'), '--threads', '1']),
  ]);
  await run(process.execPath, [cli, 'train', 'reviews', '--data', path.join(own, 'reviews.csv'), '--folds', '2', '--labels', 'other,great', '--out', path.join(own, 'reviews'), '--threads', '1'], { maxBuffer: 1 << 24 });
  server = await serve({ port: 0, isolated: true, own });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('the demo page runs on models trained by vitrine train', { timeout: 180000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`); });
  const query = '?recommender=/own/rec/model.safetensors&catalog=/own/rec/catalog.json&tagHead=/own/tags/tag-head.safetensors&reviews=/own/reviews/model.safetensors';
  await page.goto(server.url + query);
  await page.waitForSelector('body[data-all-ready="true"]', { timeout: 120_000 }).catch(async (e) => {
    throw new Error(`the page did not get ready: ${errors.join(' | ')} (status: ${await page.textContent('#status')})`, { cause: e });
  });
  assert.equal(await page.getAttribute('body', 'data-own'), 'recommender,catalog,tagHead,reviews');
  // The store's catalogue and recommendations, by its own titles.
  const shelf = await page.$$eval('#catalogue .card .title', (els) => els.map((e) => e.textContent));
  assert.ok(shelf.length > 0 && shelf.every((t) => /^Product \d+$/.test(t)), shelf.join(', '));
  await page.click('#catalogue .card:nth-child(1) button[data-action="purchase"]');
  await page.waitForFunction(() => document.querySelector('#history-count').textContent === '1');
  const recs = await page.$$eval('#recommendations li', (els) => els.map((e) => e.firstChild.textContent));
  assert.equal(recs.length, 10);
  assert.ok(recs.every((t) => /^Product \d+$/.test(t)), recs.join(', '));
  // The store's own tags on a catalogue photo.
  await page.click('#fashion canvas:nth-child(1)');
  await page.waitForFunction(() => document.querySelector('#photo-tags span.custom'));
  const custom = await page.$$eval('#photo-tags span.custom', (els) => els.map((e) => e.textContent));
  assert.ok(custom.some((t) => /trouser|sandal|bag/.test(t)), custom.join(', '));
  // The store's review model.
  await page.fill('#review', 'Absolutely delicious, my kids love it. Will order again!');
  await page.waitForFunction(() => document.querySelector('#sentiment').textContent !== '–');
  assert.match(await page.textContent('#sentiment'), /positive|negative/);
  assert.deepEqual(errors, []);
  await context.close();
});
