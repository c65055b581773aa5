"""A backtest in words, a table per week and a plot (``ews model backtest``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _name(summary: dict[str, Any]) -> str:
    v = summary["version"]
    return "rules alone" if v == "rules" else v


def _num(v: Any, fmt: str = "{:.3f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def backtest_lines(found: dict[str, Any], weeks: bool = True) -> list[str]:
    """The summary table, the difference, and (``weeks``) the week-by-week table."""
    c, a = found["scorers"]["candidate"], found["scorers"]["against"]
    lines = [
        f"# Backtest: {_name(c)} against {_name(a)}",
        "",
        f"History {found['since']} .. {found['until']} ({found['cases']:,} cases, "
        f"{found.get('data_source') or 'the log given'}); policy {found['policy_version']}, "
        f"routing {found['routing_version']}.  An alert counts as a hit when its case "
        f"escalated within {found['horizon_days']:g} days after it; alerts raised less than "
        "that before the end of the history are not counted.  An escalation was warned of when "
        "an alert was raised or upgraded in those days before it.",
        "",
        "| | alerts | per week | raised at | precision | raised after the escalation | "
        "escalations | warned before | lead time, days (median, quartiles) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for s in (c, a):
        lead = s["lead_days"]
        by_level = ", ".join(f"{k} {v}" for k, v in sorted(s["first_raised_by_level"].items()))
        lines.append(
            f"| {_name(s)} | {s['alerts']} | {s['alerts_per_week']} | {by_level or '-'} | "
            f"{_num(s['precision'])} | {s['alerts_after_escalation']} | {s['escalations']} | "
            f"{s['warned_before']} ({_num(s['share_warned'], '{:.0%}')}) | "
            f"{_num(lead['median'], '{:.1f}')} ({_num(lead['p25'], '{:.1f}')}-"
            f"{_num(lead['p75'], '{:.1f}')}) |"
        )
    d = found["difference"]
    lines += [
        "",
        f"Escalations warned of by both: {d['escalations_warned_by_both']}; only by "
        f"{_name(c)}: {d['escalations_warned_only_by_candidate']}; only by {_name(a)}: "
        f"{d['escalations_warned_only_by_other']}.",
    ]
    if weeks:
        all_weeks = sorted(set(c["weeks"]) | set(a["weeks"]))
        lines += [
            "",
            f"| week | alerts {_name(c)} | hits | alerts {_name(a)} | hits | escalations | "
            f"warned by {_name(c)} | warned by {_name(a)} |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        late = set(c.get("weeks_not_counted", []))
        for w in all_weeks:
            cw, aw = c["weeks"].get(w, {}), a["weeks"].get(w, {})
            if w in late:
                lines.append(
                    f"| {w} | not counted | | not counted | | "
                    f"{cw.get('escalations', aw.get('escalations', 0))} | "
                    f"{cw.get('warned_before', 0)} | {aw.get('warned_before', 0)} |"
                )
                continue
            lines.append(
                f"| {w} | {cw.get('alerts', 0)} | {cw.get('followed_by_escalation', 0)} | "
                f"{aw.get('alerts', 0)} | {aw.get('followed_by_escalation', 0)} | "
                f"{cw.get('escalations', aw.get('escalations', 0))} | "
                f"{cw.get('warned_before', 0)} | {aw.get('warned_before', 0)} |"
            )
    return lines


def plot_weeks(found: dict[str, Any], path: Path) -> None:
    """Alerts raised per week by both, and escalations per week."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c, a = found["scorers"]["candidate"], found["scorers"]["against"]
    late = set(c.get("weeks_not_counted", []))
    weeks = sorted((set(c["weeks"]) | set(a["weeks"])) - late)
    x = range(len(weeks))
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(x, [c["weeks"].get(w, {}).get("alerts", 0) for w in weeks], label=_name(c))
    ax.plot(x, [a["weeks"].get(w, {}).get("alerts", 0) for w in weeks], label=_name(a))
    esc = [c["weeks"].get(w, a["weeks"].get(w, {})).get("escalations", 0) for w in weeks]
    ax.bar(x, esc, color="0.8", label="escalations")
    step = max(1, len(weeks) // 12)
    ax.set_xticks(list(x)[::step], weeks[::step], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("per week")
    ax.set_title("Alerts raised per week (lines) and escalations (bars)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_backtest(found: dict[str, Any], folder: Path) -> Path:
    """report.json, backtest.md and alerts_per_week.png in ``folder``; returns the .md path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(
        json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    plot_weeks(found, folder / "alerts_per_week.png")
    md = folder / "backtest.md"
    lines = backtest_lines(found)
    lines[1:1] = ["", "![alerts per week](alerts_per_week.png)"]
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md
