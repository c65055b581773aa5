"""A case's alert as the fold of its events: raised from a risk assessment, routed to the
responsible unit, acknowledged (签收), reported back on (处置反馈), resolved (办结), or
escalated when nobody acts in time.  Pure: no Kafka, no SQL, no HTTP.

* ``decide(state, input, routing)`` -> events, for each kind of input: a ``RiskAssessed``, a
  duty officer's ``AlertCommand``, a ``DeliveryReport`` from the notifier, or a clock tick;
* ``step(state, envelope)`` -> state; ``handle`` does both and wraps the events in envelopes
  with deterministic ids, so reprocessing an input gives the same events.

One open alert per case.  A stale or duplicate command (acknowledging a resolved alert, twice;
feedback from a unit the alert was not routed to) becomes a ``CommandRejected`` with the
reason, never an error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, fields, replace
from typing import Any

from domain.alerts.message import alert_message
from domain.alerts.routing import Recipient, Routing
from schemas.commands import AlertCommand, DeliveryReport
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
    event_id,
)
from schemas.record import china_time
from schemas.risk import RiskAssessed

RANK = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
ACTIVE_STATUSES = ("open", "acknowledged")  # an alert in these is waited on: deadlines apply
DESK = "county_desk"  # the county duty desk may act on every alert
CASE_CLOSED = "结案（记录已化解或撤回）"  # who resolves an alert whose case was closed


@dataclass(frozen=True)
class Tick:
    at: str  # ISO 8601
    # when the alert writer took it: a tick it takes more than half a repeat interval late (a
    # backlog after the stage was down) escalates but repeats nothing, so a day's backlog sends
    # one repeat, not six at once
    taken_at: str | None = None


@dataclass(frozen=True)
class AlertState:
    case_id: str
    seq: int = 0
    alert_id: str | None = None
    status: str = "none"  # none | open | acknowledged | resolved
    level: str | None = None
    township: str = ""
    category: str = ""
    units: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    acknowledge_by: str | None = None
    feedback_by: str | None = None
    notified_at: str | None = None  # when the level was last sent
    rounds: int = 0  # notification rounds so far (raise, repeat, upgrade, escalation)
    escalation_step: int = 0
    feedbacks: int = 0
    applied: tuple[str, ...] = ()  # the latest inputs applied (ids), so a repeat is ignored

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def but(self, **changes: Any) -> AlertState:
        """A copy with ``changes``: ``dataclasses.replace`` without its call of ``__init__``
        with every field, a fifth of the fold's time (``bench/bench_alert_path.py``)."""
        if not changes.keys() <= STATE_FIELDS:
            raise TypeError(f"not fields of AlertState: {sorted(changes.keys() - STATE_FIELDS)}")
        copy = object.__new__(AlertState)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertState:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


STATE_FIELDS = frozenset(f.name for f in fields(AlertState))


def _at(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


# ---- decide ---------------------------------------------------------------------------------


def decide(state: AlertState, given: Any, routing: Routing) -> list[CaseEvent]:
    match given:
        case RiskAssessed():
            return _on_assessment(state, given, routing)
        case AlertCommand():
            return _on_command(state, given, routing)
        case DeliveryReport():
            return _on_delivery(state, given, routing)
        case Tick():
            taken = _at(given.taken_at) if given.taken_at else None
            return _on_tick(state, _at(given.at), routing, taken)
    raise TypeError(f"not an alert input: {type(given).__name__}")


def _deadlines(level: str, now: dt.datetime, routing: Routing) -> tuple[str, str]:
    rule = routing.levels[level]
    return _iso(now + rule.acknowledge_within), _iso(now + rule.feedback_within)


def notification_key(alert_id: str, receiver: str, round_: int) -> str:
    """The idempotency key of one notification: ASCII (it travels as an HTTP header), the same
    whenever the same alert round goes to the same receiver."""
    who = hashlib.sha1(receiver.encode("utf-8")).hexdigest()[:12]
    return f"{alert_id}-{who}-{round_}"


def _notify(
    routing: Routing,
    state: AlertState,
    recipients: list[Recipient],
    level: str,
    reasons: tuple[str, ...],
    due: str,
    note: str = "",
    ask: str = "签收",
) -> list[NotificationRequested]:
    link = routing.case_link.format(case_id=state.case_id) if routing.case_link else ""
    title, body = alert_message(  # the deadline in China time, as the officers read it
        level,
        state.township,
        state.category,
        reasons,
        state.case_id,
        china_time(due)[:16],
        note,
        link,
        ask,
    )
    return [
        NotificationRequested(
            alert_id=state.alert_id or "",
            receiver=r.receiver,
            zh=r.zh,
            url=r.url,
            role=r.role,
            unit=r.unit,
            key=notification_key(state.alert_id or "", r.receiver, state.rounds + 1),
            title=title,
            body=body,
        )
        for r in recipients
    ]


def _on_assessment(state: AlertState, a: RiskAssessed, routing: Routing) -> list[CaseEvent]:
    if a.trigger == "case_closed":  # the case was resolved or withdrawn: so is its alert
        return (
            [AlertResolved(state.alert_id or "", CASE_CLOSED, "case", None)] if state.active else []
        )
    rule = routing.levels[a.level]
    if not rule.alert:
        return []  # blue and yellow: no alert (the township sees them in its own list)
    now = _at(a.known_at)  # not as_of: a record can say it was found after it came in
    reasons = tuple(a.reasons_zh())
    ack, feedback = _deadlines(a.level, now, routing)
    if not state.active:
        units = routing.units_for(a.category, a.township, a.level)
        raised = AlertRaised(
            alert_id=a.assessment_id,
            level=a.level,
            township=a.township,
            category=a.category,
            units=units,
            reasons=reasons,
            probability=a.probability,
            assessment_id=a.assessment_id,
            acknowledge_by=ack,
            feedback_by=feedback,
        )
        fresh = state.but(
            alert_id=raised.alert_id, township=a.township, category=a.category, rounds=0
        )
        return [
            raised,
            *_notify(
                routing,
                fresh,
                routing.recipients(a.category, a.township, a.level, now),
                a.level,
                reasons,
                ack,
            ),
        ]
    if RANK[a.level] < RANK[state.level or "blue"]:
        # the units a route of the new level adds to the old level's (a reassignment stands)
        before = routing.units_for(state.category, state.township, state.level or "")
        added = routing.units_for(state.category, state.township, a.level)
        units = tuple(dict.fromkeys((*state.units, *(u for u in added if u not in before))))
        upgraded = AlertUpgraded(
            alert_id=state.alert_id or "",
            level=a.level,
            previous_level=state.level or "",
            reasons=reasons,
            probability=a.probability,
            assessment_id=a.assessment_id,
            acknowledge_by=ack,
            feedback_by=feedback,
            units=units,
        )
        note = f"预警升级（{state.level}→{a.level}）"
        recipients = routing.audience(units, state.township, a.level, now)
        return [upgraded, *_notify(routing, state, recipients, a.level, reasons, ack, note)]
    if a.level == state.level and _repeat_due(state, now, routing):
        return _repeat(state, now, routing, reasons)
    return []


def _repeat_due(state: AlertState, now: dt.datetime, routing: Routing) -> bool:
    """Nobody has acknowledged the alert since it was last sent, ``repeat_after`` ago."""
    repeat_after = routing.levels[state.level or "orange"].repeat_after
    return (
        state.status == "open"
        and state.notified_at is not None
        and repeat_after is not None
        and now - _at(state.notified_at) >= repeat_after
    )


def _repeat(
    state: AlertState, now: dt.datetime, routing: Routing, reasons: tuple[str, ...]
) -> list[CaseEvent]:
    """The alert sent again to its audience and to everyone it was escalated to so far."""
    level = state.level or "orange"
    recipients = routing.audience(state.units, state.township, level, now)  # reassigned too
    for step_ in range(1, state.escalation_step + 1):
        recipients += routing.escalation_recipients(step_, state.units, state.township)
    unique = list({r.receiver: r for r in recipients}.values())
    due = state.acknowledge_by or _iso(now)
    note = "重复提醒：尚未签收" + ("（已超过签收时限）" if now >= _at(due) else "")
    return _notify(routing, state, unique, level, reasons, due, note)


def _on_command(state: AlertState, c: AlertCommand, routing: Routing) -> list[CaseEvent]:
    def rejected(reason: str) -> list[CaseEvent]:
        return [CommandRejected(c.command_id, c.action, c.by, reason)]

    if state.alert_id is None:
        return rejected("该案件没有预警 / no alert for this case")
    if state.status == "resolved":
        return rejected("预警已办结 / the alert is already resolved")
    if c.unit != DESK and c.unit not in state.units:
        return rejected(f"预警未派给{c.unit} / the alert was not routed to {c.unit}")
    alert_id = state.alert_id
    if c.action == "acknowledge":
        if state.status == "acknowledged":
            return rejected("预警已签收 / the alert is already acknowledged")
        return [AlertAcknowledged(alert_id, c.by, c.unit)]
    if c.action == "feedback":
        if not c.text:
            return rejected("处置反馈需要内容 / feedback needs a text")
        return [FeedbackReported(alert_id, c.by, c.unit, c.text, c.measures)]
    if c.action == "resolve":
        return [AlertResolved(alert_id, c.by, c.unit, c.satisfaction)]
    if c.action == "escalate":
        escalated = _escalation(state, routing, _at(c.at), f"{c.by}要求升级 / escalated by {c.by}")
        return escalated or rejected("已上报至最高一级 / every escalation step is taken")
    if c.action == "reassign":
        if c.to_unit not in routing.units:
            return rejected(f"没有单位{c.to_unit} / no unit {c.to_unit}")
        if state.units == (c.to_unit,):  # it would only restart its deadlines and steps
            return rejected(f"预警已由{c.to_unit}负责 / the alert is already with {c.to_unit}")
        # the new unit acknowledges afresh, within its own deadlines, and the steps start again
        ack, feedback = _deadlines(state.level or "orange", _at(c.at), routing)
        moved = AlertReassigned(alert_id, (c.to_unit,), c.by, ack, feedback)
        recipient = routing.unit_recipient(c.to_unit, _at(c.at))  # nobody on duty: its head
        nobody = recipient.role == "unit_head"
        level, note = state.level or "orange", "改派（无人值班，通知负责人）" if nobody else "改派"
        return [moved, *_notify(routing, state, [recipient], level, state.reasons, ack, note)]
    return rejected(f"未知操作{c.action} / unknown action {c.action}")


def _escalation(
    state: AlertState, routing: Routing, now: dt.datetime, reason: str
) -> list[CaseEvent]:
    step = state.escalation_step + 1
    recipients = routing.escalation_recipients(step, state.units, state.township)
    while not recipients and step < len(routing.escalation):  # no unit, so no head: the leader
        step += 1
        recipients = routing.escalation_recipients(step, state.units, state.township)
    if not recipients:
        return []  # every step already taken
    ack, feedback = _deadlines(state.level or "orange", now, routing)
    to = tuple(r.receiver for r in recipients)
    escalated = AlertEscalated(state.alert_id or "", step, to, reason, ack, feedback)
    note = f"逐级上报（第{step}级）：{reason.split(' / ')[0]}"
    due, ask = _owed(state, ack, feedback)
    level = state.level or "orange"
    return [escalated, *_notify(routing, state, recipients, level, state.reasons, due, note, ask)]


def _owed(state: AlertState, ack: str, feedback: str) -> tuple[str, str]:
    """What the alert's unit owes by when, as a notification asks it: its acknowledgement
    (签收), or, once it has acknowledged, its feedback (反馈)."""
    return (feedback, "反馈") if state.status == "acknowledged" else (ack, "签收")


def _on_delivery(state: AlertState, r: DeliveryReport, routing: Routing) -> list[CaseEvent]:
    if r.outcome == "delivered":
        return [NotificationDelivered(r.alert_id, r.receiver, r.key, r.attempt)]
    if r.outcome == "failed":
        return [NotificationFailed(r.alert_id, r.receiver, r.key, r.attempt, r.detail)]
    given_up = NotificationGivenUp(r.alert_id, r.receiver, r.key, r.attempt, r.detail)
    if r.receiver == routing.desk_receiver or state.status == "resolved":
        return [given_up]  # the desk itself cannot be reached, or nothing is left to do
    zh, url = routing.receivers[routing.desk_receiver]
    desk = Recipient(routing.desk_receiver, zh, url, "county_desk")
    note = f"通知未能送达{r.receiver}（已尝试{r.attempt}次），请电话联系"
    due, ask = _owed(state, state.acknowledge_by or r.at, state.feedback_by or r.at)
    level = state.level or "orange"
    [notice] = _notify(routing, state, [desk], level, state.reasons, due, note, ask)
    # a key of its own, not the next round's: telling the desk is no sending of the alert, so
    # the repeat interval runs on from the last sending
    of_report = hashlib.sha1(r.key.encode("utf-8")).hexdigest()[:8]
    key = f"{notification_key(state.alert_id or '', desk.receiver, state.rounds)}-g{of_report}"
    return [given_up, replace(notice, key=key)]


def _on_tick(
    state: AlertState, now: dt.datetime, routing: Routing, taken: dt.datetime | None = None
) -> list[CaseEvent]:
    """Escalate what nobody acknowledged, or reported back on, in time; once every step is
    taken, send what is still not acknowledged again every ``repeat_after``."""
    if state.status == "open" and state.acknowledge_by and now >= _at(state.acknowledge_by):
        escalated = _escalation(state, routing, now, "超时未签收 / not acknowledged in time")
        if escalated:
            return escalated
    late = state.status == "acknowledged" and state.feedbacks == 0
    if late and state.feedback_by and now >= _at(state.feedback_by):
        return _escalation(state, routing, now, "超时未反馈 / no feedback in time")
    if _repeat_due(state, now, routing) and not _behind(state, now, taken, routing):
        return _repeat(state, now, routing, state.reasons)
    return []


def _behind(
    state: AlertState, now: dt.datetime, taken: dt.datetime | None, routing: Routing
) -> bool:
    """The tick was taken more than half a repeat interval after its time: a backlog."""
    repeat_after = routing.levels[state.level or "orange"].repeat_after
    return taken is not None and repeat_after is not None and taken - now > repeat_after / 2


# ---- step -----------------------------------------------------------------------------------


def step(state: AlertState, envelope: Envelope) -> AlertState:
    if envelope.seq <= state.seq:
        return state
    return state.but(seq=envelope.seq, **_changes(state, envelope))


def _changes(state: AlertState, envelope: Envelope) -> dict[str, Any]:
    """What an event changes in the state, besides its sequence number."""
    match envelope.event:
        case AlertRaised() as e:
            return dict(
                alert_id=e.alert_id,
                status="open",
                level=e.level,
                township=e.township,
                category=e.category,
                units=e.units,
                reasons=e.reasons,
                acknowledge_by=e.acknowledge_by,
                feedback_by=e.feedback_by,
                notified_at=envelope.occurred_at,
                rounds=1,
                escalation_step=0,
                feedbacks=0,
            )
        case AlertUpgraded() as e:
            return dict(
                units=state.units if e.units is None else e.units,
                level=e.level,
                reasons=e.reasons,
                status="open",
                acknowledge_by=e.acknowledge_by,
                feedback_by=e.feedback_by,
                notified_at=envelope.occurred_at,
                rounds=state.rounds + 1,
            )
        case NotificationRequested() if envelope.event.key.endswith(f"-{state.rounds + 1}"):
            return dict(rounds=state.rounds + 1, notified_at=envelope.occurred_at)
        case AlertAcknowledged():
            return dict(status="acknowledged")
        case FeedbackReported():
            return dict(feedbacks=state.feedbacks + 1)
        case AlertEscalated() as e:
            return dict(
                escalation_step=e.step,
                acknowledge_by=e.acknowledge_by,
                feedback_by=e.feedback_by or state.feedback_by,  # each step has its own time
                notified_at=envelope.occurred_at,  # repeats count from the latest sending
                rounds=state.rounds + 1,
                status="open" if state.status == "open" else state.status,
            )
        case AlertReassigned() as e if e.acknowledge_by is not None:
            return dict(
                units=e.units,
                rounds=state.rounds + 1,
                status="open",
                acknowledge_by=e.acknowledge_by,
                feedback_by=e.feedback_by,
                escalation_step=0,
                feedbacks=0,
                notified_at=envelope.occurred_at,
            )
        case AlertReassigned() as e:  # written before a reassignment renewed the deadlines
            return dict(units=e.units, rounds=state.rounds + 1)
        case AlertResolved():
            return dict(status="resolved")
    return {}


APPLIED_KEPT = 200  # inputs remembered per case; a redelivered batch is far shorter


def handle(
    state: AlertState, given: Any, routing: Routing, causation_id: str, recorded_at: str
) -> tuple[AlertState, list[Envelope]]:
    """decide + step: the events an input causes, in envelopes with deterministic ids.  An
    input already applied (same ``causation_id``, redelivered after a crash) causes nothing.

    A tick that finds no deadline passed returns the very same state and is not remembered:
    ticks come every minute, and applying one again later can only escalate what a later tick
    would escalate anyway."""
    if causation_id in state.applied:
        return state, []
    decided = decide(state, given, routing)
    if not decided and isinstance(given, Tick):
        return state, []
    occurred = {
        RiskAssessed: lambda g: g.known_at,
        AlertCommand: lambda g: g.at,
        DeliveryReport: lambda g: g.at,
        Tick: lambda g: g.at,
    }[type(given)](given)
    out = []
    for i, event in enumerate(decided):
        envelope = Envelope(
            event_id=event_id(state.case_id, causation_id, i),
            case_id=state.case_id,
            seq=state.seq + 1,
            occurred_at=occurred,
            recorded_at=recorded_at,
            causation_id=causation_id,
            event=event,
        )
        state = step(state, envelope)
        out.append(envelope)
    applied = (*state.applied, causation_id)[-APPLIED_KEPT:]
    return state.but(applied=applied), out
