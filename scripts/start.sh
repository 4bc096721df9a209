#!/usr/bin/env bash
# The main job for now: set everything up, build, then run a "movie store" session in Node with the
# shipped MovieLens recommender (web/demo/cli.mjs: history in, personalized films out, persisted).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$VITRINE_ROOT/scripts/build.sh"
cd "$VITRINE_ROOT"
node web/demo/cli.mjs "$@"
