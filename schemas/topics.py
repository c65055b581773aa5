"""Kafka topics of the system: names, partition counts and retention, in one place.

The record and case-event topics are the system of record: nothing is ever deleted from them
(``retention.ms=-1``, ``retention.bytes=-1``) and replays read them from the first offset.
Names carry a prefix (``EWS_TOPIC_PREFIX``, default ``ews``) so several deployments or test
runs can share one broker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # room for a large case state or command list


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    doc: str


def prefix() -> str:
    return os.environ.get("EWS_TOPIC_PREFIX", "ews")


def records_topic() -> str:
    return f"{prefix()}.records"


def commands_topic() -> str:
    return f"{prefix()}.case-commands"


def case_events_topic() -> str:
    return f"{prefix()}.case-events"


def receipts_topic() -> str:
    return f"{prefix()}.intake-receipts"


def dead_letters_topic() -> str:
    return f"{prefix()}.dead-letters"


def case_state_changelog_topic() -> str:
    """The case table's changelog (compacted): the latest state of every case."""
    return f"{prefix()}.case-state-changelog"


def model_events_topic() -> str:
    return f"{prefix()}.model-events"


def partitions() -> int:
    return int(os.environ.get("EWS_PARTITIONS", "4"))


def all_topics() -> list[TopicSpec]:
    n = partitions()
    return [
        TopicSpec(records_topic(), n, KEEP_FOREVER, "screening records as posted (raw bytes)"),
        TopicSpec(
            commands_topic(),
            n,
            {**KEEP_FOREVER, "max.message.bytes": str(MAX_MESSAGE_BYTES)},
            "commands to a case, in the case's partition",
        ),
        TopicSpec(case_events_topic(), n, KEEP_FOREVER, "domain events, keyed by case id"),
        TopicSpec(receipts_topic(), n, KEEP_FOREVER, "one intake receipt per posted record"),
        TopicSpec(dead_letters_topic(), n, KEEP_FOREVER, "rejected records with the reason"),
        TopicSpec(
            case_state_changelog_topic(),
            n,
            {"cleanup.policy": "compact", "max.message.bytes": str(MAX_MESSAGE_BYTES)},
            "latest state of every case (the case table's changelog)",
        ),
        TopicSpec(model_events_topic(), 1, KEEP_FOREVER, "model promotions and roll-backs"),
    ]
