"""Features of a case as of a point in time: a pure function of the case state.

``case_features(state, as_of)`` uses only the records the system knew at ``as_of``: a record
counts when both its ``found_at`` (domain time) and its ``recorded_at`` (when the system received
it) are at or before ``as_of``.  Status, people, money, petition clock and text are all derived
from those records, so the same state gives the same features whether it was folded up to
``as_of`` (the stream) or to the end of the log (replays for training).

The category is the one known at ``as_of``: the latest correction record's, else the first
record's (``RecordSeen.category``; states written before records kept it fall back to
``CaseState.category``).

The stream and the training code call this same function (through ``models.scoring``).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from domain.case import CaseState, RecordSeen
from domain.risk.headcount import people_in_words, record_people
from domain.risk.holidays import days_to_spring_festival, in_two_sessions
from domain.risk.lexicon import SIGNAL_GROUPS, Lexicon
from domain.risk.masking import mask_text
from domain.risk.policy import RiskPolicy, default_policy
from schemas.events import category_correction, status_stated
from schemas.record import CHINA_TZ, CLOSING_STATUSES, timestamp

# 2: the text feature is masked (domain.risk.masking); 3: the lexicon's close negations,
# conditions, purposes and failed calming (domain.risk.lexicon) change the signal counts
FEATURE_SET_VERSION = 3
PETITION_LIMIT_DAYS = 60  # 信访工作条例: handle an accepted matter within 60 days
PETITION_WARN_DAYS = 15  # warn when this many days or fewer are left
MAX_TEXT_CHARS = 160
PRE_FESTIVAL_DAYS = 28  # wages and construction payments come to a head before 春节
PAY_CATEGORIES = frozenset(
    {"unpaid_wages", "unpaid_construction"}
)  # the text feature keeps the latest characters of the case's records

NUMERIC_FEATURES: tuple[str, ...] = (
    "days_open",
    "days_since_last_record",
    "n_records",
    "n_follow_ups",
    "n_corrections",
    "records_last_30d",
    "people_max",
    "people_latest",
    "people_growth",
    "amount_max_yuan",
    "prior_visits",
    "prior_skip_level",
    "is_petition",
    "petition_days",
    "petition_due_soon",
    "petition_overdue",
    "days_to_spring_festival",
    "two_sessions",
    "pre_festival",
    "pay_dispute_pre_festival",
    "has_measures",
    "n_measures",
    *(f"signal_{code}" for code in SIGNAL_GROUPS),
    "threat_latest",
    "calming_latest",
)
# the numeric features that are floats (days, people, money); the others are whole numbers
FLOAT_FEATURES: frozenset[str] = frozenset(
    {
        "days_open",
        "days_since_last_record",
        "people_max",
        "people_latest",
        "people_growth",
        "amount_max_yuan",
        "prior_visits",
        "prior_skip_level",
        "petition_days",
    }
)
INTEGER_FEATURES: frozenset[str] = frozenset(NUMERIC_FEATURES) - FLOAT_FEATURES
# counts and amounts enter the model as log1p(value)
LOG_FEATURES: frozenset[str] = frozenset(
    {
        "days_open",
        "days_since_last_record",
        "n_records",
        "n_follow_ups",
        "n_corrections",
        "records_last_30d",
        "people_max",
        "people_latest",
        "amount_max_yuan",
        "prior_visits",
        "prior_skip_level",
        "petition_days",
        "n_measures",
    }
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("category", "township", "status")
TEXT_FEATURE = "text"
FEATURE_NAMES: tuple[str, ...] = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, TEXT_FEATURE)


def as_datetime(value: dt.datetime | str) -> dt.datetime:
    """An aware datetime from a datetime or ISO string (naive means China time)."""
    if isinstance(value, str):
        return dt.datetime.fromtimestamp(timestamp(value), tz=CHINA_TZ)
    return value if value.tzinfo is not None else value.replace(tzinfo=CHINA_TZ)


def known_records(state: CaseState, as_of: dt.datetime | str) -> list[RecordSeen]:
    """The case's records known at ``as_of`` (found and received by then), in the order they
    were found (records found at the same time: in the order they arrived), so the latest is
    the one found last, as the case fold decides (``domain.case.decide``)."""
    cutoff = as_datetime(as_of).timestamp()
    known = [
        r
        for r in state.records
        if timestamp(r.found_at) <= cutoff and timestamp(r.recorded_at) <= cutoff
    ]
    return sorted(known, key=lambda r: timestamp(r.found_at))


def status_as_of(records: list[RecordSeen]) -> str:
    """Follow-up status of the latest known record that states one ("none" before the first
    record; a correction without a status states none)."""
    for r in reversed(records):
        stated = status_stated(r.record_kind, r.follow_up_status)
        if stated is not None:
            return stated
    return "new" if records else "none"


def is_open_as_of(records: list[RecordSeen]) -> bool:
    return bool(records) and status_as_of(records) not in CLOSING_STATUSES


def latest_value(records: list[RecordSeen], name: str) -> Any:
    """The latest non-empty value of a record field among ``records``."""
    for r in reversed(records):
        value = getattr(r, name)
        if value is not None:
            return value
    return None


def _first(records: list[RecordSeen], name: str) -> Any:
    for r in records:
        value = getattr(r, name)
        if value is not None:
            return value
    return None


def standing(records: list[RecordSeen], name: str) -> list[RecordSeen]:
    """The records whose ``name`` still stands: a correction (更正) that gives the field
    replaces what the records before it said (a head count of 60 corrected to 2 is 2)."""
    last = 0
    for i, r in enumerate(records):
        if r.record_kind == "correction" and getattr(r, name) is not None:
            last = i
    return records[last:]


def people_for_rules(records: list[RecordSeen], lexicon: Lexicon | None = None) -> tuple[int, bool]:
    """The head count the group rules go by, and whether it is the words': the largest
    ``record_people`` of the records from the last correction that gives one, in its field
    or its words (实际仅涉及6人 replaces 60), so a later 80余名工人聚集 counts beside an earlier
    field of 3.  Of a field and words as large, the field.  With a ``lexicon``, words in a
    sentence that gives its count quietly (一百余名村民参加宣讲会) count for nothing."""
    counts = [
        record_people(r.people_involved, _loud(r.description or "", lexicon)) for r in records
    ]
    last = 0
    for i, r in enumerate(records):
        if r.record_kind == "correction" and (r.people_involved is not None or counts[i][1]):
            last = i
    return max(counts[last:], key=lambda c: (c[0], not c[1]), default=(0, False))


def _loud(text: str, lexicon: Lexicon | None) -> str:
    """``text`` less its quiet sentences (``Lexicon.loud_part``), where it gives a head count."""
    return lexicon.loud_part(text) if lexicon is not None and people_in_words(text) else text


def standing_max(records: list[RecordSeen], name: str) -> int:
    """The largest ``name`` the records give that no correction has replaced (earlier visits
    and skip-level petitions, for the rules; the model's inputs take every record's)."""
    return int(_max(standing(records, name), name))


def _max(records: list[RecordSeen], name: str) -> float:
    values = [getattr(r, name) for r in records if getattr(r, name) is not None]
    return float(max(values)) if values else 0.0


def _days(seconds: float) -> float:
    return round(max(seconds, 0.0) / 86400.0, 3)


def text_parts(records: list[RecordSeen]) -> tuple[str, ...]:
    """Descriptions and measures of the given records, latest last."""
    return tuple(p for r in records for p in (r.description, r.measures_taken or "") if p)


def full_text(records: list[RecordSeen]) -> str:
    """Descriptions and measures of the given records, joined, latest last."""
    return "。".join(text_parts(records))


def case_text(records: list[RecordSeen]) -> str:
    """The text feature: ``full_text`` cut to its latest MAX_TEXT_CHARS characters."""
    return full_text(records)[-MAX_TEXT_CHARS:]


def category_as_of(state: CaseState, records: list[RecordSeen]) -> str:
    """The case's category as the known records give it: corrections win, else the first."""
    corrected = [c for r in records if (c := category_correction(r.record_kind, r.category))]
    if corrected:
        return corrected[-1]
    if records and records[0].category:
        return records[0].category
    return state.category


@dataclass(frozen=True)
class Known:
    """What a case's known records say, apart from the clock.

    It changes only when a record becomes known, so a caller that looks at one case at many
    times (the weekly training snapshots, the daily re-assessment) reads the records once
    (``read_records(..., reuse=)``) and adds the clock at each time (``case_features``).
    """

    records: tuple[RecordSeen, ...]
    features: dict[str, Any]  # the features that only the records decide
    case_id: str
    policy: RiskPolicy  # whose lexicon read them
    source: tuple[RecordSeen, ...]  # the case state's records they were chosen from
    read_at: float  # the time they were read as of (epoch seconds)
    found: tuple[float, ...]  # when each record was found (epoch seconds)
    petition_received: float | None  # when the petition was received, if it is one
    category: str
    # what rules and features derived from these records, kept for the next time they are asked
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def threats_after(self, cutoff: float, lexicon: Lexicon) -> list[str]:
        """The threats said in the records found at or after ``cutoff`` (epoch seconds)."""
        k = bisect_left(self.found, cutoff)  # records are in the order they were found
        key = ("threats", id(lexicon), k)
        known = self.memo.get(key)
        if known is None:
            recent = text_parts(list(self.records[k:]))
            said = lexicon.hits_in(recent, lexicon.threats)
            # an ultimatum, a planned protest or a display of protest in other words than the
            # threats' (不给钱就喝药 is 喝药 already)
            for part in recent:  # each once, however many records tell of it
                for u in (*lexicon.ultimatums(part), *lexicon.plans(part), *lexicon.displays(part)):
                    if u not in said and not any(t in u for t in said):
                        said.append(u)
            known = self.memo[key] = said
        return known

    @property
    def is_open(self) -> bool:
        return is_open_as_of(list(self.records))


def read_records(
    state: CaseState,
    as_of: dt.datetime | str,
    policy: RiskPolicy | None = None,
    reuse: Known | None = None,
) -> Known:
    """The case's records known at ``as_of``, read; ``reuse`` (read earlier for this case
    under this policy) is returned when they are the records it was read from."""
    policy = policy or default_policy()
    cutoff = as_datetime(as_of).timestamp()
    if reuse is not None and (reuse.case_id != state.case_id or reuse.policy is not policy):
        reuse = None
    if (
        reuse is not None
        and reuse.source is state.records
        and len(reuse.records) == len(state.records)
        and cutoff >= reuse.read_at
    ):
        return reuse  # every record was known then, and none has come since
    records = tuple(known_records(state, as_of))
    if reuse is not None and reuse.records == records:
        return reuse
    return _read(state, list(records), policy, cutoff)


def case_features(
    state: CaseState,
    as_of: dt.datetime | str,
    policy: RiskPolicy | None = None,
    known: Known | None = None,
) -> dict[str, Any]:
    """Features of ``state`` as of ``as_of``; nothing recorded or found after ``as_of`` is used.
    Phrases come from the policy's lexicon (the packaged policy unless given).  ``known``: the
    records already read for this time (``read_records``).

    Values are plain numbers and strings (JSON-ready, human-readable: people are people, money
    is yuan, days are days); ``models.estimator`` turns them into model inputs.
    """
    now = as_datetime(as_of)
    known = known if known is not None else read_records(state, now, policy)
    return {**_clock(known, now), **known.features}


def _clock(known: Known, now: dt.datetime) -> dict[str, Any]:
    """The features that the clock moves while the records stay the same."""
    cutoff = now.timestamp()
    found = known.found
    f: dict[str, Any] = {}
    f["days_open"] = _days(cutoff - min(found)) if found else 0.0
    f["days_since_last_record"] = _days(cutoff - max(found)) if found else 0.0
    f["records_last_30d"] = sum(cutoff - t <= 30 * 86400 for t in found)
    received = known.petition_received
    petition_days = _days(cutoff - received) if received is not None else 0.0
    f["petition_days"] = petition_days
    left = PETITION_LIMIT_DAYS - petition_days
    f["petition_due_soon"] = int(received is not None and 0 <= left <= PETITION_WARN_DAYS)
    f["petition_overdue"] = int(received is not None and left < 0)
    f.update(_calendar(now.astimezone(CHINA_TZ).date(), known.category in PAY_CATEGORIES))
    return f


@lru_cache(maxsize=4096)
def _calendar(day: dt.date, pay_dispute: bool) -> dict[str, int]:
    to_festival = days_to_spring_festival(day)
    pre_festival = 0 < to_festival <= PRE_FESTIVAL_DAYS
    return {
        "days_to_spring_festival": to_festival,
        "two_sessions": int(in_two_sessions(day)),
        "pre_festival": int(pre_festival),
        "pay_dispute_pre_festival": int(pre_festival and pay_dispute),
    }


def _read(state: CaseState, records: list[RecordSeen], policy: RiskPolicy, at: float) -> Known:
    lexicon = policy.lexicon
    f: dict[str, Any] = {}
    f["n_records"] = len(records)
    f["n_follow_ups"] = sum(r.record_kind == "follow_up" for r in records)
    f["n_corrections"] = sum(r.record_kind == "correction" for r in records)

    people_latest = latest_value(records, "people_involved")
    people_first = _first(records, "people_involved")
    f["people_max"] = _max(records, "people_involved")
    f["people_latest"] = float(people_latest or 0)
    f["people_growth"] = float((people_latest or 0) - (people_first or 0))
    f["amount_max_yuan"] = _max(records, "amount_involved_yuan")
    f["prior_visits"] = _max(records, "prior_visits")
    f["prior_skip_level"] = _max(records, "prior_skip_level")

    petition = bool(latest_value(records, "is_petition"))
    received = latest_value(records, "petition_received_on")
    f["is_petition"] = int(petition)
    category = category_as_of(state, records)
    measures = [r.measures_taken for r in records if r.measures_taken]
    f["has_measures"] = int(bool(measures))
    f["n_measures"] = len(measures)

    parts = text_parts(records)
    counted = lexicon.counted_in(parts)  # a group's phrases are all the lexicon's own
    for g in lexicon.groups:
        f[f"signal_{g.code}"] = len(counted & g.phrase_set)
    latest = text_parts(records[-1:])
    f["threat_latest"] = len(lexicon.hits_in(latest, lexicon.threats))
    f["calming_latest"] = len(lexicon.hits_in(latest, lexicon.group("calming").phrases))

    f["category"] = category or "unknown"
    f["township"] = state.township or "unknown"
    f["status"] = status_as_of(records)
    f["text"] = mask_text("。".join(parts)[-MAX_TEXT_CHARS:])  # names, numbers, places masked
    return Known(
        records=tuple(records),
        features=f,
        case_id=state.case_id,
        policy=policy,
        source=state.records,
        read_at=at,
        found=tuple(timestamp(r.found_at) for r in records),
        petition_received=timestamp(received) if (petition and received) else None,
        category=category,
    )
