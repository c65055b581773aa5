"""Why a case scored high: its top contributing factors in plain Chinese and English.

The model is a logistic regression, so a case's log-odds is exactly the intercept plus one
contribution per design column (coefficient x value; numeric values are standardised, so a
numeric contribution is relative to the average training case).  Contributions are summed per
source feature (all one-hot columns of ``category`` are one factor, all text n-grams another),
the largest positive ones are kept, and each is written from the case's own values, e.g.
"涉及人数多（32人）/ many people involved (32)".  Calibration (a monotone map of the log-odds)
does not change which factors push the score up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from domain.risk.assess import Factor
from domain.risk.features import PETITION_LIMIT_DAYS
from domain.risk.lexicon import Lexicon
from domain.risk.policy import default_policy
from models.estimator import EscalationRiskModel, base_model
from models.text import char_ngrams, ngram_slots
from schemas.categories import BY_CODE
from schemas.record import FOLLOW_UP_STATUSES

Phrase = Callable[[float], tuple[str, str]]


def _n(v: float) -> str:
    return f"{v:.0f}"


def _money(v: float) -> tuple[str, str]:
    return f"涉及金额大（约{v / 10000:.1f}万元）", f"large sum at stake (about {v:,.0f} yuan)"


# feature -> (phrase when the value is high / present, phrase when it is low / absent or None)
PHRASES: dict[str, tuple[Phrase, Phrase | None]] = {
    "people_max": (lambda v: (f"涉及人数多（{_n(v)}人）", f"many people involved ({_n(v)})"), None),
    "people_latest": (
        lambda v: (f"目前涉及{_n(v)}人", f"{_n(v)} people involved now"),
        None,
    ),
    "people_growth": (
        lambda v: (
            f"涉及人数在增加（+{_n(v)}人）",
            f"more people involved than at first (+{_n(v)})",
        ),
        None,
    ),
    "amount_max_yuan": (_money, None),
    "prior_visits": (
        lambda v: (f"此前已上访{_n(v)}次", f"{_n(v)} earlier visits about this matter"),
        None,
    ),
    "prior_skip_level": (
        lambda v: (f"曾越级上访{_n(v)}次", f"{_n(v)} earlier skip-level petition(s)"),
        None,
    ),
    "is_petition": (lambda v: ("属已受理信访事项", "an accepted petition"), None),
    "petition_days": (
        lambda v: (
            f"信访事项已受理{_n(v)}天（时限{PETITION_LIMIT_DAYS}天）",
            f"petition open {_n(v)} days (limit {PETITION_LIMIT_DAYS})",
        ),
        None,
    ),
    "petition_due_soon": (
        lambda v: ("信访办理时限将到（不足15天）", "petition time limit less than 15 days away"),
        None,
    ),
    "petition_overdue": (
        lambda v: (
            f"已超过{PETITION_LIMIT_DAYS}天办理时限",
            f"past the {PETITION_LIMIT_DAYS}-day time limit",
        ),
        None,
    ),
    "days_to_spring_festival": (
        lambda v: (f"距春节{_n(v)}天", f"{_n(v)} days to Spring Festival"),
        lambda v: (f"临近春节（{_n(v)}天）", f"Spring Festival is near ({_n(v)} days)"),
    ),
    "pre_festival": (lambda v: ("春节前四周内", "within four weeks of Spring Festival"), None),
    "pay_dispute_pre_festival": (
        lambda v: (
            "春节前讨薪、讨工程款高发期",
            "wage or payment dispute just before Spring Festival",
        ),
        None,
    ),
    "two_sessions": (lambda v: ("两会期间", "during the Two Sessions"), None),
    "days_open": (
        lambda v: (f"已持续{_n(v)}天未化解", f"open for {_n(v)} days"),
        lambda v: (f"新发现的纠纷（{_n(v)}天）", f"newly found ({_n(v)} days ago)"),
    ),
    "days_since_last_record": (
        lambda v: (f"已{_n(v)}天没有新进展", f"no news for {_n(v)} days"),
        lambda v: (f"近期仍有动态（{_n(v)}天前）", f"recent activity ({_n(v)} days ago)"),
    ),
    "n_records": (lambda v: (f"共有{_n(v)}条记录", f"{_n(v)} records so far"), None),
    "n_follow_ups": (lambda v: (f"已续报{_n(v)}次", f"{_n(v)} follow-up reports"), None),
    "n_corrections": (lambda v: (f"记录更正{_n(v)}次", f"{_n(v)} corrections"), None),
    "records_last_30d": (
        lambda v: (f"近30天有{_n(v)}条记录", f"{_n(v)} records in the last 30 days"),
        None,
    ),
    "has_measures": (
        lambda v: ("已采取措施", "measures taken"),
        lambda v: ("尚未采取化解措施", "no measures taken yet"),
    ),
    "n_measures": (
        lambda v: (f"已采取措施{_n(v)}次", f"{_n(v)} measures taken"),
        lambda v: ("尚未采取化解措施", "no measures taken yet"),
    ),
    "threat_latest": (
        lambda v: ("最新记录中有明确扬言", "explicit threat in the latest record"),
        None,
    ),
    "calming_latest": (
        lambda v: ("最新记录显示趋于缓和", "latest record says things calmed down"),
        lambda v: ("最新记录未见缓和迹象", "no sign of calming in the latest record"),
    ),
}


def _signal_phrase(code: str, text: str, lexicon: Lexicon) -> tuple[str, str]:
    group = lexicon.group(code)
    words = lexicon.hits(text, group.phrases)[:3]
    said = f"（{'、'.join(words)}）" if words else ""
    said_en = f" ({', '.join(words)})" if words else ""
    return f"记录中有{group.zh}{said}", f"records mention {group.en}{said_en}"


def _categorical_phrase(name: str, value: str) -> tuple[str, str]:
    if name == "category":
        cat = BY_CODE.get(value)
        return (
            f"纠纷类别：{cat.label if cat else value}",
            f"dispute category: {cat.english if cat else value}",
        )
    if name == "status":
        return f"当前状态：{FOLLOW_UP_STATUSES.get(value, value)}", f"current status: {value}"
    return f"所在乡镇：{value}", f"township: {value}"


# Features that move together are explained as one: the follow-up status and the measures
# taken both say how far handling has come.
GROUPS = {"status": "progress", "has_measures": "progress", "n_measures": "progress"}


def explain_rows(
    model: Any,
    rows: Sequence[dict[str, Any]],
    top: int = 3,
    min_weight: float = 0.05,
    design: Any = None,
    lexicon: Lexicon | None = None,
) -> list[list[Factor]]:
    """The ``top`` factors that raise each row's score most over the average training case
    (a batch of feature dicts).  Every factor is measured against that one reference; features
    that move together are summed into one factor (``GROUPS``).  ``design``: the rows' design
    matrix if it is at hand (``EscalationRiskModel.design_matrix``); ``lexicon``: the one the
    rows' features were counted with (the packaged policy's if None), whose words a factor
    quotes."""
    base: EscalationRiskModel = base_model(model)
    lexicon = lexicon or default_policy().lexicon
    design = sp.csr_matrix(base.design_matrix(rows) if design is None else design)
    contrib, _ = base.contributions_in(design)
    reference = base.reference()
    contrib = contrib.tocsr()
    num_lo, _ = base.blocks_["numeric"]
    cat_lo, cat_hi = base.blocks_["categorical"]
    txt_lo, txt_hi = base.blocks_["text"]
    cat_names = [str(n) for n in base.onehot_.get_feature_names_out(base.categorical_features_)]
    cat_of = [
        next(c for c in base.categorical_features_ if n.startswith(c + "_")) for n in cat_names
    ]
    cat_reference: dict[str, float] = {}
    for k, cat in enumerate(cat_of):
        cat_reference[cat] = cat_reference.get(cat, 0.0) + float(reference[cat_lo + k])
    text_reference = float(reference[txt_lo:txt_hi].sum())
    out: list[list[Factor]] = []
    for i, row in enumerate(rows):
        lo, hi = contrib.indptr[i], contrib.indptr[i + 1]
        c = dict(zip(contrib.indices[lo:hi].tolist(), contrib.data[lo:hi].tolist(), strict=True))
        lo, hi = design.indptr[i], design.indptr[i + 1]
        x = dict(zip(design.indices[lo:hi].tolist(), design.data[lo:hi].tolist(), strict=True))
        weights: dict[str, float] = {}
        for k, name in enumerate(base.numeric_features_):
            weights[name] = c.get(num_lo + k, 0.0) - float(reference[num_lo + k])
        for cat in base.categorical_features_:
            weights[cat] = -cat_reference.get(cat, 0.0)
        for j, w in c.items():
            if cat_lo <= j < cat_hi:
                weights[cat_of[j - cat_lo]] += w
        text_w = sum(w for j, w in c.items() if j >= txt_lo) - text_reference
        grouped: dict[str, float] = {}
        for name, w in weights.items():
            key = GROUPS.get(name, name)
            grouped[key] = grouped.get(key, 0.0) + w
        found: list[Factor] = []
        for name, w in grouped.items():
            if w <= min_weight:
                continue
            said = _phrase(base, name, row, x, num_lo, lexicon)
            if said is not None:
                found.append(Factor(name, *said, w))
        if text_w > min_weight:
            found.extend(_text_factor(base, row, c, txt_lo, text_w))
        found.sort(key=lambda f: -f.weight)
        out.append(found[:top])
    return out


def _phrase(
    base: EscalationRiskModel,
    name: str,
    row: dict[str, Any],
    x: dict[int, float],
    num_lo: int,
    lexicon: Lexicon,
) -> tuple[str, str] | None:
    """The words for a factor that raises the score, from the case's own values."""
    if name == "progress":
        status = str(row.get("status", ""))
        n = int(row.get("n_measures", 0) or 0)
        said = FOLLOW_UP_STATUSES.get(status, status)
        if n == 0:
            return f"处置进展：{said}，尚未采取措施", f"handling: {status}, no measures taken yet"
        return f"处置进展：{said}，已采取措施{n}项", f"handling: {status}, {n} measure(s) taken"
    if name in base.categorical_features_:
        return _categorical_phrase(name, str(row.get(name, "")))
    if name not in base.numeric_features_:
        return None
    value = float(row.get(name, 0) or 0)
    if name.startswith("signal_"):
        if value <= 0:
            return None
        return _signal_phrase(name.removeprefix("signal_"), str(row.get("text", "")), lexicon)
    if name not in PHRASES:
        return None
    present, absent = PHRASES[name]
    high = x.get(num_lo + base.numeric_features_.index(name), 0.0) > 0
    if high and value != 0:
        return present(value)
    return absent(value) if absent is not None else None


def _text_factor(
    base: EscalationRiskModel, row: dict[str, Any], c: dict[int, float], txt_lo: int, total: float
) -> list[Factor]:
    text = str(row.get("text", ""))
    grams = sorted(
        {
            g
            for g in char_ngrams(text, tuple(base.hasher_.ngram_range))
            if len(g) >= 2 and g.strip() == g
        }
    )
    slots = ngram_slots(grams, base.text_n_features)
    scored = sorted(
        ((c.get(txt_lo + j, 0.0), g) for j, g in zip(slots, grams, strict=True)), reverse=True
    )
    words = [g for w, g in scored[:3] if w > 0]
    if not words:
        return []
    quoted = "".join(f"“{g}”" for g in words)
    return [
        Factor(
            "text",
            f"记录用语{quoted}等",
            f"wording in the records such as {', '.join(words)}",
            total,
        )
    ]


def log_odds(model: Any, rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """The base model's log-odds for a batch (before calibration)."""
    return base_model(model).decision_function(rows)
