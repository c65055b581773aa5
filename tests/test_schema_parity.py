"""A township system that checks its records against the published JSON Schema gets intake's
verdict, for every record that is UTF-8 JSON of at most 64 KiB: checked with ajv (draft
2020-12), a validator independent of this code, on the demo records (good and spoiled) and on
thousands of records with awkward values.

Two rules are left out: nothing in a record may be dated after the day it is posted (no schema
can know that day; intake refuses such a record with `date_in_future`), and a township or
reference number must keep to its length once folded to NFKC (a character such as ⒇ or ﷺ
stands for several; no schema folds text).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

from ews.demo_batch import demo_batch
from schemas.export import schema_text
from schemas.record import MAX_RECORD_BYTES, V1_RENAMES, RecordRejected, check, decode_record

AJV = Path(__file__).parent / "ajv"
GOOD = {
    "township": "周庄镇",
    "village": "马庄村",
    "ref_no": "ZZ-2026-0001",
    "found_at": "2026-01-10T09:30:00+08:00",
    "category": "拖欠农民工工资",
    "description": "十几个工人讨薪，情绪激动。",
    "people_involved": 15,
    "amount_involved_yuan": 200000,
    "is_petition": True,
    "petition_received_on": "2026-01-05",
    "parties": ["王建国", "李秀英"],
}
AWKWARD = [
    None,
    "",
    "  ",
    "\u3000",
    "\ufeff",
    "\u200b",
    "\x01",
    "a\x7fb",
    "\ud800",
    "\udc00x",
    0,
    -0.0,
    -1,
    1,
    1.5,
    15.0,
    1e20,
    1e400,
    True,
    False,
    "15",
    "是",
    "true",
    [],
    ["a" * 33],
    ["张三"],
    ["\x02"],
    [" 张三 "],
    ["a"] * 51,
    "张三,李四",
    {"a": 1},
    "a" * 65,
    " " + "a" * 64 + " ",
    "x" * 161,
    "\u3000ZZ-1\u3000",
    "Z\u200bZ",
    "\u200e\u200b",
    "2026-02-29",
    "2024-02-29",
    "2026/01/10 09:00",
    "2026-01-10T09:00:00+08:00",
    "2026-01-10T24:00",
    "2026-01-10T09",
    "20260110",
    "1999-12-31",
    "2000-01-01",
    "9999-12-31T23:59:59-12:00",
    "9998-12-31",
    "9999-12-31",
    "2026-13-01",
    "2026-1-10",
    "2026-01-10T09:00:00.1234567Z",
    "2026-01-10 09:00:60",
    "2026-01-10t09:00:00z",
    "邻里纠纷",
    " 邻里纠纷",
    "neighbour",
    "打架斗殴",
    "mediating",
    "Mediating",
    "resolved",
    "initial",
    "follow_up",
    "skip_level",
    2,
    100000,
    100001,
    1000,
    1001,
    1e11,
    1e11 + 1,
]
VERSIONS = [None, 1, 2, 2.0, 3, True, "2", 0]


def _awkward_text(rng: random.Random) -> str:
    """A short string of characters from everywhere: spaces, format and control characters,
    full-width forms, astral planes."""
    pools = [
        [" ", "\t", "\n", "\u00a0", "\u2028", "\u3000", "\x1c"],
        ["\u200b", "\u200e", "\ufeff", "\u2066", "\U000e0001", "\u00ad"],
        ["\x00", "\x08", "\x1f", "\x7f"],
        ["Ｚ", "１", "－", "é", "中", "\U0001f600", "\U00020000", "a", "-", "/"],
    ]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 6)))


def awkward_records(n: int, seed: int = 7) -> list[object]:
    rng = random.Random(seed)
    out: list[object] = []
    names = list(GOOD) + ["schema_version", "follow_up_status", "record_kind", "remarks"]
    for _ in range(n):
        r: dict[str, object] = dict(GOOD)
        for _ in range(rng.randint(1, 3)):
            field = rng.choice(names)
            roll = rng.random()
            if roll < 0.1:
                r.pop(field, None)
            elif roll < 0.25:
                r[field] = _awkward_text(rng) + rng.choice(["", "ZZ-1", "2026-01-10", "邻里纠纷"])
            elif field == "schema_version":
                r[field] = rng.choice(VERSIONS)
            else:
                r[field] = rng.choice(AWKWARD)
        if rng.random() < 0.1:  # the version-1 names, or some of them
            r = {_v1(k, rng): v for k, v in r.items()}
        if rng.random() < 0.03:
            r["unknown_column"] = 1
        out.append(r if rng.random() > 0.01 else rng.choice([[r], "text", 5, None]))
    return out


def _v1(name: str, rng: random.Random) -> str:
    back = {v: k for k, v in V1_RENAMES.items()}
    return back.get(name, name) if rng.random() < 0.8 else name


def _encoded(records: list[object], rng: random.Random) -> list[bytes]:
    out = []
    for r in records:
        try:
            text = json.dumps(r, ensure_ascii=rng.random() < 0.5, allow_nan=False)
        except ValueError:  # 1e400 is no JSON number
            continue
        try:
            out.append(text.encode("utf-8"))
        except UnicodeEncodeError:  # an unpaired surrogate: only as a \\u escape
            out.append(json.dumps(r, ensure_ascii=True).encode("ascii"))
    return out


def _version(raw: object) -> int:
    """The schema a township system would check a record against: the version it declares,
    or version 1 when it uses version-1 names without declaring one."""
    if isinstance(raw, dict):
        v = raw.get("schema_version")
        if type(v) in (int, float) and v == 1:
            return 1
        if "schema_version" not in raw and any(k in raw for k in V1_RENAMES):
            return 1
    return 2


def _intake_accepts(data: bytes) -> bool:
    try:
        raw = decode_record(data)
    except RecordRejected:
        return False
    return not check(raw)[1]


def test_the_json_schema_gives_intakes_verdict_on_every_record(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the schema parity test (.ci/run installs it)"
    assert (AJV / "node_modules" / "ajv").is_dir(), "run `make setup` (npm ci in tests/ajv)"
    for version in (1, 2):
        (tmp_path / f"v{version}.json").write_text(schema_text(version), encoding="utf-8")
    rng = random.Random(11)
    corpus = [p.data for p in demo_batch(3000, bad_fraction=0.3)]
    corpus += _encoded(awkward_records(6000), rng)
    corpus = [d for d in corpus if len(d) <= MAX_RECORD_BYTES]
    lines, kept = [], []
    for data in corpus:
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue  # not UTF-8 JSON: outside what a schema can judge
        lines.append(f'{{"version":{_version(raw)},"record":{data.decode("utf-8")}}}')
        kept.append(data)
    done = subprocess.run(
        [node, str(AJV / "validate.mjs"), str(tmp_path / "v1.json"), str(tmp_path / "v2.json")],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    ajv = [line == "1" for line in done.stdout.split()]
    assert len(ajv) == len(kept) > 7000
    intake = [_intake_accepts(d) for d in kept]
    differ = [(d, a) for d, a, i in zip(kept, ajv, intake, strict=True) if a != i]
    shown = "\n".join(f"ajv {'accepts' if a else 'refuses'}: {d[:300]!r}" for d, a in differ[:8])
    assert not differ, f"{len(differ)} of {len(kept)} verdicts differ:\n{shown}"
    assert 0.2 < sum(intake) / len(intake) < 0.9  # both verdicts are well represented
