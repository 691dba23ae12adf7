"""Best-of-n timing shared by the benchmark scripts."""

from __future__ import annotations

import time

import numpy as np


def best_of(f, repeat):
    """``(best seconds, median seconds, last result)`` of ``repeat`` calls of ``f()``."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times)), out
