#!/usr/bin/env bash
# Installs whatever is missing, builds, and runs the whole test suite against every LAMMPS
# release the package supports (4 Feb 2025, then 29 Sep 2021): the core and tools tests once,
# the LAMMPS tests on 1 and on 2 MPI ranks for each release. This is the README's test command
# and all .ci/run does.
#
#   scripts/run_tests.sh                   both releases
#   FLOWMAP_LAMMPS=2021 scripts/run_tests.sh   one release (2025 or 2021)
#   scripts/run_tests.sh -R bridge         extra arguments go to ctest
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lammps_release.sh"
releases=${FLOWMAP_LAMMPS:-$lammps_releases}
first=1
failed=()
for release in $releases; do
  lammps_release_select "$release"
  echo "run_tests: ===== LAMMPS $lammps_label ====="
  if [ $first -eq 1 ]; then
    FLOWMAP_LAMMPS=$release "$root/scripts/setup.sh"
    labels=()
  else
    # The core and tools tests do not depend on LAMMPS: built and run with the first release only.
    FLOWMAP_LAMMPS=$release \
      FLOWMAP_CMAKE_ARGS="-D FLOWMAP_BUILD_CORE_TESTS=OFF -D FLOWMAP_BUILD_BENCH=OFF" \
      "$root/scripts/setup.sh"
    labels=(-L lammps)
  fi
  . "$root/scripts/blas_env.sh"
  echo "run_tests: BLAS for the tests: ${FLOWMAP_BLAS_DIR:-none found (system default)}"
  build_dir=${FLOWMAP_BUILD_DIR:-$root/$lammps_build_name}
  # ctest schedules by each test's PROCESSORS, so the 2-rank tests never oversubscribe the cores.
  ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "${labels[@]}" "$@" ||
    failed+=("$lammps_label")
  first=0
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run_tests: FAILED against LAMMPS ${failed[*]}" >&2
  exit 1
fi
echo "run_tests: all tests passed against LAMMPS $(for r in $releases; do lammps_release_select "$r"; printf '%s; ' "$lammps_label"; done)"
