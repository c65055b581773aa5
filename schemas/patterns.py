"""The record contract's text rules as regular expressions, shared by intake and the JSON Schema.

Intake matches dates against these patterns before it parses them, and the published JSON
Schema uses the same patterns, so both accept exactly the same values.  Every pattern uses
only what ECMA-262 (JSON Schema's regex dialect, ajv) and Python's ``re`` read alike: literal
characters, classes, ranges, groups, ``?``/``*``/``{m,n}`` and one lookahead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

CONTROL = frozenset(chr(i) for i in range(32) if chr(i) not in "\t\n\r") | {"\x7f"}
_SPECIAL = set("\\]^-[")


def _codepoints(keep: Callable[[str], bool]) -> list[int]:
    return [cp for cp in range(0x110000) if keep(chr(cp))]


def char_class(codepoints: list[int], negate: bool = False) -> str:
    """A class of these code points: literal characters, runs as ranges."""
    parts: list[str] = []
    run: list[int] = []
    for cp in sorted(set(codepoints)):
        if run and cp != run[-1] + 1:
            parts.append(_run(run))
            run = []
        run.append(cp)
    if run:
        parts.append(_run(run))
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _run(run: list[int]) -> str:
    first, last = _literal(run[0]), _literal(run[-1])
    if len(run) == 1:
        return first
    return first + last if len(run) == 2 else f"{first}-{last}"


def _literal(cp: int) -> str:
    c = chr(cp)
    return "\\" + c if c in _SPECIAL else c


WHITESPACE = _codepoints(str.isspace)  # what str.strip() removes
BAD = sorted({ord(c) for c in CONTROL} | set(range(0xD800, 0xE000)))  # and unpaired surrogates
FORMAT = _codepoints(
    lambda c: unicodedata.category(c) == "Cf"
)  # invisible: case identity drops them
WS = char_class(WHITESPACE)


def text(max_len: int, required: bool, identity: bool = False) -> str:
    """Trimmed of whitespace (``str.strip``): 1 to ``max_len`` characters and no control
    character, or (optional) nothing; an identity also needs one visible character."""
    edge = char_class(WHITESPACE + BAD, negate=True)
    inner = char_class(BAD, negate=True)
    content = edge if max_len == 1 else f"{edge}(?:{inner}{{0,{max_len - 2}}}{edge})?"
    if identity:
        visible = char_class(WHITESPACE + BAD + FORMAT, negate=True)
        content = f"(?={inner}*?{visible}){content}"
    return f"^{WS}*{content}{WS}*$" if required else f"^{WS}*(?:{content})?{WS}*$"


BLANK = f"^{WS}*$"

# ---- dates: YYYY-MM-DD (or with /, and month, day and hour may have one digit, as a
# spreadsheet writes 2026/3/5 9:30), real calendar days, from the year 2000; then an optional
# time (T or a space, HH:MM, optional :SS and fraction, optional Z or +hh:mm offset).  Digits
# are ASCII ([0-9], not \d, which in Python also takes full-width and other digits) ---------
_YEAR = r"[2-9][0-9]{3}"  # 2000-9999
_YEAR_TO_9998 = (
    r"(?:[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"  # China time never leaves 9999
)
_LEAP = r"(?:[2-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_S = "[-/]"
_MONTH_DAY = (
    f"(?:(?:0?[13578]|1[02]){_S}(?:0?[1-9]|[12][0-9]|3[01])"
    f"|(?:0?[469]|11){_S}(?:0?[1-9]|[12][0-9]|30)"
    f"|0?2{_S}(?:0?[1-9]|1[0-9]|2[0-8]))"
)
_TIME = (
    r"(?:[ T](?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?"
)


def _date(year: str) -> str:
    return f"(?:{year}{_S}{_MONTH_DAY}|{_LEAP}{_S}0?2{_S}29)"


DATE = f"^{WS}*{_date(_YEAR)}{_TIME}{WS}*$"  # a date field (any time given is dropped)
DATE_TIME = f"^{WS}*{_date(_YEAR_TO_9998)}{_TIME}{WS}*$"  # China time if no offset
