"""Masking a record's text before it becomes a model feature: names, numbers and places.

A model that learns from character n-grams learns whatever is frequent in its training
county, and in a synthetic county that includes the invented names of parties and villages.
Such weights say nothing about risk and leak names into explanations.  The text feature is
therefore masked first:

* numbers (Arabic digits, with decimals) become ``#``: head counts and money are structured
  features already;
* places (a township, town or village name, a community, a residential compound) become
  ``某地``;
* person names become ``某人``: a common surname followed by one or two characters, where the
  name stands before what usually follows a name in a record (a verb of saying, 等, 家, 与 ...),
  and the anonymised forms 王某 / 王某某.

This is a heuristic (Chinese has no capital letters to find names by): it masks most names of
the kind screening records use, sometimes a word that looks like one.  It needs no dictionary
download and is the same in the stream and in training (``domain.risk.features``).
"""

from __future__ import annotations

import re
from functools import lru_cache

# The most common Chinese surnames (about 85% of the population); single characters.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳"
    "甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解"
    "牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边"
    "卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
PLACE = "某地"
PERSON = "某人"
NUMBER = "#"

# digits, with a decimal point or thousands separators (a full-width comma separates clauses)
_NUMBER = re.compile(r"[0-9０-９]+(?:,[0-9]{3})*(?:[.．][0-9０-９]+)?")
# characters of ordinary words that place and person names (almost) never contain
_FUNCTION = (
    "的了是在说要去到回和与对把被就都也还又从向给让人不有个这那我你他她们会能可为将已经并及或等称没欠"
    "户名位次元万余多"
)
_NAME_CHAR = rf"(?:(?![{_FUNCTION}])[\u4e00-\u9fff])"
# a place name ends in one of these, with two to four characters before it, and starts where
# a name can start: after punctuation or a number, at the start, or after a word that leads to
# a place (在 马庄村, 到 周庄镇, 县 ... 乡); not in the middle of a phrase (围堵镇政府 keeps 围堵)
_PLACE_LEAD = "在到住于县市省去往来从至自向的原由系及和与、地"  # 地: after a place already masked
_PLACE = re.compile(
    rf"(?:(?<![\u4e00-\u9fff])|(?<=[{_PLACE_LEAD}]))"
    rf"{_NAME_CHAR}{{2,4}}?(?:街道|社区|小区|花园|家园|村委|村|镇|乡)"
)
# words ending like a place name that are not one
_NOT_PLACES = frozenset(
    "农村 乡村 本村 该村 全村 同村 邻村 外村 各村 进村 回村 到村 在村 出村 两村 驻村 包村 村村 城乡"
    " 下乡 回乡 家乡 老乡 返乡 外乡 本乡 城镇 乡镇 集镇 村组 小组 班组 专组 工作组 专班组"
    " 社区 小区 花园 家园".split()
)
# what follows a name in a record
_AFTER_NAME = (
    "等称说讲反映表示家与和的向在因将到拒欠要对是夫妻父母兄弟姐妹儿女子之，。、；：,;: （(）)"
)
_ANON = re.compile(rf"[{SURNAMES}]某+")
# what comes just before a name: nothing, punctuation, or a word for who the person is
_BEFORE_NAME = (
    "民人户主头长与和及称对向被妻夫子女父母由将让给找经据报告系者友叔哥姐弟妹工居村区镇乡地"
)
_NAME = re.compile(
    rf"(?:(?<![\u4e00-\u9fff#])|(?<=[{_BEFORE_NAME}]))"
    rf"[{SURNAMES}]{_NAME_CHAR}{{1,2}}?(?=[{re.escape(_AFTER_NAME)}]|$)"
)
# two-character words that start with a surname character and are not names
_NOT_NAMES = frozenset(
    "王法 张贴 张罗 高空 高价 高额 高速 高龄 高压 高峰 高考 马路 马上 黄金 黄牛 周边 周转 周末 周年"
    " 周期 方面 方式 方案 方法 方向 方便 方位 程度 程序 万元 万一 常年 常住 常委 时间 时候 时期 时限"
    " 安全 安排 安置 安抚 安装 安居 明年 明天 明确 明显 文件 文化 文书 成本 成立 成员 成功 全部 全体"
    " 全家 全村 和解 和好 向上 向下 关系 关于 关注 关停 金额 金钱 连续 连日 路边 路口 单位 单方 工资"
    " 余款 余额 尚未 解决 解除 解释 华侨 管理 管辖 司法 商品 商铺 商量 宁愿 包括 包工 包案 师傅 师生"
    " 任务 任何 于是 原因 原来 应当 应该 江边 沙场 石料 石子 石头 牛羊 严重 严格 施工 项目 农民 农田"
    " 毕业 车辆 车间 房屋 房子 房产 费用 党员 党委 宫殿 景区 甘心 戴帽 童工 华北 华南 温度 温和 康复"
    " 祁连 冷静 冷淡 季节 季度 卫生 欧元 史上 史料 邢台 对方 方表 表示 明天 今天 昨天 当天 每天"
    " 天天 前天 后天 一天 于今 于此 于是 于当 时表 时称 曾表 当晚 当日 明日 次日 两天 几天 多天"
    " 双方 一方 另一 对面 余下 余人 全员 全镇 全乡 全县 全市 全省 孔明 毛病 毛钱 石料 石材 石灰"
    " 金融 金属 金店 金价 连夜 连续 连日 路上 路过 管道 管护 管护 房东 房租 房价 房款 宁可 仇恨 全组 农药 包车 宗族 游行"
    " 路费 雷管 安全帽 管理".split()
)


def _place(match: re.Match[str]) -> str:
    word = match.group(0)
    return word if word in _NOT_PLACES or word[-2:] in _NOT_PLACES else PLACE


def _is_name(word: str) -> bool:
    return not {word, word[:2], word[1:], word[-2:]} & _NOT_NAMES


@lru_cache(maxsize=100_000)
def mask_text(text: str) -> str:
    """The text with numbers, places and person names masked (see the module's doc).  A name
    found once is masked wherever else it occurs in the text, whatever stands around it."""
    text = _NUMBER.sub(NUMBER, text)
    text = _ANON.sub(PERSON, text)
    for _ in range(3):  # a place right after a masked one (周庄镇韩庄村) in the next pass
        masked = _PLACE.sub(_place, text)
        if masked == text:
            break
        text = masked
    names = sorted({m.group(0) for m in _NAME.finditer(text) if _is_name(m.group(0))}, key=len)
    for name in reversed(names):  # longest first, so 刘大海 goes before 刘大
        text = text.replace(name, PERSON)
    return text
