"""The web service (FastAPI): the HTTP API and the browser console of dispute-ews.

Townships post records (one, or a CSV / Excel sheet) and read their own cases; duty officers
work their unit's alert queue (live, by server-sent events) and act on alerts; the county duty
desk sees everything, the KPIs and the time-limit map; analysts promote or roll back models;
admins read the audit.  Every request is authenticated (a browser session cookie or an API
token, ``Authorization: Bearer``) and checked against ``domain.access``.

The service changes nothing itself: records, officers' actions and promotions go to Kafka
(``web.kafka``), and the pipeline decides.  It reads the read models.  OpenAPI docs: /docs.
"""

# no ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, and
# ``Who`` is local to ``create_app``.
import asyncio
import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Body, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from domain.access import ROLE_ZH, Principal
from domain.alerts.routing import Routing
from domain.risk.policy import RiskPolicy
from domain.risk.rules import statutory_clocks
from models.promotion import promoted_event, rolled_back_event
from models.registry import ModelRefused, Registry
from models.scoring import scored_under
from readside import case_queries
from readside.alert_queries import kpis, queue
from schemas.categories import CATEGORIES
from schemas.commands import ALERT_ACTIONS, AlertCommand
from schemas.privacy import mask_personal
from schemas.reasons import reason_zh
from schemas.record import CHINA_TZ, SATISFACTION, as_time, china_time, township_hint
from schemas.settings import Settings
from web.accounts import LOCK_AFTER, LOCK_SECONDS, AccountStore
from web.kafka import KafkaGateway
from web.sheets import (
    COLUMN_TITLES,
    SUFFIXES,
    FileRefused,
    Row,
    check_rows,
    headers,
    rows_of,
)

log = logging.getLogger("ews.web")
STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "ews_session"
UPLOAD_MAX_BYTES = 5 * 1024 * 1024  # a township's sheet is far smaller
UPLOAD_MAX_ROWS = 5000
RECORD_MAX_BYTES = 64 * 1024
AUDIT_MOST = 10_000  # rows of the audit in one answer
CASES_MOST = 500  # cases in one answer (the next ones: after_found and after_case)
PAGES = ("console", "township", "analyst", "audit")


class ActionBody(BaseModel):
    text: str | None = Field(default=None, max_length=2000, description="处置反馈内容")
    measures: str | None = Field(default=None, max_length=2000, description="处置措施")
    to_unit: str | None = Field(default=None, max_length=64, description="改派到的单位")
    satisfaction: str | None = Field(default=None, max_length=32, description="回访满意度")


class LoginBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class ModelBody(BaseModel):
    reason: str = Field(default="", max_length=500)


def create_app(
    settings: Settings,
    accounts: AccountStore,
    engine: sa.Engine,
    gateway: KafkaGateway,
    routing: Routing,
    policy: RiskPolicy,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    poll_seconds: float = 1.0,
) -> FastAPI:
    """The web service over these stores; ``now`` is its clock (deadlines, countdowns)."""
    app = FastAPI(
        title="dispute-ews",
        description="矛盾纠纷预警：乡镇录入、值班处置、县级总览、模型管理",
        version="1",
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # ASCII JSON: what was sent may hold a lone surrogate, which UTF-8 cannot carry
        detail = json.dumps({"detail": jsonable_encoder(exc.errors())}, default=str)
        return Response(detail, status_code=422, media_type="application/json")

    @app.exception_handler(UnicodeEncodeError)
    async def not_text(request: Request, exc: UnicodeEncodeError) -> Response:
        return JSONResponse(
            {
                "detail": "含无效字符 / the request holds a character that is not text (a lone surrogate)"
            },
            status_code=422,
        )

    registry = CollectorRegistry()
    requests = Counter(
        "ews_web_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "ews_web_request_seconds", "HTTP request time", ["route"], registry=registry
    )
    models = Registry(settings.model_dir)

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        began = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "other")
        requests.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(route).observe(time.perf_counter() - began)
        return response

    # ---- who is asking -------------------------------------------------------------------

    def principal(request: Request) -> Principal:
        token = _credential(request)
        if not token:
            raise HTTPException(401, "未登录或缺少凭证 / no credential: log in or send a token")
        who, why = accounts.who(token)
        if who is None:
            raise HTTPException(401, f"凭证无效 / {why}")
        return who

    Who = Annotated[Principal, Depends(principal)]

    def forbidden(what: str) -> HTTPException:
        return HTTPException(403, f"无权访问 / not allowed: {what}")

    # ---- operations ----------------------------------------------------------------------

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Ready when the read models and the accounts answer."""
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            accounts.list()
        except Exception as exc:
            return JSONResponse({"ok": False, "problem": type(exc).__name__}, status_code=503)
        return {"ok": True}

    @app.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    # ---- sessions ------------------------------------------------------------------------

    @app.post("/api/login", tags=["sessions"])
    def login(body: LoginBody, request: Request) -> JSONResponse:
        client = request.client.host if request.client else ""
        token = accounts.login(body.name, body.password, client)
        if token is None:
            log.info("login refused for one account")
            raise HTTPException(
                401,
                f"用户名或密码错误（连续输错{LOCK_AFTER}次将锁定{LOCK_SECONDS // 60}分钟） / wrong "
                f"name or password ({LOCK_AFTER} wrong ones lock the account for "
                f"{LOCK_SECONDS // 60} minutes)",
            )
        who, _ = accounts.who(token)
        response = JSONResponse(_me(who))  # type: ignore[arg-type]
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.post("/api/logout", tags=["sessions"])
    def logout(request: Request) -> JSONResponse:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            accounts.logout(token)
        response = JSONResponse({"ok": True})
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/api/me", tags=["sessions"])
    def me(who: Who) -> dict[str, Any]:
        return _me(who)

    # ---- townships: records and cases -----------------------------------------------------

    @app.post("/api/records", status_code=202, tags=["townships"])
    def post_record(
        who: Who,
        record: Annotated[dict[str, Any], Body(description="一条排查记录（字段见 /api/schema）")],
        request: Request,
    ) -> dict[str, Any]:
        """Post one record of the clerk's own township.  Checked as intake will check it: a
        record with problems is refused (422) with each problem, and nothing is posted."""
        data = json.dumps(record, ensure_ascii=False).encode("utf-8")
        if len(data) > RECORD_MAX_BYTES:
            raise HTTPException(413, f"记录过大 / a record is at most {RECORD_MAX_BYTES} bytes")
        if who.role != "township_clerk":
            raise forbidden("only a township clerk posts records")
        township = township_hint(data)
        if township is not None and not who.can_post_for(township):
            raise forbidden(f"records of {township} (your township is {who.township})")
        key = request.headers.get("idempotency-key") or hashlib.sha256(data).hexdigest()[:32]
        row = Row(source=f"web:{who.name}", number=1, data=data)
        problems = _problems([row], now())
        if problems:  # a missing or wrong township is one of them
            raise HTTPException(422, {"problems": problems, "posted": 0})
        if township is None:  # valid, yet its township unread here: never posted unchecked
            raise forbidden(f"a record whose township is not read (yours is {who.township})")
        gateway.post_records([(data, headers(row, who.name, key[:64]))])
        log.info("record posted by %s for %s", who.name, township)
        return {"posted": 1, "idempotency_key": key[:64]}

    @app.post("/api/records/upload", status_code=202, tags=["townships"])
    async def upload(
        who: Who, file: Annotated[UploadFile, File(description="CSV 或 Excel (.xlsx)")]
    ) -> dict[str, Any]:
        """Upload a sheet (CSV, Excel .xlsx, JSON lines).  Every row is checked first; if any
        row has a problem the sheet is refused (422) with each problem by row and column, and
        nothing is posted.  The same sheet uploaded twice adds nothing the second time."""
        if who.role != "township_clerk":
            raise forbidden("only a township clerk uploads records")
        name = Path(file.filename or "").name
        if Path(name).suffix.lower() not in SUFFIXES:
            raise HTTPException(415, f"不支持的文件类型 / use one of {', '.join(SUFFIXES)}")
        data = await file.read(UPLOAD_MAX_BYTES + 1)
        if len(data) > UPLOAD_MAX_BYTES:
            raise HTTPException(413, f"文件过大 / a sheet is at most {UPLOAD_MAX_BYTES} bytes")
        try:
            rows = await run_in_threadpool(rows_of, name, data)
        except FileRefused as exc:
            raise HTTPException(422, {"problems": [], "file": str(exc), "posted": 0}) from None
        except Exception as exc:  # not a sheet at all (a renamed file, a broken workbook)
            raise HTTPException(
                422, {"problems": [], "file": f"{name}: 无法读取 / unreadable ({exc})", "posted": 0}
            ) from None
        if not rows:
            raise HTTPException(422, {"problems": [], "file": f"{name}: 没有记录 / no rows"})
        if len(rows) > UPLOAD_MAX_ROWS:
            raise HTTPException(413, f"行数过多 / at most {UPLOAD_MAX_ROWS} rows per sheet")
        problems = _problems(rows, now())
        problems += _foreign_rows(rows, who, {p["row"] for p in problems})
        if problems:
            problems.sort(key=lambda p: (p["row"], p["column"]))
            bad = len({p["row"] for p in problems})
            raise HTTPException(
                422, {"problems": problems, "rows": len(rows), "bad_rows": bad, "posted": 0}
            )
        n = await run_in_threadpool(
            gateway.post_records, [(r.data, headers(r, who.name)) for r in rows]
        )
        log.info("sheet of %d rows posted by %s", n, who.name)
        return {"rows": len(rows), "posted": n}

    @app.get("/api/schema", tags=["townships"])
    def record_fields() -> dict[str, Any]:
        """The record's fields and the categories (for the form)."""
        from schemas.record import (
            ESCALATION_KINDS,
            FIELDS,
            FOLLOW_UP_STATUSES,
            RECORD_KINDS,
        )

        labels = {
            "record_kind": RECORD_KINDS,
            "follow_up_status": FOLLOW_UP_STATUSES,
            "escalation_kind": ESCALATION_KINDS,
            "satisfaction": SATISFACTION,
            "category": {c.code: c.label for c in CATEGORIES},
        }
        titles: dict[str, str] = {}
        for title, field in COLUMN_TITLES.items():
            titles.setdefault(field, title)
        return {
            "fields": [
                {
                    "name": f.name,
                    "zh": titles.get(f.name, f.name),
                    "kind": f.kind,
                    "required": f.required,
                    "choices": [
                        {"code": c, "zh": labels.get(f.name, {}).get(c, c)}
                        for c in (labels["category"] if f.name == "category" else f.choices)
                    ],
                    "doc": f.doc,
                }
                for f in FIELDS
                if f.name != "schema_version"
            ],
            "categories": [{"code": c.code, "label": c.label} for c in CATEGORIES],
            "satisfaction": list(SATISFACTION),
        }

    @app.get("/api/cases", tags=["cases"])
    def list_cases(
        who: Who,
        township: str | None = None,
        limit: Annotated[int, Query(ge=1, le=CASES_MOST)] = CASES_MOST,
        after_found: Annotated[str | None, Query(max_length=40)] = None,
        after_case: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[dict[str, Any]]:
        """Cases this account may read, the most recently found first, ``limit`` of them: a
        township its own, a unit those with its alerts.  The next page: ``after_found`` and
        ``after_case``, the ``last_found_at`` and ``case_id`` of this page's last case."""
        if (after_found is None) != (after_case is None):
            raise HTTPException(422, "after_found and after_case go together")
        after = (after_found, after_case or "") if after_found is not None else None
        page = {"limit": limit, "after": after}
        if who.role == "township_clerk":
            if township and township != who.township:
                raise forbidden(f"cases of {township}")
            return case_queries.case_rows(engine, township=who.township, **page)
        if who.role == "unit_officer":
            unit = who.unit or ""
            return case_queries.case_rows(engine, township=township, unit=unit, **page)
        return case_queries.case_rows(engine, township=township, **page)

    @app.get("/api/cases/{case_id}", tags=["cases"])
    def get_case(case_id: str, who: Who) -> dict[str, Any]:
        """A case with its risk, alerts, statutory clocks and one timeline of everything."""
        detail = case_queries.case_detail(engine, case_id)
        if detail is None:
            raise HTTPException(404, f"没有该案件 / no case {case_id}")
        units = [u for a in detail["alerts"] for u in a["units"]]
        if not who.can_read_case(detail["case"]["township"], units):
            raise forbidden(f"case {case_id}")
        detail["clocks"] = _clocks(detail["case"], now(), policy)
        return detail

    # ---- duty officers: alerts --------------------------------------------------------------

    def my_queue(who: Principal) -> list[dict[str, Any]]:
        if who.role == "township_clerk":
            rows = queue(engine, township=who.township)
        elif who.role in ("unit_officer", "county_desk", "admin"):
            rows = queue(engine, unit=who.sees_alerts_of())
        else:
            raise forbidden("the alert queue")
        at = now()
        out = []
        for r in rows:
            queued = _queued(r, at)
            clocks = _clocks(r, at, policy)
            queued["statutory"] = min(clocks, key=lambda c: c["days_left"]) if clocks else None
            out.append(queued)
        return out

    @app.get("/api/alerts", tags=["alerts"])
    def alerts(who: Who) -> list[dict[str, Any]]:
        """Open alerts for this account, most urgent first (level, then age)."""
        return my_queue(who)

    @app.get("/api/alerts/stream", tags=["alerts"])
    async def alert_stream(who: Who, request: Request) -> StreamingResponse:
        """The queue as server-sent events: an ``event: queue`` whenever it changes."""
        my_queue(who)  # refuse before the stream starts
        token = _credential(request)

        async def events() -> Any:
            last, quiet = None, 0.0
            while not await request.is_disconnected():
                _, why = await run_in_threadpool(accounts.who, token)
                if why:  # logged out, revoked or expired since the stream began
                    yield f"event: logout\ndata: {json.dumps(why, ensure_ascii=False)}\n\n"
                    return
                rows = await run_in_threadpool(my_queue, who)
                body = json.dumps(rows, ensure_ascii=False, default=str)
                if body != last:
                    last, quiet = body, 0.0
                    yield f"event: queue\ndata: {body}\n\n"
                elif quiet >= 15:
                    quiet = 0.0
                    yield ": still here\n\n"
                await asyncio.sleep(poll_seconds)
                quiet += poll_seconds

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.post("/api/alerts/{case_id}/{action}", status_code=202, tags=["alerts"])
    def act(
        case_id: str, action: str, who: Who, request: Request, body: ActionBody | None = None
    ) -> dict[str, Any]:
        """Acknowledge (签收), report feedback (反馈), resolve (办结), escalate (上报) or
        reassign (改派) the case's alert: the same command as `ews alert`.  Send an
        ``Idempotency-Key`` header to make a retried request harmless."""
        body = body or ActionBody()
        if action not in ALERT_ACTIONS:
            raise HTTPException(404, f"没有该操作 / no action {action!r}; use {ALERT_ACTIONS}")
        alert = case_queries.current_alert(engine, case_id)
        if alert is None:
            raise HTTPException(404, f"该案件没有预警 / no alert for case {case_id}")
        if not who.can_act_on_alert(alert["units"]):
            raise forbidden(f"the alert of case {case_id}")
        if action == "feedback" and not (body.text or "").strip():
            raise HTTPException(422, "处置反馈需要内容 / feedback needs a text")
        if action == "reassign" and body.to_unit not in routing.units:
            raise HTTPException(422, f"没有单位 / no unit {body.to_unit!r}")
        if action == "reassign" and list(alert["units"]) == [body.to_unit]:
            raise HTTPException(
                409, f"预警已由该单位负责 / the alert is already with {body.to_unit}"
            )
        if body.satisfaction is not None and body.satisfaction not in SATISFACTION:
            raise HTTPException(422, f"满意度只能是 {', '.join(SATISFACTION)}")
        key = request.headers.get("idempotency-key") or uuid.uuid4().hex
        command = AlertCommand(
            command_id=f"web:{who.name}:{key[:64]}",
            case_id=case_id,
            action=action,
            by=who.name,
            unit=who.acting_unit(),
            at=now().isoformat(timespec="seconds"),
            text=body.text,
            measures=body.measures,
            to_unit=body.to_unit,
            satisfaction=body.satisfaction,
        )
        gateway.send_alert_command(command)
        log.info("%s of case %s sent by %s", action, case_id, who.name)
        return {"sent": action, "command_id": command.command_id}

    # ---- the county: KPIs and the time-limit map --------------------------------------------

    @app.get("/api/kpis", tags=["county"])
    def county_kpis(who: Who) -> dict[str, Any]:
        if not who.can_see_county:
            raise forbidden("the county KPIs")
        return kpis(engine, now(), policy.statutory_limits["handle"])

    @app.get("/api/time-limits", tags=["county"])
    def time_limits(who: Who) -> dict[str, Any]:
        """The time-limit map (时限图): every open petition's statutory clocks by days left."""
        if not who.can_see_county:
            raise forbidden("the time-limit map")
        at = now()
        matters = []
        for row in case_queries.open_petitions(engine):
            for clock in _clocks(row, at, policy):
                matters.append({**row, **clock})
        matters.sort(key=lambda m: m["days_left"])
        return {"as_of": at.isoformat(), "matters": matters, "bands": _bands(matters)}

    # ---- analysts: models ---------------------------------------------------------------------

    @app.get("/api/models", tags=["models"])
    def list_models(who: Who) -> dict[str, Any]:
        if not who.can_manage_models:
            raise forbidden("the models")
        state = gateway.in_service()
        out = []
        for v in models.versions():
            meta = models.metadata(v)
            out.append(
                {
                    "version": v,
                    "created_at": china_time(meta["created_at"])
                    if meta.get("created_at")
                    else None,
                    "metrics": meta.get("metrics", {}),
                    "data_window": meta.get("data_window"),
                    "plots": sorted(p.name for p in models.path(v).glob("*.png")),
                    "card": "card.md" if (models.path(v) / "card.md").is_file() else None,
                    "evidence": meta.get("evidence"),
                    "in_service": v == state.version,
                }
            )
        return {"in_service": state.version, "previous": state.previous, "versions": out}

    @app.get("/api/models/{version}/files/{name}", tags=["models"])
    def model_file(version: str, name: str, who: Who) -> Response:
        if not who.can_manage_models:
            raise forbidden("the models")
        if version not in models.versions() or "/" in name or not name.endswith((".png", ".md")):
            raise HTTPException(404, "no such file")
        path = models.path(version) / name
        if not path.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(path)

    def servable(version: str) -> Any:
        """The model as a scorer would load it (the file, its types, the lexicon it was trained
        with); 409 if a scorer would refuse it."""
        try:
            return scored_under(models.load(version), policy)
        except ModelRefused as exc:
            raise HTTPException(409, f"模型不可用 / {exc}") from None

    @app.post("/api/models/{version}/promote", status_code=202, tags=["models"])
    def promote(version: str, who: Who, body: ModelBody | None = None) -> dict[str, Any]:
        if not who.can_manage_models:
            raise forbidden("promoting a model")
        if version not in models.versions():
            raise HTTPException(404, f"没有该模型 / no model {version}")
        loaded = servable(version)
        current = gateway.in_service().version
        if current == version:
            return {"in_service": version, "changed": False}
        reason = body.reason if body else ""
        sha = loaded.metadata.get("sha256")
        gateway.publish_model_event(promoted_event(version, current, sha, reason, by=who.name))
        return {"in_service": version, "previous": current, "changed": True}

    @app.post("/api/models/rollback", status_code=202, tags=["models"])
    def rollback(who: Who, body: ModelBody | None = None) -> dict[str, Any]:
        if not who.can_manage_models:
            raise forbidden("rolling back a model")
        state = gateway.in_service()
        if state.previous is None:
            raise HTTPException(
                409, f"没有可回退的版本 / nothing to roll back to ({state.version})"
            )
        servable(state.previous)
        reason = body.reason if body else ""
        event = rolled_back_event(state.previous, state.version, reason, by=who.name)
        gateway.publish_model_event(event)
        return {"in_service": state.previous, "previous": state.version, "changed": True}

    # ---- the audit --------------------------------------------------------------------------

    @app.get("/api/audit", tags=["audit"])
    def audit(
        who: Who, limit: Annotated[int, Query(ge=1, le=AUDIT_MOST)] = 500
    ) -> list[dict[str, Any]]:
        """Who did what when: posts, alert actions, model promotions, account changes."""
        if not who.can_read_audit:
            raise forbidden("the audit")
        rows = case_queries.audit_rows(engine, limit)
        for e in gateway.model_events():
            rows.append(
                {
                    "at": e.get("at"),
                    "who": e.get("by"),
                    "action": e.get("event_type"),
                    "case_id": None,
                    "summary": f"模型 {e.get('version')} {e.get('reason') or ''}".strip(),
                }
            )
        for e in accounts.events(limit):
            at = dt.datetime.fromtimestamp(e["at"], dt.UTC).isoformat(timespec="seconds")
            rows.append(
                {
                    "at": at,
                    "who": e["by"],
                    "action": e["action"],
                    "case_id": None,
                    "summary": f"账号 {e['name']}",
                }
            )
        rows.sort(key=lambda r: _utc(r["at"]), reverse=True)
        for r in rows[:limit]:
            r["at"] = china_time(r["at"]) if r["at"] else None
        return rows[:limit]

    # ---- pages ------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return FileResponse(STATIC / "index.html")

    @app.get("/login", include_in_schema=False)
    def login_page() -> Response:
        return FileResponse(STATIC / "index.html")

    for page in PAGES:
        app.add_api_route(f"/{page}", home, include_in_schema=False, methods=["GET"])

    @app.get("/cases/{case_id}", include_in_schema=False)
    def case_page(case_id: str) -> Response:
        return FileResponse(STATIC / "index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        path = STATIC / Path(name).name
        if not path.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(path)

    app.state.accounts = accounts
    return app


def _me(who: Principal) -> dict[str, Any]:
    return {
        "name": who.name,
        "role": who.role,
        "role_zh": ROLE_ZH[who.role],
        "township": who.township,
        "unit": who.unit,
        "acts_on_alerts": who.acts_on_alerts,
    }


def _problems(rows: list[Row], at: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "row": p.row.number,
            "column": p.column,
            "code": p.code,
            "problem": reason_zh(p.code),
            "detail": mask_personal(p.message),
            "text": p.line(),
        }
        for p in check_rows(rows, int(at.timestamp() * 1000))
    ]


def _foreign_rows(rows: list[Row], who: Principal, bad: set[int]) -> list[dict[str, Any]]:
    """Rows of another township: a clerk posts only for their own.  A row with no other
    problem (not in ``bad``) whose township is not read here is one too: never posted
    unchecked."""
    out = []
    for row in rows:
        township = township_hint(row.data)
        unread = township is None and row.number not in bad
        if unread or (township is not None and not who.can_post_for(township)):
            out.append(
                {
                    "row": row.number,
                    "column": row.title("township"),
                    "code": "foreign_township",
                    "problem": "不是本乡镇的记录",
                    "detail": f"{township or 'a township not read'} is not your township "
                    f"({who.township})",
                    "text": f"{row.source} 第{row.number}行：不是本乡镇（{who.township}）的记录",
                }
            )
    return out


def _clocks(case: dict[str, Any], at: dt.datetime, policy: RiskPolicy) -> list[dict[str, Any]]:
    if not case.get("is_petition"):  # a date on a record that is no petition starts no clock
        return []
    today = at.astimezone(CHINA_TZ).date()
    starts = {"petition_received_on": case.get("petition_received_on")}
    clocks = statutory_clocks(starts, case.get("follow_up_status"), today, policy)
    return [
        {
            "clock": c.code,
            "clock_zh": c.zh,
            "due_on": c.due_on.isoformat(),
            "days_left": c.days_left,
        }
        for c in clocks
    ]


BANDS = (
    ("overdue", "已超期", -(10**6), -1),
    ("3", "3天内", 0, 3),
    ("7", "4-7天", 4, 7),
    ("15", "8-15天", 8, 15),
    ("30", "16-30天", 16, 30),
    ("later", "30天以上", 31, 10**6),
)


def _bands(matters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"band": code, "zh": zh, "count": sum(1 for m in matters if lo <= m["days_left"] <= hi)}
        for code, zh, lo, hi in BANDS
    ]


def _queued(row: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    out = {
        k: row[k]
        for k in (
            "alert_id",
            "case_id",
            "status",
            "level",
            "township",
            "category",
            "raised_at",
            "acknowledge_by",
            "feedback_by",
            "ref_no",
            "escalation_step",
        )
    }
    out["feedback_by"] = row.get("feedback_due") or row["feedback_by"]  # the one due now
    out["units"] = json.loads(row["units"])
    out["reasons"] = json.loads(row["reasons"])
    out["age_minutes"] = round((at - _utc(row["raised_at"])).total_seconds() / 60)
    for key in ("acknowledge_by", "feedback_by"):
        due = out.get(key)
        out[f"{key}_minutes_left"] = round((_utc(due) - at).total_seconds() / 60) if due else None
    return out


def _credential(request: Request) -> str | None:
    """The token a request carries: ``Authorization: Bearer`` or the session cookie."""
    auth = request.headers.get("authorization", "")
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
    return token or request.cookies.get(SESSION_COOKIE)


def _utc(iso: str | None) -> dt.datetime:
    return as_time(iso) if iso else dt.datetime.min.replace(tzinfo=dt.UTC)
