#!/usr/bin/env bash
# Bootstraps (see bootstrap.sh), then builds the engine natively (tests, benchmarks) and as the two
# wasm variants written to web/dist/. Incremental: a second run only rebuilds what changed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$VITRINE_ROOT/scripts/bootstrap.sh"
cd "$VITRINE_ROOT"
jobs="$(nproc)"

configure() {  # configure BUILD_DIR DEPS_VARIANT [cmake args...]
  local dir="$1" deps; deps="$(bash scripts/build-deps.sh "$2")"; shift 2
  if [[ ! -f "$dir/build.ninja" ]] || ! grep -qF "VITRINE_DEPS:PATH=$deps" "$dir/CMakeCache.txt" 2>/dev/null; then
    rm -rf "$dir"
    "$@" -S . -B "$dir" -G Ninja -DVITRINE_DEPS="$deps" >"$dir.configure.log" 2>&1 ||
      { cat "$dir.configure.log" >&2; exit 1; }
  fi
}
mkdir -p build
configure build/native native cmake
configure build/wasm-simd wasm-simd emcmake cmake
configure build/wasm-simd-threads wasm-simd-threads emcmake cmake -DVITRINE_WASM_THREADS=ON
for dir in build/native build/wasm-simd build/wasm-simd-threads; do
  log "building $dir"
  cmake --build "$dir" -j "$jobs" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]|pthreads-mem-growth' || true
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { log "build of $dir failed"; exit 1; }
done
log "build done: build/native, web/dist/"
