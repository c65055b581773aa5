"""Posting screening records to the records topic (kafka-python, idempotent, acks=all).

The message key is ``township|ref_no`` where it can be read, so a case's records keep their
order in one partition; else the row's idempotency key (or a hash of its bytes), so every
posting of one row is in one partition and the first posted is the first read, live and in a
replay alike.  Reading the files townships post is ``web.sheets``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from kafka import KafkaProducer

from domain.intake import KEY_HEADER
from schemas.identity import identity_text
from schemas.settings import KafkaAccess, client_args


def producer(bootstrap: str | KafkaAccess) -> KafkaProducer:
    return KafkaProducer(
        **client_args(bootstrap),
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
        client_id="ews-post",
    )


def key_for(data: bytes, headers: Iterable[tuple[str, bytes]] = ()) -> bytes:
    """The record's case (``township|ref_no``, folded as the case id is) where it can be
    read; else its idempotency key header, else a hash of its bytes."""
    return case_key(data) or dict(headers).get(KEY_HEADER) or hashlib.sha256(data).digest()


def case_key(data: bytes) -> bytes | None:
    """``township|ref_no`` of a record, folded as the case id is; None if unreadable."""
    try:
        raw = json.loads(data)
        township = raw.get("township") or raw.get("town")
        ref_no = raw.get("ref_no") or raw.get("case_no")
        if isinstance(ref_no, int) and not isinstance(ref_no, bool):
            ref_no = str(ref_no)
        if isinstance(township, str) and isinstance(ref_no, str):
            # folded as the case id is, so every spelling of a case goes to one partition
            return f"{identity_text(township)}|{identity_text(ref_no).upper()}".encode()
    except Exception:
        pass
    return None


def post_messages(
    bootstrap: str | KafkaAccess,
    topic: str,
    messages: Iterable[bytes],
    progress: bool = False,
    timestamps_ms: Iterable[int | None] | None = None,
    headers: Iterable[list[tuple[str, bytes]]] | None = None,
) -> int:
    """Post raw record messages to the records ``topic``; return how many the broker
    acknowledged.  ``timestamps_ms``: the time each was posted (a replay of history), else now;
    ``headers``: each message's Kafka headers (where in which file it came from)."""
    stamps = iter(timestamps_ms) if timestamps_ms is not None else None
    heads = iter(headers) if headers is not None else None
    prod = producer(bootstrap)
    futures = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit="rec", desc="posting")
    try:
        for data in messages:
            at = next(stamps) if stamps is not None else None
            head = next(heads) if heads is not None else None
            futures.append(
                prod.send(
                    topic, key=key_for(data, head or ()), value=data, timestamp_ms=at, headers=head
                )
            )
            if bar is not None:
                bar.update(1)
        prod.flush()
        for f in futures:
            f.get(timeout=60)
    finally:
        if bar is not None:
            bar.close()
        prod.close()
    return len(futures)
