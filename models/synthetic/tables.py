"""The phrase and name tables of the synthetic county, read from ``phrases.yaml``.

The file is read once, on the first call of :func:`phrases`; importing this module reads
nothing.  Lists become tuples.  The generator picks entries by position, so the order in the
file is part of what a seed reproduces.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

PHRASES_FILE = Path(__file__).with_name("phrases.yaml")


@dataclass(frozen=True)
class Phrases:
    """Every table of ``phrases.yaml``; the field names are its top-level keys."""

    villages: dict[str, tuple[str, ...]]  # per township
    surnames: str  # one character per surname
    given_names: tuple[str, ...]
    units: dict[str, str]  # responsible unit per category
    leader_titles: tuple[str, ...]
    sites: tuple[str, ...]
    projects: tuple[str, ...]
    roads: tuple[str, ...]
    openings: dict[str, tuple[str, ...]]  # first-report templates per category
    threats: dict[str, tuple[str, ...]]  # per kind of threat
    organising: tuple[str, ...]
    media: tuple[str, ...]
    calm: tuple[str, ...]
    temper: tuple[str, ...]
    measures: dict[str, tuple[str, ...]]  # per category
    agreed: tuple[str, ...]
    resolved: dict[str, tuple[str, ...]]  # "money" and "other"
    repeat_visits: tuple[str, ...]
    earlier_skip_level: tuple[str, ...]
    before_festival: tuple[str, ...]
    remarks: tuple[str, ...]
    withdrawn: tuple[str, ...]
    new_visit: tuple[str, ...]
    escalation: dict[str, tuple[str, ...]]  # per escalation kind
    typos: tuple[tuple[str, str], ...]  # (right, wrong)
    cn_digits: str  # 零 .. 九


def _frozen(value: Any) -> Any:
    """YAML lists as tuples, all the way down."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    return value


def load_phrases(path: Path = PHRASES_FILE) -> Phrases:
    """Read a phrase file; a missing or unknown top-level table is an error."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    expected = {f.name for f in fields(Phrases)}
    if not isinstance(data, dict) or set(data) != expected:
        found = set(data) if isinstance(data, dict) else set()
        raise ValueError(
            f"{path}: tables missing {sorted(expected - found)}, unknown {sorted(found - expected)}"
        )
    return Phrases(**{name: _frozen(value) for name, value in data.items()})


@functools.cache
def phrases(file: str = PHRASES_FILE.name) -> Phrases:
    """A phrase file of the package (``phrases.yaml`` unless named), read on first use, then
    kept."""
    return load_phrases(PHRASES_FILE.with_name(file))
