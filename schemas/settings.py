"""The one settings object of dispute-ews: every knob an operator sets, read once.

``Settings.from_env()`` is the only place in the code that reads the environment; everything
else receives a ``Settings`` (or the few values it needs) as an argument.  Each field names its
environment variable and says what it means; the README's configuration table is
``settings_table()`` (a test keeps the two equal).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.topics import Topics


@dataclass(frozen=True)
class KafkaAccess:
    """Where the broker is and who this process is to it (SASL/SCRAM when ``user`` is set).
    Printed, it is only the bootstrap servers: the password never reaches a message."""

    bootstrap: str
    user: str = ""
    password: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.bootstrap


SCRAM = "SCRAM-SHA-256"


def client_args(kafka: str | KafkaAccess) -> dict[str, Any]:
    """The connection arguments of a kafka-python or aiokafka client."""
    if isinstance(kafka, str) or not kafka.user:
        return {"bootstrap_servers": str(kafka)}
    return {
        "bootstrap_servers": kafka.bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": SCRAM,
        "sasl_plain_username": kafka.user,
        "sasl_plain_password": kafka.password,
    }


def _setting(default: Any, env: str, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


@dataclass(frozen=True)
class Settings:
    bootstrap: str = _setting("127.0.0.1:9092", "EWS_BOOTSTRAP", "Kafka bootstrap servers")
    kafka_user: str = _setting(
        "",
        "EWS_KAFKA_USER",
        "this process's SCRAM user on the broker (empty: no authentication, a broker on loopback "
        "without ACLs)",
    )
    kafka_password: str = _setting("", "EWS_KAFKA_PASSWORD", "the SCRAM user's password")
    db_url: str = _setting(
        "sqlite:///var/ews.db",
        "EWS_DB_URL",
        "read-side database (SQLAlchemy URL; `postgresql://...` for production)",
    )
    topic_prefix: str = _setting(
        "ews",
        "EWS_TOPIC_PREFIX",
        "prefix of every topic and consumer group (1-48 letters, digits, - or _)",
    )
    partitions: int = _setting(
        4, "EWS_PARTITIONS", "partitions of the record, command and event topics (at creation)"
    )
    batch_size: int = _setting(
        500, "EWS_BATCH_SIZE", "intake and risk stages: most messages per batch"
    )
    batch_within: float = _setting(
        0.05,
        "EWS_BATCH_WITHIN",
        "every stage's batch: most seconds to wait for a full one (each of the four stages "
        "adds up to this to an alert's delay)",
    )
    session_timeout: float = _setting(
        10.0,
        "EWS_SESSION_TIMEOUT",
        "seconds after which a dead worker leaves its consumer group",
    )
    broker_timeout: float = _setting(
        30.0,
        "EWS_BROKER_TIMEOUT",
        "seconds a worker or the projector waits for an unreachable broker before it exits "
        "(non-zero, for its supervisor to restart it)",
    )
    stall_timeout: float = _setting(
        300.0,
        "EWS_STALL_TIMEOUT",
        "seconds a stage may hold partitions with messages waiting and make no progress "
        "before it exits for its supervisor to restart it (the watchdog)",
    )
    skip_check_every: float = _setting(
        30.0,
        "EWS_SKIP_CHECK_EVERY",
        "seconds between a stage's checks for input its group's position passed over on a "
        "partition that gets nothing new (found twice in a row, it is read again and applied)",
    )
    metrics_port: int = _setting(
        0,
        "EWS_METRICS_PORT",
        "first port of the Prometheus /metrics endpoints on 127.0.0.1 (0: none): the intake, "
        "cases, risk and alerts stages, the projector and the notifier take it and the next five",
    )
    faust_dir: str = _setting(
        "var/faust",
        "EWS_FAUST_DIR",
        "the workers' local data folder (faust's, and the RocksDB state stores)",
    )
    state_store: str = _setting(
        "rocksdb",
        "EWS_STATE_STORE",
        "where a worker keeps its cases, watches and alert states: `rocksdb` (on disk under "
        "EWS_FAUST_DIR with the changelog offset they reach: a restart reads only what is new) "
        "or `memory` (every start re-reads the whole changelog first)",
    )
    model_dir: str = _setting("var/models", "EWS_MODEL_DIR", "model registry folder")
    risk_policy: str = _setting(
        "",
        "EWS_RISK_POLICY",
        "risk policy file (YAML; empty: the packaged domain/risk/policy.yaml)",
    )
    outbox_db: str = _setting(
        "sqlite:///var/outbox.db",
        "EWS_OUTBOX_DB",
        "the notifier's outbox (SQLAlchemy URL; kept apart from the read models, which replay drops)",
    )
    accounts_db: str = _setting(
        "sqlite:///var/accounts.db",
        "EWS_ACCOUNTS_DB",
        "accounts and credentials of the web service (SQLAlchemy URL; kept apart from the read "
        "models)",
    )
    web_host: str = _setting("127.0.0.1", "EWS_WEB_HOST", "address the web service listens on")
    web_port: int = _setting(8080, "EWS_WEB_PORT", "port of the web service (API and console)")
    routing: str = _setting(
        "",
        "EWS_ROUTING",
        "alert routing file (YAML; empty: the packaged domain/alerts/routing.yaml)",
    )
    kafka_jars: str = _setting(
        ".cache/kafka-jars", "EWS_KAFKA_JARS", "cache of the local broker's jars"
    )

    def __post_init__(self) -> None:
        if self.state_store not in ("rocksdb", "memory"):
            raise SettingsError(f"EWS_STATE_STORE={self.state_store!r}: use `rocksdb` or `memory`")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,48}", self.topic_prefix):
            raise SettingsError(  # ids made from a topic's name must not depend on the prefix
                f"EWS_TOPIC_PREFIX={self.topic_prefix!r}: use 1 to 48 letters, digits, - or _ "
                "(no dot: the log's ids are made from a topic's name after its prefix)"
            )
        for name, low, high in RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                env = SETTING_FIELDS[name].metadata["env"]
                raise SettingsError(f"{env}={value!r} is out of range ({low} to {high})")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``EWS_*`` variables (``os.environ`` unless given); defaults otherwise."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            kind = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise SettingsError(
                    f"{f.metadata['env']}={raw!r} is not a valid {kind.__name__}"
                ) from None
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def kafka(self) -> KafkaAccess:
        return KafkaAccess(self.bootstrap, self.kafka_user, self.kafka_password)

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix, self.partitions)

    def as_env(self) -> dict[str, str]:
        """These settings as ``EWS_*`` variables, for a child process."""
        return {f.metadata["env"]: str(getattr(self, f.name)) for f in dataclasses.fields(self)}


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a child process: this one's, with ``settings`` on top."""
    return {**os.environ, **settings.as_env(), **extra}


SETTING_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
RANGES = (  # the numbers a setting can take
    ("partitions", 1, 10_000),
    ("batch_size", 1, 1_000_000),
    ("batch_within", 0.0, 60.0),
    ("session_timeout", 1.0, 3600.0),
    ("broker_timeout", 1.0, 86_400.0),
    ("stall_timeout", 1.0, 86_400.0),
    ("skip_check_every", 1.0, 3600.0),
    ("metrics_port", 0, 65_530),  # 0: none; it and the next five
    ("web_port", 1, 65_535),
)


def settings_table() -> str:
    """The configuration table of the README (markdown)."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        default = f"`{f.default}`" if f.default != "" else "(empty)"
        lines.append(f"| `{f.metadata['env']}` | {f.metadata['doc']} | {default} |")
    return "\n".join(lines)
