"""Typed events: one class per type, one registry for reading them, upcasting of older shapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas import events as ev
from schemas.events import (
    EVENT_CLASSES,
    CaseClosed,
    CaseOpened,
    Envelope,
    EventNotReadable,
    RecordAppended,
)

ROOT = Path(__file__).resolve().parent.parent


def envelope(event: ev.CaseEvent, seq: int = 1) -> Envelope:
    return Envelope(
        "e1",
        "C1",
        seq,
        "2026-03-01T09:00:00+08:00",
        "2026-03-01T01:00:00.000+00:00",
        "records:0:1",
        event,
    )


def test_events_round_trip_through_bytes() -> None:
    record = {
        "found_at": "2026-03-01T09:00:00+08:00",
        "record_kind": "correction",
        "category": "land_expropriation",
    }
    for event in (
        CaseOpened("周庄镇", None, "ZZ-1", "neighbour"),
        RecordAppended("fp", record),
        CaseClosed("resolved"),
    ):
        e = envelope(event)
        back = Envelope.from_bytes(e.to_bytes())
        assert back == e and back.event_type == type(event).__name__
    assert RecordAppended("fp", record).corrected_category == "land_expropriation"
    assert RecordAppended("fp", {**record, "record_kind": "follow_up"}).corrected_category is None


def test_an_older_shape_is_upcast_on_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 1 of CaseClosed said `result`; pretend version 2 renamed it `outcome`."""
    monkeypatch.setattr(CaseClosed, "version", 2)
    monkeypatch.setitem(ev.UPCASTERS, ("CaseClosed", 1), lambda p: {"outcome": p["result"]})
    stored = envelope(CaseClosed("resolved")).to_dict()
    stored.update(schema_version=1, payload={"result": "withdrawn"})
    assert Envelope.from_dict(stored).event == CaseClosed("withdrawn")
    assert Envelope.from_dict(stored).to_dict()["schema_version"] == 2


def test_what_cannot_be_read_says_why() -> None:
    stored = envelope(CaseClosed("resolved")).to_dict()
    with pytest.raises(EventNotReadable, match="unknown event type 'CaseExploded'"):
        Envelope.from_dict({**stored, "event_type": "CaseExploded"})
    with pytest.raises(EventNotReadable, match="newer than this code reads"):
        Envelope.from_dict({**stored, "schema_version": 9})
    with pytest.raises(EventNotReadable, match="lacks outcome"):
        Envelope.from_dict({**stored, "payload": {}})


def test_event_type_names_are_written_only_in_their_module() -> None:
    names = "|".join(EVENT_CLASSES)
    literal = re.compile(rf"""["']({names})["']""")
    found = []
    for folder in ("schemas", "domain", "streams", "readside", "models", "alerts", "web", "ews"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name != "events.py" and literal.search(path.read_text(encoding="utf-8")):
                found.append(str(path.relative_to(ROOT)))
    assert found == []


def test_ids_already_in_the_log_are_made_the_same_way() -> None:
    # written by the ids' first version (uuid.uuid5): a new version must give the same ids,
    # or a replay would see every old event as a new one
    from schemas.risk import assessment_id

    assert ev.event_id("C1", "records:0:5", 0) == "e345a3a8f04e52c2bec042c55450571e"
    assert ev.case_id_for("周庄镇", "ZZ-1") == "Cd640ca6d3b815157b347"
    assert assessment_id("C1", 3, "2027-01-15T08:00:00+08:00") == "5ab0b6b7a50555e39bd13ff7ff9974fd"


@pytest.mark.parametrize("name", ["", "a", "C1|tick:2027-01-15T08:00:00+08:00|2", "周庄镇\x1fZZ-1"])
def test_uuid5_hex_is_uuid5(name: str) -> None:
    import uuid

    from schemas.identity import uuid5_hex

    assert uuid5_hex(ev.EVENT_NAMESPACE, name) == uuid.uuid5(ev.EVENT_NAMESPACE, name).hex


def test_an_assessment_written_by_a_later_version_is_read_without_its_new_fields() -> None:
    """Stages are upgraded one at a time: an alert writer not yet upgraded still reads what an
    upgraded scorer writes, instead of dead-lettering it."""
    import json

    from schemas.risk import RiskAssessed

    later = {
        "assessment_id": "a1",
        "case_id": "C1",
        "case_seq": 2,
        "as_of": "2026-03-02T10:00:00+08:00",
        "trigger": "case_changed",
        "probability": 0.5,
        "level": "red",
        "township": "周庄镇",
        "category": "unpaid_wages",
        "model_version": None,
        "policy_version": "p",
        "a_field_of_a_later_version": "x",
    }
    read = RiskAssessed.from_bytes(json.dumps(later).encode())
    assert (read.level, read.known_at) == ("red", "2026-03-02T10:00:00+08:00")
