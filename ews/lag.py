"""How far each consumer is behind the log: the stream's stages and the projector.

``settled()`` is true when every posted record has been through intake, every command through
the case writer, and every event, receipt and dead letter into the read models.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from readside.projector import positions, projected_topics
from readside.queries import intake_rows
from schemas.topics import Topics
from streams.app import ROLES, group_id


def stream_groups(topics: Topics) -> list[str]:
    return [group_id(topics, role) for role in ROLES]


def _end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [
            TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())
        ]
        return consumer.end_offsets(tps) if tps else {}
    finally:
        consumer.close()


def lag(bootstrap: str, topics: Topics, engine: sa.Engine) -> dict[str, int]:
    """Messages not yet processed, per stage."""
    stage_of = {
        topics.records: "intake",
        topics.case_commands: "case_writer",
        topics.case_events: "scorer",
        topics.clock: "scorer",
    }
    projected = set(projected_topics(topics))
    ends = _end_offsets(bootstrap, sorted(set(stage_of) | projected))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    committed: dict = {}
    try:
        existing = {g["group_id"] for g in admin.list_groups()}
        groups = [g for g in stream_groups(topics) if g in existing]
        for group in groups:
            for offsets in admin.list_group_offsets(group).values():
                for tp, meta in offsets.items():
                    if tp not in committed or meta.offset > committed[tp].offset:
                        committed[tp] = meta
    finally:
        admin.close()
    done = positions(engine)
    out = {"intake": 0, "case_writer": 0, "scorer": 0, "projector": 0}
    for tp, end in ends.items():
        stage = stage_of.get(tp.topic)
        if stage is not None:
            meta = committed.get(tp)
            out[stage] += end - (meta.offset if meta and meta.offset >= 0 else 0)
        if tp.topic in projected:
            out["projector"] += end - done.get((tp.topic, tp.partition), 0)
    return out


def settled(bootstrap: str, topics: Topics, engine: sa.Engine) -> bool:
    return not any(lag(bootstrap, topics, engine).values())


class NotSettled(RuntimeError):
    """The pipeline did not get through everything posted: a process exited, or time ran out."""


def wait_settled(
    bootstrap: str,
    topics: Topics,
    engine: sa.Engine,
    posted: int,
    procs: Sequence[subprocess.Popen],
    timeout: float = 300,
    interval: float = 0.5,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Wait until ``posted`` records have receipts and every stage's lag is zero, while the
    pipeline's processes run; raise NotSettled if one exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                name = " ".join(str(a) for a in proc.args[2:])
                raise NotSettled(f"{name} exited with {proc.returncode}; see its log")
        received = sum(r[1] for r in intake_rows(engine))
        if on_progress:
            on_progress(received)
        if received >= posted and not any(lag(bootstrap, topics, engine).values()):
            return
        time.sleep(interval)
    raise NotSettled(f"not settled after {timeout:.0f}s: lag {lag(bootstrap, topics, engine)}")
