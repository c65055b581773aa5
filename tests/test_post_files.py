"""Reading the files townships keep (JSON lines, CSV in the encodings office software writes,
Excel), and what a clerk is told about each row before it is posted."""

import json

import pytest

from schemas.record import parse_record
from streams.post import case_key, key_for
from web.sheets import FileRefused, check_rows, read_rows

HEADER = "乡镇,村(社区),排查编号,发现时间,纠纷类别,情况描述,涉及人数,涉及金额\n"
ROWS = [
    "周庄镇,马庄村,ZZ-2026-0001,2026-01-10,拖欠农民工工资,十几个工人讨薪,15,200000\n",
    "城关镇,,CG-7,2026-01-11,邻里纠纷,排水口角,,\n",
]
NOW_MS = 1_770_000_000_000  # 2026-02-02: after the rows were found


def records(path):
    return [parse_record(r.data) for r in read_rows(path)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_with_chinese_headers_in_the_encodings_office_software_writes(tmp_path, encoding):
    path = tmp_path / f"sheet-{encoding}.csv"
    path.write_bytes((HEADER + "".join(ROWS)).encode(encoding))
    got = records(path)
    assert [r["ref_no"] for r in got] == ["ZZ-2026-0001", "CG-7"]
    assert got[0]["people_involved"] == 15 and got[0]["category"] == "unpaid_wages"
    assert "people_involved" not in got[1]


def test_csv_with_bare_carriage_returns_reads_every_row(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes((HEADER + "".join(ROWS)).replace("\n", "\r").encode("utf-8"))
    assert [r["ref_no"] for r in records(path)] == ["ZZ-2026-0001", "CG-7"]
    assert [r.number for r in read_rows(path)] == [2, 3]  # the sheet's own row numbers


def test_two_columns_for_one_field_or_a_column_no_field_has_refuse_the_file(tmp_path):
    path = tmp_path / "numbered.csv"
    path.write_text("编号," + HEADER.replace("排查编号", "排查编号") + "", encoding="utf-8")
    with pytest.raises(FileRefused) as err:
        read_rows(path)
    assert "编号 and 排查编号 are both ref_no" in str(err.value)
    assert "nothing was posted" in str(err.value)
    assert str(err.value).startswith("numbered.csv：两列是同一项：编号与排查编号（请保留一列）")
    assert "未提交任何记录" in str(err.value)
    path.write_text("序号," + HEADER, encoding="utf-8")
    with pytest.raises(FileRefused) as err:
        read_rows(path)
    assert "columns no field has: 序号" in str(err.value)
    assert "表头有无法识别的列：序号（请删除或改名）" in str(err.value)


def test_a_file_named_xlsx_that_is_no_workbook_is_refused_with_what_to_do(tmp_path):
    for name, data in (
        ("fake.xlsx", HEADER.encode("utf-8")),
        ("empty.xlsx", b"PK\x05\x06" + bytes(18)),
    ):
        path = tmp_path / name
        path.write_bytes(data)  # a CSV renamed, and an empty zip archive
        with pytest.raises(FileRefused) as err:
            read_rows(path)
        assert str(err.value).startswith(f"{name}：不是 Excel 工作簿，请用 Excel 或 WPS 另存为")
        assert "not an Excel workbook" in str(err.value) and "as .csv" in str(err.value)


def test_a_row_with_more_cells_than_the_header_is_a_row_error_not_a_smaller_number(tmp_path):
    path = tmp_path / "comma.csv"  # 200,000 unquoted: the amount is split over two cells
    path.write_text(HEADER + ROWS[0].replace("200000", "200,000"), encoding="utf-8")
    [problem] = check_rows(read_rows(path), NOW_MS)
    assert problem.code == "extra_cells" and "'000'" in problem.message
    assert problem.line().startswith("comma.csv 第2行：单元格比表头多")


def test_jsonl_lines_are_posted_as_they_are_even_when_broken(tmp_path):
    good = json.dumps({"township": "周庄镇", "ref_no": "a"}, ensure_ascii=False).encode()
    path = tmp_path / "r.jsonl"
    path.write_bytes(good + b"\n\xff\xfe broken\n\n")
    rows = read_rows(path)
    assert [r.data for r in rows] == [good, b"\xff\xfe broken"]
    assert [r.number for r in rows] == [1, 2]
    assert key_for(good) == "周庄镇|A".encode()
    assert case_key(rows[1].data) is None
    # a row whose case is unread: each posting of it goes to one partition, whatever the file
    broken = rows[1].data
    assert key_for(broken) == key_for(broken) != key_for(b"\xff other")
    assert key_for(broken, [("ews-key", b"s.jsonl:2:ab12")]) == b"s.jsonl:2:ab12"
    # every spelling of one case goes to one partition, after the records before it
    spelt = (
        {"township": "周庄镇\u200b", "ref_no": "ａ－1"},
        {"township": "周庄镇", "ref_no": "A - 1"},
    )
    keys = {case_key(json.dumps(r, ensure_ascii=False).encode()) for r in spelt}
    assert keys == {"周庄镇|A-1".encode()}


def test_the_same_row_of_the_same_file_has_the_same_idempotency_key(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    first, again = read_rows(path), read_rows(path)
    assert [r.key for r in first] == [r.key for r in again]
    assert len({r.key for r in first}) == 2


def _sheet(path, header, rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.save(path)


def test_excel_sheet(tmp_path):
    path = tmp_path / "sheet.xlsx"
    _sheet(
        path,
        HEADER.strip().split(","),
        [[v if v else None for v in row.strip().split(",")] for row in ROWS],
    )
    assert [r["township"] for r in records(path)] == ["周庄镇", "城关镇"]


def test_a_clerk_sees_every_problem_of_every_row_by_row_and_column_in_chinese(tmp_path):
    """Five rows as a township clerk typed them: a date written 昨天, a missing 排查编号, the
    category 打架斗殴 (not one of the county's), and a row with all three."""
    header = ["乡镇", "排查编号", "发现时间", "纠纷类别", "情况描述"]
    rows = [
        ["周庄镇", "ZZ-1", "2026-01-10", "邻里纠纷", "院墙纠纷"],
        ["周庄镇", "ZZ-2", "昨天", "邻里纠纷", "排水纠纷"],
        ["周庄镇", None, "2026-01-11", "邻里纠纷", "宅基地边界"],
        ["周庄镇", "ZZ-4", "2026-01-12", "打架斗殴", "酒后口角"],
        ["周庄镇", None, "昨天", "打架斗殴", "三处都错"],
    ]
    path = tmp_path / "周庄镇-2026-01.xlsx"
    _sheet(path, header, rows)
    problems = check_rows(read_rows(path), NOW_MS)
    lines = [p.line() for p in problems]
    assert [(p.row.number, p.column) for p in problems] == [
        (3, "发现时间"),
        (4, "排查编号"),
        (5, "纠纷类别"),
        (6, "排查编号"),
        (6, "发现时间"),
        (6, "纠纷类别"),
    ]
    assert lines[0] == (
        "周庄镇-2026-01.xlsx 第3行 “发现时间”列：取值不合理（found_at is not a date: '昨天' "
        "(like 2026-03-05, 2026/3/5 or 2026-03-05 09:30)）"
    )
    assert "缺少必填项" in lines[1] and "不是规定的纠纷类别" in lines[2]
    assert all("（" in line and line.endswith("）") for line in lines)  # English beside it


def test_a_file_of_another_type_or_encoding_is_refused_in_chinese_with_what_to_do(tmp_path):
    path = tmp_path / "排查.txt"
    path.write_text(HEADER, encoding="utf-8")
    with pytest.raises(FileRefused) as err:
        read_rows(path)
    assert str(err.value).startswith("排查.txt：不支持的文件类型 .txt，请用 .jsonl、")
    assert "unknown file type '.txt'" in str(err.value)
    path = tmp_path / "排查.csv"
    path.write_bytes(HEADER.encode("utf-8")[:20] + b"\xff\xff\x80")
    with pytest.raises(FileRefused) as err:
        read_rows(path)
    assert str(err.value).startswith("排查.csv：文件编码无法识别，请另存为“CSV UTF-8”")
