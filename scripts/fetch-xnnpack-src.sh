#!/usr/bin/env bash
# Gets XNNPACK, pthreadpool, cpuinfo, fxdiv and fp16 sources from Debian's chromium source package
# (pinned version, with fallbacks to versions the mirror still lists), extracts only those folders
# into $VITRINE_CACHE/src/<version>/ and applies the project's patch step. Idempotent: a second run
# only prints the path. Prints the source root (the folder holding third_party/) on stdout.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

have_version() { [[ -f "$VITRINE_CACHE/src/$1/.extracted" ]]; }

candidates=("${CHROMIUM_VERSIONS[@]}")
# Fallbacks: any chromium source version apt still lists (newest first).
while read -r v; do candidates+=("$v"); done < <(apt-cache showsrc chromium 2>/dev/null |
  awk '/^Version:/{print $2}' | sort -rV)

for v in "${candidates[@]}"; do
  if have_version "$v"; then echo "$VITRINE_CACHE/src/$v"; exit 0; fi
done

mkdir -p "$VITRINE_CACHE/dl"
for v in "${candidates[@]}"; do
  upstream="${v%-*}"
  tarball="$VITRINE_CACHE/dl/chromium_${upstream}.orig.tar.xz"
  if [[ ! -s "$tarball" ]]; then
    log "downloading chromium source $v (about 950 MB)"
    if ! (cd "$VITRINE_CACHE/dl" && apt-get source -q --download-only "chromium=$v" >&2); then
      log "chromium source $v is not available here; trying the next version"
      continue
    fi
  fi
  dest="$VITRINE_CACHE/src/$v"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  log "extracting third_party/{xnnpack,pthreadpool,cpuinfo,fxdiv,fp16}/src from $tarball"
  xz -T2 -dc "$tarball" | tar x -C "$dest.tmp" --strip-components=1 --wildcards \
    "chromium-${upstream}/third_party/xnnpack/src/*" \
    "chromium-${upstream}/third_party/pthreadpool/src/*" \
    "chromium-${upstream}/third_party/cpuinfo/src/*" \
    "chromium-${upstream}/third_party/fxdiv/src/*" \
    "chromium-${upstream}/third_party/fp16/src/*"
  bash "$VITRINE_ROOT/scripts/patch-xnnpack.sh" "$dest.tmp"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  touch "$dest/.extracted"
  # The 950 MB tarball is no longer needed once extracted.
  rm -f "$VITRINE_CACHE/dl/chromium_${upstream}"*
  echo "$dest"
  exit 0
done
log "no chromium source package could be fetched; add a deb-src entry (scripts/bootstrap.sh does)"
exit 1
