"""The synthetic county: screening records of 宝丰县 generated from a documented story.

No real petition data is public, so training and demo data come from here.  The story (what
raises the weekly hazard of escalation and by how much) is in ``models/STORY.md``; every
coefficient it names lives in the tables at the top of this file.

* ``generate_county(n_cases, seed)`` streams :class:`SyntheticCase` objects in the order their
  first record was found;
* ``posting_order(cases)`` lists all their records as township staff would post them;
* ``event_log(cases)`` yields the case events the stream would produce for them, through the
  same ``validate -> fingerprint -> SubmitRecord -> handle_command`` path as the case writer.

Run ``python -m models.synthetic --cases 10000 --seed 2026 --out records.jsonl``.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import functools
import heapq
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.categories import BY_CODE, CODES
from schemas.events import Envelope, SubmitRecord, case_id_for
from schemas.record import fingerprint, validate
from streams.case import CaseState, handle_command

CHINA = dt.timezone(dt.timedelta(hours=8))

# =============================================================================================
# The story: every number below is documented in models/STORY.md.

# Weekly escalation hazard, log-odds baseline per category (before any effect).
BASE_LOGIT: dict[str, float] = {
    "unpaid_wages": -5.8,
    "unpaid_construction": -6.0,
    "real_estate": -6.2,
    "land_expropriation": -5.9,
    "land_management": -6.0,
    "homestead": -6.1,
    "investment_loss": -6.1,
    "neighbour": -6.5,
    "family": -6.3,
    "key_person": -5.7,
}

# Share of new cases per category (in the weeks before the Spring Festival wage and
# construction-payment cases are found more often, see SEASON_INCIDENCE).
CATEGORY_SHARE: dict[str, float] = {
    "neighbour": 0.22,
    "family": 0.13,
    "homestead": 0.12,
    "unpaid_wages": 0.12,
    "land_management": 0.08,
    "unpaid_construction": 0.08,
    "land_expropriation": 0.07,
    "real_estate": 0.06,
    "key_person": 0.07,
    "investment_loss": 0.05,
}
SEASON_INCIDENCE = {"unpaid_wages": 3.0, "unpaid_construction": 1.5}

# Additive effects on the weekly log-odds.
EFFECTS: dict[str, float] = {
    "people_5_9": 0.4,
    "people_10_29": 0.8,
    "people_30_plus": 1.2,
    "amount_100k_plus": 0.3,
    "amount_1m_plus": 0.6,  # replaces amount_100k_plus
    "wages_before_spring_festival": 1.0,
    "construction_before_spring_festival": 0.5,
    "visits_1_2": 0.3,
    "visits_3_plus": 0.6,
    "prior_skip_level": 1.0,
    "threat": 1.3,
    "organising": 0.6,
    "media": 0.4,
    "petition_near_limit": 0.3,  # accepted petition, 45-60 days since received
    "petition_overdue": 0.7,  # accepted petition, more than 60 days since received
    "unit_acted": -0.5,  # the responsible unit has taken measures (mediating)
    "agreement_reached": -1.5,  # replaces unit_acted
    "agreement_broken": 0.5,  # the other side went back on an agreement
}
TEMPER_SD = 0.7  # hidden per-case temper: N(0, 0.7) on the log-odds, never recorded

TOWNSHIP_EFFECT: dict[str, float] = {
    "城关镇": 0.20,
    "周庄镇": 0.00,
    "闹店镇": 0.10,
    "石桥镇": -0.10,
    "商酒务镇": 0.15,
    "大营镇": 0.25,
    "张八桥镇": -0.20,
    "杨庄镇": 0.00,
    "赵庄镇": -0.10,
    "前营乡": -0.25,
    "李庄乡": 0.05,
    "肖旗乡": -0.15,
}
TOWNSHIP_CODE: dict[str, str] = {
    "城关镇": "CG",
    "周庄镇": "ZZ",
    "闹店镇": "ND",
    "石桥镇": "SQ",
    "商酒务镇": "SJW",
    "大营镇": "DY",
    "张八桥镇": "ZBQ",
    "杨庄镇": "YZ",
    "赵庄镇": "ZHZ",
    "前营乡": "QY",
    "李庄乡": "LZ",
    "肖旗乡": "XQ",
}
TOWNSHIP_SHARE: dict[str, float] = {
    "城关镇": 0.16,
    "周庄镇": 0.09,
    "闹店镇": 0.08,
    "石桥镇": 0.08,
    "商酒务镇": 0.08,
    "大营镇": 0.10,
    "张八桥镇": 0.08,
    "杨庄镇": 0.08,
    "赵庄镇": 0.07,
    "前营乡": 0.06,
    "李庄乡": 0.06,
    "肖旗乡": 0.06,
}

# Spring Festival (春节) dates; "before the festival" is the 28 days up to it.
SPRING_FESTIVAL = (
    dt.date(2025, 1, 29),
    dt.date(2026, 2, 17),
    dt.date(2027, 2, 6),
    dt.date(2028, 1, 26),
)
BEFORE_FESTIVAL_DAYS = 28
PETITION_LIMIT_DAYS = 60  # 信访工作条例: an accepted matter is handled within 60 days

# How fast the responsible unit acts: (share of cases, weekly chance of first measures).
UNIT_SPEED = {"fast": (0.3, 0.6), "normal": (0.5, 0.35), "slow": (0.2, 0.12)}

# Weekly chance that mediation reaches an agreement, per category (scaled by exp(-0.5 * temper)).
AGREE_WEEKLY = {
    "unpaid_wages": 0.20,
    "unpaid_construction": 0.12,
    "real_estate": 0.08,
    "land_expropriation": 0.08,
    "land_management": 0.14,
    "homestead": 0.16,
    "investment_loss": 0.05,
    "neighbour": 0.30,
    "family": 0.22,
    "key_person": 0.08,
}
FULFIL_WEEKLY = 0.4  # agreement carried out (paid, signed) -> resolved
BREAK_WEEKLY = 0.05  # agreement broken -> back to mediating
WITHDRAW_WEEKLY = 0.01
PROGRESS_WEEKLY = 0.15  # a routine "still mediating" follow-up

# The mess.
P_DUPLICATE = 0.03  # a record posted twice
P_CORRECTION = 0.05  # a case gets a late correction record
P_TYPO = 0.08  # a record's text has a wrong character
P_NULL_INSTEAD_OF_MISSING = 0.3  # a missing field is sent as null rather than left out

# =============================================================================================
# People, places and words.

VILLAGES: dict[str, tuple[str, ...]] = {
    "城关镇": (
        "东关社区",
        "西关社区",
        "南关社区",
        "北街社区",
        "杨湾村",
        "火车站社区",
        "丁庄村",
        "龙王沟村",
    ),
    "周庄镇": ("马庄村", "周庄村", "韩庄村", "吴寨村", "小店村", "铁炉村"),
    "闹店镇": ("闹店村", "大黄村", "郎店村", "崔岭村", "蔡庄村", "王庄村"),
    "石桥镇": ("石桥村", "杜岗村", "朱庄村", "魏家村", "邢庄村", "庄头村"),
    "商酒务镇": ("商酒务村", "黄庄村", "孙庄村", "河口村", "西营村", "刘家村"),
    "大营镇": ("大营村", "清凉寺村", "蛮子营村", "牛庄村", "张庄村", "窑场村"),
    "张八桥镇": ("张八桥村", "程庄村", "李洼村", "唐营村", "高庄村", "柳林村"),
    "杨庄镇": ("杨庄村", "马湾村", "双庙村", "苗李村", "苏庄村", "葛庄村"),
    "赵庄镇": ("赵庄村", "大韩村", "观音堂村", "宋庄村", "白村", "吕庄村"),
    "前营乡": ("前营村", "后营村", "段庄村", "翟集村", "冯庄村", "焦庄村"),
    "李庄乡": ("李庄村", "付庄村", "贾寨村", "潘庄村", "罗庄村", "姚店村"),
    "肖旗乡": ("肖旗村", "北肖村", "郭庄村", "闫庄村", "曹庄村", "范湾村"),
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = (
    "建国",
    "建军",
    "国强",
    "卫东",
    "志强",
    "秀兰",
    "桂英",
    "红霞",
    "丽娟",
    "海涛",
    "保国",
    "玉梅",
    "新民",
    "金凤",
    "春生",
    "秋菊",
    "长海",
    "小燕",
    "俊杰",
    "文华",
    "振华",
    "凤英",
    "大勇",
    "二妮",
    "铁柱",
    "春花",
    "满仓",
    "彦军",
    "晓东",
    "亚楠",
    "书山",
    "占国",
    "永刚",
    "淑芳",
    "留柱",
    "彩霞",
)
UNITS: dict[str, str] = {
    "unpaid_wages": "县人社局",
    "unpaid_construction": "县住建局",
    "real_estate": "县住建局",
    "land_expropriation": "县自然资源局",
    "land_management": "县自然资源局",
    "homestead": "县农业农村局",
    "investment_loss": "县公安局",
    "neighbour": "镇司法所",
    "family": "镇司法所",
    "key_person": "县公安局",
}
LEADER_TITLES = ("副县长", "县委常委", "县信访局局长", "镇党委书记", "镇长")
SITES = (
    "城东安置房工地",
    "宝丰一高新校区工地",
    "产业集聚区厂房工地",
    "县医院新病房楼",
    "滨河小区二期",
    "乡村道路硬化工程",
    "镇中心小学教学楼",
    "光伏电站项目",
    "污水管网工程",
    "农贸市场改造",
)
PROJECTS = ("滨河花园", "龙湖名郡", "阳光城市广场", "锦绣华庭", "宝丰上院", "香山印象")
ROADS = ("311国道", "县城文化路", "镇政府门口的路", "村口大路", "宝郏公路")

# Category wording (PRODUCT.md phrasebook).  {who} a party, {v} village, {n} people, {amt} money.
OPENINGS: dict[str, tuple[str, ...]] = {
    "unpaid_wages": (
        "{v}{n}农民工反映在{site}干活，包工头{boss}拖欠劳务费{amt}，多次讨薪没结果。",
        "{who}等{n}工人到镇里反映{site}欠薪{amt}，说好年底结算一直不给。",
        "{site}{n}工人讨薪，包工头{boss}联系不上，工资条都在手里，欠{amt}。",
        "{who}反映给{boss}干了大半年活，劳务费{amt}没拿到，要找劳动监察。",
    ),
    "unpaid_construction": (
        "{who}反映{site}分包的活干完了，工程款{amt}一直不结算。",
        "挂靠施工的{who}说开发商资金链断了，欠工程款{amt}，下面{n}工人也在要钱。",
        "{site}质保金到期不退，{who}找了好几回，涉及{amt}。",
    ),
    "real_estate": (
        "{project}业主{n}反映逾期交房一年多，开发商一直拖。",
        "{project}业主办证难，交了钱几年拿不到房产证，{n}在维权。",
        "{project}烂尾了，{n}业主交了首付{amt}，要求给个说法。",
        "{project}业主跟物业闹矛盾，{n}不交物业费。",
    ),
    "land_expropriation": (
        "{v}{n}村民对征地补偿款有意见，说补偿标准太低，{amt}不够。",
        "{v}占地修路，青苗费没给到位，{who}等{n}人来反映。",
        "{v}拆迁户{who}反映安置房迟迟不交，补偿款{amt}没到账。",
    ),
    "land_management": (
        "{v}{who}和{other}因承包合同到期后地怎么流转起争执。",
        "{v}集体地发包不公开，{who}等{n}村民有意见。",
        "{v}{who}说自家承包地被人占了种树，找村里没解决。",
    ),
    "homestead": (
        "{v}{who}和{other}因宅基地界址有争议，翻建老宅时吵起来了。",
        "{v}{who}兄弟分家，老宅宅基地确权有矛盾。",
        "{v}{who}反映{other}建房占用他家宅基地。",
    ),
    "investment_loss": (
        "{n}群众反映投了一家理财公司，高息揽储，现在暴雷兑付不了，涉及{amt}。",
        "{who}等{n}人在{v}附近的合作社参与非法集资，老板跑路了，血本无归，{amt}。",
        "{who}说亲戚拉她投了理财，{amt}取不出来，还有{n}人也投了。",
    ),
    "neighbour": (
        "{v}{who}和{other}因排水问题发生口角。",
        "{v}{who}家院墙和{other}家宅前屋后起争执。",
        "{v}{who}反映{other}家在路上堆东西占道，说了不听。",
        "{v}{who}嫌{other}家晚上噪音大，两家吵过几回。",
    ),
    "family": (
        "{v}{who}和{other}闹离婚，为彩礼退不退争执。",
        "{v}{who}老两口反映儿子不尽赡养义务。",
        "{v}{who}媳妇回娘家不回来，两家为抚养孩子闹矛盾。",
        "{v}{who}反映丈夫家暴，想离婚。",
    ),
    "key_person": (
        "{v}{who}是老上访户，这次又为低保的事来反映。",
        "{v}{who}刑满释放回村，跟家里闹矛盾，情况不稳。",
        "{v}{who}有精神障碍，家属管不住，经常在村里闹。",
        "{v}{who}特困户，为救助的事缠访闹访。",
    ),
}
THREATS: dict[str, tuple[str, ...]] = {
    "beijing": ("扬言要赴京上访", "说不解决就进京", "放话要到省里去告", "说要去市里越级反映"),
    "self_harm": ("扬言要跳楼", "说不给钱就喝药", "流露出轻生念头", "说活不下去了要喝药"),
    "block": ("扬言要堵路", "说要去堵政府大门", "说要把工地围堵了", "扬言要聚集人去闹"),
    "violence": ("扬言要持刀找对方算账", "说要跟对方拼命", "喝酒后扬言动刀子"),
}
THREAT_WEIGHTS: dict[str, dict[str, float]] = {
    "unpaid_wages": {"beijing": 2, "self_harm": 3, "block": 3, "violence": 1},
    "unpaid_construction": {"beijing": 2, "self_harm": 2, "block": 3, "violence": 1},
    "real_estate": {"beijing": 3, "self_harm": 1, "block": 3, "violence": 0.3},
    "land_expropriation": {"beijing": 3, "self_harm": 2, "block": 3, "violence": 1},
    "land_management": {"beijing": 2, "self_harm": 1, "block": 2, "violence": 2},
    "homestead": {"beijing": 1, "self_harm": 1, "block": 1, "violence": 3},
    "investment_loss": {"beijing": 4, "self_harm": 2, "block": 3, "violence": 0.3},
    "neighbour": {"beijing": 0.5, "self_harm": 1, "block": 0.5, "violence": 3},
    "family": {"beijing": 0.5, "self_harm": 3, "block": 0.2, "violence": 3},
    "key_person": {"beijing": 4, "self_harm": 2, "block": 1, "violence": 2},
}
ORGANISING = ("建了微信群", "在串联其他人", "联名写了材料", "说要拉横幅", "找了几十个人集体来")
MEDIA = ("已在网上发帖", "说要找记者曝光", "在抖音上发了视频")
CALM = (
    "当事人情绪稳定",
    "情绪比较稳定",
    "无过激言行",
    "暂无赴京苗头",
    "未发现串联迹象",
    "表示相信政府",
)
TEMPER = ("当事人情绪激动", "情绪不稳", "说话很冲", "态度强硬")
MEASURES: dict[str, tuple[str, ...]] = {
    "unpaid_wages": (
        "劳动监察大队已立案，责令包工头限期支付",
        "人社局约谈项目负责人",
        "核对工资条和考勤",
    ),
    "unpaid_construction": ("住建局约谈建设方", "组织双方结算对账", "督促总包方先行垫付"),
    "real_estate": ("住建局约谈开发商，督促交房", "协调不动产登记中心办证", "成立工作专班"),
    "land_expropriation": ("自然资源局核实补偿标准", "镇里组织重新丈量", "协调拨付补偿款"),
    "land_management": ("镇里调取承包合同", "村委会组织双方协商", "现场核实地块"),
    "homestead": ("现场勘查界址", "村调委会调解", "查阅确权档案"),
    "investment_loss": ("公安已立案侦查", "登记投资人信息", "金融办开展风险排查"),
    "neighbour": ("司法所调解", "村调委会调解", "网格员上门做工作"),
    "family": ("司法所调解", "妇联介入", "村调委会上门调解"),
    "key_person": ("包保责任人上门走访", "协调落实低保", "落实稳控措施"),
}
AGREED = ("双方达成协议，约定月底前付清", "经调解达成协议，签了协议书", "达成协议，分两次支付")
RESOLVED: dict[str, tuple[str, ...]] = {
    "money": ("钱已兑付，已结清，息诉罢访", "款项已到位，当事人签字确认", "已兑付，事情了结"),
    "other": ("已调解，双方签字，事了", "矛盾已化解，息诉罢访", "问题已解决，当事人满意"),
}
MONEY_CATEGORIES = frozenset(
    {"unpaid_wages", "unpaid_construction", "real_estate", "land_expropriation", "investment_loss"}
)

# Common wrong characters in officers' typing.
TYPOS = (
    ("调解", "调节"),
    ("协议", "协意"),
    ("补偿", "补尝"),
    ("上访", "上仿"),
    ("反映", "反应"),
    ("拖欠", "托欠"),
    ("情绪", "情续"),
    ("安置", "按置"),
    ("兑付", "对付"),
    ("已经", "以经"),
    ("稳定", "稳订"),
    ("宅基地", "宅基第"),
    ("包工头", "包工投"),
    ("喝药", "喝要"),
    ("赴京", "付京"),
    ("劳务费", "劳务费用"),
    ("结算", "节算"),
    ("工程款", "工程欵"),
    ("跳楼", "跳搂"),
    ("彩礼", "财礼"),
)
CN_DIGITS = "零一二三四五六七八九"


# =============================================================================================
# Public types


@dataclass(frozen=True)
class SyntheticCase:
    township: str
    ref_no: str
    category: str  # true category code (a correction may fix a wrong one on earlier records)
    records: tuple[dict, ...]  # as posted, ordered by found_at; duplicates included
    escalated_at: str | None  # ISO 8601 (+08:00) of the first escalation
    escalation_kind: str | None
    hazard: float  # baseline weekly hazard: the story's features at the first record

    @property
    def case_id(self) -> str:
        return case_id_for(self.township, self.ref_no)


# =============================================================================================
# Randomness: numpy's Generator, drawn in blocks (one call per thousands of draws keeps a
# million cases fast) and consumed in a fixed order, so a seed gives the same county.


class _Draws:
    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._u: list[float] = []
        self._z: list[float] = []

    def u(self) -> float:
        if not self._u:
            self._u = self._rng.random(8192).tolist()
        return self._u.pop()

    def normal(self) -> float:
        if not self._z:
            self._z = self._rng.standard_normal(4096).tolist()
        return self._z.pop()

    def chance(self, p: float) -> bool:
        return self.u() < p

    def pick(self, items: Sequence[Any]) -> Any:
        return items[int(self.u() * len(items))]

    def int_between(self, low: int, high: int) -> int:
        return low + int(self.u() * (high - low + 1))

    def weighted(self, items: Sequence[Any], cumulative: Sequence[float]) -> Any:
        return items[bisect.bisect_right(cumulative, self.u() * cumulative[-1])]

    def poisson(self, lam: float) -> int:
        k, p, s, u = 0, math.exp(-lam), math.exp(-lam), self.u()
        while u > s and k < 50:
            k += 1
            p *= lam / k
            s += p
        return k


def _cumulative(weights: Iterable[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _when(
    d: _Draws, after: dt.datetime, low: int, high: int, early: int = 8, late: int = 18
) -> dt.datetime:
    """A moment ``low``..``high`` days after the day of ``after``, between ``early`` and ``late`` o'clock."""
    day = after.date() + dt.timedelta(days=d.int_between(low, high))
    minutes = early * 60 + int(d.u() * (late - early) * 60)
    return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=CHINA)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


_TOWNSHIPS = tuple(TOWNSHIP_SHARE)
_TOWNSHIP_CUM = _cumulative(TOWNSHIP_SHARE.values())
_CATS = tuple(CATEGORY_SHARE)
_CAT_CUM = _cumulative(CATEGORY_SHARE.values())
_CAT_CUM_SEASON = _cumulative(CATEGORY_SHARE[c] * SEASON_INCIDENCE.get(c, 1.0) for c in _CATS)
_SPEEDS = tuple(UNIT_SPEED)
_SPEED_CUM = _cumulative(share for share, _ in UNIT_SPEED.values())
_THREAT_KINDS = tuple(THREATS)
_THREAT_CUM = {c: _cumulative(w[k] for k in _THREAT_KINDS) for c, w in THREAT_WEIGHTS.items()}
assert set(CATEGORY_SHARE) == set(CODES) == set(BASE_LOGIT)


@functools.lru_cache(maxsize=4096)
def before_spring_festival(day: dt.date) -> bool:
    """Whether a day falls in the 28 days before a Spring Festival (2025-2028)."""
    for festival in SPRING_FESTIVAL:
        if 0 < (festival - day).days <= BEFORE_FESTIVAL_DAYS:
            return True
    return False


# =============================================================================================
# Text


def _count_phrase(d: _Draws, n: int) -> str:
    """How an officer writes a head count: exact, rounded, vague, or not at all."""
    r = d.u()
    if n <= 1:
        return "" if r < 0.5 else "1名"
    if r < 0.45:
        return f"{n}名"
    if r < 0.65 and n >= 10:
        tens = n // 10
        return ("十" if tens == 1 else f"{CN_DIGITS[tens] if tens < 10 else tens}十") + "多个"
    if r < 0.75 and n <= 9:
        return f"{CN_DIGITS[n]}个"
    if r < 0.85:
        return "几十个" if n >= 20 else "一些" if n >= 5 else ""
    return ""


def _amount_phrase(d: _Draws, yuan: float | None) -> str:
    if yuan is None:
        return "具体金额不清"
    r = d.u()
    wan = yuan / 10000
    if r < 0.5:
        return f"约{wan:.1f}万元" if wan >= 1 else f"{int(yuan)}元"
    if r < 0.75:
        return f"{int(wan)}万多" if wan >= 2 else "一万来块"
    if r < 0.85:
        return "好几万" if wan < 10 else "上百万" if wan >= 100 else "几十万"
    return "具体金额不清"


def _typo(d: _Draws, text: str) -> str:
    present = [pair for pair in TYPOS if pair[0] in text]
    if not present:
        return text
    right, wrong = d.pick(present)
    return text.replace(right, wrong, 1)


def _person(d: _Draws) -> str:
    return d.pick(SURNAMES) + d.pick(GIVEN)


def _phone(d: _Draws) -> str:
    return "1" + d.pick("35789") + "".join(str(int(d.u() * 10)) for _ in range(9))


# =============================================================================================
# One case


@dataclass
class _Story:
    """The hidden truth of one case while it is simulated."""

    category: str
    township: str
    village: str
    people: int
    amount: float | None
    temper: float
    threat: str | None  # kind of threat made (None: no threat yet)
    organising: bool
    media: bool
    visits: int
    skip_level: int
    petition_on: dt.date | None
    speed: float  # weekly chance the unit takes its first measures


def _logit(s: _Story, day: dt.date, acted: bool, agreed: bool, broken: bool) -> float:
    """The story's weekly escalation log-odds (without the hidden temper)."""
    e = EFFECTS
    x = BASE_LOGIT[s.category] + TOWNSHIP_EFFECT[s.township]
    if s.people >= 30:
        x += e["people_30_plus"]
    elif s.people >= 10:
        x += e["people_10_29"]
    elif s.people >= 5:
        x += e["people_5_9"]
    if s.amount is not None:
        if s.amount >= 1_000_000:
            x += e["amount_1m_plus"]
        elif s.amount >= 100_000:
            x += e["amount_100k_plus"]
    if before_spring_festival(day):
        if s.category == "unpaid_wages":
            x += e["wages_before_spring_festival"]
        elif s.category == "unpaid_construction":
            x += e["construction_before_spring_festival"]
    if s.visits >= 3:
        x += e["visits_3_plus"]
    elif s.visits >= 1:
        x += e["visits_1_2"]
    if s.skip_level:
        x += e["prior_skip_level"]
    if s.threat:
        x += e["threat"]
    if s.organising:
        x += e["organising"]
    if s.media:
        x += e["media"]
    if s.petition_on is not None and not agreed:
        open_days = (day - s.petition_on).days
        if open_days > PETITION_LIMIT_DAYS:
            x += e["petition_overdue"]
        elif open_days > PETITION_LIMIT_DAYS - 15:
            x += e["petition_near_limit"]
    if agreed:
        x += e["agreement_reached"]
    elif acted:
        x += e["unit_acted"]
    if broken:
        x += e["agreement_broken"]
    return x


def _drop(d: _Draws, record: dict, name: str, p: float) -> None:
    """Leave an optional field out (or send it as null) with probability p."""
    if name in record and d.chance(p):
        if d.chance(P_NULL_INSTEAD_OF_MISSING):
            record[name] = None
        else:
            del record[name]


class _CaseBuilder:
    def __init__(self, d: _Draws, found: dt.datetime, end: dt.datetime, counters: Counter) -> None:
        self.d = d
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
        temper = TEMPER_SD * d.normal()
        people, amount = self._size(category)
        petition_on = None
        if d.chance(0.35 if category != "key_person" else 0.7):
            petition_on = day - dt.timedelta(days=d.int_between(0, 20))
        skip_logit = -3.0 + 0.8 * temper + (1.8 if category == "key_person" else 0.0)
        skip_logit += 0.6 if category == "investment_loss" else 0.0
        skip_level = d.int_between(1, 3) if d.chance(_sigmoid(skip_logit)) else 0
        visit_rate = 0.4 + (2.0 if category == "key_person" else 0.0) + 0.4 * max(temper, 0.0)
        speed_kind = d.weighted(_SPEEDS, _SPEED_CUM)
        self.s = _Story(
            category=category,
            township=township,
            village=d.pick(VILLAGES[township]),
            people=people,
            amount=amount,
            temper=temper,
            threat=None,
            organising=people >= 3
            and d.chance(_sigmoid(-2.2 + 0.6 * temper + (0.5 if people >= 10 else 0.0))),
            media=d.chance(0.04 if category not in MONEY_CATEGORIES else 0.08),
            visits=d.poisson(visit_rate),
            skip_level=skip_level,
            petition_on=petition_on,
            speed=UNIT_SPEED[speed_kind][1],
        )
        if d.chance(_sigmoid(-2.6 + 0.8 * temper)):
            self.s.threat = d.weighted(_THREAT_KINDS, _THREAT_CUM[category])
        self.reporter = _person(d)
        self.phone = _phone(d)
        self.parties = [_person(d) for _ in range(min(people, d.int_between(1, 3)))]
        self.boss = _person(d)
        self.hazard = _sigmoid(_logit(self.s, day, False, False, False))
        # A late correction: decided now, so records before it carry the wrong value.
        self.correction_at: dt.datetime | None = None
        self.wrong_category: str | None = None
        self.wrong_people: int | None = None
        if d.chance(P_CORRECTION):
            self.correction_at = _when(d, found, 2, 30)
            if d.chance(0.5):
                self.wrong_category = _confusable(d, category)
            else:
                self.wrong_people = max(1, people // 10) if people >= 10 else people + 10
        self.records: list[tuple[dt.datetime, dict]] = []
        self.escalated_at: dt.datetime | None = None
        self.escalation_kind: str | None = None

    # ---- case size -----------------------------------------------------------------------
    def _size(self, category: str) -> tuple[int, float | None]:
        d = self.d
        median, sigma, minimum = {
            "unpaid_wages": (10, 0.9, 1),
            "unpaid_construction": (5, 0.9, 1),
            "real_estate": (25, 1.0, 3),
            "land_expropriation": (12, 1.0, 1),
            "land_management": (3, 0.8, 2),
            "homestead": (2, 0.4, 2),
            "investment_loss": (20, 1.1, 1),
            "neighbour": (2, 0.3, 2),
            "family": (2, 0.3, 2),
            "key_person": (1, 0.3, 1),
        }[category]
        people = max(minimum, min(5000, round(median * math.exp(sigma * d.normal()))))
        amount_median, amount_sigma, has_amount = {
            "unpaid_wages": (22_000 * people, 0.6, 0.9),
            "unpaid_construction": (500_000, 1.0, 0.9),
            "real_estate": (150_000 * min(people, 20), 0.8, 0.5),
            "land_expropriation": (250_000, 1.0, 0.8),
            "land_management": (40_000, 1.0, 0.4),
            "homestead": (20_000, 0.8, 0.15),
            "investment_loss": (60_000 * people, 1.0, 0.9),
            "neighbour": (3_000, 0.8, 0.1),
            "family": (80_000, 0.6, 0.4),
            "key_person": (15_000, 0.8, 0.2),
        }[category]
        amount = None
        if d.chance(has_amount):
            amount = float(round(min(1e9, amount_median * math.exp(amount_sigma * d.normal())), -2))
        return people, amount

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
        if d.chance(P_TYPO):
            text = _typo(d, text)
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
        _drop(d, record, "reporter", 0.1)
        return record

    def _add(self, at: dt.datetime, record: dict) -> None:
        self.records.append((at, record))

    def initial(self) -> None:
        d, s = self.d, self.s
        people = self.wrong_people or s.people
        text = d.pick(OPENINGS[s.category]).format(
            who=self.parties[0],
            other=_person(d),
            boss=self.boss,
            v=s.village,
            n=_count_phrase(d, people),
            amt=_amount_phrase(d, s.amount),
            site=d.pick(SITES),
            project=d.pick(PROJECTS),
        )
        extra = []
        if s.visits >= 2 and d.chance(0.6):
            extra.append(d.pick(("多次反映", "重复访", f"之前来过{s.visits}次")))
        if s.skip_level and d.chance(0.5):
            extra.append(d.pick(("去年到市里上访过", "之前越级到省里反映过", "曾进京上访")))
        if s.threat and d.chance(0.85):
            extra.append(d.pick(THREATS[s.threat]))
        if s.organising and d.chance(0.7):
            extra.append(d.pick(ORGANISING))
        if s.media and d.chance(0.7):
            extra.append(d.pick(MEDIA))
        if s.category == "unpaid_wages" and before_spring_festival(self.found.date()):
            extra.append(
                d.pick(("快过年了急着要钱回家", "春节前要不到钱不走", "年底了工人等钱过年"))
            )
        if d.chance(_sigmoid(-0.5 - 1.5 * s.temper)) and not s.threat:
            extra.append(d.pick(CALM))
        elif d.chance(_sigmoid(-1.5 + 1.5 * s.temper)):
            extra.append(d.pick(TEMPER))
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
            responsible_unit=UNITS[s.category],
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
            _drop(d, record, name, p)
        if d.chance(0.1):
            record["remarks"] = d.pick(("网格员报送", "村里电话报的", "已录入台账", "待核实"))
        self._add(self.found, record)

    def follow_up(self, at: dt.datetime, status: str, text: str, **fields: Any) -> None:
        record = self._base(at, "follow_up", status, text)
        record.update(fields)
        self._add(at, record)

    # ---- the weekly simulation ---------------------------------------------------------
    def simulate(self) -> None:
        d, s = self.d, self.s
        self.initial()
        acted = agreed = broken = False
        week = 0
        while True:
            start = self.found + dt.timedelta(weeks=week)
            if start >= self.end:
                return
            x = _logit(s, start.date(), acted, agreed, broken) + s.temper
            if d.chance(_sigmoid(x)):
                at = _when(d, start, 1, 7, early=6, late=22)
                if at < self.end:
                    self._escalate(at)
                    self._after_escalation(at)
                return
            at = _when(d, start, 1, 6)
            if at >= self.end:
                return
            week += 1
            if d.chance(WITHDRAW_WEEKLY) and not agreed:
                self.follow_up(
                    at, "withdrawn", d.pick(("当事人撤回，不再追究", "双方私下和解，撤回申请"))
                )
                return
            if not acted:
                if d.chance(s.speed):
                    acted = True
                    measure = d.pick(MEASURES[s.category])
                    self.follow_up(
                        at,
                        "mediating",
                        f"{UNITS[s.category]}已介入，{measure}。",
                        measures_taken=measure,
                    )
                    continue
            elif agreed:
                if d.chance(FULFIL_WEEKLY):
                    kind = "money" if s.category in MONEY_CATEGORIES else "other"
                    self.follow_up(at, "resolved", d.pick(RESOLVED[kind]))
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
                self.follow_up(at, "agreed", d.pick(AGREED), measures_taken="调解达成协议")
                continue
            # Things that happen while the case waits: threats, visits, routine updates.
            open_days = (at.date() - s.petition_on).days if s.petition_on else 0
            overdue = 0.6 if open_days > PETITION_LIMIT_DAYS else 0.0
            if not s.threat and d.chance(_sigmoid(-4.5 + 0.8 * s.temper + overdue)):
                s.threat = d.weighted(_THREAT_KINDS, _THREAT_CUM[s.category])
                if d.chance(0.85):
                    who = self.parties[0] if self.parties else "当事人"
                    self.follow_up(
                        at,
                        self._status(acted, agreed),
                        f"{who}情绪激动，{d.pick(THREATS[s.threat])}。",
                    )
                    continue
            if d.chance(_sigmoid(-3.0 + 0.7 * s.temper + overdue)):
                s.visits += 1
                self.follow_up(
                    at,
                    self._status(acted, agreed),
                    d.pick(("又到镇里反映", "再次来访", "又打电话到信访办", "多次反映，这回又来了"))
                    + "。",
                    prior_visits=s.visits,
                )
                continue
            if d.chance(PROGRESS_WEEKLY):
                mood = d.pick(CALM) if d.chance(_sigmoid(-0.3 - 1.5 * s.temper)) else d.pick(TEMPER)
                lead = "仍在调解中" if acted else "责任单位还没回复"
                self.follow_up(at, self._status(acted, agreed), f"{lead}，{mood}。")

    @staticmethod
    def _status(acted: bool, agreed: bool) -> str:
        return "agreed" if agreed else "mediating" if acted else "new"

    def _escalate(self, at: dt.datetime) -> None:
        d, s = self.d, self.s
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
        kind = d.weighted(kinds, _cumulative(weights.values()))
        who = self.parties[0] if self.parties else "当事人"
        fields: dict[str, Any] = {"escalation_kind": kind}
        if kind == "group_event":
            present = max(5, round(s.people * (0.4 + 0.6 * d.u())))
            fields["people_involved"] = present
            text = d.pick(
                (
                    "{n}人到县政府门口聚集，拉横幅，经劝返已疏散。",
                    "{n}人堵了{road}，要求马上解决，民警到场疏导。",
                    "{n}人围堵镇政府大门，情绪激动。",
                )
            ).format(n=f"{present}余" if d.chance(0.5) else str(present), road=d.pick(ROADS))
        elif kind == "skip_level":
            text = d.pick(
                (
                    f"{who}到市信访局越级上访，已接回。",
                    f"{who}进京上访，被劝返。",
                    f"{who}到省信访局反映，省里转回县里。",
                    f"{who}等人到市里上访。",
                )
            )
        else:
            text = d.pick(
                (
                    f"{who}爬上塔吊扬言跳楼，经劝说下来了。",
                    f"{who}在镇政府喝药，已送医抢救，无生命危险。",
                    f"{who}持刀与对方发生冲突，派出所已处置。",
                    f"{who}在村委会门口闹事，砸了东西。",
                )
            )
        self.follow_up(at, "escalated", text, **fields)
        self.escalated_at = at
        self.escalation_kind = kind

    def _after_escalation(self, at: dt.datetime) -> None:
        """A county or township leader takes the case on; it may be resolved later."""
        d = self.d
        if not d.chance(0.9):
            return
        leader = _person(d) + "（" + d.pick(LEADER_TITLES) + "）"
        at = _when(d, at, 2, 8)
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
            at = _when(d, at, 5, 9)
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


def _confusable(d: _Draws, category: str) -> str:
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


# =============================================================================================
# Public API


def _found_times(n: int, seed: int, start: dt.date, days: int) -> np.ndarray:
    """Sorted minutes after ``start`` at which the n cases are first found."""
    rng = np.random.default_rng([seed, 1])
    weights = np.array(
        [1.5 if before_spring_festival(start + dt.timedelta(days=i)) else 1.0 for i in range(days)]
    )
    day = rng.choice(days, size=n, p=weights / weights.sum())
    minute = rng.integers(8 * 60, 18 * 60, size=n)  # office hours
    return np.sort(day.astype(np.int64) * 1440 + minute)


def generate_county(
    n_cases: int,
    seed: int = 2026,
    start: str = "2025-01-01",
    days: int = 540,
    progress: bool = False,
) -> Iterator[SyntheticCase]:
    """Stream ``n_cases`` synthetic cases found between ``start`` and ``start + days``.

    Cases come in the order their first record was found; each is simulated week by week until
    it is resolved, withdrawn or the period ends.  The same seed gives the same county.
    """
    first_day = dt.date.fromisoformat(start)
    origin = dt.datetime.combine(first_day, dt.time(), tzinfo=CHINA)
    end = origin + dt.timedelta(days=days)
    minutes = _found_times(n_cases, seed, first_day, days)
    d = _Draws(seed)
    counters: Counter = Counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_cases, unit="case", desc="synthetic county", file=sys.stderr)
    try:
        for m in minutes.tolist():
            found = origin + dt.timedelta(minutes=m)
            builder = _CaseBuilder(d, found, end, counters)
            builder.simulate()
            yield builder.finish()
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def found_at_key(record: dict) -> dt.datetime:
    """The moment a record's found_at names (China time when it has no offset)."""
    text = record["found_at"].strip().replace("/", "-")
    if len(text) == 10:
        text += "T00:00:00"
    moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def posting_order(cases: Iterable[SyntheticCase]) -> list[dict]:
    """All records of all cases, sorted by found_at (ties keep case and record order)."""
    records = [r for case in cases for r in case.records]
    records.sort(key=found_at_key)
    return records


def iter_posting_order(cases: Iterable[SyntheticCase]) -> Iterator[dict]:
    """``posting_order`` without holding every record: a streaming merge.

    Needs the cases in the order they were found (as ``generate_county`` yields them); raises
    ValueError otherwise.  Gives exactly the same sequence as ``posting_order``.
    """
    heap: list[tuple[float, int, int, dict]] = []
    floor: float | None = None
    for ci, case in enumerate(cases):
        # A first record may give only its date (midnight), so records earlier than the
        # start of this case's day are the ones no later case can precede.
        first = found_at_key(case.records[0])
        day_start = first.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        if floor is not None and day_start < floor:
            raise ValueError("cases are not in the order they were found")
        floor = day_start
        while heap and heap[0][0] < day_start:
            yield heapq.heappop(heap)[3]
        for ri, record in enumerate(case.records):
            heapq.heappush(heap, (found_at_key(record).timestamp(), ci, ri, record))
    while heap:
        yield heapq.heappop(heap)[3]


def _received_at(record: dict, fp: str, previous: dt.datetime | None) -> dt.datetime:
    """found_at plus a small delay (2-27 minutes, from the content hash), never going back."""
    moment = found_at_key(record) + dt.timedelta(seconds=120 + int(fp[:6], 16) % 1500)
    if previous is not None and moment <= previous:
        moment = previous + dt.timedelta(seconds=1)
    return moment


def case_events(case: SyntheticCase) -> list[Envelope]:
    """The events the case agent would append for one case's records, in order."""
    case_id = case.case_id
    state = CaseState(case_id=case_id)
    out: list[Envelope] = []
    previous: dt.datetime | None = None
    for i, raw in enumerate(case.records):
        record = validate(raw)
        fp = fingerprint(record)
        previous = _received_at(record, fp, previous)
        command = SubmitRecord(
            command_id=f"synthetic:{case_id}:{i}",
            case_id=case_id,
            record=record,
            fingerprint=fp,
            received_at=previous.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
        )
        state, events = handle_command(state, command)
        out.extend(events)
    return out


def event_log(cases: Iterable[SyntheticCase]) -> Iterator[Envelope]:
    """The case events the stream would produce, case by case (each case's events contiguous
    and in seq order).  Sort by ``recorded_at`` for one time-ordered log across cases."""
    for case in cases:
        yield from case_events(case)


# =============================================================================================
# Command line


def _summary(stats: dict[str, Counter], records: int, seconds: float) -> str:
    cases, escalated = stats["cases"], stats["escalated"]
    total = sum(cases.values())
    lines = [
        f"cases: {total:,}   records: {records:,}   "
        f"({stats['mess']['duplicates']:,} duplicates, {stats['mess']['corrections']:,} corrections)",
        f"escalated: {sum(escalated.values()):,} ({sum(escalated.values()) / max(total, 1):.1%})   "
        + "   ".join(f"{k} {v:,}" for k, v in sorted(stats["kinds"].items())),
        f"{'category':<22}{'cases':>9}{'escalated':>11}{'rate':>8}",
    ]
    for code in CODES:
        n = cases[code]
        lines.append(f"{code:<22}{n:>9,}{escalated[code]:>11,}{escalated[code] / max(n, 1):>8.1%}")
    lines.append(f"generated in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} cases/s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.synthetic", description="Generate the synthetic county."
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--start", default="2025-01-01")
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--out", required=True, help="records as JSON lines, in posting order")
    parser.add_argument("--events", help="case events as JSON lines (Envelope), case by case")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    stats: dict[str, Counter] = {k: Counter() for k in ("cases", "escalated", "kinds", "mess")}

    def counted(cases: Iterable[SyntheticCase]) -> Iterator[SyntheticCase]:
        for case in cases:
            stats["cases"][case.category] += 1
            if case.escalated_at:
                stats["escalated"][case.category] += 1
                stats["kinds"][case.escalation_kind] += 1
            previous = None
            for r in case.records:
                stats["mess"]["duplicates"] += r == previous  # duplicates are posted back to back
                stats["mess"]["corrections"] += r.get("record_kind") == "correction"
                previous = r
            if events_out is not None:
                for e in case_events(case):
                    events_out.write(e.to_bytes().decode("utf-8") + "\n")
            yield case

    began = time.perf_counter()
    n_records = 0
    events_out = open(args.events, "w", encoding="utf-8") if args.events else None
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            cases = generate_county(
                args.cases, args.seed, args.start, args.days, progress=not args.no_progress
            )
            for record in iter_posting_order(counted(cases)):
                out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                n_records += 1
    finally:
        if events_out is not None:
            events_out.close()
    print(_summary(stats, n_records, time.perf_counter() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())
