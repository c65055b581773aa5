"""Rebuilding the read models from the log with several processes (``ews replay --workers``).

Nearly all of a log is case events, so they are what is split: process ``i`` of ``n``
projects the case-events partitions ``p`` with ``p % n == i``.  A case's events are all in one
partition, so no two processes touch the same case row or timeline entry.  Process 0 also
projects the other topics whole (intake receipts, dead letters, risk assessments, alert
events): the intake counts and the check that a file row posted twice counts once need every
receipt in one place.  Each process writes its own partitions' positions with its rows, as the
projector always does, and SQLite or PostgreSQL serialises their transactions.

The caller holds the read models' writer lock.  The processes are forked from the caller, so
they start with every module loaded; each opens its own database connections and consumer.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import wait

import sqlalchemy as sa

from readside.db import make_engine
from readside.projector import Projector, ProjectorError
from schemas.settings import KafkaAccess
from schemas.topics import Topics

log = logging.getLogger("ews.replay")
Progress = Callable[[int, int | None], None]  # (messages applied, messages to apply)


def replay(
    engine: sa.Engine,
    bootstrap: str | KafkaAccess,
    topics: Topics,
    workers: int = 1,
    on_progress: Progress | None = None,
) -> int:
    """Project the log from the read models' positions to the log's end as it is now, with
    ``workers`` processes (at most one per case-events partition); the messages applied."""
    workers = max(1, min(workers, topics.partitions))
    if workers == 1:
        projector = Projector(engine, bootstrap, topics)
        return projector.run(until_caught_up=True, lock=False, on_batch=on_progress)
    url = engine.url.render_as_string(hide_password=False)
    fork = multiprocessing.get_context("fork")
    applied = fork.Array("q", workers, lock=False)
    to_apply = fork.Array("q", [-1] * workers, lock=False)  # -1: not known yet
    procs = [
        fork.Process(
            target=_project_share,
            args=(url, bootstrap, topics, (i, workers), applied, to_apply),
            name=f"ews-replay-{i}",
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            if any(p.exitcode not in (None, 0) for p in procs):
                break  # one failed: the others are stopped below
            if on_progress is not None:
                on_progress(sum(applied), sum(to_apply) if min(to_apply) >= 0 else None)
            wait([p.sentinel for p in procs if p.is_alive()], timeout=0.2)  # or one ends
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    failed = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode != 0]
    if failed:
        which = ", ".join(f"{i} (exit {code})" for i, code in failed)
        raise ProjectorError(
            f"replay process {which} of {workers} failed (see its error above); the read "
            "models are incomplete: run the replay again"
        )
    if on_progress is not None:
        on_progress(sum(applied), sum(to_apply))
    return sum(applied)


def _project_share(
    url: str,
    bootstrap: str | KafkaAccess,
    topics: Topics,
    share: tuple[int, int],
    applied: list[int],
    to_apply: list[int],
) -> None:
    """One replay process: its share of the log into the database at ``url``."""
    index = share[0]

    def report(done: int, total: int | None) -> None:
        applied[index] = done
        if total is not None:
            to_apply[index] = total

    engine = make_engine(url)
    try:
        Projector(engine, bootstrap, topics, share=share).run(
            until_caught_up=True, lock=False, on_batch=report
        )
    except Exception:
        log.exception("replay process %d of %d", index, share[1])
        raise SystemExit(1) from None
    finally:
        engine.dispose()
