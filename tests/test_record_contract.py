"""The screening-record contract: validation, upcasting and the published JSON Schema."""

import json

import jsonschema
import pytest

from schemas.export import VERSIONS, schema_path, schema_text
from schemas.record import RecordRejected, fingerprint, parse_record, validate

GOOD = {
    "township": "周庄镇",
    "village": "马庄村",
    "ref_no": "ZZ-2026-0001",
    "found_at": "2026-01-10 09:30",
    "category": "拖欠农民工工资",
    "description": "23名工人到镇政府讨薪，包工头失联，扬言春节前到市里上访",
    "people_involved": 23,
    "amount_involved_yuan": 460000,
    "is_petition": True,
    "petition_received_on": "2026-01-08",
}


def enc(record) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def test_a_good_record_is_normalised():
    r = parse_record(enc(GOOD))
    assert r["category"] == "unpaid_wages"
    assert r["found_at"] == "2026-01-10T09:30:00+08:00"
    assert r["record_kind"] == "initial" and r["follow_up_status"] == "new"
    assert r["amount_involved_yuan"] == 460000.0


@pytest.mark.parametrize(
    "change, code",
    [
        ({"people_involved": "很多"}, "wrong_type"),
        ({"township": None}, "missing_field"),
        ({"township": "  "}, "missing_field"),
        ({"category": "交通事故"}, "unknown_category"),
        ({"description": "讨薪" * 3000}, "oversized_text"),
        ({"found_at": "上周三"}, "invalid_value"),
        ({"people_involved": -3}, "invalid_value"),
        ({"colour": "red"}, "unknown_field"),
        ({"schema_version": 9}, "unsupported_version"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(change, code):
    record = {**GOOD, **change}
    with pytest.raises(RecordRejected) as err:
        parse_record(enc(record))
    assert err.value.code == code
    assert err.value.message


@pytest.mark.parametrize(
    "data, code",
    [
        (b'{"township": "\xff\xfe"}', "not_utf8"),
        (b"\x00\x01garbage", "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b"{" + b'"a":"' + b"x" * 70000 + b'"}', "oversized_record"),
    ],
)
def test_bytes_that_are_not_a_record(data, code):
    with pytest.raises(RecordRejected) as err:
        parse_record(data)
    assert err.value.code == code


def test_v1_spreadsheet_record_is_upcast_not_rejected():
    v1 = {
        "town": "城关镇",
        "case_no": "cg-7",
        "type": "邻里纠纷",
        "content": "排水口角",
        "date": "2025/12/01",
        "persons": 2,
    }
    r = parse_record(enc(v1))
    assert r["schema_version"] == 2
    assert (r["township"], r["ref_no"], r["category"], r["people_involved"]) == (
        "城关镇",
        "cg-7",
        "neighbour",
        2,
    )


def test_same_record_same_fingerprint_and_a_changed_one_differs():
    a = validate(dict(GOOD))
    assert fingerprint(a) == fingerprint(validate(dict(GOOD)))
    assert fingerprint(a) != fingerprint(validate({**GOOD, "people_involved": 24}))


@pytest.mark.parametrize("version", VERSIONS)
def test_published_json_schema_files_are_in_sync_with_the_code(version):
    assert schema_path(version).read_text(encoding="utf-8") == schema_text(version), (
        "schemas/json is stale: run `ews schema`"
    )


def test_json_schema_and_validator_agree_on_examples():
    schema = json.loads(schema_text(2))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = {**GOOD, "category": "unpaid_wages", "schema_version": 2}
    assert not list(validator.iter_errors(good))
    validate(good)
    for bad in (
        {**good, "people_involved": "很多"},
        {k: v for k, v in good.items() if k != "township"},
        {**good, "category": "交通事故"},
        {**good, "colour": 1},
    ):
        assert list(validator.iter_errors(bad))
        with pytest.raises(RecordRejected):
            validate(bad)
    v1 = json.loads(schema_text(1))
    assert not list(
        jsonschema.Draft202012Validator(v1).iter_errors(
            {
                "town": "城关镇",
                "case_no": "1",
                "type": "邻里纠纷",
                "content": "x",
                "date": "2025-12-01",
            }
        )
    )


@pytest.mark.parametrize(
    "change, code",
    [
        ({"people_involved": "²"}, "wrong_type"),
        ({"amount_involved_yuan": 10**400}, "invalid_value"),
        ({"schema_version": True}, "unsupported_version"),
        ({"description": "工资\u0000拖欠"}, "invalid_value"),
        ({"parties": ["张三\u0007"]}, "invalid_value"),
    ],
)
def test_values_that_would_break_a_database_are_rejected(change, code):
    with pytest.raises(RecordRejected) as err:
        parse_record(enc({**GOOD, **change}))
    assert err.value.code == code
    assert "\x00" not in err.value.message


@pytest.mark.parametrize("data", [b'{"people_involved": ' + b"9" * 5000 + b"}", b"[" * 60000])
def test_json_too_deep_or_too_long_a_number_is_not_json(data):
    with pytest.raises(RecordRejected) as err:
        parse_record(data)
    assert err.value.code == "not_json"


def test_times_are_stored_in_china_time_to_the_second():
    r = parse_record(enc({**GOOD, "found_at": "2026-01-10T01:30:00.123456+00:00"}))
    assert r["found_at"] == "2026-01-10T09:30:00+08:00"


def test_the_record_contract_takes_json_types_and_the_sheet_reader_converts_cells():
    """A township system posts JSON types; what a clerk types in a sheet cell is converted by
    the sheet reader (web.sheets), so intake and the JSON Schema can agree exactly."""
    from web.sheets import cell_value

    for field, typed in (
        ("ref_no", 2026001),
        ("people_involved", "15"),
        ("is_petition", "是"),
        ("parties", "张三、李四"),
        ("amount_involved_yuan", "1,200,000.50"),
    ):
        with pytest.raises(RecordRejected) as err:
            parse_record(enc({**GOOD, field: typed}))
        assert err.value.code == "wrong_type", field
    cells = {
        "ref_no": cell_value("str", 2026001),
        "people_involved": cell_value("int", " 1,500 "),
        "is_petition": cell_value("bool", "是"),
        "parties": cell_value("list", "张三、李四，王五"),
        "amount_involved_yuan": cell_value("number", "1,200,000.50"),
    }
    r = parse_record(enc({**GOOD, **cells}))
    assert (r["ref_no"], r["people_involved"], r["is_petition"]) == ("2026001", 1500, True)
    assert r["parties"] == ["张三", "李四", "王五"] and r["amount_involved_yuan"] == 1_200_000.5
    assert cell_value("number", "12,34") == "12,34"  # not a number: intake says so
    assert cell_value("int", "-0") == "-0"


def test_a_sheet_takes_dates_numbers_and_choices_as_clerks_write_them():
    """Chinese dates, full-width digits, units after a number and the Chinese name of a
    choice (the names the docs and the form print beside each code) are read from a sheet's
    cells; before, each refused the whole sheet.  A count in words stays as typed, for intake
    to refuse with its reason."""
    from web.sheets import cell_value

    cells = {
        "found_at": cell_value("datetime", "2026年3月5日 9时30分"),
        "petition_received_on": cell_value("date", "2026.3.5"),
        "record_kind": cell_value("enum", "更正", "record_kind"),
        "follow_up_status": cell_value("enum", "已化解", "follow_up_status"),
        "escalation_kind": cell_value("enum", "群体性事件", "escalation_kind"),
        "satisfaction": cell_value("enum", "基本满意", "satisfaction"),
        "people_involved": cell_value("int", "１５人"),
        "prior_visits": cell_value("int", "３"),
        "amount_involved_yuan": cell_value("number", "12万元"),
        "is_petition": True,
    }
    r = parse_record(enc({**GOOD, **cells}))
    assert r["found_at"] == "2026-03-05T09:30:00+08:00"
    assert r["petition_received_on"] == "2026-03-05"
    assert (r["record_kind"], r["follow_up_status"]) == ("correction", "resolved")
    assert (r["escalation_kind"], r["satisfaction"]) == ("group_event", "basically_satisfied")
    assert (r["people_involved"], r["prior_visits"], r["amount_involved_yuan"]) == (15, 3, 120000)
    assert cell_value("date", "20260305") == "2026-03-05"
    assert cell_value("date", "２０２６－０３－０５") == "2026-03-05"
    assert cell_value("int", "三十余人") == "三十余人"
    assert cell_value("enum", "别的", "follow_up_status") == "别的"


def test_a_reference_number_is_the_same_however_it_is_typed() -> None:
    from schemas.events import case_id_for

    same = [
        ("周庄镇", "ZZ-1"),
        ("周庄镇", "ＺＺ－１"),  # full-width, from an input method
        ("周庄镇", "ZZ－1"),
        ("周庄镇", "Z\u200bZ-1 "),  # a zero-width space pasted in
        ("\ufeff周庄镇", "zz-1\u200e"),  # a byte-order mark, a left-to-right mark
        ("周庄镇", "ZZ - 1"),
    ]
    assert len({case_id_for(t, r) for t, r in same}) == 1
    assert case_id_for("周庄镇", "ZZ-1") != case_id_for("周庄镇", "ZZ-11")
    assert case_id_for("周庄镇", "ZZ-1") != case_id_for("石桥镇", "ZZ-1")


def test_a_township_or_reference_number_that_folding_makes_too_long_is_refused() -> None:
    """Folding to NFKC can make a text longer (⒇ is "(20)", ﷺ 15 once its spaces go): what intake
    keeps must still fit its limit, or PostgreSQL refuses the case's row and the case never
    shows (the township's column holds 32 characters, the reference number's 64)."""
    base = {"found_at": "2026-01-10", "category": "邻里纠纷", "description": "院墙"}
    for township, ref in (("\ufdfa" * 3, "ZZ-1"), ("周庄镇", "\u2487" * 17)):
        with pytest.raises(RecordRejected) as err:
            validate({**base, "township": township, "ref_no": ref})
        assert err.value.code == "invalid_value" and "once folded" in err.value.message
    assert (
        validate({**base, "township": "周庄镇", "ref_no": "\u2487" * 16})["ref_no"] == "(20)" * 16
    )
    from schemas.record import township_hint

    assert township_hint(json.dumps({"township": "\ufdfa" * 3}).encode()) is None
    assert township_hint(json.dumps({"township": "周庄镇\u200b"}).encode()) == "周庄镇"


def test_a_reference_number_of_invisible_characters_only_is_refused() -> None:
    base = {"township": "周庄镇", "found_at": "2026-01-10", "category": "邻里纠纷"}
    for ref in ("\ufeff", "\u200b\u200e", "\u3000"):
        with pytest.raises(RecordRejected) as err:
            validate({**base, "description": "院墙", "ref_no": ref})
        assert err.value.code == "missing_field" and "ref_no" in err.value.message
    assert validate({**base, "description": "院墙", "ref_no": "ＺＺ－１"})["ref_no"] == "ZZ-1"
