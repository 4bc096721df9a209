#!/usr/bin/env bash
# npm run train -- NAME: trains a shipped default model with the engine's own trainer.
#   recommend   models/recommend/movielens.safetensors (+ catalog, model card) from MovieLens
#               latest-small, with the kind and hyper-parameters that won `npm run eval -- recommend`
#               (bench/results/eval-recommend.json). See scripts/recommend/train_default.py.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:?usage: npm run train -- NAME   (NAME: recommend)}"
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
  *)
    log "no training recipe '$name' (NAME: recommend)"
    exit 2
    ;;
esac
