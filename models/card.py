"""The model card: a markdown page with plots, written beside the artifact.

``write_card(folder, version, metadata, report, test_rows, scores)`` writes ``card.md``,
``reliability.png``, ``pr_curve.png`` and ``per_category.png``.  Plots use ASCII labels only
(category codes), so no CJK font is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.dataset import Snapshot
from models.snapshot_table import labels
from schemas.categories import BY_CODE

NAMES = {"candidate": "candidate model", "rules": "rules only", "in_service": "model in service"}


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def plot_reliability(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for name, m in report["scorers"].items():
        pts = m["reliability"]
        xs = [p["mean_predicted"] for p in pts]
        ys = [p["observed_rate"] for p in pts]
        top = max([top, *xs, *ys])
        ax.plot(xs, ys, marker="o", label=NAMES.get(name, name))
    top = max(top * 1.05, 0.05)
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted probability of escalation (bin mean)")
    ax.set_ylabel("observed escalation rate")
    ax.set_title("Reliability on the test window (10 equal-count bins)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pr(test_rows: Sequence[Snapshot], scores: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y = labels(test_rows)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, s in scores.items():
        if len(np.unique(y)) < 2:
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        ap = average_precision_score(y, s)
        ax.step(recall, precision, where="post", label=f"{NAMES.get(name, name)} (AP {ap:.3f})")
    ax.axhline(y.mean() if len(y) else 0, color="grey", linestyle="--", label="base rate")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall on the test window")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_category(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["per_category"])
    cats = sorted(report["per_category"][names[0]])
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, name in enumerate(names):
        vals = [report["per_category"][name][c]["average_precision"] or 0.0 for c in cats]
        ax.bar(np.arange(len(cats)) + k * width, vals, width, label=NAMES.get(name, name))
    ax.set_xticks(np.arange(len(cats)) + width * (len(names) - 1) / 2)
    ax.set_xticklabels(cats, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("average precision")
    ax.set_title("Average precision per category (test window)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def card_markdown(version: str, metadata: dict[str, Any], report: dict[str, Any]) -> str:
    scorers = report["scorers"]
    cand = scorers["candidate"]
    rules = scorers["rules"]
    live = scorers.get("in_service")
    budget = cand["budget_per_week"]
    w = report["windows"]
    s = report["sizes"]
    lines = [
        f"# Escalation-risk model {version}",
        "",
        f"Created {metadata.get('created_at')} from code {metadata.get('code_version') or 'unknown'}.",
        *(
            [
                f"Its records were read under risk policy {metadata['policy_version']} (lexicon "
                f"{metadata['lexicon']}): scorers whose policy has another lexicon refuse it.",
            ]
            if metadata.get("lexicon")
            else []
        ),
        "",
        *honesty_lines(report),
        "## What it predicts",
        "",
        f"The probability that an open dispute case **{metadata['label']}**, "
        "from what the system knew about the case at that moment (point-in-time features; "
        "nothing recorded later is used).",
        "",
        "## Data and windows (temporal split, never random)",
        "",
        "| window | from | to | snapshots | escalations |",
        "|---|---|---|---:|---:|",
    ]
    for name in ("train", "calibration", "test"):
        span = w.get(name) or ["", ""]
        lines.append(
            f"| {name} | {span[0]} | {span[1]} | {s[name]['snapshots']:,} | {s[name]['escalations']:,} |"
        )
    lines += [
        "",
        f"{s['cases']:,} cases; one snapshot per open case per week.  The model is fitted on the "
        "train window, its probabilities are calibrated on the later calibration window, and "
        "every figure below is measured on the test window, after both.",
        "",
        "## Headline (test window)",
        "",
        "| scorer | average precision | ROC-AUC | Brier score | mean predicted | "
        f"precision @ top {budget}/week | recall @ top {budget}/week |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in scorers.items():
        lines.append(
            f"| {NAMES.get(name, name)} | {_fmt(m['average_precision'])} | {_fmt(m['roc_auc'])} | "
            f"{_fmt(m['brier'], 4)} | {_fmt(m['mean_predicted'], 4)} | "
            f"{_fmt(m['precision_at_budget'])} | {_fmt(m['recall_at_budget'])} |"
        )
    lines += [
        "",
        f"Base rate (share of test snapshots that escalate within the horizon): "
        f"{cand['base_rate']:.4f} ({cand['positives']:,} of {cand['n']:,}).",
        "",
    ]
    verdict = []
    if cand["average_precision"] is not None and rules["average_precision"] is not None:
        better = cand["average_precision"] > rules["average_precision"]
        verdict.append(
            f"- Against the rules alone: average precision {cand['average_precision']:.3f} vs "
            f"{rules['average_precision']:.3f} ({'better' if better else 'NOT better'})."
        )
    if live is not None and live["average_precision"] is not None:
        better = (cand["average_precision"] or 0) > live["average_precision"]
        verdict.append(
            f"- Against the model in service ({report.get('in_service_version')}): average precision "
            f"{cand['average_precision']:.3f} vs {live['average_precision']:.3f} "
            f"({'better' if better else 'NOT better'}); Brier {cand['brier']:.4f} vs {live['brier']:.4f}."
        )
    elif report.get("in_service_left_out"):
        verdict.append(
            f"- Not compared with the model in service on this window: "
            f"{report['in_service_left_out']} (see the rolling windows)."
        )
    elif live is None:
        verdict.append("- No model was in service when this card was written.")
    lines += ["## Verdict", "", *verdict, ""]
    lines += [
        "## How to read it",
        "",
        "- **Average precision** (area under the precision-recall curve): how well the score "
        "puts escalating cases first; the base rate is what a random order gets.  Higher is better.",
        "- **ROC-AUC**: the chance a random escalating snapshot scores above a random quiet one "
        "(0.5 = coin toss).",
        "- **Brier score**: mean squared error of the probability; lower is better.  "
        "The rules' Brier uses the escalation rate per rule score seen in the calibration window.",
        f"- **Precision / recall @ top {budget}/week**: if the duty desk looks at the "
        f"{budget} highest-scored cases each week, the share of them that escalate within the "
        "horizon, and the share of all escalations they catch.",
        "- **Reliability curve**: points on the diagonal mean a predicted 10% really comes true "
        "about 10% of the time.  Points below it: the model is over-alarmed; above it: it "
        "underestimates.",
        "",
        "## Reliability curve",
        "",
        "![reliability curve](reliability.png)",
        "",
        "| bin | mean predicted | observed rate | snapshots |",
        "|---:|---:|---:|---:|",
    ]
    for i, p in enumerate(cand["reliability"], 1):
        lines.append(
            f"| {i} | {p['mean_predicted']:.4f} | {p['observed_rate']:.4f} | {p['count']:,} |"
        )
    lines += [
        "",
        "## Precision-recall curve",
        "",
        "![precision-recall curve](pr_curve.png)",
        "",
        "## Per category (test window)",
        "",
        "![average precision per category](per_category.png)",
        "",
        "| category | snapshots | escalations | AP model | AP rules | ROC-AUC model | ROC-AUC rules |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    pc_m = report["per_category"]["candidate"]
    pc_r = report["per_category"]["rules"]
    for code in sorted(pc_m):
        label = BY_CODE[code].label if code in BY_CODE else code
        m, r = pc_m[code], pc_r[code]
        lines.append(
            f"| {label} ({code}) | {m['n']:,} | {m['positives']:,} | {_fmt(m['average_precision'])} | "
            f"{_fmt(r['average_precision'])} | {_fmt(m['roc_auc'])} | {_fmt(r['roc_auc'])} |"
        )
    lines += [
        "",
        *decision_lines(report),
        "## Model",
        "",
        "Logistic regression on structured case features (people, money, prior and skip-level "
        "visits, petition clock against the 60-day limit, days to Spring Festival, follow-ups, "
        "recency, measures, status, category, township, risk-phrase counts)"
        + (
            " and Chinese character n-grams of the records"
            if metadata["params"].get("text_weight", 1.0)
            else " (the records' own words as character n-grams are switched off: `text_weight` 0)"
        )
        + ", calibrated by "
        f"{metadata['params']['calibration']} scaling on the calibration window.  "
        f"Fitted in {metadata.get('fit_seconds', 0):.1f} s.",
        "",
        "Features: " + ", ".join(f"`{f}`" for f in metadata["features"]) + ".",
        "",
        "## Limits",
        "",
        "- Trained and tested on the data it was given; on the synthetic county that is a "
        "story written down in models/STORY.md, not real petitions.  Real data will differ.",
        "- A case's hidden temper (frailty in the story) is never recorded, so no model can "
        "rank perfectly; the rules stay beside the model for what must never wait.",
        "- Escalations reported late are labelled by when they happened (found_at).",
        "",
    ]
    if report.get("evidence"):
        from models.card_evidence import evidence_lines

        lines += evidence_lines(report["evidence"])
    return "\n".join(lines)


def honesty_lines(report: dict[str, Any]) -> list[str]:
    """What the evidence is, said first."""
    source = str(report.get("data_source") or "")
    if source.startswith("synthetic"):
        said = (
            f"> **The evidence on this card is synthetic.** The model was trained and tested on "
            f"a {source}, simulated from a written story (`models/STORY.md`), not on real "
            "screening records.  The figures show how well it recovers what that story put in, "
            "and (below) how it does on a second, independently written story and on "
            "hand-written cases it was not shaped on.  They do not show how it will do on a "
            "real county: before relying on its levels, evaluate it on the county's own log "
            "(`ews model evaluate VERSION --from-kafka`)."
        )
    else:
        said = (
            f"> Trained and tested on {source or 'the data given'}.  The out-of-template checks "
            "below (the other county, the hand-written cases) are synthetic or hand-made, not "
            "real outcomes."
        )
    intervals = (
        "  Figures with a 95% interval come from resampling whole cases; a difference counts "
        "only when its interval excludes zero."
        if report.get("evidence")
        else "  This card has no rolling-window evidence (trained with `--no-evidence`)."
    )
    return [said + intervals, ""]


LEVEL_NAMES = {"red": "red 红", "orange": "orange 橙", "yellow": "yellow 黄", "blue": "blue 蓝"}


def level_rows(levels: dict[str, dict[str, Any]]) -> list[str]:
    """The table of a decision view's levels: cases per week, precision and recall."""
    return [
        "| level | cases per week | most in a week | escalated (precision) | share of escalations (recall) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {LEVEL_NAMES[level]} | {m['per_week']} | {m['max_per_week']} | "
            f"{_fmt(m['precision'])} | {_fmt(m['recall'])} |"
            for level, m in levels.items()
        ),
    ]


def cutoff_words(cut: dict[str, float | None]) -> str:
    red = "red: none from the model" if cut["red"] is None else f"red p >= {cut['red']:.3f}"
    return f"{red}, orange p >= {cut['orange']:.3f}, yellow p >= {cut['yellow']:.3f}"


def red_evidence_words(e: dict[str, Any]) -> str:
    """Why the model does or does not set red, in one sentence."""
    need = e["needed"]
    measured = (
        f"on the weeks before the test window, scored by models that had not seen the case, the "
        f"red band's {e['red_snapshots']} case-weeks ({e['red_cases']} cases) escalated at "
        f"{e['red_rate']:.1%} against orange's {e['orange_rate']:.1%}; red came out higher in "
        f"{e['confidence']:.0%} of case resamples (needed: {need['confidence']:.0%}, with at "
        f"least {need['min_cases']} cases)"
    )
    if e["earned"]:
        return f"Red is set by the model: {measured}."
    too_few = e["red_cases"] < need["min_cases"] and e["confidence"] >= need["confidence"]
    why = (
        f"Too few cases reached the red band to tell (fewer than {need['min_cases']}), "
        "so they are all orange."
        if too_few
        else "The model cannot tell its red cases from its orange ones, so they are all orange."
    )
    return (
        f"Red is not set by the model, only by rules the policy lets raise it: {measured}.  {why}"
    )


def decision_lines(report: dict[str, Any]) -> list[str]:
    """The levels as the duty desk would have lived them on the test window, and each rule's
    precision there."""
    d = report.get("decision")
    if not d:
        return []
    b = d["budget"]
    cut = d["cutoffs"]
    lines = [
        "## Levels on the test window (what the duty desk would have seen)",
        "",
        f"Cut-offs (chosen on the weeks before the test window): {cutoff_words(cut)}; rules "
        "the policy lets raise a level raise it.",
        "",
        *([red_evidence_words(d["red_evidence"]), ""] if d.get("red_evidence") else []),
        *level_rows(d["levels"]),
    ]
    lines += [
        "",
        f"Budget: red at most {b['red_per_week']}, red + orange at most "
        f"{b['red_orange_per_week']} per week for {b['for_open_cases']:,} open cases (scaled to "
        f"{b['open_cases_per_week']:,} open cases a week here): kept in {b['weeks_kept']} of "
        f"{d['weeks']} weeks.  Each higher level escalates more often: "
        f"{'yes' if d['monotone'] else 'NO'}.",
        *_over_by_rules(b),
        "",
    ]
    rules = report.get("rules") or {}
    if rules:
        lines += [
            "### Rules on the test window",
            "",
            "| rule | fired (snapshots) | escalated (precision) | lift over base rate |",
            "|---|---:|---:|---:|",
        ]
        for code, m in rules.items():
            lines.append(
                f"| `{code}` | {m['fired']} | {_fmt(m['precision'])} | {_fmt(m['lift'], 2)} |"
            )
        lines += [
            "",
            "The policy file says which rules may raise a level (`rules:` and `deadlines:`).",
            "",
        ]
    return lines


def write_card(
    folder: Path,
    version: str,
    metadata: dict[str, Any],
    report: dict[str, Any],
    test_rows: Sequence[Snapshot],
    scores: dict[str, np.ndarray],
) -> Path:
    """Write card.md and its plots into ``folder``; returns the card's path."""
    folder.mkdir(parents=True, exist_ok=True)
    plot_reliability(report, folder / "reliability.png")
    plot_pr(test_rows, scores, folder / "pr_curve.png")
    plot_per_category(report, folder / "per_category.png")
    path = folder / "card.md"
    path.write_text(card_markdown(version, metadata, report), encoding="utf-8")
    return path


def _over_by_rules(budget: dict[str, Any]) -> list[str]:
    """A line saying that the rules alone go over the desk's budget, where they do."""
    over = budget.get("weeks_over_by_rules", 0)
    if not over:
        return []
    return [
        "",
        f"The rules the policy lets raise orange or red raised {budget['by_rules_per_week']:,} "
        "cases a week to an alert by themselves "
        f"and went over the budget in {over} of these weeks: no cut-off of the model can keep "
        "it there.  The policy puts hearing every threat before the budget; a county whose "
        "desk is flooded narrows the lexicon and retrains.",
    ]
