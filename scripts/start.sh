#!/usr/bin/env bash
# The main job: set everything up, build, run a "movie store" session in Node with the shipped
# MovieLens recommender (web/demo/cli.mjs: history in, personalized films out, persisted), then
# serve the storefront demo page (web/demo/index.html, cross-origin isolated so it gets threads)
# and print its URL. `npm start -- --no-serve` stops after the Node session.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$VITRINE_ROOT/scripts/build.sh"
cd "$VITRINE_ROOT"
serve=1
args=()
for a in "$@"; do
  if [[ $a == --no-serve ]]; then serve=0; else args+=("$a"); fi
done
node web/demo/cli.mjs "${args[@]}"
node scripts/demo-data.mjs
if [[ $serve -eq 1 ]]; then
  echo
  exec node scripts/serve.mjs --isolated --port "${VITRINE_PORT:-8080}"
fi
