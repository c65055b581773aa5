"""Intake: what becomes of one posted message.  Pure: bytes and metadata in, outputs out.

A valid record becomes a ``SubmitRecord`` command for its case plus an ``accepted`` receipt;
anything else becomes a dead letter (with the reason and the original bytes) plus a
``dead_lettered`` receipt.  Ids derive from the message's topic, partition and offset, so
reprocessing the same message after a crash yields the same outputs and consumers drop them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas.commands import SubmitRecord
from schemas.events import case_id_for
from schemas.receipts import UNKNOWN_TOWNSHIP, DeadLetter, IntakeReceipt
from schemas.record import (
    CHINA_TZ,
    FIELDS,
    RecordRejected,
    check,
    china_time,
    decode_record,
    fingerprint,
    township_hint,
)

# Kafka headers ews post sets on each row it posts
SOURCE_HEADER, ROW_HEADER, KEY_HEADER = "ews-source", "ews-row", "ews-key"
BY_HEADER = "ews-by"  # the account that posted the record (set by the web service)
FUTURE_SLACK = dt.timedelta(days=1)
DATE_FIELDS = tuple(f.name for f in FIELDS if f.kind in ("date", "datetime"))
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last time Python can write


@dataclass(frozen=True)
class Posted:
    """One message read from the records topic."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()  # set by ews post: file, row, idempotency key

    def header(self, name: str) -> str | None:
        """A header's value as text (None if absent or not UTF-8)."""
        for key, value in self.headers:
            if key == name:
                try:
                    return value.decode("utf-8")[:255] if value is not None else None
                except (UnicodeDecodeError, AttributeError):
                    return None
        return None

    @property
    def source_row(self) -> int | None:
        row = self.header(ROW_HEADER)
        return int(row) if row and row.isdecimal() and len(row) < 10 else None

    @property
    def message_id(self) -> str:
        """Position in the records stream, by its logical name (independent of the prefix)."""
        return f"records:{self.partition}:{self.offset}"

    @property
    def timestamp_readable(self) -> bool:
        """Whether the message's Kafka timestamp is a time (a producer may set any integer)."""
        return 0 <= self.timestamp_ms <= LATEST_MS

    @property
    def received_at(self) -> str:
        """When the broker got the message; a timestamp that is not a time reads as the
        nearest one that is (such a message is dead-lettered, see ``admit``)."""
        ms = min(max(self.timestamp_ms, 0), LATEST_MS)
        moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
        return moment.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Admitted:
    command: SubmitRecord
    receipt: IntakeReceipt


@dataclass(frozen=True)
class Rejected:
    dead_letter: DeadLetter
    receipt: IntakeReceipt


def admit(posted: Posted) -> Admitted | Rejected:
    """Validate one posted message and say what it becomes."""
    data = posted.value or b""
    try:
        record, problems = inspect(posted)
        if not problems:
            return _admitted(posted, record)
        # the first problem's code; every problem in the reason, so one fix mends the record
        return _rejected(posted, data, problems[0].code, "; ".join(p.message for p in problems))
    except Exception as exc:  # a bug here must not kill the worker or lose the message
        return _rejected(posted, data, "internal_error", f"{type(exc).__name__}: {exc}")


def inspect(posted: Posted) -> tuple[dict, list[RecordRejected]]:
    """The record a message holds (normalised) and every problem it has ([] if none): what
    intake decides, and what ``ews post`` tells a clerk before posting."""
    if not posted.timestamp_readable:
        reason = f"the message's timestamp ({posted.timestamp_ms} ms) is not a time"
        return {}, [RecordRejected("bad_timestamp", reason)]
    try:
        raw = decode_record(posted.value or b"")
    except RecordRejected as exc:
        return {}, [exc]
    record, problems = check(raw)
    return record, problems or _after_posting(record, posted)


def _after_posting(record: dict, posted: Posted) -> list[RecordRejected]:
    """A record cannot describe a day after it was posted (a day's slack for clocks and
    time zones): ``2062`` typed for ``2026`` is refused, not kept as the case's newest news."""
    received = dt.datetime.fromisoformat(posted.received_at)
    if received > dt.datetime.max.replace(tzinfo=dt.UTC) - FUTURE_SLACK:
        return []  # posted in the last day a clock can show: nothing is after it
    latest = received + FUTURE_SLACK
    problems = []
    for name in DATE_FIELDS:
        value = record.get(name)
        if value is None:
            continue
        when = dt.datetime.fromisoformat(value)
        if when.tzinfo is None:  # a date: its first moment, China time
            when = when.replace(tzinfo=CHINA_TZ)
        if when > latest:
            problems.append(
                RecordRejected(
                    "date_in_future",
                    f"{name} is after the record was posted ({china_time(posted.received_at)[:10]})",
                    name,
                )
            )
    return problems


def _admitted(posted: Posted, record: dict) -> Admitted:
    case_id = case_id_for(record["township"], record["ref_no"])
    command = SubmitRecord(
        command_id=posted.message_id,
        case_id=case_id,
        record=record,
        fingerprint=fingerprint(record),
        received_at=posted.received_at,
        posted_by=posted.header(BY_HEADER),
    )
    receipt = IntakeReceipt(
        receipt_id=posted.message_id,
        township=record["township"],
        outcome="accepted",
        received_at=posted.received_at,
        case_id=case_id,
        idempotency_key=posted.header(KEY_HEADER),
    )
    return Admitted(command, receipt)


def _rejected(posted: Posted, data: bytes, code: str, reason: str) -> Rejected:
    township = township_hint(data)
    dead = DeadLetter.of(
        data,
        reason,
        dead_letter_id=posted.message_id,
        source_topic=posted.topic,
        source_partition=posted.partition,
        source_offset=posted.offset,
        reason_code=code,
        received_at=posted.received_at,
        township=township,
        source_file=posted.header(SOURCE_HEADER),
        source_row=posted.source_row,
        idempotency_key=posted.header(KEY_HEADER),
    )
    receipt = IntakeReceipt(
        receipt_id=posted.message_id,
        township=township or UNKNOWN_TOWNSHIP,
        outcome="dead_lettered",
        received_at=posted.received_at,
        reason_code=code,
        idempotency_key=posted.header(KEY_HEADER),
    )
    return Rejected(dead, receipt)
