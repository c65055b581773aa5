"""The console in a real headless Chromium (Debian's, driven by Playwright) over the whole
pipeline: real broker, every stage and the projector as processes, the web service on
loopback.  Screenshots are kept in test-artifacts/browser/."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from domain.alerts.routing import default_routing
from domain.risk.policy import DEFAULT_POLICY, load_policy
from ews import processes
from readside.db import make_engine, migrate
from readside.queries import intake_rows
from readside.tables import cases
from streams.admin import ensure_topics
from tests.support import case_row, threat_is_red_alone, xlsx
from web.accounts import AccountStore
from web.app import create_app
from web.kafka import KafkaGateway

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
PASSWORD = "秘密 passw0rd"
CN = dt.timezone(dt.timedelta(hours=8))

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's chromium (apt-get install chromium fonts-noto-cjk; .ci/run does)",
    ),
]


class Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # run in a thread
        pass


@pytest.fixture
def site(settings, tmp_path: Path):  # noqa: ANN001, ANN201
    """The pipeline, the web service on a free port, and four accounts."""
    from deploy.kafka_local import free_port

    policy = tmp_path / "policy.yaml"  # a threat is red without a model, as in the alerts test
    policy.write_text(
        threat_is_red_alone(DEFAULT_POLICY.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    s = settings.replace(risk_policy=str(policy))
    ensure_topics(s.bootstrap, s.topics.all())
    engine = make_engine(s.db_url)
    migrate(engine)
    procs = [
        *processes.start_workers(s, tmp_path),
        processes.start_projector(s, tmp_path / "p.log"),
    ]
    store = AccountStore(make_engine(f"sqlite:///{tmp_path / 'accounts.db'}"))
    store.add("zhou", "township_clerk", township="周庄镇", password=PASSWORD)
    store.add("cheng", "township_clerk", township="城关镇", password=PASSWORD)
    store.add("hrss1", "unit_officer", unit="hrss", password=PASSWORD)
    store.add("desk", "county_desk", password=PASSWORD)
    app = create_app(
        s,
        store,
        engine,
        KafkaGateway(s),
        default_routing(),
        load_policy(policy),
        poll_seconds=0.5,
    )
    port = free_port()
    server = Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield f"http://127.0.0.1:{port}", engine, tmp_path
    server.should_exit = True
    thread.join(10)
    for p in procs:
        processes.stop(p)
    engine.dispose()


def login(browser, base: str, name: str):  # noqa: ANN001, ANN201
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => !location.pathname.startsWith('/login')")
    return page


def upload(page, path: Path) -> None:  # noqa: ANN001
    page.set_input_files("#upload input[type=file]", str(path))
    page.click("#upload button[type=submit]")


def test_township_officer_and_stranger_in_the_browser(site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect, sync_playwright

    base, engine, tmp = site
    found = (dt.datetime.now(CN) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    bad = tmp / "周庄镇-两行有错.xlsx"
    bad.write_bytes(
        xlsx(
            [
                ["周庄镇", "ZZ-1", found, "邻里纠纷", "院墙纠纷", 2],
                ["周庄镇", "ZZ-2", "上周三", "邻里纠纷", "排水纠纷", 2],
                ["周庄镇", "ZZ-3", found, "宅基地纠纷", "宅基地边界", 3],
                ["周庄镇", None, found, "打架斗殴", "酒后口角", 2],
            ]
        )
    )
    good = tmp / "周庄镇-11月.xlsx"
    good.write_bytes(
        xlsx(
            [
                [
                    "周庄镇",
                    "ZZ-W1",
                    found,
                    "拖欠农民工工资",
                    "六十多名农民工讨薪，扬言要赴京上访，还要堵路。",
                    60,
                ],
                ["周庄镇", "ZZ-N1", found, "邻里纠纷", "两户因排水口角，没有过激言行。", 2],
            ]
        )
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            # a township uploads a sheet with two bad rows and sees exactly those rows
            clerk = login(browser, base, "zhou")
            expect(clerk).to_have_url(f"{base}/township")
            upload(clerk, bad)
            expect(clerk.locator("#problems")).to_be_visible(timeout=15_000)
            rows = clerk.locator("#problems tbody tr")
            assert sorted(
                {int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.row)")}
            ) == [3, 5]
            expect(clerk.locator("#report")).to_contain_text("其中 2 行有问题")
            clerk.screenshot(path=str(SHOTS / "1-township-two-bad-rows.png"), full_page=True)

            # a duty officer of the labour bureau has the console open; nothing is waiting yet
            officer = login(browser, base, "hrss1")
            expect(officer).to_have_url(f"{base}/console")
            expect(officer.locator("#live")).to_contain_text("实时更新中", timeout=15_000)
            expect(officer.locator("#queue tbody")).to_contain_text("没有待处理的预警")

            # the township posts the corrected sheet: a red wage case appears without reloading
            upload(clerk, good)
            expect(clerk.locator("#upload-ok")).to_contain_text("已提交 2 行", timeout=15_000)
            red = officer.locator("#queue tbody tr[data-level=red]")
            expect(red).to_have_count(1, timeout=120_000)
            case_id = red.get_attribute("data-case")
            officer.screenshot(path=str(SHOTS / "2-officer-red-alert-arrives.png"), full_page=True)

            red.locator("button[data-act=acknowledge]").click()
            expect(red.locator("td.status")).to_have_text("已签收", timeout=60_000)
            officer.goto(f"{base}/cases/{case_id}")
            timeline = officer.locator("#timeline")
            expect(timeline).to_contain_text("签收 hrss1（hrss）", timeout=15_000)
            expect(timeline).to_contain_text("（zhou 提交）")
            officer.screenshot(path=str(SHOTS / "3-case-timeline-acknowledged.png"), full_page=True)

            # the county desk reads the county's figures in words and shares, not raw JSON
            desk = login(browser, base, "desk")
            kpi = desk.locator("#county .kpi[data-kpi=alerts] b")
            expect(kpi).to_have_text("1", timeout=15_000)
            acked = desk.locator("#county .kpi[data-kpi=acknowledge_minutes_median]")
            expect(acked).to_contain_text("红 ")
            expect(desk.locator("#county")).to_contain_text("按期办结率（60天内，目标100%）")
            desk.screenshot(path=str(SHOTS / "3b-county-figures.png"), full_page=True)

            # another township's clerk is refused the case, on the page and by the API
            stranger = login(browser, base, "cheng")
            stranger.goto(f"{base}/cases/{case_id}")
            expect(stranger.locator("#denied")).to_contain_text("403")
            assert stranger.request.get(f"{base}/api/cases/{case_id}").status == 403
            stranger.screenshot(path=str(SHOTS / "4-other-township-403.png"), full_page=True)

            # a busy township reads its cases a page at a time, each page after the last
            with engine.begin() as conn:
                conn.execute(
                    sa.insert(cases),
                    [
                        case_row(
                            f"CG{i:03d}",
                            "城关镇",
                            last_found_at=f"2026-0{1 + i % 9}-01T09:00+08:00",
                        )
                        for i in range(205)
                    ],
                )
            stranger.goto(f"{base}/township")
            listed = stranger.locator("#cases tbody tr")
            expect(listed).to_have_count(200, timeout=15_000)
            stranger.click("#more-cases")
            expect(listed).to_have_count(205, timeout=15_000)
            expect(stranger.locator("#more-cases")).to_be_hidden()
            shown = listed.evaluate_all("rs => rs.map(r => r.querySelector('a').textContent)")
            assert sorted(shown) == [f"CG{i:03d}" for i in range(205)]

            # the same sheet again adds nothing
            upload(clerk, good)
            expect(clerk.locator("#upload-ok")).to_contain_text("已提交 2 行", timeout=15_000)
        finally:
            browser.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = {t: (r, a, d) for t, r, a, d in intake_rows(engine)}
        if counts.get("周庄镇", (0,))[0] >= 2:
            break
        time.sleep(0.5)
    time.sleep(3)  # a second posting would be counted by now
    assert {t: (r, a, d) for t, r, a, d in intake_rows(engine)}["周庄镇"] == (2, 2, 0)
