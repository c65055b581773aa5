"""The files townships post, read row by row as the clerk sees them.

* JSON lines (``.jsonl``): one record per line; each line's bytes are posted as they are;
* CSV (``.csv``): UTF-8 (with or without a byte-order mark), UTF-16 (with one) or GB18030 (the
  superset of GBK that Chinese office software writes); line ends ``\\n``, ``\\r\\n`` or a bare
  ``\\r``;
* Excel (``.xlsx``): the first sheet.

A sheet's header may use the field names or the Chinese column titles in ``COLUMN_TITLES``.
Each column must map to one field: a title no field has, or two columns for one field (``编号``
beside ``排查编号``), refuse the whole file with the columns named, rather than letting one
column overwrite another.  A row with more cells than the header keeps them under
``_extra_cells``, which intake refuses (``extra_cells``: an unquoted ``200,000`` once became
15).  Every row gets an idempotency key (file name, row number and content), so posting the same
file twice counts each row once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from domain.intake import BY_HEADER, KEY_HEADER, ROW_HEADER, SOURCE_HEADER, Posted, inspect
from schemas.reasons import reason_zh
from schemas.record import (
    ESCALATION_KINDS,
    EXTRA_CELLS,
    FIELD_BY_NAME,
    FOLLOW_UP_STATUSES,
    RECORD_KINDS,
    SATISFACTION,
)

COLUMN_TITLES = {
    "乡镇": "township",
    "村(社区)": "village",
    "村/社区": "village",
    "村": "village",
    "排查编号": "ref_no",
    "编号": "ref_no",
    "记录类型": "record_kind",
    "排查人": "reporter",
    "联系电话": "reporter_phone",
    "发现时间": "found_at",
    "纠纷类别": "category",
    "类别": "category",
    "情况描述": "description",
    "当事人": "parties",
    "涉及人数": "people_involved",
    "涉及金额": "amount_involved_yuan",
    "涉及金额(元)": "amount_involved_yuan",
    "是否信访事项": "is_petition",
    "信访受理日期": "petition_received_on",
    "此前上访次数": "prior_visits",
    "越级上访次数": "prior_skip_level",
    "责任单位": "responsible_unit",
    "包案领导": "leader_in_charge",
    "已采取措施": "measures_taken",
    "跟进状态": "follow_up_status",
    "升级类型": "escalation_kind",
    "回访满意度": "satisfaction",
    "备注": "remarks",
}
SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".xlsx")


class FileRefused(ValueError):
    """A file that cannot be read row by row as it stands (the message says what to change,
    in Chinese for the clerk and in English in brackets, as the row problems are given)."""

    def __init__(self, name: str, zh: str, detail: str) -> None:
        super().__init__(f"{name}：{zh}（{detail}）")


@dataclass(frozen=True)
class Row:
    """One record of a posted file."""

    source: str  # the file's name
    number: int  # as the clerk sees it: the sheet's row (the header is row 1) or the line
    data: bytes  # the message posted for it
    titles: dict[str, str] = field(default_factory=dict)  # field -> this file's column title

    @property
    def key(self) -> str:
        """Idempotency key: the same row of the same file is the same posting."""
        digest = hashlib.sha256(f"{self.source}\x1f{self.number}\x1f".encode() + self.data)
        return digest.hexdigest()[:32]

    def title(self, name: str | None) -> str:
        """The column title this file uses for a field (the field name if it has none)."""
        return self.titles.get(name, name) if name else ""


def read_rows(path: Path) -> list[Row]:
    """Every record of a file, with where it sits; ``FileRefused`` for a file that cannot be
    read as rows (unknown type, encoding, or columns)."""
    return rows_of(path.name, path.read_bytes())


def rows_of(name: str, data: bytes) -> list[Row]:
    """Every record of a file's bytes (``name`` gives its type by its suffix)."""
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return list(_json_lines(path.name, data))
    if suffix == ".csv":
        lines = list(csv.reader(io.StringIO(decode_text(path.name, data), newline=None)))
        return _sheet_rows(path.name, lines, first_row=1)
    if suffix == ".xlsx":
        import zipfile

        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except (zipfile.BadZipFile, KeyError, OSError) as exc:  # not a workbook inside
            raise FileRefused(
                path.name,
                "不是 Excel 工作簿，请用 Excel 或 WPS 另存为 .xlsx 或 .csv",
                f"not an Excel workbook ({type(exc).__name__}); save it again as .xlsx from "
                "Excel or WPS, or as .csv",
            ) from None
        cells = [
            [v.isoformat() if hasattr(v, "isoformat") else v for v in row]
            for row in sheet.iter_rows(values_only=True)
        ]
        return _sheet_rows(path.name, cells, first_row=1)
    raise FileRefused(
        path.name,
        f"不支持的文件类型 {suffix or '（无扩展名）'}，请用 {'、'.join(SUFFIXES)}",
        f"unknown file type {suffix!r}; use {', '.join(SUFFIXES)}",
    )


def decode_text(name: str, data: bytes) -> str:
    """The text of a CSV file in the encodings Chinese office software writes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRefused(
        name,
        "文件编码无法识别，请另存为“CSV UTF-8”",
        "neither UTF-8, UTF-16 nor GB18030 text; save it as CSV UTF-8",
    )


def _json_lines(name: str, data: bytes) -> Iterable[Row]:
    for number, line in enumerate(data.splitlines(), start=1):
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")  # saved by Notepad with a BOM
        if line.strip():
            yield Row(name, number, line.strip(b"\r"))


def columns(name: str, header: Sequence[object]) -> dict[int, str]:
    """Column index -> field, from a header row; refuses titles no field has and two columns
    for one field."""
    fields: dict[int, str] = {}
    unknown: list[str] = []
    for i, cell in enumerate(header):
        title = "" if cell is None else str(cell).strip().lstrip("\ufeff")
        if not title:
            continue
        found = COLUMN_TITLES.get(title, title if title in FIELD_BY_NAME else None)
        if found is None:
            unknown.append(title)
        else:
            fields[i] = found
    twice: dict[str, list[str]] = {}
    for i, f in fields.items():
        twice.setdefault(f, []).append(str(header[i]).strip())
    twice = {f: titles for f, titles in twice.items() if len(titles) > 1}
    zh, problems = [], []
    if unknown:
        zh.append(f"表头有无法识别的列：{'、'.join(unknown)}（请删除或改名）")
        problems.append(f"columns no field has: {', '.join(unknown)} (remove or rename them)")
    if twice:
        zh.append(
            "两列是同一项：" + "；".join("与".join(t) for t in twice.values()) + "（请保留一列）"
        )
        listed = "; ".join(f"{' and '.join(t)} are both {f}" for f, t in twice.items())
        problems.append(f"two columns for one field: {listed} (keep one)")
    if problems:
        raise FileRefused(
            name, "；".join(zh) + "；未提交任何记录", "; ".join(problems) + "; nothing was posted"
        )
    return fields


_WHOLE = re.compile(r"\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.0*)?\s*(?:人|名|户|次|位|个)?\s*")
_NUMBER = re.compile(
    r"\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?)\s*(?P<wan>万)?\s*元?\s*"
)
_YES_NO = {"是": True, "否": False, "true": True, "false": False, "1": True, "0": False}
# dates as Chinese office software and clerks write them: 2026年3月5日 9时30分, 2026.3.5, 20260305
_DATE_WRITTEN = re.compile(
    r"\s*(?P<y>[0-9]{4})(?:年|\.)(?P<m>[0-9]{1,2})(?:月|\.)(?P<d>[0-9]{1,2})日?"
    r"(?:\s*(?P<h>[0-9]{1,2})\s*[时点:]\s*(?P<min>[0-9]{1,2})?\s*分?)?\s*"
    r"|\s*(?P<y8>[0-9]{4})(?P<m8>[0-9]{2})(?P<d8>[0-9]{2})\s*"
)
# the Chinese name of each choice, as the forms and the docs print it beside its code
_CHOICE_NAMES = {
    name: {zh: code for code, zh in labels.items()}
    for name, labels in (
        ("record_kind", RECORD_KINDS),
        ("follow_up_status", FOLLOW_UP_STATUSES),
        ("escalation_kind", ESCALATION_KINDS),
        ("satisfaction", SATISFACTION),
    )
}


def _written_date(text: str) -> str | None:
    """2026年3月5日 9时30分 as 2026-03-05 09:30, 2026.3.5 and 20260305 as 2026-03-05; None
    for anything else (left to the contract's own forms: 2026-03-05, 2026/3/5 9:30)."""
    m = _DATE_WRITTEN.fullmatch(text)
    if m is None:
        return None
    if m["y8"]:
        return f"{m['y8']}-{m['m8']}-{m['d8']}"
    day = f"{m['y']}-{int(m['m']):02d}-{int(m['d']):02d}"
    return day if m["h"] is None else f"{day} {int(m['h']):02d}:{int(m['min'] or 0):02d}"


def cell_value(kind: str, value: object, name: str = "") -> object:
    """What a clerk typed in a cell of field ``name``, as the record contract's JSON type:
    ``15``, ``"1,200"``, ``１５`` or ``15人`` for a count, ``"200,000.50"`` or ``12万元`` for money,
    ``是``/``否`` for yes/no, ``张三、李四`` for names, ``2026年3月5日`` or ``2026.3.5`` for a
    date, ``更正`` or ``已化解`` for a choice's code, a number typed into a text column as text.
    What does not read as its kind stays as typed, and intake says why."""
    if isinstance(value, str):
        text = value.strip()
        if kind in ("int", "number", "date", "datetime", "bool"):  # full-width digits: ASCII
            value = text = unicodedata.normalize("NFKC", text)
        if kind == "int" and (m := _WHOLE.fullmatch(value)):
            return int(m.group(1).replace(",", ""))
        if kind == "number" and (m := _NUMBER.fullmatch(value)):
            number = float(m.group(1).replace(",", "")) * (10_000 if m["wan"] else 1)
            return int(number) if number.is_integer() else number
        if kind in ("date", "datetime") and (written := _written_date(text)):
            return written
        if kind == "bool" and text.lower() in _YES_NO:
            return _YES_NO[text.lower()]
        if kind == "list":
            return [p.strip() for p in re.split("[,，、]", text) if p.strip()]
        if kind == "enum":
            return _CHOICE_NAMES.get(name, {}).get(text, text)
        return value
    if kind in ("str", "text") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)  # 排查编号 2026001
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _sheet_rows(name: str, cells: list[list[object]], first_row: int) -> list[Row]:
    if not cells:
        return []
    header = cells[0]
    fields = columns(name, header)
    titles = {f: str(header[i]).strip() for i, f in fields.items()}
    rows = []
    for offset, values in enumerate(cells[1:], start=1):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # an empty line
        record: dict[str, object] = {}
        for i, value in enumerate(values):
            if i in fields and not (
                value is None or (isinstance(value, str) and not value.strip())
            ):
                record[fields[i]] = cell_value(FIELD_BY_NAME[fields[i]].kind, value, fields[i])
        extra = [v for v in values[len(header) :] if v not in (None, "")]
        if extra:
            record[EXTRA_CELLS] = extra
        data = json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
        rows.append(Row(name, first_row + offset, data, titles))
    return rows


@dataclass(frozen=True)
class RowProblem:
    row: Row
    code: str
    message: str
    column: str  # the file's own title of the column at fault ("" when not one column)

    def line(self) -> str:
        """One line for the clerk, in Chinese with the English beside it."""
        where = f"{self.row.source} 第{self.row.number}行" + (
            f" “{self.column}”列" if self.column else ""
        )
        return f"{where}：{reason_zh(self.code)}（{self.message}）"


def check_rows(rows: Sequence[Row], now_ms: int) -> list[RowProblem]:
    """Every problem of every row, as intake will find them (the same pure admission), so the
    clerk sees them when posting rather than in the dead letters later."""
    out = []
    for row in rows:
        _, problems = inspect(Posted("records", 0, 0, now_ms, row.data))
        out.extend(RowProblem(row, p.code, p.message, row.title(p.field)) for p in problems)
    return out


def headers(row: Row, by: str | None = None, key: str | None = None) -> list[tuple[str, bytes]]:
    """The Kafka headers of a row's message: its file, its row, its idempotency key (the row's
    own unless ``key`` is given) and, when posted by an account of the web service, who."""
    out = [
        (SOURCE_HEADER, row.source.encode("utf-8")),
        (ROW_HEADER, str(row.number).encode()),
        (KEY_HEADER, (key or row.key).encode()),
    ]
    if by is not None:
        out.append((BY_HEADER, by.encode("utf-8")))
    return out
