"""The evidence sections of a model card (and of ``ews model train`` / ``evaluate``'s output).

Input: the dict ``models.evidence.gather_evidence`` returns.  The pooled figures are shown with
their 95% interval from resampling whole cases, and every comparison says in words whether the
difference is larger than that interval; the per-window and per-level tables are point
figures.
"""

from __future__ import annotations

from typing import Any

from models.card import level_rows

SCORER_NAMES = {
    "candidate": "candidate",
    "rules": "rules only",
    "in_service": "in service",
    "model": "candidate",
}
COLUMNS = (
    ("average_precision", "AP"),
    ("roc_auc", "ROC-AUC"),
    ("bss", "Brier skill vs base rate"),
    ("bss_category", "Brier skill vs category rates"),
    ("log_loss", "log-loss"),
    ("calibration_gap", "mean predicted - observed"),
)


def _ci(f: dict[str, Any] | None, digits: int = 3) -> str:
    if not f or f.get("value") is None:
        return "n/a"
    ci = f.get("ci95")
    interval = f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else ""
    return f"{f['value']:.{digits}f}{interval}"


def verdict(diff: dict[str, Any] | None, a: str, b: str, what: str = "AP") -> str:
    """Whether ``a`` beats ``b`` by more than the interval of their difference."""
    if not diff or diff.get("value") is None or not diff.get("ci95"):
        return f"{a} vs {b}: not enough data for an interval."
    lo, hi = diff["ci95"]
    said = f"{what} difference {diff['value']:+.3f} (95% interval {lo:+.3f} to {hi:+.3f})"
    if lo > 0:
        return f"**{a} beats {b}** by more than the noise: {said}."
    if hi < 0:
        return f"**{a} is worse than {b}**: {said}."
    return f"**{a} does not beat {b} by more than the noise**: {said}."


def scorer_table(pooled: dict[str, Any]) -> list[str]:
    head = "| scorer | " + " | ".join(t for _, t in COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(COLUMNS)]
    for name, f in pooled["scorers"].items():
        cells = " | ".join(_ci(f.get(m)) for m, _ in COLUMNS)
        lines.append(f"| {SCORER_NAMES.get(name, name)} | {cells} |")
    lines.append("")
    lines.append(
        f"{pooled['snapshots']:,} snapshots of {pooled['cases']:,} cases, "
        f"{pooled['escalations']:,} escalating within the horizon (observed rate "
        f"{pooled['observed_rate']}); intervals from {pooled['resamples']} resamples of whole "
        "cases."
    )
    return lines


def window_table(windows: list[dict[str, Any]]) -> list[str]:
    names = list(windows[0]["scorers"]) if windows else []
    lines = [
        "| window | test from | to | snapshots | escalations | "
        + " | ".join(f"AP {SCORER_NAMES.get(n, n)}" for n in names)
        + " |",
        "|---:|---|---|---:|---:|" + "---:|" * len(names),
    ]
    for w in windows:
        aps = " | ".join(
            "n/a"
            if w["scorers"][n]["average_precision"] is None
            else f"{w['scorers'][n]['average_precision']:.3f}"
            for n in names
        )
        lines.append(
            f"| {w['window']} | {w['test'][0]} | {w['test'][1]} | {w['snapshots']:,} | "
            f"{w['escalations']} | {aps} |"
        )
    return lines


def level_table(d: dict[str, Any]) -> list[str]:
    b = d["budget"]
    lines = level_rows(d["levels"])
    lines += [
        "",
        f"Budget (red <= {b['red_per_week']}, red + orange <= {b['red_orange_per_week']} a week "
        f"per {b['for_open_cases']:,} open cases) kept in {b['weeks_kept']} of {d['weeks']} "
        f"weeks; each higher level escalates more often: {'yes' if d['monotone'] else 'NO'}.",
    ]
    return lines


def calibration_words(pooled: dict[str, Any], name: str = "candidate") -> str:
    """Whether the scorer's probabilities are right on average, within the noise."""
    gap = (pooled["scorers"].get(name) or {}).get("calibration_gap") or {}
    ci = gap.get("ci95")
    if gap.get("value") is None or not ci:
        return "Calibration in the large: not enough data for an interval."
    said = (
        f"mean predicted minus observed {gap['value']:+.4f} (95% interval {ci[0]:+.4f} to "
        f"{ci[1]:+.4f}) against an observed rate of {pooled['observed_rate']}"
    )
    if ci[0] <= 0 <= ci[1]:
        return f"Calibration in the large: **right on average within the noise** ({said})."
    way = "over-predicts" if gap["value"] > 0 else "under-predicts"
    return f"Calibration in the large: **the candidate {way}** ({said})."


def _comparisons(pooled: dict[str, Any]) -> list[str]:
    out = []
    for pair, diff in pooled.get("differences", {}).items():
        a, b = pair.split("-", 1)
        out.append(
            "- "
            + verdict(diff["average_precision"], SCORER_NAMES.get(a, a), SCORER_NAMES.get(b, b))
        )
    return out


def rolling_lines(part: dict[str, Any], refit: bool) -> list[str]:
    if "error" in part:
        return [f"Not computed: {part['error']}."]
    how = (
        "the training procedure refitted and recalibrated at each origin on what lay before it"
        if refit
        else "the saved version as it is"
    )
    if part.get("not_before"):
        how += (
            f", from {str(part['not_before'])[:10]}, where the saved models' own test windows "
            "start (nothing a saved model was fitted or calibrated on is scored)"
        )
    skipped = [
        f"window {s['window']} ({s['test'][0]} to {s['test'][1]}) left out: {s['why']}"
        for s in part.get("skipped", [])
    ]
    return [
        *scorer_table(part["pooled"]),
        "",
        *_comparisons(part["pooled"]),
        "- " + calibration_words(part["pooled"]),
        "",
        f"Per window ({how}; the rules' score calibrated on the slice before each window):",
        "",
        *window_table(part["windows"]),
        *(["", "; ".join(skipped) + "."] if skipped else []),
        "",
        "Levels on the pooled windows, as the duty desk would have lived them:",
        "",
        *level_table(part["decision"]),
    ]


def handwritten_lines(h: dict[str, Any]) -> list[str]:
    lines = [
        f"{h['cases']} cases written by hand in every category ({h['escalate']} that an "
        "experienced officer expects to escalate within 30 days), scored as of the moment "
        "the officer judged them (`models/heldout/handwritten.yaml`).  Ranking (AP and ROC-AUC "
        "against the officer's expectation; the rules ranked by their score):",
        "",
        "| scorer | AP | ROC-AUC |",
        "|---|---:|---:|",
    ]
    for name, f in h["ranking"].items():
        lines.append(
            f"| {SCORER_NAMES.get(name, name)} | {_ci(f['average_precision'])} | "
            f"{_ci(f['roc_auc'])} |"
        )
    lines += [
        "",
        "- "
        + verdict((h.get("difference") or {}).get("average_precision"), "candidate", "rules only"),
        "",
    ]
    lines += [
        "| levels given by | same level as the officer | within one level | escalating cases left blue | calm cases raised to orange or red |",
        "|---|---:|---:|---|---|",
    ]
    for name, a in h["levels"].items():
        label = "the model (with the rules beside it)" if name == "model" else "the rules alone"
        left = ", ".join(a["escalating_left_blue"]) or "none"
        raised = ", ".join(a["calm_raised_orange_or_red"]) or "none"
        lines.append(
            f"| {label} | {a['same_level']:.0%} | {a['within_one_level']:.0%} | "
            f"{len(a['escalating_left_blue'])}: {left} | {len(a['calm_raised_orange_or_red'])}: {raised} |"
        )
    return lines


def ablation_lines(a: dict[str, Any]) -> list[str]:
    lines = [
        "The same training with and without the text block (character n-grams of the records, "
        "names, numbers and places masked first), fitted on the same windows; AP with 95% "
        "intervals, the difference paired by case:",
        "",
        "| test data | AP text on | AP text off | difference |",
        "|---|---:|---:|---:|",
    ]
    names = {"main_test": "training data, test window", "other_county": "other county"}
    for key, label in names.items():
        if key in a:
            m = a[key]["average_precision"]
            lines.append(
                f"| {label} | {_ci(m['text_on'])} | {_ci(m['text_off'])} | "
                f"{_ci(a[key]['difference'])} |"
            )
    helps = a.get("helps")
    on = bool(a.get("text_weight"))
    if helps is None:
        said = "was **not tested** on another county (no other county was generated)."
    elif helps:
        said = "**helps** on the other county by more than the noise" + (
            ", and it is on." if on else ": worth switching on (`text_weight`)."
        )
    else:
        said = "**does not help** on the other county by more than the noise" + (
            ", yet it is on (`text_weight`): consider switching it off."
            if on
            else ", so it stays off."
        )
    lines += ["", "The text block " + said]
    return lines


def evidence_lines(evidence: dict[str, Any]) -> list[str]:
    """The evidence sections, in markdown."""
    refit = evidence.get("refit", True)
    cfg = evidence.get("config", {})
    rolling = evidence["rolling"]
    kept, asked = len(rolling.get("windows", [])), rolling.get("asked", 0)
    count = f"{kept} of {asked}" if kept != asked else f"{kept}"
    lines = [
        f"## Rolling windows ({count} consecutive test windows)",
        "",
        *rolling_lines(evidence["rolling"], refit),
        "",
    ]
    oot = evidence.get("out_of_template") or {}
    if oot.get("other_county"):
        lines += [
            f"## Out of template: the other county (story `other`, seed {cfg.get('other_seed')}, "
            f"{cfg.get('other_cases'):,} cases)",
            "",
            "Generated from a second story written apart from the training story and from the "
            "rules' lexicon: its own phrasebook, other coefficients, interactions and noise "
            '(`models/STORY.md`, "The other county").  The candidate is scored as it is.',
            "",
            *rolling_lines(oot["other_county"], refit=False),
            "",
        ]
    if oot.get("handwritten"):
        lines += [
            "## Out of template: hand-written cases",
            "",
            *handwritten_lines(oot["handwritten"]),
            "",
        ]
    if evidence.get("text_ablation"):
        lines += ["## Text ablation", "", *ablation_lines(evidence["text_ablation"]), ""]
    return lines
