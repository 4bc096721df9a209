#!/usr/bin/env bash
# Builds XNNPACK + pthreadpool + cpuinfo as static libraries for one variant and installs them into
# the cache:  build-deps.sh native|wasm-simd|wasm-simd-threads
# Prints the install prefix on stdout. Cached: the prefix is keyed by the chromium source version,
# the patch/flags recipe and the compiler version, so a second run costs nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
variant="${1:?usage: build-deps.sh native|wasm-simd|wasm-simd-threads}"
src="$(bash "$VITRINE_ROOT/scripts/fetch-xnnpack-src.sh")"
bash "$VITRINE_ROOT/scripts/patch-xnnpack.sh" "$src" 2>/dev/null
tp="$src/third_party"

common=(-G Ninja -DCMAKE_BUILD_TYPE=Release
  -DXNNPACK_BUILD_TESTS=OFF -DXNNPACK_BUILD_BENCHMARKS=OFF -DXNNPACK_BUILD_ALL_MICROKERNELS=OFF
  -DXNNPACK_ENABLE_KLEIDIAI=OFF
  -DCPUINFO_SOURCE_DIR="$tp/cpuinfo/src" -DFXDIV_SOURCE_DIR="$tp/fxdiv/src"
  -DPTHREADPOOL_SOURCE_DIR="$tp/pthreadpool/src" -DFP16_SOURCE_DIR="$tp/fp16/src"
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON)
case "$variant" in
  native)
    compiler="gcc-$(gcc -dumpfullversion)"
    configure=(cmake) ;;
  wasm-simd|wasm-simd-threads)
    compiler="emcc-$(emcc -dumpversion 2>/dev/null)"
    configure=(emcmake cmake)
    common+=(-DXNNPACK_ENABLE_WASMRELAXEDSIMDFP16=OFF)
    if [[ "$variant" == wasm-simd-threads ]]; then
      common+=(-DPTHREADPOOL_EMSCRIPTEN_THREADS=ON -DCMAKE_C_FLAGS="-pthread" -DCMAKE_CXX_FLAGS="-pthread")
    fi ;;
  *) log "unknown variant $variant"; exit 2 ;;
esac

key="$(basename "$src")-r$DEPS_RECIPE-$compiler"
prefix="$VITRINE_CACHE/deps/$key/$variant"
if [[ -f "$prefix/.complete" ]]; then echo "$prefix"; exit 0; fi

build="$VITRINE_CACHE/deps/$key/build-$variant"
rm -rf "$prefix" "$build"; mkdir -p "$(dirname "$build")"
log "building XNNPACK ($variant, $compiler): several minutes on 2 cores"
start=$SECONDS
"${configure[@]}" -S "$tp/xnnpack/src" -B "$build" -DCMAKE_INSTALL_PREFIX="$prefix" "${common[@]}" >"$build.log" 2>&1 ||
  { tail -40 "$build.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" >>"$build.log" 2>&1 || { tail -40 "$build.log" >&2; exit 1; }
cmake --install "$build" >>"$build.log" 2>&1 || { tail -40 "$build.log" >&2; exit 1; }
# cpuinfo/pthreadpool are built as subprojects; install their archives and headers explicitly.
mkdir -p "$prefix/lib" "$prefix/include"
find "$build" -name 'libpthreadpool.a' -o -name 'libcpuinfo.a' | while read -r a; do cp "$a" "$prefix/lib/"; done
cp "$tp/pthreadpool/src/include/pthreadpool.h" "$prefix/include/"
cp -r "$tp/cpuinfo/src/include/." "$prefix/include/"
log "XNNPACK ($variant) built in $((SECONDS - start)) s"
rm -rf "$build"
touch "$prefix/.complete"
echo "$prefix"
