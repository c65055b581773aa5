"""What a notification says: short, in Chinese, with personal numbers masked."""

from __future__ import annotations

import re

from schemas.categories import BY_CODE

LEVEL_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}
# stand-alone numbers only: digits inside an identifier (a case id) are left alone
ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
PHONE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")


def mask_personal(text: str) -> str:
    """ID-card and mobile numbers with their middle digits hidden (in messages and logs)."""
    return PHONE.sub(r"\1****\2", ID_CARD.sub(r"\1********\2", text))


def alert_message(
    level: str,
    township: str,
    category: str,
    reasons: tuple[str, ...],
    ref: str,
    deadline: str,
    note: str = "",
    link: str = "",
) -> tuple[str, str]:
    """(title, body) of an alert notification."""
    cat = BY_CODE.get(category)
    label = cat.label if cat else category
    title = f"【{LEVEL_ZH.get(level, level)}预警】{township} {label}"
    lines = [title]
    if note:
        lines.append(note)
    lines.extend(f"· {r}" for r in reasons[:3])
    lines.append(f"请于{deadline.replace('T', ' ')}前签收。案件：{ref}")
    if link:
        lines.append(f"详情：{link}")
    return mask_personal(title), mask_personal("\n".join(lines))
