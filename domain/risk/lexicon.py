"""Risk and calming phrases of screening records, and how they are found in a text.

The phrases themselves are configuration (``domain/risk/policy.yaml``, section ``lexicon``);
this module says what a match is.  A phrase counts in a clause unless a negation ends at most
``negation_window`` characters before it (暂无赴京苗头, 没有过激言行, 否认要去北京) or the same
clause says it is over after it (堵路情况已平息).  The rules and the features share one
``Lexicon``, so they cannot disagree about what "an explicit threat" is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The signal groups are features of the model: their codes are fixed here, their phrases are
# configuration.  The policy must define exactly these groups.
SIGNAL_GROUPS: tuple[str, ...] = (
    "group",
    "organising",
    "hierarchy",
    "blocking",
    "media",
    "self_harm",
    "deadline",
    "repeat",
    "temper",
    "calming",
)
SEEN_KEPT = 50_000  # texts remembered per lexicon (then forgotten all at once)
CLAUSE_END = re.compile(r"[。，；！？,;!?\n]")


@dataclass(frozen=True)
class PhraseGroup:
    code: str
    zh: str
    en: str
    phrases: tuple[str, ...]
    raises_risk: bool = True


@dataclass(frozen=True)
class Lexicon:
    threats: tuple[str, ...]
    groups: tuple[PhraseGroup, ...]
    negations_before: tuple[str, ...] = ()
    cancelled_after: tuple[str, ...] = ()
    negation_window: int = 3
    # words that hold a negation and do not negate what follows (协商未果, 走投无路)
    not_negations: tuple[str, ...] = ()
    # texts already looked at: a case's text is read again at every weekly snapshot and every
    # re-assessment until a record changes it (an answer depends only on text and phrases)
    _seen: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def group(self, code: str) -> PhraseGroup:
        return next(g for g in self.groups if g.code == code)

    def hits(self, text: str, phrases: tuple[str, ...]) -> list[str]:
        """The phrases that occur in ``text`` and count (not negated), in list order."""
        key = (phrases, text)
        known = self._seen.get(key)
        if known is None:
            if len(self._seen) >= SEEN_KEPT:
                self._seen.clear()
            known = self._seen[key] = tuple(self._hits(text, phrases))
        return list(known)

    def _hits(self, text: str, phrases: tuple[str, ...]) -> list[str]:
        found = [p for p in phrases if p in text]
        if not found:
            return []
        clauses = CLAUSE_END.split(text)
        return [p for p in found if any(self._counts(c, p) for c in clauses if p in c)]

    def _counts(self, clause: str, phrase: str) -> bool:
        """Does some occurrence of ``phrase`` in ``clause`` stand un-negated?"""
        start = clause.find(phrase)
        while start >= 0:
            if not self._negated(clause, start) and not self._cancelled(
                clause, start + len(phrase)
            ):
                return True
            start = clause.find(phrase, start + 1)
        return False

    def _negated(self, clause: str, start: int) -> bool:
        before = clause[max(0, start - self.negation_window - 4) : start]
        words = [w for w in self.not_negations if w in before]
        for w in words:  # 讨薪未果后喝农药: the 未 of 未果 negates nothing
            before = before.replace(w, "＿" * len(w))
        for neg in self.negations_before:
            end = before.rfind(neg)
            if end >= 0 and len(before) - (end + len(neg)) <= self.negation_window:
                return True
        return False

    def _cancelled(self, clause: str, end: int) -> bool:
        after = clause[end:]
        return any(word in after for word in self.cancelled_after)
