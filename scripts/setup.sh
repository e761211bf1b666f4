#!/usr/bin/env bash
# Installs what USER-FLOWMAP needs on Debian bookworm and builds it. Idempotent and quiet when
# everything is in place, so the project's scripts run it before every job.
#
#   scripts/setup.sh            packages, LAMMPS source, build (LAMMPS, lmp, plugin, tests)
#   scripts/setup.sh --deps     packages and LAMMPS source only
#
# Environment:
#   FLOWMAP_LAMMPS     the LAMMPS release: 2025 (4 Feb 2025, the default) or 2021 (29 Sep 2021)
#   FLOWMAP_BUILD_DIR  the build folder (default: build/ for 2025, build-2021/ for 2021)
#   FLOWMAP_CMAKE_ARGS extra arguments for the first configure (e.g. -D FLOWMAP_BUILD_BENCH=OFF)
#   FLOWMAP_CACHE      where downloaded LAMMPS sources are kept across clones
#                      (default: ${XDG_CACHE_HOME:-~/.cache}/flowmap)
#
# What it changes on the machine: it installs Debian packages with apt-get (as root, or through
# sudo), and nothing else. The LAMMPS sources come from Debian's source packages through a
# private apt configuration under third_party/apt/ (the system's apt sources are only read),
# and the BLAS is chosen at run time by scripts/blas_env.sh, not by the alternatives system.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/lammps_release.sh"
lammps_release_select "${FLOWMAP_LAMMPS:-2025}" || exit 1
build_dir=${FLOWMAP_BUILD_DIR:-$root/$lammps_build_name}
lammps_src=$root/third_party/lammps-$lammps_release
cache=${FLOWMAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flowmap}

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else fail "need root or sudo to run: $*"; fi
}

# Stages, counted so a long first run says where it is.
stage_total=4
[ "${1:-}" = "--deps" ] && stage_total=2
stage=0
stage() { stage=$((stage + 1)); say "[$stage/$stage_total] $*"; }

# ---------------------------------------------------------------- 1. Debian packages
packages=(build-essential cmake ninja-build ccache pkg-config dpkg-dev xz-utils
  libtorch-dev libopenblas0-openmp libopenmpi-dev openmpi-bin openssh-client
  libgtest-dev libgmock-dev python3 python3-numpy python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  stage "installing ${#missing[@]} Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
else
  stage "Debian packages: all ${#packages[@]} installed"
fi

# ---------------------------------------------------------------- 2. LAMMPS source
# The system's Debian archive, read from apt's own view of its sources (one-line sources.list,
# deb822 .sources, or both), so no mirror is written anywhere and no system file is edited.
debian_archive() {
  local codename uri
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  # (Each reader consumes all of its input: an early exit would fail the pipe under pipefail.)
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk -v c="$codename" '$2 == c && u == "" { u = $1 } END { print u }')
  if [ -z "$uri" ]; then
    # No downloaded lists (cleaned images): read the source entries themselves.
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/\[[^]]*\]//' | awk -v c="$codename" '$1 == "deb" && $3 == c && u == "" { u = $2 }
        END { print u }')
  fi
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v c="$codename" '
      /^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c) s = 1 }
      /^$/ { if (s && u != "" && found == "") found = u; u = ""; s = 0 }
      END { if (s && u != "" && found == "") found = u; print found }')
  fi
  [ -n "$uri" ] || return 1
  echo "${uri%/}"
}

fetch_lammps_source() {
  local apt_dir=$root/third_party/apt archive
  archive=$(debian_archive) || fail "cannot find the Debian archive among apt's sources " \
    "(/etc/apt/sources.list, /etc/apt/sources.list.d/); add the $(. /etc/os-release && echo "$VERSION_CODENAME") suite"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$cache"
  echo "deb-src $archive $lammps_suite main" >"$apt_dir/sources.list"
  local apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o APT::Get::List-Cleanup=0)
  apt-get "${apt_opts[@]}" -qq update >"$apt_dir/update.log" 2>&1 ||
    { cat "$apt_dir/update.log" >&2; fail "apt-get update of the private source list failed"; }
  # apt checks every file against the hashes of the signed Sources index and skips files already
  # in the cache. Some versions lack their .dsc in the archive (404): the tarballs still come, so
  # success is judged by the tarball, not by apt's exit status.
  (cd "$cache" && apt-get "${apt_opts[@]}" source --download-only -qq \
    "lammps=$lammps_debian_version" >"$apt_dir/source.log" 2>&1) || true
  local tarball=$cache/$lammps_orig_tarball
  [ -s "$tarball" ] || { cat "$apt_dir/source.log" >&2; fail "could not fetch $lammps_orig_tarball"; }
  local work tree
  work=$(mktemp -d "$root/third_party/unpack.XXXXXX")
  say "unpacking $lammps_orig_tarball"
  tar xJf "$tarball" -C "$work"
  tree=$(find "$work" -mindepth 2 -maxdepth 2 -name src -type d -printf '%h\n' -quit)
  [ -n "$tree" ] && [ -f "$tree/src/version.h" ] || fail "$lammps_orig_tarball holds no LAMMPS tree"
  rm -rf "$lammps_src"
  mv "$tree" "$lammps_src"
  rm -rf "$work"
}

if [ -f "$lammps_src/src/version.h" ]; then
  stage "LAMMPS source: $lammps_src"
else
  stage "fetching the LAMMPS $lammps_label source package ($lammps_size, Debian $lammps_suite)"
  mkdir -p "$root/third_party"
  fetch_lammps_source
fi
say "LAMMPS $(sed -n 's/.*LAMMPS_VERSION "\(.*\)"/\1/p' "$lammps_src/src/version.h") in $lammps_src"

[ "${1:-}" = "--deps" ] && exit 0

# ---------------------------------------------------------------- 3. configure
# ccache keys on paths relative to the clone, so a fresh clone in another folder hits the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
read -ra extra_cmake_args <<<"${FLOWMAP_CMAKE_ARGS:-}"
mkdir -p "$build_dir"
if [ ! -f "$build_dir/build.ninja" ]; then
  stage "configuring $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja -D CMAKE_BUILD_TYPE=Release \
    -D LAMMPS_SOURCE_DIR="$lammps_src" "${extra_cmake_args[@]}" >"$build_dir/configure.log" 2>&1 ||
    { cat "$build_dir/configure.log" >&2; fail "configure failed; log in $build_dir/configure.log"; }
else
  stage "configured: $build_dir"
fi

# ---------------------------------------------------------------- 4. build
# Ninja's own line per step goes to the log; the terminal gets a count every tenth of the way.
stage "building LAMMPS $lammps_label, the plugin and the tests in $build_dir"
start=$SECONDS
set +e
NINJA_STATUS='[%f/%t] ' cmake --build "$build_dir" 2>&1 | tee "$build_dir/build.log" | awk -v t0="$start" '
  match($0, /^\[[0-9]+\/[0-9]+\]/) {
    split(substr($0, 2, RLENGTH - 2), n, "/")
    if (n[2] > 20) { p = int(10 * n[1] / n[2]); if (p > last) { last = p
      printf "setup:       %3d%% (%d of %d steps)\n", 10 * p, n[1], n[2]; fflush() } } }'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  grep -B2 -A20 -m 3 -E 'error|FAILED' "$build_dir/build.log" | head -n 80 >&2 || true
  fail "build failed; full log in $build_dir/build.log"
fi
say "built in $((SECONDS - start)) s: $build_dir/lammps/lmp, $build_dir/flowmapplugin.so"
