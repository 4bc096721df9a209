#!/usr/bin/env bash
# npm run conformance: builds, then runs the ONNX node tests (Debian's libonnx-testdata) through the
# importer and executor for every op the importer claims. Writes bench/results/onnx-conformance.json
# and prints a per-op table. Extra arguments go to the tool (e.g. --testdata DIR, --verbose).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$VITRINE_ROOT/scripts/build.sh" >&2
cd "$VITRINE_ROOT"
mkdir -p bench/results
build/native/engine/tools/vitrine-conformance --json bench/results/onnx-conformance.json "$@"
python3 scripts/conformance_report.py bench/results/onnx-conformance.json docs/onnx-conformance.md
