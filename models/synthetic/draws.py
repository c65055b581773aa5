"""Randomness for the synthetic county.

numpy's Generator, drawn in blocks (one call per thousands of draws keeps a million cases
fast) and consumed in a fixed order, so a seed gives the same county.  Every draw of the
simulation goes through one :class:`Draws`; changing the number or order of draws changes
every county after that point.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from models.synthetic.story import CHINA


class Draws:
    """A seeded stream of uniform and normal draws, with the helpers the simulation uses."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._u: list[float] = []
        self._z: list[float] = []

    def u(self) -> float:
        if not self._u:
            self._u = self._rng.random(8192).tolist()
        return self._u.pop()

    def normal(self) -> float:
        if not self._z:
            self._z = self._rng.standard_normal(4096).tolist()
        return self._z.pop()

    def chance(self, p: float) -> bool:
        return self.u() < p

    def pick(self, items: Sequence[Any]) -> Any:
        return items[int(self.u() * len(items))]

    def int_between(self, low: int, high: int) -> int:
        return low + int(self.u() * (high - low + 1))

    def weighted(self, items: Sequence[Any], cumulative: Sequence[float]) -> Any:
        return items[bisect.bisect_right(cumulative, self.u() * cumulative[-1])]

    def poisson(self, lam: float) -> int:
        k, p, s, u = 0, math.exp(-lam), math.exp(-lam), self.u()
        while u > s and k < 50:
            k += 1
            p *= lam / k
            s += p
        return k


def cumulative(weights: Iterable[float]) -> list[float]:
    """Running totals of weights, for :meth:`Draws.weighted`."""
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def when(
    d: Draws, after: dt.datetime, low: int, high: int, early: int = 8, late: int = 18
) -> dt.datetime:
    """A moment ``low``..``high`` days after the day of ``after``, between ``early`` and ``late`` o'clock."""
    day = after.date() + dt.timedelta(days=d.int_between(low, high))
    minutes = early * 60 + int(d.u() * (late - early) * 60)
    return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=CHINA)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
