#!/bin/sh
# The performance bar (bench/README.md, "Sampling gain"): for one system of the study,
#   1. trains the flow with fix flowmap's defaults on 2 MPI ranks and keeps a snapshot after
#      each training budget (default 5, 15, 30 and 60 minutes of wall time),
#   2. maps fresh frames with each snapshot in both directions (examples/lammps_inputs/
#      in.wca2lj_map, 50000 frames per direction by default) and takes RESS of the flow and of
#      the identity on the same frames,
#   3. prints, for the last snapshot, the mapping throughput and the CPU time per effective
#      target sample via the flow, via identity reweighting and via target MD itself, all
#      from the same runs.
# Usage: bench/bench_gain.sh [system (I)] [minutes ("5 15 30 60")] [frames (50000)]
# BUILD selects the build folder (default build), OUT the results folder (default
# bench/out/gain_<system>, kept), FLOWARGS extra fix flowmap keywords for the training, SETS
# the number of independent sets of frames per direction for the last snapshot (default 1;
# the study's protocol is 10): its row then gives the mean RESS over the sets +- the
# standard error, and the ratio of the means. Takes the training budget plus about 3 minutes per snapshot.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/scripts/blas_env.sh"
build=$(cd "${BUILD:-$root/build}" && pwd)
system=${1:-I}
minutes=${2:-5 15 30 60}
frames=${3:-50000}
out=${OUT:-$here/out/gain_$system}
python=${PYTHON:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
lmp() { mpirun -np 2 "$build/lammps/lmp" -var plugin "$build/flowmapplugin.so" \
  -var inputs "$root/examples/lammps_inputs" -var tools "$root/tools" "$@"; }

mkdir -p "$out"
cd "$out"
echo "bench_gain: system $system, budgets $minutes min, $frames frames per evaluation;" \
  "load $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores; results in $out"
lmp -in "$here/in.bench_gain" -var system "$system" -var minutes "$minutes" -log train.log \
  -var flowargs "${FLOWARGS:-}" -screen none
grep '^BENCH' train.log

printf '\n%-8s %7s %19s %19s %7s %19s %19s %7s\n' minutes steps "A->B id" "A->B flow" ratio \
  "B->A id" "B->A flow" ratio
last=$(echo "$minutes" | awk '{print $NF}')
for m in $minutes; do
  mkdir -p "eval_$m"
  sets=1
  [ "$m" = "$last" ] && sets=${SETS:-1}
  (cd "eval_$m" && lmp -in "$root/examples/lammps_inputs/in.wca2lj_map" -var system "$system" \
    -var flow "$out/snapshot_${m}min.flow" -var frames "$frames" -var sets "$sets" \
    -var plots no -log log.lammps -screen none)
  steps=$(sed -n "s/^BENCH snapshot $m min: steps \([0-9]*\).*/\1/p" train.log)
  "$python" - "eval_$m" "$m" "$steps" <<'EOF'
import sys
import numpy as np
folder, minutes, steps = sys.argv[1:4]
row = [minutes, steps]
for name in ("forward", "inverse"):
    v = np.atleast_2d(np.loadtxt(f"{folder}/{name}.sets"))
    flow, identity = v[:, 2], v[:, 4]
    def cell(x):
        if x.size == 1:
            return f"{x[0]:.3e}"
        return f"{x.mean():.3e}+-{x.std(ddof=1) / np.sqrt(x.size):.1e}"
    row += [cell(identity), cell(flow), f"{flow.mean() / identity.mean():.2f}"]
print("%-8s %7s %19s %19s %7s %19s %19s %7s" % tuple(row))
if v.shape[0] > 1:
    print(f"{'':8s} {'':7s} ({v.shape[0]} sets of {v[0, 1]:.0f} frames per direction)")
EOF
done

echo
"$python" - "eval_$last/log.lammps" "eval_$last/forward.sets" "eval_$last/inverse.sets" \
  "eval_$last/inverse_1.weights" <<'EOF'
import re, sys
import numpy as np
log, fwd_sets, inv_sets, inv_weights = sys.argv[1:5]
text = open(log).read()
timing = {d: [float(x) for x in re.search(d + r" timing: md ([0-9.]+) s, mapping and weighing "
                                          r"([0-9.]+) s, ([0-9]+) frames", text).groups()]
          for d in ("A->B", "B->A")}
def mean_row(path):
    # RESS and the rest averaged over the sets (one row per set)
    return np.atleast_2d(np.loadtxt(path)).mean(axis=0)
fwd, inv = mean_row(fwd_sets), mean_row(inv_sets)
md_a, map_a, n_a = timing["A->B"]
md_b, map_b, n_b = timing["B->A"]
# statistical inefficiency of the target energy in frames (every 100 steps), Sokal window
u = np.loadtxt(inv_weights)[:, 1]
u = u - u.mean()
acf = np.correlate(u, u, "full")[u.size - 1:] / (u.var() * np.arange(u.size, 0, -1))
g = 1.0
for t in range(1, u.size // 4):
    g += 2 * acf[t]
    if t >= 5 * g:
        break
g = max(g, 1.0)
print(f"mapping throughput (flow + target energy + identity baseline, 2 ranks): "
      f"{n_a / map_a:.0f} configurations/s A->B, {n_b / map_b:.0f} B->A "
      f"(published: 5e4 in about 5 s on a GPU, 1e4/s)")
per_frame_a = (md_a + map_a) / n_a
print("CPU seconds (2 cores) per effective target sample:")
print(f"  via the flow          {per_frame_a / fwd[2]:.3e}  (source MD + mapping, RESS {fwd[2]:.3e})")
print(f"  via identity weights  {(md_a / n_a) / fwd[4]:.3e}  (source MD, RESS {fwd[4]:.3e};"
      f" energy evaluation included in MD time)")
print(f"  via target MD         {(md_b / n_b) * g:.3e}  (100 steps per frame, statistical"
      f" inefficiency of U_B {g:.2f} frames)")
EOF
