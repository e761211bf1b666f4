#!/bin/sh
# The error of <U_B> over independent repeats (bench/README.md, "Flow-mapped replica exchange",
# "Over many seeds"): runs bench_exchange.sh once per seed, each in its own folder, and prints
# exchange_report.py seeds over them: the scatter of each run's <U_B> between seeds, which is
# its true error of the mean, against the error the run quotes for itself, and the gain over MD
# alone per CPU second from that scatter. A slow component of U_B that one run's
# autocorrelation window cannot see (MD of system I quotes errors 1.3x too small over 24
# seeds) shows only this way.
# Usage: bench/bench_exchange_seeds.sh [system (I)] [steps (2000000)] [seeds (24)]
# BUILD, RUNS (default "md identity flow"), EVERY (default 1000) and the other settings are
# bench_exchange.sh's; OUT is the folder of the seed folders (default bench/out/seeds_<system>).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
system=${1:-I}
steps=${2:-2000000}
count=${3:-24}
case "$count" in
  ''|*[!0-9]*) echo "bench_exchange_seeds: seeds must be a count, got $count" >&2; exit 1 ;;
esac
[ "$count" -ge 3 ] || { echo "bench_exchange_seeds: the scatter needs at least 3 seeds" >&2; exit 1; }
out=${OUT:-$here/out/seeds_$system}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export RUNS="${RUNS:-md identity flow}" EVERY="${EVERY:-1000}" TABLES=no
seed=1
while [ "$seed" -le "$count" ]; do
  OUT=$out/seed$seed SEED=$seed "$here/bench_exchange.sh" "$system" "$steps" > "$out/seed$seed.log"
  echo "bench_exchange_seeds: seed $seed of $count done"
  seed=$((seed + 1))
done
"${PYTHON:-/usr/bin/python3}" "$here/exchange_report.py" seeds "$out"/seed*[0-9]
