"""Time as events: clock ticks on the clock topic, one per partition per tick.

The scorer re-assesses open cases when a re-assessment tick arrives; the alert writer checks
the alerts' deadlines at every tick, re-assessment or deadline check.  ``publish_ticks`` posts
ticks for given times (tests and ``ews clock tick --now`` move time this way, without
sleeping); ``last_tick`` reads the latest tick posted, so a restarted ticker continues after it:
no tick is skipped and none is posted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas.risk import ClockTicked
from schemas.settings import KafkaAccess, client_args
from schemas.topics import Topics
from streams.log import check_reachable


def publish_ticks(
    bootstrap: str | KafkaAccess,
    topics: Topics,
    times: Iterable[dt.datetime],
    reassess: bool = True,
) -> int:
    """Post a tick for each time to every partition of the clock topic; returns how many times.
    ``reassess=False``: deadline checks, which the scorer passes over."""
    check_reachable(bootstrap)
    producer = KafkaProducer(**client_args(bootstrap), acks="all", client_id="ews-clock")
    n = 0
    try:
        for at in times:
            body = ClockTicked(at.isoformat(), reassess).to_bytes()
            for p in sorted(producer.partitions_for(topics.clock)):  # as the broker has them
                producer.send(topics.clock, value=body, partition=p)
            n += 1
        producer.flush()
    finally:
        producer.close()
    return n


def last_tick(bootstrap: str | KafkaAccess, topics: Topics) -> dt.datetime | None:
    """The time of the latest tick on the clock topic (partition 0), None if there is none:
    none posted yet, or all of them older than the topic keeps ticks."""
    check_reachable(bootstrap)
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    try:
        tp = TopicPartition(topics.clock, 0)
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        if end == consumer.beginning_offsets([tp])[tp]:
            return None
        consumer.seek(tp, end - 1)
        for _ in range(50):
            for messages in consumer.poll(timeout_ms=200).values():
                for m in messages:
                    return dt.datetime.fromisoformat(ClockTicked.from_bytes(m.value).at)
        raise TimeoutError(f"could not read the last tick of {topics.clock}")
    finally:
        consumer.close()
