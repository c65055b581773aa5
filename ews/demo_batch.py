"""A demo or test batch of posted records: synthetic county records plus bad ones of every kind.

Each item says what the intake should make of it (``expect``: ``accepted`` or the dead-letter
reason code) and which township it counts under, so a run can be checked exactly.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, replace

from schemas.receipts import UNKNOWN_TOWNSHIP
from schemas.record import MAX_TEXT_CHARS

BAD_KINDS = (
    "wrong_type",
    "missing_field",
    "unknown_category",
    "not_utf8",
    "oversized_text",
    "not_json",
    "not_an_object",
    "invalid_value",
)


@dataclass(frozen=True)
class Posting:
    data: bytes
    township: str
    expect: str  # "accepted" or a dead-letter reason code
    duplicate: bool = False
    posted_at_ms: int | None = None  # when a clerk would have posted it (found + minutes)


def _dump(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def spoil(record: dict, kind: str, rng: random.Random) -> Posting:
    """A bad posting of the given kind made from a good record."""
    township = record["township"]
    r = dict(record)
    if kind == "wrong_type":
        r[rng.choice(["people_involved", "amount_involved_yuan", "prior_visits"])] = "很多"
    elif kind == "missing_field":
        del r["township"]
        township = UNKNOWN_TOWNSHIP
    elif kind == "unknown_category":
        r["category"] = rng.choice(["交通事故", "其他", "医疗纠纷", "catX"])
    elif kind == "not_utf8":
        broken = _dump(r).replace(b'"description": "', b'"description": "\xff\xfe', 1)
        return Posting(broken, township, kind)
    elif kind == "oversized_text":
        r["description"] = (r["description"] + "，") * (
            MAX_TEXT_CHARS // max(len(r["description"]), 1) + 2
        )
    elif kind == "not_json":
        return Posting(
            b"\x00" + bytes(rng.choice(b'{}[]:,"#@ abcxyz0123') for _ in range(rng.randint(5, 80))),
            UNKNOWN_TOWNSHIP,
            kind,
        )
    elif kind == "not_an_object":
        return Posting(_dump([r["township"], r["ref_no"]]), UNKNOWN_TOWNSHIP, kind)
    elif kind == "invalid_value":
        r["found_at"] = rng.choice(["上周三", "2026-13-45", "昨天下午"])
    else:
        raise ValueError(kind)
    return Posting(_dump(r), township, kind)


def demo_batch(
    n: int, bad_fraction: float = 0.05, seed: int = 7, duplicates: int = 0
) -> list[Posting]:
    """``n`` postings: synthetic records, ``bad_fraction`` of them spoiled (every kind in turn),
    plus ``duplicates`` exact re-posts of good records (accepted, but no new events)."""
    from models.synthetic import generate_county, posting_order

    rng = random.Random(seed)
    records: list[dict] = []
    cases = max(1, n // 3)
    while len(records) < n:
        records = posting_order(generate_county(cases, seed=seed))
        cases *= 2
    records = records[:n]
    n_bad = round(n * bad_fraction)
    bad_at = set(rng.sample(range(n), n_bad))
    out: list[Posting] = []
    kinds = iter(BAD_KINDS * (n_bad // len(BAD_KINDS) + 1))
    for i, record in enumerate(records):
        if i in bad_at:
            out.append(spoil(record, next(kinds), rng))
        else:
            out.append(Posting(_dump(record), record["township"], "accepted"))
    out_first = list(out)
    good = [p for p in out if p.expect == "accepted"]
    for p in rng.sample(good, min(duplicates, len(good))):
        after = next(i for i, q in enumerate(out) if q is p) + 1  # a re-post, after the post
        out.insert(
            rng.randrange(after, len(out) + 1), Posting(p.data, p.township, "accepted", True)
        )
    return _stamped(out, {id(p): r for p, r in zip(out_first, records, strict=True)})


def _stamped(postings: list[Posting], records: dict[int, dict]) -> list[Posting]:
    """Each posting with the time a clerk would have posted it: its record's found time plus
    2-27 minutes (as the synthetic county's event log has it), never earlier than the one
    before; a re-post comes right after the posting before it."""
    from models.synthetic.county import found_at_key

    out, last = [], 0
    for p in postings:
        record = records.get(id(p))
        if record is not None and not p.duplicate:
            delay = 120 + int.from_bytes(p.data[-3:], "big") % 1500
            at = int((found_at_key(record).timestamp() + delay) * 1000)
        else:
            at = last + 1
        last = max(at, last + 1)
        out.append(replace(p, posted_at_ms=last))
    return out


def expected_counts(batch: list[Posting]) -> dict[str, tuple[int, int, int]]:
    """(received, accepted, dead_lettered) per township that the system must report."""
    received: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    for p in batch:
        received[p.township] += 1
        if p.expect == "accepted":
            accepted[p.township] += 1
    return {t: (received[t], accepted[t], received[t] - accepted[t]) for t in received}
