"""bench/exchange_report.py (the tables of bench/bench_exchange.sh) against hand-computed and
analytic values: the statistical inefficiency of an AR(1) series, psi6 of a perfect triangular
lattice, the overlap by species and its relaxation time for hand-made trajectories, the blocked
errors, the comparison of correlated bins, the histograms, the CPU time read from LAMMPS logs,
a whole table from synthetic run folders, and the gain from the scatter between seeds by hand.

Run by CTest as tools.test_exchange_report (python3 -m unittest); needs numpy.
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from report_fixtures import BENCH, ar1, write  # noqa: E402  (puts bench/ on the path)
import exchange_report  # noqa: E402

TOOL = os.path.join(BENCH, "exchange_report.py")


def triangular_lattice(columns, rows, spacing):
    """Positions [rows * columns, 2] and box of a perfect periodic triangular lattice."""
    height = spacing * math.sqrt(3.0) / 2.0
    points = [((i + 0.5 * (j % 2)) * spacing, j * height) for j in range(rows)
              for i in range(columns)]
    return np.array(points), np.array([columns * spacing, rows * height])


def run_folder(folder, energies, frames, box, attempts=None, loop=(10.0, 1, 1000, 100.0),
               logs=1):
    text = "# Time-averaged data for fix samples\n# TimeStep c_thermo_pe\n"
    text += "".join(f"{10 * k} {u!r}\n" for k, u in enumerate(energies))
    write(os.path.join(folder, "samples_target.dat"), text)
    dump = ""
    for k, x in enumerate(frames):
        dump += (f"ITEM: TIMESTEP\n{100 * k}\nITEM: NUMBER OF ATOMS\n{len(x)}\n"
                 f"ITEM: BOX BOUNDS pp pp pp\n0 {box[0]!r}\n0 {box[1]!r}\n-0.5 0.5\n"
                 "ITEM: ATOMS id x y\n")
        dump += "".join(f"{i + 1} {p[0]!r} {p[1]!r}\n" for i, p in enumerate(x))
    write(os.path.join(folder, "frames_target.dump"), dump)
    seconds, procs, steps, use = loop
    log = "Loop time of 1.0 on 1 procs for 10 steps with 16 atoms\n\n" \
          "100.0% CPU use with 1 MPI tasks x 1 OpenMP threads\n" \
          f"Loop time of {seconds} on {procs} procs for {steps} steps with 16 atoms\n\n" \
          "Performance: 1 tau/day, 2 timesteps/s, 3 katom-step/s\n" \
          f"{use}% CPU use with {procs} MPI tasks x 1 OpenMP threads\n"
    names = ["log.lammps"] if logs == 1 else [f"log.lammps.{k}" for k in range(logs)]
    for name in names:
        write(os.path.join(folder, name), log)
    if attempts is not None:
        text = "# step lw_fwd lw_inv log_alpha accepted log_alpha_identity energy_source " \
               "energy_target\n"
        text += "".join(f"{100 * (k + 1)} 0 0 {a!r} {acc} {b!r} 0 0\n"
                        for k, (a, acc, b) in enumerate(attempts))
        write(os.path.join(folder, "attempts.dat"), text)


class Statistics(unittest.TestCase):
    def test_statistical_inefficiency_of_ar1_and_white_noise(self):
        # g = (1 + phi) / (1 - phi) = 9 for phi 0.8; 2e5 samples: within 10 %
        self.assertAlmostEqual(exchange_report.statistical_inefficiency(ar1(0.8, 200000, 1)),
                               9.0, delta=0.9)
        rng = np.random.default_rng(2)
        self.assertAlmostEqual(
            exchange_report.statistical_inefficiency(rng.standard_normal(100000)), 1.0,
            delta=0.1)
        self.assertEqual(exchange_report.statistical_inefficiency(np.ones(100)), 1.0)
        mean, error, g = exchange_report.mean_and_error(ar1(0.8, 200000, 3))
        self.assertAlmostEqual(error, math.sqrt(g / 200000.0), delta=0.05 * error)

    def test_blocked_means_and_errors_by_hand(self):
        values = np.arange(40, dtype=float).reshape(40, 1)
        means = exchange_report.block_means(values, blocks=4)
        # blocks of 10: means 4.5, 14.5, 24.5, 34.5
        np.testing.assert_allclose(means[:, 0], [4.5, 14.5, 24.5, 34.5])
        # their difference from blocks shifted by 1: variance 2 x var(means) / 4
        variance = exchange_report.difference_variance(means + 1.0, means)
        self.assertAlmostEqual(variance[0], 2.0 * np.var(means[:, 0], ddof=1) / 4.0)
        self.assertAlmostEqual(exchange_report.difference_z(means + 1.0, means)[0],
                               1.0 / math.sqrt(variance[0]))

    @staticmethod
    def two_sided_t6(t):
        """P(|T| >= t) for Student's t with 6 degrees of freedom (closed form for even dof)."""
        x = 6.0 / (6.0 + t * t)
        return 1.0 - t / np.sqrt(6.0 + t * t) * (1.0 + x / 2.0 + 3.0 * x * x / 8.0)

    def test_comparison_counts_correlated_bins_once(self):
        # Four blocks per run in which both bins move together: their correlation is 1, so the
        # two bins are one independent bin. A shift of two errors in both gives chi2 8. With
        # equal numbers of blocks, z is Student's t with 2 x (4 - 1) = 6 degrees of freedom,
        # and the chi2 is 2 t^2, so p = P(|t_6| >= 2) = 0.0924.
        together = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]])
        shift = 2.0 * math.sqrt(2.0 / 3.0)  # each bin's combined error is sqrt(2 x 4/3 / 4)
        line = exchange_report.compare("g(r)", together + shift, together)
        self.assertIn("chi2/dof 4.00 (2 bins, 1.0 independent) max|z| 2.00", line)
        self.assertAlmostEqual(float(line.split(" p ")[1]), self.two_sided_t6(2.0), delta=0.006)

    def test_comparison_of_independent_bins(self):
        # Blocks whose bins are uncorrelated: two independent bins, each z a t_6 as above, and
        # z = (2, 0): p = P(t_1^2 + t_2^2 >= 4), integrated over t_1 with the t_6 density.
        apart = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        shift = np.array([2.0 * math.sqrt(1.0 / 3.0), 0.0])
        line = exchange_report.compare("U_B histogram", apart + shift, apart)
        self.assertIn("chi2/dof 2.00 (2 bins, 2.0 independent) max|z| 2.00", line)
        t = np.linspace(-60.0, 60.0, 240001)
        density = (1.0 + t * t / 6.0) ** -3.5 * math.gamma(3.5) / (
            math.sqrt(6.0 * math.pi) * math.gamma(3.0))
        # P(t_2^2 >= 4 - t_1^2), which is 1 where t_1^2 >= 4 (the tail at 0 is 1)
        rest = self.two_sided_t6(np.sqrt(np.clip(4.0 - t * t, 0.0, None)))
        expected = float(np.sum(density * rest) * (t[1] - t[0]))
        self.assertAlmostEqual(float(line.split(" p ")[1]), expected, delta=0.01)

    def test_histogram_rows_are_normalised_densities(self):
        edges = np.array([0.0, 1.0, 3.0])
        h = exchange_report.histogram_per_frame(np.array([0.5, 2.0, 5.0]), edges)
        np.testing.assert_allclose(h, [[1.0, 0.0], [0.0, 0.5], [0.0, 0.0]])

    def test_psi6_of_a_triangular_lattice_is_one(self):
        x, box = triangular_lattice(4, 4, 1.1)
        shifted = (x + [0.3, 0.2]) % box
        values = exchange_report.psi6(np.array([x, shifted]), np.array([box, box]))
        np.testing.assert_allclose(values, [1.0, 1.0], atol=1e-12)
        rng = np.random.default_rng(4)
        random = rng.random((20, 16, 2)) * box
        self.assertLess(exchange_report.psi6(random, np.tile(box, (20, 1))).mean(), 0.5)

    def test_overlap_by_species_without_drift_by_hand(self):
        x, box = triangular_lattice(4, 4, 1.1)
        boxes = np.tile(box, (4, 1))
        types = np.array([1, 2] * 8)
        area = box[0] * box[1]
        # two species of 8: a random configuration holds sum_s (8/16) 8 pi a^2 / V
        q_inf = 8 * math.pi * 0.3 ** 2 / area
        same_species, other_species = x.copy(), x.copy()
        same_species[[0, 2]] = x[[2, 0]]      # atoms 1 and 3 (both type 1) trade places
        other_species[[0, 1]] = x[[1, 0]]     # atoms 1 and 2 (types 1 and 2) trade places
        shifted = (x + [0.7, 0.4]) % box      # the whole configuration drifts
        frames = np.array([x, same_species, other_species, shifted])
        species = np.tile(types, (4, 1))
        q = [exchange_report.overlap(frames[[0, k]], boxes[:2], [1], species[:2])[0]
             for k in (1, 2, 3)]
        expected_other = ((14 / 16) - q_inf) / (1 - q_inf)
        np.testing.assert_allclose(q, [1.0, expected_other, 1.0], atol=1e-12)
        # the same trade seen with types exchanged instead (a swap move): nothing moved
        swapped = types.copy()
        swapped[[0, 1]] = types[[1, 0]]
        q_swap = exchange_report.overlap(np.array([x, x]), boxes[:2], [1],
                                         np.array([types, swapped]))[0]
        self.assertAlmostEqual(q_swap, expected_other, places=12)

    def test_relaxation_time_by_hand(self):
        x, box = triangular_lattice(4, 4, 1.1)
        boxes = np.tile(box, (12, 1))
        # even rows move +0.2 along x per frame, odd rows -0.2 (no drift): every site holds its
        # atom within the radius 0.3 after one frame, none holds any atom after two or three
        direction = np.where((np.arange(16) // 4) % 2 == 0, 1.0, -1.0)[:, None] * [0.2, 0.0]
        moving = np.array([(x + k * direction) % box for k in range(12)])
        q_inf = 16 * math.pi * 0.3 ** 2 / (box[0] * box[1])
        q = exchange_report.overlap(moving, boxes, [1, 2, 3])
        np.testing.assert_allclose(q, [1.0, -q_inf / (1 - q_inf), -q_inf / (1 - q_inf)],
                                   atol=1e-12)
        # q falls from 1 at lag 1 to q(2) at lag 2: 1/e at lag 2^f, f = (1 - 1/e) / (1 - q(2))
        tau, bound = exchange_report.relaxation_time(moving, boxes, 100.0)
        f = (1.0 - math.exp(-1.0)) / (1.0 - q[1])
        self.assertFalse(bound)
        self.assertAlmostEqual(tau, 100.0 * 2.0 ** f, places=9)
        # atoms that never leave their place: only a bound, the longest lag (a quarter of 12)
        still = np.array([x] * 12)
        self.assertEqual(exchange_report.relaxation_time(still, boxes, 100.0), (300.0, True))


class Files(unittest.TestCase):
    def test_cpu_seconds_sum_over_partitions_and_use_the_last_run(self):
        with tempfile.TemporaryDirectory() as d:
            x, box = triangular_lattice(4, 4, 1.1)
            run_folder(d, [1.0, 2.0], [x], box, loop=(6.0, 2, 3000, 100.0), logs=2)
            self.assertEqual(exchange_report.loop_cpu_seconds(d), (24.0, 3000))

    def test_cpu_seconds_charge_the_cpu_share_a_loaded_machine_gave(self):
        # 6 s of wall time on 2 processes that got 50 % of their cores: 6 CPU seconds
        with tempfile.TemporaryDirectory() as d:
            x, box = triangular_lattice(4, 4, 1.1)
            run_folder(d, [1.0, 2.0], [x], box, loop=(6.0, 2, 3000, 50.0))
            self.assertEqual(exchange_report.loop_cpu_seconds(d), (6.0, 3000))

    def test_table_and_exactness_from_synthetic_runs(self):
        with tempfile.TemporaryDirectory() as d:
            x, box = triangular_lattice(4, 4, 1.1)
            rng = np.random.default_rng(5)
            frames = [(x + 0.05 * rng.standard_normal(x.shape)) % box for _ in range(40)]
            run_folder(os.path.join(d, "md"), ar1(0.5, 4000, 6), frames, box,
                       loop=(4.0, 1, 40000, 100.0))
            # half of the attempts accepted; alpha 1/2 and identity alpha 1/4 everywhere
            attempts = [(math.log(0.5), k % 2, math.log(0.25)) for k in range(400)]
            run_folder(os.path.join(d, "flow"), ar1(0.5, 4000, 7), frames, box, attempts,
                       loop=(8.0, 1, 40000, 100.0), logs=2)
            table = subprocess.run([sys.executable, TOOL, "table", d], capture_output=True,
                                   text=True, check=True).stdout
            flow = next(line for line in table.splitlines() if line.startswith("flow"))
            fields = flow.split()
            self.assertEqual(fields[1], "400")
            self.assertTrue(fields[2].startswith("0.5000+-"))
            self.assertTrue(fields[3].startswith("0.5000+-"))
            self.assertTrue(fields[4].startswith("0.25000+-"))
            # 16 CPU seconds for 40000 steps: 400 us per step
            self.assertEqual(fields[9], "400.00")
            exact = subprocess.run([sys.executable, TOOL, "exact", d], capture_output=True,
                                   text=True, check=True).stdout
            self.assertIn("flow", exact)
            self.assertIn("g(r) chi2/dof", exact)
            self.assertIn("reference, plain MD of the target", exact)
            # a swap run, where there is one, is the reference instead of MD
            run_folder(os.path.join(d, "swap"), ar1(0.5, 4000, 8) + 1.0, frames, box,
                       loop=(4.0, 1, 40000, 100.0))
            exact = subprocess.run([sys.executable, TOOL, "exact", d], capture_output=True,
                                   text=True, check=True).stdout
            self.assertIn("reference, swap MC at the target", exact)
            self.assertRegex(exact, r"\nmd +<U_B> ")

    def test_missing_md_run_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            x, box = triangular_lattice(4, 4, 1.1)
            run_folder(os.path.join(d, "flow"), [1.0] * 100, [x] * 40, box)
            result = subprocess.run([sys.executable, TOOL, "exact", d], capture_output=True,
                                    text=True, check=False)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("no md or swap run to compare with", result.stderr)


class Seeds(unittest.TestCase):
    @staticmethod
    def seed_folders(d, means, name, loop):
        """One seed folder per mean, each with a run `name` whose U_B alternates about it."""
        x, box = triangular_lattice(4, 4, 1.1)
        for k, mean in enumerate(means):
            energies = [mean + (0.1 if i % 2 else -0.1) for i in range(200)]
            run_folder(os.path.join(d, f"seed{k + 1}", name), energies, [x] * 2, box, loop=loop)

    def test_gain_from_the_scatter_between_seeds_by_hand(self):
        with tempfile.TemporaryDirectory() as d:
            # MD: means 0, 1, 2, 3 (variance 5/3), 100 us per step; flow: means 0, 0.5, 1, 1.5
            # (variance 5/12), 200 us per step: gain (5/3 x 100) / (5/12 x 200) = 2
            self.seed_folders(d, [0.0, 1.0, 2.0, 3.0], "md", (4.0, 1, 40000, 100.0))
            self.seed_folders(d, [0.0, 0.5, 1.0, 1.5], "flow", (8.0, 1, 40000, 100.0))
            seeds = sorted(os.path.join(d, f) for f in os.listdir(d))
            report = subprocess.run([sys.executable, TOOL, "seeds", *seeds], capture_output=True,
                                    text=True, check=True).stdout
            md = next(line for line in report.splitlines() if line.startswith("md")).split()
            flow = next(line for line in report.splitlines() if line.startswith("flow")).split()
            self.assertEqual(md[1], "4")
            self.assertEqual(md[2], "1.5000")
            self.assertEqual(md[5], f"{math.sqrt(5.0 / 3.0):.4f}")
            self.assertEqual(flow[2], "0.7500")
            self.assertEqual(flow[5], f"{math.sqrt(5.0 / 12.0):.4f}")
            self.assertEqual(flow[8], "200.00")
            self.assertEqual(flow[9], "2.00")
            low, high = float(flow[10]), float(flow[12])
            self.assertLess(low, 2.0)
            self.assertGreater(high, 2.0)

    def test_too_few_seeds_and_no_md_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            self.seed_folders(d, [0.0, 1.0], "md", (4.0, 1, 40000, 100.0))
            seeds = sorted(os.path.join(d, f) for f in os.listdir(d))
            result = subprocess.run([sys.executable, TOOL, "seeds", *seeds], capture_output=True,
                                    text=True, check=False)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("run md: 2 seeds; the scatter needs at least 3", result.stderr)
        with tempfile.TemporaryDirectory() as d:
            self.seed_folders(d, [0.0, 1.0, 2.0], "flow", (4.0, 1, 40000, 100.0))
            seeds = sorted(os.path.join(d, f) for f in os.listdir(d))
            result = subprocess.run([sys.executable, TOOL, "seeds", *seeds], capture_output=True,
                                    text=True, check=False)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("no md run among the folders", result.stderr)


if __name__ == "__main__":
    unittest.main()
