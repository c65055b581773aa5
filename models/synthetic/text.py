"""Small pieces of an officer's writing: head counts, money, names, phone numbers, typos."""

from __future__ import annotations

from models.synthetic.draws import Draws
from models.synthetic.tables import Phrases, phrases


def count_phrase(d: Draws, n: int) -> str:
    """How an officer writes a head count: exact, rounded, vague, or not at all."""
    r = d.u()
    if n <= 1:
        return "" if r < 0.5 else "1名"
    if r < 0.45:
        return f"{n}名"
    if r < 0.65 and n >= 10:
        tens = n // 10
        digits = phrases().cn_digits
        return ("十" if tens == 1 else f"{digits[tens] if tens < 10 else tens}十") + "多个"
    if r < 0.75 and n <= 9:
        return f"{phrases().cn_digits[n]}个"
    if r < 0.85:
        return "几十个" if n >= 20 else "一些" if n >= 5 else ""
    return ""


def amount_phrase(d: Draws, yuan: float | None) -> str:
    """How an officer writes a sum of money: exact, rough, or 具体金额不清."""
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


def typo(d: Draws, text: str, words: Phrases | None = None) -> str:
    """The text with one common wrong character (if it has a word that invites one)."""
    present = [pair for pair in (words or phrases()).typos if pair[0] in text]
    if not present:
        return text
    right, wrong = d.pick(present)
    return text.replace(right, wrong, 1)


def person(d: Draws, words: Phrases | None = None) -> str:
    """An invented name: a surname and a given name."""
    p = words or phrases()
    return d.pick(p.surnames) + d.pick(p.given_names)


def phone(d: Draws) -> str:
    """An invented mobile number."""
    return "1" + d.pick("35789") + "".join(str(int(d.u() * 10)) for _ in range(9))
