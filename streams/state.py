"""Where the stages keep their states: tables keyed by case id that each writer saves itself.

The case writer's cases, the scorer's watches and the alert writer's alert states are each a
faust table (intake's holds only how far it got in each records partition, ``reached``)
whose changelog partition follows its key exactly like the input topics (``use_partitioner``),
so table and input stay co-partitioned.  A writer saves a batch's new
states with ``StateTable.save``: to the changelog first (produced directly: faust's own path
sends one buffered message at a time), and only once the broker has them all, into the store.

Stores (``EWS_STATE_STORE``):

* ``rocksdb``: one RocksDB per partition under ``EWS_FAUST_DIR`` (faust's store, through
  ``rocksdict``), holding with the states the changelog offset they reach.  A restarted worker
  reads only what the changelog got after that offset (nothing, when it was the last to write
  that partition), so it is processing in seconds whatever the number of cases, and its memory
  does not grow with them.
* ``memory``: a dict; every start re-reads the whole changelog before processing anything.

Each worker process keeps its stores in a folder of its own (``claim_store_dir``): faust's
RocksDB store assumes no other process opens its databases, and two case writers of one stage
on one machine would otherwise share them.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka.partitioner import murmur2
from faust.serializers import codecs
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP
from kafka import KafkaConsumer, TopicPartition
from rocksdict import AccessType, Options, Rdict

from schemas.settings import KafkaAccess, client_args

STORES = {"rocksdb": "rocksdb://", "memory": "memory://"}


class Utf8(codecs.Codec):
    """Text keys as plain UTF-8 bytes, so a table's changelog key is the topic key."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode("utf-8") if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> str:
        return s.decode("utf-8")


codecs.register("utf8", Utf8())


@functools.lru_cache(maxsize=200_000)
def partition_for(case_id: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key): the partition of a case on every
    topic keyed by case id, whoever produces it.  Cached: murmur2 is pure Python here, and a
    case's events, state and assessments all ask for the same key again."""
    return (murmur2(case_id.encode("utf-8")) & 0x7FFFFFFF) % partitions


async def _send(app: faust.App, topic: str, key: bytes | None, value: bytes, partition: int) -> Any:
    """Produce through faust's producer directly (its Topic.send costs several times more);
    faust still flushes this producer before it commits input offsets.  Returns the delivery
    future."""
    return await app.producer.send(
        topic, key, value, partition=partition, timestamp=None, headers=None
    )


DELIVERY_AT_LEAST = 30.0  # seconds a batch's sends are given, whatever the request timeout


async def delivered(app: faust.App, sent: Iterable[Any]) -> list[Any]:
    """The broker's answer to each send of ``sent`` (``_send``'s futures), once all are in the
    log.  The stages' producer is idempotent: it sends again, without end, what the broker
    refuses with an error that may pass (a broker restarting, a leader moving).  What is not
    delivered within twice the request timeout (``EWS_BROKER_TIMEOUT``), and at least 30 s,
    raises TimeoutError, so that the worker stops (``_or_die``) instead of holding its batch
    for ever."""
    within = max(2 * float(app.conf.producer_request_timeout), DELIVERY_AT_LEAST)
    return await asyncio.wait_for(asyncio.gather(*sent), within)


def _dumps(value: Mapping[str, Any]) -> bytes:
    """A state as compact UTF-8 JSON, which the table's JSON serializer reads back on recovery.
    orjson writes it at a fraction of the stdlib's cost; what orjson refuses (a whole number
    beyond 64 bits in a record) the stdlib writes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class StateTable:
    """A table of states keyed by case id, saved batch by batch by its one writer."""

    def __init__(self, app: faust.App, name: str, changelog_topic: str, partitions: int) -> None:
        self.app, self.changelog, self.partitions = app, changelog_topic, partitions
        changelog = app.topic(
            changelog_topic,
            partitions=partitions,
            compacting=True,
            deleting=False,
            key_serializer="utf8",
            value_serializer="json",
        )
        self.table = app.Table(
            name,
            default=None,
            partitions=partitions,
            use_partitioner=True,
            changelog_topic=changelog,
        )
        # keys are text (recovery must restore str keys, as the writers look them up), values JSON
        self.table.key_serializer = "utf8"
        self.table.value_serializer = "json"

    def get(self, case_id: str) -> dict | None:
        """The state of a case held by this worker (None: none yet)."""
        return self.table.get(case_id)

    def reached(self, topic: str, partition: int) -> int | None:
        """The next offset of an input partition its writer had not yet applied when it last
        saved (None: none saved)."""
        stored = self.table.get(reached_key(topic, partition))
        return stored["next"] if stored else None

    def items(self, partition: int, sieve: tuple[bytes, ...] = ()) -> Iterator[tuple[str, dict]]:
        """Every (case id, state) of one partition this worker holds (a clock tick's).  With a
        ``sieve``, states stored as text are decoded only if the text holds one of its byte
        strings (a cheap first cut: the caller still checks the states it gets)."""
        store = self.table.data
        if isinstance(store, RocksDBStore):  # read that partition's database only
            db = store._dbs.get(partition)
            pairs = decoded(store._visible_items(db) if db is not None else (), sieve)
        else:
            pairs = [
                (case_id, state)
                for case_id, state in list(store.items())
                if partition_for(case_id, self.partitions) == partition
            ]
        return iter([(key, state) for key, state in pairs if not key.startswith(REACHED)])

    async def save(
        self,
        states: Mapping[str, Mapping[str, Any]],
        reached: Mapping[tuple[str, int], int] | None = None,
    ) -> None:
        """Produce each new state to the changelog; once all are delivered, keep them.
        ``reached``: per input (topic, partition), the next offset not yet applied, saved with
        them in the changelog partition of that number."""
        entries = [
            (case_id, value, partition_for(case_id, self.partitions))
            for case_id, value in states.items()
        ]
        entries += [(reached_key(t, p), {"next": n}, p) for (t, p), n in (reached or {}).items()]
        bodies = [(key, _dumps(value)) for key, value, _ in entries]
        sent = [
            await _send(self.app, self.changelog, key.encode("utf-8"), body, partition)
            for (key, body), (_, _, partition) in zip(bodies, entries, strict=True)
        ]
        answers = await delivered(self.app, sent)
        store = self.table.data
        if not isinstance(store, RocksDBStore):
            for key, value, _ in entries:  # the memory store: a dict
                store[key] = value
            return
        # RocksDB: each state into its partition's database (faust's own ``store[key] = value``
        # would pick the partition of the message being processed), then the offsets reached
        offsets: dict[int, int] = {}
        for (case_id, body), meta in zip(bodies, answers, strict=True):
            key = case_id.encode("utf-8")
            store._db_for_partition(meta.partition).put(key, body)
            store._key_index[key] = meta.partition
            offsets[meta.partition] = max(meta.offset, offsets.get(meta.partition, -1))
        for partition, offset in offsets.items():
            store.set_persisted_offset(TP(self.changelog, partition), offset)


REACHED = "#reached/"  # no case id starts so


def reached_key(topic: str, partition: int) -> str:
    """The table key of how far a writer got in an input partition."""
    return f"{REACHED}{topic}/{partition}"


def decoded(
    pairs: Iterable[tuple[bytes, bytes]], sieve: tuple[bytes, ...] = ()
) -> list[tuple[str, dict]]:
    """(case id, state) of stored (key, JSON text) pairs; with a ``sieve``, only of the texts
    that hold one of its byte strings."""
    return [
        (k.decode("utf-8"), json.loads(v))
        for k, v in pairs
        if not sieve or any(s in v for s in sieve)
    ]


class StoreDir:
    """A worker's state-store folder, held for as long as the process lives."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    def release(self) -> None:
        """Give the folder back (the system does it too when the process ends, kill -9 or not)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def claim_store_dir(
    base: Path, wait: float = 10.0, say: Callable[[str], None] | None = None
) -> StoreDir:
    """A state-store folder no running process holds, locked for this one (``flock`` of its
    ``owner.lock``): ``base``, or ``base.1``, ``base.2`` ...

    A stage's second worker on the same machine (``ews worker`` beside ``ews worker --role
    cases``) gets a folder of its own instead of opening the first one's databases: faust's
    RocksDB store assumes it is their only user, and a shared folder lets one worker find a
    partition locked by the other, or sweep a store as stale while the other writes it.

    The lowest free folder of those there are is taken.  When every one is held, ``base`` is
    waited for up to ``wait`` seconds before a new folder is made: a worker restarted at once
    after ``kill -9`` finds its stages of before still stopping, and its own store is the one
    that spares it rebuilding the states from the changelogs.  Any folder is correct, since a
    store recovers what its changelogs got after the offset it holds; only the time differs."""
    n = 0
    while n == 0 or _store_path(base, n).exists():
        claimed = _try_claim(_store_path(base, n))
        if claimed:
            return claimed
        n += 1
    if say and wait > 0:
        say(f"{base} is held by another worker; waiting up to {wait:.0f} s for it")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(min(0.25, wait))
        claimed = _try_claim(base)
        if claimed:
            return claimed
    for m in range(n, n + 1000):  # another worker starting now may take one first
        claimed = _try_claim(_store_path(base, m))
        if claimed:
            return claimed
    raise RuntimeError(f"no free state-store folder beside {base}")


def _store_path(base: Path, n: int) -> Path:
    return base if n == 0 else base.with_name(f"{base.name}.{n}")


def _try_claim(path: Path) -> StoreDir | None:
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / "owner.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return StoreDir(path, fd)


def drop_stale_stores(app: faust.App, kafka: KafkaAccess) -> list[str]:
    """Delete every partition store that claims a changelog offset its changelog never reached:
    it belongs to a changelog that was deleted and created again (a reset cluster), and would
    hide the states of the new one.  Run before the worker starts; returns what was deleted.
    A store that holds no offset, or an offset the changelog has, is kept."""
    stores = [t.data for t in app.tables.values() if isinstance(t.data, RocksDBStore)]
    if not stores:
        return []
    dropped = []
    consumer = KafkaConsumer(**client_args(kafka))
    try:
        for store in stores:
            topic = store.table.changelog_topic.get_topic_name()
            partitions = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            for p in range(store.table.partitions or 0):
                path = store.partition_path(p)
                if not path.exists():
                    continue
                db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
                try:
                    held = db.get(store.offset_key)
                finally:
                    db.close()
                end = ends.get(TopicPartition(topic, p), 0)
                if held is not None and int(held) >= end:
                    shutil.rmtree(path)
                    dropped.append(f"{path} (offset {int(held)}, the changelog ends at {end})")
    finally:
        consumer.close()
    return dropped
