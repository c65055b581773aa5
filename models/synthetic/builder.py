"""One case of the synthetic county, simulated week by week.

:class:`CaseBuilder` draws a case's hidden story (category, township, size, history, temper),
writes its first record, lives it week by week with the hazard of ``story.py`` (escalation,
measures, mediation, threats, visits) and finally adds the mess (a late correction,
duplicates).  :class:`SyntheticCase` is what comes out.  The wording comes from
``phrases.yaml``; the probabilities of single steps that have no name in ``story.py`` are
written where they are used below.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any

from models.synthetic.cases import CaseStory, SyntheticCase, draw_size, weekly_logit
from models.synthetic.draws import Draws, cumulative, sigmoid, when
from models.synthetic.story import (
    AGREE_WEEKLY,
    BASE_LOGIT,
    BREAK_WEEKLY,
    CATEGORY_SHARE,
    FULFIL_WEEKLY,
    MAIN,
    MONEY_CATEGORIES,
    P_CORRECTION,
    P_DUPLICATE,
    P_NULL_INSTEAD_OF_MISSING,
    PETITION_LIMIT_DAYS,
    PROGRESS_WEEKLY,
    SEASON_INCIDENCE,
    THREAT_KINDS,
    THREAT_WEIGHTS,
    TOWNSHIP_CODE,
    TOWNSHIP_SHARE,
    UNIT_SPEED,
    WITHDRAW_WEEKLY,
    Story,
    before_spring_festival,
)
from models.synthetic.tables import phrases
from models.synthetic.text import amount_phrase, count_phrase, person, phone, typo
from schemas.categories import BY_CODE, CODES

_TOWNSHIPS = tuple(TOWNSHIP_SHARE)
_TOWNSHIP_CUM = cumulative(TOWNSHIP_SHARE.values())
_CATS = tuple(CATEGORY_SHARE)
_CAT_CUM = cumulative(CATEGORY_SHARE.values())
_CAT_CUM_SEASON = cumulative(CATEGORY_SHARE[c] * SEASON_INCIDENCE.get(c, 1.0) for c in _CATS)
_SPEEDS = tuple(UNIT_SPEED)
_SPEED_CUM = cumulative(share for share, _ in UNIT_SPEED.values())
_THREAT_CUM = {c: cumulative(w[k] for k in THREAT_KINDS) for c, w in THREAT_WEIGHTS.items()}
assert set(CATEGORY_SHARE) == set(CODES) == set(BASE_LOGIT)


def _drop(d: Draws, record: dict, name: str, p: float, scale: float = 1.0) -> None:
    """Leave an optional field out (or send it as null) with probability p (times scale)."""
    if name in record and d.chance(min(1.0, p * scale)):
        if d.chance(P_NULL_INSTEAD_OF_MISSING):
            record[name] = None
        else:
            del record[name]


class CaseBuilder:
    """Simulates one case found at ``found``; the period ends at ``end``.

    ``counters`` numbers the cases per township and year (for reference numbers) and is
    shared by all the cases of a county.  Call :meth:`simulate`, then :meth:`finish`.
    """

    def __init__(
        self,
        d: Draws,
        found: dt.datetime,
        end: dt.datetime,
        counters: Counter,
        story: Story = MAIN,
    ) -> None:
        self.d = d
        self.story = story
        self.words = phrases(story.phrases_file)
        self.found = found
        self.end = end
        day = found.date()
        cat_cum = _CAT_CUM_SEASON if before_spring_festival(day) else _CAT_CUM
        category = d.weighted(_CATS, cat_cum)
        township = d.weighted(_TOWNSHIPS, _TOWNSHIP_CUM)
        counters[(township, found.year)] += 1
        self.ref_no = (
            f"{TOWNSHIP_CODE[township]}-{found.year}-{counters[(township, found.year)]:04d}"
        )
        temper = story.temper_sd * d.normal()
        people, amount = draw_size(d, category)
        petition_on = None
        if d.chance(0.35 if category != "key_person" else 0.7):
            petition_on = day - dt.timedelta(days=d.int_between(0, 20))
        skip_logit = -3.0 + 0.8 * temper + (1.8 if category == "key_person" else 0.0)
        skip_logit += 0.6 if category == "investment_loss" else 0.0
        skip_level = d.int_between(1, 3) if d.chance(sigmoid(skip_logit)) else 0
        visit_rate = 0.4 + (2.0 if category == "key_person" else 0.0) + 0.4 * max(temper, 0.0)
        speed_kind = d.weighted(_SPEEDS, _SPEED_CUM)
        self.s = CaseStory(
            category=category,
            township=township,
            village=d.pick(self.words.villages[township]),
            people=people,
            amount=amount,
            temper=temper,
            threat=None,
            organising=people >= 3
            and d.chance(sigmoid(-2.2 + 0.6 * temper + (0.5 if people >= 10 else 0.0))),
            media=d.chance(0.04 if category not in MONEY_CATEGORIES else 0.08),
            visits=d.poisson(visit_rate),
            skip_level=skip_level,
            petition_on=petition_on,
            speed=UNIT_SPEED[speed_kind][1],
        )
        if d.chance(sigmoid(-2.6 + 0.8 * temper)):
            self.s.threat = d.weighted(THREAT_KINDS, _THREAT_CUM[category])
        self.reporter = person(d, self.words)
        self.phone = phone(d)
        self.parties = [person(d, self.words) for _ in range(min(people, d.int_between(1, 3)))]
        self.boss = person(d, self.words)
        self.hazard = sigmoid(weekly_logit(self.s, day, False, False, False, story))
        # A late correction: decided now, so records before it carry the wrong value.
        self.correction_at: dt.datetime | None = None
        self.wrong_category: str | None = None
        self.wrong_people: int | None = None
        if d.chance(P_CORRECTION):
            self.correction_at = when(d, found, 2, 30)
            if d.chance(0.5):
                self.wrong_category = _confusable(d, category)
            else:
                self.wrong_people = max(1, people // 10) if people >= 10 else people + 10
        self.records: list[tuple[dt.datetime, dict]] = []
        self.escalated_at: dt.datetime | None = None
        self.escalation_kind: str | None = None

    # ---- records ---------------------------------------------------------------------------
    def _category_label(self, at: dt.datetime) -> str:
        code = self.s.category
        if self.wrong_category and self.correction_at and at < self.correction_at:
            code = self.wrong_category
        c = BY_CODE[code]
        r = self.d.u()
        if r < 0.75:
            return c.label
        if r < 0.9 and c.aliases:
            return self.d.pick(c.aliases)
        return c.code

    def _found_text(self, at: dt.datetime, initial: bool) -> str:
        r = self.d.u()
        if initial and r < 0.05:
            return at.date().isoformat()
        if r < 0.15:
            return at.strftime("%Y-%m-%d %H:%M")
        return at.isoformat(timespec="seconds")

    def _base(self, at: dt.datetime, kind: str, status: str, text: str) -> dict:
        d = self.d
        if d.chance(self.story.p_typo):
            text = typo(d, text, self.words)
        record: dict[str, Any] = {
            "schema_version": 2,
            "township": self.s.township,
            "ref_no": self.ref_no,
            "record_kind": kind,
            "reporter": self.reporter,
            "found_at": self._found_text(at, kind == "initial"),
            "category": self._category_label(at),
            "description": text,
            "follow_up_status": status,
        }
        if d.chance(0.3):
            del record["schema_version"]
        _drop(d, record, "reporter", 0.1, self.story.drop_scale)
        return record

    def _add(self, at: dt.datetime, record: dict) -> None:
        self.records.append((at, record))

    def initial(self) -> None:
        d, s, words = self.d, self.s, self.words
        people = self.wrong_people or s.people
        text = d.pick(words.openings[s.category]).format(
            who=self.parties[0],
            other=person(d, self.words),
            boss=self.boss,
            v=s.village,
            n=count_phrase(d, people),
            amt=amount_phrase(d, s.amount),
            site=d.pick(words.sites),
            project=d.pick(words.projects),
        )
        extra = []
        if s.visits >= 2 and d.chance(0.6):
            extra.append(d.pick(words.repeat_visits).format(visits=s.visits))
        if s.skip_level and d.chance(0.5):
            extra.append(d.pick(words.earlier_skip_level))
        if s.threat and d.chance(0.85):
            extra.append(d.pick(words.threats[s.threat]))
        if s.organising and d.chance(0.7):
            extra.append(d.pick(words.organising))
        if s.media and d.chance(0.7):
            extra.append(d.pick(words.media))
        if s.category == "unpaid_wages" and before_spring_festival(self.found.date()):
            extra.append(d.pick(words.before_festival))
        if d.chance(sigmoid(-0.5 - 1.5 * s.temper)) and not s.threat:
            extra.append(d.pick(words.calm))
        elif d.chance(sigmoid(-1.5 + 1.5 * s.temper)):
            extra.append(d.pick(words.temper))
        if extra:
            text = text.rstrip("。") + "，" + "，".join(extra) + "。"
        record = self._base(self.found, "initial", "new", text)
        record.update(
            village=s.village,
            reporter_phone=self.phone,
            parties=list(self.parties),
            people_involved=people,
            amount_involved_yuan=s.amount,
            is_petition=s.petition_on is not None,
            prior_visits=s.visits,
            prior_skip_level=s.skip_level,
            responsible_unit=words.units[s.category],
        )
        if s.petition_on is not None:
            record["petition_received_on"] = s.petition_on.isoformat()
        if s.amount is None:
            del record["amount_involved_yuan"]
        for name, p in (
            ("village", 0.05),
            ("reporter_phone", 0.3),
            ("parties", 0.4),
            ("people_involved", 0.2),
            ("amount_involved_yuan", 0.3),
            ("is_petition", 0.15),
            ("petition_received_on", 0.15),
            ("prior_visits", 0.25),
            ("prior_skip_level", 0.25),
            ("responsible_unit", 0.25),
        ):
            _drop(d, record, name, p, self.story.drop_scale)
        if d.chance(0.1):
            record["remarks"] = d.pick(words.remarks)
        self._add(self.found, record)

    def follow_up(self, at: dt.datetime, status: str, text: str, **fields: Any) -> None:
        record = self._base(at, "follow_up", status, text)
        record.update(fields)
        self._add(at, record)

    # ---- the weekly simulation ---------------------------------------------------------
    def simulate(self) -> None:
        d, s, words = self.d, self.s, self.words
        self.initial()
        acted = agreed = broken = False
        week = 0
        while True:
            start = self.found + dt.timedelta(weeks=week)
            if start >= self.end:
                return
            x = weekly_logit(s, start.date(), acted, agreed, broken, self.story) + s.temper
            if d.chance(sigmoid(x)):
                at = when(d, start, 1, 7, early=6, late=22)
                if at < self.end:
                    self._escalate(at)
                    self._after_escalation(at)
                return
            at = when(d, start, 1, 6)
            if at >= self.end:
                return
            week += 1
            if d.chance(WITHDRAW_WEEKLY) and not agreed:
                self.follow_up(at, "withdrawn", d.pick(words.withdrawn))
                return
            if not acted:
                if d.chance(s.speed):
                    acted = True
                    measure = d.pick(words.measures[s.category])
                    self.follow_up(
                        at,
                        "mediating",
                        f"{words.units[s.category]}已介入，{measure}。",
                        measures_taken=measure,
                    )
                    continue
            elif agreed:
                if d.chance(FULFIL_WEEKLY):
                    kind = "money" if s.category in MONEY_CATEGORIES else "other"
                    self.follow_up(at, "resolved", d.pick(words.resolved[kind]))
                    return
                if d.chance(BREAK_WEEKLY):
                    agreed, broken = False, True
                    self.follow_up(
                        at, "mediating", "对方反悔，协议没履行，当事人很不满，又来反映。"
                    )
                    s.visits += 1
                    continue
            elif d.chance(AGREE_WEEKLY[s.category] * math.exp(-0.5 * s.temper)):
                agreed = True
                self.follow_up(at, "agreed", d.pick(words.agreed), measures_taken="调解达成协议")
                continue
            # Things that happen while the case waits: threats, visits, routine updates.
            open_days = (at.date() - s.petition_on).days if s.petition_on else 0
            overdue = 0.6 if open_days > PETITION_LIMIT_DAYS else 0.0
            if not s.threat and d.chance(sigmoid(-4.5 + 0.8 * s.temper + overdue)):
                s.threat = d.weighted(THREAT_KINDS, _THREAT_CUM[s.category])
                if d.chance(0.85):
                    who = self.parties[0] if self.parties else "当事人"
                    self.follow_up(
                        at,
                        self._status(acted, agreed),
                        f"{who}情绪激动，{d.pick(words.threats[s.threat])}。",
                    )
                    continue
            if d.chance(sigmoid(-3.0 + 0.7 * s.temper + overdue)):
                s.visits += 1
                self.follow_up(
                    at,
                    self._status(acted, agreed),
                    d.pick(words.new_visit) + "。",
                    prior_visits=s.visits,
                )
                continue
            if d.chance(PROGRESS_WEEKLY):
                calm = d.chance(sigmoid(-0.3 - 1.5 * s.temper))
                mood = d.pick(words.calm) if calm else d.pick(words.temper)
                lead = "仍在调解中" if acted else "责任单位还没回复"
                self.follow_up(at, self._status(acted, agreed), f"{lead}，{mood}。")

    @staticmethod
    def _status(acted: bool, agreed: bool) -> str:
        return "agreed" if agreed else "mediating" if acted else "new"

    def _escalate(self, at: dt.datetime) -> None:
        d, s, words = self.d, self.s, self.words
        weights = {
            "skip_level": 1.0 * (3 if s.skip_level or s.threat == "beijing" else 1),
            "group_event": 0.0
            if s.people < 5
            else 1.5 * (2 if s.organising or s.threat == "block" else 1),
            "extreme_act": 0.3
            * (6 if s.threat in ("self_harm", "violence") else 1)
            * (2 if s.category in ("family", "key_person", "neighbour") else 1),
        }
        kinds = tuple(weights)
        kind = d.weighted(kinds, cumulative(weights.values()))
        who = self.parties[0] if self.parties else "当事人"
        fields: dict[str, Any] = {"escalation_kind": kind}
        if kind == "group_event":
            present = max(5, round(s.people * (0.4 + 0.6 * d.u())))
            fields["people_involved"] = present
            text = d.pick(words.escalation[kind]).format(
                n=f"{present}余" if d.chance(0.5) else str(present), road=d.pick(words.roads)
            )
        else:  # skip_level, extreme_act
            text = d.pick(words.escalation[kind]).format(who=who)
        self.follow_up(at, "escalated", text, **fields)
        self.escalated_at = at
        self.escalation_kind = kind

    def _after_escalation(self, at: dt.datetime) -> None:
        """A county or township leader takes the case on; it may be resolved later."""
        d = self.d
        if not d.chance(0.9):
            return
        leader = person(d, self.words) + "（" + d.pick(self.words.leader_titles) + "）"
        at = when(d, at, 2, 8)
        if at >= self.end:
            return
        self.follow_up(
            at,
            "mediating",
            "领导包案，成立专班化解。",
            leader_in_charge=leader,
            measures_taken="领导包案，专班化解",
        )
        while True:
            at = when(d, at, 5, 9)
            if at >= self.end:
                return
            if d.chance(0.12):
                self.follow_up(
                    at, "resolved", "包案领导协调解决，息诉罢访。", leader_in_charge=leader
                )
                return

    # ---- the mess and the result -----------------------------------------------------------
    def finish(self) -> SyntheticCase:
        d, s = self.d, self.s
        self.records.sort(key=lambda item: item[0])
        if self.correction_at is not None and self.correction_at < self.end:
            status = "new"
            for at, record in self.records:
                if at <= self.correction_at:
                    status = record["follow_up_status"]
            if status == "escalated":
                status = "mediating"
            if self.wrong_category:
                text = f"更正：类别应为{BY_CODE[s.category].label}，前报有误。"
            else:
                text = f"更正：涉及人数应为{s.people}人，前报有误。"
            record = self._base(self.correction_at, "correction", status, text)
            record["category"] = BY_CODE[s.category].label
            record.update(village=s.village, people_involved=s.people)
            if s.amount is not None:
                record["amount_involved_yuan"] = s.amount
            self.records.append((self.correction_at, record))
            self.records.sort(key=lambda item: item[0])
        posted: list[dict] = []
        for _, record in self.records:
            posted.append(record)
            if d.chance(P_DUPLICATE):
                posted.append(dict(record))
        return SyntheticCase(
            township=s.township,
            ref_no=self.ref_no,
            category=s.category,
            records=tuple(posted),
            escalated_at=self.escalated_at.isoformat(timespec="seconds")
            if self.escalated_at
            else None,
            escalation_kind=self.escalation_kind,
            hazard=self.hazard,
        )


def _confusable(d: Draws, category: str) -> str:
    """A category an officer might pick by mistake for this one."""
    near = {
        "unpaid_wages": ("unpaid_construction",),
        "unpaid_construction": ("unpaid_wages", "real_estate"),
        "real_estate": ("unpaid_construction",),
        "land_expropriation": ("land_management",),
        "land_management": ("land_expropriation", "homestead"),
        "homestead": ("neighbour", "land_management"),
        "investment_loss": ("key_person",),
        "neighbour": ("homestead", "family"),
        "family": ("neighbour",),
        "key_person": ("family",),
    }[category]
    return d.pick(near)
