"""How events become read-model rows.  Pure: an event and the current row in, the new row out.

The projector (``readside.projector``) does the I/O around these functions.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.categories import BY_CODE
from schemas.events import DeadLetter, Envelope, IntakeReceipt
from schemas.record import ESCALATION_KINDS, FOLLOW_UP_STATUSES

Row = dict[str, Any]


def apply_to_case(row: Row | None, event: Envelope) -> Row | None:
    """The case row after ``event``; ``None`` if the event does not make or touch a case row.

    An event whose ``seq`` is not above the row's ``last_seq`` was applied before (a re-emitted
    duplicate) and leaves the row as it is.
    """
    if row is not None and event.seq <= row["last_seq"]:
        return row
    p = event.payload
    if event.event_type == "CaseOpened":
        row = {
            "case_id": event.case_id,
            "township": p["township"],
            "village": p.get("village"),
            "ref_no": p["ref_no"],
            "category": p["category"],
            "status": "open",
            "opened_at": event.occurred_at,
            "closed_at": None,
            "last_found_at": event.occurred_at,
            "record_count": 0,
            "people_involved": None,
            "amount_involved_yuan": None,
            "is_petition": None,
            "petition_received_on": None,
            "follow_up_status": "new",
            "escalation_kind": None,
        }
    elif row is None:
        return None  # an event of a case whose opening this projection has not seen
    else:
        row = dict(row)
        if event.event_type == "RecordAppended":
            r = p["record"]
            row["record_count"] += 1
            row["last_found_at"] = max(row["last_found_at"] or "", r["found_at"])
            row["follow_up_status"] = r.get("follow_up_status", row["follow_up_status"])
            for name in (
                "people_involved",
                "amount_involved_yuan",
                "is_petition",
                "petition_received_on",
                "escalation_kind",
                "village",
            ):
                if r.get(name) is not None:
                    row[name] = r[name]
            if r.get("record_kind") == "correction":
                row["category"] = r["category"]
        elif event.event_type == "CaseClosed":
            row["status"] = "closed"
            row["closed_at"] = event.occurred_at
        elif event.event_type == "CaseReopened":
            row["status"] = "open"
            row["closed_at"] = None
    row["last_seq"] = event.seq
    row["updated_at"] = event.recorded_at
    return row


def timeline_row(event: Envelope) -> Row:
    return {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "seq": event.seq,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "summary": summarize(event),
        "payload": json.dumps(event.payload, ensure_ascii=False, sort_keys=True),
    }


def summarize(event: Envelope) -> str:
    """One line a duty officer can read in the case timeline."""
    p = event.payload
    if event.event_type == "CaseOpened":
        cat = BY_CODE.get(p["category"])
        label = cat.label if cat else p["category"]
        return f"立案 {p['township']} {p.get('village') or ''} {p['ref_no']} [{label}]".replace(
            "  ", " "
        )
    if event.event_type == "RecordAppended":
        r = p["record"]
        status = FOLLOW_UP_STATUSES.get(r.get("follow_up_status", ""), "")
        kind = {"initial": "首报", "follow_up": "续报", "correction": "更正"}.get(
            r.get("record_kind", ""), ""
        )
        extra = ESCALATION_KINDS.get(r.get("escalation_kind") or "", "")
        text = r.get("description", "")
        text = text if len(text) <= 60 else text[:60] + "…"
        return " ".join(x for x in (kind, status, extra, text) if x)
    if event.event_type == "CaseClosed":
        return f"结案 ({FOLLOW_UP_STATUSES.get(p.get('outcome', ''), p.get('outcome', ''))})"
    if event.event_type == "CaseReopened":
        return "重新打开"
    return event.event_type


def receipt_row(receipt: IntakeReceipt) -> Row:
    return {
        "receipt_id": receipt.receipt_id,
        "township": receipt.township,
        "outcome": receipt.outcome,
        "case_id": receipt.case_id,
        "reason_code": receipt.reason_code,
        "received_at": receipt.received_at,
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
    }


def count_receipts(receipts: list[Row]) -> dict[str, tuple[int, int, int]]:
    """(received, accepted, dead_lettered) per township for a list of new receipts."""
    out: dict[str, list[int]] = {}
    for r in receipts:
        c = out.setdefault(r["township"], [0, 0, 0])
        c[0] += 1
        c[1 if r["outcome"] == "accepted" else 2] += 1
    return {k: (a, b, c) for k, (a, b, c) in out.items()}
