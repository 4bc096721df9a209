#!/usr/bin/env bash
# Sets up everything the build needs, idempotently: Debian packages (as root), the XNNPACK sources
# from Debian's chromium source package, and XNNPACK built for native, wasm-simd and
# wasm-simd-threads (cached under $VITRINE_CACHE, default ~/.cache/vitrine, keyed by version).
# From nothing: about 1 GB download and ~6 min of compiling on 2 cores; afterwards: seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(emscripten cmake ninja-build g++ googletest libbenchmark-dev xz-utils dpkg-dev
  libonnx-testdata python3-torch python3-torchvision libopenblas0-pthread
  python3 python3-numpy python3-pil python3-sklearn r-base-core r-cran-dslabs ca-certificates chromium
  firefox-esr webkit2gtk-driver xvfb xauth
  dataset-fashion-mnist r-cran-modeldata r-cran-tidytext clang-14 libclang-rt-14-dev pocketsphinx-testdata)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

SRC_LIST=/etc/apt/sources.list.d/vitrine-deb-src.sources
need_src=0
apt-cache showsrc chromium 2>/dev/null | grep -q '^Version:' || need_src=1
if [[ ${#missing[@]} -gt 0 || $need_src -eq 1 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages (${missing[*]:-none}) or deb-src entries: run this script as root once"
    exit 1
  fi
  if [[ $need_src -eq 1 && ! -f $SRC_LIST ]]; then
    log "adding deb-src entries for Debian 12 (for chromium's vendored XNNPACK sources)"
    cat >"$SRC_LIST" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  log "apt-get update"
  apt-get update -q >/dev/null
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$node_major" -lt 20 ]]; then
  log "warning: Node.js $node_major found; Vitrine's tests and tools expect Node.js 20 or newer"
fi

for variant in native wasm-simd wasm-simd-threads; do
  bash "$VITRINE_ROOT/scripts/build-deps.sh" "$variant" >/dev/null
done
log "bootstrap done (cache: $VITRINE_CACHE)"
