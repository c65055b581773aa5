// The browser console of dispute-ews: plain JavaScript over the JSON API (see /docs).
"use strict";

const LEVEL_ZH = { red: "红", orange: "橙", yellow: "黄", blue: "蓝" };
const STATUS_ZH = { open: "待签收", acknowledged: "已签收", resolved: "已办结" };
const HOME = { township_clerk: "/township", unit_officer: "/console", county_desk: "/console",
               analyst: "/analyst", admin: "/audit" };
const NAV = {
  township_clerk: [["/township", "本乡镇"]],
  unit_officer: [["/console", "值班台"]],
  county_desk: [["/console", "值班台"], ["/audit", "操作审计"]],
  analyst: [["/analyst", "模型管理"]],
  admin: [["/console", "值班台"], ["/analyst", "模型管理"], ["/audit", "操作审计"]],
};
const main = document.getElementById("main");
let CATEGORY = {};  // code -> Chinese label, from /api/schema
const cat = code => esc(CATEGORY[code] || code);

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

async function api(path, options = {}) {
  const r = await fetch(path, { credentials: "same-origin", ...options });
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) { const e = new Error(detail(body)); e.status = r.status; e.body = body; throw e; }
  return body;
}

function detail(body) {
  const d = body?.detail ?? body;
  if (typeof d === "string") return d;
  if (d?.file) return d.file;
  if (Array.isArray(d)) return d.map(x => x.msg || JSON.stringify(x)).join("; ");
  return JSON.stringify(d);
}

function say(text, ok = true) {
  let s = document.getElementById("status");
  if (!s) { s = document.createElement("div"); s.id = "status"; main.prepend(s); }
  s.textContent = text; s.style.color = ok ? "#060" : "#b00";
}

function minutes(m) {
  if (m === null || m === undefined) return "";
  const sign = m < 0 ? "超时 " : "剩 ";
  const a = Math.abs(m);
  return sign + (a >= 1440 ? `${Math.floor(a / 1440)}天${Math.floor((a % 1440) / 60)}小时` : a >= 60 ? `${Math.floor(a / 60)}小时${a % 60}分` : `${a}分`);
}

async function start() {
  let me;
  try { me = await api("/api/me"); } catch (e) { return loginPage(); }
  document.getElementById("who").innerHTML =
    `${esc(me.name)}（${esc(me.role_zh)}${me.township ? " · " + esc(me.township) : ""}${me.unit ? " · " + esc(me.unit) : ""}）
     <button id="logout">退出</button>`;
  document.getElementById("logout").onclick = async () => { await api("/api/logout", { method: "POST" }); location.href = "/login"; };
  document.getElementById("nav").innerHTML = (NAV[me.role] || []).map(([href, t]) => `<a href="${href}">${t}</a>`).join("");
  CATEGORY = Object.fromEntries((await api("/api/schema")).categories.map(c => [c.code, c.label]));
  const path = location.pathname;
  if (path.startsWith("/cases/")) return casePage(me, decodeURIComponent(path.slice(7)));
  if (path === "/console") return consolePage(me);
  if (path === "/township") return townshipPage(me);
  if (path === "/analyst") return analystPage(me);
  if (path === "/audit") return auditPage(me);
  location.href = HOME[me.role] || "/console";
}

function loginPage() {
  if (location.pathname !== "/login") { location.href = "/login"; return; }
  main.innerHTML = `<h2>登录</h2>
    <form id="login"><p><label>用户名 <input name="name" autocomplete="username" required></label></p>
    <p><label>密码 <input name="password" type="password" autocomplete="current-password" required></label></p>
    <button type="submit">登录</button></form>`;
  document.getElementById("login").onsubmit = async ev => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    try {
      const me = await api("/api/login", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: f.get("name"), password: f.get("password") }) });
      location.href = HOME[me.role] || "/console";
    } catch (e) { say(e.message, false); }
  };
}

// ---- duty console ----------------------------------------------------------------------

function consolePage(me) {
  main.innerHTML = `<h2>预警队列${me.unit ? "（" + esc(me.unit) + "）" : "（全县）"}</h2>
    <div id="live">连接中…</div>
    <table id="queue"><thead><tr><th>等级</th><th>案件</th><th>乡镇</th><th>类别</th><th>状态</th>
    <th>已过</th><th>签收时限</th><th>反馈时限</th><th>法定时限</th><th>原因</th><th>操作</th></tr></thead><tbody></tbody></table>
    <div id="county"></div>`;
  const source = new EventSource("/api/alerts/stream");
  source.addEventListener("queue", ev => { renderQueue(JSON.parse(ev.data), me); document.getElementById("live").textContent = "实时更新中 " + new Date().toLocaleTimeString(); });
  source.addEventListener("logout", () => { source.close(); location.href = "/login"; });
  source.onerror = () => { document.getElementById("live").textContent = "连接中断，正在重连…"; };
  if (me.role === "county_desk" || me.role === "admin") countyViews();
}

function renderQueue(rows, me) {
  const acts = me.acts_on_alerts;  // the console of an admin shows the queue without buttons
  const body = document.querySelector("#queue tbody");
  body.innerHTML = rows.map(r => `<tr class="level-${r.level}" data-case="${esc(r.case_id)}" data-level="${r.level}">
    <td>${LEVEL_ZH[r.level] || r.level}</td>
    <td><a href="/cases/${encodeURIComponent(r.case_id)}">${esc(r.ref_no || r.case_id)}</a></td>
    <td>${esc(r.township)}</td><td>${cat(r.category)}</td><td class="status">${STATUS_ZH[r.status] || r.status}</td>
    <td>${minutes(r.age_minutes).replace("超时 ", "").replace("剩 ", "")}</td>
    <td class="${r.acknowledge_by_minutes_left < 0 && r.status === "open" ? "overdue" : ""}">${r.status === "open" ? minutes(r.acknowledge_by_minutes_left) : "—"}</td>
    <td class="${r.feedback_by_minutes_left < 0 ? "overdue" : ""}">${minutes(r.feedback_by_minutes_left)}</td>
    <td class="${r.statutory?.days_left < 0 ? "overdue" : ""}">${r.statutory ? esc(r.statutory.clock_zh) + "：" + (r.statutory.days_left < 0 ? "超期" + (-r.statutory.days_left) + "天" : "剩" + r.statutory.days_left + "天") : "—"}</td>
    <td>${r.reasons.slice(0, 2).map(esc).join("<br>")}</td>
    <td>${!acts ? "" : `${r.status === "open" ? `<button data-act="acknowledge">签收</button>` : ""}
        <button data-act="feedback">反馈</button><button data-act="resolve">办结</button>
        <button data-act="escalate">上报</button>`}</td></tr>`).join("")
    || `<tr><td colspan="11">没有待处理的预警</td></tr>`;
  body.querySelectorAll("button[data-act]").forEach(b => b.onclick = () => act(b.closest("tr").dataset.case, b.dataset.act));
}

async function act(caseId, action) {
  const body = {};
  if (action === "feedback") { body.text = prompt("处置反馈（做了什么）："); if (!body.text) return; }
  if (action === "resolve") { if (!confirm("确认办结该预警？")) return; }
  if (action === "escalate") { if (!confirm("确认向上级上报？")) return; }
  try {
    await api(`/api/alerts/${encodeURIComponent(caseId)}/${action}`, { method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID() }, body: JSON.stringify(body) });
    say({ acknowledge: "已发送签收", feedback: "已发送反馈", resolve: "已发送办结", escalate: "已发送上报" }[action]);
  } catch (e) { say(e.message, false); }
}

function kpiTiles(k) {
  // [key, value shown, label]: shares as a/b (percent), per-level and per-unit figures listed
  const share = p => p[1] ? `${p[0]}/${p[1]}（${Math.round(p[0] / p[1] * 100)}%）` : "暂无";
  const listed = (o, name = x => x) => Object.entries(o).map(([a, v]) => `${name(a)} ${v}`).join("，") || "无";
  return [
    ["alerts", String(k.alerts), "预警数"],
    ["acknowledge_minutes_median", listed(k.acknowledge_minutes_median, lv => LEVEL_ZH[lv] || lv), "签收用时中位数（分钟）"],
    ["feedback_on_time", share(k.feedback_on_time), "按时反馈率"],
    ["resolved_within_limit", share(k.resolved_within_limit), `按期办结率（${k.handle_days}天内，目标100%）`],
    ["overdue_per_unit", listed(k.overdue_per_unit), "超期未签收（按单位）"],
    ["satisfaction", share(k.satisfaction), "回访满意率（目标95%）"],
  ];
}

async function countyViews() {
  const box = document.getElementById("county");
  const [k, t] = await Promise.all([api("/api/kpis"), api("/api/time-limits")]);
  box.innerHTML = `<h2>全县指标</h2><div class="kpis">${kpiTiles(k).map(([name, v, title]) =>
      `<div class="kpi" data-kpi="${name}" title="${esc(title)}"><b>${esc(v)}</b>${esc(title)}</div>`).join("")}</div>
    <h2>时限图（${t.matters.length} 项在办信访事项）</h2>
    <div class="bands" id="bands">${t.bands.map(b => `<div class="band ${b.band === "overdue" ? "overdue" : ""}"><b>${b.count}</b> ${b.zh}</div>`).join("")}</div>
    <table id="time-limits"><thead><tr><th>剩余天数</th><th>时限</th><th>到期日</th><th>案件</th><th>乡镇</th><th>类别</th></tr></thead><tbody>
    ${t.matters.slice(0, 200).map(m => `<tr><td class="${m.days_left < 0 ? "overdue" : ""}">${m.days_left < 0 ? "超期" + (-m.days_left) + "天" : m.days_left + "天"}</td>
      <td>${esc(m.clock_zh)}</td><td>${esc(m.due_on)}</td><td><a href="/cases/${encodeURIComponent(m.case_id)}">${esc(m.ref_no)}</a></td>
      <td>${esc(m.township)}</td><td>${cat(m.category)}</td></tr>`).join("")}</tbody></table>`;
}

// ---- a case ------------------------------------------------------------------------------

async function casePage(me, caseId) {
  let d;
  try { d = await api(`/api/cases/${encodeURIComponent(caseId)}`); }
  catch (e) { main.innerHTML = `<h2>案件</h2><p id="denied" class="overdue">${esc(e.status)}：${esc(e.message)}</p>`; return; }
  const c = d.case, r = d.risk;
  main.innerHTML = `<h2>${esc(c.township)} ${esc(c.ref_no)}（${cat(c.category)}，${c.status === "open" ? "在办" : "已结案"}）</h2>
    <p>风险：${r ? `<span class="level-${r.level}">${LEVEL_ZH[r.level]}</span> ${r.model_version ? "模型 " + r.model_version + " 估计升级概率 " + (r.probability * 100).toFixed(1) + "%" : "（规则判定，未用模型）"}` : "未评估"}
    ${r ? "<br>" + r.reasons.map(esc).join("<br>") : ""}</p>
    ${d.clocks.length ? `<h3>法定时限</h3><ul>${d.clocks.map(k => `<li class="${k.days_left < 0 ? "overdue" : ""}">${esc(k.clock_zh)}：${esc(k.due_on)} 到期，${k.days_left < 0 ? "已超期" + (-k.days_left) + "天" : "还剩" + k.days_left + "天"}</li>`).join("")}</ul>` : ""}
    <h3>时间线</h3><table id="timeline"><thead><tr><th>时间</th><th>事件</th><th>内容</th></tr></thead><tbody>
    ${d.timeline.map(e => `<tr data-type="${esc(e.event_type)}"><td>${esc(e.at.slice(0, 16).replace("T", " "))}</td><td>${esc(e.event_type)}</td><td>${esc(e.summary)}</td></tr>`).join("")}
    </tbody></table>`;
}

// ---- township ------------------------------------------------------------------------------

async function townshipPage(me) {
  const schema = await api("/api/schema");
  const input = f => f.choices.length
    ? `<select name="${f.name}"><option value=""></option>${f.choices.map(c => `<option value="${esc(c.code)}">${esc(c.zh)}</option>`).join("")}</select>`
    : f.kind === "bool"
      ? `<select name="${f.name}"><option value=""></option><option value="true">是</option><option value="false">否</option></select>`
      : `<input name="${f.name}" ${f.required ? "required" : ""} ${f.name === "township" ? `value="${esc(me.township)}" readonly` : ""}
          ${f.kind === "datetime" || f.kind === "date" ? 'placeholder="2026-11-26 09:30"' : ""}>`;
  main.innerHTML = `<h2>${esc(me.township)} · 上传排查表</h2>
    <form id="upload"><input type="file" name="file" accept=".xlsx,.csv,.jsonl,.json"> <button type="submit">上传</button></form>
    <div id="report"></div>
    <h2>录入一条记录</h2>
    <form class="record" id="record">${schema.fields.map(f => `<label><span>${esc(f.zh)}${f.required ? "*" : ""}</span>${input(f)}</label>`).join("")}
    <p><button type="submit">提交</button></p></form>
    <h2>本乡镇案件</h2><table id="cases"><thead><tr><th>编号</th><th>类别</th><th>状态</th><th>风险</th><th>最近发现</th></tr></thead><tbody></tbody></table>`;
  document.getElementById("upload").onsubmit = async ev => {
    ev.preventDefault();
    const report = document.getElementById("report");
    try {
      const out = await api("/api/records/upload", { method: "POST", body: new FormData(ev.target) });
      report.innerHTML = `<p id="upload-ok">已提交 ${out.posted} 行</p>`;
    } catch (e) {
      const d = e.body?.detail || {};
      report.innerHTML = `<p class="overdue">${d.problems?.length ? `共 ${d.rows} 行，其中 ${d.bad_rows} 行有问题，整张表未提交；请改正后重新上传` : esc(e.message)}</p>
        ${d.problems?.length ? `<table class="problems" id="problems"><thead><tr><th>行</th><th>列</th><th>问题</th><th>说明</th></tr></thead><tbody>
        ${d.problems.map(p => `<tr data-row="${p.row}"><td>${p.row}</td><td>${esc(p.column)}</td><td>${esc(p.problem)}</td><td>${esc(p.detail)}</td></tr>`).join("")}</tbody></table>` : ""}`;
    }
  };
  document.getElementById("record").onsubmit = async ev => {
    ev.preventDefault();
    const record = {};
    for (const [k, v] of new FormData(ev.target)) {
      if (v === "") continue;
      const f = schema.fields.find(x => x.name === k);
      record[k] = f.kind === "int" || f.kind === "number" ? Number(v) : f.kind === "bool" ? v === "true" : f.kind === "list" ? v.split(/[,，、]/) : v;
    }
    try { await api("/api/records", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(record) }); say("已提交，稍后在案件列表中可见"); ev.target.reset(); }
    catch (e) { say(e.body?.detail?.problems ? e.body.detail.problems.map(p => p.text).join("；") : e.message, false); }
  };
  const PAGE = 200;
  let after = "";
  const button = () => document.getElementById("more-cases");
  const more = async () => {  // the most recently found first, a page from where the last ended
    button().disabled = true;  // one page at a time, however often it is clicked
    const cases = await api(`/api/cases?limit=${PAGE}${after}`).finally(() => { button().disabled = false; });
    const last = cases[cases.length - 1];
    if (last) after = `&after_found=${encodeURIComponent(last.last_found_at ?? "")}&after_case=${encodeURIComponent(last.case_id)}`;
    document.querySelector("#cases tbody").insertAdjacentHTML("beforeend", cases.map(c => `<tr class="level-${c.level || ""}"><td><a href="/cases/${encodeURIComponent(c.case_id)}">${esc(c.ref_no)}</a></td>
    <td>${cat(c.category)}</td><td>${c.status === "open" ? "在办" : "已结案"}</td><td>${LEVEL_ZH[c.level] || "—"}</td><td>${esc((c.last_found_at || "").slice(0, 10))}</td></tr>`).join(""));
    button().hidden = cases.length < PAGE;
  };
  document.getElementById("cases").insertAdjacentHTML("afterend", `<button id="more-cases" hidden>更多案件</button>`);
  document.getElementById("more-cases").onclick = more;
  await more();
}

// ---- analyst -------------------------------------------------------------------------------

async function analystPage(me) {
  const m = await api("/api/models");
  const ap = x => x?.average_precision?.toFixed ? x.average_precision.toFixed(3) : "—";
  const num = x => (typeof x === "number" ? x.toFixed(3) : "—");
  const ci = f => (f && f.ci95 ? `${num(f.value)} [${num(f.ci95[0])}, ${num(f.ci95[1])}]` : num(f?.value));
  // the evidence beyond one test window, as the card gives it (models/evidence.py)
  const evidence = e => {
    if (!e) return "—";
    const r = e.rolling?.scorers, o = e.other_county?.differences?.["candidate-rules"], h = e.handwritten?.ranking;
    return [
      r ? `滚动窗口 AP：模型 ${ci(r.candidate?.average_precision)}，规则 ${ci(r.rules?.average_precision)}` : "",
      o ? `外县（另一故事）AP 差（模型−规则）：${ci(o)}` : "",
      h ? `手写案例 AP：模型 ${ci(h.model?.average_precision)}，规则 ${ci(h.rules?.average_precision)}` : "",
    ].filter(Boolean).join("<br>") || "—";
  };
  main.innerHTML = `<h2>模型（在用：<span id="in-service">${esc(m.in_service || "无，仅规则")}</span>）</h2>
    <table id="models"><thead><tr><th>版本</th><th>训练时间</th><th>AP</th><th>规则 AP</th><th>Brier</th><th>证据（95%区间）</th><th>模型卡与图</th><th></th></tr></thead><tbody>
    ${m.versions.map(v => `<tr data-version="${v.version}"><td>${v.version}${v.in_service ? "（在用）" : ""}</td><td>${esc((v.created_at || "").slice(0, 16))}</td>
      <td>${ap(v.metrics.candidate)}</td><td>${ap(v.metrics.rules)}</td><td>${v.metrics.candidate?.brier?.toFixed?.(4) ?? "—"}</td>
      <td class="evidence">${evidence(v.evidence)}</td>
      <td>${[v.card, ...v.plots].filter(Boolean).map(p => `<a href="/api/models/${v.version}/files/${p}" target="_blank">${esc(p)}</a>`).join("<br>")}</td>
      <td>${v.in_service ? "" : `<button data-promote="${v.version}">投入使用</button>`}</td></tr>`).join("")}</tbody></table>
    ${m.previous ? `<button id="rollback">回退到 ${esc(m.previous)}</button>` : ""}`;
  main.querySelectorAll("button[data-promote]").forEach(b => b.onclick = async () => {
    const reason = prompt(`确认将 ${b.dataset.promote} 投入使用？请填写原因：`);
    if (reason === null) return;
    try { await api(`/api/models/${b.dataset.promote}/promote`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ reason }) }); say("已投入使用"); setTimeout(() => analystPage(me), 800); }
    catch (e) { say(e.message, false); }
  });
  const rb = document.getElementById("rollback");
  if (rb) rb.onclick = async () => {
    if (!confirm("确认回退模型？")) return;
    try { await api("/api/models/rollback", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }); say("已回退"); setTimeout(() => analystPage(me), 800); }
    catch (e) { say(e.message, false); }
  };
}

// ---- audit ---------------------------------------------------------------------------------

async function auditPage(me) {
  const rows = await api("/api/audit");
  main.innerHTML = `<h2>操作审计</h2><table id="audit"><thead><tr><th>时间</th><th>人员</th><th>操作</th><th>案件</th><th>内容</th></tr></thead><tbody>
    ${rows.map(r => `<tr><td>${esc((r.at || "").slice(0, 19).replace("T", " "))}</td><td>${esc(r.who)}</td><td>${esc(r.action)}</td>
      <td>${r.case_id ? `<a href="/cases/${encodeURIComponent(r.case_id)}">查看</a>` : ""}</td><td>${esc(r.summary)}</td></tr>`).join("")}</tbody></table>`;
}

start();
