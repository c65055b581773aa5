"""Versioned model artifacts on disk: skops files with metadata, loaded only when trusted.

Layout under the registry root (given to ``Registry``)::

    versions/v0001/model.skops      the fitted model (skops format: no pickle)
    versions/v0001/metadata.json    data window, features, metrics, code version, sha256, ...
    versions/v0001/card.md          the model card, with its PNG plots beside it
    .tmp-<random>/                  a save in progress (or one killed mid-way; safe to delete)

A version is saved whole or not at all: everything is written into a temporary folder in the
registry root, which is then renamed to its version folder.  A version folder without
``metadata.json`` (left by an older, non-atomic save) is not a version; its name stays taken.

Loading refuses, with ``ModelRefused`` and a message saying why:

* a version without metadata (not made by this registry), or whose metadata is not ours;
* an artifact whose sha256 differs from the one recorded at training (tampered or replaced);
* an artifact that contains any type outside ``TRUSTED_TYPES`` (a foreign model, or one that
  would run code on load).  ``skops.io.load`` is only ever called with that explicit list.

Which version is in service is not kept here: it is the fold of the model-events topic
(``models.promotion``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skops.io as sio

from domain.risk.features import FEATURE_SET_VERSION

ARTIFACT = "model.skops"
METADATA = "metadata.json"
KIND = "dispute-ews/escalation-risk"
TMP_PREFIX = ".tmp-"
VERSION_NAME = re.compile(r"v(\d+)")
SAVE_ATTEMPTS = 100  # version names tried before giving up (each lost only to another save)

# Every type a model artifact of ours may contain (every node of the skops file is checked,
# not only the ones skops itself would distrust).  Nothing else is ever loaded.
TRUSTED_TYPES: tuple[str, ...] = (
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "numpy.dtype",
    "numpy.float64",
    "numpy.float32",
    "numpy.int64",
    "numpy.int32",
    "numpy.ndarray",
    "numpy.str_",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "models.estimator.EscalationRiskModel",
    "models.text.CharNgramHasher",
)


class ModelRefused(RuntimeError):
    """A model artifact that must not be loaded; the message says why."""


def other_feature_set(metadata: dict[str, Any]) -> str | None:
    """Why a version's features are not this code's (None if they are)."""
    trained = metadata.get("feature_set_version")
    if trained == FEATURE_SET_VERSION:
        return None
    return f"trained on feature set {trained}, this code computes feature set {FEATURE_SET_VERSION}"


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: Any
    metadata: dict[str, Any]


def artifact_types(path: Path) -> set[str]:
    """Every ``module.class`` named anywhere in a skops file's schema (raises if not skops)."""
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node and "__module__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_version() -> str | None:
    """The git commit of the code (with ``-dirty`` if the work tree has changes), if known."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "models"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file whole or not at all (a temporary file, then an atomic replace)."""
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}")
    try:
        tmp.write_text(
            json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Registry:
    """The model versions under one directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise ModelRefused(f"not a version name: {version!r}")
        return self.versions_dir / version

    def versions(self) -> list[str]:
        """The complete versions (folders with their metadata), oldest first."""
        if not self.versions_dir.exists():
            return []
        return sorted(
            p.name
            for p in self.versions_dir.iterdir()
            if not p.name.startswith(".") and (p / METADATA).is_file()
        )

    def metadata(self, version: str) -> dict[str, Any]:
        meta_path = self.path(version) / METADATA
        if not self.path(version).exists():
            known = self.versions()
            raise ModelRefused(
                f"no version {version} in {self.root}"
                + (f"; it holds {', '.join(known)}" if known else "; it holds none yet")
            )
        if not meta_path.exists():
            raise ModelRefused(
                f"model {version}: no {METADATA} in {self.path(version)}; "
                "only versions saved by this registry can be loaded"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelRefused(f"model {version}: {METADATA} is not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("kind") != KIND:
            raise ModelRefused(f"model {version}: {METADATA} does not describe a {KIND} model")
        return meta

    def _next_version(self) -> str:
        """One past the highest version name in use, complete or not."""
        numbers = [0]
        if self.versions_dir.exists():
            for p in self.versions_dir.iterdir():
                match = VERSION_NAME.fullmatch(p.name)
                if match:
                    numbers.append(int(match.group(1)))
        return f"v{max(numbers) + 1:04d}"

    def save(self, model: Any, metadata: dict[str, Any]) -> str:
        """Save a new version; returns its name.  ``metadata`` is completed and written.

        Nothing is visible under ``versions/`` until the artifact and its metadata are both
        written: a save that fails (or is killed) leaves no version behind.
        """
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = self.root / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            artifact = staging / ARTIFACT
            sio.dump(model, artifact)
            untrusted = sorted(t for t in artifact_types(artifact) if t not in TRUSTED_TYPES)
            if untrusted:
                raise ModelRefused(
                    f"refusing to save: the model contains types outside the allow-list: "
                    f"{untrusted}"
                )
            meta = dict(metadata)
            meta.update(
                kind=KIND,
                artifact=ARTIFACT,
                sha256=sha256_of(artifact),
                feature_set_version=FEATURE_SET_VERSION,
            )
            meta.setdefault("code_version", code_version())
            version = self._next_version()
            for _ in range(SAVE_ATTEMPTS):
                meta["version"] = version
                _write_json(staging / METADATA, meta)
                try:
                    os.rename(staging, self.path(version))
                    return version
                except OSError as exc:
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                # another save took this name first: take the next one
                number = max(int(version[1:]) + 1, int(self._next_version()[1:]))
                version = f"v{number:04d}"
            raise ModelRefused(
                f"could not allocate a version name in {self.versions_dir} "
                f"after {SAVE_ATTEMPTS} attempts"
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def update_metadata(self, version: str, **fields: Any) -> None:
        meta = self.metadata(version)
        meta.update(fields)
        _write_json(self.path(version) / METADATA, meta)

    def load(self, version: str) -> LoadedModel:
        """Load a version after checking its metadata, its sha256 and every type inside it."""
        meta = self.metadata(version)
        artifact = self.path(version) / str(meta.get("artifact", ARTIFACT))
        if not artifact.exists():
            raise ModelRefused(f"model {version}: artifact {artifact} is missing")
        digest = sha256_of(artifact)
        if digest != meta.get("sha256"):
            raise ModelRefused(
                f"model {version}: artifact sha256 {digest[:12]}... does not match the "
                f"{str(meta.get('sha256'))[:12]}... recorded when it was trained; "
                "the file was changed or replaced, refusing to load it"
            )
        if unreadable := other_feature_set(meta):
            raise ModelRefused(f"model {version}: {unreadable}")
        try:
            found = artifact_types(artifact) | set(sio.get_untrusted_types(file=artifact))
        except Exception as exc:  # not a skops file at all
            raise ModelRefused(
                f"model {version}: {artifact.name} is not a skops file ({exc})"
            ) from None
        foreign = sorted(t for t in found if t not in TRUSTED_TYPES)
        if foreign:
            raise ModelRefused(
                f"model {version}: the artifact contains types that are not on the trusted "
                f"list: {', '.join(foreign)}; refusing to load a foreign model"
            )
        try:
            model = sio.load(artifact, trusted=list(TRUSTED_TYPES))
        except Exception as exc:
            raise ModelRefused(f"model {version}: could not be loaded safely ({exc})") from None
        if not hasattr(model, "predict_proba"):
            raise ModelRefused(f"model {version}: the artifact is not a classifier")
        return LoadedModel(version=version, model=model, metadata=meta)
