#!/bin/sh
# Reweighting the glass-former through inherent structures (bench/README.md, "The basin map"):
# frames of the 2D ternary mixture of examples/lammps_inputs/in.ternary2d sampled at TSOURCE by
# MD plus swap moves, each mapped to TTARGET by scaling its displacements from its inherent
# structure by s = sqrt(TTARGET/TSOURCE), and weighed exactly (bench/basin_report.py):
#   1. chain_<c>: CHAINS independent runs of swap MD at TSOURCE (bench/in.bench_ternary, one per
#      core at once), FRAMES frames each, EVERY steps apart, after EQUIL steps;
#   2. each frame's inherent structure and its contracted image (factor s) and expanded image
#      (1/s), with the basin checks (bench/in.basin_map);
#   3. with TARGET_DUMP (frames sampled at TTARGET, e.g. the frames_target.dump of a swap run of
#      bench/bench_exchange.sh ternary), their expanded images, for the divergences;
#   4. the report: RESS, <E_pot> and c_V per atom with errors, next to temperature reweighting of
#      the same frames, and against REFERENCE ("E dE C dC", swap MC at TTARGET) when given.
# Usage: bench/bench_basin.sh
# Environment: BUILD (folder with lammps/lmp, default build), OUT (default bench/out/basin; a
# finished step is not repeated), SOURCE_DATA (start configuration: a .data file of the mixture,
# e.g. in.ternary2d's ternary2d_source.data; required), TSOURCE (0.3), TTARGET (0.2), CHAINS (2),
# FRAMES (8000), EVERY (1000), EQUIL (20000), SEED (8: chain c uses SEED + c), TARGET_DUMP,
# REFERENCE. The defaults take about 13 minutes on 2 cores, and TARGET_DUMP of 5000 frames
# about 3 more on one.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$(cd "${BUILD:-$root/build}" && pwd)
out=${OUT:-$here/out/basin}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-/usr/bin/python3}
inputs=$root/examples/lammps_inputs
t_source=${TSOURCE:-0.3}
t_target=${TTARGET:-0.2}
chains=${CHAINS:-2}
frames=${FRAMES:-8000}
every=${EVERY:-1000}
equil=${EQUIL:-20000}
seed=${SEED:-8}
[ -n "${SOURCE_DATA:-}" ] && [ -f "$SOURCE_DATA" ] || {
  echo "bench_basin: SOURCE_DATA must name a .data file of the mixture (in.ternary2d writes" \
    "ternary2d_source.data); got '${SOURCE_DATA:-}'" >&2; exit 2; }
source_data=$(cd "$(dirname "$SOURCE_DATA")" && pwd)/$(basename "$SOURCE_DATA")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
lmp_binary=$build/lammps/lmp
[ -x "$lmp_binary" ] || lmp_binary=$build/lmp
cores=$(getconf _NPROCESSORS_ONLN)
# One process per chain, pinned to a core of its own while there are cores to go round.
lmp_on() {
  core=$1; shift
  if [ "$chains" -le "$cores" ]; then
    mpirun -np 1 --bind-to core --cpu-set "$core" "$lmp_binary" -var inputs "$inputs" -screen none "$@"
  else
    mpirun -np 1 --bind-to none "$lmp_binary" -var inputs "$inputs" -screen none "$@"
  fi
}
factor=$("$python" -c "import math; print(repr(math.sqrt($t_target / $t_source)))")
inverse=$("$python" -c "import math; print(repr(math.sqrt($t_source / $t_target)))")

echo "bench_basin: $chains chains of $frames frames at T = $t_source, mapped to $t_target" \
  "(s = $factor); load $(cut -d' ' -f1-3 /proc/loadavg) on $cores cores; results in $out"
c=0
while [ "$c" -lt "$chains" ]; do
  dir=$out/chain_$c
  (
    mkdir -p "$dir" && cd "$dir"
    if [ ! -f frames.done ]; then
      lmp_on $((c % cores)) -in "$here/in.bench_ternary" -var T "$t_source" -var swap yes \
        -var equil "$equil" -var prod $((frames * every)) -var sample "$every" \
        -var dump "$every" -var seed $((seed + c)) -var source_data "$source_data" -log log.lammps
      touch frames.done
    fi
    for pass in contracted:$factor expanded:$inverse; do
      name=${pass%%:*}
      [ -f "$name.done" ] && continue
      # no log: LAMMPS would write some 150 lines per frame; the pass's seconds are kept instead
      started=$(date +%s)
      lmp_on $((c % cores)) -in "$here/in.basin_map" -var dump frames.dump \
        -var first $((equil + every)) -var every "$every" -var frames "$frames" \
        -var factor "${pass#*:}" -var out "$name.txt" -var start "$source_data" -log none
      echo $(($(date +%s) - started)) > "$name.seconds"
      touch "$name.done"
    done
  ) &
  c=$((c + 1))
done
wait
for c in $(seq 0 $((chains - 1))); do
  for name in frames contracted expanded; do
    [ -f "$out/chain_$c/$name.done" ] || { echo "bench_basin: chain $c's $name step failed" \
      "(run it again with the same OUT: finished steps are kept)" >&2; exit 1; }
  done
done

target_args=
if [ -n "${TARGET_DUMP:-}" ]; then
  dir=$out/target
  mkdir -p "$dir"
  if [ ! -f "$dir/expanded.done" ]; then
    # the dump's own timesteps: first, spacing and count
    set -- $(awk '/ITEM: TIMESTEP/ {getline; print}' "$TARGET_DUMP" | head -2) \
      "$(grep -c 'ITEM: TIMESTEP' "$TARGET_DUMP")"
    (cd "$dir" && lmp_on 0 -in "$here/in.basin_map" -var dump "$TARGET_DUMP" -var first "$1" \
      -var every $(($2 - $1)) -var frames "$3" -var factor "$inverse" -var out expanded.txt \
      -var start "$source_data" -log none && touch expanded.done)
  fi
  target_args="--target-frames $dir/expanded.txt"
fi

reference_args=
[ -n "${REFERENCE:-}" ] && reference_args="--reference $REFERENCE"
# The cost: every chain's MD and its two passes, each one process on a core of its own, so
# wall time is CPU time (a loaded machine overstates it).
md=$(awk '/^Total wall time:/ { split($4, t, ":"); s += t[1] * 3600 + t[2] * 60 + t[3] }
  END { print s }' "$out"/chain_*/log.lammps)
cpu=$(cat "$out"/chain_*/*.seconds | awk -v s="$md" '{ s += $1 } END { print s }')
# shellcheck disable=SC2086
"$python" "$here/basin_report.py" --atoms 43 --source "$t_source" --target "$t_target" \
  --contracted "$out"/chain_*/contracted.txt --expanded "$out"/chain_*/expanded.txt \
  --cpu-seconds "$cpu" --md-seconds "$md" $target_args $reference_args | tee "$out/report.txt"
