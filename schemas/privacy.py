"""Personal numbers never leave in full: in notifications, dead-letter reasons and logs."""

from __future__ import annotations

import re

# stand-alone numbers only: digits inside an identifier (a case id) are left alone
ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
PHONE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")


def mask_personal(text: str) -> str:
    """ID-card and mobile numbers with their middle digits hidden."""
    return PHONE.sub(r"\1****\2", ID_CARD.sub(r"\1********\2", text))
