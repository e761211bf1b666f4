#!/usr/bin/env python3
"""Tables of bench/bench_ternary.sh (the glass-former, bench/README.md "Glass-former"), and the
reweighted averages of examples/lammps_inputs/in.ternary2d_map.

    ternary_report.py weights FILE [FILE ...] --atoms N --temperature T [--batch FRAMES]
                              [--reference E dE C dC]
        weights files of compute ress (fix mode), their frames pooled in the order given:
        for the flow and for the identity (temperature reweighting) of the same frames, the
        Kish RESS, <E_pot> per atom and the heat capacity per atom c_V = (<E^2> - <E>^2) /
        (N T^2), reweighted, with errors. Files of direct mode (4 columns, no identity; the
        basin map's two samples per frame, say) give one row, "weights". --batch: also each file cut into batches of FRAMES
        consecutive frames (a remainder of at least half a batch is a batch of its own), one
        row each, and how far the batches scatter around the pooled values in units of their
        own errors (about 1 where the errors are honest; well above 1 where a few frames of
        the weights' tail decide each batch). --reference: a reference <E_pot>/N and c_V with
        their errors (swap MC, say), and z = (estimate - reference) / combined error for
        every row
    ternary_report.py reweight FILE --atoms N --source T_A --temperatures T_B ...
        temperature reweighting of the source frames of a weights file (its U_from column) to
        each T_B: RESS, <E_pot> and c_V per atom with errors (no flow needed)
    ternary_report.py mismatch FILE --atoms N --states T E dE C dC [T E dE C dC ...]
        how far the flow and temperature reweighting are from the other state: ln(Z_to/Z_from)
        by thermodynamic integration over 1/T of reference <E_pot>/N and c_V per atom (with
        their errors), listed from the temperature of the weights file's frames to the one
        they were mapped to, with any temperatures between; from it the Kullback-Leibler
        divergence KL(frames mapped || other state) = ln(Z_to/Z_from) - <log w> of each column
        of the weights file, next to the frames' own estimate ln <w>. For frames of B
        mapped back to A (fix flowmap direction inverse) list the states from T_B to T_A:
        KL(B || A mapped), which sets how many frames of A reweighting to B needs (about
        its exponential)
    ternary_report.py table OUT
        one row per run of a bench_ternary.sh results folder: reference runs md_<T> and
        swap_<T> (plain MD and MD with swap moves at T) and flow runs flow_<T> (in.ternary2d_map),
        with <E_pot>, c_V, the decorrelation time of E_pot (references), RESS (flow runs) and
        the CPU seconds per effective sample

c_V here is the potential-energy part (k_B = 1): the kinetic part adds d/2 = 1 per atom in 2D
and is the same for every method. Errors of <E_pot> and c_V are block-bootstrap standard
deviations: the frames are cut into BLOCKS consecutive blocks, blocks are drawn with
replacement and the (weighted) estimator is recomputed, which keeps the correlation inside a
block and, for weighted frames, the spread of the weights. They are trustworthy only where a
block is much longer than the decorrelation time (the table gives both) and, for weights,
where the RESS is not carried by a handful of frames.
"""
import argparse
import glob
import math
import os
import sys

# The readers and estimators of the package's post-processing tool and of the exchange
# benchmark, so that the benchmarks agree on what a file holds and on g.
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tools"))
sys.path.insert(0, here)
import flowmap_plot  # noqa: E402
from exchange_report import loop_times, statistical_inefficiency  # noqa: E402

BLOCKS = 20
RESAMPLES = 200


def fail(message):
    sys.exit(f"ternary_report.py: {message}")


def weighted_energy_moments(energy, log_w, atoms, temperature):
    """(<E>/N, c_V) with self-normalised weights exp(log_w) (None: equal weights)."""
    import numpy as np

    e = np.asarray(energy, dtype=np.float64)
    w = (np.full(e.size, 1.0 / e.size) if log_w is None
         else flowmap_plot.normalized_weights(log_w))
    mean = float(np.dot(w, e))
    variance = float(np.dot(w, (e - mean) ** 2))
    return mean / atoms, variance / (atoms * temperature * temperature)


def block_bootstrap(statistic, arrays, blocks=BLOCKS, resamples=RESAMPLES, seed=1):
    """Standard deviation of statistic(*arrays) over resamples that draw `blocks` consecutive
    blocks of the series with replacement (a trailing remainder shorter than a block is
    dropped). statistic returns a tuple; so does this."""
    import numpy as np

    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    n = arrays[0].size
    length = n // blocks
    if length < 1:
        raise ValueError(f"{n} samples cannot make {blocks} blocks")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        chosen = rng.integers(0, blocks, blocks)
        index = (chosen[:, None] * length + np.arange(length)[None, :]).ravel()
        values.append(statistic(*[a[index] for a in arrays]))
    return tuple(float(s) for s in np.std(np.asarray(values), axis=0, ddof=1))


def energy_estimates(energy, log_w, atoms, temperature, blocks=BLOCKS, seed=1):
    """<E>/N, its error, c_V, its error (block bootstrap)."""
    e_mean, c_v = weighted_energy_moments(energy, log_w, atoms, temperature)
    if log_w is None:
        errors = block_bootstrap(lambda e: weighted_energy_moments(e, None, atoms, temperature),
                                 [energy], blocks, seed=seed)
    else:
        errors = block_bootstrap(lambda e, lw: weighted_energy_moments(e, lw, atoms, temperature),
                                 [energy, log_w], blocks, seed=seed)
    return e_mean, errors[0], c_v, errors[1]


def read_pooled_weights(paths):
    """(columns of the weights files with their frames in the order given, frames per file)."""
    import numpy as np

    parts = []
    for path in paths:
        try:
            data = flowmap_plot.read_weights(path)
        except flowmap_plot.Skipped as problem:
            fail(f"{problem}")
        parts.append(data)
    # direct mode (4 columns: the basin map's samples, say) has no identity baseline; mixing
    # the two kinds would pool unlike columns
    kinds = {"log_w_identity" in part for part in parts}
    if len(kinds) > 1:
        fail(f"{' '.join(paths)}: weights files of compute ress in fix mode (6 columns) and in "
             "direct mode (4 columns) cannot be pooled")
    pooled = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    return pooled, [part["log_w"].size for part in parts]


def estimate_rows(data, atoms, temperature, blocks=BLOCKS):
    """[(label, frames, RESS, <E>/N, err, c_V, err)] for flow and identity of weights columns
    (fix mode), or for the weights of a direct-mode file (one row, "weights")."""
    rows = []
    columns = ((("flow", data["u_to"], data["log_w"]),
                ("identity", data["u_to_identity"], data["log_w_identity"]))
               if "log_w_identity" in data else (("weights", data["u_to"], data["log_w"]),))
    for label, energy, log_w in columns:
        rows.append((label, energy.size, flowmap_plot.kish_ress(log_w))
                    + energy_estimates(energy, log_w, atoms, temperature, blocks))
    return rows


def weights_rows(path, atoms, temperature, blocks=BLOCKS):
    """estimate_rows of one weights file."""
    data, _ = read_pooled_weights([path])
    return estimate_rows(data, atoms, temperature, blocks)


def batch_bounds(sizes, batch):
    """(first, end) frame ranges of the pooled frames: each file cut into batches of `batch`
    frames, a remainder of at least half a batch kept as a batch of its own."""
    bounds, start = [], 0
    for size in sizes:
        for first in range(0, size, batch):
            end = min(size, first + batch)
            if end - first >= max(1, batch // 2):
                bounds.append((start + first, start + end))
        start += size
    return bounds


def batch_scatter(rows, pooled):
    """sqrt(chi^2 / (batches - 1)) of batch estimates around the pooled ones, for <E>/N and
    c_V: rows and pooled as estimate_rows gives them (one label)."""
    result = []
    for value, error in ((3, 4), (5, 6)):
        chi2 = sum(((row[value] - pooled[value]) / row[error]) ** 2 for row in rows)
        result.append(math.sqrt(chi2 / (len(rows) - 1)) if len(rows) > 1 else float("nan"))
    return tuple(result)


def temperature_rows(energy, atoms, source, temperatures, blocks=BLOCKS):
    """[(T_B, RESS, <E>/N, err, c_V, err)] of frames at T_A = source reweighted to each T_B
    with log w = (1/T_A - 1/T_B) U."""
    import numpy as np

    energy = np.asarray(energy, dtype=np.float64)
    rows = []
    for t in temperatures:
        log_w = (1.0 / source - 1.0 / t) * energy
        rows.append((t, flowmap_plot.kish_ress(log_w))
                    + energy_estimates(energy, log_w, atoms, t, blocks))
    return rows


def log_partition_ratio(states, atoms):
    """ln(Z(1/T_last) / Z(1/T_first)) of the configurational partition function, from states
    [(T, <E>/N, c_V)] ordered from T_A to T_B: d ln Z / d beta = -<E> and d<E>/d beta =
    -var(E) = -N c_V T^2, so the integral of <E> over beta is taken interval by interval with
    the cubic through both ends' values and slopes (exact for a cubic <E>(beta); its error
    falls as the fourth power of the spacing, where the trapezoid's falls as the second)."""
    total = 0.0
    for (t0, e0, c0), (t1, e1, c1) in zip(states, states[1:]):
        h = 1.0 / t1 - 1.0 / t0
        slope0, slope1 = -c0 * t0 * t0, -c1 * t1 * t1
        total += h / 2.0 * (e0 + e1) + h * h / 12.0 * (slope0 - slope1)
    return -atoms * total


def log_partition_ratio_error(states, errors, atoms):
    """Standard error of log_partition_ratio from independent errors [(dE, dC)] per state:
    the integral is linear in every <E> and c_V, so each enters with its coefficient."""
    base = log_partition_ratio(states, atoms)
    variance = 0.0
    for i, (d_e, d_c) in enumerate(errors):
        for column, delta in ((1, d_e), (2, d_c)):
            shifted = [list(s) for s in states]
            shifted[i][column] += 1.0
            variance += ((log_partition_ratio(shifted, atoms) - base) * delta) ** 2
    return math.sqrt(variance)


def mismatch_rows(log_weights, log_z):
    """[(label, ln <w>, <log w>, its error, KL = log_z - <log w>, (50th, 90th, 99th
    percentile of log_z - log w))] per (label, log w). log_z - log w of a frame is the log of
    its own state's density over the other state's mapped onto it: KL is its mean, and its
    upper percentiles say how rarely the other direction draws the configurations that carry
    this state's weight (a region with log ratio r is drawn about e^-r times as often)."""
    import numpy as np

    rows = []
    for label, log_w in log_weights:
        log_w = np.asarray(log_w, dtype=np.float64)
        mean = float(log_w.mean())
        error = block_bootstrap(lambda lw: (float(lw.mean()),), [log_w])[0]
        quantiles = tuple(float(q) for q in np.percentile(log_z - log_w, [50, 90, 99]))
        rows.append((label, -flowmap_plot.free_energy(log_w), mean, error, log_z - mean,
                     quantiles))
    return rows


def run_info(folder):
    """key value pairs of a run's info file (written by bench_ternary.sh)."""
    info = {}
    with open(os.path.join(folder, "info")) as f:
        for line in f:
            if line.strip():
                key, value = line.split(None, 1)
                info[key] = value.strip()
    return info


def reference_row(folder, blocks=BLOCKS):
    """A plain MD or swap run: samples.dat holds step and E_pot (total) every `sample` steps."""
    import numpy as np

    info = run_info(folder)
    atoms, temperature = int(info["atoms"]), float(info["T"])
    try:
        data = flowmap_plot.read_columns(os.path.join(folder, "samples.dat"), 2)
    except flowmap_plot.Skipped as problem:
        fail(f"{problem}")
    energy = data[:, 1]
    spacing = float(data[1, 0] - data[0, 0]) if len(data) > 1 else float("nan")
    g = statistical_inefficiency(energy)
    e, de, cv, dcv = energy_estimates(energy, None, atoms, temperature, blocks)
    cpu = loop_times(os.path.join(folder, "log.lammps"))[-1][0]
    effective = energy.size / g
    tau = g * spacing * float(info["dt"])
    return {"run": os.path.basename(folder), "T": temperature, "frames": energy.size,
            "E": e, "dE": de, "cV": cv, "dcV": dcv, "tau": tau,
            "block_tau": energy.size / blocks / g,
            "ress": float("nan"), "effective": effective, "cpu": cpu,
            "cpu_per_sample": cpu / effective, "note": ""}


def flow_rows(folder, blocks=BLOCKS):
    """The flow and the identity of one in.ternary2d_map run."""
    info = run_info(folder)
    atoms, temperature = int(info["atoms"]), float(info["T"])
    paths = glob.glob(os.path.join(folder, "*.weights"))
    if len(paths) != 1:
        fail(f"{folder}: expected one .weights file, found {len(paths)}")
    times = loop_times(os.path.join(folder, "log.lammps"))
    if len(times) < 3:
        fail(f"{folder}/log.lammps: the training or mapping run did not finish")
    training, mapping = times[-2][0], times[-1][0]
    rows = []
    for label, frames, ress, e, de, cv, dcv in weights_rows(paths[0], atoms, temperature,
                                                            blocks):
        effective = frames * ress
        cpu = mapping + (training if label == "flow" else 0.0)
        rows.append({"run": f"{os.path.basename(folder)} {label}", "T": temperature,
                     "frames": frames, "E": e, "dE": de, "cV": cv, "dcV": dcv,
                     "tau": float("nan"), "block_tau": float("nan"), "ress": ress,
                     "effective": effective, "cpu": cpu, "cpu_per_sample": cpu / effective,
                     "note": f"train {training:.0f} s" if label == "flow" else ""})
    return rows


def runs_of(out):
    """Run folders of OUT, by temperature (descending), then md, swap, flow."""
    order = {"md": 0, "swap": 1, "flow": 2}
    found = []
    for path in glob.glob(os.path.join(out, "*_*")):
        kind, _, temperature = os.path.basename(path).partition("_")
        if kind in order and os.path.exists(os.path.join(path, "info")):
            found.append((-float(temperature), order[kind], path, kind))
    return [(path, kind) for _, _, path, kind in sorted(found)]


def table(args):
    rows = []
    for path, kind in runs_of(args.out):
        rows.extend(flow_rows(path, args.blocks) if kind == "flow"
                    else [reference_row(path, args.blocks)])
    if not rows:
        fail(f"{args.out}: no md_<T>, swap_<T> or flow_<T> folders with an info file")
    print(f"{'run':<20} {'T':>5} {'frames':>7} {'<E_pot>/N':>20} {'c_V/N':>17} "
          f"{'tau_E':>9} {'RESS':>9} {'n_eff':>8} {'CPU s':>8} {'CPU s/eff':>10}  note")
    for r in rows:
        print(f"{r['run']:<20} {r['T']:5.3g} {r['frames']:7d} {r['E']:11.5f} +- {r['dE']:.5f} "
              f"{r['cV']:8.3f} +- {r['dcV']:.3f} {r['tau']:9.3g} {r['ress']:9.3g} "
              f"{r['effective']:8.1f} {r['cpu']:8.1f} {r['cpu_per_sample']:10.3g}  {r['note']}")
        if r["block_tau"] == r["block_tau"] and r["block_tau"] < 10:
            print(f"{'':<20} warning: a block spans only {r['block_tau']:.1f} decorrelation "
                  "times; the errors are too small and the averages may not have converged")
    print("tau_E: decorrelation time of E_pot, g x sample spacing (time units, as fix "
          "flowmap's element 21); n_eff: frames/g (references) or frames x RESS (weights); "
          "CPU s: production run (references), mapping run plus training run (flow), mapping "
          "run (identity); CPU time, not wall time")


def weights(args):
    if args.batch is not None and args.batch < 2 * args.blocks:
        fail(f"--batch {args.batch}: a batch needs at least 2 x --blocks = {2 * args.blocks} "
             "frames (half a batch is cut into --blocks blocks for its errors)")
    reference = args.reference

    def z_text(e, de, cv, dcv):
        if reference is None:
            return ""
        e_ref, de_ref, cv_ref, dcv_ref = reference
        return (f" {(e - e_ref) / math.hypot(de, de_ref):+7.2f}"
                f" {(cv - cv_ref) / math.hypot(dcv, dcv_ref):+7.2f}")

    width = 9 if args.batch is None else 21    # batch rows: label and frame range

    def print_row(label, frames, ress, e, de, cv, dcv):
        print(f"{label:<{width}} {frames:7d} {ress:10.4g} {e:12.5f} +- {de:.5f} "
              f"{cv:8.3f} +- {dcv:.3f}{z_text(e, de, cv, dcv)}")

    z_head = f" {'z E':>7} {'z c_V':>7}" if reference is not None else ""
    print(f"{'':<{width}} {'frames':>7} {'RESS':>10} {'<E_pot>/N':>22} {'c_V/N':>18}{z_head}")
    data, sizes = read_pooled_weights(args.file)
    pooled = estimate_rows(data, args.atoms, args.temperature, args.blocks)
    for row in pooled:
        print_row(*row)
    if args.batch is None:
        return
    bounds = batch_bounds(sizes, args.batch)
    print(f"batches of {args.batch} frames (frames counted from the first of the first file)")
    batches = {row[0]: [] for row in pooled}
    for first, end in bounds:
        part = {key: column[first:end] for key, column in data.items()}
        for row in estimate_rows(part, args.atoms, args.temperature, args.blocks):
            batches[row[0]].append(row)
            print_row(f"{row[0]} {first}-{end}", *row[1:])
    for row in pooled:
        scatter = batch_scatter(batches[row[0]], row)
        print(f"{row[0]}: {len(bounds)} batches scatter around the pooled values by "
              f"{scatter[0]:.2f} (<E_pot>) and {scatter[1]:.2f} (c_V) times their own errors")


def reweight(args):
    try:
        energy = flowmap_plot.read_weights(args.file)["u_from"]
    except flowmap_plot.Skipped as problem:
        fail(f"{problem}")
    print(f"{energy.size} frames at T = {args.source} reweighted by temperature alone")
    print(f"{'T':>6} {'RESS':>10} {'n_eff':>8} {'<E_pot>/N':>22} {'c_V/N':>18}")
    for t, ress, e, de, cv, dcv in temperature_rows(energy, args.atoms, args.source,
                                                    args.temperatures, args.blocks):
        print(f"{t:6.3g} {ress:10.4g} {ress * energy.size:8.1f} {e:12.5f} +- {de:.5f} "
              f"{cv:8.3f} +- {dcv:.3f}")


def mismatch(args):
    if len(args.states) % 5 or len(args.states) < 10:
        fail("--states takes T <E_pot>/N error c_V error for each of at least two "
             f"temperatures (groups of 5 numbers), got {len(args.states)} numbers")
    groups = [args.states[i:i + 5] for i in range(0, len(args.states), 5)]
    states = [(t, e, c) for t, e, _, c, _ in groups]
    errors = [(de, dc) for _, _, de, _, dc in groups]
    log_z = log_partition_ratio(states, args.atoms)
    d_log_z = log_partition_ratio_error(states, errors, args.atoms)
    try:
        data = flowmap_plot.read_weights(args.file)
    except flowmap_plot.Skipped as problem:
        fail(f"{problem}")
    columns = [("flow", data["log_w"])]
    if "log_w_identity" in data:
        columns.append(("identity", data["log_w_identity"]))
    print(f"ln(Z_to/Z_from) = {log_z:.3f} +- {d_log_z:.3f} by thermodynamic integration over "
          f"1/T from T = {states[0][0]:g} to {states[-1][0]:g} ({len(states)} states)")
    print(f"{'':<9} {'frames':>7} {'ln <w>':>10} {'<log w>':>20} {'KL(mapped || other)':>24}"
          f"  {'log ratio 50 %':>14} {'90 %':>6} {'99 %':>6}")
    for label, log_mean_w, mean, error, kl, quantiles in mismatch_rows(columns, log_z):
        print(f"{label:<9} {data['log_w'].size:7d} {log_mean_w:10.3f} {mean:10.3f} +- "
              f"{error:.3f} {kl:12.3f} +- {math.hypot(error, d_log_z):.3f}  "
              f"{quantiles[0]:14.2f} {quantiles[1]:6.2f} {quantiles[2]:6.2f}")
    print("ln <w> is the frames' own estimate of ln(Z_to/Z_from), biased low where the weights' "
          "tail is not sampled; KL in nats for the whole system (divide by N per atom); log "
          "ratio: percentiles over the frames of ln(Z_to/Z_from) - log w, whose mean is KL: "
          "the other direction draws a configuration of log ratio r about e^-r times as "
          "often as these frames' own state does")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("weights")
    p.add_argument("file", nargs="+")
    p.add_argument("--atoms", type=int, required=True)
    p.add_argument("--temperature", type=float, required=True)
    p.add_argument("--blocks", type=int, default=BLOCKS)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--reference", type=float, nargs=4, default=None)
    p.set_defaults(run=weights)
    p = sub.add_parser("reweight")
    p.add_argument("file")
    p.add_argument("--atoms", type=int, required=True)
    p.add_argument("--source", type=float, required=True)
    p.add_argument("--temperatures", type=float, nargs="+", required=True)
    p.add_argument("--blocks", type=int, default=BLOCKS)
    p.set_defaults(run=reweight)
    p = sub.add_parser("mismatch")
    p.add_argument("file")
    p.add_argument("--atoms", type=int, required=True)
    p.add_argument("--states", type=float, nargs="+", required=True)
    p.set_defaults(run=mismatch)
    p = sub.add_parser("table")
    p.add_argument("out")
    p.add_argument("--blocks", type=int, default=BLOCKS)
    p.set_defaults(run=table)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
