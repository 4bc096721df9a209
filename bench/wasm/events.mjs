#!/usr/bin/env node
// npm run bench -- events [--events 10000000]
// Reading a large export as `vitrine train recommend` reads it (cli/events.mjs, streamed line by
// line into typed arrays, then histories in time order): rows/s and the peak memory (max RSS) of
// a child process doing only that, for a CSV and a JSON Lines file of --events rows. The file is
// synthetic (a store's shape: 1 event in 20 a purchase, ids as strings, ISO and epoch times, 1 row
// in 10,000 malformed) — this measures the reader's time and memory, not model quality.
// Writes bench/results/events.json and prints a table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { arg, root } from '../common.mjs';

const n = Number(arg('events', 10000000));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-events-'));

// Mulberry32-like generator, fixed seed: the same file every run.
let a = 20261128;
const rand = () => {
  a = (a + 0x6d2b79f5) >>> 0;
  let t = Math.imul(a ^ (a >>> 15), a | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const users = Math.max(10, Math.round(n / 40)), items = Math.max(10, Math.round(n / 200));

function write(file, json) {
  const fd = fs.openSync(file, 'w');
  let chunk = json ? '' : 'user_id,product_id,event,timestamp\n';
  for (let i = 0; i < n; i++) {
    const u = `cust-${Math.floor(rand() ** 2 * users)}`, it = `sku-${Math.floor(rand() ** 3 * items)}`;
    const ev = rand() < 0.05 ? 'purchase' : 'view';
    const t = 1700000000 + i;
    if (i % 10000 === 9999) chunk += json ? '{"user_id": "broken\n' : `${u},"${it},view,${t}\n`;  // malformed rows
    else if (json) chunk += `{"user_id":"${u}","product_id":"${it}","event":"${ev}","timestamp":${i % 2 ? t : `"${new Date(t * 1000).toISOString()}"`}}\n`;
    else chunk += `${u},${it},${ev},${i % 2 ? t : new Date(t * 1000).toISOString()}\n`;
    if (chunk.length > 1 << 20) { fs.writeSync(fd, chunk); chunk = ''; }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
}

const child = `
  const { readEvents } = await import(${JSON.stringify(path.join(root, 'cli/events.mjs'))});
  const { histories } = await import(${JSON.stringify(path.join(root, 'cli/recommend.mjs'))});
  const t0 = performance.now();
  const ev = await readEvents(process.argv[1], { columns: { user: 'user_id', item: 'product_id', time: 'timestamp' } });
  const t1 = performance.now();
  const h = histories(ev);
  const t2 = performance.now();
  console.log(JSON.stringify({ summary: ev.summary, users: ev.users.ids.length, items: ev.items.ids.length, duplicates: h.duplicates,
    read_s: (t1 - t0) / 1000, histories_s: (t2 - t1) / 1000, max_rss_mb: process.resourceUsage().maxRSS / 1024 }));`;

const records = [];
for (const format of ['csv', 'jsonl']) {
  const file = path.join(tmp, `events.${format}`);
  write(file, format === 'jsonl');
  const bytes = fs.statSync(file).size;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', child, file], { encoding: 'utf8', maxBuffer: 1 << 24 }).trim());
  fs.rmSync(file);
  if (out.summary.rows !== n || out.summary.kept + out.summary.refused !== n) throw new Error(`rows not accounted for: ${JSON.stringify(out.summary)}`);
  records.push({ format, events: n, file_mb: bytes / 1e6, ...out, rows_per_s: n / out.read_s });
}
fs.rmSync(tmp, { recursive: true, force: true });
const result = {
  benchmark: 'events', command: `npm run bench -- events --events ${n}`, date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, total_memory_mb: os.totalmem() / 1e6 }, records,
};
if (n >= 1000000) {
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench/results/events.json'), JSON.stringify(result, null, 2) + '\n');
}
console.log('| format | events | file MB | kept | refused | users | items | read s | rows/s | histories s | max RSS MB |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of records) {
  console.log(`| ${r.format} | ${r.events} | ${r.file_mb.toFixed(0)} | ${r.summary.kept} | ${r.summary.refused} | ${r.users} | ${r.items} | ${r.read_s.toFixed(1)} | ` +
    `${Math.round(r.rows_per_s)} | ${r.histories_s.toFixed(1)} | ${r.max_rss_mb.toFixed(0)} |`);
}
