#!/usr/bin/env bash
# The GPU check: run from the repository root on an NVIDIA machine that has
# CUDA and nvcc but no Deno and no network.
#
#   scripts/gpu_check.sh [build] [info] [test] [bench] [trace] [perf] [multi]     (default: the first four)
#
# Deno comes from the git-ignored .carry/deno.xz (xz-compressed binary),
# unpacked to /tmp/deno; node_modules/ (the npm packages, hono) may be carried
# too. Stages:
#   build  the sim and cuda backends (scripts/build.ts)
#   info   the GPU (nvidia-smi) and the toolchain
#   test   deno test -A --cached-only, one process per file, FAULTLINE_BACKEND=cuda
#   bench  deno task bench with FAULTLINE_BACKEND=cuda; reports/bench/* is copied out
#   trace  deno task trace on the real driver: tests/scripts/trace/gpu.test.ts (an nvcc-built runtime-API
#          program with static cudart, and the driver-API test programs with a cubin, each with a
#          planted out-of-bounds launch the trace must name; clean runs with no finding), then the
#          bench's trace section (empty launches bare vs traced); the trace reports, the log and
#          the bench rows go to $OUT/trace/ (the test stage runs it too)
#   perf   scripts/bench/gpu_perf.sh (its own build for sm_90, the GPU tests of the quantized, GEMM
#          and f16-KV kernels, the engine benchmarks, llama.cpp's llama-bench when $LLAMA_BENCH names
#          it, a short table last); its logs go to $OUT/perf/
#   multi  on two GPUs or more: scripts/ci/multi_gpu_check.ts (the matrix's speed-up on every GPU
#          against one, goal >= 0.9·N; a fault planted on one GPU's trials leaves the others' PASS);
#          its summary goes to $OUT/multi.json
# Each stage runs even when an earlier one failed; logs go to $OUT (default
# build/gpu_check/), a summary is printed last, and the exit status is 0 only
# when every stage that ran passed.
#
# Environment: OUT, CUDA_ARCH (e.g. 90; default: build.ts's), TEST_TIMEOUT and
# BENCH_TIMEOUT (seconds; 420 and 300), BUILD_TIMEOUT (300), MULTI_TIMEOUT (420), TEST_FILES (see
# do_test), BENCH_ARGS (passed to `deno task bench`, e.g. '--only own_kernels').
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

OUT=${OUT:-$ROOT/build/gpu_check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# FAULTLINE_BACKEND may be set to sim for a dry run on a machine with no GPU.
export NO_COLOR=1 DENO_NO_UPDATE_CHECK=1 FAULTLINE_BACKEND=${FAULTLINE_BACKEND:-cuda}
export DENO_DIR=${DENO_DIR:-/tmp/deno-dir}
# No network there: npm packages come from the carried node_modules/. A registry
# look-up by any deno process (test children included) then fails at once on a
# closed local port rather than waiting on name resolution.
export NPM_CONFIG_REGISTRY=${NPM_CONFIG_REGISTRY:-http://127.0.0.1:9/}

usage() { echo "usage: scripts/gpu_check.sh [build] [info] [test] [bench] [trace] [perf] [multi]"; }

stages=()
for a in "$@"; do
  case "$a" in
    build | info | test | bench | trace | perf | multi) stages+=("$a") ;;
    all) stages+=(build info test bench) ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown stage: $a"; usage; exit 2 ;;
  esac
done
[ ${#stages[@]} -eq 0 ] && stages=(build info test bench)
wants() { local s; for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

declare -A result seconds
order=()
note() { printf '\n== %s\n' "$*"; }
# stage NAME CMD...: runs CMD, records its status and time.
stage() {
  local name=$1; shift
  local t0=$SECONDS rc
  note "$name"
  "$@"
  rc=$?
  result[$name]=$rc
  seconds[$name]=$((SECONDS - t0))
  order+=("$name")
  return 0
}

# ---- Deno: the carried binary, else one on PATH ----
DENO=""
if [ -f .carry/deno.xz ]; then
  if [ ! -x /tmp/deno ] || [ .carry/deno.xz -nt /tmp/deno ]; then
    if xz -dc .carry/deno.xz >/tmp/deno.part && chmod +x /tmp/deno.part && mv /tmp/deno.part /tmp/deno; then
      :
    else
      echo "could not unpack .carry/deno.xz"
      rm -f /tmp/deno.part
    fi
  fi
  [ -x /tmp/deno ] && DENO=/tmp/deno
fi
if [ -z "$DENO" ] && command -v deno >/dev/null; then DENO=$(command -v deno); fi
if [ -n "$DENO" ]; then
  # `deno task` runs `deno ...` by name.
  mkdir -p /tmp/deno-bin && ln -sf "$DENO" /tmp/deno-bin/deno
  export PATH=/tmp/deno-bin:$PATH
  echo "deno: $DENO ($("$DENO" --version | head -n 1))"
else
  echo "deno: not found (no .carry/deno.xz, none on PATH): build, test and bench cannot run"
fi
if [ -d node_modules ]; then
  echo "node_modules: carried ($(ls node_modules | tr '\n' ' '))"
else
  echo "node_modules: absent (tests that import npm packages need it: there is no network)"
fi

need_deno() {
  [ -n "$DENO" ] && return 0
  echo "no deno"
  return 1
}

do_build() {
  need_deno || return 1
  local arch=()
  [ -n "${CUDA_ARCH:-}" ] && arch=(--cuda-arch "$CUDA_ARCH")
  timeout -k 10 "${BUILD_TIMEOUT:-300}" "$DENO" run -A scripts/build.ts --backend sim,cuda "${arch[@]}" 2>&1 |
    tee "$OUT/build.log"
}

do_info() {
  {
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
    else
      echo "nvidia-smi: not found"
    fi
    command -v nvcc >/dev/null && nvcc --version | tail -n 2
    [ -n "$DENO" ] && "$DENO" --version | head -n 1
    uname -srm
  } 2>&1 | tee "$OUT/gpu.txt"
}

# One deno process per test file: on a GPU a sticky fault poisons the whole
# process's context, so a test that plants one must not take the files after
# it down too. TEST_FILES narrows the run: globs under tests/ (** matches any
# folders), separated by spaces (e.g. 'scripts/guards/*.test.ts **/races.test.ts').
do_test() {
  need_deno || return 1
  local f pat rc=0 passed=0 failed=0 ignored=0 line deadline=$((SECONDS + ${TEST_TIMEOUT:-420}))
  local files=()
  set -f
  local pats=(${TEST_FILES:-**/*.test.ts})
  set +f
  shopt -s globstar nullglob
  for pat in "${pats[@]}"; do
    for f in tests/$pat; do
      [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
    done
  done
  shopt -u globstar nullglob
  # the exports check runs whatever the patterns say
  [[ " ${files[*]} " == *" tests/hip/exports.test.ts "* ]] || files+=(tests/hip/exports.test.ts)
  : >"$OUT/test.log"
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    local left=$((deadline - SECONDS))
    if [ "$left" -le 5 ]; then echo "time limit reached before $f" | tee -a "$OUT/test.log"; rc=124; break; fi
    timeout -k 5 "$left" "$DENO" test -A --cached-only "$f" >"$OUT/one.log" 2>&1 || rc=1
    cat "$OUT/one.log" >>"$OUT/test.log"
    line=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/one.log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
    if [ -z "$line" ]; then
      echo "$f: no summary (crashed or timed out)"; failed=$((failed + 1))
      tail -n 20 "$OUT/one.log"
      continue
    fi
    echo "$f: $line"
    passed=$((passed + $(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$line")))
    ignored=$((ignored + $(grep -oE '[0-9]+ ignored' <<<"$line" | grep -oE '[0-9]+' || echo 0)))
  done
  rm -f "$OUT/one.log"
  echo "TOTAL | $passed passed | $failed failed | $ignored ignored" | tee -a "$OUT/test.log"
  sed 's/\x1b\[[0-9;]*m//g' "$OUT/test.log" | grep -E '^[a-zA-Z].* => ' | sort -u >"$OUT/failures.txt"
  [ "$failed" = 0 ] || rc=1
  return $rc
}

do_bench() {
  need_deno || return 1
  local rc
  local args=()
  set -f
  [ -n "${BENCH_ARGS:-}" ] && args=(${BENCH_ARGS})
  set +f
  timeout -k 10 "${BENCH_TIMEOUT:-300}" "$DENO" task bench "${args[@]}" 2>&1 | tee "$OUT/bench.log"
  rc=$?
  if [ -d reports/bench ] && [ -n "$(ls -A reports/bench)" ]; then
    mkdir -p "$OUT/bench" && cp -r reports/bench/. "$OUT/bench/"
  else
    echo "no files in reports/bench"
  fi
  return $rc
}

do_trace() {
  need_deno || return 1
  local rc=0
  mkdir -p "$OUT/trace/reports"
  FAULTLINE_TRACE_TEST_REPORTS="$OUT/trace/reports" timeout -k 10 "${TRACE_TIMEOUT:-300}" \
    "$DENO" test -A --cached-only tests/scripts/trace/gpu.test.ts 2>&1 | tee "$OUT/trace/test.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  timeout -k 10 "${TRACE_TIMEOUT:-300}" "$DENO" run -A --cached-only scripts/bench/main.ts --only trace 2>&1 |
    tee "$OUT/trace/bench.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  [ -f reports/bench/bench.md ] && cp reports/bench/bench.md reports/bench/bench.json "$OUT/trace/"
  for v in "$OUT"/trace/reports/trace/*/verdict.json; do
    [ -f "$v" ] && echo "$v: $(grep -m1 '"status"' "$v" | tr -d ' ,')"
  done
  return $rc
}

do_multi() {
  need_deno || return 1
  timeout -k 10 "${MULTI_TIMEOUT:-420}" "$DENO" run -A --cached-only scripts/ci/multi_gpu_check.ts --out "$OUT" 2>&1 |
    tee "$OUT/multi.log"
}

wants build && stage build do_build
wants info && stage info do_info
wants test && stage test do_test
wants bench && stage bench do_bench
wants trace && stage trace do_trace
wants perf && stage perf env OUT="$OUT/perf" scripts/bench/gpu_perf.sh
wants multi && stage multi do_multi

# ---- Summary ----
{
  note "summary"
  gpu=$(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
  echo "gpu: ${gpu:-none}"
  for s in "${order[@]}"; do
    rc=${result[$s]}
    if [ "$rc" = 0 ]; then word=ok; elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then word="TIMED OUT"; else word="FAILED (exit $rc)"; fi
    line="$s: $word, ${seconds[$s]} s"
    if [ "$s" = test ] && [ -f "$OUT/test.log" ]; then
      counts=$(grep -E '^TOTAL \|' "$OUT/test.log" | tail -n 1)
      [ -n "$counts" ] && line="$line; $counts"
    fi
    if [ "$s" = multi ] && [ -f "$OUT/multi.log" ]; then
      line="$line; $(grep -E '^(PASS|FAIL) ' "$OUT/multi.log" | cut -c1-160 | paste -sd ';' -)"
    fi
    if [ "$s" = bench ] && [ -d "$OUT/bench" ]; then
      line="$line; $(find "$OUT/bench" -type f | wc -l) files in bench/"
    fi
    echo "$line"
  done
  echo "logs: $OUT"
} | tee "$OUT/summary.txt"

for s in "${order[@]}"; do [ "${result[$s]}" = 0 ] || exit 1; done
exit 0
