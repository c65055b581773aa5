"""Why a record is refused, in the words of the township clerk who has to fix it.

Every reason code a dead letter can carry (``schemas.record``, ``domain.intake``, the stream's
own for commands) with its Chinese text; ``ews post`` and ``ews dead-letters`` show both
languages.
"""

from __future__ import annotations

REASON_ZH: dict[str, str] = {
    "missing_field": "缺少必填项",
    "wrong_type": "格式不对",
    "invalid_value": "取值不合理",
    "unknown_category": "不是规定的纠纷类别",
    "unknown_field": "有无法识别的列",
    "date_out_of_range": "日期早于2000年或超出范围",
    "date_in_future": "日期晚于上报当天",
    "oversized_text": "文字过长",
    "oversized_record": "整条记录过大",
    "not_utf8": "文字编码有误（不是UTF-8）",
    "not_json": "不是一条完整的记录（JSON格式错误）",
    "not_an_object": "不是一条完整的记录",
    "nested_too_deep": "记录嵌套过深",
    "unsupported_version": "记录版本不受支持",
    "mixed_versions": "新旧两版表头混用",
    "extra_cells": "单元格比表头多（可能是数字中的逗号未加引号）",
    "bad_timestamp": "消息时间戳无效",
    "internal_error": "系统内部错误，请联系管理员",
    "unreadable_command": "内部命令无法读取",
    "invalid_command": "内部命令无效",
}


def reason_zh(code: str) -> str:
    """The Chinese text of a reason code (the code itself when it has none)."""
    return REASON_ZH.get(code, code)
