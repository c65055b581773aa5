"""The same pure logic on quixstreams, the library a user would pick instead of faust.

One StreamingDataFrame: each record is admitted, then a stateful step folds its command into
the case state (quixstreams' RocksDB store with its changelog topic, keyed by the record's key
``township|ref_no``, one per case) and the outputs go to the case-events topic (keyed by case
id, murmur2 like the pipeline) or to the dead letters.  At-least-once, its default.

    python bench/peers/quix_app.py --bootstrap HOST:PORT --records T --events T \
        --dead-letters T --group G --state-dir DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from quixstreams import Application, message_context  # noqa: E402
from quixstreams.models.serializers import Serializer  # noqa: E402

from bench.peers.logic import Output, admitted, step  # noqa: E402
from domain.case import CaseState  # noqa: E402
from domain.intake import Posted  # noqa: E402


class OutputBytes(Serializer):
    """An ``Output``'s bytes, as the pipeline writes them."""

    def __call__(self, value: Output, ctx: Any) -> bytes:
        return value.value


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("bootstrap", "records", "events", "dead-letters", "group", "state-dir"):
        p.add_argument(f"--{name}", required=True)
    args = p.parse_args()
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=1.0,
        state_dir=args.state_dir,
        loglevel="WARNING",
        producer_extra_config={"linger.ms": 5, "partitioner": "murmur2_random"},
        auto_create_topics=True,
    )
    records = app.topic(args.records, value_deserializer="bytes", key_deserializer="bytes")
    events = app.topic(args.events, value_serializer=OutputBytes(), key_serializer="bytes")
    dead = app.topic(args.dead_letters, value_serializer=OutputBytes(), key_serializer="bytes")

    def admit(value: bytes, key: Any, timestamp: int, headers: Any) -> tuple:
        ctx = message_context()
        posted = Posted(
            ctx.topic, ctx.partition, ctx.offset, timestamp, value, tuple(headers or ())
        )
        return admitted(posted)

    def fold(value: tuple, key: Any, timestamp: int, headers: Any, state: Any) -> list[Output]:
        case_id, out = value
        if case_id is None:
            return [out]
        stored = state.get("case")
        new, outputs = step(CaseState.from_dict(stored) if stored else None, out)
        state.set("case", new.to_dict())
        return outputs

    sdf = app.dataframe(records)
    sdf = sdf.apply(admit, metadata=True)
    sdf = sdf.apply(fold, stateful=True, metadata=True, expand=True)
    sdf.to_topic(
        lambda value, key, timestamp, headers: dead if value.dead else events,
        key=lambda value: value.key,
    )
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
