"""The synthetic county as a whole: cases in the order they were found, their records in
posting order, and the case events the stream would produce for them.

* ``generate_county(n_cases, seed)`` streams :class:`SyntheticCase` objects in the order their
  first record was found;
* ``posting_order(cases)`` lists all their records as township staff would post them
  (``iter_posting_order`` does the same without holding them all);
* ``event_log(cases)`` yields the case events the stream would produce for them, through the
  same ``validate -> fingerprint -> SubmitRecord -> handle_command`` path as the case writer.
"""

from __future__ import annotations

import datetime as dt
import heapq
import sys
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from domain.case import CaseState, handle_command
from models.synthetic.builder import CaseBuilder
from models.synthetic.cases import SyntheticCase
from models.synthetic.draws import Draws
from models.synthetic.story import CHINA, STORIES, Story, before_spring_festival
from schemas.commands import SubmitRecord
from schemas.events import Envelope
from schemas.record import fingerprint, validate


def _found_times(n: int, seed: int, start: dt.date, days: int) -> np.ndarray:
    """Sorted minutes after ``start`` at which the n cases are first found."""
    rng = np.random.default_rng([seed, 1])
    weights = np.array(
        [1.5 if before_spring_festival(start + dt.timedelta(days=i)) else 1.0 for i in range(days)]
    )
    day = rng.choice(days, size=n, p=weights / weights.sum())
    minute = rng.integers(8 * 60, 18 * 60, size=n)  # office hours
    return np.sort(day.astype(np.int64) * 1440 + minute)


def generate_county(
    n_cases: int,
    seed: int = 2026,
    start: str = "2025-01-01",
    days: int = 540,
    progress: bool = False,
    story: Story | str = "main",
) -> Iterator[SyntheticCase]:
    """Stream ``n_cases`` synthetic cases found between ``start`` and ``start + days``.

    Cases come in the order their first record was found; each is simulated week by week until
    it is resolved, withdrawn or the period ends.  The same seed gives the same county.
    ``story`` is ``main`` (the training story) or ``other`` (the out-of-template county).
    """
    if isinstance(story, str):
        story = STORIES[story]
    first_day = dt.date.fromisoformat(start)
    origin = dt.datetime.combine(first_day, dt.time(), tzinfo=CHINA)
    end = origin + dt.timedelta(days=days)
    minutes = _found_times(n_cases, seed, first_day, days)
    d = Draws(seed)
    counters: Counter = Counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_cases, unit="case", desc="synthetic county", file=sys.stderr)
    try:
        for m in minutes.tolist():
            found = origin + dt.timedelta(minutes=m)
            builder = CaseBuilder(d, found, end, counters, story)
            builder.simulate()
            yield builder.finish()
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def found_at_key(record: dict) -> dt.datetime:
    """The moment a record's found_at names (China time when it has no offset)."""
    text = record["found_at"].strip().replace("/", "-")
    if len(text) == 10:
        text += "T00:00:00"
    moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def posting_order(cases: Iterable[SyntheticCase]) -> list[dict]:
    """All records of all cases, sorted by found_at (ties keep case and record order)."""
    records = [r for case in cases for r in case.records]
    records.sort(key=found_at_key)
    return records


def iter_posting_order(cases: Iterable[SyntheticCase]) -> Iterator[dict]:
    """``posting_order`` without holding every record: a streaming merge.

    Needs the cases in the order they were found (as ``generate_county`` yields them); raises
    ValueError otherwise.  Gives exactly the same sequence as ``posting_order``.
    """
    heap: list[tuple[float, int, int, dict]] = []
    floor: float | None = None
    for ci, case in enumerate(cases):
        # A first record may give only its date (midnight), so records earlier than the
        # start of this case's day are the ones no later case can precede.
        first = found_at_key(case.records[0])
        day_start = first.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        if floor is not None and day_start < floor:
            raise ValueError("cases are not in the order they were found")
        floor = day_start
        while heap and heap[0][0] < day_start:
            yield heapq.heappop(heap)[3]
        for ri, record in enumerate(case.records):
            heapq.heappush(heap, (found_at_key(record).timestamp(), ci, ri, record))
    while heap:
        yield heapq.heappop(heap)[3]


def _received_at(record: dict, fp: str, previous: dt.datetime | None) -> dt.datetime:
    """found_at plus a small delay (2-27 minutes, from the content hash), never going back."""
    moment = found_at_key(record) + dt.timedelta(seconds=120 + int(fp[:6], 16) % 1500)
    if previous is not None and moment <= previous:
        moment = previous + dt.timedelta(seconds=1)
    return moment


def case_events(case: SyntheticCase) -> list[Envelope]:
    """The events the case agent would append for one case's records, in order."""
    case_id = case.case_id
    state = CaseState(case_id=case_id)
    out: list[Envelope] = []
    previous: dt.datetime | None = None
    for i, raw in enumerate(case.records):
        record = validate(raw)
        fp = fingerprint(record)
        previous = _received_at(record, fp, previous)
        command = SubmitRecord(
            command_id=f"synthetic:{case_id}:{i}",
            case_id=case_id,
            record=record,
            fingerprint=fp,
            received_at=previous.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
        )
        state, events = handle_command(state, command)
        out.extend(events)
    return out


def event_log(cases: Iterable[SyntheticCase]) -> Iterator[Envelope]:
    """The case events the stream would produce, case by case (each case's events contiguous
    and in seq order).  Sort by ``recorded_at`` for one time-ordered log across cases."""
    for case in cases:
        yield from case_events(case)
