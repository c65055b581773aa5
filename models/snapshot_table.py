"""Snapshots held as columns: a million cases' weekly snapshots in a few numpy arrays.

A ``SnapshotTable`` is a sequence of ``Snapshot`` (``table[i]`` builds one, ``for row in table``
works), so code written for a list of snapshots reads it unchanged.  The code that touches
every row (the temporal split, fitting, the level cut-offs, the metrics) reads the columns
instead, through the accessors below, which take either a table or a list of snapshots:

    labels(rows), times(rows), weeks(rows), case_codes(rows), rule_scores(rows),
    rule_levels(rows), categories(rows), features(rows), take(rows, idx)

``features(table)`` is a ``FeatureColumns``: the numeric features in ``NUMERIC_FEATURES``
order, the categorical ones and the text, which ``models.estimator`` turns into its design
matrix without a dict per row.  The values are those ``case_features`` gave (numbers as
float64), so ``table[i].features == case_features(...)``.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from domain.risk.features import (
    CATEGORICAL_FEATURES,
    INTEGER_FEATURES,
    NUMERIC_FEATURES,
    TEXT_FEATURE,
    timestamp,
)
from models.evaluate import week_of
from schemas.record import CHINA_TZ

CHINA_OFFSET = 8 * 3600


@dataclass(frozen=True)
class Snapshot:
    """One training row: a case as of ``as_of`` and what happened in the horizon after it."""

    case_id: str
    as_of: str  # ISO 8601, China time
    label: int
    features: dict[str, Any]
    escalated_at: str | None = None
    rule_score: float = 0.0
    rule_level: str | None = None  # the level the rules raise the case to (None: no raise)
    rule_codes: tuple[str, ...] = ()  # every rule that fired, raising or not

    @property
    def category(self) -> str:
        return str(self.features.get("category", "unknown"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Snapshot:
        return cls(**{**d, "rule_codes": tuple(d.get("rule_codes", ()))})


@dataclass(frozen=True)
class FeatureColumns:
    """A batch of feature rows as columns (the estimator's fast input)."""

    numeric: np.ndarray  # float64 (n, len(NUMERIC_FEATURES))
    categorical: np.ndarray  # object (n, len(CATEGORICAL_FEATURES))
    text: np.ndarray  # object (n,)

    def __len__(self) -> int:
        return len(self.numeric)

    @property
    def shape(self) -> tuple[int, int]:  # rows, and the feature count (scikit-learn asks)
        return len(self.numeric), len(NUMERIC_FEATURES) + len(CATEGORICAL_FEATURES) + 1

    def __getitem__(self, idx: Any) -> FeatureColumns:
        """The rows at ``idx`` (scikit-learn's indexing passes ``(rows, ...)``)."""
        if isinstance(idx, tuple):
            idx = idx[0]
        return FeatureColumns(self.numeric[idx], self.categorical[idx], self.text[idx])

    def row(self, i: int) -> dict[str, Any]:
        """One row as ``case_features`` gave it (counts and flags as ints)."""
        values = self.numeric[i].tolist()
        out: dict[str, Any] = {
            name: int(v) if name in INTEGER_FEATURES else v
            for name, v in zip(NUMERIC_FEATURES, values, strict=True)
        }
        out.update(zip(CATEGORICAL_FEATURES, self.categorical[i], strict=True))
        out[TEXT_FEATURE] = self.text[i]
        return out


@dataclass(frozen=True, eq=False)
class SnapshotTable(Sequence[Snapshot]):
    """Snapshots as columns, one entry per snapshot."""

    case: np.ndarray  # int32: index into ``case_ids``
    case_ids: np.ndarray  # object: the cases' ids, sorted
    as_of: np.ndarray  # float64: epoch seconds
    label: np.ndarray  # int8
    escalated_at: np.ndarray  # float64 epoch seconds, nan: never escalated
    rule_score: np.ndarray  # float64
    rule_level: np.ndarray  # object: str | None
    rule_codes: np.ndarray  # object: tuple[str, ...]
    numeric: np.ndarray
    categorical: np.ndarray
    text: np.ndarray

    def __len__(self) -> int:
        return len(self.as_of)

    def __getitem__(self, i: Any) -> Any:  # an int gives a Snapshot, else a table
        if isinstance(i, int | np.integer):
            return self.snapshot(int(i))
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        i = np.asarray(i)
        return self.take(i if i.dtype == bool else i.astype(np.int64))

    def __iter__(self) -> Iterator[Snapshot]:
        return (self.snapshot(i) for i in range(len(self)))

    def snapshot(self, i: int) -> Snapshot:
        escalated = self.escalated_at[i]
        return Snapshot(
            case_id=str(self.case_ids[self.case[i]]),
            as_of=_iso(float(self.as_of[i])),
            label=int(self.label[i]),
            features=self.features.row(i),
            escalated_at=None if np.isnan(escalated) else _iso(float(escalated)),
            rule_score=float(self.rule_score[i]),
            rule_level=self.rule_level[i],
            rule_codes=tuple(self.rule_codes[i]),
        )

    @property
    def features(self) -> FeatureColumns:
        return FeatureColumns(self.numeric, self.categorical, self.text)

    def take(self, idx: np.ndarray) -> SnapshotTable:
        """The rows at ``idx`` (or where a boolean mask is true), as a table."""
        per_row = {f.name: getattr(self, f.name)[idx] for f in fields(self) if f.name != "case_ids"}
        return SnapshotTable(case_ids=self.case_ids, **per_row)

    @classmethod
    def concat_in_time_order(cls, parts: list[SnapshotTable]) -> SnapshotTable:
        """One table of several, ordered by time, then case (the order ``build_dataset``
        promises).  ``parts`` is emptied as its columns are used, so that memory holds the
        parts and the result together one column at a time."""
        if not parts:
            return empty_table()
        case_ids = np.unique(np.concatenate([p.case_ids for p in parts]))
        case = np.concatenate(
            [np.searchsorted(case_ids, p.case_ids)[p.case].astype(np.int32) for p in parts]
        )
        as_of = np.concatenate([p.as_of for p in parts])
        order = np.lexsort((case, as_of))
        columns = [{f.name: getattr(p, f.name) for f in fields(cls)} for p in parts]
        parts.clear()
        out: dict[str, np.ndarray] = {"case": case[order], "as_of": as_of[order]}
        del case, as_of
        for f in fields(cls):
            if f.name not in out and f.name != "case_ids":
                joined = np.concatenate([c.pop(f.name) for c in columns])
                out[f.name] = joined[order]
                del joined
        return cls(case_ids=case_ids, **out)


class TableBuilder:
    """Collects snapshots row by row, then makes a ``SnapshotTable`` of them."""

    def __init__(self) -> None:
        self._rows: list[tuple] = []
        self._numeric: list[list[float]] = []
        self._codes: dict[tuple[str, ...], tuple[str, ...]] = {}

    def add(
        self,
        case_id: str,
        as_of: float,
        label: int,
        escalated_at: float | None,
        features: dict[str, Any],
        rule_score: float,
        rule_level: str | None,
        rule_codes: tuple[str, ...],
    ) -> None:
        codes = self._codes.setdefault(rule_codes, rule_codes)  # one tuple per combination
        escalated = np.nan if escalated_at is None else escalated_at
        categorical = tuple(features[n] for n in CATEGORICAL_FEATURES)
        text = features[TEXT_FEATURE]
        self._rows.append(
            (case_id, as_of, label, escalated, rule_score, rule_level, codes, categorical, text)
        )
        self._numeric.append([features[n] for n in NUMERIC_FEATURES])

    def table(self) -> SnapshotTable:
        if not self._rows:
            return empty_table()
        cols = list(zip(*self._rows, strict=True))
        case_ids, case = np.unique(np.array(cols[0], dtype=object), return_inverse=True)
        categorical = np.empty((len(self._rows), len(CATEGORICAL_FEATURES)), dtype=object)
        categorical[:] = cols[7]
        return SnapshotTable(
            case=case.astype(np.int32),
            case_ids=case_ids,
            as_of=np.array(cols[1], dtype=float),
            label=np.array(cols[2], dtype=np.int8),
            escalated_at=np.array(cols[3], dtype=float),
            rule_score=np.array(cols[4], dtype=float),
            rule_level=_objects(cols[5]),
            rule_codes=_objects(cols[6]),
            numeric=np.array(self._numeric, dtype=float).reshape(-1, len(NUMERIC_FEATURES)),
            categorical=categorical,
            text=_objects(cols[8]),
        )


def empty_table() -> SnapshotTable:
    none = np.array([], dtype=object)
    return SnapshotTable(
        case=np.array([], dtype=np.int32),
        case_ids=none,
        as_of=np.array([]),
        label=np.array([], dtype=np.int8),
        escalated_at=np.array([]),
        rule_score=np.array([]),
        rule_level=none,
        rule_codes=none,
        numeric=np.zeros((0, len(NUMERIC_FEATURES))),
        categorical=np.empty((0, len(CATEGORICAL_FEATURES)), dtype=object),
        text=none,
    )


def _objects(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=CHINA_TZ).isoformat()


# ---- accessors: a table's column, or the same values from a list of snapshots --------------


def labels(rows: Sequence[Snapshot]) -> np.ndarray:
    if isinstance(rows, SnapshotTable):
        return rows.label.astype(int)
    return np.array([r.label for r in rows], dtype=int)


def times(rows: Sequence[Snapshot]) -> np.ndarray:
    """Epoch seconds of each snapshot."""
    if isinstance(rows, SnapshotTable):
        return rows.as_of
    return np.array([timestamp(r.as_of) for r in rows], dtype=float)


def weeks(rows: Sequence[Snapshot]) -> np.ndarray:
    """The ISO week (China time) of each snapshot: ``2026-W07`` labels, or for a table the same
    weeks as numbers (202607), which group and compare alike and much faster."""
    if not isinstance(rows, SnapshotTable):
        return np.array([week_of(r.as_of) for r in rows])
    days = np.floor((rows.as_of + CHINA_OFFSET) / 86400).astype(np.int64)
    unique, inverse = np.unique(days, return_inverse=True)
    codes = np.array([_iso_week(int(d)) for d in unique], dtype=np.int64)
    return codes[inverse] if len(unique) else np.array([], dtype=np.int64)


def _iso_week(day: int) -> int:
    year, week, _ = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isocalendar()
    return year * 100 + week


def case_codes(rows: Sequence[Snapshot]) -> np.ndarray:
    """A number per case (equal numbers: the same case)."""
    if isinstance(rows, SnapshotTable):
        return rows.case
    return np.unique(np.array([r.case_id for r in rows], dtype=object), return_inverse=True)[1]


def case_hashes(rows: Sequence[Snapshot]) -> np.ndarray:
    """crc32 of each snapshot's case id (a stable way to split cases into groups)."""
    if isinstance(rows, SnapshotTable):
        per_case = np.array([zlib.crc32(c.encode()) for c in rows.case_ids], dtype=np.int64)
        return per_case[rows.case] if len(per_case) else np.array([], dtype=np.int64)
    return np.array([zlib.crc32(r.case_id.encode()) for r in rows], dtype=np.int64)


def n_cases(rows: Sequence[Snapshot]) -> int:
    if isinstance(rows, SnapshotTable):
        return len(np.unique(rows.case))
    return len({r.case_id for r in rows})


def rule_scores(rows: Sequence[Snapshot]) -> np.ndarray:
    if isinstance(rows, SnapshotTable):
        return rows.rule_score
    return np.array([r.rule_score for r in rows], dtype=float)


def rule_levels(rows: Sequence[Snapshot]) -> np.ndarray:
    if isinstance(rows, SnapshotTable):
        return rows.rule_level
    return _objects([r.rule_level for r in rows])


def rule_code_lists(rows: Sequence[Snapshot]) -> Sequence[tuple[str, ...]]:
    if isinstance(rows, SnapshotTable):
        return rows.rule_codes
    return [r.rule_codes for r in rows]


def categories(rows: Sequence[Snapshot]) -> np.ndarray:
    if isinstance(rows, SnapshotTable):
        return rows.categorical[:, CATEGORICAL_FEATURES.index("category")]
    return np.array([r.category for r in rows], dtype=object)


def features(rows: Sequence[Snapshot]) -> Any:
    """The feature rows: ``FeatureColumns`` for a table, a list of dicts otherwise."""
    if isinstance(rows, SnapshotTable):
        return rows.features
    return [r.features for r in rows]


def take(rows: Sequence[Snapshot], idx: np.ndarray) -> Sequence[Snapshot]:
    """The snapshots at ``idx``, positions or a boolean mask (a table stays a table)."""
    idx = np.asarray(idx)
    if idx.dtype != bool:
        idx = idx.astype(np.int64)
    if isinstance(rows, SnapshotTable):
        return rows.take(idx)
    return [rows[int(i)] for i in (np.flatnonzero(idx) if idx.dtype == bool else idx)]


def chain(first: Sequence[Snapshot], second: Sequence[Snapshot]) -> Sequence[Snapshot]:
    """The snapshots of both, in that order (two parts of one table stay a table)."""
    if (
        isinstance(first, SnapshotTable)
        and isinstance(second, SnapshotTable)
        and first.case_ids is second.case_ids
    ):
        per_row = {
            f.name: np.concatenate([getattr(first, f.name), getattr(second, f.name)])
            for f in fields(SnapshotTable)
            if f.name != "case_ids"
        }
        return SnapshotTable(case_ids=first.case_ids, **per_row)
    return [*first, *second]
