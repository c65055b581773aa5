"""The case: a dispute as the fold of its events.  Pure: no Kafka, no SQL.

* ``decide(state, command) -> events``: what a command means for the case now;
* ``step(state, event) -> state``: how one event changes the case;
* ``fold(events) -> state``: the case as of its last event.

The state keeps each appended record in a compact form (``RecordSeen``) so that features can be
computed for any point in time from the state alone (see ``models.features``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.events import Envelope, SubmitRecord, event_id
from schemas.record import CLOSING_STATUSES

MAX_RECORDS_KEPT = 100  # a case with more follow-ups than this keeps its latest ones
MAX_TEXT_KEPT = 500  # characters of each record's text the state keeps (the log keeps all)


@dataclass(frozen=True)
class RecordSeen:
    """What the case remembers of one appended record."""

    fingerprint: str
    found_at: str
    recorded_at: str
    record_kind: str
    follow_up_status: str
    description: str
    people_involved: int | None = None
    amount_involved_yuan: float | None = None
    prior_visits: int | None = None
    prior_skip_level: int | None = None
    is_petition: bool | None = None
    petition_received_on: str | None = None
    measures_taken: str | None = None
    category: str | None = None  # as this record gave it (a correction may change it)


@dataclass(frozen=True)
class CaseState:
    case_id: str
    seq: int = 0
    status: str = "new"  # new (no events yet) | open | closed
    township: str = ""
    village: str | None = None
    ref_no: str = ""
    category: str = ""
    opened_at: str | None = None  # domain time of the first record
    closed_at: str | None = None
    last_found_at: str | None = None
    records: tuple[RecordSeen, ...] = ()
    fingerprints: tuple[str, ...] = field(default=(), repr=False)

    # ---- read helpers ---------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def latest(self, name: str) -> Any:
        """The latest non-empty value of a record field across the case's records."""
        for seen in reversed(self.records):
            value = getattr(seen, name)
            if value is not None:
                return value
        return None

    # ---- serialisation for the case table ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in _SCALAR_FIELDS}
        d["records"] = [dict(r.__dict__) for r in self.records]
        d["fingerprints"] = list(self.fingerprints)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseState:
        d = dict(d)
        d["records"] = tuple(RecordSeen(**r) for r in d.get("records", ()))
        d["fingerprints"] = tuple(d.get("fingerprints", ()))
        return cls(**d)


_SCALAR_FIELDS = tuple(
    f for f in CaseState.__dataclass_fields__ if f not in ("records", "fingerprints")
)

# ---- decide ---------------------------------------------------------------------------------


def decide(state: CaseState, command: SubmitRecord) -> list[Envelope]:
    """The events a submitted record causes: none if the case has already seen it."""
    if command.fingerprint in state.fingerprints:
        return []
    record = command.record
    found: list[tuple[str, dict[str, Any]]] = []
    if state.status == "new":
        found.append(("CaseOpened", _opened_payload(record)))
    elif state.status == "closed" and record["follow_up_status"] not in CLOSING_STATUSES:
        found.append(("CaseReopened", {"reason": record["follow_up_status"]}))
    found.append(("RecordAppended", {"fingerprint": command.fingerprint, "record": record}))
    if record["follow_up_status"] in CLOSING_STATUSES and state.status != "closed":
        found.append(("CaseClosed", {"outcome": record["follow_up_status"]}))
    return [
        Envelope(
            event_id=event_id(state.case_id, command.command_id, i),
            event_type=kind,
            case_id=state.case_id,
            seq=state.seq + 1 + i,
            occurred_at=record["found_at"],
            recorded_at=command.received_at,
            causation_id=command.command_id,
            payload=payload,
        )
        for i, (kind, payload) in enumerate(found)
    ]


def _opened_payload(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "township": record["township"],
        "village": record.get("village"),
        "ref_no": record["ref_no"],
        "category": record["category"],
    }


# ---- step -----------------------------------------------------------------------------------


def step(state: CaseState, event: Envelope) -> CaseState:
    """Apply one event.  An event the case has already applied (seq too low) changes nothing."""
    if event.seq <= state.seq:
        return state
    apply = _APPLY.get(event.event_type)
    changed = apply(state, event) if apply else state
    return replace(changed, seq=event.seq)


def _case_opened(state: CaseState, event: Envelope) -> CaseState:
    p = event.payload
    return replace(
        state,
        status="open",
        township=p["township"],
        village=p.get("village"),
        ref_no=p["ref_no"],
        category=p["category"],
        opened_at=event.occurred_at,
    )


def _record_appended(state: CaseState, event: Envelope) -> CaseState:
    r = event.payload["record"]
    seen = RecordSeen(
        fingerprint=event.payload["fingerprint"],
        found_at=r["found_at"],
        recorded_at=event.recorded_at,
        record_kind=r.get("record_kind", "initial"),
        follow_up_status=r.get("follow_up_status", "new"),
        description=_clip(r.get("description", "")),
        people_involved=r.get("people_involved"),
        amount_involved_yuan=r.get("amount_involved_yuan"),
        prior_visits=r.get("prior_visits"),
        prior_skip_level=r.get("prior_skip_level"),
        is_petition=r.get("is_petition"),
        petition_received_on=r.get("petition_received_on"),
        measures_taken=_clip(r.get("measures_taken")),
        category=r.get("category"),
    )
    category = r["category"] if r.get("record_kind") == "correction" else state.category
    return replace(
        state,
        category=category,
        village=r.get("village") or state.village,
        last_found_at=max(filter(None, (state.last_found_at, r["found_at"]))),
        records=(*state.records, seen)[-MAX_RECORDS_KEPT:],
        fingerprints=(*state.fingerprints, seen.fingerprint),
    )


def _clip(text: str | None) -> str | None:
    return text[:MAX_TEXT_KEPT] if text else text


def _case_closed(state: CaseState, event: Envelope) -> CaseState:
    return replace(state, status="closed", closed_at=event.occurred_at)


def _case_reopened(state: CaseState, event: Envelope) -> CaseState:
    return replace(state, status="open", closed_at=None)


_APPLY = {
    "CaseOpened": _case_opened,
    "RecordAppended": _record_appended,
    "CaseClosed": _case_closed,
    "CaseReopened": _case_reopened,
}


def handle_command(state: CaseState, command: SubmitRecord) -> tuple[CaseState, list[Envelope]]:
    """decide + step in one call: what the case writer does with one command."""
    new_events = decide(state, command)
    for e in new_events:
        state = step(state, e)
    return state, new_events


def fold(case_id: str, events: Iterable[Envelope]) -> CaseState:
    state = CaseState(case_id=case_id)
    for event in events:
        state = step(state, event)
    return state
