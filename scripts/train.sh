#!/usr/bin/env bash
# npm run train -- NAME: trains a shipped default model with the engine's own trainer.
#   recommend   models/recommend/movielens.safetensors (+ catalog, model card) from MovieLens
#               latest-small, with the kind and hyper-parameters that won `npm run eval -- recommend`
#               (bench/results/eval-recommend.json). See scripts/recommend/train_default.py.
#   tagger      models/tagger/fashion-mnist.safetensors from Fashion-MNIST (Debian's
#               dataset-fashion-mnist): the first 55,000 training images train, the last 5,000
#               pick the epoch; ~30 min on 2 cores. Extra arguments go to vitrine-tag train.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:?usage: npm run train -- NAME   (NAME: recommend, tagger)}"
shift
cd "$VITRINE_ROOT"
case "$name" in
  recommend)
    bash scripts/build.sh >&2
    ratings="$(bash scripts/data/movielens.sh)"
    version="$(dpkg-query -W -f='${Version}' r-cran-dslabs)"
    VITRINE_TRAIN_COMMAND="npm run train -- recommend" exec /usr/bin/python3 scripts/recommend/train_default.py \
      --data "$ratings" --movies "$(dirname "$ratings")/movies.csv" \
      --source "MovieLens latest-small (object movielens of Debian's r-cran-dslabs $version)" "$@"
    ;;
  tagger)
    bash scripts/build.sh >&2
    data="$(bash scripts/tagger/prepare-data.sh)"
    mkdir -p models/tagger
    exec build/native/engine/tools/vitrine-tag train --images "$data/train-images-idx3-ubyte" \
      --labels "$data/train-labels-idx1-ubyte" --save models/tagger/fashion-mnist.safetensors --half --epochs 15 "$@"
    ;;
  *)
    log "no training recipe '$name' (NAME: recommend, tagger)"
    exit 2
    ;;
esac
