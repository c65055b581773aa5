"""Domain events of a case and the envelope they travel in.

Every event on the ``case-events`` topic is an :class:`Envelope` keyed by ``case_id``:

* ``event_id``: deterministic (derived from the case, the command that caused it and the
  event's place among that command's events), so an event re-emitted after a crash has the
  same id and consumers drop it;
* ``seq``: 1, 2, 3 ... per case, with no gaps; one writer per case (the case agent) assigns it;
* ``occurred_at``: domain time (when the dispute or follow-up was found);
* ``recorded_at``: when the system received the fact (the Kafka timestamp of the posted record
  or command, so a replay or reprocessing reproduces it exactly);
* ``schema_version`` of the event type, ``causation_id`` (the command's id) and ``payload``.

Event names are past tense.  New event types (RiskScored, AlertRaised, AlertAcknowledged ...)
are added to ``EVENT_TYPES`` with their own version; consumers skip types they do not know.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

EVENT_NAMESPACE = uuid.UUID("6f1c2d0e-8a4b-4c55-9d1e-5b7f0a2e9c31")

# event type -> current schema version
EVENT_TYPES: dict[str, int] = {
    "CaseOpened": 1,
    "RecordAppended": 1,
    "CaseClosed": 1,
    "CaseReopened": 1,
}


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_type: str
    case_id: str
    seq: int
    occurred_at: str
    recorded_at: str
    causation_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    schema_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "case_id": self.case_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "causation_id": self.causation_id,
            "payload": self.payload,
            "schema_version": self.schema_version,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        return cls.from_dict(json.loads(data))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Envelope:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def event_id(case_id: str, causation_id: str, index: int) -> str:
    """Deterministic id of the index-th event caused by a command on a case."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{case_id}|{causation_id}|{index}").hex


def case_id_for(township: str, ref_no: str) -> str:
    """The same township + reference number is the same case."""
    key = f"{township.strip()}\x1f{ref_no.strip().upper()}"
    return "C" + uuid.uuid5(EVENT_NAMESPACE, key).hex[:20]


# ---------------------------------------------------------------------------------------------
# Commands: what is asked of a case.  They travel on the ``case-commands`` topic, in the
# partition of their case (``partition_for``), so one writer per case decides.  A message holds
# a JSON list of commands: the intake sends one list per partition per batch; a single command
# (a duty officer's, later) is a list of one.  Today the only command is a submitted record;
# acknowledge / resolve / escalate commands will join it.


def partition_for(case_id: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key): the partition of a case on every
    topic keyed by case id, whoever produces it."""
    from aiokafka.partitioner import murmur2

    return (murmur2(case_id.encode("utf-8")) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class SubmitRecord:
    command_id: str  # "records:<partition>:<offset>" of the posted record
    case_id: str
    record: dict[str, Any]
    fingerprint: str
    received_at: str  # Kafka timestamp of the posted record, ISO 8601 UTC
    command_type: str = "SubmitRecord"

    def to_dict(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "case_id": self.case_id,
            "record": self.record,
            "fingerprint": self.fingerprint,
            "received_at": self.received_at,
            "command_type": self.command_type,
        }


def command_from_dict(d: dict[str, Any]) -> SubmitRecord:
    d = dict(d)
    kind = d.pop("command_type", "SubmitRecord")
    if kind != "SubmitRecord":
        raise ValueError(f"unknown command type {kind!r}")
    return SubmitRecord(**d)


def commands_to_bytes(commands: list[SubmitRecord]) -> bytes:
    body = [c.to_dict() for c in commands]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


MAX_COMMAND_MESSAGE = 700_000  # bytes; Kafka's default message limit is 1 MB


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


# ---------------------------------------------------------------------------------------------
# Intake receipts and dead letters: one receipt per posted message, so that
# received = accepted + dead-lettered can be checked per township.  Receipts travel as JSON
# lists (one message per intake batch); dead letters one per message, with the original bytes.


@dataclass(frozen=True)
class IntakeReceipt:
    receipt_id: str  # "records:<partition>:<offset>"
    township: str  # "(unknown)" when the record has none readable
    outcome: str  # "accepted" | "dead_lettered"
    received_at: str
    case_id: str | None = None
    reason_code: str | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> IntakeReceipt:
        return cls(**json.loads(data))


def receipts_to_bytes(receipts: list[IntakeReceipt]) -> bytes:
    body = [asdict(r) for r in receipts]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def receipts_from_bytes(data: bytes) -> list[IntakeReceipt]:
    body = json.loads(data)
    return [IntakeReceipt(**d) for d in (body if isinstance(body, list) else [body])]


@dataclass(frozen=True)
class DeadLetter:
    dead_letter_id: str  # "<topic>:<partition>:<offset>" of the original message
    source_topic: str
    source_partition: int
    source_offset: int
    reason_code: str
    reason: str
    original_b64: str  # the original bytes, base64
    received_at: str
    township: str | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> DeadLetter:
        return cls(**json.loads(data))


UNKNOWN_TOWNSHIP = "(unknown)"
