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

    command_type: ClassVar[str] = "SubmitRecord"

    def to_dict(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "case_id": self.case_id,
            "record": self.record,
            "fingerprint": self.fingerprint,
            "received_at": self.received_at,
            "command_type": self.command_type,
        }


COMMAND_CLASSES = {cls.command_type: cls for cls in (SubmitRecord,)}


def command_from_dict(d: dict[str, Any]) -> SubmitRecord:
    d = dict(d)
    kind = d.pop("command_type", SubmitRecord.command_type)
    cls = COMMAND_CLASSES.get(kind)
    if cls is None:
        raise ValueError(f"unknown command type {kind!r}")
    return cls(**d)


def commands_to_bytes(commands: list[SubmitRecord]) -> bytes:
    body = [c.to_dict() for c in commands]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def command_messages(commands: list[SubmitRecord], limit: int = MAX_COMMAND_MESSAGE) -> list[bytes]:
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
