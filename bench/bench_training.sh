#!/bin/sh
# fix flowmap training throughput on system I (bench/README.md, "Training"): optimizer steps
# per second and the time split (MD, energies through the bridge, network forward/backward
# and Adam, gradient reduction) with the default network, on 1 MPI rank with 2 threads and
# on 2 ranks with 1 thread each, and on 2 ranks with LibTorch's own allocator (cache no), the
# baseline of the tensor cache, measured in the same run of this script.
# Usage: bench/bench_training.sh [steps (100)] [batch (128)]   BUILD: build folder
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/scripts/blas_env.sh"
build=$(cd "${BUILD:-$root/build}" && pwd)
steps=${1:-100}
batch=${2:-128}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores; $steps steps, batch $batch"
run() {    # ranks threads [extra fix flowmap keywords]
  OMP_NUM_THREADS=$2 mpirun -np "$1" "$build/lammps/lmp" -in "$here/in.bench_training" \
    -var plugin "$build/flowmapplugin.so" -var inputs "$root/examples/lammps_inputs" \
    -var steps "$steps" -var batch "$batch" -var opts "${3:-}" -log none \
    -screen "screen_$1_$2.txt"
  grep '^BENCH' "screen_$1_$2.txt" | head -1
}
one=$(run 1 2)
two=$(run 2 1)
plain=$(run 2 1 "cache no")
echo "$one" | sed 's/^BENCH/1 rank x 2 threads: /'
echo "$two" | sed 's/^BENCH/2 ranks x 1 thread:  /'
echo "$plain" | sed 's/^BENCH/2 ranks, cache no:  /'
awk -v a="$one" -v b="$two" -v c="$plain" 'BEGIN {
  split(a, x, " "); split(b, y, " ");
  printf "steps/s: 1 rank %.2f, 2 ranks %.2f (x%.2f)\n", x[3] / x[5], y[3] / y[5], (y[3] / y[5]) / (x[3] / x[5]);
  split(c, z, " ");
  printf "tensor cache, 2 ranks: %.2f steps/s against %.2f with cache no (x%.2f)\n", y[3] / y[5], z[3] / z[5], (y[3] / y[5]) / (z[3] / z[5]);
  printf "time split, 2 ranks (s per step): md %.4f energy %.4f network %.4f comm %.4f\n",
    y[7] / y[3], y[9] / y[3], y[11] / y[3], y[13] / y[3] }'
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
