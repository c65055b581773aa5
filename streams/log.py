"""The log through kafka-python: is a broker there, read a topic from its first offset to its end
as it is now, read one partition's range in parts, append one message and wait for it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas.settings import KafkaAccess, client_args


def read_from_start(
    bootstrap: str | KafkaAccess, topic: str, timeout_s: float = 30.0, client_id: str = "ews-reader"
) -> Iterator[Any]:
    """Every message of ``topic`` up to the end offsets seen at the start, partition by
    partition in offset order within each.  Raises LookupError if the topic does not exist and
    TimeoutError if no message arrives for ``timeout_s`` while some are still due."""
    consumer = KafkaConsumer(
        **client_args(bootstrap), group_id=None, enable_auto_commit=False, client_id=client_id
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


def answer_to(
    bootstrap: str | KafkaAccess,
    topic: str,
    send: Callable[[], None],
    ours: Callable[[bytes], bool],
    timeout_s: float = 15.0,
) -> list[bytes]:
    """``send`` something, then read ``topic`` from where it ended before, for the messages
    ``ours`` says it caused (the events of a command): those found, once some have come and
    no more come for a moment; none if none came within ``timeout_s``."""
    consumer = KafkaConsumer(
        **client_args(bootstrap), group_id=None, enable_auto_commit=False, client_id="ews-answer"
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            raise LookupError(f"topic {topic!r} does not exist on {bootstrap} (run: ews topics)")
        consumer.assign(tps)
        for tp, end in consumer.end_offsets(tps).items():
            consumer.seek(tp, end)
        send()
        found: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            new = [m.value for msgs in batch.values() for m in msgs if ours(m.value)]
            if found and not new:
                break
            found += new
        return found
    finally:
        consumer.close()


class RangeReader:
    """Reads ranges of partitions again (``parts``) through one consumer kept open from one
    read to the next, so that a read costs a fetch, not a new connection and login (intake
    reads at every transaction marker of the records topic).  Reads run one at a time; one
    that fails or is closed part-way closes the consumer, and the next read opens another."""

    def __init__(self, bootstrap: str | KafkaAccess) -> None:
        self.bootstrap = bootstrap
        self._consumer: KafkaConsumer | None = None
        self._one_at_a_time = threading.Lock()

    def parts(
        self, topic: str, partition: int, start: int, end: int, most: int, timeout_s: float = 30.0
    ) -> Iterator[list[Any]]:
        """The messages of one partition from offset ``start`` up to ``end`` (not included),
        those the log still holds, in lists of at most ``most``, read one list at a time.
        Raises TimeoutError if none arrives for ``timeout_s`` while some are still due."""
        with self._one_at_a_time:
            consumer = self._consumer = self._consumer or _range_consumer(self.bootstrap)
            finished = False
            try:
                yield from _read_range(consumer, topic, partition, start, end, most, timeout_s)
                finished = True
            finally:
                if not finished:
                    self._consumer = None
                    consumer.close()

    def close(self) -> None:
        """Close the consumer kept open, if any (after a read still under way)."""
        with self._one_at_a_time:
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close()


def _range_consumer(bootstrap: str | KafkaAccess) -> KafkaConsumer:
    return KafkaConsumer(
        **client_args(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a start deleted meanwhile: go on from the log's start
        isolation_level="read_committed",  # as the stages read: no aborted transaction's record
        client_id="ews-range",
    )


def _read_range(
    consumer: KafkaConsumer,
    topic: str,
    partition: int,
    start: int,
    end: int,
    most: int,
    timeout_s: float,
) -> Iterator[list[Any]]:
    """``RangeReader.parts`` through ``consumer`` (left open)."""
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, start)  # deleted meanwhile: the consumer resets to the log's start
    part: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while (at := consumer.position(tp)) is None or at < end:  # None: a reset still under way
        # no more than the range can hold: what lies beyond it is fetched, not decoded
        room = most if at is None else min(most, end - at)
        got = consumer.poll(timeout_ms=500, max_records=room).get(tp, [])
        moved = consumer.position(tp) != at  # an aborted transaction is passed with no record
        for m in got:
            if m.offset < end:
                part.append(m)
            if len(part) == most:
                yield part
                part = []
                deadline = time.monotonic() + timeout_s  # not counting the caller's time
        if got or moved:
            deadline = time.monotonic() + timeout_s
        elif time.monotonic() > deadline:
            raise TimeoutError(f"no progress reading {topic}:{partition} for {timeout_s}s")
    if part:
        yield part


def check_reachable(bootstrap: str | KafkaAccess, timeout_s: float = 3.0) -> None:
    """Fail fast, with a clear message, when no broker listens at ``bootstrap``."""
    for server in str(bootstrap).split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection(
                (host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s
            ).close()
            return
        except (OSError, ValueError):
            continue
    raise ConnectionError(
        f"no Kafka broker reachable at {bootstrap} (start one with `ews broker start`, "
        "or pass --bootstrap / set EWS_BOOTSTRAP)"
    )


class BrokerUnreachable(ConnectionError):
    """No broker listened at the address for the time a worker waits for one."""


def wait_reachable(bootstrap: str | KafkaAccess, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for a broker to listen at ``bootstrap`` (a worker started with
    its broker); then raise ``BrokerUnreachable``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check_reachable(bootstrap, timeout_s=min(3.0, timeout_s))
        except ConnectionError as exc:
            if time.monotonic() >= deadline:
                raise BrokerUnreachable(f"{exc}; waited {timeout_s:g} s") from None
            time.sleep(1.0)


def require_topics(bootstrap: str | KafkaAccess, topics: list[str]) -> None:
    """Fail fast, with a clear message, when the broker is not reachable or lacks a topic."""
    check_reachable(bootstrap)
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    try:
        missing = sorted(set(topics) - consumer.topics())
    finally:
        consumer.close()
    if missing:
        raise LookupError(f"no topic {', '.join(missing)} on {bootstrap} (run: ews topics)")


def append(bootstrap: str | KafkaAccess, topic: str, key: bytes | None, value: bytes) -> None:
    """Append one message and wait until the broker has it (acks=all)."""
    check_reachable(bootstrap)
    producer = KafkaProducer(**client_args(bootstrap), acks="all", client_id="ews-append")
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
        producer.flush()
    finally:
        producer.close()
