#!/usr/bin/env python3
"""Tables of bench/bench_exchange.sh, from the files its runs leave (one place for the arithmetic).

    exchange_report.py table OUT      one row per run in OUT (md, identity, flow, poor, ...):
                                      acceptance, <U_B>, the decorrelation times of U_B and
                                      of the bond-orientational order psi6 in steps and in
                                      CPU seconds, the structural relaxation time tau_Q of
                                      the overlap by species, and their gain over MD alone
    exchange_report.py exact OUT      each run's target against the reference: the swap run
                                      where there is one (the glass-former, where plain MD
                                      does not equilibrate), else plain MD of the target;
                                      <U_B>, the histogram of U_B and g(r), with the standard
                                      errors of both and the z-scores of the difference
    exchange_report.py seeds OUT...   one row per run over independent repeats (one OUT per
                                      seed): the scatter of <U_B> between seeds against the
                                      runs' own errors, and the gain over MD alone per CPU
                                      second from that scatter, which sees a slow component
                                      of U_B that a run's own autocorrelation window misses

OUT is a bench_exchange.sh results folder with one subfolder per run: samples_target.dat
(U_B every few steps, fix ave/time), frames_target.dump (positions), attempts.dat (exchange
runs: one line per attempt) and the LAMMPS logs (log.lammps, or log.lammps.0 and .1).

Errors: means use the statistical inefficiency g of the series (Sokal's window, as fix
flowmap's estimate), histograms and g(r) the spread of BLOCKS consecutive blocks, with the
correlations between bins for the probability of the differences.
"""
import argparse
import glob
import math
import os
import re
import sys

# The readers of the package's post-processing tool, so that a user's own analysis and the
# benchmark agree on what a file holds.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import flowmap_plot  # noqa: E402

BLOCKS = 20
# Runs of the benchmark in the order the tables show them; other folders follow.
ORDER = ["md", "swap", "identity", "flow", "poor"]
# Overlap: a site still holds an atom of its species within this distance (units of sigma_AA),
# the usual choice for Kob-Andersen mixtures (about a third of the nearest-neighbour distance).
OVERLAP_RADIUS = 0.3
# The null distribution of a comparison's chi2: 40 x 500 draws (in chunks, to bound memory), and
# a fixed seed so that a table repeats.
NULL_CHUNKS = 40
NULL_CHUNK = 500
NULL_SEED = 12345
# Time origins per lag for the overlap (its cost is origins x N^2 per lag).
OVERLAP_ORIGINS = 400


def fail(message):
    sys.exit(f"exchange_report.py: {message}")


def statistical_inefficiency(series, window_factor=5.0):
    """g = 1 + 2 sum rho(t) with Sokal's self-consistent window, as
    src/core/flowmap_autocorrelation.cpp (fix flowmap's estimate) computes it."""
    import numpy as np

    x = np.asarray(series, dtype=float)
    n = len(x)
    if n < 8:
        return 1.0
    d = x - x.mean()
    variance = (d * d).mean()
    if variance <= 1e-24 * max(x.mean() ** 2, 1e-300):
        return 1.0
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(d, size)
    c = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    g = 1.0
    for t in range(1, n // 2):
        g += 2.0 * c[t] / ((n - t) * variance)
        if t >= window_factor * g:
            break
    return max(g, 1.0 / n)


def mean_and_error(series):
    """Mean, its standard error (from g) and g of a correlated series."""
    import numpy as np

    x = np.asarray(series, dtype=float)
    g = statistical_inefficiency(x)
    return x.mean(), math.sqrt(x.var() * g / len(x)), g


def block_means(per_frame, blocks=BLOCKS):
    """Means of `blocks` consecutive blocks of per-frame rows [F, bins]: [blocks, bins]."""
    import numpy as np

    usable = (len(per_frame) // blocks) * blocks
    if usable == 0:
        fail(f"fewer than {blocks} frames: run longer")
    return np.asarray(per_frame[:usable]).reshape(blocks, usable // blocks, -1).mean(axis=1)


def read_samples(folder):
    """(steps, U) of the target partition's fix ave/time file."""
    path = os.path.join(folder, "samples_target.dat")
    try:
        data = flowmap_plot.read_columns(path, 2)
    except flowmap_plot.Skipped as missing:
        fail(f"{missing}")
    return data[:, 0], data[:, 1]


def read_attempts(folder):
    """[attempts, 8] of attempts.dat, None for a run without exchange."""
    path = os.path.join(folder, "attempts.dat")
    if not os.path.exists(path):
        return None
    try:
        return flowmap_plot.read_columns(path, 8)
    except flowmap_plot.Skipped:
        return None


def loop_times(log):
    """[(CPU seconds, steps)] of every run of a LAMMPS log, in order: the loop's wall time x
    MPI processes x the "% CPU use" LAMMPS reports after it, so that a run slowed down by other
    processes on the cores is charged the CPU time it used, not the time it waited."""
    if not os.path.exists(log):
        fail(f"{log}: no such file")
    with open(log) as f:
        found = re.findall(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps"
                           r"(?:.*\n){0,3}?\s*([0-9.]+)% CPU use", f.read())
    return [(float(s) * int(p) * float(use) / 100.0, int(n)) for s, p, n, use in found]


def loop_cpu_seconds(folder):
    """CPU seconds of the production run (loop_times), summed over the partitions, and its
    number of steps. The production run is the last run of each log."""
    logs = sorted(glob.glob(os.path.join(folder, "log.lammps.*"))) or \
        [os.path.join(folder, "log.lammps")]
    total, steps = 0.0, None
    for log in logs:
        found = loop_times(log)
        if not found:
            fail(f"{log}: no 'Loop time' and '% CPU use' lines (did the run finish?)")
        seconds, steps = found[-1]
        total += seconds
    return total, steps


def psi6(positions, box):
    """Global hexatic order |<exp(6 i theta)>| of 2D frames [F, N, 2], each atom's six nearest
    neighbours (minimum image)."""
    import numpy as np

    values = np.empty(len(positions))
    for f, (x, b) in enumerate(zip(positions, box)):
        delta = x[None, :, :] - x[:, None, :]
        delta -= b * np.round(delta / b)
        r2 = (delta ** 2).sum(-1)
        np.fill_diagonal(r2, np.inf)
        nearest = np.argsort(r2, axis=1)[:, :6]
        d = np.take_along_axis(delta, nearest[:, :, None], axis=1)
        local = np.exp(6j * np.arctan2(d[..., 1], d[..., 0])).mean(axis=1)
        values[f] = abs(local.mean())
    return values


def overlap(positions, box, lags, types=None, origins=OVERLAP_ORIGINS):
    """Normalised overlap q(t) = (Q(t) - Q_inf) / (1 - Q_inf) at the given lags (frames).

    Q(t): the fraction of sites, each atom's position and species at a time origin t0, that
    at t0 + t hold an atom of the same species within the overlap radius a, averaged over up
    to `origins` evenly spaced time origins. Atoms of one species are interchangeable, so the
    overlap sees neither swap moves (which exchange types between atoms) nor exchanges of
    identical atoms, only a change of structure. The drift of the whole configuration (the
    mean minimum-image displacement of the atoms by ID) is removed first: velocity redraws at
    exchanges give the centre of mass a momentum, which MD then conserves, and a drifting
    but arrested configuration would otherwise look relaxed. Q_inf is what the same sites
    hold in a random configuration, sum over species of (N_s / N) N_s pi a^2 / V in 2D.
    q stays near 1 while the atoms rattle in their cages and falls to 0 once the structure
    has relaxed, also through exchanges, which replace the whole configuration."""
    import numpy as np

    frames, n, _ = positions.shape
    species = np.zeros((frames, n), dtype=int) if types is None else np.asarray(types, int)
    counts = np.bincount(species[0])
    area = np.prod(box, axis=1).mean()
    q_inf = (counts.astype(float) ** 2).sum() / n * math.pi * OVERLAP_RADIUS ** 2 / area
    q = []
    for lag in lags:
        t0 = np.unique(np.linspace(0, frames - lag - 1, min(origins, frames - lag)).astype(int))
        b = box[t0 + lag][:, None, None, :]
        drift = positions[t0 + lag] - positions[t0]
        drift -= box[t0 + lag][:, None, :] * np.round(drift / box[t0 + lag][:, None, :])
        drift = drift.mean(axis=1)
        # d[o, i, j]: atom j at t0 + lag, less the drift, from site i at t0
        d = (positions[t0 + lag][:, None, :, :] - drift[:, None, None, :]
             - positions[t0][:, :, None, :])
        d -= b * np.round(d / b)
        near = (d ** 2).sum(-1) < OVERLAP_RADIUS ** 2
        same = species[t0][:, :, None] == species[t0 + lag][:, None, :]
        q.append((near & same).any(axis=2).mean())
    return (np.asarray(q) - q_inf) / (1.0 - q_inf)


def relaxation_time(positions, box, interval, types=None):
    """tau_Q: the time (steps) at which the overlap falls to 1/e (log-interpolated between
    lags spaced by 10 % up to a quarter of the run), and False; or the longest lag and True
    when it has not fallen that far (tau_Q is then only bounded from below)."""
    import numpy as np

    frames = len(positions)
    lags = np.unique(np.round(np.logspace(0, math.log10(max(frames // 4, 2)), 80)).astype(int))
    q = overlap(positions, box, lags, types)
    below = np.nonzero(q < math.exp(-1.0))[0]
    if len(below) == 0:
        return lags[-1] * interval, True
    i = below[0]
    if i == 0:
        return lags[0] * interval, False
    # linear in log(lag) between the last lag above 1/e and the first below
    f = (q[i - 1] - math.exp(-1.0)) / (q[i - 1] - q[i])
    return math.exp(math.log(lags[i - 1]) + f * math.log(lags[i] / lags[i - 1])) * interval, False


class Run:
    """What one run folder holds, reduced to the quantities of the tables."""

    def __init__(self, folder):
        import numpy as np

        self.name = os.path.basename(os.path.normpath(folder))
        self.folder = folder
        self.steps, self.energy = read_samples(folder)
        self.sample_interval = float(self.steps[1] - self.steps[0]) if len(self.steps) > 1 else 1
        # types: the species of each atom in each frame (swap moves change them); None: one
        try:
            dump_steps, self.box, self.positions, _, self.types = flowmap_plot.dump_positions(
                os.path.join(folder, "frames_target.dump"), with_types=True)
        except flowmap_plot.Skipped as missing:
            fail(f"{missing}")
        self.dump_interval = float(dump_steps[1] - dump_steps[0]) if len(dump_steps) > 1 else 1
        self.attempts = read_attempts(folder)
        self.cpu, self.run_steps = loop_cpu_seconds(folder)
        self.psi6 = psi6(self.positions, self.box)
        self.mean_u, self.error_u, g_u = mean_and_error(self.energy)
        self.tau_u = g_u * self.sample_interval
        _, _, g_psi = mean_and_error(self.psi6)
        self.tau_psi6 = g_psi * self.dump_interval
        self.tau_q, self.tau_q_bound = relaxation_time(self.positions, self.box,
                                                       self.dump_interval, self.types)
        self.cpu_per_step = self.cpu / self.run_steps
        if self.attempts is not None:
            accepted = self.attempts[:, 4]
            p = np.minimum(1.0, np.exp(self.attempts[:, 3]))
            p_identity = np.minimum(1.0, np.exp(self.attempts[:, 5]))
            self.rate, self.rate_error, _ = mean_and_error(accepted)
            self.probability, self.probability_error, _ = mean_and_error(p)
            self.probability_identity, self.probability_identity_error, _ = \
                mean_and_error(p_identity)


def runs_of(out):
    folders = [f for f in glob.glob(os.path.join(out, "*")) if
               os.path.exists(os.path.join(f, "samples_target.dat"))]
    if not folders:
        fail(f"{out}: no run folders (with samples_target.dat)")
    rank = {name: i for i, name in enumerate(ORDER)}
    folders.sort(key=lambda f: (rank.get(os.path.basename(f), len(ORDER)), f))
    return [Run(f) for f in folders]


def table(args):
    runs = runs_of(args.out)
    md = next((r for r in runs if r.name == "md"), None)
    print(f"{'run':<10} {'attempts':>8} {'accepted':>16} {'<min(1,a)>':>16} "
          f"{'identity <min(1,a)>':>20} {'<U_B>':>20} {'tau_U':>8} {'tau_psi6':>9} "
          f"{'tau_Q':>10} {'CPU us/step':>11} {'tau_U CPU s':>11} {'tau_psi6 CPU s':>14} "
          f"{'tau_Q CPU s':>12} {'gain U':>7} {'gain psi6':>9} {'gain Q':>9}")
    for r in runs:
        if r.attempts is not None:
            acceptance = (f"{len(r.attempts):>8} {r.rate:>8.4f}+-{r.rate_error:<6.4f} "
                          f"{r.probability:>8.4f}+-{r.probability_error:<6.4f} "
                          f"{r.probability_identity:>12.5f}+-{r.probability_identity_error:<6.5f}")
        else:
            acceptance = f"{'-':>8} {'-':>16} {'-':>16} {'-':>20}"
        cpu_u, cpu_psi6 = r.tau_u * r.cpu_per_step, r.tau_psi6 * r.cpu_per_step
        cpu_q = r.tau_q * r.cpu_per_step
        # a bound on MD's tau_Q bounds the gain from below, a bound on the run's from above
        q_mark = ">" if r.tau_q_bound else ""
        if md is not None and r is not md:
            gain_q = md.tau_q * md.cpu_per_step / cpu_q
            gain_mark = ("?" if md.tau_q_bound and r.tau_q_bound else
                         ">" if md.tau_q_bound else "<" if r.tau_q_bound else "")
            gains = (f"{md.tau_u * md.cpu_per_step / cpu_u:>7.2f} "
                     f"{md.tau_psi6 * md.cpu_per_step / cpu_psi6:>9.2f} "
                     f"{gain_mark + f'{gain_q:.3g}':>9}")
        elif r is md:
            gains = f"{1:>7.2f} {1:>9.2f} {1:>9.2f}"
        else:
            gains = f"{'-':>7} {'-':>9} {'-':>9}"
        print(f"{r.name:<10} {acceptance} {r.mean_u:>11.4f}+-{r.error_u:<7.4f} "
              f"{r.tau_u:>8.1f} {r.tau_psi6:>9.1f} {q_mark + f'{r.tau_q:.4g}':>10} "
              f"{1e6 * r.cpu_per_step:>11.2f} {cpu_u:>11.5f} {cpu_psi6:>14.5f} "
              f"{q_mark + f'{cpu_q:.4g}':>12} {gains}")
    print("tau: decorrelation time in steps (U, psi6: statistical inefficiency x sampling "
          "interval; Q: where the overlap of the structure, by species and without the drift "
          "of the whole configuration, falls to 1/e, '>' if it had not by a quarter of the "
          f"run; overlap radius {OVERLAP_RADIUS}); CPU s: tau x CPU seconds per step of all "
          "processes of the run; gain: MD's CPU seconds per independent sample over the run's")


def histogram_per_frame(values, edges):
    """One normalised histogram per sample, for blocking: [F, bins]."""
    import numpy as np

    index = np.digitize(values, edges) - 1
    inside = (index >= 0) & (index < len(edges) - 1)
    out = np.zeros((len(values), len(edges) - 1))
    out[np.nonzero(inside)[0], index[inside]] = 1.0 / np.diff(edges)[index[inside]]
    return out


def rdf_per_frame(run, edges):
    """g(r) of each frame [F, bins] (flowmap_plot.rdf of one frame at a time)."""
    import numpy as np

    bins = len(edges) - 1
    out = np.empty((len(run.positions), bins))
    for f in range(len(run.positions)):
        _, g = flowmap_plot.rdf(run.positions[f:f + 1], run.box[f:f + 1], bins=bins)
        out[f] = g
    return out


def difference_variance(blocks_a, blocks_b):
    """Variance of the difference of two runs' blocked means, bins last: [..., blocks, bins]."""
    return (blocks_a.var(axis=-2, ddof=1) / blocks_a.shape[-2]
            + blocks_b.var(axis=-2, ddof=1) / blocks_b.shape[-2])


def difference_z(blocks_a, blocks_b):
    """z-scores of the difference of two runs' blocked means, bins last: [..., blocks, bins]."""
    import numpy as np

    return ((blocks_a.mean(axis=-2) - blocks_b.mean(axis=-2))
            / np.sqrt(difference_variance(blocks_a, blocks_b)))


def compare(name, blocks_a, blocks_b, min_error=0.0):
    """Two runs' blocked means [blocks, bins] against each other, over bins whose combined error
    is above min_error: chi2/dof of the z-scores, max |z|, the effective number of independent
    bins and p, the probability of a larger chi2 if both sample the same distribution.

    Neighbouring bins of a histogram or of g(r) move together (one configuration shifts many
    bins at once), so chi2/dof over n correlated bins scatters far more than over n
    independent ones and a value of 2 need not mean a difference. And each z divides by an
    error that the blocks only estimate, which widens its distribution (Student's t). p
    therefore comes from a parametric bootstrap of the whole comparison: blocks drawn from
    Gaussians with each run's covariance between bins as its blocks give it, and the same
    chi2 computed from them, estimated errors included."""
    import numpy as np

    error = np.sqrt(difference_variance(blocks_a, blocks_b))
    keep = error > min_error
    blocks_a, blocks_b = blocks_a[:, keep], blocks_b[:, keep]
    z = difference_z(blocks_a, blocks_b)
    chi2 = float(np.sum(z ** 2))
    # Rows of xi @ factor, xi standard normal, have the covariance factor^T factor: the run's.
    factor_a = (blocks_a - blocks_a.mean(axis=0)) / math.sqrt(len(blocks_a) - 1)
    factor_b = (blocks_b - blocks_b.mean(axis=0)) / math.sqrt(len(blocks_b) - 1)
    covariance = factor_a.T @ factor_a / len(blocks_a) + factor_b.T @ factor_b / len(blocks_b)
    correlation = covariance / np.outer(error[keep], error[keep])
    lambdas = np.clip(np.linalg.eigvalsh(correlation), 0.0, None)
    effective = lambdas.sum() ** 2 / (lambdas ** 2).sum()
    rng = np.random.default_rng(NULL_SEED)
    larger = 0
    for _ in range(NULL_CHUNKS):
        draw_a = rng.standard_normal((NULL_CHUNK, len(blocks_a), len(blocks_a))) @ factor_a
        draw_b = rng.standard_normal((NULL_CHUNK, len(blocks_b), len(blocks_b))) @ factor_b
        larger += int(np.sum(np.sum(difference_z(draw_a, draw_b) ** 2, axis=-1) >= chi2))
    p = larger / (NULL_CHUNKS * NULL_CHUNK)
    return (f"{name} chi2/dof {chi2 / keep.sum():.2f} ({keep.sum()} bins, {effective:.1f} "
            f"independent) max|z| {np.abs(z).max():.2f} p {p:.3f}")


def exact(args):
    import numpy as np

    runs = runs_of(args.out)
    md = next((r for r in runs if r.name == "swap"), None) or \
        next((r for r in runs if r.name == "md"), None)
    if md is None:
        fail(f"{args.out}: no md or swap run to compare with")
    lo, hi = np.percentile(md.energy, [0.5, 99.5])
    edges = np.linspace(lo, hi, 31)
    h_md = block_means(histogram_per_frame(md.energy, edges))
    r_max = 0.5 * md.box.min()
    r_edges = np.linspace(0.0, r_max, 61)
    g_md = block_means(rdf_per_frame(md, r_edges))
    what = "swap MC at the target" if md.name == "swap" else "plain MD of the target"
    print(f"reference, {what}: <U_B> {md.mean_u:.4f} +- {md.error_u:.4f} "
          f"({len(md.energy)} samples, {len(md.positions)} frames)")
    for r in runs:
        if r is md:
            continue
        z = (r.mean_u - md.mean_u) / math.hypot(r.error_u, md.error_u)
        h = block_means(histogram_per_frame(r.energy, edges))
        g = block_means(rdf_per_frame(r, r_edges))
        print(f"{r.name:<10} <U_B> {r.mean_u:.4f} +- {r.error_u:.4f} (z {z:+.2f}) | "
              f"{compare('U_B histogram', h, h_md)} | "
              f"{compare('g(r)', g, g_md, 1e-6)}")
    print(f"errors: U_B from its statistical inefficiency; histogram (30 bins over MD's 0.5-99.5 "
          f"percentiles) and g(r) (60 bins to L/2) from {BLOCKS} blocks, with their correlations "
          f"between bins; exact sampling gives p spread evenly over 0 to 1, a difference p "
          f"near 0")


def seeds(args):
    """<U_B> over independent repeats: a run's true error of the mean is the scatter between
    seeds, whatever its autocorrelation function shows within one run; the gain per CPU second
    is then MD's variance x CPU time per step over the run's, with a 95 % interval from
    resampling the seeds."""
    import numpy as np

    by_name = {}
    for out in args.outs:
        for folder in sorted(glob.glob(os.path.join(out, "*"))):
            if not os.path.exists(os.path.join(folder, "samples_target.dat")):
                continue
            _, energy = read_samples(folder)
            mean, error, _ = mean_and_error(energy)
            cpu, steps = loop_cpu_seconds(folder)
            by_name.setdefault(os.path.basename(folder), []).append((mean, error, cpu / steps))
    if "md" not in by_name:
        fail("no md run among the folders: the gain is measured against plain MD")
    rank = {name: i for i, name in enumerate(ORDER)}
    names = sorted(by_name, key=lambda n: (rank.get(n, len(ORDER)), n))
    rng = np.random.default_rng(args.bootstrap_seed)

    def cost(rows, picks):
        """Variance between the picked seeds x CPU seconds per step (CPU seconds per
        independent <U_B>, up to a constant), one value per row of picks."""
        return rows[picks, 0].var(axis=-1, ddof=1) * rows[:, 2].mean()

    def resamples(rows):
        return rng.integers(0, len(rows), size=(args.draws, len(rows)))

    md_rows = np.asarray(by_name["md"])
    md_cost = cost(md_rows, np.arange(len(md_rows)))
    print(f"{'run':<10} {'seeds':>5} {'<U_B> over seeds':>22} {'std between seeds':>17} "
          f"{'rms own error':>13} {'ratio':>6} {'CPU us/step':>11} {'gain per CPU s':>14} "
          f"{'95 % interval':>15}")
    for name in names:
        rows = np.asarray(by_name[name])
        if len(rows) < 3:
            fail(f"run {name}: {len(rows)} seeds; the scatter needs at least 3")
        std = rows[:, 0].std(ddof=1)
        own = math.sqrt((rows[:, 1] ** 2).mean())
        if name == "md":
            gain, interval = "1", "-"
        else:
            # a resample that drew one seed only has no variance: 0/0 says nothing, drop it
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = cost(md_rows, resamples(md_rows)) / cost(rows, resamples(rows))
            lo, hi = np.percentile(ratios[~np.isnan(ratios)], [2.5, 97.5])
            gain = md_cost / cost(rows, np.arange(len(rows)))
            gain, interval = f"{gain:.2f}", f"{lo:.2f} to {hi:.2f}"
        print(f"{name:<10} {len(rows):>5} {rows[:, 0].mean():>12.4f} +- "
              f"{std / math.sqrt(len(rows)):<7.4f} {std:>17.4f} {own:>13.4f} {std / own:>6.2f} "
              f"{1e6 * rows[:, 2].mean():>11.2f} {gain:>14} {interval:>15}")
    print("ratio: scatter between seeds over the runs' own errors (statistical inefficiency), "
          "near 1 when a run's window sees all its correlation; gain: MD's variance between "
          "seeds x CPU time per step over the run's, so CPU seconds per independent <U_B>; "
          "interval from resampling each run's seeds")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, function in (("table", table), ("exact", exact)):
        p = sub.add_parser(name)
        p.add_argument("out")
        p.set_defaults(function=function)
    p = sub.add_parser("seeds")
    p.add_argument("outs", nargs="+", metavar="out")
    p.add_argument("--draws", type=int, default=4000, help="resamples for the interval")
    p.add_argument("--bootstrap-seed", type=int, default=1)
    p.set_defaults(function=seeds)
    args = parser.parse_args()
    args.function(args)


if __name__ == "__main__":
    main()
