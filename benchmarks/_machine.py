"""What machine a benchmark ran on: written beside every result table."""

from __future__ import annotations

import datetime
import os
import platform

import numpy as np


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe(**software) -> dict:
    """CPU, usable cores, load at start, versions (numpy plus ``software``), date."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count()
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = float("nan")
    return {
        "cpu": cpu_model(), "cores": cores, "numpy": np.__version__, **software,
        "python": platform.python_version(), "platform": platform.platform(),
        "load_average_1min_at_start": f"{load:.2f}",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
