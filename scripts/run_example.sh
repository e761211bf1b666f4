#!/usr/bin/env bash
# Installs whatever is missing, builds, and runs an example input (default: the main job,
# system I, examples/lammps_inputs/in.wca2lj) on 2 MPI ranks. Outputs land in
# examples/lammps_inputs/out/<input name>/.
#
#   scripts/run_example.sh [input] [lmp -var arguments ...]
#   e.g. scripts/run_example.sh in.wca2lj_III
#        scripts/run_example.sh in.wca2lj -var protocol published
#        FLOWMAP_LAMMPS=2021 scripts/run_example.sh       (LAMMPS 29 Sep 2021 instead of 4 Feb 2025)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lammps_release.sh"
lammps_release_select "${FLOWMAP_LAMMPS:-2025}"
"$root/scripts/setup.sh"
. "$root/scripts/blas_env.sh"
echo "run_example: BLAS: ${FLOWMAP_BLAS_DIR:-none found (system default)}"
build_dir=${FLOWMAP_BUILD_DIR:-$root/$lammps_build_name}
input=${1:-in.wca2lj}
[ $# -gt 0 ] && shift
ranks=${FLOWMAP_RANKS:-2}
examples="$root/examples/lammps_inputs"
[ -f "$examples/$input" ] || { echo "run_example: no input $examples/$input" >&2; exit 1; }
out="$examples/out/${input#in.}"
mkdir -p "$out"
cd "$out"
# Debian's interpreter, which has python3-numpy and python3-matplotlib (a python3 earlier in
# PATH, e.g. from pyenv, may not).
python=$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# One OpenMP thread per rank: the ranks already use the cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))}
exec mpirun -np "$ranks" "$build_dir/lammps/lmp" -in "$examples/$input" \
  -var plugin "$build_dir/flowmapplugin.so" -var tools "$root/tools" -var inputs "$examples" \
  -var python "$python" \
  -log log.lammps "$@"
