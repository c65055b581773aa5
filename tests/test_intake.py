"""Intake of one posted message, without Kafka."""

import base64

from domain.intake import Admitted, Posted, Rejected, admit
from ews.demo_batch import BAD_KINDS, Posting, demo_batch, spoil

GOOD = {
    "township": "周庄镇",
    "ref_no": "ZZ-1",
    "found_at": "2026-01-10",
    "category": "邻里纠纷",
    "description": "院墙纠纷",
}


POSTED_MS = 1_768_800_000_000  # 2026-01-19T05:20:00Z, after GOOD was found


def posted(data: bytes, offset: int = 7) -> Posted:
    return Posted("x.records", 2, offset, POSTED_MS, data)


def test_valid_record_becomes_a_command_and_an_accepted_receipt():
    import json

    out = admit(posted(json.dumps(GOOD, ensure_ascii=False).encode()))
    assert isinstance(out, Admitted)
    assert out.command.command_id == "records:2:7"
    assert out.receipt.outcome == "accepted" and out.receipt.township == "周庄镇"


def test_every_bad_kind_is_dead_lettered_with_reason_and_original_bytes():
    import random

    rng = random.Random(1)
    for kind in BAD_KINDS:
        p: Posting = spoil(GOOD, kind, rng)
        out = admit(posted(p.data))
        assert isinstance(out, Rejected), kind
        assert out.dead_letter.reason_code == kind
        assert base64.b64decode(out.dead_letter.original_b64) == p.data
        assert out.receipt.outcome == "dead_lettered"
        assert out.receipt.township == p.township


def test_empty_message_is_dead_lettered_not_a_crash():
    out = admit(posted(None))
    assert isinstance(out, Rejected) and out.dead_letter.reason_code == "not_json"


def test_reprocessing_a_message_gives_identical_outputs():
    data = spoil(GOOD, "wrong_type", __import__("random").Random(2)).data
    assert admit(posted(data)) == admit(posted(data))


def test_demo_batch_has_every_bad_kind_and_duplicates():
    batch = demo_batch(400, bad_fraction=0.05, duplicates=5)
    assert len(batch) == 405
    assert {p.expect for p in batch} >= set(BAD_KINDS) | {"accepted"}
    for p in batch:
        out = admit(posted(p.data))
        assert (out.receipt.outcome == "accepted") == (p.expect == "accepted")
        assert out.receipt.township == p.township


def test_lone_surrogate_escapes_are_dead_lettered_and_pairs_are_fine():
    lone = b'{"township": "\\ud800", "ref_no": "a", "found_at": "2026-01-01", "category": "neighbour", "description": "x"}'
    out = admit(posted(lone))
    assert isinstance(out, Rejected) and out.dead_letter.reason_code == "not_utf8"
    out.receipt.to_bytes()  # the receipt itself must be writable
    pair = lone.replace(b"\\ud800", "周庄镇".encode()).replace(b'"x"', b'"\\ud83d\\ude00"')
    assert isinstance(admit(posted(pair)), Admitted)


def test_no_input_makes_intake_raise():
    """Random damage to good records and random JSON values: always a verdict, never a crash."""
    import json
    import random

    from schemas.commands import commands_to_bytes
    from schemas.receipts import receipts_to_bytes

    rng = random.Random(5)
    base = json.dumps(GOOD, ensure_ascii=False).encode()
    values = [
        None,
        True,
        1e308,
        -1,
        10**40,
        float("inf"),
        [],
        {},
        {"a": [1]},
        "",
        "\\ud800",
        "x" * 5000,
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
    ]
    deep = b'{"township": "\\u5468", "x": ' + b"[" * 100_000 + b'"\\u0041"' + b"]" * 100_000 + b"}"
    verdicts = []
    for i in range(3000):
        if i == 0:
            data = deep
        elif i % 2:
            data = bytearray(base)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        else:
            record = dict(GOOD)
            record[
                rng.choice([*GOOD, "people_involved", "parties", "is_petition", "schema_version"])
            ] = rng.choice(values)
            data = json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")
        out = admit(posted(data, offset=i))
        receipts_to_bytes([out.receipt])
        if isinstance(out, Admitted):
            commands_to_bytes([out.command])
        else:
            out.dead_letter.to_bytes()
        verdicts.append((out.receipt.reason_code, data[:120]))
    # every rejection names what is wrong with the input: none is an unexplained failure
    assert [v for v in verdicts if v[0] == "internal_error"] == []
    assert verdicts[0][0] not in (None, "internal_error")  # the deep one


def test_the_dead_letter_of_the_largest_record_the_topic_takes_fits_the_dead_letter_topic():
    from schemas.topics import MAX_MESSAGE_BYTES, RECORD_MESSAGE_BYTES

    big = (
        b'{"township":"\xe5\x91\xa8\xe5\xba\x84\xe9\x95\x87","description":"'
        + b"x" * (RECORD_MESSAGE_BYTES - 60)
        + b'"}'
    )
    out = admit(posted(big))
    assert isinstance(out, Rejected) and out.dead_letter.reason_code == "oversized_record"
    assert len(out.dead_letter.to_bytes()) > RECORD_MESSAGE_BYTES  # the old limit: too big
    assert len(out.dead_letter.to_bytes()) < MAX_MESSAGE_BYTES  # the dead-letters topic's
    assert base64.b64decode(out.dead_letter.original_b64) == big  # kept whole
    assert out.dead_letter.township == "周庄镇"


def test_a_dead_letter_never_outgrows_its_topic_and_says_where_the_whole_original_is():
    from schemas.receipts import ORIGINAL_MAX_BYTES, REASON_MAX_CHARS, DeadLetter
    from schemas.topics import MAX_MESSAGE_BYTES

    original = b"y" * (MAX_MESSAGE_BYTES + 1)  # an internal topic's message, unreadable
    dead = DeadLetter.of(
        original,
        "ValueError: " + "z" * 10_000,
        dead_letter_id="case-commands:0:5",
        source_topic="x.case-commands",
        source_partition=0,
        source_offset=5,
        reason_code="unreadable_command",
        received_at="2026-01-01T00:00:00.000+00:00",
    )
    assert len(dead.to_bytes()) < MAX_MESSAGE_BYTES
    assert base64.b64decode(dead.original_b64) == original[:ORIGINAL_MAX_BYTES]
    assert f"the original, {len(original)} bytes, stays whole" in dead.reason
    assert len(dead.reason) < REASON_MAX_CHARS + 200


def test_a_message_whose_timestamp_is_not_a_time_is_dead_lettered_not_a_crash():
    import json

    data = json.dumps(GOOD, ensure_ascii=False).encode()
    for ms in (-5, -(10**15), 2**62):  # the broker takes negative ones (seen on Kafka 4.1)
        out = admit(Posted("x.records", 0, 3, ms, data))
        assert isinstance(out, Rejected) and out.dead_letter.reason_code == "bad_timestamp"
        assert str(ms) in out.dead_letter.reason
        assert out.receipt.outcome == "dead_lettered" and out.receipt.township == "周庄镇"
    assert Posted("x.records", 0, 3, -(10**15), data).received_at.startswith("1970-01-01")
    at_1970 = admit(Posted("x.records", 0, 3, 0, data))  # 1970 is a time, if an odd one
    assert isinstance(at_1970, Rejected) and at_1970.dead_letter.reason_code == "date_in_future"


def test_a_dead_letter_reason_never_repeats_an_id_card_or_phone_number():
    import json

    for field, value in (("found_at", "110101199003071234"), ("people_involved", "13812345678")):
        out = admit(posted(json.dumps({**GOOD, field: value}, ensure_ascii=False).encode()))
        assert isinstance(out, Rejected)
        reason = out.dead_letter.reason
        assert value not in reason and value[:3] in reason and "****" in reason, reason
        # the original is kept as posted: it is the township's own record
        assert value.encode() in base64.b64decode(out.dead_letter.original_b64)


def test_a_record_that_describes_a_day_after_it_was_posted_is_refused():
    import json

    # posted 2026-01-19 (the test's message time); 2062 typed for 2026
    for field, value in (("found_at", "2062-01-10"), ("petition_received_on", "2026-01-21")):
        out = admit(posted(json.dumps({**GOOD, field: value}, ensure_ascii=False).encode()))
        assert isinstance(out, Rejected) and out.dead_letter.reason_code == "date_in_future"
        assert field in out.dead_letter.reason
    today = {**GOOD, "found_at": "2026-01-19T23:00:00+08:00"}  # later that day, China time
    assert isinstance(admit(posted(json.dumps(today, ensure_ascii=False).encode())), Admitted)


def test_a_dead_letter_names_every_problem_of_its_record_not_only_the_first():
    import json

    bad = {**GOOD, "found_at": "昨天", "category": "打架斗殴", "people_involved": "很多"}
    del bad["ref_no"]
    out = admit(posted(json.dumps(bad, ensure_ascii=False).encode()))
    assert isinstance(out, Rejected) and out.dead_letter.reason_code == "missing_field"
    reason = out.dead_letter.reason
    for said in (
        "ref_no is required",
        "found_at is not a date",
        "unknown category",
        "people_involved",
    ):
        assert said in reason, said


def test_every_reason_a_dead_letter_can_give_has_its_chinese_text():
    import re
    from pathlib import Path

    from schemas.reasons import REASON_ZH

    root = Path(__file__).resolve().parent.parent
    source = "".join(
        (root / p).read_text(encoding="utf-8")
        for p in ("schemas/record.py", "domain/intake.py", "streams/app.py")
    )
    codes = set(re.findall(r'RecordRejected\(\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'unreadable\([^)]*?"([a-z_]+)"', source))
    codes |= set(re.findall(r'_rejected\(posted, data, "([a-z_]+)"', source))
    assert {"missing_field", "bad_timestamp", "unreadable_command", "internal_error"} <= codes
    assert codes <= set(REASON_ZH), codes - set(REASON_ZH)


def test_the_demo_posts_every_record_at_a_time_intake_accepts_for_it():
    """The demo replays history with the times a clerk would have posted each record; a re-post
    comes after its first post, never before the record was found."""
    batch = demo_batch(3000, bad_fraction=0.05, duplicates=50)
    for i, p in enumerate(batch):
        out = admit(Posted("x.records", 0, i, p.posted_at_ms, p.data))
        assert (out.receipt.outcome == "accepted") == (p.expect == "accepted"), (
            out.receipt.reason_code
        )


def test_a_spreadsheet_s_dates_are_taken_and_full_width_digits_are_a_plain_problem():
    import json

    def out(found_at: str):  # noqa: ANN202
        return admit(posted(json.dumps({**GOOD, "found_at": found_at}).encode()))

    for written, stored in (
        ("2026/1/5", "2026-01-05T00:00:00+08:00"),  # as Excel's Chinese locale writes them
        ("2026/1/5 9:30", "2026-01-05T09:30:00+08:00"),
        ("2026-1-05 09:30:15", "2026-01-05T09:30:15+08:00"),
    ):
        admitted = out(written)
        assert isinstance(admitted, Admitted), written
        assert admitted.command.record["found_at"] == stored
    for written in ("2026-01-05 1０:30", "２０２６-01-05", "2026/13/5", "2026/2/30"):
        rejected = out(written)
        assert isinstance(rejected, Rejected), written
        assert rejected.dead_letter.reason_code == "invalid_value", rejected.dead_letter.reason
        assert "like 2026-03-05" in rejected.dead_letter.reason


def test_a_date_in_the_future_is_told_by_the_day_in_china_it_was_posted():
    import json

    # posted at 07:00 on 20 January in China (23:00 UTC on the 19th), dated the 22nd
    at = 1_768_863_600_000  # 2026-01-19T23:00:00Z
    data = json.dumps({**GOOD, "found_at": "2026-01-22"}).encode()
    out = admit(Posted("x.records", 0, 1, at, data))
    assert isinstance(out, Rejected) and "(2026-01-20)" in out.dead_letter.reason
    # the last day a clock can show: nothing is after it, nothing overflows
    late = admit(Posted("x.records", 0, 1, 253_402_300_799_000, data))
    assert isinstance(late, Admitted)


def test_a_dead_letter_is_counted_under_the_township_an_accepted_record_would_be():
    import json

    from schemas.receipts import UNKNOWN_TOWNSHIP

    for spelt in ("周庄镇\u200b", "周庄 镇", " 周庄镇"):
        bad = json.dumps({**GOOD, "township": spelt, "found_at": "昨天"}).encode()
        out = admit(posted(bad))
        assert isinstance(out, Rejected) and out.receipt.township == "周庄镇", spelt
    gbk = json.dumps({**GOOD, "found_at": "昨天"}, ensure_ascii=False).encode("gbk")
    out = admit(posted(gbk))  # bytes that are not UTF-8: no township can be read from them
    assert isinstance(out, Rejected) and out.receipt.township == UNKNOWN_TOWNSHIP
