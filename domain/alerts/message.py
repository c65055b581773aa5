"""What a notification says: short, in Chinese, with personal numbers masked."""

from __future__ import annotations

from schemas.categories import BY_CODE
from schemas.privacy import mask_personal

LEVEL_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}


def alert_message(
    level: str,
    township: str,
    category: str,
    reasons: tuple[str, ...],
    ref: str,
    deadline: str,
    note: str = "",
    link: str = "",
    ask: str = "签收",
) -> tuple[str, str]:
    """(title, body) of an alert notification; ``ask``: what is due by ``deadline`` (签收, or
    反馈 of an alert already acknowledged)."""
    cat = BY_CODE.get(category)
    label = cat.label if cat else category
    title = f"【{LEVEL_ZH.get(level, level)}预警】{township} {label}"
    lines = [title]
    if note:
        lines.append(note)
    lines.extend(f"· {r}" for r in reasons[:3])
    lines.append(f"请于{deadline.replace('T', ' ')}前{ask}。案件：{ref}")
    if link:
        lines.append(f"详情：{link}")
    return mask_personal(title), mask_personal("\n".join(lines))
