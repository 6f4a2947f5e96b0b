"""转人工凭条: the slip a resident takes to a staffed counter instead of the face check.

It carries no personal data at all -- no name, no ID number, no phone, no address:
the service, the centre, the time, a random reference (text and QR code, which the
counter scans) and plain words on where to go.  The kiosk core decides every text
(in the resident's language, through ``translate``); here it is only laid out and made
printer-safe, like a receipt (receipt_layout.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from devices.printers.escpos_writer import EscPosWriter
from devices.printers.paper import COLUMNS
from devices.printers.printable import printable


@dataclass
class CounterSlipData:
    """One slip, every text already in the resident's language."""

    title: str                 # 转人工办理
    centre_name: str
    service_label: str         # 办理事项
    service_name: str
    time_label: str            # 时间
    reference_label: str       # 参考号
    reference: str             # random, e.g. ZRG-7K3M-Q9TD: nothing about the resident
    instructions: list[str]    # where to go, what to bring, in plain words
    scan_hint: str             # 工作人员扫码接续办理
    issued_at: datetime
    separator: str = "："


def build_slip(data: CounterSlipData, width_mm: int = 80, encoding: str = "gb18030",
               profile: str = "default") -> bytes:
    """The complete ESC/POS byte stream of one slip."""
    if width_mm not in COLUMNS:
        raise ValueError(f"paper width must be 58 or 80 mm, not {width_mm}")
    sep = data.separator
    w = EscPosWriter(COLUMNS[width_mm], encoding, profile)
    w.line(printable(data.centre_name), bold=True, align="center")
    w.line(printable(data.title), bold=True, double=True, align="center")
    w.rule()
    w.field(printable(data.service_label), printable(data.service_name), sep)
    w.field(printable(data.time_label), data.issued_at.strftime("%Y-%m-%d %H:%M"), sep)
    w.field(printable(data.reference_label), printable(data.reference), sep, bold_value=True)
    w.rule()
    for text in data.instructions:
        w.line(printable(text))
    w.line()
    w.qr(printable(data.reference), 6 if width_mm == 80 else 5)
    w.line(printable(data.reference), bold=True, double=True, align="center")
    w.line(printable(data.scan_hint), align="center")
    w.cut()
    return w.output()
