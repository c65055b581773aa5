"""What a notification says: short, in Chinese, with personal numbers masked."""

from __future__ import annotations

import re

from schemas.categories import BY_CODE

LEVEL_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}
ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


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
) -> tuple[str, str]:
    """(title, body) of an alert notification."""
    cat = BY_CODE.get(category)
    label = cat.label if cat else category
    title = f"【{LEVEL_ZH.get(level, level)}预警】{township} {label}"
    lines = [title]
    if note:
        lines.append(note)
    lines.extend(f"· {r}" for r in reasons[:3])
    lines.append(f"请于{deadline}前签收。案件：{ref}")
    return mask_personal(title), mask_personal("\n".join(lines))
