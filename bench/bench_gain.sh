#!/bin/sh
# The performance bar (bench/README.md, "Sampling gain"): for one system of the study,
#   1. trains the flow with fix flowmap's defaults on 2 MPI ranks and keeps a snapshot after
#      each training budget (default 5, 15, 30 and 60 minutes of wall time),
#   2. maps fresh frames with each snapshot in both directions (examples/lammps_inputs/
#      in.wca2lj_map, 50000 frames per direction by default) and takes RESS of the flow and of
#      the identity on the same frames,
#   3. prints, for the last snapshot, the mapping throughput and the CPU time per effective
#      target sample via the flow, via identity reweighting and via target MD itself, all
#      from the same runs.
# Usage: bench/bench_gain.sh [system (I)] [minutes ("5 15 30 60")] [frames (50000)]
# BUILD selects the build folder (default build), NATOMS the number of particles (default 32,
# the study's; bench_scaling.sh sets it), OUT the results folder (default
# bench/out/gain_<system>, or gain_<system>_N<natoms> for another N; kept), FLOWARGS extra
# fix flowmap keywords for the training, SETS the number of independent sets of frames per
# direction for the last snapshot (default 1; the study's protocol is 10): its row then gives
# the mean RESS over the sets +- the standard error, and the ratio of the means.
# SKIP_TRAINING=1 evaluates the snapshots an earlier run left in OUT again (e.g. with more
# SETS) without training. Takes the training budget plus about 3 minutes per snapshot and set
# (6 on a slower host).
# The tables come from bench/gain_report.py, which also writes the side file of a snapshot
# shipped in potentials/ (gain_report.py sidefile OUT SYSTEM MINUTES COMMIT).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/scripts/blas_env.sh"
build=$(cd "${BUILD:-$root/build}" && pwd)
system=${1:-I}
minutes=${2:-5 15 30 60}
frames=${3:-50000}
natoms=${NATOMS:-32}
if [ "$natoms" = 32 ]; then out=${OUT:-$here/out/gain_$system}
else out=${OUT:-$here/out/gain_${system}_N$natoms}; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)    # the evaluations run in subfolders
python=${PYTHON:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
# The training's peak resident memory (the largest rank) goes to peak_memory.txt where GNU
# time is installed.
timed=
lmp() { $timed mpirun -np 2 "$build/lammps/lmp" -var plugin "$build/flowmapplugin.so" \
  -var inputs "$root/examples/lammps_inputs" -var tools "$root/tools" -var natoms "$natoms" "$@"; }

cd "$out"
echo "bench_gain: system $system, N $natoms, budgets $minutes min, $frames frames per evaluation;" \
  "load $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores; results in $out"
if [ -n "${SKIP_TRAINING:-}" ]; then
  for m in $minutes; do
    [ -f "snapshot_${m}min.flow" ] && grep -q "^BENCH snapshot $m min" train.log || {
      echo "bench_gain: SKIP_TRAINING needs $out/snapshot_${m}min.flow and its line in" \
        "train.log from an earlier run" >&2; exit 1; }
  done
else
  [ -x /usr/bin/time ] && timed="/usr/bin/time -o peak_memory.txt -f %M"
  lmp -in "$here/in.bench_gain" -var system "$system" -var minutes "$minutes" \
    -log train.log -var flowargs "${FLOWARGS:-}" -screen none
  timed=
fi
grep '^BENCH' train.log

printf '\n%-8s %7s %19s %19s %7s %19s %19s %7s\n' minutes steps "A->B id" "A->B flow" ratio \
  "B->A id" "B->A flow" ratio
last=$(echo "$minutes" | awk '{print $NF}')
for m in $minutes; do
  mkdir -p "eval_$m"
  sets=1
  [ "$m" = "$last" ] && sets=${SETS:-1}
  (cd "eval_$m" && lmp -in "$root/examples/lammps_inputs/in.wca2lj_map" -var system "$system" \
    -var flow "$out/snapshot_${m}min.flow" -var frames "$frames" -var sets "$sets" \
    -var plots no -log log.lammps -screen none)
  "$python" "$here/gain_report.py" row . "$m"
done

echo
"$python" "$here/gain_report.py" costs . "$last"
