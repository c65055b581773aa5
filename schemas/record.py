"""The screening record (矛盾纠纷排查记录) a township posts.

One table, ``FIELDS``, describes every field: its type, whether it is required, its limits
and what a screening officer writes in it.  The validator (``parse_record``) and the published
JSON Schema (``json_schema()``, written to ``schemas/json/``) are both derived from it, so they
cannot drift apart; ``tests/test_record_contract.py`` keeps the files in sync.

Versions
--------
* v1: the spreadsheet layout townships used before this system (``town``, ``case_no``,
  ``type``, ``content``, ``date``, ``persons``, ``money``).  It is upcast to v2, never rejected.
* v2 (current): the fields below.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from schemas import patterns
from schemas.categories import ACCEPTED_NAMES, category_code
from schemas.identity import identity_text

CURRENT_VERSION = 2
MAX_RECORD_BYTES = 64 * 1024
MAX_TEXT_CHARS = 4000
# Arrays and objects nested deeper than this are refused before decoding (a v2 record nests
# two deep: the record object and its ``parties`` list).  The limit is ours, not the
# interpreter's recursion limit, so the reason code does not depend on the call stack.
MAX_NESTING = 32

RECORD_KINDS = {"initial": "首报", "follow_up": "续报", "correction": "更正"}
FOLLOW_UP_STATUSES = {
    "new": "新发现",
    "mediating": "调解中",
    "agreed": "已达成协议",
    "resolved": "已化解",
    "escalated": "已升级",
    "withdrawn": "已撤回",
}
ESCALATION_KINDS = {
    "group_event": "群体性事件",
    "skip_level": "越级上访",
    "extreme_act": "极端行为",
}
CLOSING_STATUSES = frozenset({"resolved", "withdrawn"})
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "str" | "text" | "int" | "number" | "bool" | "date" | "datetime" | "enum" | "list"
    required: bool
    doc: str
    max_len: int = 200
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


FIELDS: tuple[Field, ...] = (
    Field(
        "schema_version",
        "int",
        False,
        "Record contract version; 2 when absent.",
        minimum=1,
        maximum=2,
    ),
    Field(
        "township",
        "str",
        True,
        "Township (乡镇) that found and owns the dispute, e.g. 周庄镇.",
        max_len=32,
    ),
    Field("village", "str", False, "Village or community (村/社区), e.g. 马庄村.", max_len=64),
    Field(
        "ref_no",
        "str",
        True,
        "The township's own reference number (排查编号). Township + ref_no identifies the case; "
        "follow-ups and corrections repeat it.",
        max_len=64,
    ),
    Field(
        "record_kind",
        "enum",
        False,
        "initial 首报 (default), follow_up 续报 or correction 更正.",
        choices=tuple(RECORD_KINDS),
    ),
    Field(
        "reporter", "str", False, "Screening officer who filled in the record (排查人).", max_len=32
    ),
    Field("reporter_phone", "str", False, "The officer's phone number.", max_len=32),
    Field(
        "found_at",
        "datetime",
        True,
        "When the dispute (or this follow-up) was found (发现时间), ISO 8601 date or date-time, China time if no offset.",
    ),
    Field(
        "category",
        "enum",
        True,
        "Dispute category: a code or the Chinese label (纠纷类别).",
        choices=ACCEPTED_NAMES,
    ),
    Field(
        "description",
        "text",
        True,
        "What happened, in the officer's words (情况描述).",
        max_len=MAX_TEXT_CHARS,
    ),
    Field(
        "parties",
        "list",
        False,
        "Names of the main parties (当事人), as a list of strings.",
        max_len=50,
    ),
    Field(
        "people_involved",
        "int",
        False,
        "How many people are involved (涉及人数).",
        minimum=1,
        maximum=100000,
    ),
    Field(
        "amount_involved_yuan",
        "number",
        False,
        "Money in dispute, in yuan (涉及金额).",
        minimum=0,
        maximum=1e11,
    ),
    Field(
        "is_petition",
        "bool",
        False,
        "Whether this is an accepted letters-and-visits matter (是否信访事项).",
    ),
    Field(
        "petition_received_on",
        "date",
        False,
        "Date the petition was received (信访受理日期); starts the statutory clock.",
    ),
    Field(
        "prior_visits",
        "int",
        False,
        "Earlier visits about this matter (此前上访次数).",
        minimum=0,
        maximum=1000,
    ),
    Field(
        "prior_skip_level",
        "int",
        False,
        "Earlier skip-level petitions to city, province or Beijing (越级上访次数).",
        minimum=0,
        maximum=1000,
    ),
    Field(
        "responsible_unit",
        "str",
        False,
        "Responsible unit, if already assigned (责任单位).",
        max_len=64,
    ),
    Field(
        "leader_in_charge",
        "str",
        False,
        "County or township leader who owns the case (包案领导).",
        max_len=32,
    ),
    Field(
        "measures_taken",
        "text",
        False,
        "What has been done so far (已采取措施).",
        max_len=MAX_TEXT_CHARS,
    ),
    Field(
        "follow_up_status",
        "enum",
        False,
        "new 新发现 (default), mediating 调解中, agreed 已达成协议, resolved 已化解, escalated 已升级, withdrawn 已撤回.",
        choices=tuple(FOLLOW_UP_STATUSES),
    ),
    Field(
        "escalation_kind",
        "enum",
        False,
        "Set when follow_up_status is escalated: group_event 群体性事件 (5+ people), skip_level 越级上访 (to city, province or Beijing), extreme_act 极端行为.",
        choices=tuple(ESCALATION_KINDS),
    ),
    Field(
        "satisfaction",
        "enum",
        False,
        "At the closing follow-up visit (回访满意度): satisfied 满意, basically_satisfied 基本满意, unsatisfied 不满意.",
        choices=tuple(SATISFACTION),
    ),
    Field("remarks", "text", False, "Anything else (备注).", max_len=1000),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}

V1_RENAMES = {
    "town": "township",
    "case_no": "ref_no",
    "type": "category",
    "content": "description",
    "date": "found_at",
    "persons": "people_involved",
    "money": "amount_involved_yuan",
    "staff": "reporter",
}


class RecordRejected(ValueError):
    """A record that cannot be accepted; ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field  # the field at fault, when it is one field


EARLIEST_DATE = dt.date(2000, 1, 1)  # no screening record, nor petition, is older
NAME_MAX_CHARS = 32  # each name in a list of parties
_DATE = re.compile(patterns.DATE)
_DATE_TIME = re.compile(patterns.DATE_TIME)
CHINA_OFFSET = dt.timedelta(hours=8)
CHINA_TZ = dt.timezone(CHINA_OFFSET)
BLANK_IS_ABSENT = ("str", "enum", "date", "datetime")  # kinds whose blank value means absent
EXTRA_CELLS = "_extra_cells"  # a sheet row's cells beyond its header (web/sheets.py)
IDENTITY_FIELDS = ("township", "ref_no")  # folded by schemas.identity.identity_text
_CONTROL_CHARS = frozenset(chr(i) for i in range(32) if chr(i) not in "\t\n\r") | {"\x7f"}
_CONTROL = re.compile("[" + "".join(sorted(_CONTROL_CHARS)) + "]")  # one scan, not one per char


@lru_cache(maxsize=200_000)
def timestamp(value: str) -> float:
    """Seconds since the epoch of an ISO 8601 date or date-time (China time when no offset),
    as the risk features and the case state read a record's times."""
    text = value.strip()
    if len(text) == 10:
        text += "T00:00:00"
    parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)
    return parsed.timestamp()


def as_time(iso: str) -> dt.datetime:
    """An ISO 8601 time as a time (a time without an offset is taken as UTC): stored times
    come in more than one offset, so their texts do not compare."""
    t = dt.datetime.fromisoformat(iso)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def china_time(iso: str) -> str:
    """An ISO 8601 time in China time (a time without an offset is taken as UTC)."""
    return as_time(iso).astimezone(CHINA_TZ).isoformat(timespec="seconds")


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut short, so a reason never repeats a long (personal) value in full."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


_DATE_PARTS = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})(?:[ T]([0-9]{1,2}):(.*))?")


def _parse_datetime(value: str) -> dt.datetime:
    """A value the date pattern took (2026-03-05, 2026/3/5 9:30, ...) as a time, China time
    when it gives no offset."""
    found = _DATE_PARTS.fullmatch(value.strip())
    if found is None:
        raise ValueError(f"not a date: {value!r}")
    year, month, day, hour, rest = found.groups()
    clock = f"{int(hour):02d}:{rest}" if hour else "00:00:00"
    parsed = dt.datetime.fromisoformat(f"{year}-{int(month):02d}-{int(day):02d}T{clock}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)
    return parsed


def _coerce(field: Field, value: Any) -> Any:
    """Check one value against its field; return the normalised value or raise.  What is
    accepted here is exactly what the JSON Schema accepts (``schemas.json_schema``)."""
    name = field.name
    kind = field.kind
    if kind in ("str", "text"):
        if not isinstance(value, str):
            raise RecordRejected(
                "wrong_type", f"{name} must be a string, got {type(value).__name__}"
            )
        value = value.strip()
        if _CONTROL.search(value):
            raise RecordRejected("invalid_value", f"{name} contains control characters")
        if len(value) > field.max_len:
            code = "oversized_text" if kind == "text" else "invalid_value"
            raise RecordRejected(
                code, f"{name} has {len(value)} characters, at most {field.max_len} allowed"
            )
        return value
    if kind == "int":
        if isinstance(value, float) and value.is_integer():  # 15.0 is the JSON number 15
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordRejected(
                "wrong_type", f"{name} must be a whole number, got {_shown(value)}"
            )
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecordRejected("wrong_type", f"{name} must be a number, got {_shown(value)}")
        if isinstance(value, float) and not math.isfinite(value):  # NaN passes every limit
            raise RecordRejected("wrong_type", f"{name} must be a finite number, got {value}")
        try:
            value = float(value) + 0.0  # -0.0 is 0
        except OverflowError:
            raise RecordRejected("invalid_value", f"{name} is too large") from None
    elif kind == "bool":
        if not isinstance(value, bool):
            raise RecordRejected("wrong_type", f"{name} must be true or false, got {_shown(value)}")
        return value
    elif kind in ("date", "datetime"):
        return _date_value(field, value)
    elif kind == "enum":
        if not isinstance(value, str):
            raise RecordRejected(
                "wrong_type", f"{name} must be a string, got {type(value).__name__}"
            )
        if value not in field.choices:
            if name == "category":
                raise RecordRejected("unknown_category", f"unknown category {_shown(value)}")
            raise RecordRejected(
                "invalid_value",
                f"{name} must be one of {', '.join(field.choices)}, got {_shown(value)}",
            )
        return category_code(value) if name == "category" else value
    elif kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RecordRejected("wrong_type", f"{name} must be a list of names")
        if len(value) > field.max_len:
            raise RecordRejected("invalid_value", f"{name} lists more than {field.max_len} names")
        names = [v.strip() for v in value]
        if any(_CONTROL.search(v) for v in names):
            raise RecordRejected("invalid_value", f"{name} contains control characters")
        if any(len(v) > NAME_MAX_CHARS for v in names):
            raise RecordRejected(
                "invalid_value", f"{name}: a name has more than {NAME_MAX_CHARS} characters"
            )
        return [n for n in names if n]  # a blank name names nobody
    if field.minimum is not None and value < field.minimum:
        raise RecordRejected(
            "invalid_value", f"{name} must be at least {field.minimum:g}, got {_shown(value)}"
        )
    if field.maximum is not None and value > field.maximum:
        raise RecordRejected(
            "invalid_value", f"{name} must be at most {field.maximum:g}, got {_shown(value)}"
        )
    return value


def _date_value(field: Field, value: Any) -> str:
    """A date as ``YYYY-MM-DD``, a date-time in China time (``+08:00``, whole seconds)."""
    name = field.name
    if not isinstance(value, str):
        raise RecordRejected(
            "wrong_type", f"{name} must be an ISO 8601 date string, got {_shown(value)}"
        )
    pattern = _DATE if field.kind == "date" else _DATE_TIME
    if not pattern.match(value):
        year = re.match(r"\s*([0-9]{4})[-/]", value)
        if year and not EARLIEST_DATE.year <= int(year.group(1)) < 9999:
            raise RecordRejected(
                "date_out_of_range", f"{name} is before {EARLIEST_DATE.isoformat()} or too late"
            )
        raise RecordRejected(
            "invalid_value",
            f"{name} is not a date: {_shown(value)} (like 2026-03-05, 2026/3/5 or 2026-03-05 09:30)",
        )
    parsed = _parse_datetime(value)
    if field.kind == "date":  # the day in China (2026-01-10T23:30Z is 11 January there)
        try:
            return parsed.astimezone(CHINA_TZ).date().isoformat()
        except OverflowError:  # the last hours of the year 9999 west of China: as written
            return parsed.date().isoformat()
    # one zone, whole seconds: the stored text sorts in time order and has a fixed length
    if parsed.utcoffset() != CHINA_OFFSET:
        parsed = parsed.astimezone(CHINA_TZ)
    return parsed.replace(tzinfo=CHINA_TZ, microsecond=0).isoformat()


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an older record version up to the current one (v1 -> v2)."""
    version = raw.get("schema_version", 1 if any(k in raw for k in V1_RENAMES) else CURRENT_VERSION)
    if version == 1:
        v1 = sorted(k for k in raw if k in V1_RENAMES)
        v2 = sorted(k for k in raw if k in V1_RENAMES.values())
        if v2:  # half of it would be read, the other half overwritten or lost
            raise RecordRejected(
                "mixed_versions",
                f"the record mixes version-1 field names ({', '.join(v1) or 'schema_version 1'}) "
                f"with version-2 ones ({', '.join(v2)}); use one version",
            )
        raw = {V1_RENAMES.get(k, k): v for k, v in raw.items()}
        raw["schema_version"] = CURRENT_VERSION
        raw.setdefault("record_kind", "initial")
    return raw


def validate(raw: Any) -> dict[str, Any]:
    """Validate a decoded record (any version); return the normalised v2 dict, or raise its
    first problem."""
    record, problems = check(raw)
    if problems:
        raise problems[0]
    return record


def check(raw: Any) -> tuple[dict[str, Any], list[RecordRejected]]:
    """Every problem of a decoded record, field by field, and the record normalised (valid
    when there is no problem).  A clerk fixes a row once, not once per problem."""
    if not isinstance(raw, dict):
        return {}, [
            RecordRejected(
                "not_an_object", f"a record must be a JSON object, got {type(raw).__name__}"
            )
        ]
    version = raw.get("schema_version")
    if version is not None and (isinstance(version, bool) or version not in (1, 2)):
        problem = RecordRejected(
            "unsupported_version", f"schema_version {_shown(version)} is not supported"
        )
        return {}, [problem]
    try:
        raw = upcast(raw)
    except RecordRejected as exc:
        return {}, [exc]
    problems: list[RecordRejected] = []
    extra = raw.get(EXTRA_CELLS)
    if extra is not None:  # a sheet row whose values no longer sit under their titles
        cells = ", ".join(repr(v)[:20] for v in (extra if isinstance(extra, list) else [extra]))
        count = len(extra) if isinstance(extra, list) else 1
        problems.append(
            RecordRejected(
                "extra_cells",
                f"the row has {count} more cell(s) than its header ({cells}); an unquoted "
                "comma in a number splits it",
            )
        )
    unknown = sorted(k for k in raw if k not in FIELD_BY_NAME and k != EXTRA_CELLS)
    if unknown:
        names = ", ".join(repr(k)[:40] for k in unknown[:10])
        problems.append(RecordRejected("unknown_field", f"unknown field(s): {names}"))
    record: dict[str, Any] = {}
    for field in FIELDS:
        value = raw.get(field.name)
        blank = isinstance(value, str) and not value.strip() and field.kind in BLANK_IS_ABSENT
        if value is None or blank:
            if field.required:
                problems.append(
                    RecordRejected("missing_field", f"{field.name} is required", field.name)
                )
            continue
        if isinstance(value, str) and not value.strip() and field.required:
            problems.append(
                RecordRejected("missing_field", f"{field.name} is required", field.name)
            )
            continue
        try:
            record[field.name] = _coerce(field, value)
        except RecordRejected as exc:
            exc.field = field.name
            problems.append(exc)
    for name in IDENTITY_FIELDS:  # the case's identity: invisible characters do not count
        if name not in record:
            continue
        record[name] = identity_text(record[name])
        if not record[name]:
            problems.append(
                RecordRejected(
                    "missing_field",
                    f"{name} is required (it holds only invisible characters)",
                    name,
                )
            )
        elif len(record[name]) > FIELD_BY_NAME[name].max_len:  # NFKC can make a text longer
            most = FIELD_BY_NAME[name].max_len
            said = f"{name} has {len(record[name])} characters once folded, at most {most} allowed"
            problems.append(RecordRejected("invalid_value", said, name))
    record["schema_version"] = CURRENT_VERSION
    record.setdefault("record_kind", "initial")
    record.setdefault("follow_up_status", "new")
    return record, problems


def record_problems(data: bytes) -> list[RecordRejected]:
    """Every problem of the raw bytes of one record ([] if it is valid)."""
    try:
        raw = decode_record(data)
    except RecordRejected as exc:
        return [exc]
    return check(raw)[1]


def parse_record(data: bytes) -> dict[str, Any]:
    """Decode and validate the raw bytes of one posted record."""
    return validate(decode_record(data))


class _NotANumber(Exception):
    """``NaN`` or ``Infinity`` in a record: Python's JSON reader takes them, JSON does not."""


def _not_a_number(name: str) -> Any:
    raise _NotANumber(name)


def decode_record(data: bytes) -> Any:
    """The raw bytes of one record as JSON, or its problem (size, encoding, JSON, nesting)."""
    if len(data) > MAX_RECORD_BYTES:
        raise RecordRejected(
            "oversized_record", f"record is {len(data)} bytes, at most {MAX_RECORD_BYTES} allowed"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordRejected(
            "not_utf8", f"record is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    if _nested_too_deep(text):
        raise RecordRejected(
            "nested_too_deep", f"record nests arrays or objects more than {MAX_NESTING} deep"
        )
    try:
        raw = json.loads(text, parse_constant=_not_a_number)
    except _NotANumber as exc:
        raise RecordRejected(
            "not_json", f"record has {exc}, which JSON does not allow: a number must be finite"
        ) from None
    except json.JSONDecodeError as exc:
        raise RecordRejected(
            "not_json", f"record is not JSON: {exc.msg} at character {exc.pos}"
        ) from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, [[[[ ... 60,000 deep
        raise RecordRejected(
            "not_json", f"record cannot be read as JSON ({type(exc).__name__})"
        ) from None
    if "\\u" in text and _has_lone_surrogate(raw):
        raise RecordRejected("not_utf8", "record has \\u escapes of unpaired surrogates, not text")
    return raw


_NESTING_TOKEN = re.compile(r'\\.|["\[\]{}]', re.DOTALL)
_CLOSER = {"[": "]", "{": "}"}


def _nested_too_deep(text: str) -> bool:
    """True if ``text`` is balanced JSON-like nesting deeper than ``MAX_NESTING``.

    One linear pass; brackets inside strings do not count.  Text whose brackets do not balance
    (``[[[[`` cut off) is left to the JSON decoder, which reports it as not JSON.
    """
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False
    open_: list[str] = []
    deepest = 0
    in_string = False
    for match in _NESTING_TOKEN.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or len(token) == 2:  # a bracket inside a string, or an escape
            continue
        elif token in _CLOSER:
            open_.append(_CLOSER[token])
            deepest = max(deepest, len(open_))
        elif not open_ or open_.pop() != token:
            return False
    return not open_ and not in_string and deepest > MAX_NESTING


def _has_lone_surrogate(value: Any) -> bool:
    """True if a decoded JSON value holds a lone surrogate (from a \\ud800-style escape)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def township_hint(data: bytes) -> str | None:
    """The township a record names, folded as intake folds an accepted record's (a version-1
    record names it ``town``), even when the record fails validation: for per-township counts
    of dead letters, and the web's check that a clerk posts for their own township."""
    try:
        raw = json.loads(data.decode("utf-8", errors="replace"))
    except Exception:  # not JSON, too deep, too long a number ...
        return None
    if isinstance(raw, dict):
        value = raw.get("township", raw.get("town"))
        readable = isinstance(value, str) and not _has_lone_surrogate(value)
        readable = readable and not _CONTROL.search(value) and "\ufffd" not in value
        if readable:  # \ufffd: bytes that were not UTF-8 (a GBK file)
            folded = identity_text(value)  # as an accepted record's township is read: its
            # length too, once spaces are gone (a raw length let padding pass as no township)
            return folded if 0 < len(folded) <= FIELD_BY_NAME["township"].max_len else None
    return None


def fingerprint(record: dict[str, Any]) -> str:
    """Content hash of a validated record: the same record posted twice has the same one."""
    canonical = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# JSON Schema (draft 2020-12) derived from FIELDS
