"""The local broker only ever signals its own process, never whatever now holds a stale pid."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.kafka_local import DEFAULT_JARS, PROJECT_ROOT, LocalBroker, is_broker_process, main

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; any still running at the end are killed."""
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def start(processes: list[subprocess.Popen], args: list[str], **kw: Any) -> subprocess.Popen:
    p = subprocess.Popen(args, **kw)
    processes.append(p)
    return p


def fake_broker(
    processes: list[subprocess.Popen],
    properties: str,
    ignore_term: bool = False,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """A process whose command line is ``java -c ... kafka.Kafka <properties>`` (Python inside)."""
    code = "import signal, sys, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    p = start(
        processes,
        ["java", "-c", code, "kafka.Kafka", properties],
        executable=sys.executable,
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


def test_stop_does_not_signal_an_unrelated_process_holding_the_pid(
    tmp_path: Path, processes: list[subprocess.Popen], capsys: pytest.CaptureFixture[str]
) -> None:
    sleeper = start(processes, ["sleep", "60"])
    broker = LocalBroker(home=tmp_path, port=1, controller_port=2)
    broker.pid_file.write_text(str(sleeper.pid))

    broker.stop(timeout=2)

    assert sleeper.poll() is None, "stop() signalled a process that is not the broker"
    assert not broker.pid_file.exists()
    assert "stale pid file" in capsys.readouterr().err
    sleeper.kill()
    assert sleeper.wait(10) == -signal.SIGKILL


def test_running_pid_does_not_believe_a_stale_pid_file(
    tmp_path: Path, processes: list[subprocess.Popen]
) -> None:
    sleeper = start(processes, ["sleep", "60"])
    broker = LocalBroker(home=tmp_path)
    broker.pid_file.write_text(f"{sleeper.pid}\n")
    assert broker.running_pid() is None
    assert not broker.pid_file.exists()
    assert sleeper.poll() is None


@pytest.mark.parametrize("content", ["", "not a pid", "12.5"])
def test_an_unreadable_pid_file_is_stale(tmp_path: Path, content: str) -> None:
    broker = LocalBroker(home=tmp_path)
    broker.pid_file.write_text(content)
    assert broker.running_pid() is None
    broker.stop(timeout=1)
    assert not broker.pid_file.exists()


def test_a_pid_that_has_exited_is_stale(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait(10)
    broker = LocalBroker(home=tmp_path)
    broker.pid_file.write_text(str(gone.pid))
    broker.stop(timeout=1)
    assert not broker.pid_file.exists()


def test_the_broker_of_another_home_is_not_ours(
    tmp_path: Path, processes: list[subprocess.Popen]
) -> None:
    other_home = tmp_path / "other"
    other_home.mkdir()
    other = fake_broker(processes, str(other_home / "server.properties"))
    broker = LocalBroker(home=tmp_path / "ours")
    broker.home.mkdir()
    broker.pid_file.write_text(str(other.pid))

    assert is_broker_process(other.pid, other_home / "server.properties")
    assert not is_broker_process(other.pid, broker.properties_file)
    broker.stop(timeout=2)
    assert other.poll() is None
    assert not broker.pid_file.exists()


def test_stop_still_stops_our_own_broker_from_its_pid_file(
    tmp_path: Path, processes: list[subprocess.Popen]
) -> None:
    broker = LocalBroker(home=tmp_path)
    ours = fake_broker(processes, str(broker.properties_file))
    broker.pid_file.write_text(str(ours.pid))
    assert broker.running_pid() == ours.pid

    broker.stop(timeout=10)

    assert ours.wait(10) == -signal.SIGTERM
    assert not broker.pid_file.exists()


def test_a_broker_that_ignores_sigterm_is_killed_after_the_timeout(
    tmp_path: Path, processes: list[subprocess.Popen]
) -> None:
    broker = LocalBroker(home=tmp_path)
    stubborn = fake_broker(processes, str(broker.properties_file), ignore_term=True)
    broker.pid_file.write_text(str(stubborn.pid))

    broker.stop(timeout=0.5)

    assert stubborn.wait(10) == -signal.SIGKILL
    assert not broker.pid_file.exists()


def test_a_broker_started_with_a_relative_home_is_recognised(
    tmp_path: Path, processes: list[subprocess.Popen], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "b").mkdir()
    ours = fake_broker(processes, "b/server.properties", cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    broker = LocalBroker(home=Path("b"))
    broker.pid_file.write_text(str(ours.pid))
    assert broker.running_pid() == ours.pid
    monkeypatch.chdir(PROJECT_ROOT)
    assert LocalBroker(home=tmp_path / "b").running_pid() == ours.pid


def test_the_jar_folder_is_a_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert DEFAULT_JARS == PROJECT_ROOT / ".cache" / "kafka-jars"
    assert LocalBroker().jars == DEFAULT_JARS
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / ".complete").write_text("ok\n")  # already fetched: nothing to download
    assert LocalBroker(jars=jars)._java("x")[2] == f"{jars}/*"
    assert main(["fetch", "--jars", str(jars)]) == 0
    assert capsys.readouterr().out.strip() == str(jars)
