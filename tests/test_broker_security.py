"""The secured broker (SASL/SCRAM and ACLs from deploy/kafka/acls.yaml): no credential, no
access; a township's system may only post records; the workers run with their own credential.
A broker of its own, formatted with the users, on free loopback ports."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from deploy.kafka_local import LocalBroker, free_port, grant
from ews import processes
from readside.case_queries import case_rows
from readside.db import make_engine, migrate
from schemas.settings import KafkaAccess, Settings
from streams.admin import ensure_topics
from streams.log import append, read_from_start
from streams.post import post_messages

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
PREFIX = "sec"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    home = tmp_path_factory.mktemp("secure-broker")
    b = LocalBroker(home=home, port=free_port(), controller_port=free_port(), secure=True)
    b.start()
    grant(b, PREFIX)
    settings = Settings(topic_prefix=PREFIX)
    ensure_topics(b.access(), settings.topics.all())
    yield b
    b.stop()


def record(ref: str) -> bytes:
    body = {
        "township": "周庄镇",
        "ref_no": ref,
        "category": "邻里纠纷",
        "found_at": "2026-11-20T09:00:00+08:00",
        "description": "两户因排水口角。",
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def refused(action) -> Exception:  # noqa: ANN001
    with pytest.raises((KafkaError, ConnectionError, TimeoutError)) as caught:
        action()
    return caught.value


def test_a_producer_without_credentials_or_with_a_wrong_password_is_refused(broker) -> None:  # noqa: ANN001
    topic = Settings(topic_prefix=PREFIX).topics.records
    refused(lambda: post_messages(broker.bootstrap, topic, [record("X-1")]))
    wrong = KafkaAccess(broker.bootstrap, "township", "not-the-password")
    refused(lambda: post_messages(wrong, topic, [record("X-2")]))
    seen = list(read_from_start(broker.access("analyst"), topic, 5.0))
    assert [json.loads(m.value)["ref_no"] for m in seen] == []


def test_a_township_system_posts_records_and_nothing_else(broker) -> None:  # noqa: ANN001
    topics = Settings(topic_prefix=PREFIX).topics
    township = broker.access("township")
    assert post_messages(township, topics.records, [record("ZZ-T1")]) == 1
    for topic in (topics.case_commands, topics.case_events, topics.alert_commands):
        error = refused(lambda topic=topic: append(township, topic, b"k", b"[]"))
        assert isinstance(error, TopicAuthorizationFailedError), error
    with pytest.raises(LookupError):  # the topic is not even visible to it
        list(read_from_start(township, topics.case_events, 5.0))


def test_the_web_service_cannot_write_case_events(broker) -> None:  # noqa: ANN001
    topics = Settings(topic_prefix=PREFIX).topics
    web = broker.access("ews-web")
    append(web, topics.alert_commands, b"C1", b"[]")  # its own topic
    error = refused(lambda: append(web, topics.case_events, b"C1", b"{}"))
    assert isinstance(error, TopicAuthorizationFailedError)


def test_the_workers_run_with_their_own_credential(broker, tmp_path: Path) -> None:  # noqa: ANN001
    worker = broker.access("ews-worker")
    settings = Settings(
        bootstrap=broker.bootstrap,
        kafka_user=worker.user,
        kafka_password=worker.password,
        topic_prefix=PREFIX,
        db_url=f"sqlite:///{tmp_path / 'ews.db'}",
        faust_dir=str(tmp_path / "faust"),
        model_dir=str(tmp_path / "models"),
    )
    engine = make_engine(settings.db_url)
    migrate(engine)
    procs = [
        processes.start_worker(settings, tmp_path / "intake.log", "intake"),
        processes.start_worker(settings, tmp_path / "cases.log", "cases"),
        processes.start_projector(settings, tmp_path / "projector.log"),
    ]
    try:
        post_messages(broker.access("township"), settings.topics.records, [record("ZZ-W1")])
        deadline = time.monotonic() + 120
        refs: list[str] = []
        while time.monotonic() < deadline and "ZZ-W1" not in refs:
            refs = [c["ref_no"] for c in case_rows(engine)]
            time.sleep(0.5)
        assert "ZZ-W1" in refs, (tmp_path / "intake.log").read_text()[-3000:]
        assert all(p.poll() is None for p in procs)
    finally:
        for p in procs:
            processes.stop(p)
        engine.dispose()


def test_the_compose_broker_script_runs_the_same_secured_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/kafka/compose-broker.sh (docker-compose's broker, in the official image) run
    here with the cached jars: its users exist, `ews topics --grant` as admin gives them their
    rights, and a township's system may post records and nothing else."""
    import os
    import subprocess

    from deploy.kafka_local import ACLS, DEFAULT_JARS, acl_config, metadata_ready
    from ews.cli import main as ews_main
    from schemas.topics import Topics

    script = ACLS.parent / "compose-broker.sh"
    users = acl_config()["users"]
    assert all(f"scram {name} " in script.read_text() for name in users)  # one list of users
    port, controller = free_port(), free_port()
    passwords = {
        "KAFKA_ADMIN_PASSWORD": "admin-pw",
        "EWS_WORKER_PASSWORD": "worker-pw",
        "EWS_WEB_PASSWORD": "web-pw",
        "TOWNSHIP_PASSWORD": "township-pw",
        "ANALYST_PASSWORD": "analyst-pw",
    }
    env = {
        **os.environ,
        **passwords,
        "KAFKA_LIBS": str(DEFAULT_JARS),
        "KAFKA_DATA": str(tmp_path / "data"),
        "KAFKA_LOGS": str(tmp_path / "logs"),
        "KAFKA_CONF": str(tmp_path / "server.properties"),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_LISTEN_HOST": "127.0.0.1",
        "KAFKA_ADVERTISED_HOST": "127.0.0.1",
    }
    out = open(tmp_path / "broker.out", "wb")
    proc = subprocess.Popen(["bash", str(script)], env=env, stdout=out, stderr=subprocess.STDOUT)
    bootstrap = f"127.0.0.1:{port}"
    admin = KafkaAccess(bootstrap, "admin", "admin-pw")
    try:
        deadline = time.monotonic() + 90
        while not metadata_ready(admin):
            assert proc.poll() is None, (tmp_path / "broker.out").read_text()[-2000:]
            assert time.monotonic() < deadline, "the broker did not come up"
            time.sleep(0.5)
        monkeypatch.setenv("EWS_BOOTSTRAP", bootstrap)
        monkeypatch.setenv("EWS_KAFKA_USER", "admin")
        monkeypatch.setenv("EWS_KAFKA_PASSWORD", "admin-pw")
        monkeypatch.setenv("EWS_TOPIC_PREFIX", "cmp")
        assert ews_main(["topics", "--grant"]) == 0
        topics = Topics("cmp")
        township = KafkaAccess(bootstrap, "township", "township-pw")
        assert post_messages(township, topics.records, [record("CMP-1")]) == 1
        error = refused(lambda: append(township, topics.case_events, b"k", b"{}"))
        assert isinstance(error, TopicAuthorizationFailedError)
        refused(lambda: post_messages(bootstrap, topics.records, [record("CMP-2")]))
    finally:
        proc.terminate()
        proc.wait(30)
