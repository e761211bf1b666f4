#!/usr/bin/env bash
# The fresh-machine check: what a new user on a bare Debian bookworm gets from the README.
#
# Makes a bare bookworm root with debootstrap (--variant=minbase: apt, dpkg and a shell, a
# one-line /etc/apt/sources.list, no compiler), clones the current commit into it (committed work
# only, as a user's clone would be) and runs the README's two commands as written there, one
# after the other, as root inside the root. Prints each command's exit status and time; exits 0
# only when both pass. Not part of the test suite (about an hour on 2 cores); run it before
# resolving any change to setup, CMake or dependencies.
#
#   sudo scripts/check_fresh_machine.sh [--keep] [--root DIR] [--sources oneline|deb822|both]
#
#   --keep     leave the root (and its logs) in place afterwards; default: remove it
#   --root     where to make the root (default: a new folder under /var/tmp)
#   --sources  the apt sources layout of the new machine (default: oneline, debootstrap's own)
# Needs: root, debootstrap (installed with apt-get if missing), git, network access to the
# Debian archive the host's apt uses.
set -euo pipefail
# The whole script is one block, read before it runs: the check takes an hour, and bash would
# otherwise read an edited script from the middle.
{
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=0
target=""
sources=oneline
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --root) target=$2; shift ;;
    --sources) sources=$2; shift ;;
    *) echo "check_fresh_machine: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$sources" in oneline|deb822|both) ;; *)
  echo "check_fresh_machine: --sources takes oneline, deb822 or both" >&2; exit 2 ;; esac
say() { printf 'fresh-machine: %s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { say "run as root (debootstrap and chroot need it)" >&2; exit 2; }

# The README's two commands, taken from the README itself so the check cannot drift from it:
# the indented lines of its "Two commands" section that start with scripts/run_example.sh and
# scripts/run_tests.sh, without their comments.
readme_command() {
  awk -v script="scripts/$1.sh" '/^## / { inside = ($0 == "## Two commands") }
    inside && index($0, "    " script) == 1 && found == "" {
      line = substr($0, 5); sub(/ *#.*$/, "", line); sub(/ +$/, "", line); found = line }
    END { print found }' "$repo/README.md"
}
example_command=$(readme_command run_example)
tests_command=$(readme_command run_tests)
[ -n "$example_command" ] && [ -n "$tests_command" ] ||
  { say "cannot find the two commands in README.md" >&2; exit 2; }

commit=$(git -C "$repo" rev-parse HEAD)
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] ||
  say "note: uncommitted changes are not part of the check (it clones $commit)"

archive=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' |
  awk '$2 == "bookworm" && u == "" { u = $1 } END { print u }')
[ -n "$archive" ] || { say "the host's apt knows no bookworm archive" >&2; exit 2; }
command -v debootstrap >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null

[ -n "$target" ] || target=$(mktemp -d /var/tmp/flowmap-fresh.XXXXXX)
mkdir -p "$target"
log=$target.log
mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  if [ $keep -eq 0 ]; then rm -rf --one-file-system "$target"; fi
}
trap cleanup EXIT

say "commit $commit; root $target; apt sources: $sources"
say "commands: '$example_command' then '$tests_command'"
start=$SECONDS
debootstrap --variant=minbase bookworm "$target" "$archive" >"$log" 2>&1 ||
  { tail -n 20 "$log" >&2; say "debootstrap failed; log $log" >&2; exit 1; }
say "bare root made in $((SECONDS - start)) s ($(du -sh --one-file-system "$target" | cut -f1))"

case "$sources" in
  deb822|both)
    cat >"$target/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $archive
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    [ "$sources" = deb822 ] && rm -f "$target/etc/apt/sources.list" ;;
esac
cp /etc/resolv.conf "$target/etc/resolv.conf" 2>/dev/null || true
for m in proc sys dev dev/pts dev/shm; do
  mkdir -p "$target/$m"
  mount --bind "/$m" "$target/$m"
  mounted+=("$target/$m")
done

git clone -q --no-hardlinks "$repo" "$target/root/flowmap"
git -C "$target/root/flowmap" checkout -q "$commit"

run_in_root() {
  chroot "$target" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/flowmap && $1"
}

status=0
results=()
for command in "$example_command" "$tests_command"; do
  name=$(basename "${command%% *}" .sh)
  say "running '$command' (output: $target.$name.log)"
  t0=$SECONDS
  set +e
  run_in_root "$command" >"$target.$name.log" 2>&1
  rc=$?
  set -e
  minutes=$(awk -v s=$((SECONDS - t0)) 'BEGIN { printf "%d:%02d", s / 60, s % 60 }')
  results+=("$(printf '%-32s exit %d  %s' "$command" "$rc" "$minutes")")
  say "'$command': exit $rc after $minutes"
  if [ $rc -ne 0 ]; then
    status=1
    tail -n 40 "$target.$name.log" | sed 's/^/    /'
  fi
done

echo
say "summary for commit $commit (bare debootstrap bookworm root, apt sources: $sources)"
for r in "${results[@]}"; do say "  $r"; done
for name in run_example run_tests; do
  grep -E "^(setup: \[|run_tests: |.*ratio|100% tests|[0-9]+% tests)" "$target.$name.log" |
    tail -n 12 | sed "s/^/fresh-machine:   [$name] /" || true
done
[ $status -eq 0 ] && say "PASSED" || say "FAILED"
[ $keep -eq 1 ] && say "root kept: $target (logs $target.*.log)"
exit $status
}
