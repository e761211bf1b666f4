#!/bin/sh
# Flow-mapped replica exchange (bench/README.md, "Flow-mapped replica exchange"): for one system
# of the study, runs
#   md        plain MD of the target state (1 MPI rank),
#   identity  the exchange with the identity map: ordinary two-state replica exchange,
#   flow      the exchange through the system's shipped flow (potentials/wca2lj_<system>.flow),
#   poor      the exchange through a deliberately poor flow (bench/in.bench_poor_flow: 24 Adam
#             steps from the identity on batches of 16 out of 40 frames, no warm-up, no
#             averaging: a valid map, worse than the identity; on system I it accepts about
#             1 % of the attempts, the identity 5 %),
# each exchange run on 2 MPI ranks (-partition 2x1: the source and the target partition), all
# with the same number of steps. Then prints
#   1. exactness: each exchange run's target against plain MD of the target (<U_B>, the
#      histogram of U_B, g(r)), with errors and z-scores (exchange_report.py exact);
#   2. efficiency: acceptance rates (and the identity's on the same pairs), the decorrelation
#      times of U_B and of the bond-orientational order psi6 in steps and in CPU seconds, and
#      their gain over MD alone (exchange_report.py table).
# System ternary is the glass-former of examples/lammps_inputs/in.ternary2d (N = 43): source
# T_A = TSOURCE (0.359), target T_B = TTARGET (0.25), one Hamiltonian. Its runs
# (bench/in.bench_exchange_ternary, Nose-Hoover MD, all from one configuration that stage 1 of
# in.ternary2d equilibrated at T_A, kept in OUT/start) are md, swap (MD plus swap moves between
# species at T_B: the equilibrium reference, against which `exact` compares when it is there),
# identity (two-temperature replica exchange) and flow (FLOW: a model file trained for
# T_A -> T_B with in.ternary2d_map; no flow is shipped for it). The table adds the structural
# relaxation time tau_Q of the overlap by species (exchange_report.py).
# Usage: bench/bench_exchange.sh [system (I)] [steps (2000000)]
# BUILD selects the build folder (default build), OUT the results folder (default
# bench/out/exchange_<system>, kept), RUNS the runs (default "md identity flow poor"; ternary
# "md swap identity", and flow with FLOW), EVERY the attempt interval (100 steps), SAMPLE the
# U_B sampling interval (10), DUMP the frame interval for g(r), psi6 and the overlap (100;
# ternary 1000), EQUIL the unrecorded steps before each ternary run (100000), SEED the seed
# (1). BACKWARD (ternary md and swap runs) names a model file trained for T_A -> T_B: the run maps
# each dumped frame back through it into backward.weights (bench/ternary_report.py mismatch);
# it must start with the flow's types by atom ID, so put the .data file that in.ternary2d_map
# wrote with the flow in OUT/start/ternary2d_source.data before the run.
# REPORT_ONLY=1 only prints the tables of an earlier OUT; TABLES=no runs without printing them
# (bench_exchange_seeds.sh reports over many seeds instead). On an idle 2-core machine 2e6
# steps of system I take about 4 minutes in all (4 Dec); the exchange runs spend most of their
# time mapping (the table's CPU column).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$root/scripts/blas_env.sh"
build=$(cd "${BUILD:-$root/build}" && pwd)
system=${1:-I}
steps=${2:-2000000}
case "$system" in
  I|II) flow=$root/potentials/wca2lj_$system.flow runs=${RUNS:-md identity flow poor}
        input=$here/in.bench_exchange ;;
  ternary) flow=${FLOW:-} input=$here/in.bench_exchange_ternary
        runs=${RUNS:-md swap identity${FLOW:+ flow}} ;;
  *) echo "bench_exchange: system must be I, II or ternary, got $system" >&2; exit 1 ;;
esac
out=${OUT:-$here/out/exchange_$system}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-/usr/bin/python3}
# LAMMPS's CMake puts lmp in lammps/ (29 Sep 2021) or at the top of the build (4 Feb 2025)
lmp=$build/lammps/lmp
[ -x "$lmp" ] || lmp=$build/lmp
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
common="-var plugin $build/flowmapplugin.so -var inputs $root/examples/lammps_inputs
  -var steps $steps -var every ${EVERY:-100} -var sample ${SAMPLE:-10} -var seed ${SEED:-1}
  -log log.lammps -screen none"
if [ "$system" = ternary ]; then
  common="$common -var dump ${DUMP:-1000} -var equil ${EQUIL:-100000}
    -var Tsource ${TSOURCE:-0.359} -var Ttarget ${TTARGET:-0.25}
    -var source_data $out/start/ternary2d_source.data"
  if [ -n "${BACKWARD:-}" ]; then
    backward=$(cd "$(dirname "$BACKWARD")" && pwd)/$(basename "$BACKWARD")
    [ -f "$backward" ] || { echo "bench_exchange: BACKWARD $BACKWARD: no such file" >&2; exit 1; }
    backward_var="-var backward $backward"
  fi
else
  common="$common -var system $system -var dump ${DUMP:-100}"
fi

echo "bench_exchange: system $system, $steps steps per run; load $(cut -d' ' -f1-3 /proc/loadavg)" \
  "on $(getconf _NPROCESSORS_ONLN) cores; results in $out"
if [ -z "${REPORT_ONLY:-}" ] && [ "$system" = ternary ] &&
   [ ! -f "$out/start/ternary2d_source.data" ]; then
  mkdir -p "$out/start"
  (cd "$out/start" && mpirun -np 1 "$lmp" -in "$root/examples/lammps_inputs/in.ternary2d" \
     -var plugin "$build/flowmapplugin.so" -var inputs "$root/examples/lammps_inputs" \
     -var Tsource "${TSOURCE:-0.359}" -var source_frames 1 -var seed "$((2025 + ${SEED:-1}))" \
     -log log.lammps -screen none)
  echo "bench_exchange: start configuration at T_A in $out/start"
fi
if [ -z "${REPORT_ONLY:-}" ]; then
  for run in $runs; do
    rm -rf "${out:?}/$run" && mkdir -p "$out/$run"
    start=$(date +%s)
    # shellcheck disable=SC2086
    case "$run" in
      md|swap) (cd "$out/$run" && mpirun -np 1 "$lmp" -in "$input" $common ${backward_var:-} \
                -var mode "$run") ;;
      identity) (cd "$out/$run" && mpirun -np 2 "$lmp" -partition 2x1 \
             -in "$input" $common -var mode exchange -var flow identity) ;;
      flow) [ -n "$flow" ] || { echo "bench_exchange: run flow needs FLOW=model file" >&2; exit 1; }
            (cd "$out/$run" && mpirun -np 2 "$lmp" -partition 2x1 \
             -in "$input" $common -var mode exchange -var flow "$(cd "$(dirname "$flow")" &&
             pwd)/$(basename "$flow")") ;;
      poor) [ "$system" != ternary ] || { echo "bench_exchange: no poor flow for ternary" >&2; exit 1; }
            (cd "$out/$run" && mpirun -np 1 "$lmp" -in "$here/in.bench_poor_flow" \
             -var plugin "$build/flowmapplugin.so" -var inputs "$root/examples/lammps_inputs" \
             -var system "$system" -var seed "${SEED:-1}" -var save poor.flow \
             -log poor_flow.log -screen none &&
             mpirun -np 2 "$lmp" -partition 2x1 -in "$here/in.bench_exchange" $common \
             -var mode exchange -var flow poor.flow) ;;
      *) echo "bench_exchange: unknown run $run (md, swap, identity, flow, poor)" >&2; exit 1 ;;
    esac
    echo "bench_exchange: $run done in $(( $(date +%s) - start )) s"
  done
fi

[ "${TABLES:-yes}" = yes ] || exit 0
echo
echo "== exactness: the target of each run against the reference (swap MC where there is one, else plain MD)"
# a folder with exchange runs only (RUNS=identity, say, before a flow is trained) still gets
# its efficiency table
if [ -d "$out/md" ] || [ -d "$out/swap" ]; then
  "$python" "$here/exchange_report.py" exact "$out"
else
  echo "no md or swap run in $out: add one (RUNS=md or RUNS=swap) to check exactness"
fi
echo
echo "== efficiency"
"$python" "$here/exchange_report.py" table "$out"
