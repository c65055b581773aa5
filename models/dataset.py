"""Training data from the case event log: point-in-time snapshots with escalation labels.

For every case, the log is replayed and the case is looked at every ``every_days`` (weekly by
default) while it is open, starting when its first record reached the system:

* the state at snapshot time ``t`` is the fold of the case's events received by ``t``
  (``domain.case.step``, exactly what the stream's case table holds at ``t``), and the features
  are ``domain.risk.features.case_features(state, t)``: nothing from after ``t``;
* the label is 1 when the case escalates (a record with ``follow_up_status == "escalated"``)
  within ``horizon_days`` after ``t``, by the escalation's domain time (``found_at``);
* a snapshot is taken only while the case is open and has not escalated yet, and only when the
  whole horizon lies inside the log (later snapshots would have unknown labels).

Events come from a JSONL file of envelopes (``read_events_jsonl``) or from any iterable of
envelopes (the operator tools read the case-events topic from its first offset).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from domain.case import CaseState, step
from domain.risk.features import case_features, is_open_as_of, known_records, timestamp
from domain.risk.rules import evaluate_rules, level_of, score_hits
from schemas.events import Envelope, RecordAppended
from schemas.record import CHINA_TZ

DAY = 86400.0


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


# ---- reading the log ------------------------------------------------------------------------


def _open_text(path: Path, mode: str = "rt") -> IO[str]:
    if str(path).endswith(".gz"):
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def read_events_jsonl(path: str | Path) -> Iterator[Envelope]:
    """Envelopes from a JSONL file (one envelope per line; ``.gz`` is decompressed)."""
    with _open_text(Path(path)) as fh:
        for line in fh:
            if line.strip():
                yield Envelope.from_dict(json.loads(line))


def write_events_jsonl(events: Iterable[Envelope], path: str | Path) -> int:
    """Write envelopes as JSONL; returns how many."""
    n = 0
    with _open_text(Path(path), "wt") as fh:
        for ev in events:
            fh.write(ev.to_bytes().decode("utf-8") + "\n")
            n += 1
    return n


def group_by_case(events: Iterable[Envelope]) -> dict[str, list[Envelope]]:
    """The log's events per case, in sequence order, duplicates (same seq) dropped."""
    cases: dict[str, dict[int, Envelope]] = defaultdict(dict)
    for ev in events:
        cases[ev.case_id].setdefault(ev.seq, ev)
    return {cid: [evs[s] for s in sorted(evs)] for cid, evs in cases.items()}


# ---- labels and snapshots -------------------------------------------------------------------


def escalation_time(events: Iterable[Envelope]) -> float | None:
    """Domain time (epoch seconds) of a case's first escalation, None if it never escalated."""
    times = [
        timestamp(ev.event.found_at)
        for ev in events
        if isinstance(ev.event, RecordAppended) and ev.event.escalated
    ]
    return min(times) if times else None


def log_end(cases: dict[str, list[Envelope]]) -> float:
    """The latest time the log knows about (received or found)."""
    return max(
        max(timestamp(ev.recorded_at), timestamp(ev.occurred_at))
        for evs in cases.values()
        for ev in evs
    )


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=CHINA_TZ).isoformat()


def case_snapshots(
    case_id: str,
    events: list[Envelope],
    end: float,
    horizon_days: float = 30.0,
    every_days: float = 7.0,
) -> list[Snapshot]:
    """The point-in-time snapshots of one case (its events in sequence order)."""
    first = next((ev for ev in events if isinstance(ev.event, RecordAppended)), None)
    if first is None:
        return []
    escalated = escalation_time(events)
    horizon = horizon_days * DAY
    t = max(timestamp(first.recorded_at), timestamp(first.occurred_at))
    last_event = max(timestamp(ev.recorded_at) for ev in events)
    state = CaseState(case_id=case_id)
    i = 0
    out: list[Snapshot] = []
    while t + horizon <= end:
        if escalated is not None and escalated <= t:
            break
        while i < len(events) and timestamp(events[i].recorded_at) <= t:
            state = step(state, events[i])
            i += 1
        now = dt.datetime.fromtimestamp(t, tz=CHINA_TZ)
        as_of = now.isoformat()
        records = known_records(state, now)
        if is_open_as_of(records):
            features = case_features(state, now)
            found = evaluate_rules(state, now, features=features)
            label = int(escalated is not None and escalated <= t + horizon)
            out.append(
                Snapshot(
                    case_id=case_id,
                    as_of=as_of,
                    label=label,
                    features=features,
                    escalated_at=_iso(escalated) if escalated is not None else None,
                    rule_score=score_hits(found),
                    rule_level=level_of(found),
                    rule_codes=tuple(h.code for h in found),
                )
            )
        elif t >= last_event:
            break  # closed, and nothing more will ever happen to it in this log
        t += every_days * DAY
    return out


def _chunk_snapshots(
    chunk: list[tuple[str, list[Envelope]]], end: float, horizon_days: float, every_days: float
) -> list[Snapshot]:
    out: list[Snapshot] = []
    for cid, events in chunk:
        out.extend(case_snapshots(cid, events, end, horizon_days, every_days))
    return out


def build_dataset(
    events: Iterable[Envelope],
    horizon_days: float = 30.0,
    every_days: float = 7.0,
    progress: bool = False,
    jobs: int = 1,
) -> list[Snapshot]:
    """All snapshots of all cases in the log, ordered by time then case.

    ``jobs`` > 1 splits the cases over that many processes (cases are independent).
    """
    from tqdm import tqdm

    cases = group_by_case(events)
    if not cases:
        return []
    end = log_end(cases)
    items = [(cid, cases[cid]) for cid in sorted(cases)]
    rows: list[Snapshot] = []
    bar = tqdm(total=len(items), desc="snapshots", unit="case", disable=not progress)
    size = 500
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    if jobs > 1 and len(chunks) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [
                pool.submit(_chunk_snapshots, c, end, horizon_days, every_days) for c in chunks
            ]
            for chunk, fut in zip(chunks, futures, strict=True):
                rows.extend(fut.result())
                bar.update(len(chunk))
    else:
        for chunk in chunks:
            rows.extend(_chunk_snapshots(chunk, end, horizon_days, every_days))
            bar.update(len(chunk))
    bar.close()
    rows.sort(key=lambda r: (timestamp(r.as_of), r.case_id))
    return rows


def write_dataset(rows: Iterable[Snapshot], path: str | Path) -> int:
    """Write snapshots as JSONL (``.gz`` compresses); returns how many."""
    n = 0
    with _open_text(Path(path), "wt") as fh:
        for row in rows:
            fh.write(row.to_json() + "\n")
            n += 1
    return n


def read_dataset(path: str | Path) -> list[Snapshot]:
    with _open_text(Path(path)) as fh:
        return [Snapshot.from_dict(json.loads(line)) for line in fh if line.strip()]
