"""The scoring stage on the real broker: records in, RiskAssessed out, time moved by ticks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections import Counter

import pytest

from ews import processes
from ews.cli import main as ews_main
from models.registry import Registry
from schemas.risk import ClockTicked, RiskAssessed
from streams.admin import ensure_topics
from streams.clock import last_tick, publish_ticks
from streams.log import read_from_start
from streams.metrics import EXIT_STALLED
from streams.post import post_messages
from tests.support import group_members, start_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
CN = dt.timezone(dt.timedelta(hours=8))


def record(ref: str, **fields) -> bytes:
    body = {
        "township": "周庄镇",
        "ref_no": ref,
        "category": "拖欠农民工工资",
        "found_at": dt.datetime.now(CN).isoformat(timespec="seconds"),
        "description": "农民工讨薪。",
        **fields,
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def assessments(settings) -> list[RiskAssessed]:  # noqa: ANN001
    topic = settings.topics.risk_assessments
    return [RiskAssessed.from_bytes(m.value) for m in read_from_start(settings.bootstrap, topic)]


def wait_for(settings, check, timeout: float = 90.0, supervise=None) -> list[RiskAssessed]:  # noqa: ANN001
    """Poll the assessments until ``check`` holds.  ``supervise`` (a list and an index in it)
    restarts that worker when it exits with EXIT_STALLED, as the deployment's supervisor does:
    the stage's offset guard exits so when the consumer skipped a fetched message, and the
    restart reads it again (streams.app.OffsetGuard)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervise is not None:
            procs, i = supervise
            if procs[i].poll() is not None:
                assert procs[i].returncode == EXIT_STALLED, (
                    f"the worker died: {procs[i].returncode}"
                )
                procs[i] = processes.restart(procs[i])
        found = assessments(settings)
        if check(found):
            return found
        time.sleep(0.3)
    raise AssertionError(f"not seen within {timeout:.0f}s: {[(a.case_id, a.level) for a in found]}")


@pytest.fixture
def pipeline(settings, tmp_path):  # noqa: ANN001, ANN201
    ensure_topics(settings.bootstrap, settings.topics.all())
    procs = start_pipeline(settings, tmp_path)
    yield procs
    for p in procs:
        processes.stop(p)


def test_a_threat_is_warned_and_a_calm_quarrel_is_not(settings, pipeline) -> None:  # noqa: ANN001
    threat = record(
        "ZZ-T1", description="六十多名农民工讨薪，扬言要去北京上访，还要堵路。", people_involved=60
    )
    calm = record(
        "ZZ-T2",
        category="邻里纠纷",
        description="两户因排水口角，仍在调解中，暂无赴京苗头，没有过激言行。",
        people_involved=2,
    )
    began = time.monotonic()
    post_messages(settings.bootstrap, settings.topics.records, [threat, calm])
    found = wait_for(settings, lambda a: len({x.case_id for x in a}) >= 2)
    print(f"post -> RiskAssessed: {time.monotonic() - began:.1f}s")
    by_ref = {a.case_id: a for a in found}
    levels = sorted(a.level for a in by_ref.values())
    assert levels == ["blue", "orange"]
    warned = next(a for a in by_ref.values() if a.level == "orange")
    assert {r["code"] for r in warned.rules} >= {"explicit_threat", "large_group"}
    calm_one = next(a for a in by_ref.values() if a.level == "blue")
    assert calm_one.rules == () and calm_one.model_version is None


def test_a_petition_turns_approaching_then_overdue_across_a_scorer_restart(
    settings, pipeline, topic_prefix, tmp_path
) -> None:  # noqa: ANN001
    today = dt.datetime.now(CN).date()
    received = today - dt.timedelta(days=10)  # acceptance must be decided within 15 days
    post_messages(
        settings.bootstrap,
        settings.topics.records,
        [
            record(
                "ZZ-P1",
                category="农村宅基地纠纷",
                description="宅基地界址争议，已受理信访。",
                is_petition=True,
                petition_received_on=received.isoformat(),
            )
        ],
    )
    wait_for(settings, lambda a: len(a) == 1)
    # a deadline check (the alerts'), not a re-assessment: the scorer passes over it (as of
    # this time the petition would be overdue, which no assessment below may say)
    check = dt.datetime.combine(today + dt.timedelta(days=7), dt.time(9), CN)
    publish_ticks(settings.bootstrap, settings.topics, [check], reassess=False)
    soon = dt.datetime.combine(today + dt.timedelta(days=3), dt.time(8), CN)  # 2 days left
    publish_ticks(settings.bootstrap, settings.topics, [soon])
    found = wait_for(settings, lambda a: len(a) == 2)
    rule = found[1].rules[0]
    assert found[1].trigger == "time_passed" and rule["code"] == "accept_decision_approaching"
    assert rule["deadline"]["starts_on"] == received.isoformat()
    assert rule["deadline"]["days_left"] == 2

    # kill -9 the scorer; the restarted one re-reads what it had not finished
    processes.kill_hard(pipeline[2])
    group = f"{topic_prefix}-risk"
    assert processes.wait_until(lambda: group_members(settings.bootstrap, group) == 0, 60)
    pipeline[2] = processes.start_worker(settings, tmp_path / "risk2.log", "risk")
    late = dt.datetime.combine(today + dt.timedelta(days=6), dt.time(8), CN)
    publish_ticks(settings.bootstrap, settings.topics, [soon, late])  # the first one again
    found = wait_for(settings, lambda a: len(a) >= 3, supervise=(pipeline, 2))
    time.sleep(3)  # anything doubled would arrive now
    found = assessments(settings)
    codes = [a.rules[0]["code"] if a.rules else None for a in found]
    assert codes == [None, "accept_decision_approaching", "accept_decision_overdue"]
    assert found[2].as_of == late.isoformat() and found[2].rules[0]["deadline"]["days_left"] == -1
    assert len({a.assessment_id for a in found}) == 3


def test_the_clock_reassesses_on_its_schedule_and_checks_deadlines_in_between(
    settings, capsys
) -> None:  # noqa: ANN001
    ensure_topics(settings.bootstrap, settings.topics.all())

    warned: list[str] = []

    def tick(now: str) -> str:
        args = ["clock", "tick", "--now", now, "--bootstrap", settings.bootstrap]
        assert ews_main(args) == 0
        said = capsys.readouterr()
        warned.append(said.err)
        return said.out

    out = tick("2026-03-02T08:03:30+08:00")  # the first tick ever: this morning's, then now's
    assert "tick 2026-03-02T08:00:00+08:00: open cases re-assessed" in out
    assert "tick 2026-03-02T08:03:00+08:00: deadlines checked" in out
    out = tick("2026-03-02T08:05:10+08:00")
    assert out == "tick 2026-03-02T08:05:00+08:00: deadlines checked\n"
    assert "no tick due up to 2026-03-02T08:05:50+08:00" in tick("2026-03-02T08:05:50+08:00")
    out = tick("2026-03-03T09:00:20+08:00")  # a day later: the missed checks are one check
    assert out.count("\n") == 2 and "03-03T08:00:00+08:00: open cases re-assessed" in out
    ticks = [
        ClockTicked.from_bytes(m.value)
        for m in read_from_start(settings.bootstrap, settings.topics.clock)
        if m.partition == 0
    ]
    assert [(t.at[5:16], t.reassess) for t in ticks] == [
        ("03-02T08:00", True),
        ("03-02T08:03", False),
        ("03-02T08:05", False),
        ("03-03T08:00", True),
        ("03-03T09:00", False),
    ]
    # the host's clock ran a day ahead for the tick above and NTP set it back: the deadlines
    # are checked again from now, every minute, and tomorrow's re-assessment comes on time.
    # Before, nothing was posted until the clock reached the tick ahead, a day later.
    out = tick("2026-03-02T09:01:10+08:00")
    assert out == "tick 2026-03-02T09:01:00+08:00: deadlines checked\n"
    assert "later than this host's clock" in warned[-1]
    assert (
        tick("2026-03-02T09:02:05+08:00") == "tick 2026-03-02T09:02:00+08:00: deadlines checked\n"
    )
    out = tick("2026-03-03T08:00:30+08:00")
    assert "tick 2026-03-03T08:00:00+08:00: open cases re-assessed" in out


def test_ews_topics_gives_an_old_clock_topic_a_weeks_retention_and_the_clock_outlives_it(
    settings, capsys
) -> None:  # noqa: ANN001
    from kafka import TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    from schemas.topics import KEEP_FOREVER

    clock = settings.topics.clock  # created as a version that kept ticks forever did
    ensure_topics(
        settings.bootstrap,
        [
            s if s.name != clock else dataclasses.replace(s, config=KEEP_FOREVER)
            for s in settings.topics.all()
        ],
    )
    topics = ["topics", "--bootstrap", settings.bootstrap]
    assert ews_main(topics) == 0
    assert f"configured  {clock}: retention.ms -1 -> 604800000" in capsys.readouterr().out
    assert ews_main(topics) == 0
    assert "configured" not in capsys.readouterr().out  # nothing left to change

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, clock)])
        assert res["topic"][clock]["retention.ms"]["value"] == "604800000"
        at = dt.datetime.fromisoformat("2026-03-02T08:00:00+08:00")
        publish_ticks(settings.bootstrap, settings.topics, [at])  # one on every partition
        # a week and a day later the broker has dropped it, as its retention does
        admin.delete_records({TopicPartition(clock, p): 1 for p in range(settings.partitions)})
    finally:
        admin.close()
    assert last_tick(settings.bootstrap, settings.topics) is None
    args = [
        "clock",
        "tick",
        "--now",
        "2026-03-12T08:03:30+08:00",
        "--bootstrap",
        settings.bootstrap,
    ]
    assert ews_main(args) == 0  # starts afresh, as on the first day
    assert capsys.readouterr().out.splitlines() == [
        "tick 2026-03-12T08:00:00+08:00: open cases re-assessed, deadlines checked",
        "tick 2026-03-12T08:03:00+08:00: deadlines checked",
    ]
    assert last_tick(settings.bootstrap, settings.topics) == dt.datetime.fromisoformat(
        "2026-03-12T08:03:00+08:00"
    )


def test_promoting_a_model_mid_stream_changes_the_next_assessments(
    settings, pipeline, tmp_path
) -> None:  # noqa: ANN001
    from tests.test_model_support import trained

    registry = Registry(settings.model_dir)
    result = trained()
    version = registry.save(result.model, result.metadata)
    post_messages(settings.bootstrap, settings.topics.records, [record("ZZ-M0")])
    before = wait_for(settings, lambda a: len(a) == 1)
    assert before[0].model_version is None
    opts = ["--bootstrap", settings.bootstrap, "--model-dir", settings.model_dir]
    assert ews_main(["model", "promote", version, *opts]) == 0
    for i in range(1, 30):  # the scorer follows the model-events topic; records keep coming
        post_messages(settings.bootstrap, settings.topics.records, [record(f"ZZ-M{i}")])
        found = wait_for(settings, lambda a, n=i: len(a) > n)
        if found[-1].model_version == version:
            break
    assert found[-1].model_version == version
    assert Counter(a.model_version for a in found)[None] >= 1
