"""What makes two spellings of a township or reference number the same.

Clerks type reference numbers in spreadsheets, chat windows and office suites: full-width
letters and digits (``ＺＺ－１``), zero-width spaces, a byte-order mark or a right-to-left mark
pasted with the text.  ``identity_text`` folds those away (Unicode NFKC, then every invisible
format character and every space removed); ``case_key`` is what identifies a case: the township
and the reference number so folded, the reference number in capitals.  A value that is empty
once folded is no reference number at all (intake refuses it).
"""

from __future__ import annotations

import unicodedata


def identity_text(value: str) -> str:
    """``value`` in NFKC, without invisible format characters (zero-width, bidi marks, BOM)
    and without spaces of any kind."""
    folded = unicodedata.normalize("NFKC", value)
    if folded.isprintable() and " " not in folded:
        return folded  # no format character (Cf is not printable), no space of any kind
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c) != "Cf")


def case_key(township: str, ref_no: str) -> str:
    """The key of a case: the same township and reference number, however spelled."""
    return f"{identity_text(township)}\x1f{identity_text(ref_no).upper()}"
