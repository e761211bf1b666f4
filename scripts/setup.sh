#!/usr/bin/env bash
# Installs everything USER-FLOWMAP needs on a bare Debian bookworm and builds it.
# Idempotent and quiet when everything is already in place; safe to run before every job.
#
#   scripts/setup.sh            packages + LAMMPS source + build (LAMMPS, lmp, plugin, tests)
#   scripts/setup.sh --deps     packages + LAMMPS source only
#
# Environment: FLOWMAP_BUILD_DIR (default build/), FLOWMAP_LAMMPS_SRC (default third_party/lammps).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${FLOWMAP_BUILD_DIR:-$root/build}
lammps_src=${FLOWMAP_LAMMPS_SRC:-$root/third_party/lammps}

packages=(build-essential cmake ninja-build ccache pkg-config dpkg-dev
  libtorch-dev libopenblas0-openmp libopenmpi-dev openmpi-bin libgtest-dev
  python3 python3-numpy python3-matplotlib)

say() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

enable_deb_src() {
  # The stock deb822 file lists only binary archives; apt-get source needs the source ones too.
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ] && ! grep -q '^Types:.*deb-src' "$f"; then
    as_root sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
    return 0
  fi
  if [ ! -f "$f" ] && ! grep -rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "no deb-src entries found and no $f to extend; add a deb-src line for bookworm" >&2
    exit 1
  fi
  return 1
}

need_source=0
[ -f "$lammps_src/src/version.h" ] || need_source=1

if [ ${#missing[@]} -gt 0 ] || [ $need_source -eq 1 ]; then
  updated=0
  if [ $need_source -eq 1 ] && enable_deb_src; then updated=1; fi
  if [ ${#missing[@]} -gt 0 ] || [ $updated -eq 1 ]; then
    say "updating the package lists"
    as_root apt-get update -qq
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

# LibTorch links libblas.so.3, which the alternatives system points at the reference BLAS
# (10x slower), or at OpenBLAS with its own pthreads, which fight LibTorch's OpenMP threads
# for the cores (2 threads were slower than 1, bench/README.md). The OpenMP build shares
# LibTorch's thread pool.
for lib in blas lapack; do
  name=lib$lib.so.3-x86_64-linux-gnu
  want=/usr/lib/x86_64-linux-gnu/openblas-openmp/lib$lib.so.3
  if [ -e "$want" ] && [ "$(readlink -f /etc/alternatives/$name 2>/dev/null)" != "$(readlink -f "$want")" ]; then
    say "selecting OpenBLAS (OpenMP) for lib$lib.so.3"
    as_root update-alternatives --quiet --set "$name" "$want"
  fi
done

if [ $need_source -eq 1 ]; then
  if ! apt-get source --print-uris lammps >/dev/null 2>&1; then enable_deb_src || true; as_root apt-get update -qq; fi
  say "fetching the LAMMPS source package (about 80 MB)"
  work=$(mktemp -d)
  # apt warns when its sandbox user cannot write the folder: harmless, so it is silenced.
  (cd "$work" && apt-get source -qq lammps >/dev/null 2>&1) || { say "apt-get source lammps failed" >&2; exit 1; }
  tree=$(find "$work" -maxdepth 1 -type d -name 'lammps-*' | head -n 1)
  [ -n "$tree" ] && [ -f "$tree/src/version.h" ] || { say "unpacking the LAMMPS source failed" >&2; exit 1; }
  mkdir -p "$(dirname "$lammps_src")"
  rm -rf "$lammps_src"
  mv "$tree" "$lammps_src"
  rm -rf "$work"
  say "LAMMPS source: $lammps_src ($(sed -n 's/.*LAMMPS_VERSION "\(.*\)"/\1/p' "$lammps_src/src/version.h"))"
fi

[ "${1:-}" = "--deps" ] && exit 0

if [ ! -f "$build_dir/build.ninja" ]; then
  say "configuring in $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja -D CMAKE_BUILD_TYPE=Release \
    -D LAMMPS_SOURCE_DIR="$lammps_src" >"$build_dir.configure.log" 2>&1 \
    || { cat "$build_dir.configure.log" >&2; exit 1; }
fi
# Ninja prints one line per step; keep the job log readable and show everything only on failure.
if ! cmake --build "$build_dir" >"$build_dir.build.log" 2>&1; then
  tail -n 60 "$build_dir.build.log" >&2
  say "build failed; full log in $build_dir.build.log" >&2
  exit 1
fi
