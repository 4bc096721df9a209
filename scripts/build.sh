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
# build DIR [cmake --build args...]: the compiler's messages without ninja's progress lines; exits on
# failure (a status read after `| grep ... || true` would be grep's or true's, never the build's).
build() {
  local dir="$1"; shift
  if ! cmake --build "$dir" -j "$jobs" "$@" >"$dir.build.log" 2>&1; then
    grep -vE '^\[[0-9]+/[0-9]+\]|pthreads-mem-growth' "$dir.build.log" >&2 || true
    log "build of $dir failed (full log: $dir.build.log)"
    exit 1
  fi
  grep -vE '^\[[0-9]+/[0-9]+\]|pthreads-mem-growth' "$dir.build.log" >&2 || true
}
mkdir -p build
configure build/native native cmake
configure build/wasm-simd wasm-simd emcmake cmake
configure build/wasm-simd-threads wasm-simd-threads emcmake cmake -DVITRINE_WASM_THREADS=ON
for dir in build/native build/wasm-simd build/wasm-simd-threads; do
  log "building $dir"
  build "$dir"
done
if [[ "${VITRINE_SANITIZERS:-0}" == 1 ]]; then  # the unit tests under AddressSanitizer + UBSan
  configure build/asan native cmake -DVITRINE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo
  log "building build/asan (sanitizers)"
  build build/asan --target vitrine_tests
fi
log "build done: build/native, web/dist/"
