#!/bin/sh
# Flow-core speed (bench/README.md, "Flow core"): builds bench_flow in BUILD (default:
# build) and measures, in one run so that the ratios share the machine's state:
#   1. the default and the published network, with the time map (headline figures)
#   2. the default network without the tensor cache, on 1 thread, and with OpenBLAS's own
#      kernel choice where OPENBLAS_CORETYPE was set for the headline (timing only)
#   3. the default network with the reference BLAS instead of OpenBLAS (LD_LIBRARY_PATH
#      pointing at a folder where libblas.so.3 is the reference library)
#   4. candidate sizes for the default preset
# On an AVX-512 CPU the headline runs use OPENBLAS_CORETYPE=Haswell (scripts/blas_env.sh).
# Usage: bench/bench_flow.sh [repeat] [threads]   (figures: best of repeat timed calls,
# and medians; threads for LibTorch and OpenBLAS, default 2)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$(cd "${BUILD:-$root/build}" && pwd)
repeat=${1:-5}
threads=${2:-2}
cmake --build "$build" --target bench_flow >/dev/null
bin="$build/bench/bench_flow"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$root/scripts/blas_env.sh"

step_ms() { sed -n 's/.*training step (F + F^-1, backward, Adam): \([0-9]*\) ms .*/\1/p' "$1" | head -1; }
fwd_ms() { sed -n 's/.*mapping: forward [0-9]* conf\/s (\([0-9.]*\) ms,.*/\1/p' "$1" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
compare() {    # what, slower run, faster run
  echo "$1: training step x$(ratio "$(step_ms "$2")" "$(step_ms "$3")"), forward mapping x$(ratio "$(fwd_ms "$2")" "$(fwd_ms "$3")")"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
"$bin" --preset default --preset published --threads "$threads" --repeat "$repeat" | tee "$work/main.txt"
echo
"$bin" --preset default --threads "$threads" --repeat "$repeat" --no-breakdown --no-cache \
  | tee "$work/nocache.txt"
"$bin" --preset default --threads 1 --repeat "$repeat" --no-breakdown | tee "$work/one.txt"
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  env -u OPENBLAS_CORETYPE "$bin" --preset default --threads "$threads" --repeat "$repeat" \
    --no-breakdown | tee "$work/autocore.txt"
fi
echo
compare "gain from the tensor cache" "$work/nocache.txt" "$work/main.txt"
compare "$threads threads against 1" "$work/one.txt" "$work/main.txt"
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  compare "gain from OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" "$work/autocore.txt" "$work/main.txt"
fi

reference=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
if [ -e "$reference" ]; then
  mkdir "$work/refblas"
  ln -s "$reference" "$work/refblas/libblas.so.3"
  echo
  LD_LIBRARY_PATH="$work/refblas" "$bin" --preset default --threads "$threads" --repeat 1 \
    --no-breakdown | tee "$work/ref.txt"
  compare "gain from OpenBLAS over the reference BLAS" "$work/ref.txt" "$work/main.txt"
else
  echo "no reference BLAS at $reference: OpenBLAS comparison skipped"
fi

echo
echo "candidate sizes (default preset with overrides):"
for size in "1 64 128" "2 32 64" "2 64 128" "2 64 256" "4 32 128" "4 64 256" "2 128 256"; do
  set -- $size
  "$bin" --preset default --blocks "$1" --embedding "$2" --feedforward "$3" \
    --threads "$threads" --repeat "$repeat" --no-breakdown | grep -v -e '^BLAS' -e '^tensor cache'
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
