"""Operating the pipeline: a health check a supervisor can call, and the /metrics of the
projector and the notifier (the stages serve their own, ``streams.metrics``).

``health`` answers, check by check, whether a part of the pipeline is there and working:

* ``broker``: a broker answers at the bootstrap address;
* a stage (``intake`` / ``cases`` / ``risk`` / ``alerts``): its consumer group has members;
* ``projector``: the read-model database answers and a projector holds its writer lock;
* and, for the whole pipeline, how far each stage is behind (``ews lag``), with the log
  messages the read models could not apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from schemas.settings import Settings, client_args

PARTS = ("broker", "intake", "cases", "risk", "alerts", "projector")


@dataclass(frozen=True)
class Check:
    part: str
    ok: bool
    said: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.part:<10} {self.said}"


def health(settings: Settings, parts: Iterable[str] = PARTS) -> list[Check]:
    """One check per part (see the module's doc); the broker first, and nothing else is asked
    of a broker that does not answer."""
    from streams.log import check_reachable

    checks: list[Check] = []
    try:
        check_reachable(settings.kafka)
        checks.append(Check("broker", True, f"answers at {settings.kafka}"))
    except ConnectionError as exc:
        return [Check("broker", False, str(exc))]
    for part in parts:
        if part in ("intake", "cases", "risk", "alerts"):
            checks.append(_stage(settings, part))
        elif part == "projector":
            checks.append(_projector(settings))
    return checks


def _stage(settings: Settings, stage: str) -> Check:
    from kafka import KafkaAdminClient

    group = settings.topics.group(stage)
    admin = KafkaAdminClient(**client_args(settings.kafka), client_id="ews-health")
    try:
        described = admin.describe_groups([group])
        info = described[group] if isinstance(described, dict) else described[0]
        members, state = len(info["members"]), info.get("state", "?")
    finally:
        admin.close()
    if members:
        return Check(stage, True, f"{members} process(es) in group {group} ({state})")
    return Check(stage, False, f"no process in group {group}: start `ews worker --role {stage}`")


def _projector(settings: Settings) -> Check:
    from readside.db import make_engine
    from readside.lock import ReadModelsBusy, read_model_writer

    engine = make_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        try:
            with read_model_writer(engine, "the health check"):
                pass
        except ReadModelsBusy:
            return Check("projector", True, "writing the read models (it holds their lock)")
        return Check("projector", False, "no projector writes the read models: `ews project`")
    except sa.exc.SQLAlchemyError as exc:
        return Check("projector", False, f"read-model database: {type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


class _ProjectorCollector:
    def __init__(self, projector: Any) -> None:
        self.projector = projector

    def collect(self) -> Iterable[Any]:
        p = self.projector
        yield CounterMetricFamily(
            "ews_projected_messages", "log messages applied to the read models", p.applied
        )
        yield CounterMetricFamily(
            "ews_projection_failures", "log messages kept in projection_failures", p.failures
        )
        yield GaugeMetricFamily(
            "ews_projector_last_batch_seconds",
            "when the projector last applied a batch (Unix time)",
            p.last_batch_at,
        )


class _OutboxCollector:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[Any]:
        from alerts.outbox import outbox

        family = GaugeMetricFamily(
            "ews_notifications", "notifications in the outbox, by status", labels=["status"]
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
            ).all()
        for status, n in rows:
            family.add_metric([status], n)
        yield family


def serve_projector_metrics(projector: Any, port: int) -> None:
    if port:
        registry = CollectorRegistry()
        registry.register(_ProjectorCollector(projector))
        start_http_server(port, addr="127.0.0.1", registry=registry)


def serve_outbox_metrics(engine: sa.Engine, port: int) -> None:
    if port:
        registry = CollectorRegistry()
        registry.register(_OutboxCollector(engine))
        start_http_server(port, addr="127.0.0.1", registry=registry)
