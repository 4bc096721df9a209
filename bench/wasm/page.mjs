#!/usr/bin/env node
// npm run bench -- page [--quick] [--runs N] [--cycles N] [--parts load,memory] [--engines E,…] [--out FILE]
// The page budget of a storefront that adds Vitrine: the minimal product page per task
// (web/demo/product.html?task=recommend|tag|review; each task in its worker, the default models)
// served by scripts/serve.mjs without cross-origin isolation (the common storefront) and with it.
//   first result   navigation → the page's first recommendation / tags / review result
//                  (performance.mark), cold (a fresh browser profile: wasm and models downloaded,
//                  bytes counted at the server) and warm (a reload: HTTP revalidation, models from
//                  the facade's Cache Storage); medians over --runs (default 5) fresh profiles.
//                  Served as a static host does (`Cache-Control: no-cache` + ETag: every file is
//                  revalidated), and, unthrottled and without isolation, also with the package's
//                  files cacheable (`max-age=3600`, what a store serves versioned assets with)
//   long tasks     main-thread long tasks (PerformanceObserver 'longtask': total time, and the time
//                  over 50 ms each, i.e. blocking time) during the cold load and during 20
//                  interactions (recommend after a view, tag a photo, analyze a review)
//   throttled      the same in Chromium with DevTools CPU throttling 4× (a mid-range phone)
//   memory         the browser's resident memory (all its processes, from /proc) after 10 and after
//                  --cycles (default 100) create → first result → dispose cycles, in Chromium,
//                  Firefox ESR and WebKitGTK; flat means within ±5% (Firefox started without a
//                  driver, see memoryRunUndriven)
// Long tasks and throttling are Chromium-only (the APIs exist there). Writes bench/results/page.json
// and prints a table. --quick: 2 runs, 20 cycles, Chromium memory only (CI's short form).
// --parts and --engines run a part of it (memory in Firefox only, say); the file keeps the other
// parts' last results.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { arg, flag, root, median } from '../common.mjs';
import { serve } from '../../scripts/serve.mjs';
import { available, executable, launch } from '../../tests/browser/drivers.mjs';

const quick = flag('quick');
const parts = arg('parts', 'load,memory').split(',');
const engines = arg('engines', quick ? 'chromium' : 'chromium,firefox,webkit').split(',');
const runs = Number(arg('runs', quick ? 2 : 5));
const cycles = Number(arg('cycles', quick ? 20 : 100));
const TASKS = ['recommend', 'tag', 'review'];
const BATCH = Math.max(10, Math.round(cycles / 5));  // memory is sampled after 10 cycles, then every BATCH
// A memory run's result from its [cycles, bytes] samples: flat means within ±5%.
const memoryChange = (samples) => {
  const change = samples.at(-1)[1] / samples[0][1] - 1;
  return { samples, change, flat: Math.abs(change) <= 0.05 };
};
const INTERACTIONS = 20;

// Resident memory of a process and all its descendants (kB → bytes).
function treeRss(pid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch { /* gone */ }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

// Long tasks the page's main thread had so far (buffered), as [startTime, duration] pairs.
const longTasks = () => new Promise((resolve) => {
  const seen = [];
  const o = new PerformanceObserver((list) => { for (const e of list.getEntries()) seen.push([e.startTime, e.duration]); });
  o.observe({ type: 'longtask', buffered: true });
  setTimeout(() => { o.disconnect(); resolve(seen); }, 300);
});
const summarize = (tasks) => ({ count: tasks.length, total_ms: tasks.reduce((s, [, d]) => s + d, 0),
                                blocking_ms: tasks.reduce((s, [, d]) => s + Math.max(0, d - 50), 0) });

async function firstResult(page) {
  await page.waitFor(() => document.body.dataset.ready === 'true' || document.getElementById('errors').textContent, null, 120_000);
  const [errors, marks] = await page.evaluate(() => [document.getElementById('errors').textContent,
    Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('vitrine-')).map((m) => [m.name, m.startTime]))]);
  if (errors) throw new Error(errors);
  return marks;
}

// One fresh profile: cold load (+ long tasks, interactions), then a warm reload.
async function loadRun(task, isolated, cpuThrottling, cache) {
  const server = await serve({ port: 0, isolated, headers: cache === 'max-age' ? { 'Cache-Control': 'max-age=3600' } : {} });
  const browser = await launch('chromium');
  try {
    const url = server.url.replace('index.html', `product.html?task=${task}`);
    const page = await browser.open(url, { cpuThrottling });
    const cold = await firstResult(page);
    const coldMs = cold['vitrine-first-result'];
    const coldBytes = server.served.bytes;
    const loadTasks = await page.evaluate(longTasks);
    const t0 = await page.evaluate(() => performance.now());
    await page.evaluate((n) => window.interact(n), INTERACTIONS);
    const interactionTasks = (await page.evaluate(longTasks)).filter(([start]) => start >= t0);
    await page.reload();
    const before = server.served.bytes;
    const warm = await firstResult(page);
    const warmMs = warm['vitrine-first-result'];
    return { coldMs, coldBytes, warmMs, warmBytes: server.served.bytes - before, cold, warm, load: summarize(loadTasks),
             interactions: summarize(interactionTasks) };
  } finally {
    await browser.close();
    await server.close();
  }
}

// Firefox's WebDriver BiDi agent (puppeteer's channel) keeps about 1.2 MB in the parent process per
// create/dispose cycle of this page (measured: +10% over 90 cycles driven, +0.1% for the same page
// with Firefox started on its own, and a page cycling plain module workers stays flat when driven),
// which a shopper's browser does not have. So Firefox is measured started on its own: the page runs
// its cycles itself (?cycles=N) and fetches progress?done=… after each batch.
async function memoryRunUndriven(engine, task) {
  let onProgress = () => {};
  const server = await serve({ port: 0, isolated: false, onRequest: (u) => {
    const m = /\/progress\?(done|error)=(.*)$/.exec(u);
    if (m) onProgress(m[1], decodeURIComponent(m[2]));
  } });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-ff-'));
  const url = server.url.replace('index.html', `product.html?task=${task}&cycles=${cycles}&batch=${BATCH}`);
  const child = spawn(executable(engine), ['--headless', '--no-remote', '--profile', profile, url], { stdio: 'ignore' });
  const version = execFileSync(executable(engine), ['--version'], { encoding: 'utf8' }).trim();
  try {
    const samples = [];
    await new Promise((resolve, reject) => {
      let timer = null;
      const arm = () => { clearTimeout(timer); timer = setTimeout(() => reject(new Error(`${engine}: no progress in 120 s`)), 120_000); };
      arm();
      onProgress = (kind, value) => {
        if (kind === 'error') { clearTimeout(timer); reject(new Error(value)); return; }
        arm();
        const done = Number(value);
        setTimeout(() => {  // the page rests 3 s after each report
          samples.push([done, treeRss(child.pid)]);
          if (done >= cycles) { clearTimeout(timer); resolve(); }
        }, 1000);
      };
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${engine} exited (${code})`)); });
    });
    return { version, driven: false, ...memoryChange(samples) };
  } finally {
    child.removeAllListeners('exit');
    child.kill();
    await new Promise((r) => setTimeout(r, 500));
    fs.rmSync(profile, { recursive: true, force: true });
    await server.close();
  }
}

async function memoryRun(engine, task) {
  if (engine === 'firefox') return memoryRunUndriven(engine, task);
  const server = await serve({ port: 0, isolated: false });
  const browser = await launch(engine);
  try {
    const page = await browser.open(server.url.replace('index.html', `product.html?task=${task}&cycles`));
    await page.waitFor(() => document.body.dataset.ready === 'true', null, 60_000);
    const samples = [];
    await page.evaluate((n) => window.cycle(n), 10);
    await new Promise((r) => setTimeout(r, 1000));
    samples.push([10, treeRss(browser.pid)]);
    for (let done = 10; done < cycles;) {
      const n = Math.min(cycles - done, BATCH);
      await page.evaluate((k) => window.cycle(k), n);
      done += n;
      await new Promise((r) => setTimeout(r, 1000));
      samples.push([done, treeRss(browser.pid)]);
    }
    const errors = await page.evaluate(() => document.getElementById('errors').textContent);
    if (errors) throw new Error(errors);
    return { version: browser.version, driven: true, ...memoryChange(samples) };
  } finally {
    await browser.close();
    await server.close();
  }
}

const result = { date: new Date().toISOString(), command: `npm run bench -- page${quick ? ' --quick' : ''}`, runs, cycles,
                 interactions: INTERACTIONS, load: [], memory: [] };
for (const task of parts.includes('load') ? TASKS : []) {
  for (const [isolated, throttle, cache] of [[false, 0, 'no-cache'], [true, 0, 'no-cache'], [false, 4, 'no-cache'], [false, 0, 'max-age']]) {
    const rs = [];
    for (let i = 0; i < runs; i++) rs.push(await loadRun(task, isolated, throttle, cache));
    const m = (f) => median(rs.map(f));
    const row = { task, isolated, cpuThrottling: throttle || 1, cache, cold_ms: m((r) => r.coldMs), cold_bytes: m((r) => r.coldBytes),
                  warm_ms: m((r) => r.warmMs), warm_bytes: m((r) => r.warmBytes),
                  warm_script_ms: m((r) => r.warm['vitrine-script']), warm_created_ms: m((r) => r.warm['vitrine-created']),
                  load_longtask_ms: m((r) => r.load.total_ms), load_blocking_ms: m((r) => r.load.blocking_ms),
                  interaction_longtask_ms: m((r) => r.interactions.total_ms), interaction_blocking_ms: m((r) => r.interactions.blocking_ms),
                  runs: rs };
    result.load.push(row);
    console.error(`${task} ${isolated ? 'isolated' : 'plain'} ×${row.cpuThrottling} ${cache}: cold ${row.cold_ms.toFixed(0)} ms, warm ${row.warm_ms.toFixed(0)} ms ` +
                  `(scripts ${row.warm_script_ms.toFixed(0)}, task created ${row.warm_created_ms.toFixed(0)})`);
  }
}
for (const engine of parts.includes('memory') ? engines : []) {
  if (!available(engine)) continue;
  for (const task of TASKS) {
    const r = await memoryRun(engine, task);
    result.memory.push({ engine, task, ...r });
    console.error(`${engine} ${task}: memory ${(100 * r.change).toFixed(1)}% over ${cycles - 10} cycles`);
  }
}

const out = path.resolve(arg('out', path.join(root, 'bench/results/page.json')));
if ((arg('parts') !== undefined || arg('engines') !== undefined) && fs.existsSync(out)) {  // a partial run
  const old = JSON.parse(fs.readFileSync(out, 'utf8'));
  if (!parts.includes('load')) Object.assign(result, { date_load: old.date_load ?? old.date, runs: old.runs, load: old.load });
  result.memory = [...(old.memory ?? []).filter((r) => !result.memory.some((n) => n.engine === r.engine)), ...result.memory];
}
fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
const f0 = (x) => x.toFixed(0);
console.log('\n| task | isolation | CPU | cache | cold first result | cold bytes | warm first result (scripts loaded, task created) | warm bytes | long tasks at load (blocking) | long tasks in 20 interactions (blocking) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of result.load) {
  console.log(`| ${r.task} | ${r.isolated ? 'COOP+COEP' : 'none'} | ${r.cpuThrottling}× | ${r.cache} | ${f0(r.cold_ms)} ms | ${(r.cold_bytes / 1e6).toFixed(2)} MB | ` +
              `${f0(r.warm_ms)} ms (${f0(r.warm_script_ms)}, ${f0(r.warm_created_ms)}) | ${(r.warm_bytes / 1e3).toFixed(0)} kB | ` +
              `${f0(r.load_longtask_ms)} ms (${f0(r.load_blocking_ms)}) | ${f0(r.interaction_longtask_ms)} ms (${f0(r.interaction_blocking_ms)}) |`);
}
console.log('\n| engine | task | resident memory after 10 cycles | after ' + cycles + ' | change | flat (±5%) |');
console.log('|---|---|---|---|---|---|');
for (const r of result.memory) {
  console.log(`| ${r.engine} | ${r.task} | ${(r.samples[0][1] / 2 ** 20).toFixed(0)} MiB | ${(r.samples.at(-1)[1] / 2 ** 20).toFixed(0)} MiB | ` +
              `${(100 * r.change).toFixed(1)}% | ${r.flat ? 'yes' : 'no'} |`);
}
console.log(`\nwrote ${path.relative(root, out)}`);
