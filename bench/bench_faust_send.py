"""Cost of producing from inside a faust app: faust's ``Topic.send`` vs its producer directly.

    .venv/bin/python bench/bench_faust_send.py --bootstrap 127.0.0.1:9092 [--messages 20000]

This is why the agents in ``streams/app.py`` produce through ``app.producer.send``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faust  # noqa: E402

from bench.common import parser as bench_parser  # noqa: E402
from schemas.topics import TopicSpec  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--messages", type=int, default=20_000)
    args = p.parse_args()
    name = "bench-send-" + uuid.uuid4().hex[:8]
    ensure_topics(args.bootstrap, [TopicSpec(name, 4, {}, "")])
    app = faust.App(
        name,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        web_enabled=False,
        producer_linger_ms=5,
        key_serializer="raw",
        value_serializer="raw",
        datadir=f"/tmp/{name}",
    )
    topic = app.topic(name, partitions=4)
    n, value = args.messages, b"x" * 600

    @app.task
    async def measure() -> None:
        t0 = time.perf_counter()
        futures = [await topic.send(key=b"k%d" % i, value=value) for i in range(n)]
        await asyncio.gather(*futures)
        t1 = time.perf_counter()
        futures = [
            await app.producer.send(
                name, b"k%d" % i, value, partition=None, timestamp=None, headers=None
            )
            for i in range(n)
        ]
        await asyncio.gather(*futures)
        t2 = time.perf_counter()
        a, b = n / (t1 - t0), n / (t2 - t1)
        print(f"faust Topic.send     {a:>8.0f} msg/s", file=sys.__stdout__, flush=True)
        print(f"app.producer.send    {b:>8.0f} msg/s", file=sys.__stdout__, flush=True)
        print(f"ratio                {b / a:>8.1f}x", file=sys.__stdout__, flush=True)
        os._exit(0)

    sys.argv = ["bench", "worker", "-l", "error", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
