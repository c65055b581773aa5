"""Creating the system's topics explicitly, with their partition counts and retention."""

from __future__ import annotations

import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.settings import KafkaAccess, client_args
from schemas.topics import Topics, TopicSpec


class PartitionMismatch(RuntimeError):
    """The topics a case lives on do not have one partition count."""


def ensure_topics(bootstrap: str | KafkaAccess, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = KafkaAdminClient(**client_args(bootstrap), client_id="ews-admin")
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(s.name, s.partitions, 1, topic_configs=dict(s.config))
            for s in specs
            if s.name not in existing
        ]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
            _wait_for(admin, {t.name for t in new})
        return [t.name for t in new]
    finally:
        admin.close()


def _wait_for(admin: KafkaAdminClient, names: set[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if names <= set(admin.list_topics()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"topics not visible after {timeout}s: {sorted(names)}")


def co_partitioned(topics: Topics) -> list[str]:
    """The topics whose partition a case (or the record it came from) decides: they must all
    have the same number of partitions, or a case's command, events, state and alerts would
    land in partitions that disagree."""
    return [s.name for s in topics.all() if s.name != topics.model_events]


def partition_count(bootstrap: str | KafkaAccess, topics: Topics) -> int | None:
    """The partition count of the deployment's topics as the broker has them (None before they
    exist); refuses (``PartitionMismatch``) when the co-partitioned topics differ."""
    admin = KafkaAdminClient(**client_args(bootstrap), client_id="ews-admin")
    try:
        names = set(co_partitioned(topics))
        existing = names & set(admin.list_topics())
        if not existing:
            return None
        counts = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(sorted(existing))}
    finally:
        admin.close()
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        raise PartitionMismatch(
            f"the topics of deployment {topics.prefix!r} differ in partitions ({listed}); a case "
            "would be split across partitions. Give them one count (kafka-topics --alter "
            "--partitions, then rebuild the changelogs) before starting a worker."
        )
    return next(iter(counts.values()))
