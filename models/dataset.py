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
import gc
import gzip
import json
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from domain.case import CaseState, step
from domain.risk.features import case_features, read_records, timestamp
from domain.risk.policy import RiskPolicy, default_policy
from domain.risk.rules import evaluate_rules, level_of, score_hits
from models.snapshot_table import Snapshot, SnapshotTable, TableBuilder, empty_table
from schemas.events import Envelope, RecordAppended
from schemas.record import CHINA_TZ

DAY = 86400.0


# ---- reading the log ------------------------------------------------------------------------


def _open_text(path: Path, mode: str = "rt") -> IO[str]:
    if str(path).endswith(".gz"):
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def read_events_jsonl(path: str | Path) -> Iterator[Envelope]:
    """Envelopes from a JSONL file (one envelope per line; ``.gz`` is decompressed)."""
    with _open_binary(Path(path)) as fh:
        for line in fh:
            if line.strip():
                yield Envelope.from_dict(orjson.loads(line))


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


def _snapshots(
    case_id: str,
    events: list[Envelope],
    end: float,
    horizon_days: float,
    every_days: float,
    policy: RiskPolicy,
) -> Iterator[tuple[float, int, float | None, dict[str, Any], list]]:
    """(time, label, escalation time, features, rule hits) of each snapshot of one case.

    The case is folded forward (``domain.case.step``) to each snapshot time; its records are
    read again only when one has become known (``read_records(..., reuse=)``), and the clock's
    features are added at every time (``case_features``): what the stream computes, case by
    case, at each of those times.
    """
    first = next((ev for ev in events if isinstance(ev.event, RecordAppended)), None)
    if first is None:
        return
    escalated = escalation_time(events)
    horizon = horizon_days * DAY
    t = max(timestamp(first.recorded_at), timestamp(first.occurred_at))
    last_event = max(timestamp(ev.recorded_at) for ev in events)
    state = CaseState(case_id=case_id)
    known = None
    i = 0
    while t + horizon <= end:
        if escalated is not None and escalated <= t:
            break
        while i < len(events) and timestamp(events[i].recorded_at) <= t:
            state = step(state, events[i])
            i += 1
        now = dt.datetime.fromtimestamp(t, tz=CHINA_TZ)
        known = read_records(state, now, policy, reuse=known)
        if known.is_open:
            features = case_features(state, now, policy, known)
            found = evaluate_rules(state, now, policy, known=known)
            label = int(escalated is not None and escalated <= t + horizon)
            yield t, label, escalated, features, found
        elif t >= last_event:
            break  # closed, and nothing more will ever happen to it in this log
        t += every_days * DAY


def case_snapshots(
    case_id: str,
    events: list[Envelope],
    end: float,
    horizon_days: float = 30.0,
    every_days: float = 7.0,
    policy: RiskPolicy | None = None,
) -> list[Snapshot]:
    """The point-in-time snapshots of one case (its events in sequence order), its records read
    with the lexicon and rules of ``policy`` (the packaged one unless given)."""
    return [
        Snapshot(
            case_id=case_id,
            as_of=_iso(t),
            label=label,
            features=features,
            escalated_at=_iso(escalated) if escalated is not None else None,
            rule_score=score_hits(found),
            rule_level=level_of(found),
            rule_codes=tuple(h.code for h in found),
        )
        for t, label, escalated, features, found in _snapshots(
            case_id, events, end, horizon_days, every_days, policy or default_policy()
        )
    ]


def _table(
    cases: Iterable[tuple[str, list[Envelope]]],
    end: float,
    horizon_days: float,
    every_days: float,
    policy: RiskPolicy,
) -> SnapshotTable:
    """The snapshots of the given cases, as a table (rows case by case)."""
    rows = TableBuilder()
    with _no_cycle_collection():
        for cid, events in cases:
            for t, label, escalated, features, found in _snapshots(
                cid, events, end, horizon_days, every_days, policy
            ):
                codes = tuple(h.code for h in found)
                level = level_of(found)
                rows.add(cid, t, label, escalated, features, score_hits(found), level, codes)
        return rows.table()


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off while a replay makes millions of short-lived, acyclic
    objects (it would walk every live one again and again: a fifth of the replay's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _check_days(horizon_days: float, every_days: float) -> None:
    """Snapshots a positive number of days apart (0 would take the same one for ever), each
    labelled a positive number of days ahead."""
    if not (every_days > 0 and horizon_days > 0):
        raise ValueError(
            f"snapshots {every_days:g} days apart, labelled {horizon_days:g} days ahead: "
            "both must be more than 0"
        )


def build_dataset(
    events: Iterable[Envelope],
    horizon_days: float = 30.0,
    every_days: float = 7.0,
    progress: bool = False,
    jobs: int = 1,
    policy: RiskPolicy | None = None,
) -> SnapshotTable:
    """All snapshots of all cases in the log, ordered by time then case, as a table.

    ``jobs`` > 1 splits the cases over that many processes (cases are independent).
    ``policy``: whose lexicon and rules read the records (the packaged one unless given); the
    model trained on them is scored only under a policy with the same lexicon.
    ``build_dataset_from_log`` does the same from a file, without holding the log in memory.
    """
    _check_days(horizon_days, every_days)
    cases = group_by_case(events)
    if not cases:
        return empty_table()
    end = log_end(cases)
    items = [(cid, cases[cid]) for cid in sorted(cases)]
    size = 2000
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    policy = policy or default_policy()
    work = [partial(_table, c, end, horizon_days, every_days, policy) for c in chunks]
    sizes = [len(c) for c in chunks]
    return _gather(work, sizes, jobs, progress, "snapshots", "case")


def _gather(
    work: list[Callable[[], SnapshotTable]],
    sizes: list[int],
    jobs: int,
    progress: bool,
    desc: str,
    unit: str,
) -> SnapshotTable:
    """Run the pieces of work (in ``jobs`` processes when more than one), and put their tables
    together in time order."""
    from tqdm import tqdm

    bar = tqdm(total=sum(sizes), desc=desc, unit=unit, disable=not progress)
    parts: list[SnapshotTable] = []
    if jobs > 1 and len(work) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork")) as pool:
            futures = [pool.submit(w) for w in work]
            for size, fut in zip(sizes, futures, strict=True):
                parts.append(fut.result())
                bar.update(size)
    else:
        for size, w in zip(sizes, work, strict=True):
            parts.append(w())
            bar.update(size)
    bar.close()
    return SnapshotTable.concat_in_time_order(parts)


# ---- from a log file, in bulk ------------------------------------------------------------


def build_dataset_from_log(
    path: str | Path,
    horizon_days: float = 30.0,
    every_days: float = 7.0,
    progress: bool = False,
    jobs: int = 1,
    shards: int = 64,
    policy: RiskPolicy | None = None,
) -> SnapshotTable:
    """``build_dataset`` of a JSONL log file (``.gz`` too) of any size and order.

    The log is read once and its lines are split by case into ``shards`` temporary files; each
    shard (all the events of its cases) is then parsed and replayed on its own, by ``jobs``
    processes, so memory holds one shard's events per process and the snapshots' columns, never
    the whole log.
    """
    _check_days(horizon_days, every_days)
    with tempfile.TemporaryDirectory(prefix="ews-log-shards-") as tmp:
        files, end, lines = shard_log(path, Path(tmp), shards, progress)
        if not lines:
            return empty_table()
        sizes = [f.stat().st_size for f in files]
        policy = policy or default_policy()
        work = [partial(_shard_table, f, end, horizon_days, every_days, policy) for f in files]
        return _gather(work, sizes, jobs, progress, "snapshots", "B")


def shard_log(
    path: str | Path, into: Path, shards: int, progress: bool = False
) -> tuple[list[Path], float, int]:
    """Split a JSONL log by case (crc32 of the case id) into ``shards`` files; returns the
    files, the log's end (``log_end``: the latest time any line names; a line delivered twice
    counts like any other) and how many lines it had.  The files go where ``into`` is (under
    ``$TMPDIR`` from ``build_dataset_from_log``): about the log's uncompressed size."""
    from tqdm import tqdm

    files = [into / f"shard-{k:04d}.jsonl" for k in range(shards)]
    outs = [open(f, "wb", buffering=1 << 20) for f in files]  # noqa: SIM115 - closed below
    latest: dict[tuple[int, bytes, bytes], bytes] = {}  # per time format: the greatest value
    n = 0
    bar = tqdm(desc="reading log", unit=" events", unit_scale=True, disable=not progress)
    try:
        with _open_binary(Path(path)) as fh:
            for line in fh:
                if not line.strip():
                    continue
                case_id = _field(line, b"case_id")
                outs[zlib.crc32(case_id) % shards].write(
                    line if line.endswith(b"\n") else line + b"\n"
                )
                for name in (b"recorded_at", b"occurred_at"):
                    value = _field(line, name)
                    key = _time_format(value)
                    if value > latest.get(key, b""):
                        latest[key] = value
                n += 1
                if n % 100_000 == 0:
                    bar.update(100_000)
    finally:
        for out in outs:
            out.close()
        bar.close()
    end = max((timestamp(v.decode()) for v in latest.values()), default=0.0)
    return files, end, n


def _time_format(value: bytes) -> tuple[int, bytes, bytes]:
    """Times written the same way (length, date-time separator, UTC offset) compare as text
    in time order; the greatest of each way is parsed once at the end."""
    if value.endswith(b"Z"):
        zone = b"Z"
    elif len(value) > 16 and value[-6:-5] in (b"+", b"-") and value[-3:-2] == b":":
        zone = value[-6:]
    else:
        zone = b""
    return len(value), value[10:11], zone


def _open_binary(path: Path) -> IO[bytes]:
    if str(path).endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _field(line: bytes, name: bytes) -> bytes:
    """A string field of an envelope line, found without parsing the line (the compact form
    ``Envelope.to_bytes`` writes; any other spacing is parsed)."""
    key = b'"' + name + b'":"'
    start = line.find(key)
    if start < 0:
        return str(json.loads(line)[name.decode()]).encode()
    start += len(key)
    return line[start : line.index(b'"', start)]


def _shard_table(
    path: Path, end: float, horizon_days: float, every_days: float, policy: RiskPolicy
) -> SnapshotTable:
    with _no_cycle_collection():
        cases = group_by_case(read_events_jsonl(path))
    cases_in_order = ((cid, cases[cid]) for cid in sorted(cases))
    return _table(cases_in_order, end, horizon_days, every_days, policy)


def write_dataset(
    rows: Iterable[Snapshot],
    path: str | Path,
    policy: RiskPolicy | None = None,
    horizon_days: float | None = None,
    every_days: float | None = None,
) -> int:
    """Write snapshots as JSONL (``.gz`` compresses); returns how many.  With the ``policy``
    that read the records, its version and lexicon go beside it (``dataset_policy``), and the
    label's horizon and the snapshots' spacing it was built with."""
    n = 0
    with _open_text(Path(path), "wt") as fh:
        for row in rows:
            fh.write(row.to_json() + "\n")
            n += 1
    said = _policy_file(path)
    if policy is not None:
        facts = {"policy_version": policy.version, "lexicon": policy.lexicon.fingerprint}
        facts |= {"horizon_days": horizon_days, "every_days": every_days}
        said.write_text(json.dumps(facts) + "\n", encoding="utf-8")
    else:  # not an older set's
        said.unlink(missing_ok=True)
    return n


def dataset_policy(path: str | Path) -> dict[str, Any] | None:
    """The policy version and lexicon a training set was read with, and its label horizon and
    snapshot spacing (None where it does not say); None if it says nothing."""
    found = _policy_file(path)
    return json.loads(found.read_text(encoding="utf-8")) if found.exists() else None


def _policy_file(path: str | Path) -> Path:
    return Path(f"{path}.policy.json")


def read_dataset(path: str | Path) -> list[Snapshot]:
    with _open_text(Path(path)) as fh:
        return [Snapshot.from_dict(json.loads(line)) for line in fh if line.strip()]
