"""Posting screening records to the records topic (kafka-python, idempotent, acks=all).

Files are read as townships keep them:

* JSON lines (``.jsonl``): one record per line; each line's bytes are posted as they are, so
  a broken line reaches the intake and is dead-lettered with its reason, never lost;
* CSV (``.csv``, UTF-8 or GBK) and Excel (``.xlsx``): one record per row; the header may use
  field names or the Chinese column titles in ``COLUMN_TITLES``.

The message key is ``township|ref_no`` where it can be read, so a case's records keep their
order in one partition.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from kafka import KafkaProducer

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


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
        client_id="ews-post",
    )


def key_for(data: bytes) -> bytes | None:
    try:
        raw = json.loads(data)
        township = raw.get("township") or raw.get("town")
        ref_no = raw.get("ref_no") or raw.get("case_no")
        if isinstance(ref_no, int) and not isinstance(ref_no, bool):
            ref_no = str(ref_no)
        if isinstance(township, str) and isinstance(ref_no, str):
            return f"{township.strip()}|{ref_no.strip().upper()}".encode()
    except Exception:
        pass
    return None


def _row_to_record(row: dict[str, object]) -> dict[str, object]:
    record: dict[str, object] = {}
    for title, value in row.items():
        if title is None or value is None or (isinstance(value, str) and not value.strip()):
            continue
        name = COLUMN_TITLES.get(str(title).strip(), str(title).strip())
        record[name] = value
    return record


def read_messages(path: Path) -> Iterator[bytes]:
    """The raw message bytes of every record in a file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        with open(path, "rb") as f:
            for number, line in enumerate(f):
                line = line.rstrip(b"\r\n")
                if number == 0:
                    line = line.removeprefix(b"\xef\xbb\xbf")  # saved by Notepad with a BOM
                if line.strip():
                    yield line
    elif suffix == ".csv":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gbk")
        for row in csv.DictReader(io.StringIO(text)):
            yield json.dumps(_row_to_record(row), ensure_ascii=False).encode("utf-8")
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True, data_only=True).active
        rows = sheet.iter_rows(values_only=True)
        header = [str(h) if h is not None else None for h in next(rows)]
        for values in rows:
            row = {
                h: (v.isoformat() if hasattr(v, "isoformat") else v)
                for h, v in zip(header, values, strict=False)
            }
            yield json.dumps(_row_to_record(row), ensure_ascii=False, default=str).encode("utf-8")
    else:
        raise ValueError(f"{path}: unknown file type {suffix!r} (use .jsonl, .csv or .xlsx)")


def post_messages(
    bootstrap: str,
    topic: str,
    messages: Iterable[bytes],
    progress: bool = False,
    timestamps_ms: Iterable[int | None] | None = None,
) -> int:
    """Post raw record messages to the records ``topic``; return how many the broker
    acknowledged.  ``timestamps_ms``: the time each was posted (a replay of history), else now."""
    stamps = iter(timestamps_ms) if timestamps_ms is not None else None
    prod = producer(bootstrap)
    futures = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit="rec", desc="posting")
    try:
        for data in messages:
            at = next(stamps) if stamps is not None else None
            futures.append(prod.send(topic, key=key_for(data), value=data, timestamp_ms=at))
            if bar is not None:
                bar.update(1)
        prod.flush()
        for f in futures:
            f.get(timeout=60)
    finally:
        if bar is not None:
            bar.close()
        prod.close()
    return len(futures)
