#!/bin/sh
# This package's flow against the reference study's own PyTorch code (issue: network speed),
# same architecture (the study's published network: 8 blocks, component split, width 128,
# 6.6 M parameters), same machine, same threads, batch and float32, in one run:
#   study_network_timing.py   the study's modules, assembled as its trainer notebook does
#   bench_flow                --preset published --split component --no-cache
# and prints the ratios (above 1: this package is faster). Figures: best of REPEAT timed calls.
#
#   STUDY=/path/to/paper_boltzmann2boltzmann EINOPS=/path/to/einops-parent \
#     bench/bench_vs_study.sh [repeat (3)] [threads (2)] [batch (512)]
#
# STUDY is a checkout of CompPhysVienna/paper_boltzmann2boltzmann, EINOPS a folder holding the
# einops package (the study used 0.7.0; both are public repositories). Needs Debian's
# python3-torch. Without any of these it says what is missing and exits 0: the comparison is
# optional, the rest of bench/ does not need it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$(cd "${BUILD:-$root/build}" && pwd)
repeat=${1:-3}
threads=${2:-2}
batch=${3:-512}
python=/usr/bin/python3
skip() { echo "bench_vs_study: skipped: $*"; exit 0; }
[ -n "${STUDY:-}" ] && [ -f "$STUDY/src/normalizing_flow/flow_assembler.py" ] ||
  skip "set STUDY to a checkout of CompPhysVienna/paper_boltzmann2boltzmann"
[ -n "${EINOPS:-}" ] && [ -f "$EINOPS/einops/__init__.py" ] ||
  skip "set EINOPS to a folder holding the einops package (arogozhnikov/einops, v0.7.0)"
"$python" -c "import torch" 2>/dev/null ||
  skip "$python cannot import torch (Debian: apt-get install python3-torch)"

cmake --build "$build" --target bench_flow >/dev/null
. "$root/scripts/blas_env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores;" \
  "$threads threads, batch $batch, best of $repeat"
"$python" "$here/study_network_timing.py" --study "$STUDY" --einops "$EINOPS" --batch "$batch" \
  --threads "$threads" --repeat "$repeat" | tee "$work/study.txt"
"$build/bench/bench_flow" --preset published --split component --threads "$threads" \
  --batch "$batch" --repeat "$repeat" --no-cache --no-breakdown | tee "$work/package.txt"

step_ms() { sed -n 's/.*training step (F + F^-1, backward, Adam): \([0-9.]*\) ms .*/\1/p' "$1" | head -1; }
map_ms() {    # file, forward|inverse
  sed -n "s/.*$2 [0-9]* conf\/s (\([0-9.]*\) ms,.*/\1/p" "$1" | head -1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "this package against the study's code (time of the study / time of this package):"
echo "  training step x$(ratio "$(step_ms "$work/study.txt")" "$(step_ms "$work/package.txt")")"
echo "  mapping F     x$(ratio "$(map_ms "$work/study.txt" forward)" "$(map_ms "$work/package.txt" forward)")"
echo "  mapping F^-1  x$(ratio "$(map_ms "$work/study.txt" inverse)" "$(map_ms "$work/package.txt" inverse)")"
