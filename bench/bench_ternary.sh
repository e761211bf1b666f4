#!/bin/sh
# The glass-former measurement (bench/README.md, "Glass-former"): the 2D ternary Kob-Andersen-
# type mixture of examples/lammps_inputs/in.ternary2d (N = 43, L = 6.0) at each target
# temperature, by the references that no flow produced and by the flow:
#   1. source: stage 1 of the example (in.ternary2d, SOURCE_FRAMES frames at Tsource = 0.359)
#      for the starting configuration, unless OUT/source/ternary2d_source.data exists;
#   2. md_<T>: plain MD (Nose-Hoover) at T; swap_<T>: MD plus swap moves between every pair of
#      species (fix atom/swap, as stage 1); both from the source configuration, EQUIL steps of
#      equilibration at T, then PROD steps with E_pot every SAMPLE steps (bench/in.bench_ternary);
#   3. flow_<T>: stage 2 of the example (in.ternary2d_map): a flow trained for at most
#      TRAIN_TIME of wall time (or TRAIN_STEPS optimizer steps) on streamed source frames, then
#      MAP_FRAMES fresh source frames mapped to T and weighed, next to temperature reweighting
#      of the same frames;
#   4. the table of bench/ternary_report.py: <E_pot> and c_V per atom with block-bootstrap
#      errors, the decorrelation time of E_pot, RESS, and CPU seconds per effective sample.
# Usage: bench/bench_ternary.sh [temperatures ("0.3 0.25 0.2")]
# Environment (defaults: a smoke run of about 5 minutes per temperature on one core):
#   BUILD folder with lammps/lmp and flowmapplugin.so (default build), OUT results folder
#   (default bench/out/ternary, kept: finished runs are not repeated, delete a run's folder to
#   redo it), NP MPI processes per run (default 1: 43 atoms gain nothing from a second rank
#   in MD), RUNS which runs ("md swap flow"), SOURCE_FRAMES (default 200), EQUIL (100000),
#   PROD (1000000), SAMPLE (100), TRAIN_TIME (2:00), TRAIN_STEPS (5000), MAP_FRAMES (500),
#   EVERY (2000, MD steps between source frames), SEED (7: velocities and swaps of the
#   references; another seed gives an independent reference run).
# The long settings of the measurement (bench/README.md): SOURCE_FRAMES 20000, EQUIL 1000000,
# PROD 100000000 (5e5 time units, about an hour of MD per run), TRAIN_TIME 2:00:00 with
# TRAIN_STEPS 100000, MAP_FRAMES 20000.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/scripts/blas_env.sh"
build=$(cd "${BUILD:-$root/build}" && pwd)
temperatures=${1:-0.3 0.25 0.2}
out=${OUT:-$here/out/ternary}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-/usr/bin/python3}
inputs=$root/examples/lammps_inputs
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
# LAMMPS's CMake puts lmp in lammps/ (29 Sep 2021) or at the top of the build (4 Feb 2025)
lmp_binary=$build/lammps/lmp
[ -x "$lmp_binary" ] || lmp_binary=$build/lmp
lmp() { mpirun -np "${NP:-1}" "$lmp_binary" -var plugin "$build/flowmapplugin.so" \
  -var inputs "$inputs" -screen none "$@"; }
# The facts the report needs about a run, next to its outputs.
info() { printf 'T %s\natoms 43\ndt 0.005\n%s\n' "$1" "$2" > info; }

echo "bench_ternary: T = $temperatures, runs ${RUNS:-md swap flow}; load" \
  "$(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores; results in $out"
mkdir -p "$out/source"
if [ ! -f "$out/source/ternary2d_source.data" ]; then
  echo "bench_ternary: source, ${SOURCE_FRAMES:-200} frames  ($(date -u +%H:%M:%S))"
  (cd "$out/source" && lmp -in "$inputs/in.ternary2d" -var source_frames "${SOURCE_FRAMES:-200}" \
    -var source_every "${EVERY:-2000}" -log log.lammps)
fi
for T in $temperatures; do
  for run in ${RUNS:-md swap flow}; do
    dir=$out/${run}_$T
    if [ -f "$dir/info" ]; then
      echo "bench_ternary: $run at T = $T already in $dir"
      continue
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "bench_ternary: $run at T = $T  ($(date -u +%H:%M:%S))"
    cd "$dir"
    case $run in
      md|swap)
        swap=no
        [ "$run" = swap ] && swap=yes
        lmp -in "$here/in.bench_ternary" -var T "$T" -var swap "$swap" \
          -var equil "${EQUIL:-100000}" -var prod "${PROD:-1000000}" \
          -var sample "${SAMPLE:-100}" -var seed "${SEED:-7}" \
          -var source_data "$out/source/ternary2d_source.data" \
          -log log.lammps
        info "$T" "kind $run";;
      flow)
        lmp -in "$inputs/in.ternary2d_map" -var Ttarget "$T" \
          -var source_data "$out/source/ternary2d_source.data" -var every "${EVERY:-2000}" \
          -var train_time "${TRAIN_TIME:-2:00}" -var train_steps "${TRAIN_STEPS:-5000}" \
          -var map_frames "${MAP_FRAMES:-500}" -log log.lammps
        grep '^in.ternary2d_map:' log.lammps
        info "$T" "kind flow";;
      *)
        echo "bench_ternary: unknown run '$run' in RUNS (md, swap, flow)" >&2
        exit 1;;
    esac
  done
done
echo
"$python" "$here/ternary_report.py" table "$out"
