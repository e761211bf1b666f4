#!/usr/bin/env python3
"""The smoothing term of the 2D ternary glass-former (KA2D) as a LAMMPS pair table.

KA2D's pair energy between species a and b, for r < 2.5 sigma_ab, is

    u(r) = 4 eps_ab [ (sigma_ab/r)^12 - (sigma_ab/r)^6 + C0 + C2 (r/sigma_ab)^2 + C4 (r/sigma_ab)^4 ]

The polynomial makes u, u' and u'' vanish at the cutoff. LAMMPS has no pair style for it, so
examples/lammps_inputs/ternary2d.pair overlays plain Lennard-Jones (lj/cut, not shifted) with
this table of the polynomial term alone. The term is a smooth polynomial, so LAMMPS's spline
of the table onto its own grid reproduces it, and its linear lookup in r^2 with 4000 points
(pair_style table linear 4000) interpolates to a few 1e-9 eps. It is finite at every r, so
flow-mapped configurations with overlapping atoms still get an energy (a table of the whole
potential would have to stop at an inner cutoff, below which LAMMPS aborts). LAMMPS checks each tabulated force against the
secants of the energy and warns where it is not between them, which is true at an inflection
point (here r = 1.6147 sigma_ab); the default 491 points, uniform in r, put the inflection
midway between two of them, where the check holds.

Usage: tools/ka2d_table.py [points (491)] > examples/lammps_inputs/ka2d_smoothing.table
"""
import sys

C0 = 0.04049023795
C2 = -0.00970155098
C4 = 0.00062012616
CUTOFF = 2.5    # in units of sigma_ab
# Table starts just above r = 0 (LAMMPS refuses a table that reaches it).
INNER = 1e-4

# (keyword, epsilon, sigma): A type 1, B type 2, C type 3
PAIRS = [("AA", 1.0, 1.0), ("AB", 1.5, 0.8), ("AC", 0.75, 0.9),
         ("BB", 0.5, 0.88), ("BC", 1.5, 0.8), ("CC", 0.75, 0.94)]


def smoothing(r, eps, sigma):
    """Energy and force (-du/dr) of the polynomial term at distance r."""
    x2 = (r / sigma) ** 2
    energy = 4.0 * eps * (C0 + C2 * x2 + C4 * x2 * x2)
    force = -4.0 * eps * (2.0 * C2 * r / sigma ** 2 + 4.0 * C4 * r ** 3 / sigma ** 4)
    return energy, force


def table(points):
    lines = ["# KA2D smoothing term 4 eps (C0 + C2 (r/sigma)^2 + C4 (r/sigma)^4), r < 2.5 sigma,",
             f"# written by tools/ka2d_table.py {points}; overlaid on lj/cut in ternary2d.pair", ""]
    for keyword, eps, sigma in PAIRS:
        lo, hi = INNER, CUTOFF * sigma
        lines += [keyword, f"N {points} R {lo:.17g} {hi:.17g}", ""]
        for i in range(points):
            r = lo + (hi - lo) * i / (points - 1)
            energy, force = smoothing(r, eps, sigma)
            lines.append(f"{i + 1} {r:.17g} {energy:.17g} {force:.17g}")
        lines.append("")
    return "\n".join(lines)


def main(argv):
    points = int(argv[1]) if len(argv) > 1 else 491
    if points < 2:
        sys.exit("ka2d_table.py: points must be >= 2")
    sys.stdout.write(table(points))


if __name__ == "__main__":
    main(sys.argv)
