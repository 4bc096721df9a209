#!/usr/bin/env bash
# npm run eval -- NAME [args]: runs evaluation NAME and writes bench/results/eval-NAME.json.
#   recommend [--data CSV] [--folds K] ...   the Vitrine models (trained by the engine, re-ranked in
#       wasm) and the baselines (popularity, item-kNN, EASE) on both protocols of ../shared/DATA.md;
#       without --data: MovieLens latest-small (scripts/data/movielens.sh).
#       Other options: /usr/bin/python3 scripts/recommend/eval.py --help
#       --cold-items: the cold-start protocol instead (new items placed by their content;
#       scripts/recommend/cold_eval.py --help)
#   compact [--data CSV] [--folds K] [--kinds mult-dae,mf-bpr]   ranking quality vs bytes of the
#       compact item tables (f16, int8, product quantization) against the f32 models, per fold
#       (scripts/recommend/compact_eval.py).
#   tagger [--quick]   the shipped Fashion-MNIST tagger (native and wasm), an MLP baseline trained by
#       the engine, and few-shot heads on the tagger's and on nsfwjs MobileNetV2's embeddings
#       (scripts/tagger/eval.mjs).
#   reviews [--train CSV --test CSV] [--quick]   sentiment on Amazon Fine Food reviews (or your
#       own text,label CSVs): baselines (majority, Bing lexicon, TF-IDF LR, NB-SVM) and the engine's
#       models, all tuned by cross-validation on the training file (scripts/reviews/eval.py).
#   aspects [--aspects FILE.json] [--model FILE]   the review analyzer's aspects against the labels
#       made by reading in bench/aspects/ (per-aspect P/R/F1, aspect-sentiment accuracy, the two
#       labellings' Cohen's kappa, the robustness set) (scripts/reviews/aspects-eval.mjs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:?usage: npm run eval -- NAME [args]   (NAME: recommend, compact, tagger, reviews, aspects)}"
shift
cd "$VITRINE_ROOT"
need_python_numpy() {
  /usr/bin/python3 -c 'import numpy' 2>/dev/null && return
  [[ $(id -u) -eq 0 ]] || { log "python3-numpy is missing: run as root once"; exit 1; }
  log "installing python3-numpy"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-numpy >/dev/null
}
# args=(the arguments), with MovieLens latest-small as --data (and its name and source) unless given.
movielens_unless_data() {
  args=("$@")
  if [[ " $* " != *" --data "* && " $* " != *" --data="* ]]; then
    local ratings version
    ratings="$(bash scripts/data/movielens.sh)"
    version="$(dpkg-query -W -f='${Version}' r-cran-dslabs)"
    args=(--data "$ratings" --name movielens
          --source "MovieLens latest-small (object movielens of Debian's r-cran-dslabs $version)" "$@")
  fi
}
case "$name" in
  recommend)
    need_python_numpy
    bash scripts/build.sh >&2   # the engine's vitrine-recommend tool and the wasm variants
    movielens_unless_data "$@"
    if [[ " $* " == *" --cold-items "* ]]; then  # new products placed by content (scripts/recommend/cold_eval.py)
      VITRINE_EVAL_COMMAND="npm run eval -- recommend${*:+ $*}" exec /usr/bin/python3 scripts/recommend/cold_eval.py "${args[@]}"
    fi
    VITRINE_EVAL_COMMAND="npm run eval -- recommend${*:+ $*}" exec /usr/bin/python3 scripts/recommend/eval.py "${args[@]}"
    ;;
  compact)
    need_python_numpy
    bash scripts/build.sh >&2
    movielens_unless_data "$@"
    VITRINE_EVAL_COMMAND="npm run eval -- compact${*:+ $*}" exec /usr/bin/python3 scripts/recommend/compact_eval.py "${args[@]}"
    ;;
  tagger)
    bash scripts/build.sh >&2   # the engine's vitrine-tag tool and the wasm variants
    exec node scripts/tagger/eval.mjs "$@"
    ;;
  reviews)
    /usr/bin/python3 -c 'import sklearn' 2>/dev/null || { log "python3-sklearn missing: run scripts/bootstrap.sh as root"; exit 1; }
    bash scripts/build.sh >&2
    args=("$@")
    if [[ " $* " != *" --train "* ]]; then
      data="$(bash scripts/reviews/prepare-data.sh)"
      args=(--train "$data/train.csv" --test "$data/test.csv" --lexicon "$data/bing.csv" "$@")
    fi
    VITRINE_EVAL_COMMAND="npm run eval -- reviews${*:+ $*}" exec /usr/bin/python3 scripts/reviews/eval.py "${args[@]}"
    ;;
  aspects)
    bash scripts/build.sh >&2
    exec node scripts/reviews/aspects-eval.mjs "$@"
    ;;
  *)
    log "no evaluation '$name' (NAME: recommend, compact, tagger, reviews, aspects)"
    exit 2
    ;;
esac
