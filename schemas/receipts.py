"""Intake receipts and dead letters.

One receipt per posted message, so that received = accepted + dead-lettered can be checked per
township.  Receipts travel as JSON lists (one message per intake batch); dead letters one per
message, with the original bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

UNKNOWN_TOWNSHIP = "(unknown)"


@dataclass(frozen=True)
class IntakeReceipt:
    receipt_id: str  # "records:<partition>:<offset>"
    township: str  # UNKNOWN_TOWNSHIP when the record has none readable
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
    dead_letter_id: str  # "<logical topic>:<partition>:<offset>" of the original message
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
