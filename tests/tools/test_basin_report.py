"""bench/basin_report.py (reweighting through inherent structures, bench/bench_basin.sh) against
hand-computed weights and an analytic case: harmonic basins, where the map y = m + s (x - m)
carries the canonical distribution at T_A exactly onto the one at T_B, so averages and
ln(Z_B/Z_A) are known; and the refusals of inconsistent tables.

Run by CTest as tools.test_basin_report (python3 -m unittest); needs numpy.
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from report_fixtures import BENCH, write  # noqa: E402  (puts bench/ on the path)
import basin_report  # noqa: E402

TOOL = os.path.join(BENCH, "basin_report.py")


def table(u, u_min, u_image, distance):
    return {"u": np.asarray(u, float), "u_min": np.asarray(u_min, float),
            "u_image": np.asarray(u_image, float), "distance": np.asarray(distance, float)}


def harmonic_tables(dof, t_source, t_target, frames, seed, u_min=-100.0):
    """Frames of k = dof harmonic degrees of freedom about one minimum at T_A: U - U_m is then
    Gamma(k/2, T_A); the map scales it by s^2 = T_B/T_A, its inverse by 1/s^2."""
    g = np.random.default_rng(seed).gamma(dof / 2.0, t_source, frames)
    s2 = t_target / t_source
    zeros = np.zeros(frames)
    minimum = np.full(frames, u_min)
    return (table(u_min + g, minimum, u_min + s2 * g, zeros),
            table(u_min + g, minimum, u_min + g / s2, zeros))


def as_text(t):
    return "# frame U_x U_m U_y U_m_of_y distance\n" + "".join(
        f"{i + 1} {a!r} {b!r} {c!r} {b!r} {d!r}\n"
        for i, (a, b, c, d) in enumerate(zip(t["u"], t["u_min"], t["u_image"], t["distance"])))


class Weights(unittest.TestCase):
    def test_log_det_counts_all_but_the_centre_of_mass(self):
        self.assertAlmostEqual(basin_report.map_log_det(43, 2, 0.5), 84 * math.log(0.5), places=12)
        self.assertAlmostEqual(basin_report.map_log_det(10, 3, 2.0), 27 * math.log(2.0), places=12)

    def test_one_frame_by_hand(self):
        # b_A = 1, b_B = 2, log det = -1: frame U = 3, image U = 2, preimage U = 5
        contracted = table([3.0], [0.0], [2.0], [0.0])
        expanded = table([3.0], [0.0], [5.0], [0.0])
        log_image, log_frame, u_image, u_frame = basin_report.mixture_samples(
            contracted, expanded, 1.0, 2.0, -1.0, 1e-6)
        # image y: exp(-2*2) / (exp(-3 + 1) + exp(-2))
        self.assertAlmostEqual(log_image[0], -4.0 - math.log(2.0 * math.exp(-2.0)), places=12)
        # frame x: exp(-2*3) / (exp(-5 + 1) + exp(-3))
        self.assertAlmostEqual(log_frame[0], -6.0 - math.log(math.exp(-4.0) + math.exp(-3.0)),
                               places=12)
        self.assertEqual((u_image[0], u_frame[0]), (2.0, 3.0))

    def test_images_that_leave_their_basin_are_dropped(self):
        # the image left its basin: no image sample; the expansion left it too: the frame's
        # weight is plain temperature reweighting, exp(-b_B U) / exp(-b_A U)
        contracted = table([3.0], [0.0], [2.0], [0.01])
        expanded = table([3.0], [0.0], [5.0], [0.2])
        log_image, log_frame, _, _ = basin_report.mixture_samples(
            contracted, expanded, 1.0, 2.0, -1.0, 1e-6)
        self.assertEqual(log_image[0], -math.inf)
        self.assertAlmostEqual(log_frame[0], -3.0, places=12)
        weight, first, second, shift = basin_report.frame_sums(log_image, log_frame,
                                                               np.array([2.0]), np.array([3.0]))
        self.assertAlmostEqual(first[0] / weight[0], 3.0, places=12)   # only the frame counts
        self.assertAlmostEqual(basin_report.log_partition_ratio(weight, shift), -3.0, places=12)

    def test_tables_of_other_frames_are_refused(self):
        contracted = table([3.0, 1.0], [0.0, 0.0], [2.0, 0.5], [0.0, 0.0])
        expanded = table([3.0, 1.5], [0.0, 0.0], [5.0, 2.0], [0.0, 0.0])
        with self.assertRaises(SystemExit) as caught:
            basin_report.mixture_samples(contracted, expanded, 1.0, 2.0, -1.0, 1e-6)
        self.assertIn("not of the same frames", str(caught.exception))


class HarmonicBasins(unittest.TestCase):
    """k harmonic degrees of freedom about U_m: <U>_T = U_m + k T / 2, var U = k T^2 / 2, and
    ln(Z_B/Z_A) = -(b_B - b_A) U_m + (k/2) ln(T_B/T_A)."""
    atoms, dof, t_a, t_b, u_min = 43, 84, 0.3, 0.2, -100.0

    def setUp(self):
        self.contracted, self.expanded = harmonic_tables(self.dof, self.t_a, self.t_b, 20000, 5,
                                                         self.u_min)
        b_a, b_b = 1.0 / self.t_a, 1.0 / self.t_b
        log_det = basin_report.map_log_det(self.atoms, 2, math.sqrt(self.t_b / self.t_a))
        samples = basin_report.mixture_samples(self.contracted, self.expanded, b_a, b_b, log_det,
                                               1e-6)
        self.weight, self.first, self.second, self.shift = basin_report.frame_sums(*samples)

    def test_averages_within_their_errors_of_the_exact_ones(self):
        e, de, c, dc = basin_report.estimates(self.weight, self.first, self.second, self.atoms,
                                              self.t_b)
        self.assertLess(abs(e - (self.u_min + self.dof * self.t_b / 2) / self.atoms), 4 * de)
        self.assertLess(abs(c - self.dof / 2 / self.atoms), 4 * dc)
        self.assertLess(dc, 0.05)

    def test_free_energy_is_exact(self):
        exact = (-(1 / self.t_b - 1 / self.t_a) * self.u_min
                 + self.dof / 2 * math.log(self.t_b / self.t_a))
        self.assertAlmostEqual(basin_report.log_partition_ratio(self.weight, self.shift), exact,
                               delta=0.02)

    def test_far_better_than_temperature_reweighting(self):
        identity = (1 / self.t_a - 1 / self.t_b) * self.expanded["u"]
        w = np.exp(identity - identity.max())
        identity_ress = w.sum() ** 2 / (w.size * (w * w).sum())
        self.assertGreater(basin_report.kish(self.weight), 0.8)
        self.assertLess(identity_ress, 0.1)


class CommandLine(unittest.TestCase):
    def run_tool(self, *args):
        return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)

    def test_report_with_reference_and_target_frames(self):
        contracted, expanded = harmonic_tables(84, 0.3, 0.2, 4000, 6)
        target, _ = harmonic_tables(84, 0.2, 0.3, 2000, 7)   # frames at 0.2, expanded by 1/s
        with tempfile.TemporaryDirectory() as tmp:
            paths = [os.path.join(tmp, name) for name in ("c.txt", "e.txt", "t.txt")]
            for path, t in zip(paths, (contracted, expanded, target)):
                write(path, as_text(t))
            done = self.run_tool("--atoms", "43", "--source", "0.3", "--target", "0.2",
                                 "--contracted", paths[0], "--expanded", paths[1],
                                 "--target-frames", paths[2],
                                 "--reference", str((-100 + 8.4) / 43), "0.001", "0.9767", "0.01",
                                 "--cpu-seconds", "100", "--md-seconds", "40")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("images that stayed in their basin: 4000 (1.00000)", done.stdout)
        # harmonic: the map alone removes the whole mismatch, J = 0 to rounding
        line = next(l for l in done.stdout.splitlines() if l.startswith("J = "))
        self.assertAlmostEqual(float(line.split("basin map ")[1].split()[0]), 0.0, places=6)
        # cost: the seconds given over (sigma / error)^2, sigma^2 = c_V T^2 / N per atom
        rows = {l.split()[0]: l.split() for l in done.stdout.splitlines()
                if l.startswith(("basin map", "identity ("))}
        costs = [l for l in done.stdout.splitlines() if "effective samples from the energy" in l]
        self.assertEqual(len(costs), 2)
        for cost, key, seconds in zip(costs, ("basin", "identity"), (100.0, 40.0)):
            row = rows[key]
            c, de = float(row[-5]), float(row[-6])
            printed = float(cost.split(":")[1].split()[0])
            # the table rounds the error to 5 decimals, a few per cent of it here
            self.assertAlmostEqual(printed / (c * 0.2 ** 2 / 43 / de ** 2), 1.0, delta=0.1)
            self.assertIn(f"CPU s each (of {seconds:.0f} CPU s)", cost)
            each = float(cost.split("), ")[1].split()[0])
            self.assertAlmostEqual(each * printed / seconds, 1.0, delta=0.02)   # both rounded

    def test_unequal_numbers_of_tables_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "c.txt")
            write(path, as_text(harmonic_tables(84, 0.3, 0.2, 10, 1)[0]))
            done = self.run_tool("--atoms", "43", "--source", "0.3", "--target", "0.2",
                                 "--contracted", path, path, "--expanded", path)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("2 contracted but 1 expanded tables", done.stderr)

    def test_malformed_table_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "c.txt")
            write(path, "1 2 3\n")
            done = self.run_tool("--atoms", "43", "--source", "0.3", "--target", "0.2",
                                 "--contracted", path, "--expanded", path)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("expected lines of 6 numbers", done.stderr)


if __name__ == "__main__":
    unittest.main()
