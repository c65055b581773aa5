"""Imports point down the data's path only: the contracts in pyproject.toml hold, and break
when a layer reaches up or the pure core reaches for infrastructure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "domain", "streams", "readside", "models", "alerts", "web", "ews", "deploy")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def copy_tree(dest: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_layer_contracts_hold() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("domain/case.py", "import streams.app", "layers"),
        ("models/scoring.py", "import streams.log", "layers"),
        ("domain/risk/rules.py", "import sqlalchemy", "the pure core imports no infrastructure"),
        ("schemas/record.py", "import domain.case", "layers"),
    ],
)
def test_an_import_against_the_data_path_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = copy_tree(tmp_path)
    target = tree / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint(tree)
    assert result.returncode != 0
    assert re.search(rf"{re.escape(contract)}.*BROKEN", result.stdout), result.stdout


def layered_packages(pyproject: Path) -> set[str]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    return {p.strip() for layer in layers for p in layer.split("|")}


def test_every_code_package_sits_in_a_layer() -> None:
    """A package left out of the layers is checked by nothing: removing a layer (or adding a
    package without one) must fail here, since import-linter itself would not notice."""
    code = {p for p in PACKAGES if p != "deploy"}  # deploy: scripts, kept out of the edges
    assert layered_packages(ROOT / "pyproject.toml") == code


def test_without_the_domain_layer_the_core_contract_still_catches_streams(tmp_path: Path) -> None:
    """With the domain layer removed, domain -> streams still breaks the core's contract: it
    reaches faust through streams (indirect imports count)."""
    tree = copy_tree(tmp_path)
    config = tree / "pyproject.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"domain", "schemas"]', '"schemas"]'), encoding="utf-8")
    case = tree / "domain" / "case.py"
    case.write_text(case.read_text(encoding="utf-8") + "\nimport streams.app  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert "the pure core imports no infrastructure BROKEN" in result.stdout
