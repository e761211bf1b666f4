#!/bin/sh
# Flow-core speed (bench/README.md, "Flow core"): builds bench_flow in BUILD (default:
# build) and measures, in one run so that the ratios share the machine's state:
#   1. the default and the published network, 2 threads, tensor cache on (with the time map)
#   2. the same default network without the tensor cache, and on 1 thread
#   3. the default network with the reference BLAS instead of OpenBLAS (LD_LIBRARY_PATH
#      pointing at a folder where libblas.so.3 is the reference library)
#   4. candidate sizes for the default preset
# Usage: bench/bench_flow.sh [repeat]    (figures: best of repeat timed calls, and medians)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$(cd "${BUILD:-$root/build}" && pwd)
repeat=${1:-5}
cmake --build "$build" --target bench_flow >/dev/null
bin="$build/bench/bench_flow"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The training-step time of a run's first network, in ms.
step_ms() { sed -n 's/.*training step (F + F^-1, backward, Adam): \([0-9]*\) ms .*/\1/p' "$1" | head -1; }
fwd_ms() { sed -n 's/.*mapping: forward [0-9]* conf\/s (\([0-9.]*\) ms,.*/\1/p' "$1" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$bin" --preset default --preset published --threads 2 --repeat "$repeat" | tee "$work/main.txt"
echo
"$bin" --preset default --threads 2 --repeat "$repeat" --no-breakdown --no-cache | tee "$work/nocache.txt"
"$bin" --preset default --threads 1 --repeat "$repeat" --no-breakdown | tee "$work/one.txt"
echo
echo "tensor cache: training step x$(ratio "$(step_ms "$work/nocache.txt")" "$(step_ms "$work/main.txt")"), forward mapping x$(ratio "$(fwd_ms "$work/nocache.txt")" "$(fwd_ms "$work/main.txt")") faster with it"
echo "2 threads vs 1: training step x$(ratio "$(step_ms "$work/one.txt")" "$(step_ms "$work/main.txt")"), forward mapping x$(ratio "$(fwd_ms "$work/one.txt")" "$(fwd_ms "$work/main.txt")")"

reference=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
if [ -e "$reference" ]; then
  mkdir "$work/refblas"
  ln -s "$reference" "$work/refblas/libblas.so.3"
  echo
  LD_LIBRARY_PATH="$work/refblas" "$bin" --preset default --threads 2 --repeat 1 --no-breakdown \
    | tee "$work/ref.txt"
  echo "OpenBLAS vs reference BLAS: training step x$(ratio "$(step_ms "$work/ref.txt")" "$(step_ms "$work/main.txt")"), forward mapping x$(ratio "$(fwd_ms "$work/ref.txt")" "$(fwd_ms "$work/main.txt")") faster"
else
  echo "no reference BLAS at $reference: OpenBLAS comparison skipped"
fi

echo
echo "candidate sizes (default preset with overrides), 2 threads:"
for size in "1 64 128" "2 32 64" "2 64 128" "2 64 256" "4 32 128" "4 64 256" "2 128 256"; do
  set -- $size
  "$bin" --preset default --blocks "$1" --embedding "$2" --feedforward "$3" --threads 2 \
    --repeat "$repeat" --no-breakdown | grep -v -e '^BLAS' -e '^tensor cache'
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
