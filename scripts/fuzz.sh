#!/usr/bin/env bash
# libFuzzer campaigns over the engine's parsers and loaders (harnesses: tests/fuzz/*_fuzz.cc).
#
#   bash scripts/fuzz.sh NAME [--time S]   fuzz one harness for S seconds (default 60)
#   bash scripts/fuzz.sh all [--time S]    every harness, one after the other, S seconds each
#   bash scripts/fuzz.sh ci                CI: every harness over its regressions + seeds once, then
#                                          15 s of fuzzing each (FUZZ_CI_TIME overrides); fails on
#                                          any finding
#   bash scripts/fuzz.sh list              the harness names
# (npm run fuzz -- NAME|all [--time S] runs this.)
#
# Builds build/fuzz (clang-14, engine with -fsanitize=fuzzer-no-link,address,undefined; incremental)
# and the seed corpora made from real files (scripts/fuzz/make-seeds.py, cached in
# $VITRINE_CACHE/fuzz-seeds). Each harness runs in one process with a persistent working corpus in
# $VITRINE_CACHE/fuzz/NAME (seeded from tests/fuzz/seeds/NAME, the cached seeds and
# tests/fuzz/regressions/NAME), tests/fuzz/NAME.dict when there is one, and crash / leak / timeout /
# OOM reproducers written to tests/fuzz/findings/NAME/. Campaign results accumulate in
# bench/results/fuzz.json (totals per harness plus one record per part); a table is printed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$VITRINE_ROOT"

HARNESSES=(onnx model_file json keras tfjs_graph npy review image state delta)
max_len() {
  case "$1" in
    keras|tfjs_graph) echo 131072 ;;  # room for a real model.json (nsfwjs: 118 KB)
    json) echo 32768 ;;
    *) echo 65536 ;;
  esac
}

mode="${1:-}"; shift || true
seconds=60
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --time=*) seconds="${1#--time=}"; shift ;;
    *) log "unknown argument '$1'"; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] || { log "--time takes whole seconds"; exit 2; }
if [[ "$mode" == list ]]; then printf '%s\n' "${HARNESSES[@]}"; exit 0; fi
if [[ -z "$mode" ]]; then
  log "usage: scripts/fuzz.sh NAME|all|ci|list [--time S]   (harnesses: ${HARNESSES[*]})"; exit 2
fi

build_fuzz() {
  command -v clang++-14 >/dev/null || bash scripts/bootstrap.sh
  local deps dir=build/fuzz; deps="$(bash scripts/build-deps.sh native)"
  if [[ ! -f "$dir/build.ninja" ]] || ! grep -qF "VITRINE_DEPS:PATH=$deps" "$dir/CMakeCache.txt" 2>/dev/null; then
    rm -rf "$dir"; mkdir -p build
    # Asserts stay on (no NDEBUG): an assert that input reaches is a finding too.
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DVITRINE_DEPS="$deps" -DVITRINE_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" >"$dir.configure.log" 2>&1 ||
      { cat "$dir.configure.log" >&2; exit 1; }
  fi
  log "building $dir (libFuzzer + ASan + UBSan)"
  if ! cmake --build "$dir" -j 2 >"$dir.build.log" 2>&1; then  # (a status read after `| grep || true` is never the build's)
    grep -vE '^\[[0-9]+/[0-9]+\]' "$dir.build.log" >&2 || true
    log "build of $dir failed (full log: $dir.build.log)"
    exit 1
  fi
}

SEEDS="$VITRINE_CACHE/fuzz-seeds"
build_seeds() {
  local recipe; recipe="$(sha256sum scripts/fuzz/make-seeds.py | cut -c1-12)"
  [[ -f "$SEEDS/.complete-$recipe" ]] && return 0
  local node_tests nsfwjs
  node_tests="$(dpkg -L libonnx-testdata 2>/dev/null | awk '/\/data\/node$/ && !seen { print; seen = 1 }' || true)"
  nsfwjs="$(bash scripts/tagger/prepare-nsfwjs.sh 2>/dev/null || echo /nonexistent)"
  log "building seed corpora from real files into $SEEDS"
  rm -rf "$SEEDS"
  /usr/bin/python3 scripts/fuzz/make-seeds.py "$SEEDS" "$VITRINE_ROOT" "${node_tests:-/nonexistent}" "$nsfwjs" >/dev/null
  touch "$SEEDS/.complete-$recipe"
}

# Directories to read a harness's inputs from (the persistent corpus is passed separately).
seed_dirs() {
  local name="$1" d
  for d in "tests/fuzz/regressions/$name" "tests/fuzz/seeds/$name" "$SEEDS/$name"; do
    [[ -d "$d" ]] && echo "$d"
  done
}

common_flags() {  # common_flags NAME
  local name="$1"
  echo "-max_len=$(max_len "$name") -rss_limit_mb=2048 -timeout=10 -print_final_stats=1"
  [[ -f "tests/fuzz/$name.dict" ]] && echo "-dict=tests/fuzz/$name.dict"
  return 0
}

run_campaign() {  # run_campaign NAME SECONDS -> appends a record to $records
  local name="$1" secs="$2" bin="build/fuzz/tests/fuzz/${1}_fuzz"
  local corpus="$VITRINE_CACHE/fuzz/$name" findings="tests/fuzz/findings/$name" log_file
  mkdir -p "$corpus" "$findings"
  log_file="$(mktemp "${TMPDIR:-/tmp}/vitrine-fuzz-$name.XXXXXX")"
  log "fuzzing $name for ${secs}s (corpus $corpus)"
  local before; before="$(ls "$findings" | sort)"
  local rc=0
  # shellcheck disable=SC2046
  "$bin" $(common_flags "$name") -max_total_time="$secs" -artifact_prefix="$findings/" \
    "$corpus" $(seed_dirs "$name") >"$log_file" 2>&1 || rc=$?
  local new; new="$(comm -13 <(echo "$before") <(ls "$findings" | sort) | tr '\n' ' ')"
  if [[ $rc -ne 0 ]]; then
    log "$name stopped with status $rc; last lines of its log ($log_file):"
    grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse|RELOAD)' "$log_file" | tail -40 >&2
  fi
  /usr/bin/python3 - "$name" "$secs" "$log_file" "$corpus" "$new" "$rc" >>"$records" <<'PY'
import json, os, re, sys
name, secs, log_file, corpus, new, rc = sys.argv[1:7]
text = open(log_file, errors='replace').read()
def stat(key):
    m = re.findall(r'stat::%s:\s+(\d+)' % key, text)
    return int(m[-1]) if m else 0
cov = re.findall(r'cov: (\d+) ft: (\d+) corp: (\d+)/', text)
stats = re.findall(r'onnx-fuzz stats: inputs=(\d+) parse_rejected=(\d+) import_rejected=(\d+) ran=(\d+)', text)
rec = {'name': name, 'seconds': int(secs), 'executions': stat('number_of_executed_units'),
       'exec_per_s': stat('average_exec_per_sec'), 'edges': int(cov[-1][0]) if cov else 0,
       'features': int(cov[-1][1]) if cov else 0, 'corpus': len(os.listdir(corpus)),
       'peak_rss_mb': stat('peak_rss_mb'), 'findings': new.split(), 'exit_status': int(rc)}
if stats:
    inputs, parse_rej, import_rej, ran = map(int, stats[-1])
    rec['first_step_rejected'] = round(parse_rej / inputs, 4) if inputs else 0
    rec['import_rejected'] = round(import_rej / inputs, 4) if inputs else 0
    rec['ran'] = ran
print(json.dumps(rec))
PY
  [[ -n "$new" ]] && log "$name: NEW FINDINGS in $findings: $new"
  rm -f "$log_file"
  return 0
}

write_results() {  # merges $records into bench/results/fuzz.json and prints the table
  mkdir -p bench/results
  /usr/bin/python3 - "$records" bench/results/fuzz.json <<'PY'
import datetime, json, os, sys
records_path, out = sys.argv[1:3]
try:
    results = json.load(open(out))
except (OSError, ValueError):
    results = {}
results.setdefault('description', 'libFuzzer campaigns (scripts/fuzz.sh): totals accumulate over parts; '
                   'edges = libFuzzer cov (edges covered), features = ft, corpus = working corpus files')
harnesses = results.setdefault('harnesses', {})
now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
for line in open(records_path):
    rec = json.loads(line)
    name = rec.pop('name')
    h = harnesses.setdefault(name, {'total_executions': 0, 'total_seconds': 0, 'findings': [], 'parts': []})
    rec['date'] = now
    h['parts'].append(rec)
    h['total_executions'] += rec['executions']
    h['total_seconds'] += rec['seconds']
    h['exec_per_s'] = round(h['total_executions'] / h['total_seconds']) if h['total_seconds'] else 0
    for k in ('edges', 'features', 'corpus', 'peak_rss_mb', 'first_step_rejected', 'import_rejected'):
        if k in rec:
            h[k] = rec[k]
    h['findings'] = sorted(set(h['findings']) | set(rec['findings']))
json.dump(results, open(out, 'w'), indent=2)
open(out, 'a').write('\n')
print('%-11s %12s %8s %8s %7s %8s %7s  %s' % ('harness', 'executions', 'seconds', 'exec/s', 'edges', 'features', 'corpus', 'findings'))
for name in sorted(harnesses):
    h = harnesses[name]
    print('%-11s %12d %8d %8d %7d %8d %7d  %s' % (name, h['total_executions'], h['total_seconds'], h['exec_per_s'],
          h.get('edges', 0), h.get('features', 0), h.get('corpus', 0), ' '.join(h['findings']) or '-'))
    if 'first_step_rejected' in h:
        print('%-11s first parse step rejected %.1f%% of inputs, import %.1f%%' % ('', 100 * h['first_step_rejected'], 100 * h['import_rejected']))
PY
}

ci() {
  local name bin failed=0 start=$SECONDS secs="${FUZZ_CI_TIME:-15}"
  for name in "${HARNESSES[@]}"; do
    bin="build/fuzz/tests/fuzz/${name}_fuzz"
    files=()
    for d in "tests/fuzz/regressions/$name" "tests/fuzz/seeds/$name"; do
      [[ -d "$d" ]] && mapfile -t -O "${#files[@]}" files < <(find "$d" -type f | sort)
    done
    if [[ ${#files[@]} -gt 0 ]]; then
      # shellcheck disable=SC2046
      if ! "$bin" $(common_flags "$name") -artifact_prefix="build/fuzz/ci-findings-$name-" "${files[@]}" \
           >"build/fuzz/ci-$name-replay.log" 2>&1; then
        log "FAILED: $name on its regressions/seeds"; tail -40 "build/fuzz/ci-$name-replay.log" >&2; failed=1; continue
      fi
    fi
    local corpus="build/fuzz/ci-corpus/$name"; rm -rf "$corpus"; mkdir -p "$corpus"
    # shellcheck disable=SC2046
    if ! "$bin" $(common_flags "$name") -max_total_time="$secs" -artifact_prefix="build/fuzz/ci-findings-$name-" \
         "$corpus" $(seed_dirs "$name") >"build/fuzz/ci-$name.log" 2>&1; then
      log "FAILED: $name while fuzzing ${secs}s (reproducer: build/fuzz/ci-findings-$name-*)"
      grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse|RELOAD)' "build/fuzz/ci-$name.log" | tail -40 >&2; failed=1; continue
    fi
    log "$name: ${#files[@]} regression/seed files pass; $(grep -oE 'stat::number_of_executed_units: [0-9]+' "build/fuzz/ci-$name.log" | grep -oE '[0-9]+$') executions in ${secs}s, no findings"
  done
  log "fuzz CI step took $((SECONDS - start))s"
  return $failed
}

build_fuzz
build_seeds
case "$mode" in
  ci) ci ;;
  *)
    if [[ "$mode" == all ]]; then names=("${HARNESSES[@]}"); else names=("$mode"); fi
    for n in "${names[@]}"; do
      [[ -x "build/fuzz/tests/fuzz/${n}_fuzz" ]] || { log "no harness '$n' (have: ${HARNESSES[*]})"; exit 2; }
    done
    records="$(mktemp)"
    for n in "${names[@]}"; do run_campaign "$n" "$seconds"; done
    write_results
    rm -f "$records"
    ;;
esac
