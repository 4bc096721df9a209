# Shared settings for Vitrine's scripts. Source it; do not run it.
set -euo pipefail
VITRINE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VITRINE_CACHE="${VITRINE_CACHE:-$HOME/.cache/vitrine}"
# Chromium source package that vendors XNNPACK + pthreadpool + cpuinfo + fxdiv + fp16.
# The first version is the pinned one; the others are tried if the mirror dropped it.
CHROMIUM_VERSIONS=(150.0.7871.100-1~deb12u1)
# Bump when the patch step or the third-party build flags change: it keys the build cache.
DEPS_RECIPE=1
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
log() { printf '[vitrine] %s\n' "$*" >&2; }
