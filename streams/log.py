"""Reading a topic of the log from its first offset to its end as it is now (kafka-python)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def read_from_start(
    bootstrap: str, topic: str, timeout_s: float = 30.0, client_id: str = "ews-reader"
) -> Iterator[Any]:
    """Every message of ``topic`` up to the end offsets seen at the start, partition by
    partition in offset order within each.  Raises LookupError if the topic does not exist and
    TimeoutError if no message arrives for ``timeout_s`` while some are still due."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, client_id=client_id
    )
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            raise LookupError(f"topic {topic!r} does not exist on {bootstrap} (run: ews topics)")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            batch = consumer.poll(timeout_ms=500, max_records=5000)
            for messages in batch.values():
                yield from messages
            if batch:
                deadline = time.monotonic() + timeout_s
            elif time.monotonic() > deadline:
                raise TimeoutError(f"no progress reading {topic} for {timeout_s}s")
    finally:
        consumer.close()
