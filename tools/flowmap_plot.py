#!/usr/bin/env python3
"""Tables and plots from USER-FLOWMAP outputs, for the examples and for your own runs.

Subcommands:

  report  the main job's summary (examples/lammps_inputs/in.wca2lj): the RESS table
          (identity / flow / ratio, both directions, with errors), the free energy from
          each direction and, from both together, Bennett's acceptance ratio, for the flow
          and for the identity on the same frames, with a warning when the two Bennett
          estimates disagree beyond 3 errors; and PNG plots: target-energy histograms
          and radial distribution functions (identity, raw mapped, reweighted, reference MD)
          for A->B and B->A, and the training curves (losses, validation RESS and KL gain
          against optimizer step).
  ress    RESS, free energy and their bootstrap errors recomputed from per-frame weight
          files of compute ress (a check independent of LAMMPS).
  bar     the free energy from per-frame files of both directions: the two one-sided
          estimates and Bennett's acceptance ratio, flow and identity, with errors, and the
          flow's Bennett estimate minus the identity's on the same frames (zero on exact
          samples; a warning beyond 3 errors, exit status 3 with --check).
  scan    state-point scan table of compute ress (rho T ress frames free_energy) -> PNG heat
          map of the identity-baseline RESS over target (density, temperature), with the best
          density per temperature (the ridge rho_max(T)) marked.

Input files (all written by the wca2lj inputs; the same commands give them for any run):
  *.weights      compute ress ... file: step U_from U_to log_w [U_to_identity log_w_identity]
  *.dump         dump custom ... id x y [z] f_ID[1] f_ID[2] [f_ID[3]]: frames and their images
  *.sets         one line per set: set frames RESS err RESS_id err F err F_id err
  training.curve fix ave/time of fix flowmap's vector: TimeStep and elements 1-12, 14-17
                 and 22-23 (the KL gains; curves without them are plotted without that panel)

Missing or truncated files are reported and skipped: what can be made is made, and the exit
status is 1 if anything was skipped.

Usage: flowmap_plot.py report [--dir DIR] [--output DIR] [--system NAME]
                              [--densities RHO_A RHO_B] [--temperatures T_A T_B]
                              [--no-training] [--bootstrap N]
       flowmap_plot.py ress FILE [FILE ...] [--bootstrap N]
       flowmap_plot.py bar --forward FILE [FILE ...] --inverse FILE [FILE ...] [--bootstrap N]
                           [--check]
       flowmap_plot.py scan TABLE -o scan.png [--mark RHO T [--mark ...]] [--linear]
Needs numpy and matplotlib (Debian: python3-numpy python3-matplotlib).
"""

import argparse
import glob
import math
import os
import sys

# Published values for system I (doc/method.md section 7): mean of 10 sets of 5e4 frames.
PUBLISHED = {"I": {"forward": (7.15e-3, 4.04e-2), "inverse": (9.32e-4, 6.60e-3)}}


class Skipped(Exception):
    """An input is missing or unusable; the message says which and why."""


# ----------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------

def read_columns(path, min_columns):
    """Rows of a whitespace table (comments skipped) as a float array [rows, columns].

    A last line cut short by a run that was still writing is dropped with a warning.
    """
    import numpy as np

    if not os.path.exists(path):
        raise Skipped(f"{path}: no such file")
    rows, width = [], None
    with open(path) as table:
        lines = [line for line in table if line.strip() and not line.lstrip().startswith("#")]
    for number, line in enumerate(lines):
        fields = line.split()
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = None
        if values is None or len(values) < min_columns or (width and len(values) != width):
            if number == len(lines) - 1 and rows:
                warn(f"{path}: last line incomplete, ignored")
                break
            raise Skipped(f"{path}: line {number + 1} is not {width or min_columns} numbers: "
                          f"{line.strip()[:60]!r}")
        width = width or len(values)
        rows.append(values)
    if not rows:
        raise Skipped(f"{path}: no data rows")
    return np.array(rows)


def read_weights(path):
    """Per-frame weights of compute ress: dict of column arrays."""
    data = read_columns(path, 4)
    out = {"step": data[:, 0], "u_from": data[:, 1], "u_to": data[:, 2], "log_w": data[:, 3]}
    if data.shape[1] >= 6:
        out["u_to_identity"], out["log_w_identity"] = data[:, 4], data[:, 5]
    return out


def read_weight_sets(directory, prefix, sets=None):
    """PREFIX_<set>.weights of a folder, concatenated in set order.

    sets: the set numbers to read (those of the run's .sets table, so that files left by an
    earlier run with more sets are not mixed in); None: every such file.
    """
    import numpy as np

    if sets is None:
        found = glob.glob(os.path.join(directory, f"{prefix}_*.weights"))
        sets = sorted(int(m) for m in (os.path.basename(p)[len(prefix) + 1:-8] for p in found)
                      if m.isdigit())
    if not sets:
        raise Skipped(f"{directory}: no {prefix}_*.weights files")
    parts = [read_weights(os.path.join(directory, f"{prefix}_{int(k)}.weights")) for k in sets]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def read_dump(path):
    """Frames of a LAMMPS dump custom file: (steps, box [frames, d], columns, data).

    data is [frames, atoms, columns] sorted by atom id; a frame cut short at the end of the
    file (a run still writing, or killed) is dropped with a warning.
    """
    import numpy as np

    if not os.path.exists(path):
        raise Skipped(f"{path}: no such file")
    steps, boxes, frames, columns = [], [], [], None
    with open(path) as dump:
        lines = dump.read().split("\n")
    i, n = 0, len(lines)
    while i < n:
        if not lines[i].startswith("ITEM: TIMESTEP"):
            i += 1
            continue
        try:
            step = int(lines[i + 1])
            atoms = int(lines[i + 3])
            bounds = [[float(v) for v in lines[i + 5 + k].split()[:2]] for k in range(3)]
            header = lines[i + 8].split()[2:]
            block = lines[i + 9:i + 9 + atoms]
            if len(block) < atoms or (block and not block[-1].strip()):
                raise IndexError
            values = np.array([[float(v) for v in row.split()] for row in block])
            if values.shape != (atoms, len(header)):
                raise IndexError
        except (IndexError, ValueError):
            warn(f"{path}: frame at line {i + 1} incomplete, ignored (and what follows)")
            break
        if columns is None:
            columns = header
        elif header != columns:
            raise Skipped(f"{path}: columns change at step {step}")
        if "id" in columns:
            values = values[np.argsort(values[:, columns.index("id")])]
        steps.append(step)
        boxes.append([b[1] - b[0] for b in bounds])
        frames.append(values)
        i += 9 + atoms
    if not frames:
        raise Skipped(f"{path}: no complete frames")
    return np.array(steps), np.array(boxes), columns, np.array(frames)


def dump_positions(path, with_types=False):
    """(steps, box [frames, d], positions [frames, atoms, d], images [frames, atoms, d]), and
    with with_types the type column [frames, atoms] as well (None if absent).

    images are the f_*[k] columns (fix flowmap's mapped positions), None if absent.
    """
    steps, box, columns, data = read_dump(path)
    axes = [c for c in ("x", "y", "z") if c in columns]
    if not axes:
        raise Skipped(f"{path}: no x y columns")
    d = len(axes)
    mapped = [c for c in columns if c.startswith("f_")]
    positions = data[:, :, [columns.index(c) for c in axes]]
    images = data[:, :, [columns.index(c) for c in mapped[:d]]] if len(mapped) >= d else None
    if with_types:
        types = data[:, :, columns.index("type")] if "type" in columns else None
        return steps, box[:, :d], positions, images, types
    return steps, box[:, :d], positions, images


def read_sets(path):
    """Per-set table of the wca2lj inputs: [sets, 10]."""
    return read_columns(path, 10)


def warn(message):
    print(f"flowmap_plot: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------------------
# statistics (the same formulas as the package's flowmap_weights.cpp, in float64)
# ----------------------------------------------------------------------------------------

def normalized_weights(log_w):
    import numpy as np

    log_w = np.asarray(log_w, dtype=np.float64)
    w = np.exp(log_w - np.max(log_w))
    return w / w.sum()


def kish_ress(log_w):
    import numpy as np

    log_w = np.asarray(log_w, dtype=np.float64)
    if log_w.size == 0:
        return 0.0
    w = np.exp(log_w - np.max(log_w))
    return float(w.sum() ** 2 / (log_w.size * (w * w).sum()))


def free_energy(log_w):
    import numpy as np

    log_w = np.asarray(log_w, dtype=np.float64)
    top = np.max(log_w)
    return float(-(top + np.log(np.mean(np.exp(log_w - top)))))


def bootstrap(statistic, log_w, resamples=100, seed=1):
    import numpy as np

    rng = np.random.default_rng(seed)
    log_w = np.asarray(log_w, dtype=np.float64)
    values = [statistic(log_w[rng.integers(0, log_w.size, log_w.size)])
              for _ in range(resamples)]
    return float(np.std(values, ddof=1)) if resamples > 1 else 0.0


def _log_fermi(x):
    """log(1 / (1 + exp(x))), without overflow for any x (float64 arrays)."""
    import numpy as np

    return -np.logaddexp(0.0, x)


def _log_sum_exp(values):
    import numpy as np

    top = np.max(values)
    if not np.isfinite(top):
        return top
    return float(top + np.log(np.sum(np.exp(values - top))))


def _bar_terms(log_w_forward, log_w_backward, delta):
    """Bennett's two sums at delta, as logs of their terms (see bar())."""
    import numpy as np

    m = math.log(log_w_forward.size / log_w_backward.size)
    forward = _log_fermi(m - log_w_forward - delta)
    backward = _log_fermi(-m - log_w_backward + delta)
    return forward, backward


def _bar_residual(log_w_forward, log_w_backward, delta):
    """(g, g') with g = log(forward sum) - log(backward sum), increasing in delta."""
    import numpy as np

    forward, backward = _bar_terms(log_w_forward, log_w_backward, delta)
    lse_f, lse_b = _log_sum_exp(forward), _log_sum_exp(backward)
    # d/d delta of a term s = 1 / (1 + exp(a)) with a = m - lw - delta is s (1 - s); of the
    # backward terms minus the same; 1 - s = exp(log_fermi(-a)) = 1 - exp(log s).
    slope = (np.sum(np.exp(forward - lse_f) * -np.expm1(forward)) +
             np.sum(np.exp(backward - lse_b) * -np.expm1(backward)))
    return lse_f - lse_b, float(slope)


def _checked_log_weights(log_w, what):
    import numpy as np

    log_w = np.asarray(log_w, dtype=np.float64).ravel()
    if log_w.size == 0:
        raise ValueError(f"Bennett acceptance ratio: no {what} log-weights")
    if np.isnan(log_w).any() or np.isposinf(log_w).any():
        raise ValueError(f"Bennett acceptance ratio: {what} log-weights hold NaN or +inf")
    if np.isneginf(log_w).all():
        raise ValueError(f"Bennett acceptance ratio: every {what} weight is 0")
    return log_w


def bar(log_w_forward, log_w_backward, tolerance=1e-12, max_iterations=200):
    """Bennett acceptance ratio estimate of beta_B F_B - beta_A F_A (reduced).

    log_w_forward: log-weights of frames of A mapped to B (log-determinant included), whose
    one-sided estimate is free_energy(log_w_forward) = -log<w_F>; log_w_backward: log-weights
    of frames of B mapped back to A, whose one-sided estimate of the same difference is
    +log<w_B> = -free_energy(log_w_backward). The estimate is the root delta of

        sum_i 1 / (1 + (n_F / n_B) exp(-lw_F,i - delta))
          = sum_j 1 / (1 + (n_B / n_F) exp(-lw_B,j + delta)),

    Bennett's equation with the works W_F = -lw_F and W_B = -lw_B (doc/method.md section 4).
    The left side grows and the right side falls with delta, so the root is unique; it is
    found in float64 on the logs of both sides by Newton steps kept inside a bracket
    (bisection when a step leaves it). Weights of 0 (log w = -inf) are allowed; NaN or +inf,
    an empty direction or one with every weight 0 raise ValueError.
    """
    import numpy as np

    lw_f = _checked_log_weights(log_w_forward, "forward")
    lw_b = _checked_log_weights(log_w_backward, "backward")
    one_sided = (free_energy(lw_f), -free_energy(lw_b))
    guess = 0.5 * (one_sided[0] + one_sided[1])
    step = max(1.0, abs(one_sided[0] - one_sided[1]))
    lo = hi = guess
    for _ in range(max_iterations):
        if _bar_residual(lw_f, lw_b, lo)[0] <= 0.0:
            break
        lo -= step
        step *= 2.0
    for _ in range(max_iterations):
        if _bar_residual(lw_f, lw_b, hi)[0] >= 0.0:
            break
        hi += step
        step *= 2.0
    x = guess
    for _ in range(max_iterations):
        g, slope = _bar_residual(lw_f, lw_b, x)
        if g == 0.0:
            return float(x)
        if g > 0.0:
            hi = x
        else:
            lo = x
        if slope > 0.0 and abs(g / slope) <= tolerance * (1.0 + abs(x)):
            return float(x - g / slope)
        proposed = x - g / slope if slope > 0.0 else 0.5 * (lo + hi)
        if not lo < proposed < hi:
            proposed = 0.5 * (lo + hi)
        x = proposed
        if hi - lo <= tolerance * (1.0 + abs(x)):
            return float(x)
    raise ValueError("Bennett acceptance ratio: no convergence")


def bar_asymptotic_error(log_w_forward, log_w_backward, delta=None):
    """Large-sample standard error of bar() (Shirts, Bair, Hooker, Pande 2003):

        var = (1/N) [ <1 / (2 + 2 cosh(M + W - delta))>^-1 - N/n_F - N/n_B ]

    with N = n_F + n_B, M = log(n_F / n_B), the average over the N values W = -lw_F,i and
    W = lw_B,j. It assumes independent frames and enough overlap; with few frames carrying
    the weights it underestimates, like every error of heavy-tailed weights.
    """
    import numpy as np

    lw_f = _checked_log_weights(log_w_forward, "forward")
    lw_b = _checked_log_weights(log_w_backward, "backward")
    if delta is None:
        delta = bar(lw_f, lw_b)
    forward, backward = _bar_terms(lw_f, lw_b, delta)
    # 1 / (2 + 2 cosh a) = s (1 - s) for s = 1 / (1 + exp(a)), and cosh is even
    m = math.log(lw_f.size / lw_b.size)
    overlap = (np.sum(np.exp(forward + _log_fermi(-(m - lw_f - delta)))) +
               np.sum(np.exp(backward + _log_fermi(-(-m - lw_b + delta)))))
    n_f, n_b = lw_f.size, lw_b.size
    n = n_f + n_b
    if overlap <= 0.0:
        return float("inf")
    variance = (n / overlap - n / n_f - n / n_b) / n
    return math.sqrt(max(variance, 0.0))


def bar_bootstrap(log_w_forward, log_w_backward, resamples=100, seed=1):
    """Bootstrap error of bar(): both directions' frames resampled independently."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lw_f = _checked_log_weights(log_w_forward, "forward")
    lw_b = _checked_log_weights(log_w_backward, "backward")
    values = []
    for _ in range(resamples):
        f = lw_f[rng.integers(0, lw_f.size, lw_f.size)]
        b = lw_b[rng.integers(0, lw_b.size, lw_b.size)]
        if np.isneginf(f).all() or np.isneginf(b).all():
            continue
        values.append(bar(f, b))
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


# How far apart, in errors of their difference, the flow's and the identity's Bennett
# estimates of the same frames may lie before the tools call it a disagreement.
AGREEMENT_ERRORS = 3.0


def bar_difference(flow, identity, resamples=100, seed=1):
    """Bennett's estimate from the flow's log-weights minus the identity's, on the same frames.

    flow, identity: (forward, backward) log-weight arrays, identity[k][i] belonging to the
    same frame as flow[k][i]. On exact samples of A and B both converge to the same free
    energy, so the difference estimates zero: an offset in the flow's log-determinant, a
    map that is not a bijection of the configuration space, or frames that are not exact
    samples of the two states (doc/design.md section 9) make it nonzero. The error is a
    paired bootstrap: each resample draws frames per direction and uses the same draw for
    flow and identity, so what the two share cancels. Returns (difference, error).
    """
    import numpy as np

    lw = [_checked_log_weights(w, what) for w, what in
          ((flow[0], "forward"), (flow[1], "backward"),
           (identity[0], "forward identity"), (identity[1], "backward identity"))]
    if lw[0].size != lw[2].size or lw[1].size != lw[3].size:
        raise ValueError("Bennett difference: flow and identity log-weights must belong to the "
                         "same frames (one of each per frame)")
    difference = bar(lw[0], lw[1]) - bar(lw[2], lw[3])
    return difference, _paired_bootstrap(lw, resamples, seed)[2]


def _paired_bootstrap(lw, resamples, seed):
    """Bootstrap errors of the flow's, the identity's and their difference's Bennett estimates.

    lw: checked log-weights, flow forward and backward, then identity forward and backward.
    Each resample draws the frames of each direction once for flow and identity alike (the
    draws of bar_bootstrap with the same seed). Returns (flow, identity, difference) errors.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        f = rng.integers(0, lw[0].size, lw[0].size)
        b = rng.integers(0, lw[1].size, lw[1].size)
        try:
            values.append((bar(lw[0][f], lw[1][b]), bar(lw[2][f], lw[3][b])))
        except ValueError:    # a resample with every weight 0 in one direction
            continue
    if len(values) < 2:
        return 0.0, 0.0, 0.0
    values = np.array(values)
    return tuple(float(np.std(v, ddof=1)) for v in
                 (values[:, 0], values[:, 1], values[:, 0] - values[:, 1]))


def disagreement(difference):
    """For (value, error) of bar_difference(): the warning if the flow's Bennett estimate is
    off the identity's by more than AGREEMENT_ERRORS errors, else None."""
    value, error = difference
    if abs(value) <= AGREEMENT_ERRORS * error:
        return None
    return (f"WARNING: flow and identity disagree by {value:.4f} +- {error:.4f} (more than "
            f"{AGREEMENT_ERRORS:g} errors): the frames are not exact samples of A and B (an "
            f"integrator's time-step error moves the two estimates apart) or the flow's "
            f"log-determinant is not that of its map; see doc/design.md section 9")


def mean_and_error(values):
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


# ----------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------

def summarize_direction(sets):
    """RESS flow, identity and ratio with errors from a per-set table.

    Several sets: mean and standard error over the sets (the study's protocol), ratio of the
    means. One set: the bootstrap errors of compute ress. The ratio's error is propagated
    from its two parts as if they were independent (they are not: both see the same frames,
    so this overstates it).
    """
    frames = sets[:, 1]
    flow, flow_err = mean_and_error(sets[:, 2]) if len(sets) > 1 else (sets[0, 2], sets[0, 3])
    ident, ident_err = mean_and_error(sets[:, 4]) if len(sets) > 1 else (sets[0, 4], sets[0, 5])
    fe, fe_err = mean_and_error(sets[:, 6]) if len(sets) > 1 else (sets[0, 6], sets[0, 7])
    fe_id, fe_id_err = mean_and_error(sets[:, 8]) if len(sets) > 1 else (sets[0, 8], sets[0, 9])
    ratio = flow / ident if ident > 0 else float("nan")
    ratio_err = ratio * math.hypot(flow_err / flow if flow > 0 else 0.0,
                                   ident_err / ident if ident > 0 else 0.0)
    return {"sets": len(sets), "frames": int(frames.mean()), "flow": (flow, flow_err),
            "identity": (ident, ident_err), "ratio": (ratio, ratio_err),
            "free_energy": (fe, fe_err), "free_energy_identity": (fe_id, fe_id_err)}


def summarize_bar(directory, set_numbers, resamples=100):
    """Bennett estimates from both directions' per-frame files, flow and identity.

    set_numbers: {"forward": [...], "inverse": [...]}, the sets of the run's .sets tables.
    With the same number (two or more) of sets per direction, set k of A->B is paired with
    set k of B->A and the result is the mean over the pairs, with their standard error or the
    bootstrap of all frames, whichever is larger; otherwise all frames of each direction are
    pooled and the error is the bootstrap (bar_bootstrap, bar_difference; resamples).
    Returns {"pairs": int, "error": str, "flow": (value, error), "identity": (value, error),
    "difference": (value, error)}: "identity" and "difference" (flow minus identity, with a
    paired bootstrap) only if every file has the identity's log-weights.
    """
    import numpy as np

    frames = {}
    for name in ("forward", "inverse"):
        numbers = set_numbers.get(name)
        if not numbers:
            raise Skipped(f"no {name} sets")
        frames[name] = [read_weights(os.path.join(directory, f"{name}_{int(k)}.weights"))
                        for k in numbers]
    columns = ["log_w"]
    if all("log_w_identity" in part for parts in frames.values() for part in parts):
        columns.append("log_w_identity")
    paired = len(frames["forward"]) == len(frames["inverse"]) >= 2
    out = {"pairs": len(frames["forward"]) if paired else 1,
           "error": "standard error over set pairs, at least the bootstrap of all frames"
                    if paired else f"bootstrap, {resamples} resamples"}
    pooled = {name: {c: np.concatenate([part[c] for part in parts]) for c in columns}
              for name, parts in frames.items()}
    # A standard error over two or three set pairs has one or two degrees of freedom: pairs
    # that agree by chance would shrink it to nothing (and make the 3-error disagreement test
    # of flow minus identity fire on noise, about one run in five with two pairs), so a paired
    # estimate's error is never below the bootstrap of all its frames.
    try:
        lw = [_checked_log_weights(pooled[name][column], what + suffix)
              for column, suffix in zip(columns, ("", " identity"))
              for name, what in (("forward", "forward"), ("inverse", "backward"))]
        # one set of resamples serves flow, identity and their difference
        bootstrap = (_paired_bootstrap(lw, resamples, 1) if len(columns) == 2 else
                     (bar_bootstrap(lw[0], lw[1], resamples),))
        per_pair = {}
        for k, column in enumerate(columns):
            if paired:
                per_pair[column] = [bar(f[column], b[column]) for f, b in
                                    zip(frames["forward"], frames["inverse"])]
                value, error = mean_and_error(per_pair[column])
                estimate = (value, max(error, bootstrap[k]))
            else:
                estimate = (bar(lw[2 * k], lw[2 * k + 1]), bootstrap[k])
            out["flow" if column == "log_w" else "identity"] = estimate
        if "identity" in out:
            error = (mean_and_error(np.subtract(per_pair["log_w"], per_pair["log_w_identity"]))[1]
                     if paired else 0.0)
            out["difference"] = (out["flow"][0] - out["identity"][0], max(error, bootstrap[2]))
    except ValueError as why:
        raise Skipped(f"{directory}: {why}") from None
    return out


def free_energy_lines(summaries, bennett):
    """The free-energy table: both one-sided estimates and Bennett's, flow and identity."""
    fwd, inv = summaries.get("forward"), summaries.get("inverse")
    lines = ["Free energy beta_B F_B - beta_A F_A (reduced; the flow's and the identity's "
             "weights of the same frames):",
             f"  {'estimator':<32}{'flow':>12}{'':11}{'identity':>14}"]

    def row(label, flow, identity):
        ident = f"{identity[0]:>14.4f} +- {identity[1]:.4f}" if identity else ""
        lines.append(f"  {label:<32}{flow[0]:>12.4f} +- {flow[1]:<7.4f}{ident}")

    if fwd:
        row("A->B  -log<w_F>", fwd["free_energy"], fwd["free_energy_identity"])
    if inv:
        # the .sets tables hold -log<w_B> = beta_A F_A - beta_B F_B
        row("B->A  +log<w_B>", (-inv["free_energy"][0], inv["free_energy"][1]),
            (-inv["free_energy_identity"][0], inv["free_energy_identity"][1]))
    if bennett:
        row("Bennett acceptance ratio (both)", bennett["flow"], bennett.get("identity"))
    if bennett and "difference" in bennett:
        row("Bennett, flow minus identity", bennett["difference"], None)
    if fwd and inv:
        gap = fwd["free_energy"][0] + inv["free_energy"][0]
        lines.append(f"  the one-sided estimates differ by {gap:.4f} (A->B minus B->A; >= 0 in "
                     f"expectation, Jensen)")
    if bennett:
        lines.append(f"  Bennett's error: {bennett['error']}")
    warning = disagreement(bennett["difference"]) if bennett and "difference" in bennett else None
    if warning:
        lines.append(f"  {warning}")
    return lines


def print_table(system, summaries, out, bennett=None):
    lines = []
    title = f"USER-FLOWMAP results, system {system}" if system else "USER-FLOWMAP results"
    lines.append(title)
    lines.append("=" * len(title))
    lines.append(f"{'direction':<10}{'sets x frames':>15}{'RESS identity':>22}"
                 f"{'RESS flow':>22}{'ratio':>16}")
    for name, label in (("forward", "A->B"), ("inverse", "B->A")):
        s = summaries.get(name)
        if not s:
            continue
        lines.append(f"{label:<10}{s['sets']:>6} x {s['frames']:<6}"
                     f"{s['identity'][0]:>12.3e} +- {s['identity'][1]:<7.1e}"
                     f"{s['flow'][0]:>12.3e} +- {s['flow'][1]:<7.1e}"
                     f"{s['ratio'][0]:>8.2f} +- {s['ratio'][1]:<5.2f}")
    published = PUBLISHED.get(system)
    if published:
        lines.append("published (10 x 50000, about 20 % error):")
        for name, label in (("forward", "A->B"), ("inverse", "B->A")):
            ident, flow = published[name]
            lines.append(f"{label:<10}{'':>15}{ident:>12.3e}{'':>10}{flow:>12.3e}{'':>10}"
                         f"{flow / ident:>8.2f}")
    lines.append("")
    lines += free_energy_lines(summaries, bennett)
    lines.append("Errors: standard error over sets, or the bootstrap of compute ress for one set.")
    text = "\n".join(lines)
    print(text)
    with open(out, "w") as f:
        f.write(text + "\n")


def histogram_plot(ax, curves, xlabel, bins=60):
    """curves: [(label, values, weights or None, style)] on common bins."""
    import numpy as np

    finite = np.concatenate([v[np.isfinite(v)] for _, v, _, _ in curves])
    lo, hi = np.percentile(finite, [0.2, 99.8])
    edges = np.linspace(lo, hi, bins + 1)
    for label, values, weights, style in curves:
        keep = np.isfinite(values)
        w = None if weights is None else weights[keep]
        density, _ = np.histogram(values[keep], bins=edges, weights=w, density=True)
        ax.step(0.5 * (edges[1:] + edges[:-1]), density, where="mid", label=label, **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("probability density")
    ax.legend(fontsize="small")


def rdf(positions, box, weights=None, bins=80):
    """Radial distribution function of frames [F, N, d] in boxes [F, d] (minimum image)."""
    import numpy as np

    frames, n, d = positions.shape
    r_max = 0.5 * box.min()
    edges = np.linspace(0.0, r_max, bins + 1)
    counts = np.zeros(bins)
    w = np.full(frames, 1.0 / frames) if weights is None else weights / weights.sum()
    upper = np.triu_indices(n, 1)
    for f in range(frames):
        delta = positions[f][:, None, :] - positions[f][None, :, :]
        delta -= box[f] * np.round(delta / box[f])
        r = np.sqrt((delta ** 2).sum(-1))[upper]
        counts += w[f] * np.histogram(r, bins=edges)[0]
    shell = (np.pi * (edges[1:] ** 2 - edges[:-1] ** 2) if d == 2
             else 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3))
    volume = np.average(np.prod(box, axis=1), weights=w)
    ideal = 0.5 * n * (n - 1) / volume * shell
    return 0.5 * (edges[1:] + edges[:-1]), counts / ideal


def weights_for_steps(weights, steps):
    """Normalised flow weights of the dumped frames, matched by timestep; None if unmatched."""
    import numpy as np

    index = {int(s): i for i, s in enumerate(weights["step"])}
    rows = [index.get(int(s)) for s in steps]
    keep = np.array([r is not None for r in rows])
    if not keep.any():
        return None, keep
    log_w = weights["log_w"][[r for r in rows if r is not None]]
    return normalized_weights(log_w), keep


def plot_direction(plt, name, label, own, other, own_dump, other_dump, scale, output):
    """Energy histogram and RDF of one direction; returns the files written.

    own: weights of this direction (frames of the state it starts from, mapped into the
    other); other: weights of the opposite direction, whose frames were sampled in the state
    this one maps into (the reference MD). scale: length ratio L_to / L_from.
    """
    import numpy as np

    written = []
    to_state = "B" if name == "forward" else "A"
    style = {"identity": {"color": "tab:gray"}, "mapped": {"color": "tab:blue"},
             "reweighted": {"color": "tab:red"},
             "reference": {"color": "black", "linestyle": "--"}}
    if own is not None:
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        curves = []
        if "u_to_identity" in own:
            curves.append(("identity", own["u_to_identity"], None, style["identity"]))
        curves.append(("mapped (raw)", own["u_to"], None, style["mapped"]))
        curves.append(("mapped, reweighted", own["u_to"], normalized_weights(own["log_w"]),
                       style["reweighted"]))
        if other is not None:
            curves.append((f"reference MD of {to_state}", other["u_from"], None,
                           style["reference"]))
        histogram_plot(ax, curves, f"potential energy $U_{to_state}$")
        ax.set_title(f"{label}: energy of the frames mapped into {to_state}")
        fig.tight_layout()
        path = os.path.join(output, f"energy_{name}.png")
        fig.savefig(path, dpi=130)
        plt.close(fig)
        written.append(path)

    if own_dump is not None:
        steps, box, positions, images = own_dump
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        box_to = box * scale
        r, g = rdf(positions * scale, box_to)
        ax.plot(r, g, label="identity", **style["identity"])
        if images is not None:
            r, g = rdf(images, box_to)
            ax.plot(r, g, label="mapped (raw)", **style["mapped"])
            if own is not None:
                w, keep = weights_for_steps(own, steps)
                if w is not None:
                    r, g = rdf(images[keep], box_to[keep], weights=w)
                    ax.plot(r, g, label=f"mapped, reweighted ({keep.sum()} frames)",
                            **style["reweighted"])
        if other_dump is not None:
            _, obox, opositions, _ = other_dump
            r, g = rdf(opositions, obox)
            ax.plot(r, g, label=f"reference MD of {to_state}", **style["reference"])
        ax.set_xlabel("r")
        ax.set_ylabel("g(r)")
        ax.set_title(f"{label}: radial distribution in {to_state}")
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = os.path.join(output, f"rdf_{name}.png")
        fig.savefig(path, dpi=130)
        plt.close(fig)
        written.append(path)
    return written


# Columns of training.curve (in.wca2lj's fix ave/time of fix flowmap's vector): the
# TimeStep, then elements 1-12, 14-17 and, since the KL gain was added, 22-23.
CURVE_STEPS, CURVE_KLD, CURVE_NLL = 1, 3, 4
CURVE_RESS = {"A->B flow": 7, "A->B identity": 8, "B->A flow": 9, "B->A identity": 10}
CURVE_KL_GAIN = {"A->B": 17, "B->A": 18}
CURVE_COLUMNS, CURVE_COLUMNS_WITH_KL_GAIN = 17, 19


def validation_rows(curve):
    """Rows of a training curve with a validation, the first row of each optimizer step
    (fix ave/time repeats a step's values until the next one)."""
    import numpy as np

    validated = (curve[:, CURVE_RESS["A->B flow"]] > 0) | (curve[:, CURVE_RESS["B->A flow"]] > 0)
    _, first = np.unique(curve[validated, CURVE_STEPS], return_index=True)
    return np.flatnonzero(validated)[first]


def training_figure(plt, curve):
    """Losses, validation RESS and (curves with columns 17-18) the KL gain per step."""
    import numpy as np

    steps = curve[:, CURVE_STEPS]
    with_gain = curve.shape[1] >= CURVE_COLUMNS_WITH_KL_GAIN
    panels = 3 if with_gain else 2
    fig, axes = plt.subplots(panels, 1, figsize=(6.4, 3.2 * panels), sharex=True)
    top, middle = axes[0], axes[1]
    trained = steps > 0
    top.plot(steps[trained], curve[trained, CURVE_KLD], label="KLD", color="tab:blue")
    if np.any(curve[trained, CURVE_NLL] != 0):
        top.plot(steps[trained], curve[trained, CURVE_NLL], label="NLL", color="tab:orange")
    top.set_ylabel("loss (reduced)")
    top.legend(fontsize="small")
    top.set_title("fix flowmap training")
    rows = validation_rows(curve)
    for label, color, dashed in (("A->B flow", "tab:blue", False),
                                 ("A->B identity", "tab:blue", True),
                                 ("B->A flow", "tab:red", False),
                                 ("B->A identity", "tab:red", True)):
        column = CURVE_RESS[label]
        if np.any(curve[rows, column] > 0):
            middle.plot(steps[rows], curve[rows, column], label=label, color=color,
                        linestyle="--" if dashed else "-", marker="" if dashed else "o",
                        markersize=3)
    middle.set_yscale("log")
    middle.set_ylabel("validation RESS (held-out frames)")
    middle.legend(fontsize="small")
    if with_gain:
        bottom = axes[2]
        for label, color in (("A->B", "tab:blue"), ("B->A", "tab:red")):
            column = CURVE_KL_GAIN[label]
            # a direction without hold-out frames reports 0 throughout
            if np.any(curve[rows, column] != 0):
                bottom.plot(steps[rows], curve[rows, column], label=label, color=color,
                            marker="o", markersize=3)
        bottom.axhline(0.0, color="gray", linewidth=0.8)
        bottom.set_ylabel("KL gain over the identity (nats)")
        if bottom.get_legend_handles_labels()[0]:
            bottom.legend(fontsize="small")
    axes[-1].set_xlabel("optimizer step")
    fig.tight_layout()
    return fig


def plot_training(plt, curve, output):
    fig = training_figure(plt, curve)
    path = os.path.join(output, "training.png")
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return [path]


def run_report(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory, output = args.dir, args.output or args.dir
    os.makedirs(output, exist_ok=True)
    skipped = []

    def attempt(what, function, *a):
        try:
            return function(*a)
        except Skipped as why:
            skipped.append(f"{what}: {why}")
            return None

    summaries, set_numbers = {}, {}
    for name in ("forward", "inverse"):
        sets = attempt(f"{name} table", read_sets, os.path.join(directory, f"{name}.sets"))
        if sets is not None:
            summaries[name] = summarize_direction(sets)
            set_numbers[name] = [int(k) for k in sets[:, 0]]
    bennett = None
    if len(summaries) == 2:
        bennett = attempt("Bennett acceptance ratio", summarize_bar, directory, set_numbers,
                          args.bootstrap)
    if summaries:
        print_table(args.system, summaries, os.path.join(output, "results.txt"), bennett)

    rho_a, rho_b = args.densities or (1.0, 1.0)
    d = 2
    weights = {n: attempt(f"{n} weights", read_weight_sets, directory, n, set_numbers.get(n))
               for n in ("forward", "inverse")}
    dumps = {n: attempt(f"{n} dump", dump_positions, os.path.join(directory, f"{n}.dump"))
             for n in ("forward", "inverse")}
    if dumps["forward"] is not None:
        d = dumps["forward"][2].shape[2]
    scale = (rho_a / rho_b) ** (1.0 / d)    # L_B / L_A
    written = []
    written += plot_direction(plt, "forward", "A->B", weights["forward"], weights["inverse"],
                              dumps["forward"], dumps["inverse"], scale, output)
    written += plot_direction(plt, "inverse", "B->A", weights["inverse"], weights["forward"],
                              dumps["inverse"], dumps["forward"], 1.0 / scale, output)
    if not args.no_training:
        curve = attempt("training curves", read_columns,
                        os.path.join(directory, "training.curve"), CURVE_COLUMNS)
        if curve is not None:
            written += plot_training(plt, curve, output)
    for path in written:
        print(f"flowmap_plot report: wrote {path}")
    for line in skipped:
        warn(f"skipped {line}")
    return 1 if skipped else 0


def run_ress(args):
    status = 0
    print(f"{'file':<40}{'frames':>8}{'RESS':>12}{'+-':>10}{'-log<w>':>12}{'+-':>9}"
          f"{'RESS identity':>15}")
    for path in args.files:
        try:
            w = read_weights(path)
        except Skipped as why:
            warn(str(why))
            status = 1
            continue
        ident = f"{kish_ress(w['log_w_identity']):>15.4e}" if "log_w_identity" in w else ""
        print(f"{path:<40}{w['log_w'].size:>8}{kish_ress(w['log_w']):>12.4e}"
              f"{bootstrap(kish_ress, w['log_w'], args.bootstrap):>10.1e}"
              f"{free_energy(w['log_w']):>12.4f}"
              f"{bootstrap(free_energy, w['log_w'], args.bootstrap):>9.4f}{ident}")
    return status




def run_bar(args):
    """Both one-sided estimates and Bennett's from per-frame files of the two directions."""
    import numpy as np

    def pooled(paths):
        parts = [read_weights(path) for path in paths]
        columns = ["log_w"] + (["log_w_identity"] if all("log_w_identity" in p
                                                        for p in parts) else [])
        return {c: np.concatenate([p[c] for p in parts]) for c in columns}

    try:
        forward, inverse = pooled(args.forward), pooled(args.inverse)
    except Skipped as why:
        warn(str(why))
        return 1
    print(f"beta_B F_B - beta_A F_A (reduced) from {forward['log_w'].size} A->B and "
          f"{inverse['log_w'].size} B->A frames; errors: bootstrap ({args.bootstrap} "
          f"resamples) and, for Bennett, also the large-sample formula")
    print(f"{'weights':<10}{'A->B -log<w_F>':>24}{'B->A +log<w_B>':>24}"
          f"{'Bennett':>24}{'asymptotic':>12}")
    for column, label in (("log_w", "flow"), ("log_w_identity", "identity")):
        if column not in forward or column not in inverse:
            continue
        f, b = forward[column], inverse[column]
        delta = bar(f, b)
        print(f"{label:<10}"
              f"{free_energy(f):>14.4f} +- {bootstrap(free_energy, f, args.bootstrap):<6.4f}"
              f"{-free_energy(b):>14.4f} +- {bootstrap(free_energy, b, args.bootstrap):<6.4f}"
              f"{delta:>14.4f} +- {bar_bootstrap(f, b, args.bootstrap):<6.4f}"
              f"{bar_asymptotic_error(f, b, delta):>12.4f}")
    if "log_w_identity" not in forward or "log_w_identity" not in inverse:
        if args.check:
            warn("bar --check: the files lack the identity's log-weights (columns "
                 "U_to_identity log_w_identity of compute ress ... file), nothing to compare")
            return 1
        return 0
    difference = bar_difference((forward["log_w"], inverse["log_w"]),
                                (forward["log_w_identity"], inverse["log_w_identity"]),
                                args.bootstrap)
    print(f"{'flow-id':<10}{'':48}{difference[0]:>14.4f} +- {difference[1]:<6.4f}"
          f"{'(paired)':>12}")
    warning = disagreement(difference)
    if warning:
        print(warning)
    return 3 if warning and args.check else 0


def read_scan_table(path):
    """Returns (densities, temperatures, ress[nT, nrho], frames) from a scan table."""
    import numpy as np

    rows = []
    with open(path) as table:
        for line in table:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 5:
                raise ValueError(f"{path}: expected 5 columns (rho T ress frames free_energy), "
                                 f"got {len(fields)}: {line!r}")
            rows.append([float(v) for v in fields])
    if not rows:
        raise ValueError(f"{path}: no data rows")
    data = np.array(rows)
    densities = np.unique(data[:, 0])
    temperatures = np.unique(data[:, 1])
    if len(densities) * len(temperatures) != len(data):
        raise ValueError(f"{path}: {len(data)} rows do not form a {len(densities)} x "
                         f"{len(temperatures)} grid")
    ress = np.full((len(temperatures), len(densities)), np.nan)
    for rho, t, value, _, _ in data:
        ress[np.searchsorted(temperatures, t), np.searchsorted(densities, rho)] = value
    frames = int(data[:, 3].min())
    return densities, temperatures, ress, frames


def ridge(densities, temperatures, ress):
    """Best density per temperature: [(T, rho_max, ress_max)]."""
    import numpy as np

    best = []
    for i, t in enumerate(temperatures):
        j = int(np.nanargmax(ress[i]))
        best.append((t, densities[j], ress[i, j]))
    return best


def plot_scan(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, Normalize
    import numpy as np

    densities, temperatures, ress, frames = read_scan_table(args.table)
    best = ridge(densities, temperatures, ress)

    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    positive = ress[ress > 0]
    if args.linear or positive.size == 0:
        norm = Normalize(vmin=0.0, vmax=np.nanmax(ress))
    else:
        norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max())
    shown = np.where(ress > 0, ress, np.nan) if not args.linear else ress
    mesh = ax.pcolormesh(densities, temperatures, shown, norm=norm, shading="nearest",
                         cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="identity-baseline RESS")
    ax.plot([b[1] for b in best], [b[0] for b in best], "o", color="white", markersize=3,
            markeredgecolor="black", markeredgewidth=0.3, label=r"best $\rho$ per $T$")
    for rho, t in args.mark or []:
        ax.plot([rho], [t], "*", color="red", markersize=12, markeredgecolor="black",
                label=f"({rho:g}, {t:g})")
    ax.set_xlabel(r"target density $\rho_B$")
    ax.set_ylabel(r"target temperature $T_B$")
    ax.set_title(args.title or f"identity-baseline RESS, {frames} source frames")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(args.output, dpi=args.dpi)
    print(f"flowmap_plot scan: wrote {args.output} ({len(densities)} x {len(temperatures)} "
          f"states, {frames} frames)")
    for rho, t in args.mark or []:
        i = int(np.argmin(abs(temperatures - t)))
        print(f"  marked ({rho:g}, {t:g}): ridge at T {temperatures[i]:.4g} is rho "
              f"{best[i][1]:.4g} (RESS {best[i][2]:.3g})")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="flowmap_plot.py", description=__doc__.split("\n")[1])
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser("report", help="the wca2lj inputs' table and plots")
    report.add_argument("--dir", default=".", help="folder with the run's outputs (default .)")
    report.add_argument("--output", help="folder for results.txt and the PNGs (default --dir)")
    report.add_argument("--system", default="", help="system name for the title (I, II, III)")
    report.add_argument("--no-training", action="store_true",
                        help="the run trained nothing: do not look for training.curve")
    report.add_argument("--densities", nargs=2, type=float, metavar=("RHO_A", "RHO_B"),
                        help="source and target densities (default: equal)")
    report.add_argument("--temperatures", nargs=2, type=float, metavar=("T_A", "T_B"),
                        help="source and target temperatures (for the record)")
    report.add_argument("--bootstrap", type=int, default=100,
                        help="resamples of the Bennett error for a single set (default 100)")
    report.set_defaults(run=run_report)

    ress = commands.add_parser("ress", help="RESS and free energy from per-frame weight files")
    ress.add_argument("files", nargs="+", help="files written by compute ress ... file")
    ress.add_argument("--bootstrap", type=int, default=100, help="resamples (default 100)")
    ress.set_defaults(run=run_ress)

    bennett = commands.add_parser(
        "bar", help="free energy from both directions: one-sided and Bennett estimates")
    bennett.add_argument("--forward", nargs="+", required=True, metavar="FILE",
                         help="per-frame files of frames of A mapped to B (pooled)")
    bennett.add_argument("--inverse", nargs="+", required=True, metavar="FILE",
                         help="per-frame files of frames of B mapped to A (pooled)")
    bennett.add_argument("--bootstrap", type=int, default=100, help="resamples (default 100)")
    bennett.add_argument("--check", action="store_true",
                         help="exit with status 3 when the flow's and the identity's Bennett "
                              "estimates differ by more than 3 errors of their difference")
    bennett.set_defaults(run=run_bar)

    scan = commands.add_parser("scan", help="heat map of a compute ress state-point scan table")
    scan.add_argument("table", help="table written by compute ress ... scan")
    scan.add_argument("-o", "--output", default="scan.png", help="PNG file (default scan.png)")
    scan.add_argument("--mark", nargs=2, type=float, action="append", metavar=("RHO", "T"),
                      help="mark a target state, e.g. --mark 0.704 0.608 (repeatable)")
    scan.add_argument("--linear", action="store_true", help="linear instead of log colour scale")
    scan.add_argument("--title", help="plot title")
    scan.add_argument("--dpi", type=int, default=150)
    scan.set_defaults(run=plot_scan)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError, Skipped) as error:
        print(f"flowmap_plot {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
