#!/usr/bin/env bash
# AddressSanitizer and UndefinedBehaviorSanitizer over the test suite: builds the package (flow
# core, parallel layer, LAMMPS-facing layer, plugin and tests) with
# -fsanitize=address,undefined into build-sanitize/ and runs ctest there.
#
#   scripts/check_sanitizers.sh                  the whole suite
#   scripts/check_sanitizers.sh -L lammps        a subset: any ctest arguments
#   scripts/check_sanitizers.sh -R 'core\.test_(mapping|weights)|bad_inputs'
#   FLOWMAP_SANITIZE_TARGETS="flowmapplugin tests/lammps_test_bad_inputs" \
#     scripts/check_sanitizers.sh -R bad_inputs       build only what the subset needs
#   FLOWMAP_JOBS=4 ...                              parallel jobs (default 2)
#
# LAMMPS itself is not instrumented: the script builds against the liblammps.so of the
# ordinary build (build/, or FLOWMAP_SANITIZE_LAMMPS=<liblammps.so>) through the
# existing-LAMMPS route, since an instrumented LAMMPS takes an hour on two cores and its own
# code is not under test here. LibTorch, OpenBLAS and Open MPI are not instrumented either.
#
# The sanitizer options and why:
#   detect_leaks=0         LeakSanitizer reports the one-time allocations LibTorch, OpenMP and
#                          Open MPI make and never free (thread pools, MPI_Init): hundreds of
#                          reports, none of them the package's. Heap misuse is still checked.
#   detect_odr_violation=0 the LAMMPS tests link the package statically (for its classes) and
#                          also load the plugin, which holds the same code: every global
#                          appears twice by design of the test programs, not of the package.
#   halt_on_error=1, -fno-sanitize-recover=undefined: the first finding fails the test.
# protect_shadow_gap=0 (needed by CUDA builds of LibTorch) was not needed with the CPU
# LibTorch; set it in ASAN_OPTIONS if a GPU build refuses to start.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-sanitize
lammps_library=${FLOWMAP_SANITIZE_LAMMPS:-$root/build/liblammps.so}
# the source tree the ordinary build was configured with
lammps_source=${FLOWMAP_SANITIZE_LAMMPS_SOURCE:-$(sed -n 's/^LAMMPS_SOURCE_DIR:PATH=//p' \
  "$root/build/CMakeCache.txt" 2>/dev/null)}
lammps_source=${lammps_source:-$root/third_party/lammps-2025}
say() { printf 'check_sanitizers: %s\n' "$*"; }

[ -f "$lammps_library" ] || {
  say "no LAMMPS library at $lammps_library: build the ordinary build first (doc/install.md)," \
    "or set FLOWMAP_SANITIZE_LAMMPS and FLOWMAP_SANITIZE_LAMMPS_SOURCE"
  exit 1
}
[ -f "$lammps_source/src/version.h" ] || {
  say "no LAMMPS source tree at $lammps_source (set FLOWMAP_SANITIZE_LAMMPS_SOURCE)"
  exit 1
}

mkdir -p "$build"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
launcher=()
command -v ccache >/dev/null && launcher=(-D CMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja -D CMAKE_BUILD_TYPE=RelWithDebInfo \
  -D CMAKE_CXX_FLAGS="$flags" -D CMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -D CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -D CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -D FLOWMAP_BUILD_LAMMPS=OFF -D LAMMPS_SOURCE_DIR="$lammps_source" \
  -D LAMMPS_LIBRARY="$lammps_library" -D FLOWMAP_BUILD_BENCH=OFF "${launcher[@]}" \
  >"$build/configure.log" 2>&1 ||
  { tail -n 30 "$build/configure.log" >&2; say "configure failed ($build/configure.log)"; exit 1; }
say "building in $build"
# FLOWMAP_SANITIZE_TARGETS: only these ninja targets (with a matching ctest subset), for a
# quicker check than the whole suite.
# shellcheck disable=SC2086
ninja -C "$build" -j "${FLOWMAP_JOBS:-2}" ${FLOWMAP_SANITIZE_TARGETS:-} >"$build/build.log" 2>&1 ||
  { grep -m 5 -A 10 -E "error|FAILED" "$build/build.log" >&2; say "build failed"; exit 1; }

. "$root/scripts/blas_env.sh"
export ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
say "ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
ctest --test-dir "$build" -j "${FLOWMAP_JOBS:-2}" --output-on-failure --timeout 3000 "$@"
say "PASSED"
