"""The watchdog's decision and the metrics ports, without Kafka."""

from streams.metrics import PROCESSES, port_of, stalled


def test_a_stage_is_stalled_only_with_messages_waiting_and_no_progress_for_the_timeout():
    waiting = {"p0": 10, "p1": 5}
    positions = {"p0": 10, "p1": 2}  # p1 has three messages waiting
    assert stalled(positions, waiting, idle_seconds=301, stall_timeout=300) == ["p1"]
    assert stalled(positions, waiting, idle_seconds=299, stall_timeout=300) == []
    assert stalled({"p0": 10, "p1": 5}, waiting, idle_seconds=3600, stall_timeout=300) == []
    assert stalled({}, waiting, idle_seconds=301, stall_timeout=300) == ["p0", "p1"]  # unfetched


def test_each_process_has_its_own_metrics_port_and_none_when_metrics_are_off():
    ports = [port_of(p, 9400) for p in PROCESSES]
    assert ports == list(range(9400, 9400 + len(PROCESSES)))
    assert port_of("intake", 0) == 0
