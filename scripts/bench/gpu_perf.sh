#!/usr/bin/env bash
# The performance run on one NVIDIA GPU (made for an H200: CUDA 13, no network, Deno carried as
# .carry/deno.xz, node_modules/ carried). From the repository root:
#
#   scripts/bench/gpu_perf.sh [build] [test] [bench]        (default: all three; a summary table last)
#
# Stages:
#   build  sim and cuda for sm_$CUDA_ARCH (default 90) only: half the compile time of the default set
#   test   the GPU correctness tests of the quantized, GEMM, f16-KV and flash-attention kernels and of
#          full decodes against the float64 reference (FAULTLINE_BACKEND=cuda, one process per file);
#          the GEMM tests again with FAULTLINE_CUBLAS=off, so the fallback kernel runs on the GPU too
#   bench  deno task bench --only engine --only engine_attention (and --only llamacpp when $LLAMA_BENCH
#          names llama.cpp's llama-bench); reports/bench/* is copied to $OUT
#
# cuBLAS: hip/gpu_blas.cpp finds libcublas on the loader path, $CUDA_HOME/lib64 or /usr/local/cuda;
# when none is there this script points FAULTLINE_CUBLAS at the first libcublas.so* under the CUDA
# toolkit or the torch venv (/opt/torch/.venv/.../nvidia/cu13/lib). The table says which one ran.
#
# Environment: OUT (default build/gpu_perf/), CUDA_ARCH (90), LLAMA_BENCH (path of llama-bench),
# FAULTLINE_BENCH_DTYPES (e.g. "q4_k"; default f16,q8_0,q4_k), FAULTLINE_LLAMA_BENCH_REPS (3),
# FAULTLINE_BENCH_MODELS (where the llamacpp section writes its GGUF files; default /dev/shm),
# BUILD_TIMEOUT (240), TEST_TIMEOUT (150), BENCH_TIMEOUT (300) in seconds.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
OUT=${OUT:-$ROOT/build/gpu_perf}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
export NO_COLOR=1 DENO_NO_UPDATE_CHECK=1 FAULTLINE_BACKEND=${FAULTLINE_BACKEND:-cuda}
export DENO_DIR=${DENO_DIR:-/tmp/deno-dir} NPM_CONFIG_REGISTRY=${NPM_CONFIG_REGISTRY:-http://127.0.0.1:9/}

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(build test bench)
for s in "${stages[@]}"; do
  case "$s" in build | test | bench) ;; *) echo "usage: scripts/bench/gpu_perf.sh [build] [test] [bench]"; exit 2 ;; esac
done
wants() { local s; for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# ---- Deno: the carried binary, else one on PATH ----
DENO=""
if [ -f .carry/deno.xz ]; then
  if [ ! -x /tmp/deno ] || [ .carry/deno.xz -nt /tmp/deno ]; then
    xz -dc .carry/deno.xz >/tmp/deno.part && chmod +x /tmp/deno.part && mv /tmp/deno.part /tmp/deno
  fi
  [ -x /tmp/deno ] && DENO=/tmp/deno
fi
[ -z "$DENO" ] && command -v deno >/dev/null && DENO=$(command -v deno)
[ -z "$DENO" ] && { echo "deno: not found (no .carry/deno.xz, none on PATH)"; exit 2; }
mkdir -p /tmp/deno-bin && ln -sf "$DENO" /tmp/deno-bin/deno && export PATH=/tmp/deno-bin:$PATH

# ---- cuBLAS for the prefill GEMM ----
if [ -z "${FAULTLINE_CUBLAS:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so'; then
  for lib in /usr/local/cuda/lib64/libcublas.so* /usr/local/cuda-*/lib64/libcublas.so* \
    /usr/local/cuda/targets/*/lib/libcublas.so* /opt/torch/.venv/lib/python3*/site-packages/nvidia/cu*/lib/libcublas.so*; do
    [ -f "$lib" ] && { export FAULTLINE_CUBLAS=$lib; break; }
  done
fi
echo "deno $("$DENO" --version | head -n 1); FAULTLINE_CUBLAS=${FAULTLINE_CUBLAS:-(loader path)}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

declare -A result seconds
order=()
stage() {
  local name=$1 t0=$SECONDS; shift
  printf '\n== %s\n' "$name"
  "$@"
  result[$name]=$?
  seconds[$name]=$((SECONDS - t0))
  order+=("$name")
}

do_build() {
  timeout -k 10 "${BUILD_TIMEOUT:-240}" "$DENO" run -A scripts/build.ts --backend sim,cuda \
    --cuda-arch "${CUDA_ARCH:-90}" 2>&1 | tee "$OUT/build.log"
  return "${PIPESTATUS[0]}"
}

TESTS=(
  tests/kernels/quant.test.ts tests/kernels/gemm.test.ts tests/kernels/attention_f16.test.ts
  tests/kernels/attention.test.ts tests/kernels/matmul.test.ts tests/kernels/config.test.ts
  tests/scripts/model/reference_decode_quant.test.ts tests/scripts/model/reference_decode.test.ts
  tests/scripts/scheduler/prefill.test.ts tests/scripts/scheduler/generate.test.ts
)

# one deno process per file: a sticky GPU fault would poison the process's context for the files after it
do_test() {
  local f rc=0 deadline=$((SECONDS + ${TEST_TIMEOUT:-150})) line
  : >"$OUT/test.log"
  for f in "${TESTS[@]}" "cublas=off tests/kernels/gemm.test.ts"; do
    local env=() file=$f
    [[ $f == cublas=off* ]] && env=(FAULTLINE_CUBLAS=off) && file=${f#* }
    local left=$((deadline - SECONDS))
    [ "$left" -le 5 ] && { echo "time limit reached before $f" | tee -a "$OUT/test.log"; return 124; }
    env "${env[@]}" timeout -k 5 "$left" "$DENO" test -A --cached-only "$file" >"$OUT/one.log" 2>&1 || rc=1
    cat "$OUT/one.log" >>"$OUT/test.log"
    line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$OUT/one.log" | tail -n 1)
    echo "$f: ${line:-no summary (crashed or timed out)}"
    [ -z "$line" ] && tail -n 20 "$OUT/one.log"
  done
  rm -f "$OUT/one.log"
  return $rc
}

do_bench() {
  local args=(--only engine --only engine_attention)
  [ -n "${LLAMA_BENCH:-}" ] && args+=(--only llamacpp --llama-bench "$LLAMA_BENCH")
  timeout -k 10 "${BENCH_TIMEOUT:-300}" "$DENO" task bench "${args[@]}" 2>&1 | tee "$OUT/bench.log"
  local rc=${PIPESTATUS[0]}
  [ -f reports/bench/bench.json ] && mkdir -p "$OUT/bench" && cp -r reports/bench/. "$OUT/bench/"
  return "$rc"
}

wants build && stage build do_build
wants test && stage test do_test
wants bench && stage bench do_bench

printf '\n== summary\n'
for s in "${order[@]}"; do
  rc=${result[$s]}
  if [ "$rc" = 0 ]; then word=ok; elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then word="TIMED OUT"; else word="FAILED ($rc)"; fi
  echo "$s: $word, ${seconds[$s]} s"
done
[ -f "$OUT/test.log" ] && grep -E '^(ok|FAILED) \|' "$OUT/test.log" | awk -F'|' '{p+=$2; f+=$3} END {print "tests: " p+0 " passed, " f+0 " failed"}'
if wants bench && [ -f "$OUT/bench/bench.json" ]; then
  echo
  "$DENO" run -A scripts/bench/perf_table.ts "$OUT/bench/bench.json" | tee "$OUT/table.md"
fi
for s in "${order[@]}"; do [ "${result[$s]}" = 0 ] || exit 1; done
exit 0
