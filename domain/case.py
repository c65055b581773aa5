"""The case: a dispute as the fold of its events.  Pure: no Kafka, no SQL.

* ``decide(state, command) -> events``: what a command means for the case now;
* ``step(state, event) -> state``: how one event changes the case;
* ``fold(events) -> state``: the case as of its last event.

The state keeps each appended record in a compact form (``RecordSeen``) so that features can be
computed for any point in time from the state alone (see ``domain.risk.features``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from domain.risk.headcount import people_in_words, record_people
from schemas.commands import SubmitRecord
from schemas.events import (
    CaseClosed,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    Envelope,
    RecordAppended,
    event_id,
    status_stated,
)
from schemas.record import fingerprint, timestamp

MAX_RECORDS_KEPT = 100  # a case with more records keeps those that decide its facts (_kept)
FACTS = (  # the fields a record may give that say what is known of the case
    "people_involved",
    "amount_involved_yuan",
    "prior_visits",
    "prior_skip_level",
    "is_petition",
    "petition_received_on",
    "measures_taken",
)
COUNTS = ("people_involved", "amount_involved_yuan", "prior_visits", "prior_skip_level")
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
    category_corrected_at: str | None = None  # found_at of the correction that set it
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
    """The events a submitted record causes: none if the case has already seen it.

    A record's status closes or reopens the case only if no record found later has arrived
    before it: a follow-up that arrives late (found on the 11th, posted after the one found on
    the 12th) joins the case's history but does not overturn what the newer record says.
    """
    if _seen(state, command):
        return []
    appended = RecordAppended(command.fingerprint, command.record, command.posted_by)
    current = not _found_before(appended.found_at, state.last_found_at)
    found: list[CaseEvent] = []
    if state.status == "new":
        found.append(CaseOpened.from_record(command.record))
    elif (
        state.status == "closed" and appended.stated_status and not appended.closes_case and current
    ):
        found.append(CaseReopened(reason=appended.stated_status))
    found.append(appended)
    if appended.closes_case and state.status != "closed" and current:
        found.append(CaseClosed(outcome=appended.stated_status))
    return [
        Envelope(
            event_id=event_id(state.case_id, command.command_id, i),
            case_id=state.case_id,
            seq=state.seq + 1 + i,
            occurred_at=appended.found_at,
            recorded_at=command.received_at,
            causation_id=command.command_id,
            event=event,
        )
        for i, event in enumerate(found)
    ]


def _seen(state: CaseState, command: SubmitRecord) -> bool:
    """Whether the case has this record already, also when its reference number is spelt
    another way than the case's first record spelt it (zz-1 for ZZ-1: the same case)."""
    if command.fingerprint in state.fingerprints:
        return True
    return _as_the_case_spells_it(state, command.record) in state.fingerprints


def _found_before(found_at: str, latest: str | None) -> bool:
    """Whether a record was found strictly before the latest record the case has seen."""
    if latest is None:
        return False
    return dt.datetime.fromisoformat(found_at) < dt.datetime.fromisoformat(latest)


# ---- step -----------------------------------------------------------------------------------


def step(state: CaseState, envelope: Envelope) -> CaseState:
    """Apply one event.  An event the case has already applied (seq too low) changes nothing."""
    if envelope.seq <= state.seq:
        return state
    seq = envelope.seq
    match envelope.event:
        case CaseOpened() as e:
            return _opened(state, e, envelope.occurred_at, seq)
        case RecordAppended() as e:
            return _appended(state, e, envelope.recorded_at, seq)
        case CaseClosed():
            return replace(state, status="closed", closed_at=envelope.occurred_at, seq=seq)
        case CaseReopened():
            return replace(state, status="open", closed_at=None, seq=seq)
        case _:
            return replace(state, seq=seq)


def _opened(state: CaseState, e: CaseOpened, occurred_at: str, seq: int) -> CaseState:
    return replace(
        state,
        seq=seq,
        status="open",
        township=e.township,
        village=e.village,
        ref_no=e.ref_no,
        category=e.category,
        opened_at=occurred_at,
    )


def _appended(state: CaseState, e: RecordAppended, recorded_at: str, seq: int) -> CaseState:
    r = e.record
    seen = RecordSeen(
        fingerprint=e.fingerprint,
        found_at=e.found_at,
        recorded_at=recorded_at,
        record_kind=e.record_kind,
        follow_up_status=e.follow_up_status,
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
    current = not _found_before(e.found_at, state.last_found_at)
    alias = _as_the_case_spells_it(state, r)
    return replace(
        state,
        seq=seq,
        **_category_after(state, e),
        # a record found before the latest one fills a gap, it does not overwrite
        village=(r.get("village") or state.village)
        if current
        else (state.village or r.get("village")),
        last_found_at=e.found_at if current else state.last_found_at,
        records=_kept((*state.records, seen)),
        fingerprints=(*state.fingerprints, seen.fingerprint, *([alias] if alias else [])),
    )


def _kept(records: tuple[RecordSeen, ...]) -> tuple[RecordSeen, ...]:
    """At most ``MAX_RECORDS_KEPT`` of a case's records: the oldest that decide nothing go
    first (``_deciding``); when every old one decides something, the oldest go."""
    extra = len(records) - MAX_RECORDS_KEPT
    if extra <= 0:
        return records
    deciding = _deciding(records)
    first_to_go = [i for i in range(len(records)) if i not in deciding] + sorted(deciding)
    gone = set(first_to_go[:extra])
    return tuple(r for i, r in enumerate(records) if i not in gone)


def _deciding(records: tuple[RecordSeen, ...]) -> set[int]:
    """The records that still decide what is known of a case, in the order the risk features
    read them (found, then arrived): the first (when it opened, its category), every
    correction (it replaces what the records before it said), the latest to state a status,
    for each fact the first and the latest to give it, and for each count (head counts in
    words too) the largest, over all records and over those after the last correction that
    gave one."""
    found = sorted(range(len(records)), key=lambda i: (timestamp(records[i].found_at), i))
    out = {found[0]} | {i for i in found if records[i].record_kind == "correction"}
    stated = [
        i for i in found if status_stated(records[i].record_kind, records[i].follow_up_status)
    ]
    out |= set(stated[-1:])
    for name in FACTS:
        given = [i for i in found if getattr(records[i], name) is not None]
        out |= {given[0], given[-1]} if given else set()
        if name in COUNTS and given:
            out |= _largest(records, given, lambda i: getattr(records[i], name))  # noqa: B023
    in_words = {i: n for i in found if (n := people_in_words(records[i].description or ""))}
    if in_words:
        out |= _largest(records, list(in_words), in_words.__getitem__)  # in the order found
    for_rules = {  # each record's field, else its words: the group rules' count (of two as
        i: (n, not said)  # large, the field, as ``domain.risk.features.people_for_rules``)
        for i in found
        for n, said in [record_people(records[i].people_involved, records[i].description)]
        if records[i].people_involved is not None or said
    }
    if for_rules:
        out |= _largest(records, list(for_rules), for_rules.__getitem__)
    return out


def _largest(records: tuple[RecordSeen, ...], given: list[int], value: Any) -> set[int]:
    """Of the records ``given`` (in the order found), the one with the largest ``value`` and
    the one with the largest of those after the last correction among them."""
    corrections = [i for i in given if records[i].record_kind == "correction"]
    standing = given[given.index(corrections[-1]) :] if corrections else given
    return {max(given, key=value), max(standing, key=value)}


def _category_after(state: CaseState, e: RecordAppended) -> dict[str, Any]:
    """The case's category once ``e`` is applied: the correction found latest wins, whatever
    order the corrections arrive in (the read model's case row keeps the same rule)."""
    corrected_at = state.category_corrected_at
    if e.corrected_category is None or _found_before(e.found_at, corrected_at):
        return {}
    return {"category": e.corrected_category, "category_corrected_at": e.found_at}


def _as_the_case_spells_it(state: CaseState, record: dict[str, Any]) -> str | None:
    """The fingerprint ``record`` would have with its reference number spelt as the case's
    first record spelt it; None when it is spelt so already (see ``_seen``)."""
    spelt = record.get("ref_no")
    if not state.ref_no or spelt is None or spelt == state.ref_no:
        return None
    return fingerprint({**record, "ref_no": state.ref_no})


def _clip(text: str | None) -> str | None:
    return text[:MAX_TEXT_KEPT] if text else text


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
