"""Starting and stopping the system's worker processes (used by the demo, tests and benches)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(bootstrap: str, prefix: str, db_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ, EWS_BOOTSTRAP=bootstrap, EWS_TOPIC_PREFIX=prefix)
    if db_url:
        env["EWS_DB_URL"] = db_url
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start(
    args: list[str], bootstrap: str, prefix: str, log: Path, db_url: str | None = None
) -> subprocess.Popen:
    """Run ``ews <args>`` as a child process, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *args],
        env=_env(bootstrap, prefix, db_url),
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )


def start_worker(bootstrap: str, prefix: str, log: Path, role: str = "all") -> subprocess.Popen:
    return start(["worker", "--role", role], bootstrap, prefix, log)


def start_workers(bootstrap: str, prefix: str, logs: Path) -> list[subprocess.Popen]:
    """One process per stage (intake, cases), so the stages use both cores."""
    return [
        start_worker(bootstrap, prefix, logs / f"{prefix}-{role}.log", role)
        for role in ("intake", "cases")
    ]


def start_projector(bootstrap: str, prefix: str, db_url: str, log: Path) -> subprocess.Popen:
    return start(["project"], bootstrap, prefix, log, db_url)


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def kill_hard(proc: subprocess.Popen) -> None:
    """kill -9: no clean-up, no commit, no flush."""
    proc.kill()
    proc.wait()


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False
