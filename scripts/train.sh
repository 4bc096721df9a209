#!/usr/bin/env bash
# npm run train -- NAME: trains a shipped default model with the engine's own trainer.
#   recommend   models/recommend/movielens.safetensors (+ catalog, model card) from MovieLens
#               latest-small, with the kind and hyper-parameters that won `npm run eval -- recommend`
#               (bench/results/eval-recommend.json). See scripts/recommend/train_default.py.
#   tagger      models/tagger/fashion-mnist.safetensors from Fashion-MNIST (Debian's
#               dataset-fashion-mnist): the first 55,000 training images train, the last 5,000
#               pick the epoch; ~30 min on 2 cores. Extra arguments go to vitrine-tag train.
#   reviews     models/reviews/fine-foods.safetensors from the Amazon Fine Food training reviews,
#               with the model and decision threshold that won `npm run eval -- reviews`
#               (bench/results/eval-reviews.json, cross-validated on the training file only).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:?usage: npm run train -- NAME   (NAME: recommend, tagger, reviews)}"
shift
cd "$VITRINE_ROOT"
case "$name" in
  recommend)
    bash scripts/build.sh >&2
    ratings="$(bash scripts/data/movielens.sh)"
    version="$(dpkg-query -W -f='${Version}' r-cran-dslabs)"
    VITRINE_TRAIN_COMMAND="npm run train -- recommend" /usr/bin/python3 scripts/recommend/train_default.py \
      --data "$ratings" --movies "$(dirname "$ratings")/movies.csv" \
      --source "MovieLens latest-small (object movielens of Debian's r-cran-dslabs $version)" "$@"
    ;;
  tagger)
    bash scripts/build.sh >&2
    data="$(bash scripts/tagger/prepare-data.sh)"
    mkdir -p models/tagger
    build/native/engine/tools/vitrine-tag train --images "$data/train-images-idx3-ubyte" \
      --labels "$data/train-labels-idx1-ubyte" --save models/tagger/fashion-mnist.safetensors --half --epochs 15 "$@"
    ;;
  reviews)
    bash scripts/build.sh >&2
    data="$(bash scripts/reviews/prepare-data.sh)"
    [[ -f bench/results/eval-reviews.json ]] || { log "run npm run eval -- reviews first (it picks the model)"; exit 1; }
    mapfile -t chosen < <(node -e '
      const r = JSON.parse(require("fs").readFileSync("bench/results/eval-reviews.json", "utf8"));
      console.log(r.models[r.default].threshold); for (const a of r.default_args) console.log(a);')
    mkdir -p models/reviews
    build/native/engine/tools/vitrine-review train --csv "$data/train.csv" --save models/reviews/fine-foods.safetensors \
      --half --threshold "${chosen[0]}" "${chosen[@]:1}" "$@"
    ;;
  *)
    log "no training recipe '$name' (NAME: recommend, tagger, reviews)"
    exit 2
    ;;
esac
node scripts/registry.mjs   # the new file's size and SHA-256 (models/registry.json)
