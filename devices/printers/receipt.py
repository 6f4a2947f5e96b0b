"""办事回执: the receipt every transaction ends with, and the printer that prints it.

The bytes are built here, not by python-escpos, because its 3.1 text path
guesses encodings (full-width punctuation came out as '?') and has no paper
width in the default profile, so centring silently did nothing.  Text is
encoded explicitly (GB18030 by default, GBK or UTF-8 per printer) after the
printer's Chinese mode is switched on, resident-supplied text is stripped of
every control character, and lines are wrapped by printed width (a character
that encodes to more than one byte prints two columns wide).
"""
from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from devices.base import Device, State
from devices.printers import status as escpos_status
from devices.printers.common import WARNING_CODES, PrinterError, PrintResult
from devices.printers.escpos_conn import Connection, open_connection
from devices.events import EventBus
from kiosk.privacy import mask_id_number, mask_name

log = logging.getLogger(__name__)

COLUMNS = {58: 32, 80: 48}          # font A (12x24 dots) on 384 / 576 printable dots
ESC, GS, FS, LF = b"\x1b", b"\x1d", b"\x1c", b"\n"

LABELS = {
    "zh_CN": {
        "title": "办事回执", "service": "办理事项", "application_no": "受理编号", "resident": "申请人",
        "id_number": "证件号码", "submitted_at": "提交时间", "status": "办理状态",
        "submitted": "已提交", "queued": "已保存，联网后自动提交", "kind": "办件类型",
        "即办件": "即办件（当场办结）", "承诺件": "承诺件（{days}个工作日内办结）",
        "delivery": "领取方式", "onsite_print": "现场打印", "courier": "快递送达：{address}",
        "pickup": "到{centre}领取（可到任一服务中心领取）", "scan": "扫码查询办理进度",
        "keep": "请妥善保管本回执。", "printed_at": "打印时间",
    },
    "zh_TW": {
        "title": "辦事回執", "service": "辦理事項", "application_no": "受理編號", "resident": "申請人",
        "id_number": "證件號碼", "submitted_at": "提交時間", "status": "辦理狀態",
        "submitted": "已提交", "queued": "已保存，聯網後自動提交", "kind": "辦件類型",
        "即办件": "即辦件（當場辦結）", "承诺件": "承諾件（{days}個工作日內辦結）",
        "delivery": "領取方式", "onsite_print": "現場列印", "courier": "快遞送達：{address}",
        "pickup": "到{centre}領取（可到任一服務中心領取）", "scan": "掃碼查詢辦理進度",
        "keep": "請妥善保管本回執。", "printed_at": "列印時間",
    },
    "en": {
        "title": "Service Receipt", "service": "Service", "application_no": "Application No.",
        "resident": "Applicant", "id_number": "ID No.", "submitted_at": "Submitted", "status": "Status",
        "submitted": "Submitted", "queued": "Saved; will be sent automatically when online",
        "kind": "Type", "即办件": "Done on the spot", "承诺件": "Done within {days} working days",
        "delivery": "Collection", "onsite_print": "Printed here", "courier": "By courier: {address}",
        "pickup": "Pick up at {centre} (or any service centre)", "scan": "Scan to track your application",
        "keep": "Please keep this receipt.", "printed_at": "Printed",
    },
}
NO_LINE_START = set("，。、；：？！）》」』】〕〉”’…—,.;:?!)]}%")
SEPARATOR = {"zh_CN": "：", "zh_TW": "：", "en": ": "}


@dataclass
class ReceiptData:
    centre_name: str
    service_name: str
    application_no: str
    resident_name: str
    id_number: str
    submitted_at: datetime
    status: str = "submitted"                 # "submitted" | "queued" (offline: sent when online)
    kind: str = "即办件"                       # "即办件" | "承诺件"
    promised_days: int | None = None
    delivery: dict = field(default_factory=lambda: {"method": "onsite_print", "centre": None, "address": None})
    lookup_url: str = ""
    language: str = "zh_CN"                   # "zh_CN" | "zh_TW" | "en"


def sanitize(text: object) -> str:
    """No control byte from residents' text (or anywhere) ever reaches the printer."""
    out = []
    for ch in str(text or ""):
        cat = unicodedata.category(ch)
        if ch in "\t\r\n\u2028\u2029":
            out.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    return "".join(out).strip()


def mask_address(address: str | None) -> str:
    """Keep the district-level start of a courier address; the rest stays private."""
    address = sanitize(address)
    return address if len(address) <= 6 else address[:6] + "****"


class EscPosWriter:
    """Accumulates ESC/POS commands for one receipt at a known width and encoding."""

    def __init__(self, columns: int, encoding: str):
        self.columns, self.encoding = columns, encoding
        self.buf = bytearray(ESC + b"@")                           # initialise
        # Chinese printers need their double-byte mode switched on (FS &) for GB
        # encodings; UTF-8 firmware must have it off (FS .).
        self.buf += FS + (b"&" if encoding in ("gb18030", "gbk") else b".")
        self.buf += ESC + b"3" + bytes((30,))                     # line spacing 30 dots

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding, errors="replace")

    def width(self, text: str) -> int:
        return sum(1 if ord(ch) < 0x80 else 2 for ch in text)

    def wrap(self, text: str, columns: int) -> list[str]:
        lines, line, used = [], "", 0
        for ch in text:
            w = self.width(ch)
            if used + w > columns:
                cut = line.rfind(" ") + 1 if ch != " " and ch.isascii() and line[-1:].isascii() else 0
                if cut <= 0 or cut < len(line) // 2:    # no word boundary nearby: break anywhere
                    cut = len(line)
                    if ch in NO_LINE_START and len(line) > 1:   # 禁则: 。）」 never start a line
                        cut -= 1
                lines.append(line[:cut].rstrip())
                line = (line[cut:] + ch).lstrip(" ")
                used = self.width(line)
                continue
            line += ch
            used += w
        if line or not lines:
            lines.append(line.rstrip())
        return lines

    def align(self, where: str) -> None:
        self.buf += ESC + b"a" + bytes(({"left": 0, "center": 1, "right": 2}[where],))

    def style(self, bold: bool = False, double: bool = False) -> None:
        self.buf += ESC + b"E" + bytes((int(bold),)) + GS + b"!" + bytes((0x11 if double else 0,))

    def line(self, text: str = "", bold: bool = False, double: bool = False, align: str = "left") -> None:
        self.align(align)
        self.style(bold, double)
        for part in self.wrap(text, self.columns // (2 if double else 1)):
            self.buf += self.encode(part) + LF
        self.style()

    def field(self, label: str, value: str, sep: str, bold_value: bool = False) -> None:
        """``label：value`` with continuation lines indented under the value."""
        self.align("left")
        head = label + sep
        indent = self.width(head)
        if indent > self.columns // 2:       # long English labels: value on its own lines
            self.line(head)
            head, indent = "  ", 2
        lines = self.wrap(value, self.columns - indent) or [""]
        for i, part in enumerate(lines):
            self.buf += self.encode(head if i == 0 else " " * indent)
            if bold_value:
                self.buf += ESC + b"E\x01"
            self.buf += self.encode(part) + LF
            if bold_value:
                self.buf += ESC + b"E\x00"

    def rule(self) -> None:
        self.align("left")
        self.buf += b"-" * self.columns + LF

    def qr(self, content: str, module_size: int) -> None:
        data = content.encode("utf-8")
        self.align("center")
        k = GS + b"(k"
        self.buf += k + b"\x04\x00\x31\x41\x32\x00"                        # model 2
        self.buf += k + b"\x03\x00\x31\x43" + bytes((module_size,))         # module size
        self.buf += k + b"\x03\x00\x31\x45\x31"                             # error correction M
        n = len(data) + 3
        self.buf += k + bytes((n & 0xFF, n >> 8)) + b"\x31\x50\x30" + data  # store
        self.buf += k + b"\x03\x00\x31\x51\x30"                             # print
        self.buf += LF

    def cut(self) -> None:
        self.buf += GS + b"V\x42\x03"                                      # feed 3 lines, partial cut


def build_receipt(data: ReceiptData, width_mm: int = 80, encoding: str = "gb18030",
                  id_mask: tuple[int, int] = (6, 4), printed_at: datetime | None = None) -> bytes:
    """The complete ESC/POS byte stream of one receipt."""
    if width_mm not in COLUMNS:
        raise ValueError(f"paper width must be 58 or 80 mm, not {width_mm}")
    lang = data.language if data.language in LABELS else "zh_CN"
    t, sep = LABELS[lang], SEPARATOR[lang]
    w = EscPosWriter(COLUMNS[width_mm], encoding)
    w.line(sanitize(data.centre_name), bold=True, align="center")
    w.line(t["title"], bold=True, double=True, align="center")
    w.rule()
    w.field(t["service"], sanitize(data.service_name), sep)
    w.field(t["application_no"], sanitize(data.application_no), sep, bold_value=True)
    w.field(t["resident"], mask_name(sanitize(data.resident_name)), sep)
    w.field(t["id_number"], mask_id_number(sanitize(data.id_number), *id_mask), sep)
    w.field(t["submitted_at"], data.submitted_at.strftime("%Y-%m-%d %H:%M"), sep)
    w.field(t["status"], t["queued" if data.status == "queued" else "submitted"], sep, bold_value=True)
    kind = "承诺件" if data.kind == "承诺件" else "即办件"
    w.field(t["kind"], t[kind].format(days=data.promised_days or "-"), sep)
    w.field(t["delivery"], _delivery_text(data.delivery or {}, t), sep)
    w.rule()
    if data.lookup_url:
        w.qr(sanitize(data.lookup_url), 6 if width_mm == 80 else 5)
        w.line(t["scan"], align="center")
    w.line(t["keep"], align="center")
    w.line(f"{t['printed_at']}{sep}{(printed_at or datetime.now()).strftime('%Y-%m-%d %H:%M')}", align="center")
    w.cut()
    return bytes(w.buf)


def _delivery_text(delivery: dict, t: dict) -> str:
    method = delivery.get("method", "onsite_print")
    if method == "courier":
        return t["courier"].format(address=mask_address(delivery.get("address")))
    if method == "pickup":
        return t["pickup"].format(centre=sanitize(delivery.get("centre")) or "-")
    return t["onsite_print"]


class ReceiptPrinter(Device):
    """An ESC/POS receipt printer: status polled with DLE EOT, prints on a worker thread."""

    kind = "receipt_printer"
    poll_interval = 2.0

    def __init__(self, role: str, bus: EventBus | None, connect, width_mm: int = 80,
                 encoding: str = "gb18030", id_mask: tuple[int, int] = (6, 4),
                 reply_timeout: float = 0.5):
        super().__init__(role, bus)
        self._open_connection = connect      # () -> Connection; raises OSError/DeviceError
        self.width_mm, self.encoding, self.id_mask = width_mm, encoding, id_mask
        self.reply_timeout = reply_timeout
        self._conn: Connection | None = None
        self._io = threading.Lock()          # one conversation with the printer at a time
        self.simulator = None                # the SimulatedPrinter when the driver is "simulated"

    # -- Device hooks ------------------------------------------------------
    def _connect(self) -> None:
        conn = self._open_connection()
        with self._io:
            self._conn = conn
        self._refresh_status()

    def _disconnect(self) -> None:
        with self._io:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _poll(self) -> None:
        if self.status.state != State.BUSY:
            self._refresh_status()

    def close(self) -> None:
        super().close()
        if self.simulator is not None:
            self.simulator.close()

    # -- status --------------------------------------------------------------
    def _read_status(self) -> tuple[State, str, str]:
        """Current printer condition; OSError (link gone) propagates to the caller."""
        with self._io:
            conn = self._conn
            if conn is None:
                raise ConnectionError("receipt printer is not connected")
            if not conn.bidirectional:
                return State.WARNING, f"{conn.description}: no status channel, paper state unknown", "status_unknown"
            try:
                return escpos_status.query(conn, self.reply_timeout).device_status()
            except escpos_status.StatusUnavailable as exc:
                return State.FAULT, f"{conn.description}: {exc}", "no_reply"

    def _refresh_status(self) -> tuple[State, str, str]:
        state = self._read_status()
        self.set_status(*state)
        return state

    # -- API -------------------------------------------------------------------
    def build(self, data: ReceiptData) -> bytes:
        return build_receipt(data, self.width_mm, self.encoding, self.id_mask)

    def preview_png(self, data: ReceiptData) -> bytes:
        """What the receipt will look like, rendered from its own ESC/POS bytes."""
        from devices.printers.simulator import render_png

        return render_png(self.build(data), self.width_mm, self.encoding)

    def print_receipt(self, data: ReceiptData) -> PrintResult:
        """Print one receipt; blocking, call from a worker thread.

        Checks the status before sending (a fault raises PrinterError and
        nothing is sent) and after (paper that ran out mid-receipt raises
        PrinterError("paper_out") so the UI can offer a reprint).
        """
        payload = self.build(data)
        before = self._checked_status("before printing")
        self.set_status(State.BUSY, "printing receipt", "printing")
        try:
            with self._io:
                if self._conn is None:
                    raise ConnectionError("receipt printer is not connected")
                self._conn.write(payload)
            # DLE EOT is answered in real time, so this sees what happened up to now (paper
            # that ran out mid-receipt on a slow line); later trouble shows in the next poll
            after = self._checked_status("while printing")
        except OSError as exc:
            self._lost(exc)
            raise PrinterError("disconnected", f"receipt printer lost while printing: {exc}") from exc
        warnings = sorted({code for _, _, code in (before, after) if code in WARNING_CODES})
        self.publish("printer.printed", kind="receipt", bytes=len(payload))
        return PrintResult(ok=True, warnings=warnings, bytes_sent=len(payload))

    def _checked_status(self, when: str) -> tuple[State, str, str]:
        try:
            state = self._refresh_status()
        except OSError as exc:
            self._lost(exc)
            raise PrinterError("disconnected", f"receipt printer not reachable {when}: {exc}") from exc
        if state[0] == State.FAULT:
            raise PrinterError(state[2], f"{state[1]} ({when})")
        return state

    def _lost(self, exc: Exception) -> None:
        """The link died: drop it and let the supervisor reconnect."""
        self._disconnect()
        self.set_status(State.DISCONNECTED, f"{exc.__class__.__name__}: {exc}", "disconnected")
        # the supervisor's next poll finds no connection and reconnects with backoff


def _id_mask(config) -> tuple[int, int]:
    return config.privacy.id_mask_head, config.privacy.id_mask_tail


def create(role: str, section, config, bus: EventBus) -> ReceiptPrinter:
    """A real printer on USB, serial, network or file, per ``[devices.receipt_printer]``."""
    driver, target, baud = section.driver, section.connection, section.baud
    return ReceiptPrinter(role, bus, lambda: open_connection(driver, target, baud),
                          section.paper_width_mm, section.encoding, _id_mask(config))


def create_simulated(role: str, section, config, bus: EventBus) -> ReceiptPrinter:
    """A simulated printer speaking real ESC/POS over loopback TCP; ``.simulator`` injects faults."""
    from devices.printers.escpos_conn import NetworkConnection
    from devices.printers.simulator import SimulatedPrinter

    sim = SimulatedPrinter(encoding=section.encoding, width_mm=section.paper_width_mm)
    host, port = sim.serve_tcp()
    printer = ReceiptPrinter(role, bus, lambda: NetworkConnection(host, port),
                             section.paper_width_mm, section.encoding, _id_mask(config))
    printer.simulator = sim
    return printer
