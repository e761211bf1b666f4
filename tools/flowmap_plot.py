#!/usr/bin/env python3
"""Plots for USER-FLOWMAP outputs.

One subcommand per kind of output:

  scan   state-point scan table of compute ress (rho T ress frames free_energy) -> PNG heat
         map of the identity-baseline RESS over target (density, temperature), with the best
         density per temperature (the ridge rho_max(T)) marked.

Usage: flowmap_plot.py scan TABLE -o scan.png [--mark RHO T [--mark ...]] [--linear]
Needs numpy and matplotlib (Debian: python3-numpy python3-matplotlib).
"""

import argparse
import sys


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
    parser = argparse.ArgumentParser(prog="flowmap_plot.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

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
    except (OSError, ValueError) as error:
        print(f"flowmap_plot {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
