"""Intake receipts and dead letters.

One receipt per posted message, so that received = accepted + dead-lettered can be checked per
township.  Receipts travel as JSON lists (one message per intake batch); dead letters one per
message, with the original bytes.  Both hold plain values only, so ``vars`` gives their fields
(``dataclasses.asdict`` would copy them first, at ten times the cost).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.privacy import mask_personal
from schemas.topics import MAX_MESSAGE_BYTES

UNKNOWN_TOWNSHIP = "(unknown)"
REASON_MAX_CHARS = 500
# what a dead letter may carry of its original: the rest of the dead-letters topic's message
# limit is left for the reason and the other fields
ORIGINAL_MAX_BYTES = (MAX_MESSAGE_BYTES - 64 * 1024) // 4 * 3


@dataclass(frozen=True)
class IntakeReceipt:
    receipt_id: str  # "records:<partition>:<offset>"
    township: str  # UNKNOWN_TOWNSHIP when the record has none readable
    outcome: str  # "accepted" | "dead_lettered"
    received_at: str
    case_id: str | None = None
    reason_code: str | None = None
    idempotency_key: str | None = None  # the posting tool's key of a file row (web.sheets)

    def to_bytes(self) -> bytes:
        return json.dumps(vars(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> IntakeReceipt:
        return cls(**orjson.loads(data))


def receipts_to_bytes(receipts: list[IntakeReceipt]) -> bytes:
    body = [vars(r) for r in receipts]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def receipts_from_bytes(data: bytes) -> list[IntakeReceipt]:
    body = orjson.loads(data)
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
    source_file: str | None = None  # where the clerk can find it: the posted file ...
    source_row: int | None = None  # ... and its row
    idempotency_key: str | None = None

    @classmethod
    def of(cls, original: bytes, reason: str, **fields: Any) -> DeadLetter:
        """A dead letter that always fits the dead-letters topic, with personal numbers in its
        reason masked (``schemas.privacy``): the reason is cut at
        ``REASON_MAX_CHARS``; an original larger than ``ORIGINAL_MAX_BYTES`` (possible only for
        an internal topic's message: the records topic takes at most 1 MiB) keeps its first
        bytes here, and the reason says where the whole of it stays (its source topic keeps
        every message)."""
        reason = mask_personal(reason)  # a reason may quote the offending value
        reason = reason if len(reason) <= REASON_MAX_CHARS else reason[:REASON_MAX_CHARS] + "…"
        if len(original) > ORIGINAL_MAX_BYTES:
            reason += (
                f" (the original, {len(original)} bytes, stays whole at its source position; "
                f"its first {ORIGINAL_MAX_BYTES} bytes are here)"
            )
            original = original[:ORIGINAL_MAX_BYTES]
        return cls(reason=reason, original_b64=base64.b64encode(original).decode("ascii"), **fields)

    def to_bytes(self) -> bytes:
        return json.dumps(vars(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> DeadLetter:
        return cls(**orjson.loads(data))
