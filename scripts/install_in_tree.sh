#!/usr/bin/env bash
# Prepares a LAMMPS source tree to compile USER-FLOWMAP's styles into LAMMPS itself (the in-tree
# route, no plugin): copies src/USER-FLOWMAP to <lammps>/src/USER-FLOWMAP and appends two lines
# to <lammps>/cmake/CMakeLists.txt that include its hook (flowmap_builtin.cmake); the flow core is
# compiled from this repository, which must stay where it is. Run again after updating this
# repository. Then configure and build LAMMPS as usual, with exceptions and MPI:
#
#   scripts/install_in_tree.sh /path/to/lammps
#   cmake -S /path/to/lammps/cmake -B build-lammps -D LAMMPS_EXCEPTIONS=on -D BUILD_MPI=on
#   cmake --build build-lammps
#
# Needs the Debian packages of scripts/setup.sh (LibTorch, OpenMPI, ...): scripts/setup.sh --deps.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lammps=${1:?usage: scripts/install_in_tree.sh /path/to/lammps (the folder holding src/ and cmake/)}
lammps=$(cd "$lammps" && pwd)
[ -f "$lammps/src/version.h" ] && [ -f "$lammps/cmake/CMakeLists.txt" ] ||
  { echo "install_in_tree: $lammps is not a LAMMPS source tree with a cmake/ folder" >&2; exit 1; }
rm -rf "$lammps/src/USER-FLOWMAP"
cp -r "$repo/src/USER-FLOWMAP" "$lammps/src/USER-FLOWMAP"
marker="# USER-FLOWMAP in-tree hook"
lists=$lammps/cmake/CMakeLists.txt
if ! grep -qF "$marker" "$lists"; then
  printf '\n%s (scripts/install_in_tree.sh)\nset(FLOWMAP_SOURCE_DIR "%s")\ninclude("${LAMMPS_SOURCE_DIR}/USER-FLOWMAP/flowmap_builtin.cmake")\n' \
    "$marker" "$repo" >>"$lists"
else
  # Point the hook at this repository, wherever it is now.
  sed -i "s|^set(FLOWMAP_SOURCE_DIR \".*\")$|set(FLOWMAP_SOURCE_DIR \"$repo\")|" "$lists"
fi
echo "install_in_tree: USER-FLOWMAP copied to $lammps/src/USER-FLOWMAP; hook in $lists"
