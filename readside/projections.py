"""How events become read-model rows.  Pure: an event and the current row in, the new row out.

The projector (``readside.projector``) does the I/O around these functions.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson

from schemas.categories import BY_CODE
from schemas.events import (
    CaseClosed,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    Envelope,
    RecordAppended,
)
from schemas.receipts import DeadLetter, IntakeReceipt
from schemas.record import ESCALATION_KINDS, FOLLOW_UP_STATUSES, as_time
from schemas.risk import RiskAssessed

Row = dict[str, Any]
# a timeline entry's payload text: keys sorted, Chinese as it is (what json.dumps gives with
# these options; one encoder made once instead of one per event)
PAYLOAD_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def out_of_sequence(row: Row | None, envelope: Envelope) -> str | None:
    """Why a case event not applied before cannot be applied now, or None if it can.

    A case's events carry seq 1, 2, 3 ... without holes, written by one case writer; one that
    comes before its case's opening, repeats a seq under another event id, or skips one means
    an event was lost or forged, and applying it would hide that."""
    if row is None:
        if isinstance(envelope.event, CaseOpened) and envelope.seq == 1:
            return None
        return f"seq {envelope.seq} of case {envelope.case_id}, whose opening was never seen"
    last = row["last_seq"]
    if envelope.seq <= last:
        return (
            f"seq {envelope.seq} of case {envelope.case_id} was already applied, "
            f"from another event (this one is {envelope.event_id})"
        )
    if envelope.seq > last + 1:
        return (
            f"gap: case {envelope.case_id} is at seq {last}, this event is seq {envelope.seq}; "
            f"seq {last + 1} is missing"
        )
    return None


def apply_to_case(row: Row | None, envelope: Envelope) -> Row | None:
    """The case row after the event; ``None`` if the event does not make or touch a case row.

    An event whose ``seq`` is not above the row's ``last_seq`` was applied before (a re-emitted
    duplicate) and leaves the row as it is.
    """
    if row is not None and envelope.seq <= row["last_seq"]:
        return row
    match envelope.event:
        case CaseOpened() as e:
            row = _opened_row(envelope, e)
        case _ if row is None:
            return None  # an event of a case whose opening this projection has not seen
        case RecordAppended() as e:
            row = _appended_row(row, e)
        case CaseClosed():
            row = dict(row, status="closed", closed_at=envelope.occurred_at)
        case CaseReopened():
            row = dict(row, status="open", closed_at=None)
        case _:
            row = dict(row)
    row["last_seq"] = envelope.seq
    row["updated_at"] = envelope.recorded_at
    return row


def _opened_row(envelope: Envelope, e: CaseOpened) -> Row:
    return {
        "case_id": envelope.case_id,
        "township": e.township,
        "village": e.village,
        "ref_no": e.ref_no,
        "category": e.category,
        "category_corrected_at": None,
        "status": "open",
        "opened_at": envelope.occurred_at,
        "closed_at": None,
        "last_found_at": envelope.occurred_at,
        "record_count": 0,
        "people_involved": None,
        "amount_involved_yuan": None,
        "is_petition": None,
        "petition_received_on": None,
        "follow_up_status": "new",
        "status_found_at": None,
        "escalation_kind": None,
        "satisfaction": None,
        "values_found_at": None,
    }


# each from the latest-found record that gives it, as the scorer reads them
# (``domain.risk.features.latest_value``); the village as the case fold keeps it
LATEST_VALUE_FIELDS = (
    "people_involved",
    "amount_involved_yuan",
    "is_petition",
    "petition_received_on",
    "escalation_kind",
    "satisfaction",
)


def _appended_row(row: Row, e: RecordAppended) -> Row:
    """The case row once a record is added.  What the latest-found record says stands: a
    record found before it (posted late) fills what is still empty and overwrites nothing; of
    the corrections of the category, the one found latest; of the records that state a
    follow-up status, the one found latest (of two found at once, the later to arrive), as the
    scorer reads it (``domain.risk.features.status_as_of``).  The case's own open or closed
    comes from its events."""
    r = e.record
    row = dict(row)
    row["record_count"] += 1
    latest = row["last_found_at"]
    found = as_time(e.found_at)
    current = not latest or found >= as_time(latest)
    if current:
        row["last_found_at"] = e.found_at
    if r.get("village") and (current or not row["village"]):
        row["village"] = r["village"]
    _take_latest_values(row, r, e.found_at, found, latest)
    stated_at = row["status_found_at"]
    if e.stated_status and (not stated_at or as_time(e.found_at) >= as_time(stated_at)):
        row["follow_up_status"], row["status_found_at"] = e.stated_status, e.found_at
    corrected_at = row["category_corrected_at"]
    if e.corrected_category and (not corrected_at or as_time(e.found_at) >= as_time(corrected_at)):
        row["category"], row["category_corrected_at"] = e.corrected_category, e.found_at
    return row


def _take_latest_values(
    row: Row, record: dict[str, Any], found_at: str, found: dt.datetime, latest: str | None
) -> None:
    """Each value the record gives replaces the row's unless that came from a record found
    later (of two found at once, the later to arrive stands).  A row projected before
    ``values_found_at`` counts its values as found at its latest record."""
    given = [n for n in LATEST_VALUE_FIELDS if record.get(n) is not None]
    if not given:
        return
    at = orjson.loads(row["values_found_at"]) if row["values_found_at"] else {}
    for name in given:
        since = at.get(name) or (latest if row[name] is not None else None)
        if since is None or found >= as_time(since):
            row[name], at[name] = record[name], found_at
    row["values_found_at"] = orjson.dumps(at).decode()


def timeline_row(envelope: Envelope) -> Row:
    return {
        "event_id": envelope.event_id,
        "case_id": envelope.case_id,
        "seq": envelope.seq,
        "event_type": envelope.event_type,
        "occurred_at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
        "summary": summarize(envelope.event),
        "payload": PAYLOAD_JSON.encode(envelope.event.payload()),
    }


RECORD_KINDS = {"initial": "首报", "follow_up": "续报", "correction": "更正"}


def summarize(event: CaseEvent) -> str:
    """One line a duty officer can read in the case timeline."""
    match event:
        case CaseOpened():
            cat = BY_CODE.get(event.category)
            label = cat.label if cat else event.category
            line = f"立案 {event.township} {event.village or ''} {event.ref_no} [{label}]"
            return line.replace("  ", " ")
        case RecordAppended():
            r = event.record
            status = FOLLOW_UP_STATUSES.get(r.get("follow_up_status", ""), "")
            kind = RECORD_KINDS.get(r.get("record_kind", ""), "")
            extra = ESCALATION_KINDS.get(r.get("escalation_kind") or "", "")
            text = r.get("description", "")
            text = text if len(text) <= 60 else text[:60] + "…"
            by = f"（{event.posted_by} 提交）" if event.posted_by else ""
            return " ".join(x for x in (kind, status, extra, text, by) if x)
        case CaseClosed():
            return f"结案 ({FOLLOW_UP_STATUSES.get(event.outcome, event.outcome)})"
        case CaseReopened():
            return "重新打开"
    return event.type_name()


def receipt_row(receipt: IntakeReceipt) -> Row:
    return {
        "receipt_id": receipt.receipt_id,
        "township": receipt.township,
        "outcome": receipt.outcome,
        "case_id": receipt.case_id,
        "reason_code": receipt.reason_code,
        "received_at": receipt.received_at,
        "idempotency_key": receipt.idempotency_key,
    }


def dead_letter_row(dead: DeadLetter) -> Row:
    return {
        "dead_letter_id": dead.dead_letter_id,
        "source_topic": dead.source_topic,
        "source_partition": dead.source_partition,
        "source_offset": dead.source_offset,
        "township": dead.township,
        "reason_code": dead.reason_code,
        "reason": dead.reason,
        "original_b64": dead.original_b64,
        "received_at": dead.received_at,
        "source_file": dead.source_file,
        "source_row": dead.source_row,
        "idempotency_key": dead.idempotency_key,
    }


def count_receipts(receipts: list[Row]) -> dict[str, tuple[int, int, int]]:
    """(received, accepted, dead_lettered) per township for a list of new receipts."""
    out: dict[str, list[int]] = {}
    for r in receipts:
        c = out.setdefault(r["township"], [0, 0, 0])
        c[0] += 1
        c[1 if r["outcome"] == "accepted" else 2] += 1
    return {k: (a, b, c) for k, (a, b, c) in out.items()}


def risk_row(a: RiskAssessed) -> Row:
    """The read-model row of an assessment (the same shape for history and current)."""
    return {
        "assessment_id": a.assessment_id,
        "case_id": a.case_id,
        "case_seq": a.case_seq,
        "as_of": a.as_of,
        "trigger": a.trigger,
        "probability": a.probability,
        "level": a.level,
        "township": a.township,
        "category": a.category,
        "model_version": a.model_version,
        "policy_version": a.policy_version,
        "reasons": json.dumps(a.reasons_zh(), ensure_ascii=False),
        "rules": json.dumps(list(a.rules), ensure_ascii=False, sort_keys=True),
        "factors": json.dumps(list(a.factors), ensure_ascii=False, sort_keys=True),
    }


def newer(row: Row | None, a: RiskAssessed) -> bool:
    """Is ``a`` later than the current row (by the case's events, then by time)?"""
    if row is None:
        return True
    return (a.case_seq, timestamp_key(a.as_of)) > (row["case_seq"], timestamp_key(row["as_of"]))


def timestamp_key(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()
