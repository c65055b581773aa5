"""How alert events become rows: the alert, its timeline, its deliveries.  Pure: an event and
the current rows in, the new rows out (the projector does the I/O)."""

from __future__ import annotations

import json
from typing import Any

from schemas.events import (
    AlertAcknowledged,
    AlertEscalated,
    AlertRaised,
    AlertReassigned,
    AlertResolved,
    AlertUpgraded,
    CaseEvent,
    CommandRejected,
    Envelope,
    FeedbackReported,
    NotificationDelivered,
    NotificationFailed,
    NotificationGivenUp,
    NotificationRequested,
)

Row = dict[str, Any]
LEVEL_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}


def apply_to_alert(row: Row | None, envelope: Envelope) -> Row | None:
    """The alert's row after the event (None when the event is not about an alert row)."""
    e = envelope.event
    if row is not None and envelope.seq <= row["last_seq"]:
        return row
    match e:
        case AlertRaised():
            return {
                "alert_id": e.alert_id,
                "case_id": envelope.case_id,
                "status": "open",
                "level": e.level,
                "township": e.township,
                "category": e.category,
                "units": json.dumps(list(e.units), ensure_ascii=False),
                "reasons": json.dumps(list(e.reasons), ensure_ascii=False),
                "raised_at": envelope.occurred_at,
                "acknowledge_asked_at": envelope.occurred_at,
                "acknowledge_by": e.acknowledge_by,
                "feedback_by": e.feedback_by,
                "feedback_due": e.feedback_by,
                "acknowledged_at": None,
                "acknowledged_by": None,
                "first_feedback_at": None,
                "resolved_at": None,
                "resolved_by": None,
                "satisfaction": None,
                "escalation_step": 0,
                "last_seq": envelope.seq,
            }
        case _ if row is None:
            return None
        case AlertUpgraded():
            row = dict(row, level=e.level, reasons=json.dumps(list(e.reasons), ensure_ascii=False))
            row.update(acknowledge_by=e.acknowledge_by, feedback_by=e.feedback_by)
            row["feedback_due"] = e.feedback_by
            if row["status"] == "acknowledged":  # asked again; unanswered, the wait goes on
                row["acknowledge_asked_at"] = envelope.occurred_at
            row["status"] = "open"  # a higher level is acknowledged again, as the fold says
            if e.units is not None:  # a route of the new level added units
                row["units"] = json.dumps(list(e.units), ensure_ascii=False)
        case AlertAcknowledged():
            row = dict(
                row,
                status="acknowledged",
                acknowledged_at=envelope.occurred_at,
                acknowledged_by=e.by,
            )
        case FeedbackReported():
            row = dict(row, first_feedback_at=row["first_feedback_at"] or envelope.occurred_at)
        case AlertEscalated():
            # the feedback deadline stays the alert's first: the on-time share measures it;
            # the one due now is the step's own, as the alert writer's fold keeps it
            row = dict(row, escalation_step=e.step, acknowledge_by=e.acknowledge_by)
            row["feedback_due"] = e.feedback_by or row["feedback_due"]
        case AlertReassigned():
            row = dict(row, units=json.dumps(list(e.units), ensure_ascii=False))
            if e.acknowledge_by is not None:  # the new unit acknowledges and reports afresh
                row.update(status="open", escalation_step=0, acknowledge_by=e.acknowledge_by)
                row["acknowledge_asked_at"] = envelope.occurred_at
                row.update(feedback_by=e.feedback_by, first_feedback_at=None)
                row["feedback_due"] = e.feedback_by
        case AlertResolved():
            row = dict(row, status="resolved", resolved_at=envelope.occurred_at, resolved_by=e.by)
            row["satisfaction"] = e.satisfaction
        case _:
            row = dict(row)
    row["last_seq"] = envelope.seq
    return row


def alert_id_of(event: CaseEvent) -> str | None:
    return getattr(event, "alert_id", None)


def apply_to_delivery(row: Row | None, envelope: Envelope) -> Row | None:
    """The delivery row of a notification after the event."""
    e = envelope.event
    match e:
        case NotificationRequested():
            if row is not None:
                return row
            return {
                "key": e.key,
                "alert_id": e.alert_id,
                "case_id": envelope.case_id,
                "receiver": e.receiver,
                "role": e.role,
                "unit": e.unit,
                "status": "requested",
                "attempts": 0,
                "last_reason": None,
                "requested_at": envelope.occurred_at,
                "delivered_at": None,
            }
        case NotificationDelivered() if row is not None:
            return dict(
                row,
                status="delivered",
                attempts=max(row["attempts"], e.attempt),
                delivered_at=envelope.recorded_at,
            )
        case NotificationFailed() if row is not None and row["status"] != "delivered":
            return dict(
                row,
                status="retrying",
                attempts=max(row["attempts"], e.attempt),
                last_reason=e.reason,
            )
        case NotificationGivenUp() if row is not None and row["status"] != "delivered":
            return dict(
                row,
                status="given_up",
                attempts=max(row["attempts"], e.attempts),
                last_reason=e.reason,
            )
    return row


def delivery_key(event: CaseEvent) -> str | None:
    return getattr(event, "key", None)


def alert_timeline_row(envelope: Envelope) -> Row:
    return {
        "event_id": envelope.event_id,
        "case_id": envelope.case_id,
        "alert_id": alert_id_of(envelope.event),
        "seq": envelope.seq,
        "event_type": envelope.event_type,
        "occurred_at": envelope.occurred_at,
        "summary": summarize(envelope.event),
        "actor": getattr(envelope.event, "by", None),
    }


def summarize(e: CaseEvent) -> str:
    """One line for the case's timeline."""
    match e:
        case AlertRaised():
            return f"{LEVEL_ZH[e.level]}预警，派给 {'、'.join(e.units) or '（无匹配单位）'}"
        case AlertUpgraded():
            return f"预警升级 {LEVEL_ZH[e.previous_level]}→{LEVEL_ZH[e.level]}"
        case NotificationRequested():
            return f"通知 {e.zh}（{e.receiver}）"
        case NotificationDelivered():
            return f"已送达 {e.receiver}（第{e.attempt}次）"
        case NotificationFailed():
            return f"送达失败 {e.receiver}（第{e.attempt}次）：{e.reason[:60]}"
        case NotificationGivenUp():
            return f"放弃送达 {e.receiver}（{e.attempts}次）：{e.reason[:60]}"
        case AlertAcknowledged():
            return f"签收 {e.by}（{e.unit}）"
        case FeedbackReported():
            return f"处置反馈 {e.by}（{e.unit}）：{e.text[:60]}"
        case AlertEscalated():
            return f"逐级上报第{e.step}级 → {'、'.join(e.to)}：{e.reason.split(' / ')[0]}"
        case AlertReassigned():
            return f"改派 {'、'.join(e.units)}（{e.by}）"
        case AlertResolved():
            said = f"，回访{e.satisfaction}" if e.satisfaction else ""
            return f"办结 {e.by}（{e.unit}）{said}"
        case CommandRejected():
            return f"操作被拒绝 {e.action}（{e.by}）：{e.reason}"
    return e.type_name()
