"""Helpers for the integration tests: run the pipeline, wait for it, and compute what a
correct, uninterrupted run must produce from the records actually in the log."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from domain.alerts.alert import AlertState, handle
from domain.alerts.routing import default_routing
from domain.case import CaseState, handle_command
from domain.intake import Admitted, Posted, admit
from domain.risk.assess import watch_events
from domain.risk.policy import default_policy
from ews import processes
from readside.db import make_engine, migrate
from readside.projector import Message, apply_batch
from readside.queries import intake_rows
from readside.snapshot import snapshot
from schemas.receipts import receipts_to_bytes
from schemas.settings import Settings
from schemas.topics import Topics
from streams.log import read_from_start


def group_members(bootstrap: str, group: str) -> int:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_groups([group])
        info = described[group] if isinstance(described, dict) else described[0]
        return len(info["members"])
    finally:
        admin.close()


def received_so_far(engine: sa.Engine) -> int:
    return sum(r[1] for r in intake_rows(engine))


def start_pipeline(settings: Settings, logs: Path) -> list:
    return [
        *processes.start_workers(settings, logs),
        processes.start_projector(settings, logs / "projector.log"),
    ]


def posted_records(bootstrap: str, topics: Topics) -> list[Posted]:
    """Every message of the records topic, partition by partition, in offset order."""
    out = [
        Posted(r.topic, r.partition, r.offset, r.timestamp, r.value, tuple(r.headers or ()))
        for r in read_from_start(bootstrap, topics.records)
    ]
    out.sort(key=lambda p: (p.partition, p.offset))
    return out


def reference_snapshot(posted: list[Posted], workdir: Path, topics: Topics) -> dict:
    """Read models of an uninterrupted run over exactly these records, computed with the same
    pure intake, case, risk (no model in service) and alert code, but without Kafka, crashes
    or batching."""
    states: dict[str, CaseState] = {}
    log: list[Message] = []
    watches: dict = {}
    alerts: dict = {}
    for p in posted:
        out = admit(p)
        if isinstance(out, Admitted):
            cmd = out.command
            state = states.get(cmd.case_id, CaseState(cmd.case_id))
            states[cmd.case_id], events = handle_command(state, cmd)
            log.extend(Message(topics.case_events, 0, len(log), e.to_bytes()) for e in events)
            changed, assessed = watch_events(watches, events, rules_alone, default_policy())
            watches.update(changed)
            log.extend(
                Message(topics.risk_assessments, 0, len(log), a.to_bytes()) for a in assessed
            )
            for a in assessed:  # the alert writer, with the packaged routing
                alert = alerts.get(a.case_id) or AlertState(a.case_id)
                alerts[a.case_id], raised = handle(alert, a, default_routing(), a.assessment_id, "")
                log.extend(Message(topics.alert_events, 0, len(log), e.to_bytes()) for e in raised)
        else:
            log.append(Message(topics.dead_letters, 0, len(log), out.dead_letter.to_bytes()))
        log.append(Message(topics.intake_receipts, 0, len(log), receipts_to_bytes([out.receipt])))
    engine = make_engine(f"sqlite:///{workdir / 'reference.db'}")
    migrate(engine)
    with engine.begin() as conn:
        apply_batch(conn, log, topics)
    snap = snapshot(engine)
    engine.dispose()
    return snap


def rules_alone(states, times):  # noqa: ANN001, ANN201 - the scorer with no model in service
    from models.scoring import score_cases

    return score_cases(None, states, times, default_policy())


SHEET_HEADER = ["乡镇", "排查编号", "发现时间", "纠纷类别", "情况描述", "涉及人数"]


def xlsx(rows: list[list], header: list[str] = SHEET_HEADER) -> bytes:
    """An Excel workbook as a township clerk would fill it in: a header row, then rows."""
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def threat_is_red_alone(policy_text: str) -> str:
    """The policy with an explicit threat raising red when no model is in service (it raises
    orange in the packaged policy); fails if the packaged line has changed."""
    old = "explicit_threat: {raises: orange, alone: orange"
    assert old in policy_text, "the packaged policy's explicit_threat line changed"
    return policy_text.replace(old, "explicit_threat: {raises: orange, alone: red")


def case_row(case_id: str, township: str = "周庄镇", **given: object) -> dict:
    """A row of the cases read model, as the projector writes an open wage petition's;
    ``given`` changes any column."""
    at = "2026-01-01T09:00:00+08:00"
    row = dict(
        case_id=case_id,
        township=township,
        ref_no=case_id,
        category="unpaid_wages",
        status="open",
        opened_at=at,
        last_found_at=at,
        record_count=1,
        last_seq=1,
        updated_at=at,
        is_petition=True,
        petition_received_on="2026-10-01",
        follow_up_status="new",
    )
    return {**row, **given}


def alert_row(case_id: str, units: list[str], township: str = "周庄镇", **given: object) -> dict:
    """A row of the alerts read model: an open red wage alert routed to ``units``; ``given``
    changes any column."""
    at = "2026-11-26T09:00:00+08:00"
    row = dict(
        alert_id="A" + case_id,
        case_id=case_id,
        status="open",
        level="red",
        township=township,
        category="unpaid_wages",
        units=json.dumps(units, ensure_ascii=False),  # as the projection writes them
        reasons=json.dumps(["扬言赴京上访"], ensure_ascii=False),
        raised_at=at,
        acknowledge_by="2026-11-26T09:30:00+08:00",
        escalation_step=0,
        last_seq=1,
    )
    return {**row, **given}
