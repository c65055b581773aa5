"""The alert writer's share of a deadline check: what one tick costs it per partition, now that
``ews clock run`` checks the alerts' deadlines every minute instead of once a day.

N alert states, as the alert writer keeps them (``domain.alerts.alert.handle`` over risk
assessments and commands, written with ``streams.state._dumps``), go into a RocksDB database
(rocksdict, as faust's store keeps one partition).  Most cases never had an alert (assessed
yellow or blue), some had one that was resolved, a few have one open.  A tick reads the
partition's states and decodes them; the alert writer then checks the active ones.

* baseline: every state decoded (the scan before the sieve);
* now: only states whose text holds an active status decoded (``streams.state.decoded`` with
  ``streams.alerter.ACTIVE``), the same list of active alerts.

It also prints the size of an open alert's state after a day of minute ticks that found no
deadline passed: such ticks are no longer remembered among its applied inputs.

    .venv/bin/python bench/bench_tick_scan.py --states 20000 --active 0.05
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rocksdict import Rdict  # noqa: E402

from bench.common import parser as bench_parser  # noqa: E402
from domain.alerts.alert import (  # noqa: E402
    ACTIVE_STATUSES,
    APPLIED_KEPT,
    AlertState,
    Tick,
    handle,
)
from domain.alerts.routing import default_routing  # noqa: E402
from schemas.commands import AlertCommand  # noqa: E402
from schemas.risk import RiskAssessed  # noqa: E402
from streams.alerter import ACTIVE  # noqa: E402
from streams.state import _dumps, decoded  # noqa: E402

ROUTING = default_routing()
AT = "2026-03-02T10:00:00+08:00"  # a Monday morning


def assessed(case_id: str, level: str) -> RiskAssessed:
    return RiskAssessed(
        assessment_id=f"a-{case_id}-{level}",
        case_id=case_id,
        case_seq=3,
        as_of=AT,
        trigger="case_changed",
        probability={"red": 0.6, "orange": 0.3, "yellow": 0.1, "blue": 0.01}[level],
        level=level,
        township="周庄镇",
        category="unpaid_wages",
        model_version="v0001",
        policy_version="p1",
        rules=({"code": "explicit_threat", "level": None, "zh": "明确扬言", "en": "threat"},),
    )


def state_of(i: int, active_every: int) -> AlertState:
    """Case ``i``'s alert state: open for one case in ``active_every``, resolved for one in
    five of the others, otherwise a case assessed below orange."""
    case_id = f"C{i:020d}"
    level = "red" if i % active_every == 0 or i % 5 == 1 else "yellow"
    state, _ = handle(AlertState(case_id), assessed(case_id, level), ROUTING, f"a{i}", AT)
    if level == "red" and i % active_every != 0:
        command = AlertCommand(f"c{i}", case_id, "resolve", "张三", "hrss", AT)
        state, _ = handle(state, command, ROUTING, command.command_id, AT)
    return state


def best_ms(scan, rounds: int) -> tuple[float, int]:  # noqa: ANN001
    times, found = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        found = len([s for _, s in scan() if s.get("status") in ACTIVE_STATUSES])
        times.append(time.perf_counter() - t0)
    return min(times) * 1000, found


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--states", type=int, default=20_000, help="alert states (20,000)")
    p.add_argument("--active", type=float, default=0.05, help="share of open alerts (0.05)")
    p.add_argument("--rounds", type=int, default=5, help="scans per way, the best kept (5)")
    args = p.parse_args()
    active_every = max(1, round(1 / args.active))
    path = Path(tempfile.mkdtemp(prefix="ews-bench-tick-")) / "alert-state-0"
    db = Rdict(str(path))
    total_bytes = 0
    for i in range(args.states):
        state = state_of(i, active_every)
        body = _dumps(state.to_dict())
        total_bytes += len(body)
        db[state.case_id.encode("utf-8")] = body
    print(
        f"{args.states:,} alert states in one partition's RocksDB, "
        f"{total_bytes / args.states:,.0f} bytes each on average"
    )
    base_ms, base_found = best_ms(lambda: decoded(db.items()), args.rounds)
    now_ms, now_found = best_ms(lambda: decoded(db.items(), ACTIVE), args.rounds)
    assert base_found == now_found, (base_found, now_found)
    print(f"{'scan':<34}{'ms per tick':>12}{'active alerts':>15}{'CPU share':>11}")
    for name, ms, found in (
        ("baseline: every state decoded", base_ms, base_found),
        ("now: active ones decoded", now_ms, now_found),
    ):
        print(f"{name:<34}{ms:>12.1f}{found:>15,}{ms / 60_000:>11.3%}")
    print(f"now / baseline: {now_ms / base_ms:.2f}  (CPU share: of one core, one tick a minute)")
    db.close()
    Rdict.destroy(str(path))

    state = state_of(0, 1)  # an open red alert, acknowledged: no deadline for 24 hours
    ack = AlertCommand("ack", state.case_id, "acknowledge", "张三", "hrss", AT)
    state, _ = handle(state, ack, ROUTING, ack.command_id, AT)
    before = len(_dumps(state.to_dict()))
    start = dt.datetime.fromisoformat(AT)
    for minute in range(1, 24 * 60):  # its feedback is due 24 hours after it was acknowledged
        at = (start + dt.timedelta(minutes=minute)).isoformat()
        state, out = handle(state, Tick(at), ROUTING, f"tick:{at}", AT)
        assert out == [], at
    after = len(_dumps(state.to_dict()))
    remembered = (*state.applied, *(f"tick:{AT}" for _ in range(APPLIED_KEPT)))[-APPLIED_KEPT:]
    had = len(_dumps(state.to_dict() | {"applied": list(remembered)}))
    print(
        f"an acknowledged red alert's state: {before:,} bytes; after a day of minute ticks "
        f"that found nothing due: {after:,} bytes (remembering those ticks, as before: {had:,})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
