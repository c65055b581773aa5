"""Risk assessments and clock ticks: what the scoring stage reads and writes.

``RiskAssessed`` goes to the ``risk-assessments`` topic keyed by case id, one per assessment a
duty officer would notice (a new level, a probability that moved, a rule that started or stopped
firing).  Its id derives from the case, the case's event ``seq`` it saw and the ``as_of`` time,
so reprocessing the same input gives the same id and consumers drop the repeat.

``ClockTicked`` goes to the ``clock`` topic, once per partition: time as an event.  The scorer
re-assesses open cases when a re-assessment tick arrives, and the alert writer checks the
alerts' deadlines at every tick, so tests move time by posting ticks, and a restart re-reads
the ticks it had not finished rather than skipping or repeating them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from schemas.identity import uuid5_hex

RISK_NAMESPACE = uuid.UUID("3b0f7a52-1c9e-4d8e-9a51-6d2c8e4f7b10")
LEVELS = ("red", "orange", "yellow", "blue")
TRIGGERS = ("case_changed", "time_passed", "case_closed")


def assessment_id(case_id: str, case_seq: int, as_of: str) -> str:
    return uuid5_hex(RISK_NAMESPACE, f"{case_id}|{case_seq}|{as_of}")


@dataclass(frozen=True)
class RiskAssessed:
    assessment_id: str
    case_id: str
    case_seq: int  # the case's last event when assessed
    as_of: str  # ISO 8601, China time
    trigger: str  # case_changed | time_passed | case_closed (the last word on a closed case)
    probability: float
    level: str  # red | orange | yellow | blue
    township: str
    category: str
    model_version: str | None
    policy_version: str
    rules: tuple[dict[str, Any], ...] = field(default=())  # code, level, zh, en[, deadline]
    factors: tuple[dict[str, Any], ...] = field(default=())  # code, zh, en, weight
    version: int = 1
    # when what was assessed became known (China time): the latest record's receipt for a case
    # change, the tick for time passing.  A record can say it was found up to a day after it
    # came in (China time typed with a Z), so ``as_of`` can be ahead of it; an alert's deadlines
    # and its officer on duty go by this.  None in assessments written before: ``as_of``.
    noticed_at: str | None = None

    @property
    def known_at(self) -> str:
        """When what was assessed became known (``noticed_at``, else ``as_of``)."""
        return self.noticed_at or self.as_of

    def to_bytes(self) -> bytes:
        # the fields as they are (asdict would deep-copy every rule and factor first)
        return json.dumps(vars(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> RiskAssessed:
        """An assessment; fields a later version added are left out, so a stage not yet
        upgraded still reads what an upgraded scorer writes."""
        d = json.loads(data)
        d["rules"] = tuple(d.get("rules", ()))
        d["factors"] = tuple(d.get("factors", ()))
        return cls(**{k: v for k, v in d.items() if k in _ASSESSED_FIELDS})

    def reasons_zh(self) -> list[str]:
        """What a duty officer reads: rules (deadlines first), then the model's factors."""
        return [r["zh"] for r in self.rules] + [f["zh"] for f in self.factors]


_ASSESSED_FIELDS = frozenset(f.name for f in fields(RiskAssessed))


@dataclass(frozen=True)
class ClockTicked:
    """Time has come to ``at``.  Every tick checks the alerts' deadlines; a re-assessment
    tick (the policy's schedule, daily) also has the scorer assess every open case as of
    ``at``.  Ticks written before the field existed were all re-assessment ticks."""

    at: str  # ISO 8601, China time: the moment the scorer assesses "as of"
    reassess: bool = True

    def to_bytes(self) -> bytes:
        return json.dumps(vars(self)).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> ClockTicked:
        return cls(**json.loads(data))
