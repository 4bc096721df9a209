#!/usr/bin/env bash
# Vitrine's patch step over the extracted third_party/ tree (argument: the folder holding
# third_party/). Edits are found by pattern, not line number, and are idempotent, so the step
# survives an XNNPACK update and can run again. Native builds are unaffected by every edit.
#   1. XNNPACK CMake: Debian's emscripten 3.1.6 (clang 14) knows neither -mfp16 nor relaxed SIMD:
#      drop those flags and the relaxed-SIMD kernel lists (the C code only references those
#      kernels under __wasm_relaxed_simd__, which is then undefined).
#   2. wasmsimd kernels that include <arm_neon.h> (never needed there): include <wasm_simd128.h>.
#   3. pthreadpool CMake: add PTHREADPOOL_EMSCRIPTEN_THREADS so Emscripten builds the real pthreads
#      pool instead of the single-threaded shim.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root="${1:?usage: patch-xnnpack.sh SRC_ROOT}"
xnn="$root/third_party/xnnpack/src"
ptp="$root/third_party/pthreadpool/src"

need() { grep -Eq "$2" "$1" || { log "patch: pattern '$2' not found in $1"; exit 1; }; }

cml="$xnn/CMakeLists.txt"
if grep -Eq 'ADD_COMPILE_OPTIONS\("-m(fp16|relaxed-simd)"\)|\$\{(NON_)?PROD_WASMRELAXEDSIMD_MICROKERNEL_SRCS\}' "$cml"; then
  sed -i -E '/ADD_COMPILE_OPTIONS\("-m(fp16|relaxed-simd)"\)/d;
             /LIST\(APPEND (NON_)?PROD_MICROKERNEL_SRCS \$\{(NON_)?PROD_WASMRELAXEDSIMD_MICROKERNEL_SRCS\}\)/d' "$cml"
fi
need "$cml" 'ADD_COMPILE_OPTIONS\("-msimd128"\)'
! grep -Eq 'mrelaxed-simd|PROD_WASMRELAXEDSIMD_MICROKERNEL_SRCS\}\)' "$cml" ||
  { log "patch: relaxed SIMD still referenced in $cml"; exit 1; }

n=0
while IFS= read -r f; do
  sed -i 's|#include <arm_neon.h>|#include <wasm_simd128.h>|' "$f"; n=$((n + 1))
done < <(grep -rl --include='*wasmsimd*' '#include <arm_neon.h>' "$xnn/src" || true)
log "patch: $n wasmsimd kernel files switched from arm_neon.h to wasm_simd128.h"

pcml="$ptp/CMakeLists.txt"
if ! grep -q PTHREADPOOL_EMSCRIPTEN_THREADS "$pcml"; then
  need "$pcml" '^IF\(EMSCRIPTEN\)$'
  sed -i -E '0,/^IF\(EMSCRIPTEN\)$/s//OPTION(PTHREADPOOL_EMSCRIPTEN_THREADS "Use pthreads under Emscripten" OFF)\nIF(EMSCRIPTEN AND NOT PTHREADPOOL_EMSCRIPTEN_THREADS)/' "$pcml"
fi
need "$pcml" 'IF\(EMSCRIPTEN AND NOT PTHREADPOOL_EMSCRIPTEN_THREADS\)'
log "patch: done"
