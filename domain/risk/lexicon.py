"""Risk and calming phrases of screening records, and how they are found in a text.

The phrases themselves are configuration (``domain/risk/policy.yaml``, section ``lexicon``);
this module says what a match is.  A phrase counts in a clause unless a negation ends at most
``negation_window`` characters before it (暂无赴京苗头, 没有过激言行, 否认要去北京; the
one-character 没, 不, 别 only ``close_window`` before it: 没去北京, 不想去北京) with no
condition between (没有说法就去北京 is a threat), or the same clause says it is over after it
(堵路情况已平息).  One of ``scope_negations``, a screening's "not found", reaches up to
``scope_window`` characters, over a list too, when the clause goes on to name what was not
found (未发现当事人有进京上访苗头, 暂未发现有人员聚集、堵路等苗头: ``scope_nouns``) and nothing
between turns to what was found (``scope_breaks``: 但, 却, 异常 ...).  A ``list_negations``
(无, 没有, 严防, 未发生 ...) reaches as far over a list it closes with ``list_ends`` and a
named kind of thing (无集体上访、越级上访、进京上访等情况, 严防发生进京上访、堵路等事件), with
no threat's verb between (``list_breaks``: 扬言, 声称 ...) and no list item longer than
``LIST_ITEM_WITHIN`` on the way (没有得到答复后组织村民堵路等行为 is a threat); without the
closing 等 it reaches no further than any negation (没有拿到工资当事人有进京上访的想法).
What the officer guards against (``guard_before``: 严防该户在两会期间进京) and what is long
past (``past_before``: 去年曾扬言进京) reach ``scope_window`` too.  An ultimatum is a threat in
any words (``ultimatums``: 不给钱就死在这儿, 不然就去市信访局), so is a protest being planned
(``plans``: 准备一起到县政府门口讨说法, 号召被征地户把乡道堵死), and a head count given for a
settled or routine matter is no group for the rules (``loud_part``: 六十余户已全部领取补偿款).
Words that hold a phrase without meaning it (吊顶 holds 上吊) are masked
first; talk of going somewhere for an ordinary purpose (去北京看病) is not talk of going over
the county's head; a calming step that failed (调解三次均未果) is no calming.  The rules and
the features share one ``Lexicon``, so they cannot disagree about what "an explicit threat" is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TypeVar

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
T = TypeVar("T")
SEEN_KEPT = 50_000  # texts remembered per lexicon (then forgotten all at once)
CLAUSE_END = re.compile(r"[。，；！？,;!?\n]")
SENTENCE_END = re.compile(r"[。；！？;!?\n]")
QUOTED = re.compile(r"“[^”]*”|「[^」]*」|\"[^\"]*\"")  # quoted words (a banner's text)
SCOPE_NOUN_WITHIN = 10  # characters after a phrase in which a finding is named (上访的苗头)
LIST_NOUN_WITHIN = 8  # characters after a list's 等 in which its kind is named (等群体性事件)
LIST_SEPARATORS = re.compile("[、或及和与]")
LIST_LEAD = 3  # characters of an item before the sign it names (发生进京上访, 当事人赴京)
LIST_ITEM_WITHIN = 8  # characters of a whole item (发生进京上访)
LIST_OWN_REST = 4  # characters of the phrase's own item after it (进京 of 进京上访)
AUTHORITY_WITHIN = 5  # characters before a word of planning (and its adverbs) naming who plans
PLACE_BEFORE = "在到去往赴向对朝于给找"  # just before a name: it is a place (在镇政府门口) ...
PLACE_AFTER = (
    "门",
    "外",
    "前",
    "口",
    "院",
    "内",
    "楼",
    "大门",
    "大院",
    "大楼",
    "大厅",
)  # ... after
# just before a name: what a grievance is about, or the other party (因不满派出所, 与物业)
NOT_WHO = ("因", "不满", "被", "告", "拖欠", "与", "和", "跟", "同", "质疑", "举报", "指责", "对")
PLACE_WITHIN = 4  # characters before a name in which these are looked for
PLACE_PHRASE_WITHIN = 14  # characters of a place between a negation and its verb (不再到…门口)
TAKEN_DOWN_NEGATED_WITHIN = 3  # characters before 拆除 in which a negation or 被 is looked for
MODALS = "要会再得能准许想肯敢"  # between a negation and a place (不要在, 不会再到)
WRITING = ("写", "印", "喷", "刷", "涂", "标")  # with one of ``BEARS`` after: what a thing bears
BEARS = ("有", "着", "明")  # 写有, 写着, 印有, 标明
PLACE_AFTER_VERB = "在到上于"  # a verb after its thing puts it somewhere: 横幅挂在, 贴到
TAKEN_DOWN_LEADS = "已被均都也随即当场又"  # before a taking-down right after its thing
MAKING = "制做印"  # in a verb: a display made ready (制作, 订做, 印制), not yet up
QUOTE_MARK = "\ue000"  # a banner's quoted words, as one character


@dataclass(frozen=True)
class PhraseGroup:
    code: str
    zh: str
    en: str
    phrases: tuple[str, ...]
    raises_risk: bool = True

    @cached_property
    def phrase_set(self) -> frozenset[str]:
        return frozenset(self.phrases)


@dataclass(frozen=True)
class Lexicon:
    threats: tuple[str, ...]
    groups: tuple[PhraseGroup, ...]
    negations_before: tuple[str, ...] = ()
    cancelled_after: tuple[str, ...] = ()
    negation_window: int = 3
    # words that hold a negation and do not negate what follows (协商未果, 走投无路, 不满)
    not_negations: tuple[str, ...] = ()
    close_negations: tuple[str, ...] = ()  # 没, 不, 别: they reach only ``close_window``
    close_window: int = 1
    negation_breaks: tuple[str, ...] = ()  # 就, 否则: a negation does not reach past them
    failed_after: tuple[str, ...] = ()  # after a calming phrase: it failed (未果, 破裂)
    not_phrases: tuple[str, ...] = ()  # words that hold a phrase and do not mean it (吊顶)
    purposes_after: tuple[str, ...] = ()  # after a hierarchy phrase: an ordinary trip (看病)
    trip_verbs: tuple[str, ...] = ()  # an ultimatum's act with one is a trip (去, 到): 就去市里看病
    scope_negations: tuple[str, ...] = ()  # 未发现, 没发现: they reach ``scope_window`` ...
    scope_window: int = 0
    scope_nouns: tuple[str, ...] = ()  # ... when the clause then names a finding (苗头, 迹象)
    scope_breaks: tuple[str, ...] = ()  # ... and nothing between says what was found (但)
    list_negations: tuple[str, ...] = ()  # 无, 严防: they reach ``scope_window`` over a list
    list_ends: tuple[str, ...] = ()  # ... that one of these closes with a scope noun (等情况)
    list_breaks: tuple[str, ...] = ()  # ... when no threat's verb is between (扬言)
    # what the officer guards against (严防, 不得擅自) and what is long past (去年, 多年前):
    # they reach ``scope_window`` before a phrase in its clause, with no break between
    guard_before: tuple[str, ...] = ()
    guard_breaks: tuple[str, ...] = ()  # ... nor past these (为防止被强拆已备好汽油)
    past_before: tuple[str, ...] = ()
    past_marks: tuple[str, ...] = ()  # ... the past only with one of these between (曾)
    # a head count in a sentence that names a calming or routine matter (参加, 签订, 领取) and
    # no risk, no grievance (拖欠, 被骗) and no act of the people (反映, 讨薪, 来到) is no group
    # for the rules: ``loud_part``
    routine_words: tuple[str, ...] = ()
    grievance_words: tuple[str, ...] = ()
    group_acts: tuple[str, ...] = ()
    # an ultimatum: a demand not met (不给钱, 再拖下去) then 就 or 否则 and an act of
    # escalation (就从上面跳下去, 不然就去市信访局, 就一起去县政府): ``ultimatums``
    ultimatum_markers: tuple[str, ...] = ()
    ultimatum_turns: tuple[str, ...] = ()  # 否则, 不然: they open a clause, need no demand
    ultimatum_said: tuple[str, ...] = ()  # 扬言, 放话: the person's own threat, no demand
    ultimatum_if: tuple[str, ...] = ()  # in the demand before 就 or 将
    ultimatum_acts: tuple[str, ...] = ()
    ultimatum_window: int = 0  # characters of the demand before, and the act after, 就
    ultimatum_not: tuple[str, ...] = ()  # 就医, 就近, 没过多久: blanked before looking
    ultimatum_denied: tuple[str, ...] = ()  # in the demand: the ultimatum is denied (气话)
    ultimatum_turn_leads: tuple[str, ...] = ()  # may stand before a turn (要不然)
    # between the marker and the act: the act is taken back (就不去县政府了) ...
    ultimatum_taken_back: tuple[str, ...] = ()
    # ... unless the word is one of defiance (就别怪我们去堵县政府大门, 就不管了去市里)
    ultimatum_defiant: tuple[str, ...] = ()
    # a protest being planned (准备一起到县政府门口讨说法, 号召被征地户把乡道堵死): a word of
    # planning, then at most ``plan_window`` characters after it an act of protest (a threat,
    # ``plan_acts``), a petition (``plan_petitions``: 上访, 讨说法) by a group (``plan_together``,
    # the group and organising groups) or over the county's head (the hierarchy group), or an
    # appeal (``plan_appeals``: 反映) over the county's head; not by a lawful channel or step
    # (``plan_lawful``: 12345, 申请复查) before the act: ``plans``
    plan_markers: tuple[str, ...] = ()
    plan_window: int = 0
    plan_acts: tuple[str, ...] = ()
    plan_petitions: tuple[str, ...] = ()
    plan_appeals: tuple[str, ...] = ()
    plan_together: tuple[str, ...] = ()
    plan_lawful: tuple[str, ...] = ()
    plan_given_up: tuple[str, ...] = ()  # just before the word: a plan no more (原计划, 本来打算)
    plan_authorities: tuple[str, ...] = ()  # just before it: the state's own (县公安局计划)
    plan_adverbs: tuple[str, ...] = ()  # ... or before these before it (县公安局正在计划)
    # a display of protest (拉起横幅讨薪, 举着“还我血汗钱”的牌子, 张贴大字报控诉村干部): a thing
    # displayed (``display_things``: 横幅, 标语, 大字报, 牌子) with a verb of putting it up,
    # holding or making it (``display_verbs``) that ends at most ``display_window`` characters
    # before it or starts just after it (将…横幅挂在), quoted words between not counted, in a
    # sentence that airs a grievance (``display_grievances``, outside the quotes or in them);
    # not where the sentence names an ordinary purpose (``display_purposes``: 宣传, 庆祝, 感谢,
    # which also take a banner phrase out of the threats: 拉横幅宣传医保政策), nor where it is
    # taken down (``display_taken_down``), the authorities', given up, negated or not found:
    # ``displays``
    display_things: tuple[str, ...] = ()
    display_verbs: tuple[str, ...] = ()
    display_grievances: tuple[str, ...] = ()
    display_purposes: tuple[str, ...] = ()
    display_window: int = 0
    display_taken_down: tuple[str, ...] = ()  # before its verb: not put up (拆除, 撤下)
    # in the record's own words, not a banner's (an official slogan says 依法维权, 理性表达诉求)
    display_complaints: tuple[str, ...] = ()
    # texts already looked at: a case's records are read again at every weekly snapshot and
    # every re-assessment (an answer depends only on the text)
    _seen: dict[str, frozenset[str]] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    # every phrase of the lexicon by its first character, to find them in one pass over a text
    _by_first: dict[str, tuple[str, ...]] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    _orders: dict[tuple[str, ...], tuple[dict[str, int], tuple[str, ...]]] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    _every: frozenset[str] = field(
        default=frozenset(), init=False, compare=False, hash=False, repr=False
    )
    _calming: frozenset[str] = field(
        default=frozenset(), init=False, compare=False, hash=False, repr=False
    )
    _going: frozenset[str] = field(
        default=frozenset(), init=False, compare=False, hash=False, repr=False
    )
    _loud: dict[str, str] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    _said: dict[str, tuple[str, ...]] = field(  # the ultimatums of texts already read
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    _planned: dict[str, tuple[str, ...]] = field(  # the plans of texts already read
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    _displayed: dict[str, tuple[str, ...]] = field(  # the displays of texts already read
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    # what a quiet sentence may hold: its head count (余名, 十几户, 村民们), a time (节前)
    _quiet_may: frozenset[str] = field(
        default=frozenset(), init=False, compare=False, hash=False, repr=False
    )

    def __post_init__(self) -> None:
        every = frozenset(
            p for p in (*self.threats, *(p for g in self.groups for p in g.phrases)) if p
        )
        object.__setattr__(self, "_every", every)
        calming = {p for g in self.groups if not g.raises_risk for p in g.phrases}
        going = {p for g in self.groups if g.code == "hierarchy" for p in g.phrases}
        object.__setattr__(self, "_calming", frozenset(calming))
        object.__setattr__(self, "_going", frozenset(going))
        may = {p for g in self.groups if g.code == "deadline" for p in g.phrases} | {
            p
            for g in self.groups
            if g.code == "group"
            for p in g.phrases
            # a count (十几户, 余名, 村民们, 全村), not a group's act (联名, 一伙人)
            if (p[-1] in "人名户" and any(c in p for c in "十百几多余数"))
            or p[-1] == "们"
            or p[0] == "全"
        }
        object.__setattr__(self, "_quiet_may", frozenset(calming | may))
        for phrase in sorted(every):
            self._by_first[phrase[0]] = (*self._by_first.get(phrase[0], ()), phrase)

    def group(self, code: str) -> PhraseGroup:
        return next(g for g in self.groups if g.code == code)

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of everything that decides what counts (phrases, negations, windows;
        not the groups' names): a model learnt on one lexicon's counts is scored only under
        a lexicon with the same fingerprint."""

        def canonical(value: object) -> object:  # lists count as sets: order and repeats aside
            return tuple(sorted(set(value))) if isinstance(value, tuple) else value

        deciding = [
            (f.name, canonical(getattr(self, f.name)))
            for f in fields(self)
            if f.compare and f.init and f.name != "groups"
        ]
        groups = sorted((g.code, canonical(g.phrases), g.raises_risk) for g in self.groups)
        said = repr([*deciding, ("groups", groups)])
        return hashlib.sha256(said.encode()).hexdigest()[:16]

    def hits(self, text: str, phrases: tuple[str, ...]) -> list[str]:
        """The phrases that occur in ``text`` and count (not negated), in list order."""
        return self.hits_in((text,), phrases)

    def hits_in(self, parts: Iterable[str], phrases: tuple[str, ...]) -> list[str]:
        """``hits`` on the parts joined by a clause end (a case's records, each read once)."""
        parts = tuple(parts)
        counted = self.counted_in(parts)
        index, outsiders = self._order(phrases)
        if outsiders:  # phrases that are not the lexicon's own: looked for one by one
            counted |= {p for p in outsiders if any(self._count(t, p) for t in parts)}
        return sorted((p for p in counted if p in index), key=index.__getitem__)

    def counted_in(self, parts: Iterable[str]) -> frozenset[str]:
        """``counted`` of the parts joined by a clause end: a phrase never spans a clause end,
        so each part is read (and remembered) on its own."""
        return frozenset().union(*map(self.counted, parts))

    def counted(self, text: str) -> frozenset[str]:
        """Every phrase of this lexicon that occurs in ``text`` and counts."""
        return _remembered(self._seen, text, self._counted)

    def _counted(self, text: str) -> frozenset[str]:
        masked = self._mask(text)
        chars = set(masked).intersection(self._by_first)
        found = [p for c in chars for p in self._by_first[c] if p in masked]
        return frozenset(p for p in found if self._found(masked, p))

    def _mask(self, text: str) -> str:
        """``text`` with the words that hold a phrase without meaning it blanked out."""
        for word in self.not_phrases:
            if word in text:
                text = text.replace(word, "＿" * len(word))
        return text

    def _order(self, phrases: tuple[str, ...]) -> tuple[dict[str, int], tuple[str, ...]]:
        """Each phrase's place in ``phrases``, and those that are not the lexicon's own."""
        known = self._orders.get(phrases)
        if known is None:
            index = {p: i for i, p in reversed(list(enumerate(phrases)))}
            known = self._orders[phrases] = (index, tuple(p for p in index if p not in self._every))
        return known

    def _count(self, text: str, phrase: str) -> bool:
        """Does ``phrase`` count somewhere in ``text`` (clause by clause)?"""
        return self._found(self._mask(text), phrase)

    def _found(self, masked: str, phrase: str) -> bool:
        if phrase not in masked:
            return False
        return any(self._counts(c, phrase) for c in CLAUSE_END.split(masked) if phrase in c)

    def _counts(self, clause: str, phrase: str) -> bool:
        """Does some occurrence of ``phrase`` in ``clause`` stand un-negated?"""
        return any(
            not self._negated(clause, start, start + len(phrase))
            and not self._cancelled(clause, phrase, start + len(phrase))
            for start in _starts(clause, phrase)
        )

    def _negated(self, clause: str, start: int, end: int) -> bool:
        reach = max(self.negation_window + 4, self.scope_window + 4)
        # 讨薪未果后喝农药: the 未 of 未果 negates nothing
        before = self._without_false_negations(clause[max(0, start - reach) : start])
        negations = (
            *((n, self.negation_window) for n in self.negations_before),
            *((n, self.close_window) for n in self.close_negations),
        )
        for neg, window in negations:
            at = before.rfind(neg)
            if at < 0:
                continue
            between = before[at + len(neg) :]
            if any(b in between for b in self.negation_breaks):
                continue
            if len(between) <= window:
                return True
        after = clause[end : end + SCOPE_NOUN_WITHIN]
        return (
            self._guarded(before)
            or self._not_found(before, after)
            or self._none_of_list(clause, start, end)
        )

    def _guarded(self, before: str) -> bool:
        """Guarded against (严防该户在两会期间进京) or long past (去年曾多次扬言进京): one of
        ``guard_before`` or ``past_before`` at most ``scope_window`` characters before the
        phrase, with no condition or threat's verb between (严防死守张某仍扬言进京 counts)."""
        past = (*self.negation_breaks, *self.scope_breaks)  # 去年曾扬言进京 is past
        guard = (*past, *self.list_breaks, *self.guard_breaks)
        # the past reaches only what it says was once (去年曾扬言进京; not 因去年的补偿款未到位
        # 扬言进京, where the grievance is last year's and the threat today's)
        for words, breaks, marks in (
            (self.guard_before, guard, None),
            (self.past_before, past, self.past_marks),
        ):
            for word in words:
                at = before.rfind(word)
                if at < 0:
                    continue
                between = before[at + len(word) :]
                if marks is not None and not any(m in between for m in marks):
                    continue
                if len(between) <= self.scope_window and not any(b in between for b in breaks):
                    return True
        return False

    def ultimatums(self, text: str) -> list[str]:
        """The ultimatums ``text`` states, each as its marker and act (就死在, 扬言…去市里):
        a sentence where a demand not met (``ultimatum_if``: 不, 没, 再 ...) stands at most
        ``ultimatum_window`` characters before 就, and an act of escalation as far after it,
        with no negation in between (就不去县政府了 is none), nor a guard or the past before."""
        return list(_remembered(self._said, text, self._ultimatums))

    def _ultimatums(self, text: str) -> tuple[str, ...]:
        out: list[str] = []
        if not self.ultimatum_markers:
            return ()
        for sentence in SENTENCE_END.split(self._mask(text)):
            for word in self.ultimatum_not:  # 就医, 就近, 没过多久: no demand, no 就 of one
                sentence = sentence.replace(word, "＿" * len(word))
            # 不然就去市信访局 once, not again as 就去市信访局: by where the act ends, the
            # marker that stands first
            by_end: dict[int, tuple[int, str]] = {}
            for marker in self.ultimatum_markers:
                for at in _starts(sentence, marker):
                    found = self._ultimatum_at(sentence, at, marker)
                    if found and at < by_end.get(found[0], (len(sentence), ""))[0]:
                        by_end[found[0]] = (at, found[1])
            out += [said for _, said in sorted(by_end.values()) if said not in out]
        return tuple(out)

    def _ultimatum_at(self, sentence: str, at: int, marker: str) -> tuple[int, str] | None:
        """Where the ultimatum whose marker stands at ``at`` ends, and its marker and act."""
        w = self.ultimatum_window
        demand = sentence[max(0, at - w) : at]  # 拿不到, 不给: here 不 is the demand not met
        turn = marker in self.ultimatum_turns
        if turn:
            lead = sentence[:at]  # 否则, 不然, 要不然 open a clause
            for word in self.ultimatum_turn_leads:
                lead = lead.removesuffix(word)
            if lead and not CLAUSE_END.match(lead[-1]) and lead[-1] not in "：:":
                return None
        elif marker not in self.ultimatum_said and not any(c in demand for c in self.ultimatum_if):
            return None
        if any(n in demand for n in (*self.scope_negations, *self.ultimatum_denied)):
            return None  # 未发现其有不给钱就去市政府闹的言行
        if self._guarded(self._without_false_negations(demand)):
            return None
        after = sentence[at + len(marker) : at + len(marker) + w]
        ends = [(i + len(a), a) for a in self.ultimatum_acts if (i := after.find(a)) >= 0]
        if not ends:
            return None
        end, act = min(ends)
        between = after[: end - len(act)]
        for word in self.ultimatum_defiant:
            between = between.replace(word, "")
        if any(n in between for n in self.ultimatum_taken_back) and not act.startswith("不"):
            return None
        rest = after[end:] + sentence[at + len(marker) + w :]
        if self._ordinary_trip(act, rest):
            return None  # 不退烧就去市里看病: an ordinary trip (but 就堵住医院大门 is no trip)
        # the marker and the act only: the words between may name a person or a place
        said = f"{marker}{act}" if not between else f"{marker}…{act}"
        return at + len(marker) + end, said

    def plans(self, text: str) -> list[str]:
        """The protests ``text`` says are being planned, each as its word of planning and act
        (准备…静坐, 计划…到市里…上访): see ``plan_markers``.  A plan does not count where it is
        negated in its clause, guarded against or past like a phrase (没有打算, 严防…), given
        up (原计划, 本来打算; or said over or settled after it: 已打消, 已全部领取), the
        authorities' own (县公安局计划设卡), or a trip for an ordinary purpose (打算去北京看望
        女儿)."""
        return list(_remembered(self._planned, text, self._plans))

    def _plans(self, text: str) -> tuple[str, ...]:
        out: list[str] = []
        for sentence in SENTENCE_END.split(self._mask(text)) if self.plan_markers else ():
            for marker in self.plan_markers:
                for at in _starts(sentence, marker):
                    said = self._plan_at(sentence, at, marker)
                    if said and said not in out:
                        out.append(said)
        return tuple(out)

    def _plan_at(self, sentence: str, at: int, marker: str) -> str | None:
        """The plan whose word of planning stands at ``at``, as that word and its act."""
        end = at + len(marker)
        lead = CLAUSE_END.split(sentence[:at])[-1]  # the clause up to the word
        clause = sentence[at - len(lead) :]
        if any(lead.endswith(w) for w in self.plan_given_up):
            return None
        who = lead
        for word in self.plan_adverbs:  # 县公安局正在计划: who plans stands before 正在
            who = who.removesuffix(word)
        if any(w in who[-AUTHORITY_WITHIN:] for w in self.plan_authorities):
            return None
        if self._negated(clause, len(lead), len(lead) + len(marker)):
            return None
        rest = sentence[end:]
        if any(w in rest for w in self.cancelled_after) or self.counted(rest) & self._calming:
            return None
        after = sentence[end : end + self.plan_window]
        found = self._first_act(after, self._protests)
        if found:
            act_end, act = found
            if not self._ordinary_trip(act, sentence[end + act_end :]):
                return f"{marker}…{act}"
        # a petition by a group (the word of planning itself, 号召 or 串联, is none) or over the
        # county's head; an appeal over the county's head
        others = sentence[:at] + "＿" * len(marker) + rest
        by_group = any(w in others for w in self._group_signs)
        for acts, alone in ((self.plan_petitions, by_group), (self.plan_appeals, False)):
            found = self._first_act(after, acts)
            # a lawful step before a petition (通过12345热线反映), or anywhere in an appeal's
            # reach (到市信访局申请复查)
            lawful = after if acts is self.plan_appeals else after[: found[0] if found else 0]
            if not found or any(w in lawful for w in self.plan_lawful):
                continue
            act_end, act = found
            over = [h for h in self._going if h in after[:act_end] and h not in self.plan_lawful]
            if over:
                first = min(over, key=lambda h: (after.find(h), -len(h), h))  # one, every run
                at_over, act_at = after.find(first), act_end - len(act)
                if act_at < at_over + len(first):  # they overlap: 省信访局
                    return f"{marker}…{after[at_over:act_end]}"
                return f"{marker}…{first}…{act}"
            if alone:
                return f"{marker}…{act}"
        return None

    def displays(self, text: str) -> list[str]:
        """The displays of protest ``text`` tells of, each as its verb and thing (拉起…横幅,
        举着…牌子): see ``display_things``."""
        return list(_remembered(self._displayed, text, self._displays))

    def _displays(self, text: str) -> tuple[str, ...]:
        if not any(t in text for t in self.display_things):
            return ()
        masked = self._mask(text).replace(QUOTE_MARK, "")  # the mark is ours alone
        banner_words = self._banner_words
        quotes = iter(banner_words.findall(masked))  # a banner's words (they may hold 。！？)
        out: list[str] = []
        for bare in SENTENCE_END.split(banner_words.sub(QUOTE_MARK, masked)):
            quoted = [next(quotes) for _ in range(bare.count(QUOTE_MARK))]
            if not any(t in bare for t in self.display_things) or not self._aired(bare, quoted):
                continue
            if any(w in q for q in quoted for w in (*self.display_purposes, *self.guard_before)):
                continue  # 悬挂“喜迎新春”横幅, 竖了块“禁止停车”的牌子: no protest's words
            taken: list[range] = []  # where displays were found: 木牌子 is one
            for thing in self.display_things:
                for at in _starts(bare, thing):
                    said = self._display_at(bare, at, thing)
                    if said and not any(at in r or at + len(thing) - 1 in r for r in taken):
                        taken.append(range(at, at + len(thing)))
                        if said not in out:
                            out.append(said)
        return tuple(out)

    @cached_property
    def _banner_words(self) -> re.Pattern[str]:
        """Quoted words that are a banner's: a display thing follows them (“还我血汗钱”的牌子,
        “欠债还钱”“黑心老板”等字样, “…”红色横幅); other quoted words (他说：“……”) are read as text."""
        things = "|".join(map(re.escape, sorted(self.display_things, key=len, reverse=True)))
        quote = QUOTED.pattern
        return re.compile(rf"(?:{quote})(?=(?:{quote}|\s)*[^“”\"]{{0,3}}?(?:{things}))")

    def _aired(self, bare: str, quoted: list[str]) -> bool:
        """Does a sentence (``bare``, its banners' words apart) air a grievance: one of
        ``display_grievances`` in it or in a banner's words, or of ``display_complaints`` in the
        record's own words (an official slogan says 依法维权, 理性表达诉求), neither negated nor
        guarded against (防范电信诈骗, 根治欠薪)?"""
        for text, words in (
            (bare, (*self.display_grievances, *self.display_complaints)),
            *((q, self.display_grievances) for q in quoted),
        ):
            for word in words:
                if any(not self._negated(text, at, at + len(word)) for at in _starts(text, word)):
                    return True
        return False

    def _display_at(self, sentence: str, at: int, thing: str) -> str | None:
        """The display whose thing stands at ``at`` in ``sentence`` (a banner's words as one
        mark), as its verb and thing, if a verb of putting up, holding or making stands near it
        in its clause (not one that says what it bears: 欠条上写有…字样; after it, one with a
        place: 将横幅挂在), and it is not for an ordinary purpose named from its clause on
        (拉起横幅，到局里表达谢意), the authorities' (社区在小区门口张贴), taken down (拆除违规
        悬挂的横幅, 牌子摘了下来), past (2019年曾举着牌子), given up (原计划), negated
        (不会在项目部门口拉起横幅), guarded against or not found, or cancelled after it in its
        clause (横幅已撤除).  What follows a display put up in other clauses (派出所到场后已劝离,
        经协调情绪缓和) does not undo it; a calming phrase after one made ready or planned does
        (打算制作横幅…，协调兑付了租金)."""
        end = at + len(thing)
        lead = CLAUSE_END.split(sentence[:at])[-1]  # the clause up to the thing
        tail = CLAUSE_END.split(sentence[end:])[0]  # ... and after it
        if any(w in sentence[at - len(lead) :] for w in self.display_purposes):
            return None
        found = self._display_verb(lead, tail)
        if found is None:
            return None
        v_at, verb = found
        said = f"{verb}…{thing}" if v_at < len(lead) else f"{thing}…{verb}"
        clause = lead + thing + tail
        if any(t in clause[v_at : len(lead) + len(thing)] for t in self.threats):
            return None  # a threat's own words (拉横幅): read as the threat
        doers = lead[:v_at]
        if (
            self._not_put_up(doers, tail, lead[v_at:])
            or self._past(doers)
            or any(g in doers for g in self._plans_given_up)
            or any(n in doers and not self._broken_after(doers, n) for n in self.scope_negations)
            or self._negated(clause, v_at, len(lead) + len(thing))
            or any(w in tail for w in self.cancelled_after)
        ):
            return None
        made_ready = any(c in verb for c in MAKING) or any(m in doers for m in self.plan_markers)
        if made_ready and self.counted(sentence[end:]) & self._calming:
            return None  # made ready, then settled: 打算制作横幅…，协调兑付了租金
        return said

    def _display_verb(self, lead: str, tail: str) -> tuple[int, str] | None:
        """Where in ``lead`` the verb nearest its end starts, and which, among its last
        ``display_window`` characters; else a verb with a place just after the thing (横幅挂在:
        at ``len(lead)``); None if neither."""
        before = lead[-self.display_window :]
        verbs = [
            (m.end(), v)
            for v in self.display_verbs
            for m in re.finditer(re.escape(v), before)
            if not (v in WRITING and before[m.end() : m.end() + 1] in BEARS)  # 写有: it bears
        ]
        if verbs:
            v_end, verb = max(verbs)
            return len(lead) - len(before) + v_end - len(verb), verb
        for verb in self.display_verbs:
            if tail.startswith(verb) and tail[len(verb) : len(verb) + 1] in PLACE_AFTER_VERB:
                return len(lead), verb
        return None

    def _not_put_up(self, doers: str, tail: str, between: str = "") -> bool:
        """Is a display not the people's, or not up: the authorities' own, taken down (before
        its verb, of a thing put up: 依法拆除…悬挂的横幅; or right after it: 牌子摘了下来),
        or negated over the place it would stand in (不再到镇政府门口举牌子)?  ``between``: the
        words from its verb to it."""
        return (
            self._by_authorities(doers)
            or ("的" in between and self._taken_down(doers))
            or any(tail.lstrip(TAKEN_DOWN_LEADS).startswith(w) for w in self.display_taken_down)
            or self._negated_before_place(doers)
        )

    def _taken_down(self, text: str) -> bool:
        """Does ``text`` say a display is taken down (依法拆除…, 撕下贴在…; not 房屋被强制拆除,
        没有撤下, 拒不拆除)?"""
        negations = (*self.negations_before, *self.close_negations)
        for word in self.display_taken_down:
            for at in _starts(text, word):
                just_before = text[max(0, at - TAKEN_DOWN_NEGATED_WITHIN) : at]
                if not any(n in just_before for n in negations) and "被" not in just_before:
                    return True
        return False

    def _negated_before_place(self, doers: str) -> bool:
        """Is a negation followed by the place a display would stand in, up to its verb
        (不再到镇政府门口, 没有在项目部门口, 不要在售楼处门口; not 拿不到工资到镇政府门口)?"""
        doers = self._without_false_negations(doers)
        for n in (*self.negations_before, *self.close_negations):
            at = doers.rfind(n)
            if at < 0:
                continue
            between = doers[at + len(n) :].lstrip(MODALS)  # 不要在, 不会再到
            if (
                between[:1] in PLACE_BEFORE
                and len(between) <= PLACE_PHRASE_WITHIN
                and not any(b in between for b in self.negation_breaks)
            ):
                return True
        return False

    def _past(self, doers: str) -> bool:
        """Does ``doers`` say a display was once (2019年曾举着牌子; not the name 曾某)?"""
        return any(
            m in doers and not doers[doers.find(m) + len(m) :].startswith("某")
            for m in self.past_marks
        )

    def _broken_after(self, text: str, negation: str) -> bool:
        """Does a ``scope_breaks`` word (但) stand after the last ``negation`` in ``text``?"""
        return any(b in text[text.rfind(negation) :] for b in self.scope_breaks)

    @cached_property
    def _plans_given_up(self) -> tuple[str, ...]:
        """A plan given up, as words: 原计划, 本来打算."""
        return tuple(f"{g}{m}" for g in self.plan_given_up for m in self.plan_markers)

    def _by_authorities(self, doers: str) -> bool:
        """Does ``doers`` (a clause up to its verb) name the authorities as who acts: one of
        ``plan_authorities`` not named as a place, a target or the other party (派出所在集贸
        市场, 社区在小区门口; not 工人们在镇政府门口, 县政府东门外有五人, 因不满派出所处理结果,
        业主与物业发生纠纷后)?"""
        for word in self.plan_authorities:
            for at in _starts(doers, word):
                lead = doers[max(0, at - PLACE_WITHIN) : at]
                rest = doers[at + len(word) :][:3]
                where = any(c in PLACE_BEFORE for c in lead) or any(w in rest for w in PLACE_AFTER)
                if not where and not any(w in lead for w in NOT_WHO):
                    return True
        return False

    def _first_act(self, after: str, acts: Iterable[str]) -> tuple[int, str] | None:
        """Where the first of ``acts`` to end in ``after`` ends, and which, if any stands
        there not negated nor a lawful channel."""
        found = [
            (i + len(a), a)
            for a in acts
            if (i := after.find(a)) >= 0
            and a not in self.plan_lawful
            and not self._negated(after, i, i + len(a))
        ]
        return min(found) if found else None

    @cached_property
    def _banners(self) -> frozenset[str]:
        """The lexicon's phrases that name a thing displayed (拉横幅; the organising group's 横幅)."""
        return frozenset(p for p in self._every if any(t in p for t in self.display_things))

    @cached_property
    def _protests(self) -> tuple[str, ...]:
        """The acts that make a plan one of protest by themselves."""
        return (*self.threats, *self.plan_acts)

    @cached_property
    def _group_signs(self) -> tuple[str, ...]:
        """The words that say a group acts: ``plan_together``, the group and organising
        groups."""
        return (
            *self.plan_together,
            *self.group("group").phrases,
            *self.group("organising").phrases,
        )

    def _settled(self, sentence: str) -> bool:
        """Does ``sentence`` name a settled or routine matter (六十余户已全部领取补偿款, 一百二十余名
        村民参加宣讲会): a calming phrase or a routine word?"""
        return bool(self.counted(sentence) & self._calming) or any(
            w in sentence for w in self.routine_words
        )

    def _loud_anywhere(self, text: str) -> bool:
        """Does ``text`` say risk, an act of the people or a grievance anywhere (六十余名工人
        领取了部分工资。剩余工资拖欠至今)?  Then none of its head counts is quiet."""
        return bool(
            self.counted(text) - self._quiet_may
            or self.hits(text, self.group_acts)
            or self.hits(text, self.grievance_words)
        )

    def loud_part(self, text: str) -> str:
        """The head counts the group rules go by: ``text``, or, where it says no risk, act or
        grievance anywhere, ``text`` without its sentences about a settled or routine matter."""
        return _remembered(self._loud, text, self._loud_part)

    def _loud_part(self, text: str) -> str:
        if self._loud_anywhere(text):
            return text
        return "。".join(s for s in SENTENCE_END.split(text) if not self._settled(s))

    def _not_found(self, before: str, after: str) -> bool:
        """A screening's "not found" in ``before`` the phrase, the kind of sign it did not
        find named in ``after`` it, and no turn between the two."""
        named = [after.find(n) for n in self.scope_nouns if n in after]
        if not named:
            return False
        breaks = (*self.negation_breaks, *self.scope_breaks)
        for neg in self.scope_negations:
            at = before.rfind(neg)
            between = before[at + len(neg) :]
            if at >= 0 and len(between) <= self.scope_window:
                span = between + after[: min(named)]
                if not any(b in span for b in breaks):
                    return True
        return False

    def _none_of_list(self, clause: str, start: int, end: int) -> bool:
        """The phrase at ``clause[start:end]`` is an item of a list of signs that a
        ``list_negations`` word heads and 等 closes with the kind of thing listed
        (无集体上访、越级上访、进京上访等情况, 严防发生进京上访或聚集堵路等事件, and the kind
        itself: 跳楼、喝药等极端行为): every item names a sign within ``LIST_LEAD`` characters
        of its start, and no turn or threat's verb stands in the list."""
        before = self._without_false_negations(clause[:start])
        after = clause[end:]
        close = self._list_close(after)
        kind = close is None and any(before.endswith(e) for e in self.list_ends)
        if kind and self._names_a_kind(clause[start:]):
            close, tail = 0, []  # the phrase is the kind named after the list
        elif close is None:
            return False
        else:
            own, *tail = LIST_SEPARATORS.split(after[:close])
            if len(own) > LIST_OWN_REST or not all(map(self._is_sign_item, tail)):
                return False
        breaks = (*self.negation_breaks, *self.scope_breaks, *self.list_breaks)
        for neg in self.list_negations:
            at = before.rfind(neg)
            if at < 0:
                continue
            between = before[at + len(neg) :]
            if kind:  # every item is before the closing 等: the phrase has no lead
                for e in self.list_ends:
                    between = between.removesuffix(e)
                *items, lead = (*LIST_SEPARATORS.split(between), "")
            else:
                *items, lead = LIST_SEPARATORS.split(between)
            if len(lead) > LIST_LEAD or not all(map(self._is_sign_item, items)):
                continue
            if not any(b in between or b in after[:close] for b in breaks):
                return True
        return False

    def _without_false_negations(self, text: str) -> str:
        """``text`` with the words that hold a negation and negate nothing (未果) blanked."""
        for w in self.not_negations:
            if w in text:
                text = text.replace(w, "＿" * len(w))
        return text

    def _list_close(self, text: str) -> int | None:
        """Where a list's closing 等 (``list_ends``) stands in ``text``, when the kind of thing
        listed follows it (等情况, 等群体性事件); None if it stands nowhere."""
        ends = [
            at
            for e in self.list_ends
            if (at := text.find(e)) >= 0 and self._names_a_kind(text[at + len(e) :])
        ]
        return min(ends) if ends else None

    def _names_a_kind(self, text: str) -> bool:
        return any(n in text[:LIST_NOUN_WITHIN] for n in self.scope_nouns)

    def _is_sign_item(self, item: str) -> bool:
        """A list item that names a sign (a phrase that raises risk) near its start."""
        return len(item) <= LIST_ITEM_WITHIN and any(
            item.startswith(p, i)
            for i, c in enumerate(item[: LIST_LEAD + 1])
            for p in self._by_first.get(c, ())
            if p not in self._calming
        )

    def _cancelled(self, clause: str, phrase: str, end: int) -> bool:
        after = clause[end:]
        if any(word in after for word in self.cancelled_after):
            return True
        if phrase in self._calming and any(word in after for word in self.failed_after):
            return True
        if phrase in self._banners:
            doers = clause[: end - len(phrase)]
            if any(w in clause for w in self.display_purposes) or self._not_put_up(doers, after):
                return True  # 拉横幅宣传医保政策, 村委会在村部门口拉横幅, 没有在项目部门口拉横幅
        return phrase in self._going and self._ordinary_purpose(after)

    def _ordinary_trip(self, act: str, after: str) -> bool:
        """Is ``act`` a trip (a hierarchy phrase, or one with a ``trip_verbs`` word) for an
        ordinary purpose that opens ``after`` (就去市里看病, 打算去北京看望女儿)?"""
        trip = act in self._going or any(v in act for v in self.trip_verbs)
        return trip and self._ordinary_purpose(after)

    def _ordinary_purpose(self, after: str) -> bool:
        """Does an ordinary purpose of a trip open ``after``, a character at most before it
        (去北京看病, 到北京去打工; not 扬言要去北京讨要打工工资)?"""
        return any(w in after[: len(w) + 1] for w in self.purposes_after)


def _starts(text: str, word: str) -> Iterator[int]:
    """Every place ``word`` starts in ``text``, overlapping ones too, in order."""
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + 1)


def _remembered(cache: dict[str, T], text: str, read: Callable[[str], T]) -> T:
    """``read(text)``, remembered in ``cache`` (emptied all at once at ``SEEN_KEPT`` texts)."""
    known = cache.get(text)
    if known is None:
        if len(cache) >= SEEN_KEPT:
            cache.clear()
        known = cache[text] = read(text)
    return known
