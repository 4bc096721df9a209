// The npm package as a storefront engineer gets it: `npm pack` of this repository, installed into
// a tiny app (tests/browser/store-app), built by Vite 5, webpack 5 and esbuild (pinned in
// tests/browser/package.json; esbuild leaves the package unbundled, see store-app/esbuild.mjs) and
// run in all three browser engines (Chromium, Firefox ESR, WebKitGTK: drivers.mjs), with and
// without cross-origin isolation, with and without the strict CSP with Trusted Types
// (scripts/serve.mjs STRICT_CSP). The app uses the three
// default models (each task in its own worker: the browser default) and an in-page review
// analyzer (worker: false), with no file copied by hand; it re-ranks a page's list and updates a
// store's own small model (served beside the app) with an item delta.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { serve } from '../../scripts/serve.mjs';
import { makeDeltaFiles } from '../web/delta-fixture.mjs';
import { ENGINES, available, launch } from './drivers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const app = path.join(here, 'store-app');
const BUNDLERS = ['vite', 'webpack', 'esbuild'];

describe('the packed package in a bundled page', () => {
  let packed;
  before(() => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-pack-'));
    const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
    packed = path.join(tmp, name);
    fs.rmSync(path.join(app, 'node_modules'), { recursive: true, force: true });
    fs.rmSync(path.join(app, 'dist'), { recursive: true, force: true });
    execFileSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', packed], { cwd: app, stdio: 'ignore' });
    execFileSync(path.join(here, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: app, stdio: 'inherit' });
    execFileSync(path.join(here, 'node_modules/.bin/vite'), ['build', '--ssr', 'src/ssr.js', '--outDir', 'dist/ssr', '--logLevel', 'warn'], { cwd: app, stdio: 'inherit' });
    execFileSync(path.join(here, 'node_modules/.bin/webpack'), ['--config', 'webpack.config.mjs', '--stats', 'errors-warnings'], { cwd: app, stdio: 'inherit' });
    execFileSync(process.execPath, ['esbuild.mjs'], { cwd: app, stdio: 'inherit' });
    // The React example (examples/react-product-page), copied beside the installed package and built by Vite.
    const reactSrc = path.join(app, 'dist/react-src');
    fs.cpSync(path.join(root, 'examples/react-product-page'), reactSrc, { recursive: true, filter: (f) => !f.includes('node_modules') });
    execFileSync(path.join(here, 'node_modules/.bin/vite'), ['build', '--outDir', '../react', '--emptyOutDir', '--logLevel', 'warn'], { cwd: reactSrc, stdio: 'inherit' });
    for (const b of BUNDLERS) {  // the store's own model + delta, beside each build
      makeDeltaFiles(path.join(root, 'build/native/engine/tools/vitrine-recommend'), path.join(app, 'dist', b, 'delta'));
    }
  });
  test('the tarball ships the entry, types, the recommendations frame, both wasm variants and the default models', () => {
    const list = execFileSync('tar', ['tzf', packed], { encoding: 'utf8' }).split('\n');
    for (const f of ['package/web/src/index.js', 'package/web/src/index.d.ts', 'package/web/frame/index.html', 'package/web/frame/frame.js', 'package/web/dist/vitrine-simd.wasm',
                     'package/web/dist/vitrine-simd-threads.wasm', 'package/web/dist/vitrine-simd-threads.worker.js',
                     'package/models/registry.json', 'package/models/tagger/fashion-mnist.safetensors',
                     'package/models/reviews/fine-foods.safetensors', 'package/models/recommend/movielens.safetensors']) {
      assert.ok(list.includes(f), `${f} missing from the tarball`);
    }
    assert.ok(!list.some((f) => f.startsWith('package/tests/') || f.startsWith('package/engine/')), 'sources or tests packed');
  });

  test('server-side rendering: the package bundled for the server imports and renders without window', () => {
    const bundle = path.join(app, 'dist/ssr/ssr.js');
    assert.doesNotMatch(fs.readFileSync(bundle, 'utf8'), /^import [^;]*from ['"]vitrine['"]/m, 'vitrine bundled into the SSR output');
    const html = execFileSync(process.execPath, ['--input-type=module', '-e',
      `if (typeof window !== 'undefined') throw new Error('window'); const { render } = await import(${JSON.stringify(bundle)}); process.stdout.write(render());`],
      { encoding: 'utf8' });
    assert.match(html, /data-recommender="function" data-simd="true" data-policy="vitrine"/);
  });

  const engines = process.env.VITRINE_ENGINES ? process.env.VITRINE_ENGINES.split(',') : ENGINES;
  for (const engine of engines) {
    describe(engine, { skip: available(engine) ? false : `${engine} is not installed (scripts/bootstrap.sh)` }, () => {
      let browser;
      before(async () => { browser = await launch(engine); });
      after(async () => { await browser?.close(); });
      // Time limits: a page's own waits (below) and the drivers' (30 s a script, 60 s a page load)
      // end first, with a message that says where the page stopped; the test's limit is a backstop.
      test('the React example product page, strict CSP + Trusted Types', { timeout: 300_000 }, async () => {
        const server = await serve({ port: 0, csp: true, dir: path.join(app, 'dist/react') });
        try {
          const page = await browser.open(server.url);
          const r = await page.waitFor(() => document.querySelector('#summary') && document.querySelectorAll('#similar li').length &&
            document.querySelectorAll('#recommended li').length && {
            recommended: [...document.querySelectorAll('#recommended li')].map((li) => li.textContent),
            similar: [...document.querySelectorAll('#similar li')].map((li) => li.textContent),
            summary: document.querySelector('#summary').textContent }, null, 120_000);
          assert.equal(r.recommended.length, 6);
          assert.ok(!r.recommended.includes('2571'), 'the viewed product recommended');
          assert.deepEqual(r.similar.slice(0, 2).sort(), ['Court sneaker', 'Road runner'], `similar: ${r.similar}`);
          assert.match(r.summary, /^\d+% positive/);
          await page.close();
        } finally {
          await server.close();
        }
      });

      for (const bundler of BUNDLERS) for (const isolated of [true, false]) for (const csp of [true, false]) {
        {
          test(`${bundler} build runs ${isolated ? 'cross-origin isolated' : 'not isolated'}, ${csp ? 'strict CSP + Trusted Types' : 'no CSP'}`, { timeout: 300_000 }, async () => {
            const server = await serve({ port: 0, isolated, csp, dir: path.join(app, 'dist', bundler) });
            try {
              const page = await browser.open(server.url).catch((e) => { throw new Error(`opening the page: ${e.message}`); });
              await page.waitFor(() => document.body.dataset.done, null, 120_000).catch(async (e) => {
                throw new Error(`${e.message}; the page stopped at: ${await page.evaluate(() => document.body.dataset.step).catch(() => '?')}`);
              });
              const [done, text, env] = await page.evaluate(() => [document.body.dataset.done, document.getElementById('out').textContent,
                { coi: globalThis.crossOriginIsolated === true, sab: typeof SharedArrayBuffer === 'function' }]);
              assert.equal(done, 'ok', text);
              const r = JSON.parse(text);
              assert.equal(env.coi, isolated);
              assert.equal(r.variant, env.coi && env.sab ? 'simd-threads' : 'simd');
              assert.equal(r.films.length, 3);
              assert.equal(r.reranked.length, 5);
              assert.equal(r.reranked.at(-1), 'sku-not-in-model');
              assert.ok(r.reranked.includes('2571'), 'a seen item stays in a re-ranked page');
              assert.deepEqual(r.delta, { items: 28, added: true, removed: true, recommendsNew: true });
              assert.deepEqual(r.tags.sort(), ['class', 'group']);  // topK 1 per kind of tag
              assert.equal(r.review, 'great');
              assert.equal(r.inPage, 'other');
              assert.equal(r.remote, true, 'tasks run in workers by default');
              assert.equal(r.errors ?? '', '');
              await page.close();
            } finally {
              await server.close();
            }
          });
        }
      }
    });
  }
});
