#!/usr/bin/env bash
# The main job for now: set everything up, build, then load the wasm engine in Node and print
# runtimeInfo() and a dense layer's result.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$VITRINE_ROOT/scripts/build.sh"
cd "$VITRINE_ROOT"
node web/demo/cli.mjs "$@"
