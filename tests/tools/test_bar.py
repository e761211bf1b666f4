"""Bennett's acceptance ratio in tools/flowmap_plot.py: hand-computed cases, Gaussians with a
known free-energy difference, the estimate in the report's table and the bar command, and the
check that the flow's and the identity's Bennett estimates of the same frames agree.

Run by CTest as tools.test_bar (python3 -m unittest); needs numpy (and matplotlib for the
report).
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
sys.path.insert(0, TOOLS)
import flowmap_plot  # noqa: E402
from flowmap_plot import (bar, bar_asymptotic_error, bar_bootstrap, bar_difference,  # noqa: E402
                          disagreement, free_energy)

TOOL = os.path.join(TOOLS, "flowmap_plot.py")


def numbers(line):
    """The numbers among the words of a table line."""
    out = []
    for word in line.split():
        try:
            out.append(float(word))
        except ValueError:
            pass
    return out


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          check=False)


class HandComputed(unittest.TestCase):
    def test_one_frame_each_way_gives_half_the_difference(self):
        # 1 / (1 + exp(-0.3 - D)) = 1 / (1 + exp(-1.1 + D))  =>  D = (1.1 - 0.3) / 2
        self.assertAlmostEqual(bar([0.3], [1.1]), 0.4, places=12)

    def test_unequal_counts(self):
        # n_F = 2, n_B = 1, lw_F = 0, 0, lw_B = log 4, u = exp(D):
        # 2 / (1 + 2 / u) = 1 / (1 + u / 8)  =>  u^2 + 4 u - 8 = 0  =>  u = 2 sqrt 3 - 2
        self.assertAlmostEqual(bar([0.0, 0.0], [math.log(4.0)]),
                               math.log(2.0 * math.sqrt(3.0) - 2.0), places=12)

    def test_a_zero_weight_counts_in_n_but_not_in_the_sum(self):
        # n_F = 2: 2 exp(-0.3 - D) = 0.5 exp(-1.1 + D)  =>  D = log 2 + 0.4
        self.assertAlmostEqual(bar([0.3, -math.inf], [1.1]), math.log(2.0) + 0.4, places=12)

    def test_perfect_map_large_log_weights(self):
        # every log-weight the same: D is that constant, with no error; exp(1000) would
        # overflow without the log-sum-exp
        forward, backward = np.full(5, -1000.25), np.full(7, 1000.25)
        self.assertAlmostEqual(bar(forward, backward) / 1000.25, 1.0, places=12)
        # the variance is a difference of O(1) terms: rounding leaves ~1e-15, its root ~1e-8
        self.assertLess(bar_asymptotic_error(forward, backward), 1e-6)
        self.assertEqual(bar_bootstrap(forward, backward, 10), 0.0)

    def test_swapping_the_directions_changes_the_sign(self):
        rng = np.random.default_rng(3)
        forward, backward = rng.normal(-2.0, 1.5, 40), rng.normal(2.5, 1.0, 25)
        self.assertAlmostEqual(bar(backward, forward), -bar(forward, backward), places=10)

    def test_shifting_the_log_weights_shifts_the_estimate(self):
        # adding c to every forward log-weight and removing it from every backward one is a
        # change of the target's normalisation by exp(c): D moves by -c
        rng = np.random.default_rng(4)
        forward, backward = rng.normal(-2.0, 1.5, 40), rng.normal(2.5, 1.0, 25)
        self.assertAlmostEqual(bar(forward + 0.7, backward - 0.7),
                               bar(forward, backward) - 0.7, places=10)

    def test_root_lies_between_the_one_sided_estimates_when_they_bracket_it(self):
        rng = np.random.default_rng(5)
        forward, backward = rng.normal(-2.0, 1.5, 200), rng.normal(2.5, 1.0, 200)
        one_sided = sorted([free_energy(forward), -free_energy(backward)])
        self.assertTrue(one_sided[0] - 1.0 < bar(forward, backward) < one_sided[1] + 1.0)

    def test_asymptotic_error_one_frame_each_way(self):
        # N = 2, M = 0, W - D = -0.7 for both frames: var = (1/2) (2 + 2 cosh 0.7 - 4)
        self.assertAlmostEqual(bar_asymptotic_error([0.3], [1.1]),
                               math.sqrt(math.cosh(0.7) - 1.0), places=12)

    def test_bad_inputs_are_named(self):
        for forward, backward, words in (([], [1.0], "no forward"),
                                         ([0.0], [math.nan], "backward log-weights hold NaN"),
                                         ([math.inf], [0.0], "forward log-weights hold NaN or +inf"),
                                         ([-math.inf, -math.inf], [0.0], "every forward weight is 0")):
            with self.assertRaises(ValueError) as raised:
                bar(forward, backward)
            self.assertIn(words, str(raised.exception))


class Gaussians(unittest.TestCase):
    """A: N(0, 1) in d = 3 dimensions; B: N(0.4, 0.7^2) per component, beta = 1. The reduced
    free-energy difference is -log(Z_B / Z_A) = -d log(0.7)."""

    d, sigma_a, sigma_b, mu = 3, 1.0, 0.7, 0.4

    def exact(self):
        return -self.d * math.log(self.sigma_b / self.sigma_a)

    def u_a(self, x):
        return (x ** 2).sum(-1) / (2 * self.sigma_a ** 2)

    def u_b(self, x):
        return ((x - self.mu) ** 2).sum(-1) / (2 * self.sigma_b ** 2)

    def sample(self, rng, n):
        return (rng.normal(0.0, self.sigma_a, (n, self.d)),
                self.mu + rng.normal(0.0, self.sigma_b, (n, self.d)))

    def identity_log_weights(self, x, y):
        return -self.u_b(x) + self.u_a(x), -self.u_a(y) + self.u_b(y)

    def test_bennett_recovers_the_exact_value_with_less_variance_than_one_sided(self):
        rng = np.random.default_rng(2024)
        replicates, n = 200, 500
        estimates, errors = [], []
        for _ in range(replicates):
            forward, backward = self.identity_log_weights(*self.sample(rng, n))
            delta = bar(forward, backward)
            estimates.append((free_energy(forward), -free_energy(backward), delta))
            errors.append(bar_asymptotic_error(forward, backward, delta))
        estimates = np.array(estimates)
        spread = estimates.std(axis=0, ddof=1)
        # unbiased to within 4 standard errors of the mean of 200 replicates (about 0.01)
        self.assertLess(abs(estimates[:, 2].mean() - self.exact()),
                        4.0 * spread[2] / math.sqrt(replicates))
        # smaller scatter than either one-sided estimate (measured: 0.036 against 0.045 and
        # 0.18)
        self.assertLess(spread[2], 0.9 * spread[0])
        self.assertLess(spread[2], 0.5 * spread[1])
        # the large-sample error describes the scatter (measured within 2 %)
        self.assertLess(abs(np.median(errors) / spread[2] - 1.0), 0.15)

    def test_bootstrap_error_describes_the_scatter(self):
        rng = np.random.default_rng(7)
        errors = [bar_bootstrap(*self.identity_log_weights(*self.sample(rng, 500)), 50,
                                seed=k) for k in range(10)]
        # the scatter of the estimate over replicates of 500 + 500 frames, from the test
        # above: 0.036
        self.assertLess(abs(np.median(errors) / 0.036 - 1.0), 0.25)

    def test_an_affine_map_with_its_log_determinant(self):
        # F(x) = c x + m: lw_F = -u_B(F(x)) + u_A(x) + d log c, and back
        # lw_B = -u_A(F^-1(y)) + u_B(y) - d log c
        rng = np.random.default_rng(11)
        x, y = self.sample(rng, 20000)
        for c, m, exact_map in ((0.85, 0.25, False), (self.sigma_b / self.sigma_a, self.mu, True)):
            forward = -self.u_b(c * x + m) + self.u_a(x) + self.d * math.log(c)
            backward = -self.u_a((y - m) / c) + self.u_b(y) - self.d * math.log(c)
            delta = bar(forward, backward)
            error = bar_asymptotic_error(forward, backward, delta)
            if exact_map:
                # the map carries A onto B exactly: every log-weight is -D (or D)
                self.assertAlmostEqual(delta, self.exact(), places=10)
                self.assertLess(error, 1e-6)
            else:
                self.assertGreater(error, 1e-3)
                self.assertLess(abs(delta - self.exact()), 3.0 * error)

    def affine_and_identity(self, x, y, offset=0.0):
        # flow F(x) = 0.85 x + 0.25 (not exact), offset added to its forward log-weights only;
        # the identity's log-weights of the same frames
        c, m = 0.85, 0.25
        flow = (-self.u_b(c * x + m) + self.u_a(x) + self.d * math.log(c) + offset,
                -self.u_a((y - m) / c) + self.u_b(y) - self.d * math.log(c))
        return flow, self.identity_log_weights(x, y)

    def test_flow_and_identity_agree_on_exact_samples_and_an_offset_log_det_is_caught(self):
        rng = np.random.default_rng(21)
        x, y = self.sample(rng, 20000)
        value, error = bar_difference(*self.affine_and_identity(x, y), 100)
        # measured -0.0046 +- 0.0029 on another draw; the identity's own error is about 0.006
        self.assertGreater(error, 1e-3)
        self.assertLess(error, 0.006)
        self.assertIsNone(disagreement((value, error)), (value, error))
        # 0.1 on every forward log-weight (a constant slip in log|det J| of F only) moves
        # Bennett's estimate by about -0.05 (half of it with balanced overlap): 15 errors
        shifted = bar_difference(*self.affine_and_identity(x, y, 0.1), 100)
        self.assertAlmostEqual(shifted[0] - value, -0.05, delta=0.01)
        self.assertIn("disagree by", disagreement(shifted))

    def test_a_sampler_too_hot_moves_flow_and_identity_apart(self):
        # Samples 6 % too wide in both states (what a too long time step does to a thermostat):
        # both estimates are biased upward, the identity's, which leans on the tails, more;
        # measured exact 1.070, flow 1.135, identity 1.176, difference -0.041 +- 0.003
        rng = np.random.default_rng(22)
        x = rng.normal(0.0, 1.06 * self.sigma_a, (20000, self.d))
        y = self.mu + rng.normal(0.0, 1.06 * self.sigma_b, (20000, self.d))
        flow, identity = self.affine_and_identity(x, y)
        self.assertGreater(bar(*flow) - self.exact(), 0.04)
        self.assertGreater(bar(*identity) - bar(*flow), 0.02)
        self.assertIsNotNone(disagreement(bar_difference(flow, identity, 100)))

    def test_difference_needs_the_same_frames(self):
        with self.assertRaises(ValueError) as raised:
            bar_difference(([0.0, 0.1], [0.0]), ([0.0], [0.0]))
        self.assertIn("same frames", str(raised.exception))


def weights_file(path, log_w, log_w_identity):
    with open(path, "w") as f:
        f.write("# step U_from U_to log_w U_to_identity log_w_identity\n")
        for k, (a, b) in enumerate(zip(log_w, log_w_identity)):
            f.write(f"{100 * k} 1.0 2.0 {a!r} 3.0 {b!r}\n")


def sets_file(path, rows):
    with open(path, "w") as f:
        f.write("# set frames RESS err RESS_identity err F err F_identity err\n")
        for k, (fe, fe_identity) in enumerate(rows, 1):
            f.write(f"{k} 1 0.5 0.1 0.25 0.1 {fe!r} 0.01 {fe_identity!r} 0.02\n")


class Report(unittest.TestCase):
    def table(self, folder):
        result = run("report", "--no-training", "--dir", folder, "--bootstrap", "10")
        rows = {}
        for line in result.stdout.splitlines():
            for label in ("A->B  -log<w_F>", "B->A  +log<w_B>", "Bennett acceptance ratio",
                          "Bennett, flow minus identity"):
                if line.strip().startswith(label):
                    rows[label] = numbers(line)
        return result, rows

    def test_two_sets_per_direction_are_paired(self):
        with tempfile.TemporaryDirectory() as folder:
            sets_file(os.path.join(folder, "forward.sets"), [(-0.5, -0.6), (-0.3, -0.4)])
            sets_file(os.path.join(folder, "inverse.sets"), [(0.45, 0.7), (0.25, 0.5)])
            # set pairs: Bennett (1.1 - 0.3) / 2 = 0.4 and (0.9 - 0.5) / 2 = 0.2; identity
            # (1 - 0) / 2 = 0.5 both times
            weights_file(os.path.join(folder, "forward_1.weights"), [0.3], [0.0])
            weights_file(os.path.join(folder, "forward_2.weights"), [0.5], [0.0])
            weights_file(os.path.join(folder, "inverse_1.weights"), [1.1], [1.0])
            weights_file(os.path.join(folder, "inverse_2.weights"), [0.9], [1.0])
            result, rows = self.table(folder)
        self.assertIn("standard error over set pairs, at least the bootstrap of all frames",
                      result.stdout, result.stderr)
        # flow mean 0.3 +- |0.4 - 0.2| / 2, or the bootstrap of the four frames if larger;
        # identity 0.5 +- 0 (every resample gives 0.5)
        bootstrap = bar_bootstrap([0.3, 0.5], [1.1, 0.9], 10)
        self.assertGreater(bootstrap, 0.0)
        self.assertEqual(rows["Bennett acceptance ratio"],
                         [0.3, round(max(0.1, bootstrap), 4), 0.5, 0.0])
        # flow minus identity per pair: -0.1 and -0.3, mean -0.2 +- 0.1 (the paired bootstrap
        # is the flow's own here, the identity's being constant): within 3 errors
        self.assertEqual(rows["Bennett, flow minus identity"],
                         [-0.2, round(max(0.1, bootstrap), 4)])
        self.assertNotIn("WARNING", result.stdout)
        # one-sided rows: the .sets means, B->A with its sign turned (+log<w_B>)
        self.assertEqual(rows["A->B  -log<w_F>"][0::2], [-0.4, -0.5])
        self.assertEqual(rows["B->A  +log<w_B>"][0::2], [-0.35, -0.6])

    def test_pairs_that_agree_by_chance_do_not_shrink_the_errors(self):
        # Two identical set pairs: their standard error is 0, so any sampling noise in flow
        # minus identity would count as a disagreement of infinitely many errors, and the
        # flow's and the identity's rows would claim exact estimates. Every Bennett row's error
        # must instead be the bootstrap of all frames (paired for the difference), and exact
        # samples with an exact log-determinant must not warn.
        gaussians = Gaussians()
        x, y = gaussians.sample(np.random.default_rng(21), 2000)
        flow, identity = gaussians.affine_and_identity(x, y)
        with tempfile.TemporaryDirectory() as folder:
            sets_file(os.path.join(folder, "forward.sets"), [(-0.5, -0.6), (-0.5, -0.6)])
            sets_file(os.path.join(folder, "inverse.sets"), [(0.45, 0.7), (0.45, 0.7)])
            for k in (1, 2):
                weights_file(os.path.join(folder, f"forward_{k}.weights"), flow[0], identity[0])
                weights_file(os.path.join(folder, f"inverse_{k}.weights"), flow[1], identity[1])
            result, rows = self.table(folder)
        pooled_flow = (np.tile(flow[0], 2), np.tile(flow[1], 2))
        pooled_identity = (np.tile(identity[0], 2), np.tile(identity[1], 2))
        value, error = rows["Bennett, flow minus identity"]
        self.assertAlmostEqual(value, bar(*flow) - bar(*identity), places=4)
        self.assertNotEqual(value, 0.0)
        self.assertAlmostEqual(error, bar_difference(pooled_flow, pooled_identity, 10)[1],
                               places=4)
        self.assertGreater(error, 1e-3)
        self.assertNotIn("WARNING", result.stdout)
        self.assertIn("at least the bootstrap of all frames", result.stdout)
        value, error, value_identity, error_identity = rows["Bennett acceptance ratio"]
        self.assertAlmostEqual(value, bar(*flow), places=4)
        self.assertAlmostEqual(error, bar_bootstrap(*pooled_flow, 10), places=4)
        self.assertAlmostEqual(value_identity, bar(*identity), places=4)
        self.assertAlmostEqual(error_identity, bar_bootstrap(*pooled_identity, 10), places=4)
        self.assertGreater(min(error, error_identity), 1e-3)

    def test_one_set_per_direction_pools_with_a_bootstrap(self):
        with tempfile.TemporaryDirectory() as folder:
            sets_file(os.path.join(folder, "forward.sets"), [(-0.5, -0.6)])
            sets_file(os.path.join(folder, "inverse.sets"), [(0.45, 0.7)])
            weights_file(os.path.join(folder, "forward_1.weights"), [0.0, 0.0], [0.0, 0.0])
            weights_file(os.path.join(folder, "inverse_1.weights"), [math.log(4.0)],
                         [math.log(4.0)])
            result, rows = self.table(folder)
        self.assertIn("bootstrap, 10 resamples", result.stdout, result.stderr)
        value = round(math.log(2.0 * math.sqrt(3.0) - 2.0), 4)
        self.assertEqual(rows["Bennett acceptance ratio"][0::2], [value, value])

    def test_missing_weights_skip_only_the_bennett_row(self):
        with tempfile.TemporaryDirectory() as folder:
            sets_file(os.path.join(folder, "forward.sets"), [(-0.5, -0.6)])
            sets_file(os.path.join(folder, "inverse.sets"), [(0.45, 0.7)])
            result, rows = self.table(folder)
        self.assertEqual(result.returncode, 1)
        self.assertIn("skipped Bennett acceptance ratio", result.stderr)
        self.assertIn("forward_1.weights", result.stderr)
        self.assertIn("A->B  -log<w_F>", rows)
        self.assertNotIn("Bennett acceptance ratio", rows)


class Command(unittest.TestCase):
    def test_bar_prints_both_one_sided_estimates_and_bennett(self):
        with tempfile.TemporaryDirectory() as folder:
            forward, inverse = os.path.join(folder, "f.weights"), os.path.join(folder, "b.weights")
            # one frame each way (HandComputed): flow lw_F 0 and lw_B log 4, identity 0.3
            # and 1.1
            weights_file(forward, [0.0], [0.3])
            weights_file(inverse, [math.log(4.0)], [1.1])
            result = run("bar", "--forward", forward, "--inverse", inverse, "--bootstrap", "5")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {line.split()[0]: numbers(line) for line in result.stdout.splitlines()[2:]}
        flow, identity = rows["flow"], rows["identity"]
        self.assertAlmostEqual(flow[0], 0.0, places=4)                # -log<w_F>
        self.assertAlmostEqual(flow[2], math.log(4.0), places=4)      # +log<w_B>
        self.assertAlmostEqual(flow[4], math.log(2.0), places=4)
        self.assertAlmostEqual(identity[4], 0.4, places=4)
        self.assertAlmostEqual(identity[6], math.sqrt(math.cosh(0.7) - 1.0), places=4)
        # flow minus identity; one frame each way leaves nothing to resample (error 0), so any
        # difference at all is beyond 3 errors: a warning, status 0 without --check
        self.assertAlmostEqual(rows["flow-id"][0], math.log(2.0) - 0.4, places=4)
        self.assertIn("WARNING", result.stdout)

    def test_check_fails_on_an_offset_log_determinant(self):
        rng = np.random.default_rng(23)
        gaussians = Gaussians()
        x, y = gaussians.sample(rng, 5000)
        with tempfile.TemporaryDirectory() as folder:
            forward, inverse = os.path.join(folder, "f.weights"), os.path.join(folder, "b.weights")
            results = []
            for offset in (0.0, 0.2):
                flow, identity = gaussians.affine_and_identity(x, y, offset)
                weights_file(forward, flow[0], identity[0])
                weights_file(inverse, flow[1], identity[1])
                results.append(run("bar", "--forward", forward, "--inverse", inverse,
                                   "--bootstrap", "50", "--check"))
            unchecked = run("bar", "--forward", forward, "--inverse", inverse, "--bootstrap",
                            "50")
        agree, offset = results
        self.assertEqual(agree.returncode, 0, agree.stdout + agree.stderr)
        self.assertIn("flow-id", agree.stdout)
        self.assertNotIn("WARNING", agree.stdout)
        self.assertEqual(offset.returncode, 3, offset.stdout + offset.stderr)
        self.assertIn("WARNING: flow and identity disagree", offset.stdout)
        # without --check the same warning, and success
        self.assertEqual(unchecked.returncode, 0)
        self.assertIn("WARNING: flow and identity disagree", unchecked.stdout)

    def test_check_without_identity_columns_is_refused(self):
        with tempfile.TemporaryDirectory() as folder:
            forward, inverse = os.path.join(folder, "f.weights"), os.path.join(folder, "b.weights")
            for path in (forward, inverse):
                with open(path, "w") as f:
                    f.write("# step U_from U_to log_w\n0 1.0 2.0 0.5\n")
            result = run("bar", "--forward", forward, "--inverse", inverse, "--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("lack the identity's log-weights", result.stderr)

    def test_missing_inverse_file_is_named_and_fails(self):
        with tempfile.TemporaryDirectory() as folder:
            forward = os.path.join(folder, "f.weights")
            weights_file(forward, [0.0], [0.0])
            result = run("bar", "--forward", forward, "--inverse", "no_such.weights")
        self.assertEqual(result.returncode, 1)
        self.assertIn("no_such.weights", result.stderr)


if __name__ == "__main__":
    unittest.main()
