"""What the tests of the bench/ report scripts share: the bench folder on the import path,
small files written on the fly, and a correlated series whose statistical inefficiency is known.
"""
import math
import os
import sys

import numpy as np

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def ar1(phi, n, seed):
    """A unit-variance AR(1) series: its statistical inefficiency is (1 + phi) / (1 - phi)."""
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.standard_normal()
    noise = rng.standard_normal(n) * math.sqrt(1.0 - phi * phi)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    return x
