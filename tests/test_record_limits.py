"""Hostile screening records get their own reason code; nothing but RecordRejected escapes."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from schemas.record import MAX_NESTING, RecordRejected, parse_record, validate

GOOD: dict[str, Any] = {
    "schema_version": 2,
    "township": "周庄镇",
    "village": "马庄村",
    "ref_no": "ZZ-2026-0001",
    "reporter": "王晓明",
    "reporter_phone": "13800000000",
    "found_at": "2026-01-10 09:30",
    "category": "拖欠农民工工资",
    "description": "23名工人到镇政府讨薪，包工头失联，扬言春节前到市里上访",
    "parties": ["张三", "李四"],
    "people_involved": 23,
    "amount_involved_yuan": 460000,
    "is_petition": True,
    "petition_received_on": "2026-01-08",
    "prior_visits": 1,
    "measures_taken": "镇司法所已约谈包工头",
    "follow_up_status": "mediating",
}


def enc(record: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(record, ensure_ascii=ascii_only).encode("utf-8")


def reject(data: bytes) -> RecordRejected:
    with pytest.raises(RecordRejected) as err:
        parse_record(data)
    return err.value


def test_the_base_record_is_valid_with_and_without_u_escapes() -> None:
    assert parse_record(enc(GOOD))["township"] == "周庄镇"
    assert parse_record(enc(GOOD, ascii_only=True))["township"] == "周庄镇"


# --- deep nesting -------------------------------------------------------------------------


def _nested_in_object(depth: int, inner: bytes = b'"\\u0041"') -> bytes:
    """The base record (with \\u escapes) plus a field holding ``depth`` nested arrays."""
    head = enc(GOOD, ascii_only=True)[:-1]
    return head + b', "remarks": ' + b"[" * depth + inner + b"]" * depth + b"}"


@pytest.mark.parametrize(
    "data",
    [
        # deep enough for the old recursive lone-surrogate walk (3 frames a level) to overflow,
        # shallow enough for json.loads: it escaped as RecursionError
        b"[" * 500 + b'"\\u0041"' + b"]" * 500,
        b'{"township": "\\u5468", "x": ' + b"[" * 400 + b"]" * 400 + b"}",
        b'{"township": "\\u5468", "x": ' + b'{"a": ' * 400 + b"1" + b"}" * 400 + b"}",
        _nested_in_object(600),
        # deeper than json.loads itself manages: it was not_json
        _nested_in_object(2000),
        b"[" * 30000 + b"]" * 30000,
        # just over the limit
        _nested_in_object(MAX_NESTING),
        b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1),
    ],
)
def test_nesting_deeper_than_the_limit_is_nested_too_deep(data: bytes) -> None:
    err = reject(data)
    assert err.code == "nested_too_deep"
    assert "周庄镇" not in err.message and "\\u5468" not in err.message
    assert len(err.message) < 120


def test_nesting_within_the_limit_is_judged_as_a_record() -> None:
    # remarks nested MAX_NESTING - 1 deep: total depth is MAX_NESTING, so the record is read
    # and refused for what it is (a list where text belongs)
    assert reject(_nested_in_object(MAX_NESTING - 1)).code == "wrong_type"
    assert reject(b"[" * MAX_NESTING + b"]" * MAX_NESTING).code == "not_an_object"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = "见附件[" * 500 + "]" * 500 + '{\\"' * 10
    record = {**GOOD, "remarks": text[:1000], "description": text[:4000]}
    assert parse_record(enc(record))["remarks"] == text[:1000]
    assert parse_record(enc(record, ascii_only=True))["remarks"] == text[:1000]


def test_unbalanced_deep_brackets_are_still_not_json() -> None:
    assert reject(b"[" * 60000).code == "not_json"
    assert reject(b'{"township": "\\u5468", "x": ' + b"[" * 800).code == "not_json"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_number_that_is_not_finite_is_not_json(constant: str) -> None:
    # Python's reader takes NaN and Infinity, JSON does not: a NaN amount would reach the
    # case, the features and every reader of the log as a number that is not one
    data = enc(GOOD)[:-1] + f', "amount_involved_yuan": {constant}}}'.encode()
    err = reject(data)
    assert err.code == "not_json"
    assert constant in str(err)
    assert parse_record(data.replace(constant.encode(), b"1200"))["amount_involved_yuan"] == 1200


def test_a_lone_surrogate_nested_inside_is_still_found() -> None:
    data = _nested_in_object(MAX_NESTING - 1, inner=b'"\\ud800"')
    assert reject(data).code == "not_utf8"
    assert reject(enc({**GOOD, "parties": ["张三", "\ud83d"]}, ascii_only=True)).code == "not_utf8"


# --- dates at the edge of the datetime range ------------------------------------------------


@pytest.mark.parametrize(
    "found_at",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T07:59:59+08:01",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-12:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T16:00:00+00:00",
        "9999-12-31 23:00:00-01:00",
    ],
)
def test_a_time_that_overflows_in_china_time_is_date_out_of_range(found_at: str) -> None:
    err = reject(enc({**GOOD, "found_at": found_at}))
    assert err.code == "date_out_of_range"
    assert "found_at" in err.message
    assert found_at not in err.message and "周庄镇" not in err.message


@pytest.mark.parametrize(
    "found_at, stored",
    [
        ("2000-01-01", "2000-01-01T00:00:00+08:00"),
        ("2000-01-01T00:00:00Z", "2000-01-01T08:00:00+08:00"),
        ("9998-12-31T23:59:59", "9998-12-31T23:59:59+08:00"),
        ("9998-12-31T15:59:59Z", "9998-12-31T23:59:59+08:00"),
    ],
)
def test_times_at_the_edge_that_fit_in_china_time_are_kept(found_at: str, stored: str) -> None:
    """Kept by the record contract; a time after the record was posted is refused at intake."""
    assert parse_record(enc({**GOOD, "found_at": found_at}))["found_at"] == stored


def test_a_date_only_field_is_the_day_in_china_and_at_the_edge_as_written() -> None:
    r = parse_record(enc({**GOOD, "petition_received_on": "2026-01-10T23:30:00Z"}))
    assert r["petition_received_on"] == "2026-01-11"  # 07:30 on the 11th in China
    r = parse_record(enc({**GOOD, "petition_received_on": "9999-12-31T23:59:59-12:00"}))
    assert r["petition_received_on"] == "9999-12-31"


# --- randomised: only RecordRejected ever escapes -------------------------------------------

EDGE_DATES = [
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00.000001Z",
    "9999-12-31",
    "9999-12-31T23:59:59.999999",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+12:00",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59Z",
    "10000-01-01",
    "0000-12-31",
    "2026-02-30",
    "2026/01/10 09:30",
    "2026-01-10T24:00:00",
    "2026-01-10T09:30:00+24:00",
    "",
    " ",
]
HUGE_NUMBERS = [
    "1e308",
    "1e309",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 4300,
    "-" + "9" * 4300,
    "9" * 4301,
    "1" + "0" * 30,
    "0.0000000000000000000000000001",
    "18446744073709551616",
    "-0",
]
WEIRD_STRINGS = [
    "\\ud800",
    "\\udfff",
    "\\ud83d\\ude00",
    "\\ud83dx",
    "\\u0000",
    "\\u0007",
    "\\u001b[31m",
    "\\u007f",
    "\\u2028",
    "\\ufeff",
    "\\\\",
    "\x00",
    "\x1f",
    "\t",
    "\n",
    "讨薪" * 2100,
    "",
]
FIELD_NAMES = [*GOOD, "town", "case_no", "type", "content", "date", "persons", "money", "x"]


def _splice(data: bytes, rng: random.Random, insert: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + insert + data[at:]


def _set_raw(data: bytes, rng: random.Random, raw_value: str, name: str | None = None) -> bytes:
    """The record (decoded) with one field set to raw JSON text, re-encoded by hand."""
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        return _splice(data, rng, raw_value.encode("utf-8", "surrogatepass"))
    if not isinstance(record, dict):
        return _splice(data, rng, raw_value.encode("utf-8", "surrogatepass"))
    name = name or rng.choice(FIELD_NAMES)
    record.pop(name, None)
    body = json.dumps(record, ensure_ascii=rng.random() < 0.5)[1:-1]
    sep = ", " if body else ""
    return ("{" + body + sep + json.dumps(name) + ": " + raw_value + "}").encode(
        "utf-8", "surrogatepass"
    )


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(12)
    if kind == 0:  # flip random bytes
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if buf:
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind == 1:  # truncate
        return data[: rng.randrange(len(data) + 1)]
    if kind == 2:  # nest a value, sometimes with a \u escape somewhere
        depth = rng.choice([2, 30, 31, 32, 33, 100, 333, 500, 995, 1500, 5000, 20000])
        opener, closer = rng.choice([("[", "]"), ('{"a": ', "}")])
        inner = rng.choice(['"\\u0041"', "1", '"x"', "[]", "{}", '"\\ud800"'])
        return _set_raw(data, rng, opener * depth + inner + closer * depth)
    if kind == 3:  # unbalanced brackets spliced in
        return _splice(data, rng, rng.choice(b"[]{}").to_bytes(1, "big") * rng.randint(1, 3000))
    if kind == 4:  # huge or odd numbers
        return _set_raw(data, rng, rng.choice(HUGE_NUMBERS))
    if kind == 5:  # dates at the range edges, in any field
        name = rng.choice(["found_at", "found_at", "petition_received_on", None])
        return _set_raw(data, rng, json.dumps(rng.choice(EDGE_DATES)), name)
    if kind == 6:  # lone surrogates, control characters, escapes, long text
        return _set_raw(data, rng, '"' + rng.choice(WEIRD_STRINGS) + '"')
    if kind == 7:  # raw control or invalid bytes spliced in
        return _splice(data, rng, bytes(rng.randrange(256) for _ in range(rng.randint(1, 6))))
    if kind == 8:  # a lone surrogate encoded straight into the bytes (CESU-style)
        return _splice(data, rng, "\ud800".encode("utf-8", "surrogatepass"))
    if kind == 9:  # wrong types
        raw = rng.choice(["null", "true", "[]", "{}", '["a", 1]', "[[]]", '{"a": 1}', "0"])
        return _set_raw(data, rng, raw)
    if kind == 10:  # duplicate a slice
        a, b = sorted(rng.randrange(len(data) + 1) for _ in range(2))
        return _splice(data, rng, data[a:b])
    return json.dumps(  # not an object at all
        rng.choice([[], "", 0, None, [GOOD], "周庄镇"]), ensure_ascii=rng.random() < 0.5
    ).encode()


def test_random_mutations_only_ever_raise_record_rejected() -> None:
    rng = random.Random(20260110)
    codes: dict[str, int] = {}
    accepted = 0
    for i in range(2000):
        data = enc(GOOD, ascii_only=rng.random() < 0.5)
        for _ in range(rng.randint(1, 3)):
            data = _mutate(data, rng)
        try:
            parse_record(data)
            accepted += 1
        except RecordRejected as err:
            codes[err.code] = codes.get(err.code, 0) + 1
            assert err.code and err.message
            assert len(err.message) < 400, (i, err.code, err.message[:80])
        except Exception as exc:  # pragma: no cover - the failure being tested for
            pytest.fail(f"mutation {i} raised {type(exc).__name__}: {exc!s:.200}; {data[:200]!r}")
    # the mutations reach the new limits as well as the old checks
    assert {"nested_too_deep", "date_out_of_range", "not_json", "not_utf8"} <= set(codes)
    assert accepted > 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("found_at", "1999-12-31"),
        ("found_at", "1999-12-31T23:59:59+08:00"),
        ("found_at", "0001-01-01"),
        ("petition_received_on", "1066-10-14"),
    ],
)
def test_a_date_before_2000_is_out_of_range(field: str, value: str) -> None:
    err = reject(enc({**GOOD, field: value}))
    assert err.code == "date_out_of_range" and field in err.message and value not in err.message


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("people_involved", 0, "invalid_value"),
        ("people_involved", "0", "wrong_type"),  # JSON numbers only (web.sheets converts cells)
        ("amount_involved_yuan", "12,34", "wrong_type"),
        ("amount_involved_yuan", "-0", "wrong_type"),
        ("amount_involved_yuan", -5, "invalid_value"),
    ],
)
def test_numbers_no_dispute_has_are_refused(field: str, value: object, code: str) -> None:
    assert reject(enc({**GOOD, field: value})).code == code


def test_thousands_separators_are_read_by_the_sheet_reader_where_they_separate_thousands():
    from web.sheets import cell_value

    assert cell_value("number", "1,200,000.50") == 1_200_000.5
    assert cell_value("number", "12,34") == "12,34" and cell_value("int", "1,2345") == "1,2345"
    record = parse_record(enc({**GOOD, "amount_involved_yuan": 1_200_000.5}))
    assert record["amount_involved_yuan"] == 1_200_000.5


def test_a_record_mixing_version_1_and_version_2_names_is_refused_not_half_read() -> None:
    mixed = {"town": "周庄镇", "case_no": "ZZ-1", "date": "2026-01-10", "type": "邻里纠纷"}
    err = reject(enc({**mixed, "content": "院墙", "found_at": "2026-02-01"}))
    assert err.code == "mixed_versions" and "date" in err.message and "found_at" in err.message
    err = reject(enc({**GOOD, "schema_version": 1, "content": "院墙"}))
    assert err.code == "mixed_versions"
    assert parse_record(enc({**mixed, "content": "院墙"}))["found_at"].startswith("2026-01-10")


def test_a_nan_amount_handed_over_as_a_number_is_refused() -> None:
    # a sheet upload or an API client hands over Python numbers, not JSON text
    for value in (float("nan"), float("-inf")):
        with pytest.raises(RecordRejected, match="finite"):
            validate({**GOOD, "amount_involved_yuan": value})


def test_blank_party_names_and_a_negative_zero_are_normalised_away() -> None:
    r = parse_record(enc({**GOOD, "parties": ["  ", "", " 张三 "], "amount_involved_yuan": -0.0}))
    assert r["parties"] == ["张三"]
    assert str(r["amount_involved_yuan"]) == "0.0"  # and so the same fingerprint as 0
