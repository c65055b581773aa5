"""The backtest: a history in, the alerts the stream would have raised and their lead time out."""

from __future__ import annotations

import pytest

from domain.alerts.routing import default_routing
from domain.risk.features import timestamp
from domain.risk.policy import default_policy
from models.backtest import RaisedAlert, backtest, replay_alerts, summarise
from models.dataset import DAY
from models.synthetic.cases import SyntheticCase
from models.synthetic.county import case_events


def _case(ref: str, records: list[dict]) -> list:
    base = {"township": "周庄镇", "ref_no": ref, "category": "unpaid_wages"}
    posted = tuple({**base, **r} for r in records)
    return case_events(SyntheticCase("周庄镇", ref, "unpaid_wages", posted, None, None, 0.0))


def _history() -> list:
    loud = _case(
        "BT-1",
        [
            {
                "found_at": "2025-03-01T10:00:00",
                "description": "六十名工人讨要工资。",
                "people_involved": 60,
            },
            {
                "found_at": "2025-03-20T09:00:00",
                "record_kind": "follow_up",
                "description": "工人到县政府门口聚集。",
                "follow_up_status": "escalated",
                "escalation_kind": "group_event",
            },
        ],
    )
    quiet = _case(
        "BT-2",
        [
            {
                "found_at": "2025-03-02T10:00:00",
                "description": "两名工人反映欠薪。",
                "people_involved": 2,
            },
            {
                "found_at": "2025-05-10T10:00:00",
                "record_kind": "follow_up",
                "description": "仍在协调。",
                "follow_up_status": "mediating",
            },
        ],
    )
    return loud + quiet


def test_the_rules_alone_raise_one_alert_on_the_large_group_and_warn_before_it_escalates() -> None:
    events = _history()
    alerts = replay_alerts(events, None, default_policy(), default_routing())
    first = [a for a in alerts if not a.upgrade]
    assert [(a.case_id, a.level) for a in first] == [(events[0].case_id, "orange")]
    assert first[0].at == pytest.approx(timestamp(events[0].recorded_at))
    found = backtest(events, None, None, default_policy(), default_routing())
    summary = found["scorers"]["candidate"]
    assert summary["alerts"] == 1 and summary["precision"] == 1.0
    assert summary["escalations"] == 1 and summary["warned_before"] == 1
    lead = (timestamp("2025-03-20T09:00:00") - first[0].at) / DAY
    assert summary["lead_days"]["median"] == pytest.approx(lead, abs=0.05)


def test_summary_counts_hits_misses_and_alerts_after_the_fact() -> None:
    d0 = timestamp("2025-01-06T08:00:00")
    escalations = {"a": d0 + 10 * DAY, "b": d0 + 50 * DAY, "c": d0 + 5 * DAY}
    alerts = [
        RaisedAlert("a", d0, "orange", False),  # escalates 10 days later: a hit
        RaisedAlert("b", d0, "orange", False),  # escalates 50 days later: not a hit
        RaisedAlert("c", d0 + 6 * DAY, "red", False),  # after its escalation: reacts
        RaisedAlert("d", d0 + DAY, "orange", False),  # never escalates: a false alarm
    ]
    s = summarise(alerts, escalations, since=d0, until=d0 + 120 * DAY)
    assert s["alerts"] == 4 and s["alerts_after_escalation"] == 1
    assert s["precision"] == pytest.approx(1 / 3, abs=1e-4)
    # b's alert came 50 days ahead, outside the 30-day horizon: not a warning of it
    assert s["escalations"] == 3 and s["warned_before"] == 1
    assert s["lead_days"]["median"] == pytest.approx(10.0)
    assert s["alerts_per_week"] == pytest.approx(4 / ((120 - 30) / 7), abs=0.05)
    assert s["weeks_not_counted"][0] == "2025-W15" and "2025-W14" not in s["weeks_not_counted"]
    assert s["first_raised_by_level"] == {"orange": 3, "red": 1}
