#!/usr/bin/env bash
# npm run bench -- NAME: builds, then runs benchmark NAME (bench/wasm/NAME.mjs), which writes
# bench/results/NAME.json and prints a table.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:?usage: npm run bench -- NAME   (NAME: $(ls "$VITRINE_ROOT/bench/wasm" | sed 's/\.mjs$//' | tr '\n' ' '))}"
shift
[[ -f "$VITRINE_ROOT/bench/wasm/$name.mjs" ]] || { log "no benchmark '$name' in bench/wasm/"; exit 2; }
bash "$VITRINE_ROOT/scripts/build.sh" >&2
# Peers (onnxruntime-web, TensorFlow.js …) are pinned dev dependencies in bench/package.json.
# --ignore-scripts: onnxruntime-node's postinstall would download GPU builds from outside the npm
# registry; its CPU build ships in the package itself.
[[ "$VITRINE_ROOT/bench/node_modules/.package-lock.json" -nt "$VITRINE_ROOT/bench/package-lock.json" ]] ||
  (cd "$VITRINE_ROOT/bench" && npm ci --ignore-scripts --no-audit --no-fund >&2)
# The page benchmark drives real browsers (Debian's, from bootstrap.sh) with the browser tests' drivers.
if [[ "$name" == page && ! -d "$VITRINE_ROOT/tests/browser/node_modules/puppeteer-core" ]]; then
  (cd "$VITRINE_ROOT/tests/browser" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi
cd "$VITRINE_ROOT"
node "bench/wasm/$name.mjs" "$@"
