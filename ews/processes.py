"""Starting and stopping the system's worker processes (used by the demo, tests and benches).

A child gets its settings through ``EWS_*`` variables (``schemas.settings.process_env``), the
same way an operator's supervisor would start it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from schemas.settings import Settings, process_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_path(path: str | Path) -> Path:
    """A settings path: absolute as given, relative to the project folder otherwise."""
    return Path(path) if Path(path).is_absolute() else PROJECT_ROOT / path


def start(args: list[str], settings: Settings, log: Path) -> subprocess.Popen:
    """Run ``ews <args>`` as a child process with ``settings``, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ews.cli", *args],
        env=process_env(settings, PYTHONPATH=str(PROJECT_ROOT)),
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    proc.ews_restart = lambda: start(args, settings, log)  # type: ignore[attr-defined]
    return proc


def restart(proc: subprocess.Popen) -> subprocess.Popen:
    """The same command started again (as a supervisor does), its output to the same log."""
    return proc.ews_restart()  # type: ignore[attr-defined]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM when the process that started it dies (even by kill -9),
    so no stage outlives ``ews worker``."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_stages(settings: Settings, loglevel: str = "warn") -> int:
    """``ews worker``: one process per stage, in the foreground, each in its stage's consumer
    group.  When one exits, the others are stopped and its exit code is returned (non-zero, so
    a supervisor restarts the lot); SIGTERM or Ctrl-C stops them all."""
    env = process_env(settings, PYTHONPATH=str(PROJECT_ROOT))
    linux = sys.platform.startswith("linux")
    procs = {
        stage: subprocess.Popen(
            [sys.executable, "-m", "ews.cli", "worker", "--role", stage, "--loglevel", loglevel],
            env=env,
            cwd=PROJECT_ROOT,
            preexec_fn=_die_with_parent if linux else None,
        )
        for stage in STAGES
    }
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            ended = [(stage, p.returncode) for stage, p in procs.items() if p.poll() is not None]
            if ended:
                stage, code = ended[0]
                print(f"ews worker: the {stage} stage exited with {code}; stopping the others")
                return code or 1
            time.sleep(0.5)
        return 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            stop(p)
        for s, handler in old.items():
            signal.signal(s, handler)


def start_worker(settings: Settings, log: Path, role: str = "all") -> subprocess.Popen:
    return start(["worker", "--role", role], settings, log)


STAGES = ("intake", "cases", "risk", "alerts")


def start_workers(settings: Settings, logs: Path) -> list[subprocess.Popen]:
    """One process per stage (intake, cases, risk, alerts), so the stages use the cores there
    are."""
    prefix = settings.topic_prefix
    return [start_worker(settings, logs / f"{prefix}-{role}.log", role) for role in STAGES]


def start_projector(settings: Settings, log: Path) -> subprocess.Popen:
    return start(["project"], settings, log)


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
