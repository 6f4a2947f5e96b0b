"""办事回执: what a receipt says and where, as ESC/POS bytes.

The layout prints what the kiosk core gives it.  The core masks the
resident's data (name, ID number, courier address: kiosk/privacy.py) before it
builds a :class:`ReceiptData`; here text is only made printer-safe
(:func:`~devices.printers.printable.printable`).  The fixed texts are the
gettext catalogues' (receipt_texts.py), in ``language``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from devices.printers.escpos_writer import EscPosWriter
from devices.printers.paper import COLUMNS
from devices.printers.printable import printable
from devices.printers.receipt_texts import translator

LANGUAGES = ("zh_CN", "zh_TW", "en")


@dataclass
class ReceiptData:
    """One receipt, already masked by the core: printed as given (after printer-safety)."""

    centre_name: str
    service_name: str
    application_no: str
    resident_name: str                        # masked, e.g. 张*三
    id_number: str                            # masked, e.g. 110105********002X
    submitted_at: datetime
    status: str = "submitted"                 # "submitted" | "queued" (offline: sent when online)
    kind: str = "即办件"                       # "即办件" | "承诺件"
    promised_days: int | None = None
    # method "onsite_print" | "pickup" (centre: its name) | "courier" (address: masked)
    delivery: dict = field(default_factory=lambda: {"method": "onsite_print", "centre": None, "address": None})
    lookup_url: str = ""
    language: str = "zh_CN"                   # "zh_CN" | "zh_TW" | "en"
    owed: list = field(default_factory=list)  # 边办边补: [(material name, deadline YYYY-MM-DD)] still to hand in


def build_receipt(data: ReceiptData, width_mm: int = 80, encoding: str = "gb18030", profile: str = "default",
                  printed_at: datetime | None = None) -> bytes:
    """The complete ESC/POS byte stream of one receipt."""
    if width_mm not in COLUMNS:
        raise ValueError(f"paper width must be 58 or 80 mm, not {width_mm}")
    tr = translator(data.language if data.language in LANGUAGES else "zh_CN")
    sep = tr("：")
    w = EscPosWriter(COLUMNS[width_mm], encoding, profile)
    w.line(printable(data.centre_name), bold=True, align="center")
    w.line(tr("办事回执"), bold=True, double=True, align="center")
    w.rule()
    w.field(tr("办理事项"), printable(data.service_name), sep)
    w.field(tr("受理编号"), printable(data.application_no), sep, bold_value=True)
    w.field(tr("申请人"), printable(data.resident_name), sep)
    w.field(tr("证件号码"), printable(data.id_number), sep)
    w.field(tr("提交时间"), data.submitted_at.strftime("%Y-%m-%d %H:%M"), sep)
    w.field(tr("办理状态"), tr("已保存，联网后自动提交" if data.status == "queued" else "已提交"), sep, bold_value=True)
    kind = tr("承诺件（{days}个工作日内办结）") if data.kind == "承诺件" else tr("即办件（当场办结）")
    w.field(tr("办件类型"), kind.format(days=data.promised_days or "-"), sep)
    w.field(tr("领取方式"), _delivery_text(data.delivery or {}, tr), sep)
    if data.owed:  # 边办边补: what is still owed, and by when
        w.rule()
        w.line(tr("待补交材料"), bold=True)
        for name, deadline in data.owed:
            w.line(tr("{name}（截止 {date}）").format(name=printable(name), date=printable(deadline)))
        w.line(tr("请在截止日期前到任一自助终端补交，逾期请到人工窗口办理。"))
    w.rule()
    if data.lookup_url:
        w.qr(printable(data.lookup_url), 6 if width_mm == 80 else 5)
        w.line(tr("扫码查询办理进度"), align="center")
    w.line(tr("请妥善保管本回执。"), align="center")
    w.line(f"{tr('打印时间')}{sep}{(printed_at or datetime.now()).strftime('%Y-%m-%d %H:%M')}", align="center")
    w.cut()
    return w.output()


def _delivery_text(delivery: dict, tr: Callable[[str], str]) -> str:
    method = delivery.get("method", "onsite_print")
    if method == "courier":
        return tr("快递送达：{address}").format(address=printable(delivery.get("address")) or "-")
    if method == "pickup":
        return tr("到{centre}领取（可到任一服务中心领取）").format(centre=printable(delivery.get("centre")) or "-")
    return tr("现场打印")
