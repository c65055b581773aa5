"""What the benchmark scripts share: a broker, new databases, CPU per process, the topics' end
offsets."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from deploy.kafka_local import LocalBroker, free_port
from schemas.settings import Settings


def new_databases(pg_url: str | None) -> list[tuple[str, Callable[[], str]]]:
    """(name, a function giving the URL of a new empty database) for SQLite (a file in a new
    folder) and, with ``pg_url``, for a PostgreSQL server (a database created on it)."""
    out: list[tuple[str, Callable[[], str]]] = [
        (
            "SQLite",
            lambda: f"sqlite:///{Path(tempfile.mkdtemp(prefix='ews-bench-db-')) / 'read.db'}",
        )
    ]
    if pg_url:
        out.append(("PostgreSQL", lambda: _postgres_database(pg_url)))
    return out


def _postgres_database(base: str) -> str:
    """A new, empty database on the server of ``base``."""
    name = "ews_bench_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def parser(doc: str) -> argparse.ArgumentParser:
    """A script's ``--help``: the first paragraph of its ``doc`` before the options, the rest
    (how to run it, what it measures) after them, as written."""
    description, _, epilog = doc.partition("\n\n")
    return argparse.ArgumentParser(
        description=description,
        epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


@contextlib.contextmanager
def kafka_broker(workdir: Path, bootstrap: str | None = None) -> Iterator[str]:
    """The bootstrap servers to use: ``bootstrap`` if given (a running broker), else those of
    a broker started under ``workdir`` and stopped at the end."""
    if bootstrap:
        yield bootstrap
        return
    broker = LocalBroker(home=workdir / "broker", port=free_port(), controller_port=free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def _stat_seconds(stat: Path) -> float:
    """User + system CPU seconds in a /proc ``stat`` file (a process's or one thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process has used, from /proc."""
    try:
        return _stat_seconds(Path(f"/proc/{pid}/stat"))
    except (OSError, IndexError, ValueError):
        return float("nan")


def compiler_seconds(pid: int) -> float:
    """CPU time a live JVM's JIT compiler threads (C1, C2) have used, from /proc: a broker
    just started spends much of its CPU compiling its hot paths."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "comm").read_text().startswith(("C1 Compiler", "C2 Compiler")):
                total += _stat_seconds(task / "stat")
        except (OSError, IndexError, ValueError):
            continue
    return total


def consume(consumer: KafkaConsumer, n: int, stall: float = 120.0) -> Iterator[ConsumerRecord]:
    """The next ``n`` records a baseline's consumer polls, one by one.  Raises if none comes
    for ``stall`` seconds: a kafka-python consumer once polled for 14 minutes and got nothing,
    and the bench sat there instead of saying so."""
    seen, last = 0, time.monotonic()
    while seen < n:
        batches = consumer.poll(timeout_ms=200)
        if not batches and time.monotonic() - last > stall:
            raise RuntimeError(f"the baseline got no record for {stall:.0f} s ({seen} of {n})")
        for messages in batches.values():
            for m in messages:
                seen, last = seen + 1, time.monotonic()
                yield m


def end_total(consumer: KafkaConsumer, topic: str) -> int:
    """How many messages ``topic`` holds (the sum of its partitions' end offsets)."""
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    return sum(consumer.end_offsets(parts).values()) if parts else 0


def warm_coordinator(settings: Settings) -> None:
    """Have the broker create its group coordinator (``__consumer_offsets``) before a worker
    starts: faust can sit idle after a first GroupCoordinatorNotAvailable on a new broker."""
    consumer = KafkaConsumer(
        settings.topics.records, bootstrap_servers=settings.bootstrap, group_id="warm-up"
    )
    consumer.poll(timeout_ms=3000)
    consumer.commit()
    consumer.close()
