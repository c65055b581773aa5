"""Promotions and roll-backs are events on the model-events topic.

``ModelPromoted`` puts a version in service; ``ModelRolledBack`` returns to the version that
was in service before the current one.  Which model is in service is the fold of these events
(``apply``), so every scoring process that reads the topic from the first offset agrees, and a
promotion never needs a restart.

Messages are JSON, keyed by ``"model"`` on a one-partition topic (one total order).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PROMOTED = "ModelPromoted"
ROLLED_BACK = "ModelRolledBack"
MODEL_KEY = b"model"  # every model event has this key: one partition, one order
EVENT_TYPES = (PROMOTED, ROLLED_BACK)


@dataclass(frozen=True)
class InService:
    """The fold of the model events: the version in service and the ones before it."""

    history: tuple[str, ...] = ()  # versions in service, oldest first; the last is current

    @property
    def version(self) -> str | None:
        return self.history[-1] if self.history else None

    @property
    def previous(self) -> str | None:
        return self.history[-2] if len(self.history) >= 2 else None


def apply(state: InService, event: dict[str, Any]) -> InService:
    """One model event applied to the in-service state (unknown events change nothing)."""
    kind = event.get("event_type")
    version = event.get("version")
    if not isinstance(version, str):
        return state
    if kind == PROMOTED:
        if state.version == version:
            return state
        return InService((*state.history, version))
    if kind == ROLLED_BACK:
        history = list(state.history)
        if history and history[-1] == event.get("from_version"):
            history.pop()
        while history and history[-1] != version:
            history.pop()
        return InService(tuple(history) if history else (version,))
    return state


def fold(events: Iterable[dict[str, Any]]) -> InService:
    state = InService()
    for e in events:
        state = apply(state, e)
    return state


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def promoted_event(
    version: str, previous: str | None, sha256: str | None, reason: str = "", by: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "event_type": PROMOTED,
        "version": version,
        "previous_version": previous,
        "sha256": sha256,
        "at": _now(),
        "by": by or _user(),
        "reason": reason,
    }


def rolled_back_event(
    to_version: str, from_version: str | None, reason: str = "", by: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "event_type": ROLLED_BACK,
        "version": to_version,
        "from_version": from_version,
        "at": _now(),
        "by": by or _user(),
        "reason": reason,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def decode(value: bytes) -> dict[str, Any] | None:
    """A model event from message bytes; None for anything that is not one."""
    try:
        event = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) and event.get("event_type") in EVENT_TYPES else None


def encode(event: dict[str, Any]) -> bytes:
    """A model event as message bytes (keyed by ``MODEL_KEY``)."""
    return json.dumps(event, ensure_ascii=False).encode("utf-8")
