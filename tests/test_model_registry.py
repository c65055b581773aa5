"""The registry saves skops artifacts with metadata and refuses tampered or foreign ones."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from ews.cli import main as ews_main
from models.registry import ModelRefused, Registry, sha256_of
from tests.test_model_support import trained


def model_cli(argv: list[str]) -> int:
    return ews_main(["model", *argv])


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(tmp_path / "models")


def _save(registry: Registry) -> str:
    result = trained()
    return registry.save(result.model, result.metadata)


def test_save_and_load_give_the_same_scores(registry: Registry) -> None:
    v1 = _save(registry)
    v2 = _save(registry)
    assert (v1, v2) == ("v0001", "v0002") and registry.versions() == ["v0001", "v0002"]
    meta = registry.metadata(v1)
    assert meta["sha256"] == sha256_of(registry.path(v1) / "model.skops")
    assert meta["data_window"]["test"] and meta["metrics"]["candidate"]["average_precision"] > 0
    assert "people_max" in meta["features"] and meta["created_at"]
    rows = [r.features for r in trained().test_rows[:200]]
    loaded = registry.load(v1)
    assert np.allclose(loaded.model.predict_proba(rows), trained().model.predict_proba(rows))
    assert not list(registry.path(v1).glob("*.pkl"))


def test_a_tampered_artifact_is_refused(registry: Registry) -> None:
    v = _save(registry)
    artifact = registry.path(v) / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelRefused, match="sha256 .* does not match"):
        registry.load(v)


def test_a_foreign_artifact_is_refused_even_with_a_matching_hash(registry: Registry) -> None:
    v = _save(registry)
    folder = registry.path(v)
    foreign = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    sio.dump({"model": foreign, "hook": np.add}, folder / "model.skops")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sha256"] = sha256_of(folder / "model.skops")  # the attacker rewrote the metadata too
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelRefused, match="not on the trusted list"):
        registry.load(v)


def test_a_pickle_posing_as_a_model_is_refused(registry: Registry) -> None:
    v = _save(registry)
    folder = registry.path(v)
    (folder / "model.skops").write_bytes(pickle.dumps({"not": "a model"}))
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sha256"] = sha256_of(folder / "model.skops")
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelRefused, match="not a skops file"):
        registry.load(v)


def test_an_artifact_without_our_metadata_is_refused(registry: Registry, tmp_path) -> None:
    folder = registry.versions_dir / "v0007"
    folder.mkdir(parents=True)
    sio.dump(trained().model, folder / "model.skops")
    with pytest.raises(ModelRefused, match="no metadata.json"):
        registry.load("v0007")
    (folder / "metadata.json").write_text(json.dumps({"sha256": "x"}))
    with pytest.raises(ModelRefused, match="does not describe"):
        registry.load("v0007")


def test_the_cli_refuses_to_promote_a_tampered_model(registry: Registry, capsys) -> None:
    v = _save(registry)
    artifact = registry.path(v) / "model.skops"
    artifact.write_bytes(artifact.read_bytes() + b"extra")
    code = model_cli(
        ["promote", v, "--model-dir", str(registry.root), "--bootstrap", "127.0.0.1:1"]
    )
    assert code == 1
    assert "refused" in capsys.readouterr().err
