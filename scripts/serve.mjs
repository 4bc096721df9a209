#!/usr/bin/env node
// A small static server for the demo (web/demo/index.html) and the browser tests: serves the
// repository's web/ and models/ folders, optionally with the cross-origin isolation headers that
// let the page use threads (COOP: same-origin, COEP: require-corp), and optionally under the strict
// Content-Security-Policy with Trusted Types that storefronts run (STRICT_CSP below).
//
//   node scripts/serve.mjs [--port 8080] [--isolated] [--csp] [--own DIR]      prints the demo's URL
//
// --own DIR serves a folder of your own models (what `vitrine train … --out DIR/x` wrote) at
// /own/, for the demo page's ?recommender=, ?catalog=, ?tagHead= and ?reviews= parameters.
// Also importable: `const { url, close } = await serve({ port: 0, isolated: true, own })`; with
// `dir`, serves that folder as the site root instead (e.g. a built app) and `url` is its index;
// `headers` are added to every response; `onRequest(url)` sees every request's path and query
// first (a page that runs without a driver reports its progress by fetching a URL).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// What a strict storefront sends: no inline or eval'd script (wasm compilation only), workers and
// fetches from its own origin only, and Trusted Types for every script URL sink (workers, service
// workers). No `trusted-types` directive: any policy name may be created (Vitrine's is 'vitrine').
export const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
  "connect-src 'self'; object-src 'none'; require-trusted-types-for 'script'";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVED = ['web/', 'models/'];
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css',
  '.safetensors': 'application/octet-stream', '.md': 'text/markdown; charset=utf-8',
};

export function serve({ port = 8080, isolated = false, csp = false, host = '127.0.0.1', dir = null, own = null, headers: extra = {}, onRequest = null } = {}) {
  const base = dir ? path.resolve(dir) : root;
  const ownBase = own ? path.resolve(own) : null;
  const served = { requests: 0, bytes: 0 };  // requests answered and file bytes sent, for page-budget reports
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    onRequest?.(url.pathname + url.search);
    let rel = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    if (rel === '' && !dir) {
      res.writeHead(302, { Location: '/web/demo/index.html' });
      return res.end();
    }
    if (rel === '') rel = 'index.html';
    const mounted = ownBase && !dir && rel.startsWith('own/');
    const file = mounted ? path.resolve(ownBase, rel.slice(4)) : path.resolve(base, rel);
    const inside = mounted ? file.startsWith(ownBase + path.sep)
      : dir ? file.startsWith(base + path.sep) : SERVED.some((d) => file.startsWith(path.join(root, d)));
    const st = inside ? fs.statSync(file, { throwIfNoEntry: false }) : undefined;
    if (!st?.isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found');
    }
    // Revalidated on every use (no-cache) against a validator, as a static host or CDN does: an
    // unchanged file costs a 304, not its bytes.
    const etag = `"${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}"`;
    const headers = { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache', ETag: etag };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    if (csp) headers['Content-Security-Policy'] = STRICT_CSP;
    Object.assign(headers, extra);
    // The demo's service worker may control all of web/ (its wasm workers live in web/dist/).
    if (!dir && rel === 'web/demo/sw.js') headers['Service-Worker-Allowed'] = '/web/';
    served.requests += 1;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      return res.end();
    }
    res.writeHead(200, headers);
    served.bytes += st.size;
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const { port: p } = server.address();
      resolve({ url: `http://${host}:${p}/${dir ? '' : 'web/demo/index.html'}`, served, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--port');
  const o = args.indexOf('--own');
  const isolated = args.includes('--isolated');
  const csp = args.includes('--csp');
  const { url } = await serve({ port: i >= 0 ? Number(args[i + 1]) : 8080, isolated, csp, own: o >= 0 ? args[o + 1] : null });
  console.log(`Vitrine demo: ${url}${isolated ? ' (cross-origin isolated: threads)' : ''}${csp ? ' (strict CSP + Trusted Types)' : ''}`);
}
