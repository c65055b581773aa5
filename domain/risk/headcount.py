"""Head counts written in a record's text (30余人, 五十多名工人, 二三十户, 上百人).

Records are often missing their number of people; the text usually says it.  What is read is
a lower bound: 30余人 is 30, 二三十人 is 20, 几十人 is 20, 十几户 is 11, 上百人 is 100.  Only
a number followed by a word for people counts (人, 名, 位, 户, 家 or 工人, 村民 ...), so 30多万,
十几年, 3个月, 5000多人民币, 第6村民组, 3个村民组 and 5家企业 are not head counts, nor are officials
(30余名干部); full-width digits count as any (６０余名); a
range counts from its low end (3至5人 is 3).
"""

from __future__ import annotations

import re
from functools import lru_cache

FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_NUMBER = r"(?<![0-9])[0-9]{1,5}|[零〇一二两三四五六七八九十百千万几数]+"
_TO = r"(?:至|到|-|~|—|－|～)"
_NOT_THEM = (
    "干部|民警|警力|辅警|工作人员|党员|志愿者|网格员|调解员|律师|公安|保安|医护|执法|"
    # 5家企业 and 3个村民组 (not 100多名企业员工)
    "(?<=家)(?:企业|公司|单位|工厂|厂|店|银行|医院|学校|机构)|(?<=村民)组"
)
_PEOPLE = (
    "人|名|位|户|家|个人|个工人|个农民工|个村民|个群众|个业主|个工友|个老人|工人|农民工|村民|群众|"
    "业主|工友|职工|员工|家属|亲属|老人|妇女|学生|访民|社员|租户|商户|住户|投资人|债权人"
)
HEADCOUNT = re.compile(
    rf"(?<!第)(?P<lead>上|近|约|大约|将近)?(?:(?P<low>{_NUMBER}){_TO})?(?P<n>{_NUMBER})\s*"
    rf"(?P<more>余|多|来)?\s*(?:个|名|位|号)?(?P<who>{_PEOPLE})(?!民|{_NOT_THEM})"
)


def chinese_number(text: str) -> int | None:
    """The lower bound a Chinese or Arabic numeral gives: 二十 20, 二三十 20, 几十 20, 十几 11,
    一百 100, 几 2; None if it is not a number."""
    if text.isdigit():
        return int(text)
    text = text.replace("数", "几")
    if not text or any(c not in DIGITS and c not in "十百千万几" for c in text):
        return None
    total, digit = 0, None
    for c in text:
        if c in DIGITS or c == "几":
            # 二三十: two digits in a row read as the smaller (a range); 几 is at least 2
            value = 2 if c == "几" else DIGITS[c]
            digit = value if digit is None else min(digit, value)
        else:
            unit = {"十": 10, "百": 100, "千": 1000, "万": 10000}[c]
            if c == "万":  # 两万, 十万: what came before counts in ten thousands
                total = (total + (digit or 0)) * unit or unit
            else:
                total += (1 if digit is None else digit) * unit
            digit = None
    if digit is not None:  # 十几 (11), 一百二 is read as 102, low
        total += 1 if text.endswith("几") and len(text) > 1 else digit
    return total or None


def record_people(field: int | None, description: str | None) -> tuple[int, bool]:
    """A record's head count for the group rules: its field, else what its description says
    in words, with whether it is the words'.  Measures are not read (they count officials)."""
    if field is not None:
        return int(field), False
    said = people_in_words(description or "")
    return said, said > 0


@lru_cache(maxsize=65_536)  # every assessment of a case reads its texts again
def people_in_words(description: str) -> int:
    return people_in_text(description)


def people_in_text(text: str) -> int:
    """The largest head count the text gives (0 if none); full-width digits (６０余名) as
    any (only they: NFKC would also make ①20余名 120)."""
    best = 0
    for m in HEADCOUNT.finditer(text.translate(FULL_WIDTH_DIGITS)):
        n = chinese_number(m["n"])
        if n is None:
            continue
        low = chinese_number(m["low"]) if m["low"] else None
        n = min(n, low) if low is not None else n
        if m["lead"] in ("近", "将近"):  # 近百人: not quite a hundred (上百人: a hundred or more)
            n = n * 9 // 10
        best = max(best, n)
    return best
