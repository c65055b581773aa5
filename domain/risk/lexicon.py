"""Risk and calming phrases of screening records (the product brief's phrasebook).

Shared by the rules (``domain.risk.rules``) and the features (``domain.risk.features``): one list, so the
two cannot disagree about what "an explicit threat" is.  Each group has a bilingual name used in
explanations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhraseGroup:
    code: str
    zh: str
    en: str
    phrases: tuple[str, ...]
    raises_risk: bool = True


PHRASE_GROUPS: tuple[PhraseGroup, ...] = (
    PhraseGroup(
        "group",
        "群体性迹象",
        "signs of a group",
        ("集体", "联名", "群体", "一起去", "十几户", "几十人"),
    ),
    PhraseGroup(
        "organising", "组织串联", "organising", ("微信群", "串联", "拉横幅", "横幅", "组织")
    ),
    PhraseGroup(
        "hierarchy",
        "扬言越级上访",
        "talk of going over the county's head",
        ("到市里", "到省里", "进京", "赴京", "越级", "去北京", "上北京", "省信访", "市信访"),
    ),
    PhraseGroup(
        "blocking",
        "堵路堵门聚集",
        "blocking or gathering",
        ("堵路", "堵门", "围堵", "聚集", "静坐", "堵大门"),
    ),
    PhraseGroup(
        "media",
        "网络媒体曝光",
        "media or online exposure",
        ("网上发帖", "曝光", "找记者", "发抖音", "发视频", "媒体"),
    ),
    PhraseGroup(
        "self_harm",
        "轻生或暴力言行",
        "self-harm or violence",
        ("轻生", "喝药", "持刀", "跳楼", "自焚", "寻死", "拼命", "同归于尽", "打人"),
    ),
    PhraseGroup(
        "deadline",
        "节点敏感期",
        "sensitive period",
        ("春节前", "年底", "两会期间", "两会", "过年前"),
    ),
    PhraseGroup(
        "repeat",
        "反复信访",
        "repeated visits",
        ("多次反映", "重复访", "反复", "又来", "再次反映", "老上访户"),
    ),
    PhraseGroup(
        "temper",
        "情绪激动",
        "agitated",
        ("情绪激动", "情绪不稳", "态度强硬", "说话很冲", "过激", "很不满", "活不下去"),
    ),
    PhraseGroup(
        "calming",
        "已缓和",
        "calming down",
        (
            "已调解",
            "达成协议",
            "已兑付",
            "已结清",
            "情绪稳定",
            "息诉罢访",
            "撤回",
            "已支付",
            "表示满意",
        ),
        raises_risk=False,
    ),
)
GROUP_BY_CODE = {g.code: g for g in PHRASE_GROUPS}

# What the rules treat as an explicit threat that must never wait for a model.
EXPLICIT_THREATS: tuple[str, ...] = (
    "赴京",
    "进京",
    "去北京",
    "跳楼",
    "喝药",
    "轻生",
    "自焚",
    "持刀",
    "同归于尽",
    "堵路",
    "堵门",
    "围堵",
    "拉横幅",
)


def hits(text: str, phrases: tuple[str, ...]) -> list[str]:
    """The phrases that occur in ``text``, in list order."""
    return [p for p in phrases if p in text]
