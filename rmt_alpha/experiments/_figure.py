"""What a figure module declares: :class:`Figure`, one entry of the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ._record import FigureData

MODES = ("full", "quick", "tiny")


def _trials_only(trials: int) -> dict:
    return {"trials": trials}


@dataclass(frozen=True)
class Figure:
    """One figure: how to compute it, how to draw it, and how ``reproduce`` runs it.

    * ``compute(**settings) -> FigureData``: the numbers (no matplotlib);
    * ``render(data, fig)``: draws ``data`` on the empty matplotlib figure ``fig`` of size
      ``size`` (inches); reads nothing but ``data``;
    * ``settings``: keyword arguments of ``compute`` per ``reproduce`` mode (``full``: the
      committed figure; ``quick``; ``tiny``: a smoke test); a missing mode means the defaults;
    * ``simulated``: ``compute`` runs a Monte Carlo (it takes ``trials`` and ``progress``);
      ``trials_settings(trials)`` gives the keywords that a ``--trials`` override sets.

    Calling a :class:`Figure` calls ``compute``.
    """

    number: int
    compute: Callable[..., FigureData]
    render: Callable
    size: tuple
    settings: dict = field(default_factory=dict)
    simulated: bool = False
    trials_settings: Callable[[int], dict] = _trials_only

    def __call__(self, **kwargs) -> FigureData:
        return self.compute(**kwargs)

    def run_settings(self, mode: str = "full", *, trials=None) -> dict:
        """``compute``'s keyword arguments for a ``reproduce`` run in ``mode``."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        out = dict(self.settings.get(mode, {}))
        if trials is not None and self.simulated:
            out.update(self.trials_settings(trials))
        return out
