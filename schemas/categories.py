"""Dispute categories (纠纷类别) named in the county's 2024 work report.

Each category has a stable ASCII code (used in events, features and configuration) and the
Chinese label that screening officers write.  Records may give either, or a common variant.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    label: str  # Chinese label as written in screening records
    english: str
    aliases: tuple[str, ...] = ()


CATEGORIES: tuple[Category, ...] = (
    Category(
        "unpaid_wages",
        "拖欠农民工工资",
        "unpaid migrant-worker wages",
        ("欠薪", "讨薪", "拖欠工资"),
    ),
    Category("unpaid_construction", "拖欠工程款", "unpaid construction payments", ("工程款纠纷",)),
    Category("real_estate", "房地产开发管理", "real-estate development", ("房地产开发", "房地产")),
    Category("land_expropriation", "土地征收", "land expropriation", ("征地", "征收")),
    Category(
        "land_management", "土地资源管理", "land resource management", ("土地管理", "土地纠纷")
    ),
    Category("homestead", "农村宅基地纠纷", "rural homestead dispute", ("宅基地纠纷", "宅基地")),
    Category("investment_loss", "投资受损", "investment losses", ("非法集资", "投资理财")),
    Category("neighbour", "邻里纠纷", "neighbour dispute", ("邻里矛盾",)),
    Category("family", "感情纠葛", "family or relationship dispute", ("婚姻家庭", "家庭纠纷")),
    Category("key_person", "重点人群管理", "key-person management", ("重点人员", "重点人群")),
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}
_LOOKUP: dict[str, str] = {}
for _c in CATEGORIES:
    for _name in (_c.code, _c.label, *_c.aliases):
        _LOOKUP[_name] = _c.code

CODES: tuple[str, ...] = tuple(c.code for c in CATEGORIES)
ACCEPTED_NAMES: tuple[str, ...] = tuple(sorted(_LOOKUP))


def category_code(name: str) -> str | None:
    """The category code for a code, label or known alias; None when unknown."""
    return _LOOKUP.get(name.strip())
