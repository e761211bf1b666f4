"""bench/ternary_report.py (the glass-former tables of bench/bench_ternary.sh) against
hand-computed and analytic values: weighted <E> and c_V, temperature reweighting of a system
whose canonical energy distribution is known (a Gamma law), the block-bootstrap error of a
correlated series, and whole tables from synthetic run folders.

Run by CTest as tools.test_ternary_report (python3 -m unittest); needs numpy.
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from report_fixtures import BENCH, ar1, write  # noqa: E402  (puts bench/ on the path)
import ternary_report  # noqa: E402

TOOL = os.path.join(BENCH, "ternary_report.py")


class Moments(unittest.TestCase):
    def test_equal_weights_by_hand(self):
        # E = 1..4: mean 2.5, variance 1.25; N = 2, T = 0.5: <E>/N = 1.25, c_V = 1.25/(2*0.25)
        e, cv = ternary_report.weighted_energy_moments([1.0, 2.0, 3.0, 4.0], None, 2, 0.5)
        self.assertAlmostEqual(e, 1.25, places=14)
        self.assertAlmostEqual(cv, 2.5, places=14)

    def test_log_weights_by_hand_with_large_offset(self):
        # weights 1:3 on E = 0, 4: mean 3, variance 0.25*9 + 0.75*1 = 3; an offset of 1e4 in
        # log w must not overflow
        log_w = np.array([0.0, math.log(3.0)]) + 1.0e4
        e, cv = ternary_report.weighted_energy_moments([0.0, 4.0], log_w, 1, 1.0)
        self.assertAlmostEqual(e, 3.0, places=12)
        self.assertAlmostEqual(cv, 3.0, places=12)

    def test_temperature_reweighting_of_a_gamma_law(self):
        # A system whose density of states is E^(k-1) (2k harmonic degrees of freedom) has
        # E ~ Gamma(k, T) at temperature T: <E> = k T, var E = k T^2, so the
        # configurational c_V per "atom" with N = k is 1. Frames at T_A = 1 reweighted with
        # log w = (1/T_A - 1/T_B) E give T_B = 0.8; the estimates must agree within 4 of their
        # block-bootstrap errors.
        k, t_a, t_b = 20.0, 1.0, 0.8
        energy = np.random.default_rng(3).gamma(k, t_a, 50000)
        log_w = (1.0 / t_a - 1.0 / t_b) * energy
        e, de, cv, dcv = ternary_report.energy_estimates(energy, log_w, int(k), t_b)
        self.assertLess(abs(e - t_b), 4 * de)
        self.assertLess(abs(cv - 1.0), 4 * dcv)
        self.assertLess(de, 0.01 * t_b)   # the errors are informative, not huge
        self.assertLess(dcv, 0.1)


    def test_temperature_rows_against_gamma_law(self):
        # the same Gamma law, reweighted from T_A = 1 to two temperatures at once; at T_B = T_A
        # every weight is 1 (RESS exactly 1, the plain moments)
        k = 20.0
        energy = np.random.default_rng(4).gamma(k, 1.0, 50000)
        rows = ternary_report.temperature_rows(energy, int(k), 1.0, [1.0, 0.8])
        self.assertAlmostEqual(rows[0][1], 1.0, places=12)
        self.assertAlmostEqual(rows[0][2], energy.mean() / k, places=10)
        t, ress, e, de, cv, dcv = rows[1]
        self.assertEqual(t, 0.8)
        # Kish RESS of exp(-0.25 E) on Gamma(20, 1): (E w)^2 / E w^2 = (1.25^-20)^2 / 1.5^-20
        self.assertAlmostEqual(ress, 1.5 ** 20 / 1.25 ** 40, delta=0.02)
        self.assertLess(abs(e - 0.8), 4 * de)
        self.assertLess(abs(cv - 1.0), 4 * dcv)


class BlockBootstrap(unittest.TestCase):
    def test_error_of_the_mean_of_an_ar1_series(self):
        # AR(1) with phi = 0.9 and unit variance: var(mean) = g / n with g = (1+phi)/(1-phi) = 19;
        # blocks of 5000 samples are much longer than the correlation, and the bootstrap of 20
        # blocks scatters by about 1/sqrt(2*19) = 16 %, so 40 % is a 2.5-sigma margin. Plain
        # resampling of single samples would be sqrt(19) = 4.4 times too small.
        n, phi = 100000, 0.9
        x = ar1(phi, n, seed=5)
        (error,) = ternary_report.block_bootstrap(lambda a: (a.mean(),), [x], blocks=20,
                                                  resamples=400)
        expected = math.sqrt((1 + phi) / (1 - phi) / n)
        self.assertLess(abs(error / expected - 1.0), 0.4)

    def test_too_few_samples(self):
        with self.assertRaisesRegex(ValueError, "5 samples cannot make 20 blocks"):
            ternary_report.block_bootstrap(lambda a: (a.mean(),), [np.arange(5.0)])


class Mismatch(unittest.TestCase):
    def test_integration_is_exact_for_a_cubic_energy(self):
        # <E>/N = a + b beta + c beta^2 + d beta^3 and c_V = -beta^2 d<E>/N/d beta, between
        # T = 1 and 0.5: ln Z ratio = -N * the integral of <E>/N over beta, by hand
        a, b, c, d, atoms = -2.0, 0.3, -0.05, 0.004, 43

        def state(t):
            beta = 1.0 / t
            energy = a + b * beta + c * beta ** 2 + d * beta ** 3
            return (t, energy, -beta ** 2 * (b + 2 * c * beta + 3 * d * beta ** 2))

        def antiderivative(beta):
            return a * beta + b * beta ** 2 / 2 + c * beta ** 3 / 3 + d * beta ** 4 / 4

        exact = -atoms * (antiderivative(2.0) - antiderivative(1.0))
        self.assertAlmostEqual(ternary_report.log_partition_ratio([state(1.0), state(0.5)],
                                                                  atoms), exact, places=10)
        self.assertAlmostEqual(ternary_report.log_partition_ratio(
            [state(1.0), state(0.8), state(0.5)], atoms), exact, places=10)

    def test_integration_of_a_gamma_law(self):
        # E ~ Gamma(k, T) (Z ~ beta^-k): <E>/N = T and c_V = 1 with N = k, ln(Z_B/Z_A) =
        # k ln(T_B/T_A). <E> = k/beta is not a cubic; the cubic's error per interval is
        # h^5/720 times the fourth derivative 24 k/beta^5, 6e-4 for T 1 -> 0.8 with k = 20
        k = 20
        exact = k * math.log(0.8)
        two = ternary_report.log_partition_ratio([(1.0, 1.0, 1.0), (0.8, 0.8, 1.0)], k)
        self.assertLess(abs(two - exact), 1e-3)
        self.assertGreater(abs(two - exact), 1e-6)   # the bound above is not empty
        three = ternary_report.log_partition_ratio(
            [(1.0, 1.0, 1.0), (0.9, 0.9, 1.0), (0.8, 0.8, 1.0)], k)
        self.assertLess(abs(three - exact), abs(two - exact) / 8)

    def test_error_propagation_by_hand(self):
        # two states: ln Z ratio = -N [h/2 (e0 + e1) + h^2/12 (c1 t1^2 - c0 t0^2)], h = 1/t1 -
        # 1/t0, so the errors enter with N h/2, N h/2, N h^2 t0^2/12 and N h^2 t1^2/12
        t0, t1, atoms = 0.5, 0.25, 10
        h = 1 / t1 - 1 / t0
        errors = [(0.01, 0.1), (0.02, 0.3)]
        expected = math.sqrt((atoms * h / 2 * 0.01) ** 2 + (atoms * h / 2 * 0.02) ** 2
                             + (atoms * h * h * t0 * t0 / 12 * 0.1) ** 2
                             + (atoms * h * h * t1 * t1 / 12 * 0.3) ** 2)
        got = ternary_report.log_partition_ratio_error([(t0, -2.0, 1.0), (t1, -2.5, 1.2)],
                                                       errors, atoms)
        self.assertAlmostEqual(got, expected, places=10)

    def test_kl_of_temperature_reweighting_of_a_gamma_law(self):
        # frames of Gamma(k, T_A) reweighted to T_B: KL(A || B) = (beta_B - beta_A) k T_A +
        # k ln(T_B/T_A), 0.537 nats for k = 20, T_A 1, T_B 0.8; ln <w> estimates ln(Z_B/Z_A)
        k, t_a, t_b = 20, 1.0, 0.8
        energy = np.random.default_rng(8).gamma(k, t_a, 100000)
        log_z = k * math.log(t_b / t_a)
        ((label, log_mean_w, mean, error, kl, quantiles),) = ternary_report.mismatch_rows(
            [("identity", (1 / t_a - 1 / t_b) * energy)], log_z)
        self.assertEqual(label, "identity")
        expected = (1 / t_b - 1 / t_a) * k * t_a + k * math.log(t_b / t_a)
        self.assertLess(abs(kl - expected), 4 * error)
        self.assertLess(error, 0.02)
        self.assertLess(abs(log_mean_w - log_z), 0.02)
        # log_z - log w = (beta_B - beta_A) E + log_z rises with E ~ Gamma(k, T_A), so its
        # percentiles are the energies' mapped through that line
        e50, e90, e99 = np.percentile(energy, [50, 90, 99])
        slope = 1 / t_b - 1 / t_a
        for got, e in zip(quantiles, (e50, e90, e99)):
            self.assertAlmostEqual(got, slope * e + log_z, places=9)
        self.assertLess(quantiles[0], quantiles[1])
        self.assertLess(quantiles[1], quantiles[2])

    def test_command_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "w.weights")
            write(path, "# compute ress w\n# step U_from U_to log_w U_to_identity "
                  "log_w_identity\n" + "".join(f"{i} -1 -1 {i % 2} -1 0\n" for i in range(40)))
            states = ["1", "1", "0.01", "1", "0.1", "0.8", "0.8", "0.01", "1", "0.1"]
            text = subprocess.run([sys.executable, TOOL, "mismatch", path, "--atoms", "20",
                                   "--states"] + states, check=True, capture_output=True,
                                  text=True).stdout
            log_z = ternary_report.log_partition_ratio([(1.0, 1.0, 1.0), (0.8, 0.8, 1.0)], 20)
            self.assertIn(f"ln(Z_to/Z_from) = {log_z:.3f}", text)
            # flow: log w alternates 0, 1, so <log w> = 0.5 and KL = ln Z ratio - 0.5
            flow = next(line for line in text.splitlines() if line.startswith("flow"))
            self.assertEqual(flow.split()[-6], f"{log_z - 0.5:.3f}")
            # its log ratios are log_z - 1 and log_z, 20 frames each: the median falls between
            # the two (numpy interpolates linearly), the 90th and 99th percentiles on log_z
            self.assertEqual(flow.split()[-3:], [f"{log_z - 0.5:.2f}", f"{log_z:.2f}",
                                                 f"{log_z:.2f}"])
            result = subprocess.run([sys.executable, TOOL, "mismatch", path, "--atoms", "20",
                                     "--states"] + states[:7], capture_output=True, text=True)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("groups of 5 numbers), got 7", result.stderr)


class PooledWeights(unittest.TestCase):
    def test_batch_bounds_by_hand(self):
        # files of 10 and 7 frames, batches of 6: 0-6 and the remainder 6-10 (4 >= 3 frames)
        # of the first file; 10-16 of the second, whose remainder of 1 frame is dropped
        self.assertEqual(ternary_report.batch_bounds([10, 7], 6), [(0, 6), (6, 10), (10, 16)])
        self.assertEqual(ternary_report.batch_bounds([4], 8), [(0, 4)])
        self.assertEqual(ternary_report.batch_bounds([3], 8), [])

    def test_batch_scatter_by_hand(self):
        # <E> 1.0 +- 0.1 and 1.4 +- 0.2 around 1.2: chi^2 = 4 + 1 on 1 degree of freedom;
        # c_V 2.0 +- 0.5 and 2.0 +- 1.0 around 2.0: 0
        rows = [("flow", 10, 0.1, 1.0, 0.1, 2.0, 0.5), ("flow", 10, 0.1, 1.4, 0.2, 2.0, 1.0)]
        pooled = ("flow", 20, 0.1, 1.2, 0.05, 2.0, 0.3)
        e, cv = ternary_report.batch_scatter(rows, pooled)
        self.assertAlmostEqual(e, math.sqrt(5.0), places=12)
        self.assertEqual(cv, 0.0)

    def test_command_line_pools_files_in_order_and_gives_z(self):
        rng = np.random.default_rng(5)
        energy = rng.gamma(20.0, 1.0, 400)
        log_w = (1.0 - 1.0 / 0.8) * energy

        def lines(first, end):
            return "".join(f"{i} {-e:.17g} {-e:.17g} {lw:.17g} {-e:.17g} {lw:.17g}\n"
                           for i, e, lw in zip(range(first, end), energy[first:end],
                                               log_w[first:end]))

        head = "# compute ress w\n# step U_from U_to log_w U_to_identity log_w_identity\n"
        with tempfile.TemporaryDirectory() as tmp:
            whole, a, b = (os.path.join(tmp, name) for name in ("all", "a", "b"))
            write(whole, head + lines(0, 400))
            write(a, head + lines(0, 250))
            write(b, head + lines(250, 400))

            def run(*args):
                return subprocess.run([sys.executable, TOOL, "weights", *args, "--atoms", "20",
                                       "--temperature", "0.8"], capture_output=True, text=True)

            pooled = run(a, b).stdout.splitlines()
            self.assertEqual(pooled, run(whole).stdout.splitlines())
            e, de, cv, dcv = ternary_report.energy_estimates(-energy, log_w, 20, 0.8)
            reference = [e + 2.0 * de, 0.0, cv - dcv, 0.0]
            text = run(a, b, "--batch", "100", "--reference",
                       *[f"{v:.17g}" for v in reference]).stdout
            flow = next(line for line in text.splitlines() if line.startswith("flow "))
            self.assertEqual(flow.split()[-2:], ["-2.00", "+1.00"])
            # batches: 0-100, 100-200 and the remainder 200-250 of a; 250-350 of b (its
            # remainder of 50 frames is half a batch, kept: 350-400)
            starts = [line.split()[1] for line in text.splitlines()
                      if line.startswith("flow ") and "-" in line.split()[1]]
            self.assertEqual(starts, ["0-100", "100-200", "200-250", "250-350", "350-400"])
            self.assertIn("flow: 5 batches scatter around the pooled values by", text)
            refused = run(a, "--batch", "30")
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--batch 30: a batch needs at least 2 x --blocks = 40 frames",
                          refused.stderr)


    def test_direct_mode_files_give_one_row_and_are_not_pooled_with_fix_mode(self):
        # the basin map's file: two samples per frame, a dropped image with log w = -inf; the
        # row is the weighted moments of the finite samples
        energy = [-10.0, -11.0, -10.5, -12.0, -9.0, -10.0] * 10
        log_w = [0.0, -math.inf, 0.5, 0.2, -0.3, 0.1] * 10
        text = "# compute ress w\n# step U_from U_to log_w\n" + "".join(
            f"{i // 2} {e!r} {e!r} {lw!r}\n" for i, (e, lw) in enumerate(zip(energy, log_w)))
        fix_text = "# compute ress w\n" + "".join(f"{i} -1.0 -1.0 0.0 -1.0 0.0\n" for i in range(60))
        with tempfile.TemporaryDirectory() as tmp:
            direct, fix = os.path.join(tmp, "direct"), os.path.join(tmp, "fix")
            write(direct, text)
            write(fix, fix_text)
            done = subprocess.run([sys.executable, TOOL, "weights", direct, "--atoms", "2",
                                   "--temperature", "0.5"], capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            row = next(line for line in done.stdout.splitlines() if line.startswith("weights"))
            e, cv = ternary_report.weighted_energy_moments(energy, np.array(log_w), 2, 0.5)
            self.assertAlmostEqual(float(row.split()[3]), e, places=5)
            self.assertAlmostEqual(float(row.split()[6]), cv, places=3)
            self.assertFalse(any(line.startswith(("flow", "identity"))
                                 for line in done.stdout.splitlines()))
            mixed = subprocess.run([sys.executable, TOOL, "weights", direct, fix, "--atoms", "2",
                                    "--temperature", "0.5"], capture_output=True, text=True)
            self.assertNotEqual(mixed.returncode, 0)
            self.assertIn("cannot be pooled", mixed.stderr)


class Tables(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def log(self, *runs):
        """A LAMMPS log with these (wall seconds, % CPU use) loops on one process."""
        return "".join(f"Loop time of {wall} on 1 procs for 100 steps with 43 atoms\n\n"
                       "Performance: 1 tau/day, 2 timesteps/s, 3 katom-step/s\n"
                       f"{use}% CPU use with 1 MPI tasks x 1 OpenMP threads\n"
                       for wall, use in runs)

    def reference(self, name, temperature, energy, cpu):
        folder = os.path.join(self.out, name)
        write(os.path.join(folder, "info"), f"T {temperature}\natoms 43\ndt 0.005\nkind md\n")
        write(os.path.join(folder, "samples.dat"),
              "# Time-averaged data\n# TimeStep c_thermo_pe\n"
              + "".join(f"{100 * i} {e!r}\n" for i, e in enumerate(energy)))
        write(os.path.join(folder, "log.lammps"),
              "Loop time of 9.0 on 1 procs for 1000 steps with 43 atoms\n\n"
              "Performance: 1 tau/day, 2 timesteps/s, 3 katom-step/s\n"
              "99.0% CPU use with 1 MPI tasks x 1 OpenMP threads\n"
              f"Loop time of {cpu} on 2 procs for 100000 steps with 43 atoms\n\n"
              "Performance: 1 tau/day, 2 timesteps/s, 3 katom-step/s\n"
              "50.0% CPU use with 2 MPI tasks x 1 OpenMP threads\n")
        return folder

    def test_reference_row(self):
        # uncorrelated energies: g = 1 up to noise, so n_eff is close to the frame count and the
        # CPU seconds per effective sample is the production run's CPU time over it: the loop
        # time x 2 processes x 50 % CPU use
        energy = -150.0 + np.random.default_rng(7).standard_normal(4000)
        folder = self.reference("md_0.3", 0.3, energy, cpu=80.0)
        row = ternary_report.reference_row(folder)
        self.assertAlmostEqual(row["E"], energy.mean() / 43, places=10)
        self.assertAlmostEqual(row["cV"], energy.var() / (43 * 0.09), places=10)
        self.assertEqual(row["cpu"], 80.0)
        self.assertGreater(row["effective"], 0.8 * 4000)
        self.assertAlmostEqual(row["cpu_per_sample"], 80.0 / row["effective"], places=12)
        # the decorrelation time is g times the spacing of 100 steps of 0.005
        self.assertAlmostEqual(row["tau"], 4000 / row["effective"] * 0.5, places=10)

    def test_flow_rows_and_table(self):
        folder = os.path.join(self.out, "flow_0.25")
        write(os.path.join(folder, "info"), "T 0.25\natoms 43\ndt 0.005\nkind flow\n")
        rng = np.random.default_rng(11)
        lines = ["# compute ress w\n# step U_from U_to log_w U_to_identity log_w_identity\n"]
        for i in range(400):
            u = -150.0 + rng.standard_normal()
            lines.append(f"{i} {u!r} {u - 0.5!r} {0.0 if i % 2 else 1.0} {u!r} {-u!r}\n")
        write(os.path.join(folder, "ternary2d_T0.25.weights"), "".join(lines))
        # training 1200 s at 50 % CPU use, mapping 50 s at 100 %
        write(os.path.join(folder, "log.lammps"), self.log((1.0, 100.0), (1200.0, 50.0),
                                                           (50.0, 100.0)))
        flow, identity = ternary_report.flow_rows(folder)
        # flow log-weights alternate 1, 0: RESS = (e + 1)^2 / (2 (e^2 + 1)) by hand
        ress = (math.e + 1) ** 2 / (2 * (math.e ** 2 + 1))
        self.assertAlmostEqual(flow["ress"], ress, places=12)
        self.assertEqual(flow["cpu"], 650.0)       # training + mapping
        self.assertEqual(identity["cpu"], 50.0)    # mapping only
        self.assertAlmostEqual(flow["cpu_per_sample"], 650.0 / (400 * ress), places=9)
        self.reference("md_0.25", 0.25, -150.0 + rng.standard_normal(2000), cpu=10.0)
        text = subprocess.run([sys.executable, TOOL, "table", self.out], check=True,
                              capture_output=True, text=True).stdout
        names = [line.split()[0] for line in text.splitlines()[1:4]]
        self.assertEqual(names, ["md_0.25", "flow_0.25", "flow_0.25"])
        self.assertIn("train 600 s", text)

    def test_short_reference_is_flagged(self):
        # a strongly correlated series: 20 blocks of 100 samples with g near 39 are 2.6
        # decorrelation times each, far too few
        self.reference("md_0.2", 0.2, -150.0 + ar1(0.95, 2000, seed=2), cpu=1.0)
        text = subprocess.run([sys.executable, TOOL, "table", self.out], check=True,
                              capture_output=True, text=True).stdout
        self.assertIn("warning: a block spans only", text)

    def test_missing_folder_content(self):
        write(os.path.join(self.out, "swap_0.3", "info"), "T 0.3\natoms 43\ndt 0.005\n")
        result = subprocess.run([sys.executable, TOOL, "table", self.out],
                                capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("samples.dat: no such file", result.stderr)


if __name__ == "__main__":
    unittest.main()
