#!/usr/bin/env python3
"""Tables of bench/bench_gain.sh, from the files its runs leave (one place for the arithmetic).

    gain_report.py row OUT MINUTES       the RESS row of one snapshot (identity, flow, ratio
                                         per direction; mean +- standard error over sets)
    gain_report.py costs OUT MINUTES     mapping throughput and CPU time per effective target
                                         sample via the flow, identity weights and target MD
    gain_report.py scale OUT MINUTES NATOMS
                                         one row of bench_scaling.sh: per-particle figures
                                         (-ln RESS / N, KL gain / N, the symmetric divergence
                                         J / N that remains), seconds per optimizer step and
                                         the training's peak memory
    gain_report.py scaleplot PNG MINUTES OUT_N=N [OUT_N=N ...]
                                         -ln(RESS)/N of identity and flow against N, both
                                         directions, one line per training budget, with the
                                         estimate's limit ln(frames)/N; KL gain per particle;
                                         J / N of identity and flow
    gain_report.py sidefile OUT SYSTEM MINUTES COMMIT [--budgets B] [--flowargs F]
                                         the side file of a shipped flow (potentials/*.txt)

OUT is a bench_gain.sh results folder: train.log (its BENCH lines) and eval_<MINUTES>/
(in.wca2lj_map's forward.sets, inverse.sets, *.weights and log.lammps).
"""
import argparse
import datetime
import functools
import math
import os
import re
import sys

# The readers and statistics of the package's post-processing tool, so that the benchmark
# and a user's own report agree on what a file holds and how sets are averaged.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import flowmap_plot  # noqa: E402

SYSTEMS = {
    "I": "WCA rho 0.735 T 2.0 -> LJ rho 0.735 T 1.0",
    "II": "WCA rho 0.735 T 1.0 -> LJ rho 0.735 T 0.5",
    "III": "WCA rho 0.735 T 1.0 -> LJ rho 0.704 T 0.608",
}
# in.wca2lj_map samples a frame every 100 steps in both directions.
STEPS_PER_FRAME = 100
# Columns of in.wca2lj_map's *.sets files.
SET_RESS, SET_RESS_IDENTITY, SET_F, SET_F_IDENTITY = 2, 4, 6, 8


def fail(message):
    sys.exit(f"gain_report.py: {message}")


# Each table reads the same files for several figures; read every file once (callers only
# index what these return).
@functools.lru_cache(maxsize=None)
def sets(out, minutes, direction):
    try:
        return flowmap_plot.read_sets(os.path.join(out, f"eval_{minutes}", f"{direction}.sets"))
    except flowmap_plot.Skipped as missing:
        fail(f"{missing}: did the evaluation of this snapshot run?")


@functools.lru_cache(maxsize=None)
def frames(out, minutes, direction):
    # Only the sets of this evaluation: an earlier one with more sets leaves more files.
    numbers = [int(k) for k in sets(out, minutes, direction)[:, 0]]
    try:
        return flowmap_plot.read_weight_sets(os.path.join(out, f"eval_{minutes}"), direction,
                                             numbers)
    except flowmap_plot.Skipped as missing:
        fail(str(missing))


def cell(values):
    mean, error = flowmap_plot.mean_and_error(values)
    return f"{mean:.3e}" if values.size == 1 else f"{mean:.3e}+-{error:.1e}"


def ress_cells(v):
    return [cell(v[:, SET_RESS_IDENTITY]), cell(v[:, SET_RESS]),
            f"{v[:, SET_RESS].mean() / v[:, SET_RESS_IDENTITY].mean():.2f}"]


def kl_gain(out, minutes, direction):
    # Mean log-weight of the flow minus the identity's over every frame of every set, in nats.
    w = frames(out, minutes, direction)
    return w["log_w"].mean() - w["log_w_identity"].mean()


def bennett_line(out, minutes):
    # beta_B F_B - beta_A F_A from both directions' frames, for the side file's line below its
    # one-sided means (whose B->A figure is beta_A F_A - beta_B F_B); the error is that of
    # flowmap_plot's report: standard error over set pairs, at least the bootstrap of all frames
    # (a bootstrap alone for one set).
    folder = os.path.join(out, f"eval_{minutes}")
    numbers = {d: [int(k) for k in sets(out, minutes, d)[:, 0]] for d in ("forward", "inverse")}
    try:
        b = flowmap_plot.summarize_bar(folder, numbers)
    except flowmap_plot.Skipped as missing:
        fail(str(missing))
    identity = (f", identity {b['identity'][0]:.4f} +- {b['identity'][1]:.4f}, flow minus "
                f"identity {b['difference'][0]:.4f} +- {b['difference'][1]:.4f}"
                if "identity" in b else "")
    warning = flowmap_plot.disagreement(b["difference"]) if "identity" in b else None
    return (f"Bennett acceptance ratio, beta_B F_B - beta_A F_A: flow {b['flow'][0]:.4f} +- "
            f"{b['flow'][1]:.4f}{identity} ({b['error']})" +
            (f"\n           {warning}" if warning else ""))


def bench_line(out, minutes):
    log = os.path.join(out, "train.log")
    if not os.path.exists(log):
        fail(f"{log} is missing")
    match = re.search(rf"^BENCH snapshot {minutes} min: (.*)$", open(log).read(), re.M)
    if not match:
        fail(f"{log} has no BENCH line for the {minutes}-minute snapshot")
    return match.group(1)


def steps_of(out, minutes):
    return re.search(r"steps (\d+)", bench_line(out, minutes)).group(1)


def row(args):
    forward, inverse = sets(args.out, args.minutes, "forward"), sets(args.out, args.minutes,
                                                                     "inverse")
    cells = [args.minutes, steps_of(args.out, args.minutes)]
    cells += ress_cells(forward) + ress_cells(inverse)
    print("%-8s %7s %19s %19s %7s %19s %19s %7s" % tuple(cells))
    if forward.shape[0] > 1:
        n_sets = forward.shape[0]
        print(f"{'':8s} {'':7s} ({n_sets} sets of "
              f"{frames_per_set(args.out, args.minutes, n_sets)} frames per direction)")


def timings(out, minutes):
    # in.wca2lj_map's "A->B timing" and "B->A timing" lines: MD seconds, mapping seconds, the
    # frames requested over all sets and fix flowmap's decorrelation time of the sampled
    # state's energy in steps.
    log = os.path.join(out, f"eval_{minutes}", "log.lammps")
    if not os.path.exists(log):
        fail(f"{log} is missing")
    text = open(log).read()
    timing = {}
    for d in ("A->B", "B->A"):
        m = re.search(d + r" timing: md ([0-9.]+) s, mapping and weighing ([0-9.]+) s, "
                      r"([0-9]+) frames, energy decorrelation ([0-9.]+) steps", text)
        if not m:
            fail(f"{log} has no {d} timing line")
        timing[d] = [float(x) for x in m.groups()]
    return timing


def frames_per_set(out, minutes, n_sets):
    # The evaluation's "-var frames": the first set also maps the frame of step 0, so its
    # count in the .sets file is one more.
    return round(timings(out, minutes)["A->B"][2] / n_sets)


def costs(args):
    timing = timings(args.out, args.minutes)
    ress_flow = sets(args.out, args.minutes, "forward")[:, SET_RESS].mean()
    ress_identity = sets(args.out, args.minutes, "forward")[:, SET_RESS_IDENTITY].mean()
    md_a, map_a, n_a, _ = timing["A->B"]
    md_b, map_b, n_b, decorrelation_b = timing["B->A"]
    # fix flowmap's estimate from U_B of the target MD frames it mapped backward
    g = max(decorrelation_b / STEPS_PER_FRAME, 1.0)
    print(f"mapping throughput (flow + target energy + identity baseline, 2 ranks): "
          f"{n_a / map_a:.0f} configurations/s A->B, {n_b / map_b:.0f} B->A "
          f"(published: 5e4 in about 5 s on a GPU, 1e4/s)")
    print("CPU seconds (2 cores) per effective target sample:")
    print(f"  via the flow          {(md_a + map_a) / n_a / ress_flow:.3e}  (source MD + mapping,"
          f" RESS {ress_flow:.3e})")
    print(f"  via identity weights  {(md_a / n_a) / ress_identity:.3e}  (source MD, RESS "
          f"{ress_identity:.3e}; energy evaluation included in MD time)")
    print(f"  via target MD         {(md_b / n_b) * g:.3e}  (100 steps per frame, statistical"
          f" inefficiency of U_B {g:.2f} frames)")


SCALE_ROW = "%-5s %7s %6s %7s   %-26s %-26s %-17s %7s"
SCALE_HEADER = SCALE_ROW % ("N", "minutes", "steps", "s/step", "A->B: -lnR/N id, flow, KL/N",
                            "B->A: -lnR/N id, flow, KL/N", "J/N id, flow", "MB")


def per_particle_ress(out, minutes, natoms, direction, column):
    return -math.log(sets(out, minutes, direction)[:, column].mean()) / natoms


def symmetric_divergence(out, minutes, key):
    # J = KL(mapped A || B) + KL(mapped B || A), in nats, from the mean log-weights of both
    # directions alone: each KL is one free-energy difference minus that direction's mean
    # log-weight, and the two differences cancel. So unlike RESS, which n frames cannot
    # resolve below about 1/n, J of the mismatch that remains is a plain mean at any N, and
    # J / N compares across N the way -ln(RESS) / N would. key: "log_w" (the flow) or
    # "log_w_identity".
    return -(frames(out, minutes, "forward")[key].mean() +
             frames(out, minutes, "inverse")[key].mean())


def scale(args):
    # For a fixed mismatch per particle, ln RESS falls linearly in N, so the figures that can
    # be compared across N are per particle: -ln(RESS) / N of the identity and of the flow,
    # and the KL gain (mean log-weight of the flow minus the identity's) per particle.
    n = int(args.natoms)
    steps = int(steps_of(args.out, args.minutes))
    cells = [str(n), args.minutes, str(steps),
             f"{60.0 * float(args.minutes) / steps:.3f}" if steps else "-"]
    for direction in ("forward", "inverse"):
        per_particle = [per_particle_ress(args.out, args.minutes, n, direction, column)
                        for column in (SET_RESS_IDENTITY, SET_RESS)]
        cells.append("%8.4f %8.4f %8.4f" % (*per_particle,
                                            kl_gain(args.out, args.minutes, direction) / n))
    cells.append("%8.4f %8.4f" % tuple(symmetric_divergence(args.out, args.minutes, key) / n
                                       for key in ("log_w_identity", "log_w")))
    memory = os.path.join(args.out, "peak_memory.txt")
    # GNU time's maximum resident set size, kB, of the largest training process
    cells.append(f"{int(open(memory).read().split()[-1]) / 1024:.0f}"
                 if os.path.exists(memory) else "-")
    print(SCALE_ROW % tuple(cells))


def scaleplot(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = []
    for item in args.runs:
        folder, _, natoms = item.rpartition("=")
        if not folder or not natoms.isdigit():
            fail(f"expected OUT=N (a bench_gain.sh folder and its particle count), got {item}")
        runs.append((folder, int(natoms)))
    runs.sort(key=lambda run: run[1])
    counts = [n for _, n in runs]
    budgets = args.minutes.split()
    figure, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for axis, direction, title in zip(axes, ("forward", "inverse"), ("A->B", "B->A")):
        # RESS of n frames is at least 1/n, so -ln(RESS)/N cannot exceed ln(n)/N: near that
        # line the estimate says only that the overlap is below what n frames can resolve.
        limit = [math.log(frames_per_set(o, budgets[0], sets(o, budgets[0], direction).shape[0]))
                 / n for o, n in runs]
        axis.plot(counts, limit, ":", color="grey", label="limit of the estimate, ln(frames)/N")
        axis.plot(counts, [per_particle_ress(o, budgets[0], n, direction, SET_RESS_IDENTITY)
                           for o, n in runs], "k--o", label="identity")
        for m in budgets:
            axis.plot(counts, [per_particle_ress(o, m, n, direction, SET_RESS)
                               for o, n in runs], "-o", label=f"flow, {m} min")
        axis.set_title(f"{title}: -ln(RESS) / N")
    for m in budgets:
        for direction, style in (("forward", "-o"), ("inverse", "--s")):
            axes[2].plot(counts, [kl_gain(o, m, direction) / n for o, n in runs], style,
                         label=f"{'A->B' if direction == 'forward' else 'B->A'}, {m} min")
    axes[2].set_title("KL gain per particle (nats)")
    axes[3].plot(counts, [symmetric_divergence(o, budgets[0], "log_w_identity") / n
                          for o, n in runs], "k--o", label="identity")
    for m in budgets:
        axes[3].plot(counts, [symmetric_divergence(o, m, "log_w") / n for o, n in runs], "-o",
                     label=f"flow, {m} min")
    axes[3].set_title("J / N left, KL(A->B) + KL(B->A) (nats)")
    for axis in axes:
        axis.set_xscale("log", base=2)
        axis.set_xticks(counts, [str(n) for n in counts])
        axis.set_xlabel("N")
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(args.png, dpi=100)
    print(f"gain_report.py: wrote {args.png}")


def sidefile(args):
    forward, inverse = sets(args.out, args.minutes, "forward"), sets(args.out, args.minutes,
                                                                     "inverse")
    n_sets = forward.shape[0]
    n_frames = frames_per_set(args.out, args.minutes, n_sets)
    measured = f"           {args.minutes:<7s} {steps_of(args.out, args.minutes):>6s}  " + \
        "  ".join(ress_cells(forward) + ress_cells(inverse))
    budgets = args.budgets or args.minutes
    flowargs = f', FLOWARGS="{args.flowargs}"' if args.flowargs else ""
    keywords = "fix flowmap defaults" + (f" + {args.flowargs}" if args.flowargs else "")
    today = datetime.date.today().strftime("%d %b %Y")
    print(f"""\
# potentials/wca2lj_{args.system}.flow: flow for system {args.system} of the reference study (doc/method.md section 7)
system:    32 particles, 2D, {SYSTEMS[args.system]} (LJ cut 2.5 sigma, shifted; WCA = LJ cut 2^(1/6), shifted)
network:   fix flowmap default preset (particle split, 2 blocks of 8 couplings, embedding 32, feed-forward 64, 16 bins,
           8 frequencies, 2 heads, 1 encoder layer, 0.18 M parameters, float32; model format 2)
produced:  bench/bench_gain.sh {args.system} "{budgets}"{flowargs} (bench/in.bench_gain: {keywords}, seed 31,
           20000 target frames for NLL, 2 MPI ranks x 1 thread), the snapshot after {args.minutes} minutes of training
           on the 2-core build machine (OpenBLAS AVX2 kernels), {today}, sources of commit {args.commit}
training:  {args.minutes} min: {bench_line(args.out, args.minutes)}
           (validation on the 1000 hold-out frames of each state; see doc/fix_flowmap.rst on why RESS of 1000 frames is noisy)
measured:  examples/lammps_inputs/in.wca2lj_map -var system {args.system} -var frames {n_frames} -var sets {n_sets} (seed 7), fresh frames,
           {n_sets} sets per direction (mean +- standard error over sets; ratio of the means):
           minutes steps A->B RESS identity, flow, ratio; B->A RESS identity, flow, ratio
{measured}
           KL gain (mean log-weight of the flow minus the identity's, nats): A->B, B->A {kl_gain(args.out, args.minutes, "forward"):.3f} {kl_gain(args.out, args.minutes, "inverse"):.3f}
           free energy (reduced), flow: A->B {forward[:, SET_F].mean():.4f}, B->A {inverse[:, SET_F].mean():.4f}; identity: {forward[:, SET_F_IDENTITY].mean():.4f}, {inverse[:, SET_F_IDENTITY].mean():.4f}
           {bennett_line(args.out, args.minutes)}""")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func in (("row", row), ("costs", costs)):
        p = commands.add_parser(name)
        p.add_argument("out")
        p.add_argument("minutes")
        p.set_defaults(func=func)
    p = commands.add_parser("scale")
    p.add_argument("out")
    p.add_argument("minutes")
    p.add_argument("natoms")
    p.add_argument("--header", action="store_true", help="print the column names first")
    p.set_defaults(func=lambda a: (print(SCALE_HEADER) if a.header else None, scale(a)))
    p = commands.add_parser("scaleplot")
    p.add_argument("png")
    p.add_argument("minutes", help='the training budgets, e.g. "15 60"')
    p.add_argument("runs", nargs="+", metavar="OUT=N")
    p.set_defaults(func=scaleplot)
    p = commands.add_parser("sidefile")
    p.add_argument("out")
    p.add_argument("system", choices=sorted(SYSTEMS))
    p.add_argument("minutes")
    p.add_argument("commit")
    p.add_argument("--budgets", help="the budgets bench_gain.sh was given (default: MINUTES)")
    p.add_argument("--flowargs", default="", help="FLOWARGS of that bench_gain.sh run")
    p.set_defaults(func=sidefile)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
