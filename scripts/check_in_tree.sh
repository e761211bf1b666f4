#!/usr/bin/env bash
# The in-tree route's check: compiles fix flowmap and compute ress into a copy of a LAMMPS
# source tree (scripts/install_in_tree.sh), builds its lmp with LAMMPS's own CMake, and runs
# tests/routes/in.route with no plugin loaded: the styles must be LAMMPS's own. Not part of the
# test suite (a full LAMMPS build, 10 to 20 minutes on 2 cores); run it after changing the hook,
# the style files' layout or CMake.
#
#   scripts/check_in_tree.sh [2025|2021]     (default 2025; needs scripts/setup.sh --deps first)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lammps_release.sh"
lammps_release_select "${1:-2025}"
source_tree=$root/third_party/lammps-$lammps_release
[ -f "$source_tree/src/version.h" ] ||
  FLOWMAP_LAMMPS=$lammps_release "$root/scripts/setup.sh" --deps
work=$root/build-in-tree-$lammps_release
say() { printf 'check_in_tree: %s\n' "$*"; }
start=$SECONDS

rm -rf "$work/lammps"
mkdir -p "$work"
cp -a "$source_tree" "$work/lammps"
"$root/scripts/install_in_tree.sh" "$work/lammps"
launcher=()
command -v ccache >/dev/null && launcher=(-D CMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$work/lammps/cmake" -B "$work/build" -G Ninja -D CMAKE_BUILD_TYPE=Release \
  -D LAMMPS_EXCEPTIONS=on -D BUILD_MPI=on -D BUILD_OMP=on "${launcher[@]}" >"$work/configure.log" 2>&1 ||
  { tail -n 30 "$work/configure.log" >&2; say "LAMMPS configure failed ($work/configure.log)"; exit 1; }
grep -q "USER-FLOWMAP: fix flowmap.*compute ress compiled in" "$work/configure.log" ||
  { say "the hook did not run ($work/configure.log)"; exit 1; }
say "configured LAMMPS $lammps_label with the hook; building lmp"
cmake --build "$work/build" --target lmp >"$work/build.log" 2>&1 ||
  { grep -m 5 -A 10 -E "error|FAILED" "$work/build.log" >&2; say "build failed ($work/build.log)"; exit 1; }
say "built $work/build/lmp in $((SECONDS - start)) s"

. "$root/scripts/blas_env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
"$work/build/lmp" -h | grep -qw flowmap || { say "lmp -h does not list fix flowmap"; exit 1; }
out=$(env -u LAMMPS_PLUGIN_PATH "$work/build/lmp" -in "$root/tests/routes/in.route" \
  -var inputs "$root/examples/lammps_inputs" -var potentials "$root/potentials" -log none -nocite)
line=$(grep '^route: frames' <<<"$out") || { echo "$out" | tail -n 30; say "no route line"; exit 1; }
say "in-tree lmp (no plugin): $line"
say "PASSED in $((SECONDS - start)) s"
