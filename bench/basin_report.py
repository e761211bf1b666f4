#!/usr/bin/env python3
"""Reweighting through inherent structures (bench/bench_basin.sh, bench/README.md "The basin
map"): exact estimates at T_B from frames sampled at T_A for one Hamiltonian at two
temperatures.

    basin_report.py --atoms N --dimension d --source T_A --target T_B
                    --contracted FILE [FILE ...] --expanded FILE [FILE ...]
                    [--target-frames FILE] [--reference E dE C dC] [--tolerance DIST]

FILE are tables of bench/in.basin_map (one line per frame: frame, U(x), U(m), U(image),
U(inherent structure of the image), its largest distance from m; total energies). The
contracted tables map the source frames with factor s = sqrt(T_B/T_A), the expanded tables the
same frames, in the same order, with 1/s; --target-frames is a table of frames sampled at T_B,
expanded with 1/s (the backward direction, for the divergences).

The map. For a frame x with inherent structure m, T(x) = m + s (x - m). Within a basin m is
fixed, and it moves with x only by translations of the whole configuration, so the Jacobian
determinant is s^k with k = d N - d. For harmonic vibrations about m, T carries the canonical
distribution at T_A exactly onto the one at T_B; what it cannot fix is the anharmonicity and
which basins are visited.

Exactness. T is one-to-one only where the image stays in its basin (IS(T(x)) = m), and images
of the basins do not reach their rims, so T alone would miss part of the target. Both are
handled by a defensive mixture: an image that left its basin is dropped, and every frame is
also kept as it is (the identity, plain temperature reweighting). With n frames, the samples
(the kept images and all frames) have the combined density, up to the common Z_A,

    D(z) = n [ exp(-b_A U(T^-1 z)) s^-k [T^-1 z exists and stays in z's basin] + exp(-b_A U(z)) ]

where T^-1 z = m + (z - m)/s for the inherent structure m of z, whose basin the expanded
tables check. Each sample z gets w(z) = exp(-b_B U(z)) / D(z) (the balance heuristic of
multiple importance sampling), so that

    Z_B / Z_A = sum_z w(z) / n,     <f>_B = sum_z w(z) f(z) / sum_z w(z)

are exact estimates whatever the share of dropped images. The per-frame weight W_i is the sum
over the frame's samples; the RESS is Kish's of W. Errors are block-bootstrap deviations over
consecutive frames (bench/ternary_report.py).
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternary_report  # noqa: E402
from ternary_report import BLOCKS, block_bootstrap, fail  # noqa: E402

# Two minima closer than this (largest distance between an atom's two positions) are one
# inherent structure: the minimizer reaches the same one to about 1e-11 length units, two
# distinct ones differ by more than 1e-3.
TOLERANCE = 1e-6


def read_table(path):
    """Columns of one bench/in.basin_map table: U_x, U_m, U_image, U_m_of_image, distance."""
    import numpy as np

    try:
        data = np.loadtxt(path, comments="#", ndmin=2)
    except (OSError, ValueError) as problem:
        fail(f"{path}: {problem}")
    if data.shape[0] == 0 or data.shape[1] != 6:
        fail(f"{path}: expected lines of 6 numbers (frame U_x U_m U_y U_m_of_y distance), "
             f"found {data.shape[1] if data.size else 0} columns")
    return {"u": data[:, 1], "u_min": data[:, 2], "u_image": data[:, 3],
            "distance": data[:, 5]}


def read_tables(paths):
    import numpy as np

    parts = [read_table(path) for path in paths]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def map_log_det(atoms, dimension, factor):
    """log |det J| of z = m + factor (x - m): every degree of freedom but the d of the centre
    of mass."""
    return (dimension * atoms - dimension) * math.log(factor)


def mixture_samples(contracted, expanded, beta_source, beta_target, log_det, tolerance):
    """Per frame i, the log weights of its kept image and of the frame itself:
    (log_w_image [-inf where the image left its basin], log_w_frame, U_image, U_frame)."""
    import numpy as np

    if contracted["u"].size != expanded["u"].size or \
            np.max(np.abs(contracted["u"] - expanded["u"])) > 1e-6 * (1.0 + np.max(np.abs(contracted["u"]))):
        fail("the contracted and expanded tables are not of the same frames in the same order")
    kept = contracted["distance"] <= tolerance
    # an image y = T(x): T^-1 y = x, in y's basin by the check above
    log_image = np.where(
        kept,
        -beta_target * contracted["u_image"] - np.logaddexp(
            -beta_source * contracted["u"] - log_det, -beta_source * contracted["u_image"]),
        -np.inf)
    # a frame x: T^-1 x = m + (x - m)/s, which counts only if it stays in x's basin
    preimage = np.where(expanded["distance"] <= tolerance,
                        -beta_source * expanded["u_image"] - log_det, -np.inf)
    log_frame = -beta_target * expanded["u"] - np.logaddexp(preimage, -beta_source * expanded["u"])
    return log_image, log_frame, contracted["u_image"], expanded["u"]


def frame_sums(log_image, log_frame, u_image, u_frame):
    """Per frame, with one common shift c: W = sum w e^-c, A = sum w U e^-c, B = sum w U^2 e^-c;
    and c."""
    import numpy as np

    shift = float(max(np.max(log_image), np.max(log_frame)))
    w_image = np.exp(log_image - shift)
    w_frame = np.exp(log_frame - shift)
    u_image = np.where(np.isfinite(log_image), u_image, 0.0)
    weight = w_image + w_frame
    first = w_image * u_image + w_frame * u_frame
    second = w_image * u_image ** 2 + w_frame * u_frame ** 2
    return weight, first, second, shift


def moments(weight, first, second, atoms, temperature):
    """(<E>/N, c_V) from per-frame sums."""
    total = weight.sum()
    mean = first.sum() / total
    variance = second.sum() / total - mean * mean
    return mean / atoms, variance / (atoms * temperature * temperature)


def estimates(weight, first, second, atoms, temperature, blocks=BLOCKS):
    """<E>/N, error, c_V, error."""
    e, c = moments(weight, first, second, atoms, temperature)
    de, dc = block_bootstrap(lambda w, a, b: moments(w, a, b, atoms, temperature),
                             [weight, first, second], blocks)
    return e, de, c, dc


def kish(weight):
    return float(weight.sum() ** 2 / (weight.size * (weight * weight).sum()))


def log_partition_ratio(weight, shift):
    """ln(Z_B/Z_A) = ln(sum_z w(z) / n)."""
    return math.log(weight.sum() / weight.size) + shift


def main(argv=None):
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atoms", type=int, required=True)
    parser.add_argument("--dimension", type=int, default=2, choices=(2, 3))
    parser.add_argument("--source", type=float, required=True, help="T_A of the frames")
    parser.add_argument("--target", type=float, required=True, help="T_B")
    parser.add_argument("--contracted", nargs="+", required=True)
    parser.add_argument("--expanded", nargs="+", required=True)
    parser.add_argument("--target-frames", help="frames at T_B expanded with 1/s")
    parser.add_argument("--reference", nargs=4, type=float, metavar=("E", "dE", "C", "dC"))
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    parser.add_argument("--cpu-seconds", type=float,
                        help="CPU seconds of the frames' MD and of the map's passes, for the "
                             "cost per effective sample")
    parser.add_argument("--md-seconds", type=float,
                        help="the part of --cpu-seconds spent on the frames' MD, all that "
                             "temperature reweighting costs")
    args = parser.parse_args(argv)
    if not (args.source > 0.0 and args.target > 0.0):
        fail(f"temperatures must be positive (source {args.source}, target {args.target})")
    if len(args.contracted) != len(args.expanded):
        fail(f"{len(args.contracted)} contracted but {len(args.expanded)} expanded tables: "
             "give both of every run, in the same order")

    b_a, b_b = 1.0 / args.source, 1.0 / args.target
    factor = math.sqrt(args.target / args.source)
    log_det = map_log_det(args.atoms, args.dimension, factor)
    contracted, expanded = read_tables(args.contracted), read_tables(args.expanded)
    log_image, log_frame, u_image, u_frame = mixture_samples(
        contracted, expanded, b_a, b_b, log_det, args.tolerance)
    weight, first, second, shift = frame_sums(log_image, log_frame, u_image, u_frame)
    n = weight.size
    kept = np.isfinite(log_image)

    print(f"{n} frames at T_A = {args.source}, mapped to T_B = {args.target} by "
          f"y = m + {factor:.6f} (x - m), log det {log_det:.4f}")
    print(f"images that stayed in their basin: {kept.sum()} ({kept.mean():.5f}); frames whose "
          f"expansion stayed in theirs: {(expanded['distance'] <= args.tolerance).sum()}")
    log_identity = (b_a - b_b) * u_frame
    rows = [("basin map + identity", kish(weight)) + estimates(weight, first, second,
                                                                args.atoms, args.target),
            ("identity (temperature reweighting)", ternary_report.flowmap_plot.kish_ress(
                log_identity)) + ternary_report.energy_estimates(u_frame, log_identity,
                                                                 args.atoms, args.target)]
    print(f"\n{'estimate':36s} {'RESS':>8s} {'<E_pot>/N':>20s} {'c_V/N':>16s}"
          + ("  z(E)  z(c_V)" if args.reference else ""))
    for label, ress, e, de, c, dc in rows:
        line = f"{label:36s} {ress:8.5f} {e:11.5f} +- {de:.5f} {c:8.4f} +- {dc:.4f}"
        if args.reference:
            re, rde, rc, rdc = args.reference
            line += f"  {(e - re) / math.hypot(de, rde):5.1f} {(c - rc) / math.hypot(dc, rdc):6.1f}"
        print(line)
    if args.reference:
        print(f"{'reference':36s} {'':8s} {args.reference[0]:11.5f} +- {args.reference[1]:.5f} "
              f"{args.reference[2]:8.4f} +- {args.reference[3]:.4f}")
    if args.cpu_seconds:
        # effective samples from the energy error: (sigma / error)^2, sigma = sqrt(c_V T^2 / N)
        # per atom, which counts the correlation of the frames that Kish's RESS does not
        costs = (args.cpu_seconds, args.md_seconds)
        for (label, ress, e, de, c, dc), seconds in zip(rows, costs):
            if not seconds:
                continue
            effective = c * args.target ** 2 / args.atoms / de ** 2
            print(f"  {label}: {effective:.0f} effective samples from the energy error "
                  f"(Kish: {ress * n:.0f}), {seconds / effective:.3g} CPU s each "
                  f"(of {seconds:.0f} CPU s)")
    half = n // 2
    for name, part in (("first half", slice(0, half)), ("second half", slice(half, n))):
        e, c = moments(weight[part], first[part], second[part], args.atoms, args.target)
        print(f"  {name}: <E_pot>/N {e:.5f}, c_V {c:.4f}, RESS {kish(weight[part]):.5f}")
    top = float(log_identity.max())
    print(f"\nln(Z_B/Z_A): basin map + identity {log_partition_ratio(weight, shift):.4f}, "
          f"identity {math.log(np.mean(np.exp(log_identity - top))) + top:.4f}")

    if args.target_frames:
        back = read_table(args.target_frames)
        inside = back["distance"] <= args.tolerance
        # the map alone: log w = -b_B U(y) + b_A U(T^-1 y) + log det, forward on the kept
        # images, backward on the frames of B whose preimage exists
        forward = -b_b * u_image[kept] + b_a * contracted["u"][kept] + log_det
        backward = -b_b * back["u"][inside] + b_a * back["u_image"][inside] + log_det
        identity_forward = (b_a - b_b) * u_frame
        identity_backward = (b_a - b_b) * back["u"]
        print(f"\n{back['u'].size} frames of B: the preimage of {inside.sum()} "
              f"({inside.mean():.5f}) stays in their basin; the rest lie outside the map's "
              "image (the identity covers them)")
        print(f"J = KL(A mapped || B) + KL(B || A mapped), nats: basin map {np.mean(backward) - np.mean(forward):.3f} "
              f"(frames of B outside its image left out), identity "
              f"{np.mean(identity_backward) - np.mean(identity_forward):.3f}")
        # the mixture: its log weight at the frames of B, against its own samples
        b_frame = np.where(inside, -b_a * back["u_image"] - log_det, -np.inf)
        log_b = -b_b * back["u"] - np.logaddexp(b_frame, -b_a * back["u"])
        samples = np.concatenate([log_image[kept], log_frame])
        print(f"J of the mixture (every frame of B): {np.mean(log_b) - np.mean(samples):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
