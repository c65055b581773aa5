"""Creating the system's topics explicitly, with their partition counts and retention."""

from __future__ import annotations

import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.topics import TopicSpec


def ensure_topics(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ews-admin")
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
