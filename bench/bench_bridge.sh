#!/bin/sh
# Energy-bridge throughput against LAMMPS rerun of the same frames (bench/README.md,
# "Energy bridge"). Builds bench_lammps_bridge in BUILD (default: build) and runs it on one
# core in a scratch folder. Usage: bench/bench_bridge.sh [frames] [repeats]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/scripts/blas_env.sh"
build=$(cd "${BUILD:-$root/build}" && pwd)
frames=${1:-20000}
repeats=${2:-3}

cmake --build "$build" --target bench_lammps_bridge >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores"
cd "$work"
OMP_NUM_THREADS=1 "$build/bench/bench_lammps_bridge" "$frames" "$repeats"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
