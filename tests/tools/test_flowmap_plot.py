"""tools/flowmap_plot.py against hand-computed values and on missing inputs.

Run by CTest as tools.test_flowmap_plot (python3 -m unittest); needs numpy and matplotlib.
"""
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TOOL = os.path.join(ROOT, "tools", "flowmap_plot.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import flowmap_plot  # noqa: E402


def run(*args, cwd=None):
    return subprocess.run([sys.executable, TOOL, *args], cwd=cwd, capture_output=True,
                          text=True, check=False)


def write_weights(path, log_w, log_w_identity):
    with open(path, "w") as f:
        f.write("# step U_from U_to log_w U_to_identity log_w_identity\n")
        for k, (a, b) in enumerate(zip(log_w, log_w_identity)):
            f.write(f"{100 * k} 1.0 2.0 {a!r} 3.0 {b!r}\n")


class Ress(unittest.TestCase):
    def test_ress_and_free_energy_match_hand_computed_values(self):
        # weights 1, 1, 2, 4 shifted by 1000 in the log: RESS = 8^2 / (4 * 22), and
        # -log<w> = -(1000 + log 2); the shift tests the log-sum-exp.
        log_w = [1000.0, 1000.0, 1000.0 + math.log(2.0), 1000.0 + math.log(4.0)]
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "w.weights")
            write_weights(path, log_w, [0.0] * 4)
            result = run("ress", path, "--bootstrap", "10")
        self.assertEqual(result.returncode, 0, result.stderr)
        row = [line for line in result.stdout.splitlines() if line.startswith(path)][0].split()
        self.assertEqual(int(row[1]), 4)
        self.assertAlmostEqual(float(row[2]), 64.0 / 88.0, places=4)
        self.assertAlmostEqual(float(row[4]), -(1000.0 + math.log(2.0)), places=4)
        self.assertAlmostEqual(float(row[6]), 1.0, places=4)  # identity: equal weights

    def test_missing_file_is_named_and_fails(self):
        result = run("ress", "no_such.weights")
        self.assertEqual(result.returncode, 1)
        self.assertIn("no_such.weights", result.stderr)


class Report(unittest.TestCase):
    def test_empty_folder_reports_every_missing_input(self):
        with tempfile.TemporaryDirectory() as folder:
            result = run("report", "--dir", folder)
        self.assertEqual(result.returncode, 1)
        for what in ("forward table", "inverse table", "training curves"):
            self.assertIn(f"skipped {what}", result.stderr)

    def test_no_training_does_not_look_for_the_training_curve(self):
        with tempfile.TemporaryDirectory() as folder:
            result = run("report", "--no-training", "--dir", folder)
        self.assertEqual(result.returncode, 1)  # the tables are still missing
        self.assertIn("skipped forward table", result.stderr)
        self.assertNotIn("training", result.stderr)


def training_curve(with_kl_gain):
    """fix ave/time rows as in.wca2lj writes them: TimeStep, elements 1-12, 14-17 [, 22-23].

    Optimizer steps 1..6, validations at steps 2, 4 and 6 whose values the following step
    still shows, each row twice (fix ave/time writes the vector at every output, whether a
    step was taken or not); KL gain 0.1 * step A->B and 0.05 * step B->A.
    """
    rows = []
    for step in range(1, 7):
        validated = step >= 2
        shown = 2 * (step // 2) if validated else 0
        ress = [0.02 * shown, 0.01, 0.01 * shown, 0.005] if validated else [0.0] * 4
        gains = [0.1 * shown, 0.05 * shown] if validated else [0.0, 0.0]
        row = [2000 * step, step, -1.0 - step, -2.0 - step, 1.0, 1e-3, 0] + ress
        row += [100 * step, 50, 1.0, 2.0, 3.0, 4.0] + (gains if with_kl_gain else [])
        rows += [row, row]
    return rows


class TrainingCurve(unittest.TestCase):
    def test_in_wca2lj_records_the_columns_the_tool_reads(self):
        with open(os.path.join(ROOT, "examples", "lammps_inputs", "in.wca2lj")) as f:
            text = f.read()
        command = re.search(r"^fix\s+curve\s+all\s+ave/time(.*?)file training.curve",
                            text.replace("&\n", " "), re.M | re.S).group(1)
        # column 0 is the TimeStep, column k the k-th value listed
        elements = [int(k) for k in re.findall(r"f_flow\[(\d+)\]", command)]
        column = {element: k + 1 for k, element in enumerate(elements)}
        self.assertEqual(column[1], flowmap_plot.CURVE_STEPS)
        self.assertEqual(column[3], flowmap_plot.CURVE_KLD)
        self.assertEqual(column[7], flowmap_plot.CURVE_RESS["A->B flow"])
        self.assertEqual(column[10], flowmap_plot.CURVE_RESS["B->A identity"])
        self.assertEqual(column[22], flowmap_plot.CURVE_KL_GAIN["A->B"])
        self.assertEqual(column[23], flowmap_plot.CURVE_KL_GAIN["B->A"])
        self.assertEqual(len(elements) + 1, flowmap_plot.CURVE_COLUMNS_WITH_KL_GAIN)

    def test_kl_gain_is_plotted_per_validation(self):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        fig = flowmap_plot.training_figure(plt, np.array(training_curve(True)))
        self.assertEqual(len(fig.axes), 3)
        lines = {line.get_label(): line for line in fig.axes[2].get_lines()
                 if not line.get_label().startswith("_")}
        # one point per step that shows a validation, from its first row
        self.assertEqual(list(lines["A->B"].get_xdata()), [2, 3, 4, 5, 6])
        np.testing.assert_allclose(lines["A->B"].get_ydata(), [0.2, 0.2, 0.4, 0.4, 0.6])
        np.testing.assert_allclose(lines["B->A"].get_ydata(), [0.1, 0.1, 0.2, 0.2, 0.3])
        plt.close(fig)

    def test_curve_without_kl_gain_has_two_panels(self):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        fig = flowmap_plot.training_figure(plt, np.array(training_curve(False)))
        self.assertEqual(len(fig.axes), 2)
        plt.close(fig)

    def test_report_writes_the_training_plot(self):
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "training.curve"), "w") as f:
                f.write("# Time-averaged data for fix curve\n")
                for row in training_curve(True):
                    f.write(" ".join(repr(v) for v in row) + "\n")
            result = run("report", "--dir", folder)
            self.assertTrue(os.path.exists(os.path.join(folder, "training.png")), result.stderr)
        self.assertNotIn("skipped training", result.stderr)


if __name__ == "__main__":
    unittest.main()
