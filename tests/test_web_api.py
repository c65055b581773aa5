"""The HTTP API: every endpoint refuses bad input and the wrong person with a clear 4xx, and a
refused request writes nothing (no message on any topic).  Real broker, real databases; the
service's clock is moved, not waited for."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from domain.alerts.routing import default_routing
from domain.risk.policy import default_policy
from readside.db import make_engine, migrate
from readside.tables import alerts, cases
from streams.admin import ensure_topics
from streams.log import read_from_start
from tests.support import alert_row, case_row, xlsx
from web.accounts import AccountStore
from web.app import UPLOAD_MAX_BYTES, create_app
from web.kafka import KafkaGateway

pytestmark = [pytest.mark.kafka]
CN = dt.timezone(dt.timedelta(hours=8))
PASSWORD = "correct horse 9"


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at

    def epoch(self) -> float:
        return self.at.timestamp()


@pytest.fixture
def web(settings, tmp_path: Path):  # noqa: ANN001, ANN201
    ensure_topics(settings.bootstrap, settings.topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    clock = Clock()
    store = AccountStore(make_engine(f"sqlite:///{tmp_path / 'accounts.db'}"), now=clock.epoch)
    for name, role, scope in (
        ("zhou", "township_clerk", {"township": "周庄镇"}),
        ("cheng", "township_clerk", {"township": "城关镇"}),
        ("hrss1", "unit_officer", {"unit": "hrss"}),
        ("police1", "unit_officer", {"unit": "police"}),
        ("desk", "county_desk", {}),
        ("ana", "analyst", {}),
        ("root", "admin", {}),
    ):
        store.add(name, role, password=PASSWORD, **scope)
    app = create_app(
        settings,
        store,
        engine,
        KafkaGateway(settings),
        default_routing(),
        default_policy(),
        now=clock,
    )
    yield TestClient(app), store, clock, engine, settings


def token(store: AccountStore, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.issue_token(name)}"}


def on_topic(settings, topic: str) -> list:  # noqa: ANN001
    return list(read_from_start(settings.bootstrap, topic, 10.0))


def record(**fields) -> dict:
    return {
        "township": "周庄镇",
        "ref_no": "ZZ-9",
        "category": "拖欠农民工工资",
        "found_at": "2026-11-25T09:00:00+08:00",
        "description": "十余名农民工讨要工资。",
        "people_involved": 12,
        **fields,
    }


GOOD_ROWS = [
    ["周庄镇", "ZZ-1", "2026-11-20", "邻里纠纷", "院墙纠纷", 2],
    ["周庄镇", "ZZ-2", "2026-11-21", "宅基地纠纷", "宅基地边界", 4],
]


# ---- credentials --------------------------------------------------------------------------


def test_no_credential_an_unknown_one_and_a_wrong_password_are_401(web) -> None:  # noqa: ANN001
    client, *_ = web
    assert client.get("/api/cases").status_code == 401
    r = client.get("/api/cases", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and "unknown credential" in r.json()["detail"]
    r = client.post("/api/login", json={"name": "zhou", "password": "wrong"})
    assert r.status_code == 401 and "wrong name or password" in r.json()["detail"]
    r = client.post("/api/login", json={"name": "zhou"})
    assert r.status_code == 422  # the password is missing


def test_an_expired_token_is_refused_once_its_time_has_passed(web) -> None:  # noqa: ANN001
    client, store, clock, *_ = web
    headers = {"Authorization": f"Bearer {store.issue_token('zhou', days=1)}"}
    assert client.get("/api/cases", headers=headers).status_code == 200
    clock.at += dt.timedelta(days=1, seconds=1)
    r = client.get("/api/cases", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_a_revoked_account_loses_its_tokens_and_sessions_at_once(web) -> None:  # noqa: ANN001
    client, store, *_ = web
    headers = token(store, "zhou")
    assert client.post("/api/login", json={"name": "zhou", "password": PASSWORD}).status_code == 200
    assert client.get("/api/me").json()["township"] == "周庄镇"  # by the session cookie
    store.revoke("zhou")
    assert "revoked" in client.get("/api/cases", headers=headers).json()["detail"]
    assert client.get("/api/me").status_code == 401
    assert client.post("/api/login", json={"name": "zhou", "password": PASSWORD}).status_code == 401


def test_five_wrong_passwords_lock_the_account_for_a_quarter_of_an_hour(web) -> None:  # noqa: ANN001
    client, store, clock, *_ = web
    for _ in range(5):
        r = client.post("/api/login", json={"name": "desk", "password": "guess-guess"})
        assert r.status_code == 401 and "lock" in r.json()["detail"]
    right = {"name": "desk", "password": PASSWORD}
    assert client.post("/api/login", json=right).status_code == 401  # even the right one
    assert client.post("/api/login", json={"name": "zhou", "password": PASSWORD}).status_code == 200
    # locked for the guessing client only: the officer at their own desk still gets in
    assert store.login("desk", PASSWORD, client="10.20.0.7") is not None
    clock.at += dt.timedelta(minutes=15, seconds=1)
    assert client.post("/api/login", json=right).status_code == 200
    audit = client.get("/api/audit", headers=token(store, "desk")).json()
    assert ("login_locked", "账号 desk") in [(r["action"], r["summary"]) for r in audit]


def test_a_new_password_ends_the_account_s_sessions_but_not_its_api_tokens(web) -> None:  # noqa: ANN001
    client, store, *_ = web
    api = token(store, "zhou")
    assert client.post("/api/login", json={"name": "zhou", "password": PASSWORD}).status_code == 200
    assert client.get("/api/me").status_code == 200
    store.set_password("zhou", "a new one 1234")
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers=api).status_code == 200


@pytest.mark.timeout(60)  # a stream that never ends is the failure
def test_the_live_queue_stops_when_its_credential_is_revoked(web) -> None:  # noqa: ANN001
    client, store, *_ = web
    headers = token(store, "hrss1")
    with client.stream("GET", "/api/alerts/stream", headers=headers) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: queue"
        store.revoke("hrss1")
        rest = list(lines)  # the stream ends by itself
    assert "event: logout" in rest and any("revoked" in line for line in rest)


def test_passwords_and_tokens_are_stored_hashed(web, tmp_path: Path) -> None:  # noqa: ANN001
    _, store, *_ = web
    issued = store.issue_token("zhou")
    raw = (tmp_path / "accounts.db").read_bytes()
    assert issued.encode() not in raw and PASSWORD.encode() not in raw


# ---- posting records ------------------------------------------------------------------------


def test_a_clerk_posts_a_record_of_their_township_with_who_posted_it(web) -> None:  # noqa: ANN001
    client, store, _, _, s = web
    r = client.post("/api/records", json=record(), headers=token(store, "zhou"))
    assert r.status_code == 202, r.text
    (m,) = on_topic(s, s.topics.records)
    assert json.loads(m.value)["ref_no"] == "ZZ-9"
    assert dict(m.headers)["ews-by"] == b"zhou"


@pytest.mark.parametrize(
    ("who", "body", "status", "said"),
    [
        ("cheng", record(), 403, "your township is 城关镇"),
        ("hrss1", record(), 403, "only a township clerk"),
        ("zhou", record(found_at="昨天"), 422, "found_at"),
        ("zhou", {k: v for k, v in record().items() if k != "ref_no"}, 422, "ref_no"),
        ("zhou", record(people_involved="很多"), 422, "people_involved"),
        ("zhou", {k: v for k, v in record().items() if k != "township"}, 422, "township"),
        ("zhou", record(township=7), 422, "township"),
        # spaces around another township's name, which intake folds away, hide nothing
        ("zhou", record(township="城关镇" + " " * 40), 403, "your township is 周庄镇"),
        (
            "zhou",
            record(township="\u3000城关镇" * 1 + "\u3000" * 40),
            403,
            "your township is 周庄镇",
        ),
        ("zhou", record(description="长" * 70_000), 413, "at most"),
        ("zhou", [record()], 422, ""),  # a list, not a record
        # a version-1 record names its township `town`: another township's is refused too
        (
            "zhou",
            {
                "town": "城关镇",
                "case_no": "CG-1",
                "date": "2026-11-20",
                "type": "邻里纠纷",
                "content": "院墙纠纷",
            },
            403,
            "your township is 周庄镇",
        ),
    ],
)
def test_a_refused_record_is_said_why_and_nothing_is_posted(
    web,
    who: str,
    body: object,
    status: int,
    said: str,  # noqa: ANN001
) -> None:
    client, store, _, _, s = web
    r = client.post("/api/records", json=body, headers=token(store, who))
    assert r.status_code == status, r.text
    assert said in json.dumps(r.json(), ensure_ascii=False)
    assert on_topic(s, s.topics.records) == []


def test_a_sheet_with_two_bad_rows_names_exactly_those_rows_and_posts_nothing(web) -> None:  # noqa: ANN001
    client, store, _, _, s = web
    rows = [
        *GOOD_ROWS,
        ["周庄镇", "ZZ-3", "昨天", "邻里纠纷", "排水纠纷", 2],
        ["周庄镇", None, "2026-11-22", "打架斗殴", "酒后口角", 3],
        ["周庄镇", "ZZ-5", "2026-11-23", "邻里纠纷", "噪音", 2],
    ]
    files = {"file": ("周庄镇-11月.xlsx", xlsx(rows))}
    r = client.post("/api/records/upload", files=files, headers=token(store, "zhou"))
    assert r.status_code == 422
    d = r.json()["detail"]
    assert (d["rows"], d["bad_rows"], d["posted"]) == (5, 2, 0)
    assert [(p["row"], p["column"]) for p in d["problems"]] == [
        (4, "发现时间"),
        (5, "排查编号"),
        (5, "纠纷类别"),
    ]
    assert "缺少必填项" in d["problems"][1]["problem"]
    assert on_topic(s, s.topics.records) == []


@pytest.mark.parametrize("township", ["城关镇", "城关镇" + " " * 40])
def test_a_sheet_with_another_townships_row_is_refused(web, township: str) -> None:  # noqa: ANN001
    client, store, _, _, s = web
    rows = [*GOOD_ROWS, [township, "CG-1", "2026-11-20", "邻里纠纷", "院墙纠纷", 2]]
    files = {"file": ("sheet.xlsx", xlsx(rows))}
    r = client.post("/api/records/upload", files=files, headers=token(store, "zhou"))
    assert r.status_code == 422
    (problem,) = r.json()["detail"]["problems"]
    assert (problem["row"], problem["code"]) == (4, "foreign_township")
    assert on_topic(s, s.topics.records) == []


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("records.exe", b"MZ\x90\x00", 415),
        ("records.txt", "乡镇,排查编号\n".encode(), 415),
        ("broken.xlsx", b"this is not a workbook", 422),
        ("empty.csv", b"", 422),
        ("huge.csv", b"x" * (UPLOAD_MAX_BYTES + 10), 413),
        ("columns.csv", "乡镇,不知道的列\n周庄镇,1\n".encode(), 422),
    ],
)
def test_a_wrong_or_huge_file_is_refused_and_nothing_is_posted(
    web, name: str, data: bytes, status: int
) -> None:  # noqa: ANN001
    client, store, _, _, s = web
    files = {"file": (name, data)}
    r = client.post("/api/records/upload", files=files, headers=token(store, "zhou"))
    assert r.status_code == status, r.text
    assert on_topic(s, s.topics.records) == []


def test_odd_lines_of_a_jsonl_file_and_an_odd_audit_limit_are_422_not_500(web) -> None:  # noqa: ANN001
    client, store, _, _, s = web
    lines = "\n".join(
        ["[1, 2]", '"x"', '{"town": "城关镇", "case_no": "CG-2", "date": "2026-11-20"}']
    )
    files = {"file": ("records.jsonl", lines.encode())}
    r = client.post("/api/records/upload", files=files, headers=token(store, "zhou"))
    assert r.status_code == 422, r.text
    problems = r.json()["detail"]["problems"]
    assert {(p["row"], p["code"]) for p in problems} >= {
        (1, "not_an_object"),
        (2, "not_an_object"),
        (3, "foreign_township"),
    }
    assert on_topic(s, s.topics.records) == []
    for limit in ("100000000000000000000", "0", "-1"):
        r = client.get(f"/api/audit?limit={limit}", headers=token(store, "desk"))
        assert r.status_code == 422, (limit, r.text)


def test_a_lone_surrogate_is_422_wherever_it_is_sent(web) -> None:  # noqa: ANN001
    client, store, _, engine, s = web
    put_case(engine, "Cwage", "周庄镇", ["hrss"])
    as_json = {"content-type": "application/json"}
    body = json.dumps(record(ref_no="X")).replace('"X"', '"\\ud800"')  # valid JSON, not text
    r = client.post("/api/records", content=body, headers={**as_json, **token(store, "zhou")})
    assert r.status_code == 422 and "not text" in r.text
    r = client.post("/api/login", content='{"name": "\\ud800", "password": "x"}', headers=as_json)
    assert r.status_code == 422
    r = client.post(
        "/api/alerts/Cwage/feedback",
        content='{"text": "\\ud800"}',
        headers={**as_json, **token(store, "hrss1")},
    )
    assert r.status_code == 422
    assert on_topic(s, s.topics.records) == [] and on_topic(s, s.topics.alert_commands) == []


def test_an_upload_without_a_file_is_422(web) -> None:  # noqa: ANN001
    client, store, *_ = web
    r = client.post("/api/records/upload", headers=token(store, "zhou"))
    assert r.status_code == 422


def test_the_same_sheet_twice_posts_the_same_idempotency_keys(web) -> None:  # noqa: ANN001
    client, store, _, _, s = web
    files = {"file": ("sheet.xlsx", xlsx(GOOD_ROWS))}
    for _ in range(2):
        r = client.post("/api/records/upload", files=files, headers=token(store, "zhou"))
        assert r.json() == {"rows": 2, "posted": 2}
    keys = [dict(m.headers)["ews-key"] for m in on_topic(s, s.topics.records)]
    assert len(keys) == 4 and len(set(keys)) == 2  # the projector counts each key once


# ---- cases and alerts -----------------------------------------------------------------------


def put_case(
    engine, case_id: str, township: str, units: list[str] | None, petition: bool = True
) -> None:  # noqa: ANN001
    now = "2026-11-26T09:00:00+08:00"
    with engine.begin() as conn:
        conn.execute(
            sa.insert(cases).values(
                case_row(
                    case_id,
                    township,
                    opened_at=now,
                    last_found_at=now,
                    updated_at=now,
                    is_petition=petition,
                )
            )
        )
        if units is not None:
            conn.execute(sa.insert(alerts).values(alert_row(case_id, units, township)))


def test_a_township_reads_only_its_own_cases(web) -> None:  # noqa: ANN001
    client, store, _, engine, _ = web
    put_case(engine, "Czhou1", "周庄镇", ["hrss"])
    put_case(engine, "Ccheng1", "城关镇", ["hrss"])
    zhou = token(store, "zhou")
    assert [c["case_id"] for c in client.get("/api/cases", headers=zhou).json()] == ["Czhou1"]
    assert client.get("/api/cases/Czhou1", headers=zhou).status_code == 200
    r = client.get("/api/cases/Ccheng1", headers=zhou)
    assert r.status_code == 403 and "not allowed" in r.json()["detail"]
    assert client.get("/api/cases?township=城关镇", headers=zhou).status_code == 403
    assert client.get("/api/cases/nope", headers=zhou).status_code == 404
    both = client.get("/api/cases", headers=token(store, "desk")).json()
    assert {c["case_id"] for c in both} == {"Czhou1", "Ccheng1"}


def test_a_busy_township_pages_through_all_its_cases(web) -> None:  # noqa: ANN001
    """Each page starts after the last case of the one before: a case found while the clerk
    pages neither repeats a case on the next page nor pushes one off it."""
    client, store, _, engine, _ = web
    for i in range(5):
        put_case(engine, f"Czhou{i}", "周庄镇", None)
    zhou = token(store, "zhou")
    pages, after = [], ""
    for n in range(4):
        page = client.get(f"/api/cases?limit=2{after}", headers=zhou).json()
        pages.append([c["case_id"] for c in page])
        if n == 0:  # a new case, found later than all the others, comes in meanwhile
            with engine.begin() as conn:
                later = "2026-11-27T09:00:00+08:00"
                conn.execute(sa.insert(cases).values(case_row("Cnew", last_found_at=later)))
        if page:
            last = page[-1]
            after = f"&after_found={last['last_found_at']}&after_case={last['case_id']}"
            after = after.replace("+", "%2B")
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert sorted(c for p in pages for c in p) == [f"Czhou{i}" for i in range(5)]
    first = client.get("/api/cases?limit=2", headers=zhou).json()
    assert first[0]["case_id"] == "Cnew"  # on top when the list is read again
    for bad in ("limit=0", "limit=501", "after_found=2026-11-26", "after_case=Czhou1"):
        assert client.get(f"/api/cases?{bad}", headers=zhou).status_code == 422, bad


def test_a_unit_officer_sees_and_acts_only_on_its_units_alerts(web) -> None:  # noqa: ANN001
    client, store, _, engine, s = web
    put_case(engine, "Cwage", "周庄镇", ["hrss"])
    put_case(engine, "Cfight", "周庄镇", ["police"])
    hrss = token(store, "hrss1")
    (queued,) = client.get("/api/alerts", headers=hrss).json()
    assert queued["case_id"] == "Cwage"
    assert [c["case_id"] for c in client.get("/api/cases", headers=hrss).json()] == ["Cwage"]
    # received 2026-10-01, on 2026-11-26: the 15-day decision on acceptance is 41 days overdue
    assert (queued["statutory"]["clock"], queued["statutory"]["days_left"]) == (
        "accept_decision",
        -41,
    )
    assert queued["acknowledge_by_minutes_left"] == -510  # due 01:30 UTC (09:30 China), now 10:00
    put_case(engine, "Cnot", "周庄镇", ["hrss"], petition=False)  # a date, but no petition
    (not_petition,) = [
        q for q in client.get("/api/alerts", headers=hrss).json() if q["case_id"] == "Cnot"
    ]
    assert not_petition["statutory"] is None
    assert client.get("/api/cases/Cnot", headers=hrss).json()["clocks"] == []
    assert client.get("/api/cases/Cfight", headers=hrss).status_code == 403
    r = client.post("/api/alerts/Cfight/acknowledge", headers=hrss)
    assert r.status_code == 403
    assert on_topic(s, s.topics.alert_commands) == []
    r = client.post("/api/alerts/Cwage/acknowledge", headers=hrss)
    assert r.status_code == 202
    (m,) = on_topic(s, s.topics.alert_commands)
    (command,) = json.loads(m.value)
    assert (command["by"], command["unit"], command["action"]) == ("hrss1", "hrss", "acknowledge")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/alerts/Cwage/feedback", {}, 422),  # feedback needs a text
        ("/api/alerts/Cwage/feedback", {"text": "   "}, 422),
        ("/api/alerts/Cwage/reassign", {"to_unit": "nowhere"}, 422),
        ("/api/alerts/Cwage/reassign", {"to_unit": "hrss"}, 409),  # already with it
        ("/api/alerts/Cwage/resolve", {"satisfaction": "great"}, 422),
        ("/api/alerts/Cwage/resolve", {"satisfaction": 5}, 422),
        ("/api/alerts/Cwage/feedback", {"text": "x" * 3000}, 422),
        ("/api/alerts/Cwage/delete", {}, 404),
        ("/api/alerts/Cnone/acknowledge", {}, 404),
    ],
)
def test_a_wrong_alert_action_is_4xx_and_sends_nothing(web, path, body, status) -> None:  # noqa: ANN001
    client, store, _, engine, s = web
    put_case(engine, "Cwage", "周庄镇", ["hrss"])
    r = client.post(path, json=body, headers=token(store, "desk"))
    assert r.status_code == status, r.text
    assert on_topic(s, s.topics.alert_commands) == []


@pytest.mark.parametrize("answer", ["satisfied", "basically_satisfied", "unsatisfied"])
def test_each_answer_at_the_visit_resolves_the_alert(web, answer: str) -> None:  # noqa: ANN001
    """The console offers 满意, 基本满意 and 不满意; the API refused 基本满意 (19 characters
    against a limit of 16)."""
    client, store, _, engine, s = web
    put_case(engine, "Cwage", "周庄镇", ["hrss"])
    body = {"satisfaction": answer}
    r = client.post("/api/alerts/Cwage/resolve", json=body, headers=token(store, "desk"))
    assert r.status_code == 202, r.text
    (m,) = on_topic(s, s.topics.alert_commands)
    assert json.loads(m.value)[0]["satisfaction"] == answer


def test_a_retried_action_carries_the_same_command_id(web) -> None:  # noqa: ANN001
    client, store, _, engine, s = web
    put_case(engine, "Cwage", "周庄镇", ["hrss"])
    headers = {**token(store, "desk"), "Idempotency-Key": "k-1"}
    body = {"text": "已约谈企业负责人"}
    for _ in range(2):
        assert (
            client.post("/api/alerts/Cwage/feedback", json=body, headers=headers).status_code == 202
        )
    ids = {json.loads(m.value)[0]["command_id"] for m in on_topic(s, s.topics.alert_commands)}
    assert ids == {"web:desk:k-1"}  # the alert writer applies a command id once


def test_the_county_views_are_for_the_desk(web) -> None:  # noqa: ANN001
    client, store, clock, engine, _ = web
    put_case(engine, "Cwage", "周庄镇", ["hrss"])
    for who in ("zhou", "hrss1"):
        assert client.get("/api/kpis", headers=token(store, who)).status_code == 403
        assert client.get("/api/time-limits", headers=token(store, who)).status_code == 403
        assert client.get("/api/audit", headers=token(store, who)).status_code == 403
    desk = token(store, "desk")
    limits = client.get("/api/time-limits", headers=desk).json()
    # received 2026-10-01: the 15-day decision is overdue on 11-26, the 60-day handling not
    days = {m["clock"]: m["days_left"] for m in limits["matters"]}
    assert days == {"accept_decision": -41, "handling": 4}
    assert {b["band"]: b["count"] for b in limits["bands"]}["overdue"] == 1
    clock.at += dt.timedelta(days=5)
    days = {
        m["clock"]: m["days_left"]
        for m in client.get("/api/time-limits", headers=desk).json()["matters"]
    }
    assert days["handling"] == -1


def test_models_are_for_analysts(web) -> None:  # noqa: ANN001
    client, store, *_ = web
    for who in ("zhou", "hrss1", "desk"):
        assert client.get("/api/models", headers=token(store, who)).status_code == 403
        r = client.post("/api/models/v0001/promote", headers=token(store, who))
        assert r.status_code == 403
    ana = token(store, "ana")
    assert client.get("/api/models", headers=ana).json()["versions"] == []
    assert client.post("/api/models/v0009/promote", headers=ana).status_code == 404
    r = client.post("/api/models/rollback", headers=ana)
    assert r.status_code == 409 and "nothing to roll back" in r.json()["detail"]


def test_a_model_the_scorers_would_refuse_is_not_promoted(web) -> None:  # noqa: ANN001
    from models.registry import Registry
    from tests.test_model_support import trained

    client, store, *_, settings = web
    other_words = {**trained().metadata, "lexicon": "0" * 16}
    version = Registry(settings.model_dir).save(trained().model, other_words)
    r = client.post(f"/api/models/{version}/promote", headers=token(store, "ana"))
    assert r.status_code == 409 and "another lexicon" in r.json()["detail"]
    assert on_topic(settings, settings.topics.model_events) == []  # nothing published


def test_operations_endpoints(web) -> None:  # noqa: ANN001
    client, store, *_ = web
    assert client.get("/healthz").json() == {"ok": True}
    client.get("/api/cases", headers=token(store, "zhou"))
    text = client.get("/metrics").text
    assert 'ews_web_requests_total{method="GET",route="/api/cases",status="200"}' in text
    assert "/api/records/upload" in client.get("/openapi.json").text


def test_a_case_timeline_is_in_china_time_in_the_order_things_happened(web) -> None:  # noqa: ANN001
    from readside.tables import alert_timeline, case_timeline

    client, store, _, engine, _ = web
    put_case(engine, "Ct", "周庄镇", ["hrss"])
    with engine.begin() as conn:
        conn.execute(
            sa.insert(case_timeline).values(
                event_id="e1",
                case_id="Ct",
                seq=1,
                event_type="CaseOpened",
                occurred_at="2026-11-27T02:43:00+08:00",
                recorded_at="2026-11-27T02:43:00+08:00",
                summary="立案",
                payload="{}",
            )
        )
        conn.execute(  # an officer's action, stamped in UTC: 19:50 UTC is 03:50 China time
            sa.insert(alert_timeline).values(
                event_id="e2",
                case_id="Ct",
                alert_id="ACt",
                seq=2,
                event_type="AlertAcknowledged",
                occurred_at="2026-11-26T19:50:00+00:00",
                summary="签收 hrss1（hrss）",
                actor="hrss1",
            )
        )
    timeline = client.get("/api/cases/Ct", headers=token(store, "desk")).json()["timeline"]
    assert [(e["summary"], e["at"]) for e in timeline] == [
        ("立案", "2026-11-27T02:43:00+08:00"),
        ("签收 hrss1（hrss）", "2026-11-27T03:50:00+08:00"),
    ]
    audit = client.get("/api/audit", headers=token(store, "desk")).json()  # the same times
    assert ("AlertAcknowledged", "2026-11-27T03:50:00+08:00") in [
        (r["action"], r["at"]) for r in audit
    ]
    assert all(r["at"].endswith("+08:00") for r in audit)


def test_the_analyst_sees_each_version_s_evidence_and_its_card(web) -> None:  # noqa: ANN001
    from models.registry import Registry
    from tests.test_model_support import trained

    client, store, *_, settings = web
    result = trained()
    interval = {"value": 0.04, "ci95": [0.01, 0.08]}
    evidence = {
        "rolling": {
            "scorers": {
                "candidate": {"average_precision": {"value": 0.11, "ci95": [0.09, 0.14]}},
                "rules": {"average_precision": {"value": 0.07, "ci95": [0.05, 0.09]}},
            }
        },
        "other_county": {"differences": {"candidate-rules": interval}},
        "handwritten": None,
        "text_helps": False,
    }
    registry = Registry(settings.model_dir)
    version = registry.save(result.model, {**result.metadata, "evidence": evidence})
    (registry.path(version) / "card.md").write_text("# card\n", encoding="utf-8")
    ana = token(store, "ana")
    shown = {v["version"]: v for v in client.get("/api/models", headers=ana).json()["versions"]}
    assert shown[version]["evidence"]["other_county"]["differences"]["candidate-rules"] == interval
    assert shown[version]["card"] == "card.md"
    card = client.get(f"/api/models/{version}/files/card.md", headers=ana)
    assert card.status_code == 200 and card.text.startswith("# card")
