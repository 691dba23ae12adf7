"""The record of one figure's results and its CSV/JSON input-output."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class FigureData:
    """One figure's computed results.

    * ``name``: file stem (``fig1_accuracy_vs_alpha``); ``number``: the figure's number; ``title``.
    * ``rows``: the table, one dict per plotted point. A ``series`` column says what the
      row is (``theory``, ``simulation``, ``histogram`` ...); simulation rows carry the
      simulated value, its standard error, the theory at the same point and ``z``.
    * ``params``: everything needed to recompute the figure (JSON-serialisable).
    * ``summary``: derived numbers per curve (alpha*, chance-level alpha, accuracies).
    * ``checks``: theory-vs-simulation comparisons, one dict per compared quantity with
      ``quantity, points, trials, max_abs_z, max_abs_gap, p``; empty for theory-only figures.
    """

    name: str
    number: int
    title: str
    rows: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    summary: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def simulated(self) -> bool:
        return bool(self.checks)

    def select(self, **where) -> list:
        """Rows whose columns equal the given values (``series="theory"``, ``beta=0.5``...)."""
        return [r for r in self.rows if all(same(r.get(k), v) for k, v in where.items())]

    def column(self, name, **where) -> np.ndarray:
        """One column of the selected rows as a numpy array."""
        return np.array([r.get(name) for r in self.select(**where)])

    def columns(self) -> list:
        cols = {}
        for r in self.rows:
            for k in r:
                cols.setdefault(k, None)
        return list(cols)

    def to_csv(self, path) -> None:
        cols = self.columns()
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in self.rows:
                w.writerow([_csv_value(r.get(c)) for c in cols])

    def to_json_dict(self) -> dict:
        return _jsonable(
            {
                "figure": self.number,
                "name": self.name,
                "title": self.title,
                "params": self.params,
                "summary": self.summary,
                "checks": self.checks,
                "seconds": round(self.seconds, 2),
            }
        )

    def to_json(self, path) -> None:
        with open(path, "w") as f:
            json.dump(self.to_json_dict(), f, indent=2, allow_nan=False)
            f.write("\n")

    @classmethod
    def from_json(cls, path) -> FigureData:
        """The record that :meth:`to_json` wrote, without the rows (they are in the CSV);
        in the checks, the ``null`` of a non-finite value is ``nan`` again."""
        with open(path) as f:
            d = json.load(f)
        return cls(d["name"], d["figure"], d["title"], params=d["params"], summary=d["summary"],
                   checks=_nan(d["checks"]), seconds=d["seconds"])


def same(a, b) -> bool:
    """Equality of table values, floats to a relative 1e-12."""
    if a is b or a == b:
        return True
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)
        except (TypeError, ValueError):
            return False
    return a == b


def _csv_value(x) -> str:
    if x is None:
        return ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return "nan" if math.isnan(x) else format(float(x), ".10g")
    return str(x)


def _nan(x):
    """``None`` -> ``nan`` in nested dicts and lists (the inverse of :func:`_jsonable` for the
    numbers of a check)."""
    if isinstance(x, dict):
        return {k: _nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan(v) for v in x]
    return float("nan") if x is None else x


def _jsonable(x):
    """Plain JSON types; NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x
