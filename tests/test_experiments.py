"""rmt_alpha.experiments: the registry, the run settings and the record's CSV/JSON output."""

import csv
import json
import math

import numpy as np
import pytest

from rmt_alpha import experiments
from rmt_alpha.experiments import FigureData


def test_registry_numbers_names_and_callables():
    assert list(experiments.FIGURES) == sorted(experiments.FIGURES)
    for k, spec in experiments.FIGURES.items():
        assert spec.number == k
        assert callable(spec) and callable(spec.render)
        assert len(spec.size) == 2 and all(s > 0 for s in spec.size)
        assert set(spec.settings) <= set(experiments.MODES)
    assert experiments.SIMULATED == tuple(k for k, s in experiments.FIGURES.items() if s.simulated)
    # every family module registers what the package exports as figureK
    for k in experiments.FIGURES:
        f = getattr(experiments, f"figure{k}", None)
        assert f is None or f is experiments.FIGURES[k].compute


def test_run_settings_modes_and_trials_override():
    full = experiments.run_settings("full")
    assert set(full) == set(experiments.FIGURES)
    assert full[1]["trials"] == 2000 and full[8]["trials"] == 4000
    over = experiments.run_settings("quick", trials=31)
    for k in experiments.FIGURES:
        if k in experiments.SIMULATED:
            assert over[k]["trials"] == 31
        else:
            assert "trials" not in over[k]
    assert over[6]["hist_trials"] == 15  # max(10, trials // 2)
    assert experiments.run_settings("tiny", trials=4)[6]["hist_trials"] == 10
    with pytest.raises(ValueError, match="mode"):
        experiments.run_settings("huge")


def test_record_csv_and_json_round_trip(tmp_path):
    d = FigureData("x", 99, "t", rows=[
        {"series": "theory", "a": 1.0, "b": 2},
        {"series": "simulation", "a": float("nan"), "c": True, "d": None},
    ], params={"v": np.arange(3), "inf": float("inf")}, seconds=1.234)
    d.to_csv(tmp_path / "x.csv")
    d.to_json(tmp_path / "x.json")
    rows = list(csv.reader(open(tmp_path / "x.csv")))
    assert rows[0] == ["series", "a", "b", "c", "d"]
    assert rows[1] == ["theory", "1", "2", "", ""]
    assert rows[2] == ["simulation", "nan", "", "True", ""]
    meta = json.load(open(tmp_path / "x.json"))
    assert meta["params"] == {"v": [0, 1, 2], "inf": None} and meta["seconds"] == 1.23
    assert d.select(series="theory", a=1.0 + 1e-14)[0]["b"] == 2
    assert np.array_equal(d.column("b", series="theory"), [2])


def test_noise_max_z():
    # one point: the two-sided 95 % quantile of |z|
    assert experiments.noise_max_z(1) == pytest.approx(1.959964, abs=1e-6)
    # many points: P(max |z| <= t) = (1 - 2 Phi(-t))^points = 0.95
    t = experiments.noise_max_z(50)
    assert (math.erf(t / math.sqrt(2))) ** 50 == pytest.approx(0.95, rel=1e-9)


def test_a_selection_keeps_the_other_figures_checks(tmp_path):
    """``reproduce(figures=[2])`` rewrites VALIDATION.md with the checks of the other figures
    read back from their JSON records in the folder (a non-finite check value included), and
    says which rows those are."""
    from rmt_alpha.experiments._validation import check

    rows = [{"alpha": a, "value": 0.7 + d, "stderr": 0.01, "theory": 0.7, "z": d / 0.01}
            for a, d in [(0.0, 0.012), (1.0, -0.005)]]
    flat = [{"alpha": 0.0, "value": 0.7, "stderr": 0.0, "theory": 0.7, "z": float("nan")}]
    other = FigureData("fig1_x", 1, "t", checks=[check("accuracy", rows, trials=10, p=20),
                                                 check("score mean", flat, trials=10, p=20)])
    other.to_json(tmp_path / "fig1_x.json")
    experiments.reproduce(str(tmp_path), mode="tiny", figures=[2], pdf=False, progress=False,
                          log=None)
    text = (tmp_path / "VALIDATION.md").read_text()
    alone = experiments.validation_markdown([other])
    kept = [line for line in alone.splitlines() if line.startswith(("| 1 |", "* figure 1,"))]
    assert len(kept) == 4 and all(line in text.splitlines() for line in kept)
    assert "| 1 | accuracy | 2 | 10 | 20 | 1.20 |" in text and "no standard error" in text
    assert "| 2 | " in text and "theory only" in text
    assert "This run computed figure 2; the rows of figure 1 are" in text
