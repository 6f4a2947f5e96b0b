"""The receipt's fixed texts, in the resident's language, from the kiosk's gettext catalogues.

The msgids are the zh_CN wording, in the context ``receipt`` (a receipt says
"现场打印" as 現場列印 / "Printed here", where a button says 現場打印 / "Print
here").  Devices may not import the kiosk core, so this reads the same compiled
catalogue (``assets/locales``) with the standard library's gettext; the strings
are collected into the catalogues by ``scripts/catalogues.py`` from the marks below.
"""
from __future__ import annotations

import gettext
from functools import lru_cache
from typing import Callable

from common.paths import LOCALE_DOMAIN, LOCALES

CONTEXT = "receipt"


def NC_(context: str, message: str) -> str:
    """Mark ``message`` for the catalogues (translated where printed)."""
    return message


MESSAGES = (
    NC_("receipt", "办事回执"),
    NC_("receipt", "办理事项"),
    NC_("receipt", "受理编号"),
    NC_("receipt", "申请人"),
    NC_("receipt", "证件号码"),
    NC_("receipt", "提交时间"),
    NC_("receipt", "办理状态"),
    NC_("receipt", "已提交"),
    NC_("receipt", "已保存，联网后自动提交"),
    NC_("receipt", "办件类型"),
    NC_("receipt", "即办件（当场办结）"),
    NC_("receipt", "承诺件（{days}个工作日内办结）"),
    NC_("receipt", "领取方式"),
    NC_("receipt", "现场打印"),
    NC_("receipt", "快递送达：{address}"),
    NC_("receipt", "到{centre}领取（可到任一服务中心领取）"),
    NC_("receipt", "待补交材料"),
    NC_("receipt", "{name}（截止 {date}）"),
    NC_("receipt", "请在截止日期前到任一自助终端补交，逾期请到人工窗口办理。"),
    NC_("receipt", "扫码查询办理进度"),
    NC_("receipt", "请妥善保管本回执。"),
    NC_("receipt", "打印时间"),
    NC_("receipt", "："),
)


@lru_cache(maxsize=None)
def translator(language: str) -> Callable[[str], str]:
    """msgid -> its receipt wording in ``language`` (a msgid without a translation reads as is)."""
    catalogue = gettext.translation(LOCALE_DOMAIN, localedir=str(LOCALES), languages=[language], fallback=True)
    return lambda msgid: catalogue.pgettext(CONTEXT, msgid)
