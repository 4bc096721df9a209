#!/usr/bin/env bash
# Exports the torchvision parity models and PyTorch text classifiers (random weights, fixed seed) and PyTorch golden values for
# the engine-kernel ops once into the cache, and prints their folder. Keyed by the torchvision package version and the export script's hash.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
script="$VITRINE_ROOT/scripts/models/export_torchvision.py"
goldens="$VITRINE_ROOT/scripts/models/export_op_goldens.py"
train="$VITRINE_ROOT/scripts/models/export_train_goldens.py"
photos="$VITRINE_ROOT/scripts/models/export_photo_goldens.py"
text="$VITRINE_ROOT/scripts/models/export_text_models.py"
tv="$(dpkg-query -W -f='${Version}' python3-torchvision 2>/dev/null || echo none)"
key="torchvision-${tv//[^A-Za-z0-9.]/_}-$(cat "$script" "$goldens" "$train" "$photos" "$text" | sha256sum | cut -c1-12)"
dir="$VITRINE_CACHE/models/$key"
if [[ ! -f "$dir/.complete" ]]; then
  log "exporting torchvision parity models to $dir"
  rm -rf "$dir"
  /usr/bin/python3 "$script" "$dir" >&2
  /usr/bin/python3 "$goldens" "$dir" >&2
  /usr/bin/python3 "$train" "$dir" >&2
  /usr/bin/python3 "$photos" "$dir" >&2
  /usr/bin/python3 "$text" "$dir" >&2
  touch "$dir/.complete"
fi
echo "$dir"
