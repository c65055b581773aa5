"""Reading the files townships keep: JSON lines, CSV (UTF-8 or GBK, Chinese headers), Excel."""

import json

from schemas.record import RecordRejected, parse_record
from streams.post import key_for, read_messages

HEADER = "乡镇,村(社区),排查编号,发现时间,纠纷类别,情况描述,涉及人数,涉及金额\n"
ROWS = [
    "周庄镇,马庄村,ZZ-2026-0001,2026-01-10,拖欠农民工工资,十几个工人讨薪,15,200000\n",
    "城关镇,,CG-7,2026-01-11,邻里纠纷,排水口角,,\n",
]


def test_csv_with_chinese_headers_in_utf8_and_gbk(tmp_path):
    for encoding in ("utf-8-sig", "gbk"):
        path = tmp_path / f"sheet-{encoding}.csv"
        path.write_bytes((HEADER + "".join(ROWS)).encode(encoding))
        records = [parse_record(m) for m in read_messages(path)]
        assert [r["ref_no"] for r in records] == ["ZZ-2026-0001", "CG-7"]
        assert records[0]["people_involved"] == 15 and records[0]["category"] == "unpaid_wages"
        assert "people_involved" not in records[1]


def test_jsonl_lines_are_posted_as_they_are_even_when_broken(tmp_path):
    good = json.dumps({"township": "周庄镇", "ref_no": "a"}, ensure_ascii=False).encode()
    path = tmp_path / "r.jsonl"
    path.write_bytes(good + b"\n\xff\xfe broken\n\n")
    messages = list(read_messages(path))
    assert messages == [good, b"\xff\xfe broken"]
    assert key_for(good) == "周庄镇|A".encode()
    assert key_for(messages[1]) is None


def test_excel_sheet(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.strip().split(","))
    for row in ROWS:
        ws.append([v if v else None for v in row.strip().split(",")])
    path = tmp_path / "sheet.xlsx"
    wb.save(path)
    records = []
    for m in read_messages(path):
        try:
            records.append(parse_record(m))
        except RecordRejected as exc:  # pragma: no cover - shown on failure
            raise AssertionError(exc.message) from exc
    assert [r["township"] for r in records] == ["周庄镇", "城关镇"]
