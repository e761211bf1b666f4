#!/bin/sh
# How the gain scales with the number of particles (bench/README.md, "Scaling with N"):
# one state pair (SYSTEM, default I: WCA rho 0.735 T 2 -> LJ rho 0.735 T 1 in 2D) at each N,
# trained and evaluated by bench_gain.sh with fix flowmap's defaults, then one row per N and
# training budget:
#   -ln(RESS)/N of the identity and of the flow, the KL gain per particle (both directions),
#   J/N (KL(A->B) + KL(B->A) left, identity and flow: a plain mean where RESS saturates),
#   wall seconds per optimizer step (2 ranks, MD sampling alongside) and the training's peak
#   memory per process; and a plot of these against N (OUT/scaling.png).
# For a fixed mismatch per particle ln RESS falls linearly in N, so a flow that learns as well
# at every N keeps -ln(RESS_flow)/N flat while RESS itself falls.
# Usage: bench/bench_scaling.sh [minutes ("15 60")] [particle counts ("32 64 128")]
#                               [frames per direction (20000)]
# SYSTEM: I, II, III or liquid3d (the 3D Lennard-Jones liquid: WCA at T 1 -> LJ at T 0.722,
# density 0.8442). BUILD: the build folder (default build). OUT: the results folder (default
# bench/out/scaling, or bench/out/scaling_<system> for another system; one subfolder per N,
# kept; SKIP_TRAINING=1 re-evaluates them). Takes the largest budget plus a few minutes of
# evaluation per budget, for every N.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
minutes=${1:-15 60}
counts=${2:-32 64 128}
frames=${3:-20000}
system=${SYSTEM:-I}
if [ "$system" = I ]; then out=${OUT:-$here/out/scaling}
else out=${OUT:-$here/out/scaling_$system}; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-/usr/bin/python3}

for n in $counts; do
  NATOMS=$n OUT="$out/N$n" sh "$here/bench_gain.sh" "$system" "$minutes" "$frames" > "$out/N$n.txt"
  echo "bench_scaling: N $n done ($out/N$n.txt)"
done

echo
echo "system $system, fix flowmap defaults, 2 ranks; $frames frames per direction and evaluation"
header=--header
for n in $counts; do
  for m in $minutes; do
    "$python" "$here/gain_report.py" scale "$out/N$n" "$m" "$n" $header
    header=
  done
done
runs=
for n in $counts; do runs="$runs $out/N$n=$n"; done
# shellcheck disable=SC2086 # one argument per run
"$python" "$here/gain_report.py" scaleplot "$out/scaling.png" "$minutes" $runs
