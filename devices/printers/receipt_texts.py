"""The receipt's fixed texts, keyed by their zh_CN wording (the msgid a gettext catalogue would use).

The kiosk core hands a receipt ``translate`` (its gettext in the resident's
language) when it has one; until then these are the translations, so a
receipt reads as it always has.
"""
from __future__ import annotations

from typing import Callable

TRANSLATIONS: dict[str, dict[str, str]] = {
    "办事回执": {"zh_TW": "辦事回執", "en": "Service Receipt"},
    "办理事项": {"zh_TW": "辦理事項", "en": "Service"},
    "受理编号": {"zh_TW": "受理編號", "en": "Application No."},
    "申请人": {"zh_TW": "申請人", "en": "Applicant"},
    "证件号码": {"zh_TW": "證件號碼", "en": "ID No."},
    "提交时间": {"zh_TW": "提交時間", "en": "Submitted"},
    "办理状态": {"zh_TW": "辦理狀態", "en": "Status"},
    "已提交": {"zh_TW": "已提交", "en": "Submitted"},
    "已保存，联网后自动提交": {"zh_TW": "已保存，聯網後自動提交", "en": "Saved; will be sent automatically when online"},
    "办件类型": {"zh_TW": "辦件類型", "en": "Type"},
    "即办件（当场办结）": {"zh_TW": "即辦件（當場辦結）", "en": "Done on the spot"},
    "承诺件（{days}个工作日内办结）": {"zh_TW": "承諾件（{days}個工作日內辦結）", "en": "Done within {days} working days"},
    "领取方式": {"zh_TW": "領取方式", "en": "Collection"},
    "现场打印": {"zh_TW": "現場列印", "en": "Printed here"},
    "快递送达：{address}": {"zh_TW": "快遞送達：{address}", "en": "By courier: {address}"},
    "到{centre}领取（可到任一服务中心领取）": {"zh_TW": "到{centre}領取（可到任一服務中心領取）",
                                        "en": "Pick up at {centre} (or any service centre)"},
    "扫码查询办理进度": {"zh_TW": "掃碼查詢辦理進度", "en": "Scan to track your application"},
    "请妥善保管本回执。": {"zh_TW": "請妥善保管本回執。", "en": "Please keep this receipt."},
    "打印时间": {"zh_TW": "列印時間", "en": "Printed"},
    "：": {"zh_TW": "：", "en": ": "},          # label separator
}


def translator(language: str) -> Callable[[str], str]:
    """msgid -> text in ``language`` (zh_CN, and any language without a translation, reads the msgid)."""
    return lambda msgid: TRANSLATIONS.get(msgid, {}).get(language, msgid)
