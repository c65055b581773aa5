"""The risk policy file: read, checked with the line of any error, and its lexicon's negations."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.risk.policy import (
    DEFAULT_POLICY,
    PolicyError,
    RiskPolicy,
    default_policy,
    load_policy,
    parse_policy,
)

TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")


def test_the_packaged_policy_is_valid_and_versioned() -> None:
    policy = default_policy()
    assert (
        policy.version and policy.levels["red"] > policy.levels["orange"] > policy.levels["yellow"]
    )
    assert policy.statutory_limits["accept"] == 15 and policy.statutory_limits["handle"] == 60
    assert {d.code for d in policy.deadlines} == {"accept_decision", "handling"}


def _broken(old: str, new: str) -> str:
    assert old in TEXT
    return TEXT.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("  red: 0.40", "  red: 1.40", "expected a number from 0 to 1"),
        ("  red: 0.40", "  red: 0.10", "must fall from red to orange to yellow"),
        ("  accept: 15 ", "  accept: fifteen ", "expected a whole number"),
        ("      limit: handle\n", "      limit: handel\n", "not a statutory limit"),
        (
            "  large_group: {raises: orange,",
            "  large_group: {raises: purple,",
            "expected red, orange",
        ),
        ("  negation_window: 3", "  negation_windw: 3", "unknown key"),
        ('version: "2026-11-29.7"', f'version: "{"2026-11-29." * 4}"', "1 to 32 characters"),
        (
            "    calming:\n",
            "    gossip:\n      zh: 闲话\n      phrases: [闲话]\n    calming:\n",
            "unknown group",
        ),
    ],
)
def test_an_error_names_its_line(old: str, new: str, says: str) -> None:
    text = _broken(old, new)
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "mine.yaml")
    line = _line_of(text, new.strip().split("\n")[0])
    message = str(err.value)
    assert says in message and message.startswith("mine.yaml:")
    assert abs(int(message.split(":")[1]) - line) <= 1, message


@pytest.mark.parametrize(
    ("key", "partner"),
    [
        ("past_before", "past_marks"),
        ("ultimatum_markers", "ultimatum_taken_back"),
        ("plan_markers", "plan_given_up"),
        ("plan_markers", "plan_window"),
        ("display_things", "display_window"),
        ("display_things", "display_grievances"),
    ],
)
def test_a_lexicon_key_without_its_partner_is_refused(key: str, partner: str) -> None:
    # without its partner each would count more than it says (the past every phrase after it,
    # an ultimatum taken back: 就不去县政府了), so a policy file that drops it is an error
    line = next(x for x in TEXT.splitlines(keepends=True) if x.startswith(f"  {partner}:"))
    with pytest.raises(PolicyError) as err:
        parse_policy(_broken(line, ""), "mine.yaml")
    assert f"needs {partner} beside it" in str(err.value)
    assert str(err.value).startswith(f"mine.yaml:{_line_of(TEXT, f'  {key}:')}:")


def test_the_words_an_ultimatum_is_read_by_are_the_policy_files_not_the_codes() -> None:
    text = "工资再不给，就不管了直接去市政府。"
    assert default_policy().lexicon.ultimatums(text) == ["就…市政府"]
    # take 不管 from the words of defiance: 不 now takes the act back
    quiet = parse_policy(_broken("别怪, 不客气, 不怕, 不管]", "别怪, 不客气, 不怕]"))
    assert quiet.lexicon.ultimatums(text) == []
    # and 去年曾 no longer marks the past once 曾 is not one of its marks
    past = "去年曾扬言要去市政府。"
    assert default_policy().lexicon.ultimatums(past) == []
    assert parse_policy(_broken("past_marks: [曾]", "past_marks: [往]")).lexicon.ultimatums(past)


def test_a_file_that_is_not_yaml_or_missing_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("version: [1\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="p.yaml:2: not valid YAML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "none.yaml")


def test_changing_the_file_changes_behaviour_without_code(tmp_path: Path) -> None:
    from domain.risk.assess import level_for
    from domain.risk.rules import RuleHit

    strict = parse_policy(_broken("  red: 0.40", "  red: 0.90"))
    hit = RuleHit("explicit_threat", None, "明确扬言", "threat")
    assert level_for(0.5, default_policy().levels, [hit]) == "red"
    assert level_for(0.5, strict.levels, [hit]) == "orange"


CALM = [
    "仍在调解中，暂无赴京苗头。",
    "当事人情绪稳定，没有过激言行，未发现聚集。",
    "经核实，当事人否认要去北京上访。",
    "当事人表示不再去北京，等待调解结果。",  # 不再 still negates what it is said of
    "当事人说不再指望去北京上访解决问题。",
    "已不再相信集体上访能解决问题。",
    "前期堵路情况已平息。",
    "双方表示不会再到省里上访。",
    "他没去北京，村民也没堵路。",  # the everyday 没, 不, 别 right before a phrase
    "工人表示不去北京了，劝其别再堵路。",
    "做好稳控工作，别让他们到省里上访。",  # the officer's measure
    "老人去北京看病，孙子到北京上大学。",  # going somewhere for an ordinary purpose
    "楼上吊顶漏水，物业停尸费争议。",  # words that only hold a phrase
    # a screening's "not found", over a list and up to what was not found
    "经排查暂未发现有人员聚集、堵路等苗头。",
    "未发现有喝药、跳楼等极端倾向。",
    "未发现有拉横幅、堵门等行为。",
    "未发现当事人有进京上访苗头。",
    "暂未发现该群体有赴京上访的迹象。",
    "未发现有组织、串联、聚集等迹象。",
    "未发现当事人有进京上访苗头但仍需跟踪稳控。",  # a turn after the sign: still not found
    "经排查未发现该户村民有堵路等情况但情绪仍较大。",
    "未发现有扬言跳楼、喝农药等过激言行。",  # what was not found may be a threat's words
    "暂未发现当事人声称要去北京的迹象。",
    "女儿到北京培训，老伴去北京探望孙子。",
    "当事人担心遭到打击报复，平时在家喝中药调养。",
    # a "none of these" over a list it closes with 等 and names
    "经排查，无集体上访、越级上访、进京上访等情况。",
    "严防发生进京上访、堵路等事件。",
    "辖区内没有出现聚集、堵路、拉横幅等过激行为。",
    "并无到省里上访、进京上访之类的问题。",
    "防止当事人赴京上访、到市里上访等情况发生。",
    "严防发生进京上访或聚集堵路等群体性事件。",
    "本村暂无群体上访、越级上访等不稳定因素。",
    "当事人已息诉罢访，无进京上访、拉横幅、堵路等行为。",
    "确保不发生喝农药、跳楼之类的极端事件。",
    # what the officer guards against or explains, and what is long past
    "镇村两级干部盯守，严防该户在两会期间进京。",
    "告知其不得擅自拉横幅堵路，有问题依法反映。",
    "已向其讲明进京非访的法律后果，其表示理解。",
    "该户去年曾多次扬言进京上访，现已签订息访协议。",
    "几年前曾到北京上访，近年来在家种地。",
    # care for an illness: a trip to a hospital, medicine taken for a pain
    "其母去北京医院看病，家中由其妻照料。",
    "其父病故，家属已在殡仪馆办完后事，遗体已火化。",
    "当事人关节炎犯了就喝药止痛，对地界划定无异议。",
]
RISKY = [
    ("家属扬言要抬着遗体去镇政府", "抬着遗体"),
    ("扬言要去北京上访", "去北京"),
    ("没拿到钱就要去北京", "去北京"),  # a negation far before the phrase does not count
    ("工人在镇政府门口堵路", "堵路"),
    ("暂无结果，当事人说要跳楼", "跳楼"),  # the negation is in another clause
    ("讨薪未果后喝农药", "喝农药"),  # 未果 holds 未 but negates nothing (not_negations)
    ("走投无路就跳河", "跳河"),
    ("工钱未到账就跳楼", "跳楼"),
    ("要是再没个说法就去北京", "去北京"),  # a negation does not reach past a condition
    ("工资不发就堵路", "堵路"),
    ("对处理结果不满去北京上访", "去北京"),  # 不满 negates nothing
    ("一群人把镇政府大门堵了", "大门堵了"),
    ("村民不同意征地，围堵施工队", "围堵"),  # 不同意 negates only what follows it at once
    ("当事人不愿意搬迁堵门", "堵门"),
    ("联合别人进京上访", "进京"),  # 别 of 别人 negates nothing
    ("扬言要去北京讨要打工工资", "去北京"),  # a purpose far after the phrase is no trip
    ("说不再等了要去北京上访", "去北京"),  # patience run out negates nothing
    ("忍无可忍要堵路", "堵路"),
    ("等不及去北京上访", "去北京"),
    ("当事人称不排除去北京上访", "去北京"),  # 不排除 affirms
    ("不排除有进京上访的可能", "进京"),
    ("不给钱就死在你家门口", "死在你家"),
    ("没有拿到工资当事人有进京上访的想法", "进京"),  # 没有 is no screening's "not found"
    ("未发现异常，工人扬言堵路", "堵路"),  # the "not found" is in another clause
    ("村民不同意征地、围堵施工队", "围堵"),  # the everyday 不 reaches over no list
    # a grievance, then a threat: no negation reaches past a 、 to the threat
    ("张某未领到补偿款、扬言喝农药", "喝农药"),
    ("工程款未结、扬言去北京上访", "去北京"),
    ("半年没有拿到工资、扬言跳楼", "跳楼"),
    ("现场无人受伤、扬言堵路", "堵路"),
    # a "not found", then what was found
    ("未发现异常但其子有轻生念头", "轻生"),
    ("排查未发现矛盾激化但张某扬言喝农药的情况", "喝农药"),
    ("未发现有人员聚集但有进京上访苗头", "进京"),
    ("扬言要去北京参加集访", "去北京"),  # no ordinary trip
    # 未见 and 暂无 also mean "no answer yet"; 等 is no sign; 异常 ends what was not found
    ("多次反映未见回复后王某到北京国家信访局等部门上访", "到北京"),
    ("工资至今未见着落其本人有进京上访的打算", "进京"),
    ("暂无答复工人们准备堵门讨薪等", "堵门"),
    ("未发现异常张某有跳楼的想法", "跳楼"),
    # a list negation reaches over a list only when 等 closes it, and not past a threat's verb
    ("工资无着落扬言去北京上访", "去北京"),
    ("无人员伤亡、当事人扬言进京上访等情况需关注", "进京"),
    ("张某无固定收入、准备喝农药等", "喝农药"),
    ("无集体上访，但张某扬言进京上访等情况", "进京"),
    # a grievance heads no list: what follows it is a threat, whatever closes the clause
    ("没有得到答复后组织村民堵路等行为", "堵路"),
    ("张某因工资没有结清曾有进京上访等行为", "进京"),
    ("王某因宅基地纠纷无人过问曾到北京上访等情况", "到北京"),
    ("补偿款没有到位近日有聚集堵路等苗头", "堵路"),
    ("当事人称若问题没有解决会带人堵路、拉横幅等过激行为", "堵路"),
    ("调解毫无进展其多次进京上访等行为已造成不良影响", "进京"),
    # threats against her, as against him
    ("扬言要是敢离婚就杀了她全家", "杀了她"),
    ("放出话要让对方血债血偿", "血债血偿"),
    # a guard or the past does not reach past a fact, a condition or a threat's verb
    ("为防止被强拆已在屋里备好汽油和煤气罐", "汽油"),
    ("孩子打完预防针后死亡家属抬棺堵在卫生院门口", "抬棺"),
    ("严防死守张某仍扬言进京", "进京"),
    ("去年的工钱今年再不给就去北京上访", "去北京"),
    ("张某因去年的土地补偿款未到位扬言进京上访", "进京"),  # last year's is the grievance
    ("他为防止对方来拆房在屋里备了一桶汽油", "汽油"),
    ("家人说不准他哪天真会喝农药", "喝农药"),
]


def test_talk_of_going_to_this_county_s_city_or_province_is_going_over_its_head() -> None:
    lx = default_policy().lexicon
    going = lx.group("hierarchy").phrases
    assert lx.hits("扬言去郑州上访", going) == ["去郑州"]
    assert lx.hits("要到平顶山市里上访", going) == ["市里上访", "到平顶山"]
    assert lx.hits("去郑州看病", going) == []
    assert lx.hits("扬言要到市政府找工作人员讨说法", going) == ["到市政府"]  # no job hunt


def test_a_calming_step_that_failed_or_is_refused_calms_nothing() -> None:
    lx = default_policy().lexicon
    calming = lx.group("calming").phrases
    for text in ("已调解两次均无果", "当事人拒不息诉", "拒绝签订协议", "双方一直没缓和"):
        assert lx.hits(text, calming) == [], text
    assert lx.hits("工资已全部兑付，当事人息诉罢访", calming) == ["息诉", "全部兑付"]


@pytest.mark.parametrize("text", CALM)
def test_negated_and_settled_phrases_fire_nothing(text: str) -> None:
    lx = default_policy().lexicon
    every = lx.threats + tuple(p for g in lx.groups if g.raises_risk for p in g.phrases)
    assert lx.hits(text, every) == []


@pytest.mark.parametrize(("text", "word"), RISKY)
def test_plain_threats_still_fire(text: str, word: str) -> None:
    lx = default_policy().lexicon
    assert word in lx.hits(text, lx.threats)


def _every_occurrence_read(lx, text: str, phrases: tuple[str, ...]) -> list[str]:
    """What a match is, read the slow way: each phrase looked for in each clause."""
    from domain.risk.lexicon import CLAUSE_END

    clauses = CLAUSE_END.split(lx._mask(text))  # words that only hold a phrase blanked out
    return [p for p in phrases if any(p in c and lx._counts(c, p) for c in clauses)]


def test_a_case_read_record_by_record_finds_what_its_whole_text_holds() -> None:
    """The lexicon finds phrases by their first character and reads a case's records one by
    one; on the synthetic county's records that gives exactly the phrases that reading each
    clause of the joined text for every phrase gives."""
    from models.dataset import group_by_case
    from tests.test_model_support import county_events

    lx = default_policy().lexicon
    every = tuple(dict.fromkeys(lx.threats + tuple(p for g in lx.groups for p in g.phrases)))
    cases = group_by_case(county_events())
    checked = found = 0
    for events in list(cases.values())[:400]:
        records = [e.event for e in events if type(e.event).__name__ == "RecordAppended"]
        parts = tuple(
            p
            for r in records
            for p in (r.record.get("description"), r.record.get("measures_taken"))
            if p
        )
        whole = "。".join(parts)
        expected = _every_occurrence_read(lx, whole, every)
        assert lx.hits_in(parts, every) == expected
        assert lx.hits(whole, every) == expected
        checked += 1
        found += bool(expected)
    assert checked == 400 and found > 40  # risky and calm records both


def test_the_lexicon_fingerprint_changes_with_what_counts_and_nothing_else() -> None:
    """A model is scored only under a lexicon of the same fingerprint: a new word or a wider
    negation changes it; the order of a list, a repeated word, a group's name or the budget
    do not."""
    same = default_policy().lexicon.fingerprint

    def fingerprint(old: str, new: str) -> str:
        return parse_policy(_broken(old, new)).lexicon.fingerprint

    reordered = "close_negations: [不, 没, 别, 拒绝, 拒不, 不同意, 不愿意, 没]"
    assert (
        fingerprint("close_negations: [没, 不, 别, 拒绝, 拒不, 不同意, 不愿意]", reordered) == same
    )
    assert fingerprint("zh: 情绪激动", "zh: 情绪很激动") == same
    assert fingerprint("red_per_week: 5", "red_per_week: 9") == same
    assert fingerprint("close_window: 1", "close_window: 2") != same
    assert fingerprint("close_negations: [没,", "close_negations: [没有过,") != same


QUIET_COUNTS = [  # a head count given for a settled or routine matter: no group for the rules
    "镇里召开征地补偿政策宣讲会，一百二十余名村民参加，现场秩序良好。",
    "六十余户村民在村委会门口排队领取补偿款，已全部发放。",
    "全村三百二十户已全部签订拆迁安置协议，补偿款已足额发放到户，群众满意。",
    "一百多名工人已签字领取工资，无人上访。",
]
LOUD_COUNTS = [  # the people act, have a grievance, or risk is said beside the count
    ("六十多名工人坐在项目部院里不走，要求当天结清工资。", 60),
    ("五十多名工人一早来到镇里，情绪激动。", 50),
    ("经排查，五十余名工人工资被拖欠，当事人情绪稳定。", 50),
    ("已为七十名工人登记，其中多人扬言堵路。", 70),
    ("七十多户村民联名签字反对垃圾站选址。", 70),  # 联名 is the group's act
    ("六十余名工人领取了部分工资。剩余工资拖欠至今。", 60),  # the grievance in another sentence
]


@pytest.mark.parametrize("text", QUIET_COUNTS)
def test_a_head_count_given_for_a_routine_matter_sets_no_group_rule(text: str) -> None:
    from domain.risk.headcount import people_in_words

    lx = default_policy().lexicon
    assert people_in_words(text) >= 60 and people_in_words(lx.loud_part(text)) == 0


@pytest.mark.parametrize(("text", "people"), LOUD_COUNTS)
def test_a_head_count_of_people_who_act_or_have_a_grievance_sets_the_group_rules(
    text: str, people: int
) -> None:
    from domain.risk.headcount import people_in_words

    assert people_in_words(default_policy().lexicon.loud_part(text)) == people


ULTIMATUMS = [  # a demand not met, then an act of escalation: a threat in any words
    ("称拿不到工钱就从上面跳下去。", "跳下"),
    ("工人说年前再不给钱，就到市里找领导去。", "到市里"),
    ("这回必须要个说法，不然就去市信访局。", "市信访"),
    ("元旦前不结清工资，就一起去县政府。", "一起去"),  # a group going
    ("说今天不给钱就死在这儿。", "死在"),
    ("说不解决就不走了。", "不走"),
    ("工钱不给就别怪我们去堵县政府大门了。", "政府大门"),
    ("说好的钱再不给，要不然就去市信访局。", "市信访"),
    ("扬言要去市里找书记。", "去市里"),  # the person's own threat needs no demand
    ("如不撤销征地决定，将组织全村人去市政府。", "市政府"),
    ("要是再敷衍，就去郑州省政府门口。", "去郑州"),
    ("首付不退就去市政府讨说法。", "市政府"),  # 不退 is a demand, unlike 烧不退
    ("身体不好也不怕，不给钱就去省政府门口。", "省政府"),  # an ailment beside a demand
    ("扬言再不赔偿就堵住卫生院大门。", "堵住"),  # a hospital after a blockade is no purpose
    ("称补偿款不到位就把老人抬到镇政府大院。", "政府大院"),
    ("说不给钱就待在塔吊上不下来。", "不下来"),
    ("土地款再不到位，就去县委大院下跪。", "下跪"),
]
NO_ULTIMATUMS = [
    "如果再不修好排水沟，他就找市长热线反映。",  # an ordinary channel
    "老板再不结账，他就去郑州找老板本人要。",  # a trip, not a petition
    "不给钱就不干了。",
    "工资不到位就去劳动监察大队投诉。",
    "说不给钱也就不去县政府了。",  # negated after 就
    "严防其因补偿不到位就去市政府上访。",  # guarded
    "他说钱到了就回家过年。",  # no demand unmet
    "因没钱就医到县政府申请救助。",  # 就医 holds 就
    "没过多久就有记者来采访。",  # a time, not a demand
    "如对答复不满意，就可向县信访局申请复查。",  # the county's own channel
    "经排查，未发现其有不给钱就去市政府闹的言行。",
    "村干部建议他要不然去市政府咨询。",  # 要不然 in the middle of a clause
    "孩子发烧不退就去市里看病。",  # an ordinary trip
    "老伴腿疼不见好，就去市里医院拍个片子。",  # an ailment is no demand, a hospital no petition
    "他说身体不适就去省里找专家。",
    "会议决定，将去市政府汇报工作。",  # 将 with no demand
    "该户去年曾扬言要去市里，现已息访。",  # the past
]


@pytest.mark.parametrize(("text", "act"), ULTIMATUMS)
def test_an_ultimatum_in_any_words_is_an_explicit_threat(text: str, act: str) -> None:
    said = default_policy().lexicon.ultimatums(text)
    assert len(said) == 1 and act in said[0]


@pytest.mark.parametrize("text", NO_ULTIMATUMS)
def test_a_demand_with_an_ordinary_or_negated_consequence_is_no_ultimatum(text: str) -> None:
    assert default_policy().lexicon.ultimatums(text) == []


def test_an_ultimatum_is_shown_by_its_marker_and_act_not_by_the_names_between() -> None:
    """The reason a duty officer and an explanation read must not carry a party's name."""
    said = default_policy().lexicon.ultimatums("王某扬言要把李建国家的房子点了。")
    assert said == ["扬言…房子点了"]


PLANS = [  # (text, the act the plan is shown by)
    ("工人们商量好下周一一起到县政府门口讨说法。", "讨说法"),  # a petition by a group
    ("王某在群里号召被征地户明天把乡道堵死。", "堵死"),  # a protest by itself
    ("几户拆迁户正在酝酿到市里集体上访。", "上访"),
    ("业主们计划周六到开发商售楼部门口拉横幅。", "拉横幅"),
    ("李某打算带家人去省里反映。", "反映"),  # over the county's head
    ("据反映，十几名工友约好年前到项目部讨薪。", "讨薪"),
    ("几名业主倡议大家周末到住建局门口拉白布。", "白布"),
    ("村民打算联合起来去市信访局。", "信访局"),  # a petition office over the county's head
    ("原告准备一起到县政府门口讨说法。", "讨说法"),  # 原告 is no 原计划
    ("工资未结，准备一起到县政府门口讨薪。", "讨薪"),  # 未 negates in its own clause only
    ("村里十几户村民准备明天一起去县政府讨说法。", "讨说法"),  # 村里 does not plan
]
NO_PLANS = [
    "当事人原计划一起去县政府上访，经调解后改为申请仲裁。",  # given up
    "当事人曾商量一起去省里反映，现情绪稳定。",
    "几户村民打算一起去市里反映，经解释后已打消念头。",  # said over after it
    "县公安局计划在路口设卡，检查超载车辆。",  # the authorities' own
    "他打算下月一起去北京看望女儿。",  # an ordinary trip
    "未发现有人准备到县政府门口聚集。",  # a screening's "not found"
    "当事人打算通过12345热线反映物业问题。",  # a lawful channel
    "张某准备去县政府办理低保手续。",  # no act of protest
    "村民们计划一起到镇上赶集。",
    "严防其组织人员到市里上访。",  # guarded against
    "李某打算去县信访局反映宅基地问题。",  # one person's petition at the county's own office
    "当事人打算向市信访局申请复查。",  # a lawful step
    "县公安局正在计划在路口设卡，检查超载车辆。",
    "村民准备向村委会反映灌溉用水问题。",  # an appeal within the county
    "工人们准备带着材料去县人社局反映，人社局已受理。",
    "村民们计划明天一起到镇政府门口排队领取补偿款。",  # a place is no act
    "召集人王某带领村民代表到县住建局反映。",  # 召集人 plans nothing
    "王某召集居民代表到县住建局座谈。",  # the word of planning is no group of its own
    "当事人因计划生育问题多次到市里上访，现情绪稳定。",
    "工人们商量着一起去讨薪，经协调已全部结清。",  # settled after it
]


@pytest.mark.parametrize(("text", "act"), PLANS)
def test_a_protest_being_planned_is_read_with_its_act(text: str, act: str) -> None:
    said = default_policy().lexicon.plans(text)
    assert len(said) >= 1 and said[0].endswith(act), said


@pytest.mark.parametrize("text", NO_PLANS)
def test_a_plan_given_up_guarded_lawful_or_ordinary_is_no_protest(text: str) -> None:
    assert default_policy().lexicon.plans(text) == []


DISPLAYS = [  # (text, the thing displayed)
    ("三十多名农民工在项目部门口拉起横幅讨要工资。", "横幅"),
    ("业主们举着写有“还我房子”的牌子站在售楼处门前。", "牌子"),  # the grievance in its words
    ("李某在自家院墙上刷写标语，控诉村干部侵占其宅基地。", "标语"),
    ("被拆迁户将写有“强拆违法”的白布挂在镇政府对面的树上。", "白布"),
    ("供货商已印制一批横幅，扬言开学当天到学校门口讨要货款。", "横幅"),  # made ready
    ("几名家长手持纸牌在县教育局门口聚集，称培训机构不退学费。", "纸牌"),
    ("陈某在县政府门口打出“血汗钱”条幅。", "条幅"),  # 政府 here is where, not who
    ("十几名工人在项目部门口举着写有“还我血汗钱！”的牌子。", "牌子"),  # ！ in its words
    ("二十名工人拉起“还我血汗钱”红色横幅。", "横幅"),  # words between the quote and the thing
    ("村民因不满村委会处理结果在村部门口拉起横幅。", "横幅"),  # the authorities as a target
    ("王某因房屋被强制拆除，在县政府门口举着“还我家园”的牌子。", "牌子"),  # 拆除: the grievance
    ("二十多名村民拉起横幅阻止施工方拆除祠堂。", "横幅"),
    ("经多次劝说，王某仍拒不拆除其在镇政府门口悬挂的“还我土地”横幅。", "横幅"),
    ("工人们因拿不到工资在镇政府门口举着牌子讨薪。", "牌子"),  # 不到 negates no place
    ("曾某在项目部门口拉起横幅讨要工资。", "横幅"),  # 曾 as a name is no past
    ("临近节日，三十多名农民工在项目部门口拉起横幅讨要工资。", "横幅"),  # a purpose before it
    # calmed or dispersed later in the sentence: it still took place
    ("三十多名农民工在项目部门口拉起横幅讨要工资，经协调双方情绪缓和。", "横幅"),
    ("二十多名村民拉起“还我土地”横幅阻挡车辆进出，派出所到场后已劝离。", "横幅"),
]
NO_DISPLAYS = [  # each airs a grievance, so that only the named reason keeps it calm
    "镇司法所在集市上悬挂横幅，开展欠薪维权普法宣传。",  # an ordinary purpose
    "欠薪全部结清后，工人们拉起横幅感谢县人社局。",
    "小区门口悬挂“喜迎新春”横幅，无人反映欠薪问题。",  # the purpose in its words
    "城管依法拆除了讨债人悬挂的“欠债还钱”横幅。",  # taken down before it
    "经调解，工人们将写有“还我血汗钱”的横幅扯下。",  # taken down after it
    "调解后，王某将挂在门口的“还我公道”牌子摘了下来。",
    "包工头拖欠工资，经排查，未发现有人制作横幅或标语。",  # not found
    "原计划到县政府门口挂横幅讨薪的工人，已于昨日领到全部工资。",  # given up
    "村民打算制作横幅讨要拖欠的租金，经协调租金已兑付。",  # made ready, then settled
    "社区在小区门口张贴“拒绝拖欠农民工工资”标语。",  # 社区在: who, not where
    "项目部门口挂着“根治欠薪”的标语。",  # a grievance word guarded against
    "村口悬挂着“依法维权，理性表达诉求”的横幅。",  # complaints count outside quotes only
    "王某称老板拖欠工资，欠条上写有“今欠王某工资8000元”字样。",  # 写有: what it bears
    "工人们表示不会在项目部门口拉起横幅讨薪，会等待仲裁结果。",  # negated over the place
    "我们劝导业主不要在售楼处门口举牌子维权。",
    "该户系信访老户，2019年曾举着写有“冤”字的牌子到县政府上访。",  # past
    "张某家中老人去世，门口挂白布办丧事，邻居认为灵棚占道要求赔偿。",  # a funeral
    "王某在小区车位上竖了块“禁止停车”的牌子，邻居李某不认可。",  # a notice's words
    "村民因宅基地纠纷拿着土地证到镇里咨询。",  # no thing displayed
    "镇里在村部门口挂牌子，公示土地补偿标准。",  # no grievance aired
]


@pytest.mark.parametrize(("text", "thing"), DISPLAYS)
def test_a_display_of_protest_is_read_with_its_thing(text: str, thing: str) -> None:
    said = default_policy().lexicon.displays(text)
    assert len(said) >= 1 and thing in said[0], said


@pytest.mark.parametrize("text", NO_DISPLAYS)
def test_a_banner_for_an_ordinary_purpose_taken_down_or_the_authorities_is_no_protest(
    text: str,
) -> None:
    lexicon = default_policy().lexicon
    assert lexicon.displays(text) == []
    assert lexicon.hits(text, lexicon.threats) == []


def test_a_record_holding_the_reader_s_own_quote_mark_is_read_without_error() -> None:
    lexicon = default_policy().lexicon
    odd = "工人\ue000在项目部门口举着“还我血汗钱”的牌子\ue000。"
    assert lexicon.displays(odd) == ["举…牌子"]


def test_a_banner_phrase_put_up_for_publicity_or_thanks_is_no_threat() -> None:
    """拉横幅 is a threat, but not where its clause names an ordinary purpose, the authorities
    put it up, or it is negated over the place it would stand in."""
    lexicon = default_policy().lexicon
    for threat in (
        "工人们在项目部门口拉横幅。",
        "工人们因拿不到工资到镇政府门口拉横幅。",  # 不到 negates no place
        "村民拉横幅反对拆除祠堂。",  # 拆除 after it is no taking-down of it
        "业主与物业发生纠纷后在小区门口拉横幅。",  # 物业 here is the other party
    ):
        assert lexicon.hits(threat, lexicon.threats) == ["拉横幅"], threat
    for calm in (
        "村委会在村部门口拉横幅宣传医保政策。",
        "工资结清后工人拉横幅、送锦旗致谢。",
        "村委会在村部门口拉横幅，公示低保评议结果。",  # the authorities' own
        "工人们情绪稳定，没有在项目部门口拉横幅讨薪。",  # negated over the place
    ):
        assert lexicon.hits(calm, lexicon.threats) == [], calm


def test_a_display_of_protest_is_an_explicit_threat_and_its_words_are_the_policy_files() -> None:
    """A record that tells of a banner or placard of protest is warned on by itself (orange,
    without a model), and the words it is read by come from the policy file."""
    without = parse_policy(
        _broken(
            "display_things: [横幅, 条幅, 标语, 大字报, 小字报, 牌子, 纸牌,",
            "display_things: [横幅, 条幅, 标语, 大字报, 小字报, 牌子,",
        )
    )
    shown, quiet = _one_record_scored(
        "包工头拖欠工资，三名工人今天上午在项目部门口举着纸牌讨要工钱。", default_policy(), without
    )
    assert shown.level == "orange" and "explicit_threat" in {r.code for r in shown.rules}
    assert "explicit_threat" not in {r.code for r in quiet.rules}


def test_a_planned_protest_is_an_explicit_threat_and_the_plan_words_are_the_policy_files() -> None:
    """A record that tells of a protest being planned is warned on by itself (orange, without
    a model), and the words a plan is read by come from the policy file."""
    without = parse_policy(_broken("plan_markers: [准备, ", "plan_markers: ["))  # not 准备
    planned, quiet = _one_record_scored(
        "欠薪工人已推选出牵头人，准备下周三一起坐车到市里上访。", default_policy(), without
    )
    assert planned.level == "orange" and "explicit_threat" in {r.code for r in planned.rules}
    assert "explicit_threat" not in {r.code for r in quiet.rules}


def _one_record_scored(description: str, *policies: RiskPolicy) -> list:
    """The assessment, by the rules alone under each of ``policies``, of a wage-arrears case
    of one record with ``description`` (three people), three hours after it was found."""
    import datetime as dt

    from domain.case import CaseState, handle_command
    from models.scoring import score_cases
    from schemas.commands import SubmitRecord
    from schemas.events import case_id_for
    from schemas.record import fingerprint, validate

    raw = {
        "township": "周庄镇",
        "ref_no": "ZZ-1",
        "category": "拖欠农民工工资",
        "found_at": "2026-01-10T09:00:00+08:00",
        "description": description,
        "people_involved": 3,
    }
    record = validate(raw)
    state = CaseState(case_id_for("周庄镇", "ZZ-1"))
    cmd = SubmitRecord("records:0:1", state.case_id, record, fingerprint(record), raw["found_at"])
    state, _ = handle_command(state, cmd)
    at = dt.datetime(2026, 1, 10, 12, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return [score_cases(None, [state], [at], policy)[0] for policy in policies]
