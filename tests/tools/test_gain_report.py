"""bench/gain_report.py (the tables of bench/bench_gain.sh) against hand-computed values, and
bench_gain.sh's refusal to re-evaluate snapshots that are not there.

Run by CTest as tools.test_gain_report (python3 -m unittest); needs numpy.
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest

from report_fixtures import BENCH, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from flowmap_plot import bar_bootstrap, bar_difference  # noqa: E402

TOOL = os.path.join(BENCH, "gain_report.py")


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          check=False)



def sets_file(rows):
    # set frames RESS err RESS_identity err F err F_identity err
    text = "# set frames RESS err RESS_identity err F err F_identity err\n"
    for k, (ress, ress_identity, f, f_identity) in enumerate(rows, 1):
        # as in.wca2lj_map counts them: the first set also maps the frame of step 0
        frames = 1001 if k == 1 else 1000
        text += f"{k} {frames} {ress!r} 0 {ress_identity!r} 0 {f!r} 0 {f_identity!r} 0\n"
    return text


def weights_file(u_from, log_w, log_w_identity):
    text = "# step U_from U_to log_w U_to_identity log_w_identity\n"
    for k, (u, a, b) in enumerate(zip(u_from, log_w, log_w_identity)):
        text += f"{100 * k} {u!r} 0.0 {a!r} 0.0 {b!r}\n"
    return text


class GainReport(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        out = self.out = self.folder.name
        write(f"{out}/train.log", "noise\nBENCH snapshot 60 min: steps 1234 validation RESS "
              "A->B 0.1 (identity 0.01) B->A 0.05 (identity 0.005) KL gain 2.5 1.5\n")
        write(f"{out}/eval_60/forward.sets", sets_file([(0.06, 0.01, -61.6, -61.5),
                                                        (0.02, 0.03, -61.4, -61.7)]))
        write(f"{out}/eval_60/inverse.sets", sets_file([(0.01, 0.002, 61.5, 61.9),
                                                        (0.03, 0.002, 61.7, 61.7)]))
        write(f"{out}/eval_60/forward_1.weights", weights_file([0, 0], [1.0, 3.0], [0.0, 0.0]))
        write(f"{out}/eval_60/forward_2.weights", weights_file([0, 0], [2.0, 2.0], [1.0, 1.0]))
        write(f"{out}/eval_60/inverse_1.weights",
              weights_file([1.0, -1.0] * 20, [0.5] * 40, [0.0] * 40))
        write(f"{out}/eval_60/inverse_2.weights", weights_file([0, 0], [1.5, 1.5], [1.0, 1.0]))
        # left by an earlier evaluation with more sets: not part of this one
        write(f"{out}/eval_60/forward_3.weights", weights_file([0], [100.0], [0.0]))
        write(f"{out}/eval_60/log.lammps",
              "A->B timing: md 10.000 s, mapping and weighing 5.000 s, 2000 frames, "
              "energy decorrelation 230 steps\n"
              "B->A timing: md 20.000 s, mapping and weighing 8.000 s, 2000 frames, "
              "energy decorrelation 150 steps\n")

    def tearDown(self):
        self.folder.cleanup()

    def test_row_is_mean_over_sets_and_ratio_of_the_means(self):
        result = run("row", self.out, "60")
        self.assertEqual(result.returncode, 0, result.stderr)
        cells = result.stdout.split()
        self.assertEqual(cells[:2], ["60", "1234"])
        # A->B identity mean 0.02, standard error |0.01 - 0.03| / 2 = 0.01; flow mean 0.04
        self.assertEqual(cells[2], "2.000e-02+-1.0e-02")
        self.assertEqual(cells[3], "4.000e-02+-2.0e-02")
        self.assertAlmostEqual(float(cells[4]), 2.0)
        self.assertAlmostEqual(float(cells[7]), 0.02 / 0.002)
        self.assertIn("(2 sets of 1000 frames per direction)", result.stdout)

    def test_costs_from_timings_and_ress(self):
        result = run("costs", self.out, "60")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertIn("400 configurations/s A->B, 250 B->A", lines[0])
        figure = {line.split()[1]: float(line.split()[3]) for line in lines[2:]}
        self.assertAlmostEqual(figure["the"], (10 + 5) / 2000 / 0.04, places=6)
        self.assertAlmostEqual(figure["identity"], 10 / 2000 / 0.02, places=6)
        # fix flowmap's 150 steps of U_B decorrelation at 100 steps per frame: 1.5 frames
        self.assertAlmostEqual(figure["target"], 20 / 2000 * 1.5, places=6)

    def test_sidefile_carries_training_line_kl_gain_and_free_energies(self):
        result = run("sidefile", self.out, "I", "60", "abc1234", "--budgets", "5 60",
                     "--flowargs", "decay 0.5 4000")
        self.assertEqual(result.returncode, 0, result.stderr)
        text = result.stdout
        self.assertIn('bench/bench_gain.sh I "5 60", FLOWARGS="decay 0.5 4000"', text)
        self.assertIn("sources of commit abc1234", text)
        # the frames per set the evaluation was asked for (2000 over 2 sets), not set 1's count
        self.assertIn("-var frames 1000 -var sets 2", text)
        self.assertIn("60 min: steps 1234 validation RESS A->B 0.1", text)
        # KL gain: flow log-weights 1, 3, 2, 2 (mean 2) minus identity 0, 0, 1, 1 (mean 0.5);
        # backward 40 frames at 0.5 and 2 at 1.5 minus 40 at 0 and 2 at 1: 0.5
        kl = text.split("A->B, B->A")[1].split()
        self.assertAlmostEqual(float(kl[0]), 1.5, places=3)
        self.assertAlmostEqual(float(kl[1]), 0.5, places=3)
        self.assertIn("flow: A->B -61.5000, B->A 61.6000; identity: -61.6000, 61.8000", text)

    def test_sidefile_carries_the_bennett_estimate_of_paired_sets(self):
        result = run("sidefile", self.out, "I", "60", "abc1234")
        self.assertEqual(result.returncode, 0, result.stderr)
        line = result.stdout.split("Bennett acceptance ratio, beta_B F_B - beta_A F_A:")[1]
        words = line.split()
        flow, flow_error = float(words[1]), float(words[3].rstrip(","))
        identity, identity_error = float(words[5]), float(words[7].rstrip(","))
        difference, difference_error = float(words[11]), float(words[13])

        # Set 2 of each direction: 2 frames at lw_F 2 and 2 at lw_B 1.5, so Bennett's equation
        # 2 / (1 + exp(-2 - D)) = 2 / (1 + exp(-1.5 + D)) gives D = -0.25. Set 1: lw_F 1, 3
        # against 40 frames at lw_B 0.5, solved here by plain bisection of the equation.
        def equation(d):
            left = sum(1.0 / (1.0 + (2 / 40) * math.exp(-lw - d)) for lw in (1.0, 3.0))
            return left - 40.0 / (1.0 + (40 / 2) * math.exp(-0.5 + d))
        lo, hi = -10.0, 10.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if equation(mid) < 0 else (lo, mid)
        pairs = [0.5 * (lo + hi), -0.25]
        self.assertAlmostEqual(flow, sum(pairs) / 2, places=4)
        # errors: the standard error over the two pairs, or the bootstrap of all 46 frames
        # (100 resamples, as the report draws them) where that is larger
        flow_frames = ([1.0, 3.0, 2.0, 2.0], [0.5] * 40 + [1.5, 1.5])
        identity_frames = ([0.0, 0.0, 1.0, 1.0], [0.0] * 40 + [1.0, 1.0])
        standard_error = abs(pairs[0] - pairs[1]) / 2
        self.assertAlmostEqual(flow_error, max(standard_error, bar_bootstrap(*flow_frames)),
                               places=4)
        # identity: every log-weight of a set equal on both sides (0 and 0, 1 and 1): D = 0 in
        # each pair; only the bootstrap of the pooled frames, which mixes the sets, is not 0
        self.assertEqual(identity, 0.0)
        self.assertGreater(identity_error, 0.0)
        self.assertAlmostEqual(identity_error, bar_bootstrap(*identity_frames), places=4)
        # flow minus identity per pair is the flow's estimate itself; it agrees with 0
        self.assertAlmostEqual(difference, flow, places=4)
        self.assertAlmostEqual(difference_error, max(
            standard_error, bar_difference(flow_frames, identity_frames)[1]), places=4)
        self.assertIn("(standard error over set pairs, at least the bootstrap of all frames)",
                      line)
        self.assertNotIn("WARNING", result.stdout)

    def test_scale_row_is_per_particle(self):
        write(f"{self.out}/peak_memory.txt", "204800\n")
        result = run("scale", self.out, "60", "64", "--header")
        self.assertEqual(result.returncode, 0, result.stderr)
        header, cells = result.stdout.splitlines()[0], result.stdout.splitlines()[1].split()
        self.assertIn("-lnR/N", header)
        self.assertEqual(cells[:3], ["64", "60", "1234"])
        self.assertAlmostEqual(float(cells[3]), 3600 / 1234, places=3)
        # A->B: mean RESS identity 0.02, flow 0.04; KL gain 1.5 nats (sidefile test above)
        self.assertAlmostEqual(float(cells[4]), -math.log(0.02) / 64, places=4)
        self.assertAlmostEqual(float(cells[5]), -math.log(0.04) / 64, places=4)
        self.assertAlmostEqual(float(cells[6]), 1.5 / 64, places=4)
        # B->A: identity 0.002, flow 0.02, KL gain 0.5
        self.assertAlmostEqual(float(cells[7]), -math.log(0.002) / 64, places=4)
        self.assertAlmostEqual(float(cells[8]), -math.log(0.02) / 64, places=4)
        self.assertAlmostEqual(float(cells[9]), 0.5 / 64, places=4)
        # J: minus the mean forward log-weight minus the mean backward one. Identity 0.5 and
        # 2 / 42, flow 2 and (40 * 0.5 + 2 * 1.5) / 42; these made-up weights are no real
        # pair of states, so J comes out negative: the arithmetic is what is checked.
        self.assertAlmostEqual(float(cells[10]), -(0.5 + 2 / 42) / 64, places=4)
        self.assertAlmostEqual(float(cells[11]), -(2 + 23 / 42) / 64, places=4)
        self.assertEqual(cells[12], "200")

    def test_scaleplot_writes_a_png_and_refuses_a_run_without_n(self):
        png = os.path.join(self.out, "scaling.png")
        result = run("scaleplot", png, "60", f"{self.out}=64", f"{self.out}=32")
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(png, "rb") as image:
            self.assertEqual(image.read(8), b"\x89PNG\r\n\x1a\n")
        result = run("scaleplot", png, "60", self.out)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("expected OUT=N", result.stderr)

    def test_missing_evaluation_is_named_and_fails(self):
        result = run("row", self.out, "30")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("eval_30", result.stderr)


BENCH_GAIN = os.path.join(BENCH, "bench_gain.sh")


class SkipTraining(unittest.TestCase):
    """SKIP_TRAINING=1 re-evaluates an earlier run's snapshots; without them it must stop
    before starting LAMMPS, naming what is missing."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "gain")
        os.makedirs(self.out)

    def tearDown(self):
        self.tmp.cleanup()

    def bench(self, minutes):
        env = dict(os.environ, SKIP_TRAINING="1", OUT=self.out, BUILD=self.tmp.name)
        return subprocess.run(["sh", BENCH_GAIN, "I", minutes], capture_output=True, text=True,
                              env=env, check=False, timeout=60)

    def test_missing_snapshot_is_named_and_fails(self):
        result = self.bench("15 60")
        self.assertEqual(result.returncode, 1)
        self.assertIn("snapshot_15min.flow", result.stderr)

    def test_snapshot_without_its_training_line_fails(self):
        for m in ("15", "60"):
            write(os.path.join(self.out, f"snapshot_{m}min.flow"), "model")
        write(os.path.join(self.out, "train.log"), "BENCH snapshot 15 min: steps 10\n")
        result = self.bench("15 60")
        self.assertEqual(result.returncode, 1)
        self.assertIn("snapshot_60min.flow", result.stderr)
        self.assertNotIn("snapshot_15min.flow", result.stderr)


if __name__ == "__main__":
    unittest.main()
