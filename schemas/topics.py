"""Kafka topics of the system: names, partition counts and retention, in one place.

The record and case-event topics are the system of record: nothing is ever deleted from them
(``retention.ms=-1``, ``retention.bytes=-1``) and replays read them from the first offset.
Clock ticks are input, not record, and are kept a week (``CLOCK_KEPT``).
Names carry a prefix (setting ``EWS_TOPIC_PREFIX``, default ``ews``) so several deployments or
test runs can share one broker.  Messages refer to a position by the topic's logical name
(``records:<partition>:<offset>``), which does not depend on the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
DAY_MS = 24 * 3600 * 1000
# What a tick decided is kept forever in the assessments and alert events; the ticks themselves
# (one per partition a minute) are kept a week, which covers a stage that was down for days.
# Kept forever they would grow the topic for good, and a stage whose group offsets the broker
# had dropped (after a week down, its offsets.retention.minutes) would re-read every tick since
# the start, each one a scan of the open alerts.
CLOCK_KEPT = {
    "retention.ms": str(7 * DAY_MS),
    "segment.ms": str(DAY_MS),
    "cleanup.policy": "delete",
}
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # room for a large case state or command list
# what the records topic takes from a township (the broker's own default): its dead letter, the
# original in base64 (4/3 as large) with the reason, must fit the dead-letters topic
RECORD_MESSAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    doc: str


@dataclass(frozen=True)
class Topics:
    """The topic names of one deployment (prefix) and their partition count."""

    prefix: str = "ews"
    partitions: int = 4

    def replace_partitions(self, partitions: int) -> Topics:
        return Topics(self.prefix, partitions)

    def name(self, logical: str) -> str:
        return f"{self.prefix}.{logical}"

    @property
    def records(self) -> str:
        return self.name("records")

    @property
    def case_commands(self) -> str:
        return self.name("case-commands")

    @property
    def case_events(self) -> str:
        return self.name("case-events")

    @property
    def intake_receipts(self) -> str:
        return self.name("intake-receipts")

    @property
    def dead_letters(self) -> str:
        return self.name("dead-letters")

    @property
    def case_state_changelog(self) -> str:
        """The case table's changelog (compacted): the latest state of every case."""
        return self.name("case-state-changelog")

    @property
    def intake_marks_changelog(self) -> str:
        """Intake's table of how far it got in each records partition (compacted)."""
        return self.name("intake-marks-changelog")

    @property
    def model_events(self) -> str:
        return self.name("model-events")

    @property
    def risk_assessments(self) -> str:
        return self.name("risk-assessments")

    @property
    def clock(self) -> str:
        """Ticks of time, one per partition per tick (re-assessment of open cases)."""
        return self.name("clock")

    @property
    def alert_commands(self) -> str:
        """Duty officers' commands and the notifier's delivery reports, keyed by case id."""
        return self.name("alert-commands")

    @property
    def alert_events(self) -> str:
        return self.name("alert-events")

    @property
    def alert_state_changelog(self) -> str:
        return self.name("alert-state-changelog")

    @property
    def risk_watch_changelog(self) -> str:
        """The scorer's table of watched cases (compacted)."""
        return self.name("risk-watch-changelog")

    def group(self, stage: str) -> str:
        """The consumer group of a stage of this deployment."""
        return f"{self.prefix}-{stage}"

    def all(self) -> list[TopicSpec]:
        n = self.partitions
        big = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
        return [
            TopicSpec(
                self.records,
                n,
                {**KEEP_FOREVER, "max.message.bytes": str(RECORD_MESSAGE_BYTES)},
                "screening records as posted (raw bytes)",
            ),
            TopicSpec(
                self.case_commands,
                n,
                {**KEEP_FOREVER, **big},
                "commands to a case, in the case's partition",
            ),
            TopicSpec(self.case_events, n, KEEP_FOREVER, "domain events, keyed by case id"),
            TopicSpec(self.intake_receipts, n, KEEP_FOREVER, "one intake receipt per record"),
            TopicSpec(
                self.dead_letters, n, {**KEEP_FOREVER, **big}, "rejected records with the reason"
            ),
            TopicSpec(
                self.case_state_changelog,
                n,
                {"cleanup.policy": "compact", **big},
                "latest state of every case (the case table's changelog)",
            ),
            TopicSpec(
                self.intake_marks_changelog,
                n,
                {"cleanup.policy": "compact"},
                "how far intake got in each records partition",
            ),
            TopicSpec(self.model_events, 1, KEEP_FOREVER, "model promotions and roll-backs"),
            TopicSpec(self.risk_assessments, n, KEEP_FOREVER, "RiskAssessed, keyed by case id"),
            TopicSpec(self.clock, n, CLOCK_KEPT, "clock ticks, one per partition, kept a week"),
            TopicSpec(self.alert_commands, n, KEEP_FOREVER, "officers' commands, delivery reports"),
            TopicSpec(self.alert_events, n, KEEP_FOREVER, "the alerts' events, keyed by case id"),
            TopicSpec(
                self.alert_state_changelog,
                n,
                {"cleanup.policy": "compact", **big},
                "the latest state of every case's alert",
            ),
            TopicSpec(
                self.risk_watch_changelog,
                n,
                {"cleanup.policy": "compact", **big},
                "the scorer's latest view of every case",
            ),
        ]
