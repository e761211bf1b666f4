#!/bin/sh
# This package's flow against the reference study's own PyTorch code (issue: network speed),
# same architecture (the study's published network: 8 blocks, component split, width 128,
# 6.6 M parameters), same machine, same cores, batch and float32, in one run:
#   study_network_timing.py   the study's modules, assembled as its trainer notebook does, in
#                             one process with THREADS threads (how the study runs)
#   bench_flow                --preset published --split component, the way fix flowmap runs:
#                             one process per core with 1 thread and its share of the batch,
#                             tensor cache on (the fix's default), all processes at once
#   bench_flow --no-cache     one process with THREADS threads and the whole batch, LibTorch's
#                             own allocator: the same execution model as the study's code
# and prints the ratios (above 1: this package is faster). Figures: best of REPEAT timed calls;
# for the ranks, the slowest process's. Not timed: the ranks' gradient sum (one allreduce of
# 6.6 M floats per step, milliseconds against seconds).
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
share=$((batch / threads))
echo "this package as fix flowmap runs it: $threads processes x 1 thread, batch $share each:"
for rank in $(seq 1 "$threads"); do
  "$build/bench/bench_flow" --preset published --split component --threads 1 \
    --batch "$share" --repeat "$repeat" --no-breakdown > "$work/rank$rank.txt" &
done
wait
cat "$work/rank1.txt"
"$build/bench/bench_flow" --preset published --split component --threads "$threads" \
  --batch "$batch" --repeat "$repeat" --no-cache --no-breakdown | tee "$work/package.txt"

step_ms() { sed -n 's/.*training step (F + F^-1, backward, Adam): \([0-9.]*\) ms .*/\1/p' "$1" | head -1; }
map_ms() {    # file, forward|inverse
  sed -n "s/.*$2 [0-9]* conf\/s (\([0-9.]*\) ms,.*/\1/p" "$1" | head -1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
slowest() {    # figure (step|forward|inverse): the slowest rank's time, ms
  for f in "$work"/rank*.txt; do
    if [ "$1" = step ]; then step_ms "$f"; else map_ms "$f" "$1"; fi
  done | sort -g | tail -1
}
echo
echo "this package against the study's code (time of the study / time of this package), batch" \
  "$batch on $threads cores:"
printf '  %-13s as fix flowmap runs x%s, one process like the study x%s\n' \
  "training step" "$(ratio "$(step_ms "$work/study.txt")" "$(slowest step)")" \
  "$(ratio "$(step_ms "$work/study.txt")" "$(step_ms "$work/package.txt")")"
for direction in forward inverse; do
  printf '  %-13s as fix flowmap runs x%s, one process like the study x%s\n' \
    "mapping $direction" \
    "$(ratio "$(map_ms "$work/study.txt" "$direction")" "$(slowest "$direction")")" \
    "$(ratio "$(map_ms "$work/study.txt" "$direction")" "$(map_ms "$work/package.txt" "$direction")")"
done
