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
They end with the replay: when one fails, or the caller is stopped (SIGTERM, Ctrl-C), the
others are stopped; a process whose caller has died (``kill -9``) stops after its batch.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
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
    if workers == 1 or engine.url.database in (None, "", ":memory:"):  # a process's own database
        projector = Projector(engine, bootstrap, topics)
        return projector.run(until_caught_up=True, lock=False, on_batch=on_progress)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()  # no idle connection of the caller's is carried into the children
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
    with _sigterm_as_exit():
        for p in procs:
            p.start()
        try:
            while _first_failed(procs) is None and any(p.is_alive() for p in procs):
                if on_progress is not None:
                    on_progress(sum(applied), sum(to_apply) if min(to_apply) >= 0 else None)
                wait([p.sentinel for p in procs if p.is_alive()], timeout=0.2)  # or one ends
            failed = _first_failed(procs)
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()  # one failed, or the caller is stopped
                p.join()
    if failed is not None:
        raise ProjectorError(
            f"replay process {failed[0]} of {workers} failed (exit {failed[1]}; its error is "
            "above) and the others were stopped; the read models are incomplete: run the "
            "replay again"
        )
    if on_progress is not None:
        on_progress(sum(applied), sum(to_apply))
    return sum(applied)


def _first_failed(procs: list[multiprocessing.process.BaseProcess]) -> tuple[int, int] | None:
    """(index, exit code) of the first process that has ended with an error, if one has."""
    return next(((i, p.exitcode) for i, p in enumerate(procs) if p.exitcode not in (None, 0)), None)


def _project_share(
    url: str,
    bootstrap: str | KafkaAccess,
    topics: Topics,
    share: tuple[int, int],
    applied: list[int],
    to_apply: list[int],
) -> None:
    """One replay process: its share of the log into the database at ``url``."""
    index, caller = share[0], os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the caller stops every process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def report(done: int, total: int | None) -> None:
        applied[index] = done
        if total is not None:
            to_apply[index] = total
        if os.getppid() != caller:
            raise SystemExit(1)  # the caller is gone (kill -9): nobody holds the lock for us

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


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit while the replay runs, so the caller's clean-up (stopping the
    processes) runs instead of the caller vanishing and leaving them writing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
