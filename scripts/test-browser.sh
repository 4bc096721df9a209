#!/usr/bin/env bash
# npm run test:browser: the demo page in real Chromium (Debian's chromium, installed by
# bootstrap.sh; playwright-core pinned in tests/browser/package.json), with and without
# cross-origin isolation, and the packed npm package inside a Vite-built app (vite pinned there
# too). Screenshots land in tests/browser/artifacts/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VITRINE_ROOT"
[[ -x /usr/bin/chromium ]] || bash scripts/bootstrap.sh >&2
[[ -f web/dist/vitrine-simd.wasm && -f models/recommend/movielens.safetensors ]] || bash scripts/build.sh >&2
[[ -d tests/browser/node_modules/playwright-core && -d tests/browser/node_modules/vite ]] || (cd tests/browser && npm ci --no-audit --no-fund >&2)
node scripts/demo-data.mjs
log "browser tests (Chromium: $(/usr/bin/chromium --version 2>/dev/null))"
node --test tests/browser/
