#!/usr/bin/env bash
# Bootstraps (see bootstrap.sh), then builds the engine natively (tests, benchmarks) and as the two
# wasm variants written to web/dist/. Incremental: a second run only rebuilds what changed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$VITRINE_ROOT/scripts/bootstrap.sh"
cd "$VITRINE_ROOT"
jobs="$(nproc)"
# The package's own dependencies (csv-parse and sharp, for the vitrine command), pinned in package-lock.json.
[[ node_modules/.package-lock.json -nt package-lock.json ]] || npm ci --no-audit --no-fund >&2

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
if [[ "${VITRINE_SANITIZERS:-0}" == 1 ]]; then  # the unit tests under AddressSanitizer + UBSan
  configure build/asan native cmake -DVITRINE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo
  log "building build/asan (sanitizers)"
  cmake --build build/asan -j "$jobs" --target vitrine_tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { log "build of build/asan failed"; exit 1; }
fi
log "build done: build/native, web/dist/"
