"""Commands: what is asked of a case.

They travel on the ``case-commands`` topic, in the partition of their case, so one writer per
case decides.  A message holds a JSON list of commands: the intake sends one list per partition
per batch; a single command (a duty officer's, later) is a list of one.  Today the only command
is a submitted record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

MAX_COMMAND_MESSAGE = 700_000  # bytes; Kafka's default message limit is 1 MB


@dataclass(frozen=True)
class SubmitRecord:
    command_id: str  # "records:<partition>:<offset>" of the posted record
    case_id: str
    record: dict[str, Any]
    fingerprint: str
    received_at: str  # Kafka timestamp of the posted record, ISO 8601 UTC
    posted_by: str | None = None  # the web service's account that posted it

    command_type: ClassVar[str] = "SubmitRecord"

    def to_dict(self) -> dict[str, Any]:
        body = {
            "command_id": self.command_id,
            "case_id": self.case_id,
            "record": self.record,
            "fingerprint": self.fingerprint,
            "received_at": self.received_at,
            "command_type": self.command_type,
        }
        if self.posted_by is not None:
            body["posted_by"] = self.posted_by
        return body


ALERT_ACTIONS = ("acknowledge", "feedback", "resolve", "escalate", "reassign")


@dataclass(frozen=True)
class AlertCommand:
    """What a duty officer asks of a case's alert (from the CLI now, a web console later)."""

    command_id: str
    case_id: str
    action: str  # one of ALERT_ACTIONS
    by: str  # the officer
    unit: str  # the unit the officer acts for ("county_desk" for the county duty desk)
    at: str  # ISO 8601
    text: str | None = None  # feedback: what was done
    measures: str | None = None
    to_unit: str | None = None  # reassign: the unit it goes to
    satisfaction: str | None = None  # resolve: 回访满意度 (satisfied | unsatisfied)

    command_type: ClassVar[str] = "AlertCommand"

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "command_type": self.command_type}  # the fields: all plain values


@dataclass(frozen=True)
class DeliveryReport:
    """What became of one notification attempt (from the notifier)."""

    command_id: str
    case_id: str
    alert_id: str
    receiver: str
    key: str
    outcome: str  # delivered | failed | given_up
    attempt: int
    detail: str
    at: str

    command_type: ClassVar[str] = "DeliveryReport"

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "command_type": self.command_type}  # the fields: all plain values


Command = SubmitRecord | AlertCommand | DeliveryReport
COMMAND_CLASSES = {cls.command_type: cls for cls in (SubmitRecord, AlertCommand, DeliveryReport)}


def command_from_dict(d: dict[str, Any]) -> Any:
    d = dict(d)
    kind = d.pop("command_type", SubmitRecord.command_type)
    cls = COMMAND_CLASSES.get(kind)
    if cls is None:
        raise ValueError(f"unknown command type {kind!r}")
    return cls(**d)


def commands_to_bytes(commands: list[Command]) -> bytes:
    body = [c.to_dict() for c in commands]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def command_messages(commands: list[Command], limit: int = MAX_COMMAND_MESSAGE) -> list[bytes]:
    """The commands as one or more list messages, each below ``limit`` bytes (a record is at
    most 64 KiB raw, so any single command fits)."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 2
    for c in commands:
        item = json.dumps(c.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if chunk and size + len(item) + 1 > limit:
            out.append(b"[" + b",".join(chunk) + b"]")
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        out.append(b"[" + b",".join(chunk) + b"]")
    return out


def commands_from_bytes(data: bytes) -> list[SubmitRecord]:
    body = json.loads(data)
    return [command_from_dict(d) for d in (body if isinstance(body, list) else [body])]
