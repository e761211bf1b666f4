"""tools/flowmap_plot.py against hand-computed values and on missing inputs.

Run by CTest as tools.test_flowmap_plot (python3 -m unittest); needs numpy and matplotlib.
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                    "flowmap_plot.py")


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


if __name__ == "__main__":
    unittest.main()
