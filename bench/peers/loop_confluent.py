"""The floor of Python: a hand-written confluent-kafka loop around the project's pure logic.

Records in, case events and dead letters out, the case states in a dict (no changelog: a
restart would lose them, which the pipeline and quixstreams do not).  Each polled batch is
produced, flushed, then its offsets committed: at-least-once, like the other two sides.

    python bench/peers/loop_confluent.py --bootstrap HOST:PORT --records T --events T \
        --dead-letters T --group G
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from confluent_kafka import Consumer, Producer  # noqa: E402

from bench.peers.logic import Output, admitted, step  # noqa: E402
from domain.intake import Posted  # noqa: E402
from streams.app import partition_for  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("bootstrap", "records", "events", "dead-letters", "group"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--partitions", type=int, default=4)
    args = p.parse_args()
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    failed: list = []
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "delivery.report.only.error": True,
            "on_delivery": lambda err, _msg: failed.append(err) if err else None,
        }
    )
    consumer.subscribe([args.records])
    states: dict = {}
    n = args.partitions
    try:
        while True:
            batch = consumer.consume(500, timeout=0.5)
            if not batch:
                continue
            for m in batch:
                if m.error():
                    raise RuntimeError(m.error())
                posted = Posted(
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    m.timestamp()[1],
                    m.value(),
                    tuple(m.headers() or ()),
                )
                case_id, out = admitted(posted)
                if case_id is None:
                    assert isinstance(out, Output)
                    producer.produce(args.dead_letters, out.value, m.key(), partition=m.partition())
                    continue
                states[case_id], events = step(states.get(case_id), out)
                for e in events:
                    producer.produce(
                        args.events, e.value, e.key, partition=partition_for(case_id, n)
                    )
                producer.poll(0)
            if producer.flush(30) != 0 or failed:
                raise RuntimeError(f"not delivered: {failed[:1]}")
            consumer.commit(asynchronous=False)
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
