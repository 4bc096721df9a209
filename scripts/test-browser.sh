#!/usr/bin/env bash
# npm run test:browser: the demo page and the packed npm package inside a Vite-built app in real
# browsers from Debian packages (installed by bootstrap.sh): Chromium (playwright-core for the
# detailed demo tests, puppeteer-core), Firefox ESR (puppeteer-core over WebDriver BiDi) and
# WebKitGTK (WebKitWebDriver + MiniBrowser under Xvfb, selenium-webdriver), with and without
# cross-origin isolation and the strict CSP with Trusted Types; drivers pinned in
# tests/browser/package.json, with the bundlers (Vite, webpack, esbuild). Screenshots and
# engines.json land in tests/browser/artifacts/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VITRINE_ROOT"
[[ -x /usr/bin/chromium && -x /usr/bin/firefox-esr && -x /usr/bin/WebKitWebDriver && -x /usr/bin/Xvfb ]] || bash scripts/bootstrap.sh >&2
[[ -f web/dist/vitrine-simd.wasm && -f models/recommend/movielens.safetensors ]] || bash scripts/build.sh >&2
for m in playwright-core puppeteer-core selenium-webdriver vite webpack webpack-cli esbuild; do
  [[ -d tests/browser/node_modules/$m ]] || { (cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund >&2); break; }
done
node scripts/demo-data.mjs
log "browser tests ($(/usr/bin/chromium --version 2>/dev/null); $(/usr/bin/firefox-esr --version 2>/dev/null); WebKitGTK $(dpkg-query -W -f='${Version}' libwebkit2gtk-4.1-0 2>/dev/null))"
node --test tests/browser/
