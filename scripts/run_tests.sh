#!/usr/bin/env bash
# Installs whatever is missing, builds, and runs the whole test suite (core tests once,
# LAMMPS tests on 1 and on 2 MPI ranks). This is the README's test command and all .ci/run does.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
. "$root/scripts/blas_env.sh"
build_dir=${FLOWMAP_BUILD_DIR:-$root/build}
# ctest schedules by each test's PROCESSORS, so the 2-rank tests never oversubscribe the cores.
exec ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
