#!/usr/bin/env bash
# Prepares npm nsfwjs's pretrained MobileNetV2 (standard TF.js files + TensorFlow.js golden outputs,
# scripts/tagger/prepare-nsfwjs.mjs) once into the cache and prints its folder. Keyed by the pinned
# versions (tests/tagger/package-lock.json) and the script's hash.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$VITRINE_ROOT"
script="$VITRINE_ROOT/scripts/tagger/prepare-nsfwjs.mjs"
key="nsfwjs-$(cat tests/tagger/package-lock.json "$script" | sha256sum | cut -c1-12)"
dir="$VITRINE_CACHE/models/$key"
if [[ ! -f "$dir/.complete" ]]; then
  [[ -d tests/tagger/node_modules/nsfwjs ]] || (cd tests/tagger && npm ci --no-audit --no-fund >&2)
  log "preparing nsfwjs MobileNetV2 and TensorFlow.js goldens in $dir"
  rm -rf "$dir"
  node "$script" "$dir" >&2
  touch "$dir/.complete"
fi
echo "$dir"
