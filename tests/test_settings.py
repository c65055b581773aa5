"""One settings object, read from the environment in one place, documented in the README."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.settings import Settings, SettingsError, settings_table

ROOT = Path(__file__).resolve().parent.parent
CODE = ("schemas", "domain", "streams", "readside", "models", "alerts", "ews", "deploy", "bench")


def test_the_readme_configuration_table_is_the_settings() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "README's configuration table differs: ews settings --table"


def test_settings_come_from_ews_variables_with_types_and_defaults() -> None:
    s = Settings.from_env({"EWS_PARTITIONS": "8", "EWS_BATCH_WITHIN": "0.5", "EWS_BOOTSTRAP": ""})
    assert s.partitions == 8 and s.batch_within == 0.5
    assert s.bootstrap == "127.0.0.1:9092"  # empty means default
    assert s.topics.records == "ews.records" and s.topics.partitions == 8
    assert Settings.from_env(s.as_env()) == s  # what a child process gets, it reads back


def test_a_wrong_value_is_named() -> None:
    with pytest.raises(SettingsError, match="EWS_PARTITIONS='four'"):
        Settings.from_env({"EWS_PARTITIONS": "four"})
    for prefix in ("county.a", "p" * 49):  # a dot would make the log's ids depend on it
        with pytest.raises(SettingsError, match="EWS_TOPIC_PREFIX=.*1 to 48 letters"):
            Settings.from_env({"EWS_TOPIC_PREFIX": prefix})


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = []
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            if re.search(r"os\.environ|os\.getenv", path.read_text(encoding="utf-8")):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == ["schemas/settings.py"]


def test_importing_any_module_builds_nothing() -> None:
    """No import has side effects: importing every module creates no folder (var/, faust)."""
    code = (
        "import importlib, pkgutil, pathlib, sys\n"
        "for pkg in ('schemas', 'domain', 'streams', 'readside', 'models', 'ews'):\n"
        "    p = importlib.import_module(pkg)\n"
        "    for m in pkgutil.walk_packages(p.__path__, pkg + '.'):\n"
        "        if '.migrations' not in m.name and not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "print(sorted(q.name for q in pathlib.Path('.').iterdir()))\n"
    )
    scratch = Path(sys.prefix).parent / ".import-check"  # an empty working folder
    scratch.mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=scratch,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    scratch.rmdir()
