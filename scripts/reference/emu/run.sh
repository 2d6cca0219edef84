#!/usr/bin/env bash
# Checks the llama GPU kernels without a GPU: compiles kernels/llama/*.hip as
# C++ against the CPU emulation in vendor.h and compares every kernel with the
# sim C reference. Usage: scripts/reference/emu/run.sh [section]  (from anywhere; g++ >= 12;
# section: a kernel name such as attention, to run only that part)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# the kernels' argument structs and launcher prototypes (build/gen/, from their declarations)
(cd "$root" && deno eval 'import { writeGeneratedSources } from "./scripts/build.ts"; writeGeneratedSources();')
inc=(-I"$here" -I"$root/kernels/llama" -I"$root/kernels" -I"$root/hip" -I"$root/build/gen")
objs=()
for src in "$root"/kernels/llama/*.hip "$here"/emu.cpp "$here"/check.cpp; do
  obj="$out/$(basename "$src").o"
  g++ -std=c++20 -O1 -pthread -x c++ "${inc[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done
for src in llama_kernels llama_quant; do
  gcc -std=c11 -O2 -D_GNU_SOURCE -I"$root/hip" -I"$root/kernels" -I"$root/build/gen" -c "$root/hip/sim/$src.c" -o "$out/$src.sim.o"
  objs+=("$out/$src.sim.o")
done
g++ -pthread "${objs[@]}" -o "$out/check"
"$out/check" "$@"
