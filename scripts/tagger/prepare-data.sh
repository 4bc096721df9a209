#!/usr/bin/env bash
# Unpacks Debian's Fashion-MNIST (dataset-fashion-mnist, DATA.md) once into the cache as the
# uncompressed IDX files vitrine-tag and the tests read, and prints the folder.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
src=/usr/share/datasets/fashion-mnist
version="$(dpkg-query -W -f='${Version}' dataset-fashion-mnist 2>/dev/null || echo none)"
dir="$VITRINE_CACHE/data/fashion-mnist-${version//[^A-Za-z0-9.]/_}"
if [[ ! -f "$dir/.complete" ]]; then
  [[ -f $src/train-images-idx3-ubyte.gz ]] || { log "Fashion-MNIST missing: run scripts/bootstrap.sh as root (dataset-fashion-mnist)"; exit 1; }
  mkdir -p "$dir"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gunzip -c "$src/$f.gz" >"$dir/$f"
  done
  touch "$dir/.complete"
fi
echo "$dir"
