"""The benchmark scripts still run: their ``--quick`` smoke modes, at small sizes on the CPU.

No timing is asserted here (speed is measured by the scripts themselves, as ratios against a
baseline in the same process); this only keeps the scripts in step with the package they
measure (``benchmarks/gpu_general.py`` once called a private function with an old signature and
failed before it measured anything).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "bench_general": ([], None),
    "bench_scale": (["cpu"], "scale_cpu.csv"),
    "gpu_general": ([], "gpu_general.csv"),
    "gpu_simulate": ([], None),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_quick_mode_runs(script, tmp_path):
    args, written = CASES[script]
    out = ["--out", str(tmp_path)] if script != "bench_general" else []
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), *args,
                          "--quick", *out], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    if written:
        assert (tmp_path / written).stat().st_size > 0
