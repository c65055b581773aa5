"""Saving a model version is all or nothing, and leftovers never stall the next save."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import models.registry as registry_module
from models.registry import METADATA, ModelRefused, Registry


class Foreign:
    """A type that is not on the registry's allow-list."""

    def __init__(self) -> None:
        self.x = 1


def tiny_model() -> LogisticRegression:
    return LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])


def metadata() -> dict[str, Any]:
    return {"created_at": "2026-01-10T09:30:00+08:00", "features": ["x"]}


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "models")


def leftovers(registry: Registry) -> list[str]:
    """Anything in the registry root besides the versions folder (temporary folders)."""
    return sorted(p.name for p in registry.root.iterdir() if p.name != "versions")


@pytest.mark.timeout(30)
def test_an_incomplete_version_folder_does_not_hang_the_next_save(registry: Registry) -> None:
    half = registry.versions_dir / "v0001"
    half.mkdir(parents=True)
    (half / "model.skops").write_bytes(b"half an artifact")  # killed before metadata.json
    (registry.versions_dir / "v0002").mkdir()  # killed right after allocating the folder
    assert registry.versions() == []

    version = registry.save(tiny_model(), metadata())

    assert version == "v0003"
    assert registry.versions() == ["v0003"]
    assert (half / "model.skops").read_bytes() == b"half an artifact"  # not overwritten
    assert registry.metadata("v0003")["version"] == "v0003"
    assert leftovers(registry) == []


@pytest.mark.timeout(30)
def test_a_save_that_fails_mid_way_leaves_no_version(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_dump(obj: Any, file: Any) -> None:
        Path(file).write_bytes(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(registry_module.sio, "dump", failing_dump)
    with pytest.raises(OSError, match="disk full"):
        registry.save(tiny_model(), metadata())
    assert list(registry.versions_dir.iterdir()) == []
    assert leftovers(registry) == []
    assert registry.versions() == []

    monkeypatch.undo()
    assert registry.save(tiny_model(), metadata()) == "v0001"
    assert registry.versions() == ["v0001"]
    assert registry.load("v0001").version == "v0001"


@pytest.mark.timeout(30)
def test_a_refused_model_leaves_no_version(registry: Registry) -> None:
    with pytest.raises(ModelRefused, match="outside the allow-list"):
        registry.save({"model": Foreign()}, metadata())
    assert list(registry.versions_dir.iterdir()) == []
    assert leftovers(registry) == []
    assert registry.save(tiny_model(), metadata()) == "v0001"


@pytest.mark.timeout(30)
def test_versions_lists_only_complete_versions(registry: Registry) -> None:
    registry.versions_dir.mkdir(parents=True)
    (registry.root / ".tmp-0123abcd").mkdir()  # a save killed mid-way
    (registry.root / ".tmp-0123abcd" / "model.skops").write_bytes(b"x")
    (registry.versions_dir / "v0005").mkdir()  # an incomplete folder
    (registry.versions_dir / "notes.txt").write_text("not a version")
    assert registry.versions() == []

    first = registry.save(tiny_model(), metadata())
    second = registry.save(tiny_model(), metadata())

    assert (first, second) == ("v0006", "v0007")
    assert registry.versions() == ["v0006", "v0007"]
    for version in (first, second):
        files = sorted(p.name for p in registry.path(version).iterdir())
        assert files == ["metadata.json", "model.skops"]
        assert registry.metadata(version)["version"] == version
    with pytest.raises(ModelRefused, match="no metadata.json"):
        registry.load("v0005")


@pytest.mark.timeout(30)
def test_a_save_that_loses_its_name_to_another_save_takes_the_next(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json = registry_module._write_json
    raced = []

    def write_then_lose_the_race(path: Path, data: dict[str, Any]) -> None:
        write_json(path, data)
        if path.name == METADATA and not raced:  # another save renames v0001 in first
            raced.append(data["version"])
            other = registry.versions_dir / data["version"]
            other.mkdir()
            (other / METADATA).write_text(json.dumps({"kind": "other"}))

    monkeypatch.setattr(registry_module, "_write_json", write_then_lose_the_race)
    version = registry.save(tiny_model(), metadata())

    assert raced == ["v0001"] and version == "v0002"
    assert registry.metadata("v0002")["version"] == "v0002"
    assert json.loads((registry.path("v0001") / METADATA).read_text()) == {"kind": "other"}
    assert leftovers(registry) == []


@pytest.mark.timeout(60)
def test_concurrent_saves_get_distinct_complete_versions(registry: Registry) -> None:
    model = tiny_model()
    results: list[str] = []
    errors: list[BaseException] = []

    def save() -> None:
        try:
            results.append(registry.save(model, metadata()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(results) == [f"v{i:04d}" for i in range(1, 7)]
    assert registry.versions() == sorted(results)
    for version in results:
        assert registry.metadata(version)["version"] == version
    assert leftovers(registry) == []


def test_update_metadata_replaces_the_file_whole(registry: Registry) -> None:
    version = registry.save(tiny_model(), metadata())
    registry.update_metadata(version, promoted=True)
    assert registry.metadata(version)["promoted"] is True
    assert sorted(p.name for p in registry.path(version).iterdir()) == [
        "metadata.json",
        "model.skops",
    ]
