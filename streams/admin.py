"""Creating the system's topics explicitly, with their partition counts and retention."""

from __future__ import annotations

import time

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
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


def align_configs(bootstrap: str | KafkaAccess, specs: list[TopicSpec]) -> list[str]:
    """Give the topics that exist the configuration of their spec where the broker has another
    value (a newer version may keep a topic for a shorter time); return one line per change.
    Keys the spec does not name are left as they are."""
    admin = KafkaAdminClient(**client_args(bootstrap), client_id="ews-admin")
    try:
        existing = set(admin.list_topics())
        specs = [s for s in specs if s.name in existing]
        if not specs:
            return []
        resources = [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]
        described = admin.describe_configs(resources, config_filter="all")["topic"]
        changes, changed = [], []
        for s in specs:
            now = {k: described[s.name].get(k, {}).get("value") for k in s.config}
            differ = {k: v for k, v in s.config.items() if now[k] != v}
            if differ:
                changed.append(ConfigResource(ConfigResourceType.TOPIC, s.name, configs=differ))
                changes += [f"{s.name}: {k} {now[k]} -> {v}" for k, v in differ.items()]
        if changed:
            _raise_errors(admin.alter_configs(changed))
            _wait_configured(admin, changed)
        return changes
    finally:
        admin.close()


def _raise_errors(result: dict) -> None:
    for name, outcome in result.get("topic", {}).items():
        if outcome != "OK":  # the broker's error, as kafka-python words it
            raise RuntimeError(f"could not configure topic {name}: {outcome}")


def _wait_configured(
    admin: KafkaAdminClient, changed: list[ConfigResource], timeout: float = 30.0
) -> None:
    """Until the broker describes the new values (its metadata follows the controller's with a
    lag of a second or so), so that a second ``ews topics`` finds nothing left to change."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resources = [ConfigResource(ConfigResourceType.TOPIC, r.name) for r in changed]
        described = admin.describe_configs(resources, config_filter="all")["topic"]
        if all(
            described[r.name].get(k, {}).get("value") == v
            for r in changed
            for k, v in r.configs.items()
        ):
            return
        time.sleep(0.2)
    raise TimeoutError(f"topic configurations not visible after {timeout}s")


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
