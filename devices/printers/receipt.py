"""The receipt printer as a kiosk device: python-escpos connections, our own status reads, a worker-thread print.

What a receipt says is receipt_layout.py (bytes built with python-escpos's
command set and the printer's capability profile); how the bytes reach the
printer is escpos_link.py (python-escpos's USB, serial, network and file
connections); the printer's condition is read with DLE EOT by status.py,
because python-escpos reports "plenty of paper" when the printer is silent.
"""
from __future__ import annotations

import logging
import threading

from devices.base import Device, State
from common.events import EventBus
from devices.printers import status as escpos_status
from devices.printers.common import WARNING_CODES, PrinterError, PrintResult
from devices.printers.escpos_link import NetworkLink, PrinterLink, open_link
from devices.printers.receipt_layout import ReceiptData, build_receipt
from devices.printers.slip_layout import CounterSlipData, build_slip

log = logging.getLogger(__name__)


class ReceiptPrinter(Device):
    """An ESC/POS receipt printer: status polled with DLE EOT, prints on a worker thread."""

    kind = "receipt_printer"
    poll_interval = 2.0

    def __init__(self, role: str, bus: EventBus | None, connect, width_mm: int = 80,
                 encoding: str = "gb18030", profile: str = "default", reply_timeout: float = 0.5):
        super().__init__(role, bus)
        self._open_connection = connect      # () -> PrinterLink; raises OSError/DeviceError
        self.width_mm, self.encoding, self.profile = width_mm, encoding, profile
        self.reply_timeout = reply_timeout
        self._conn: PrinterLink | None = None
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
        return build_receipt(data, self.width_mm, self.encoding, self.profile)

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
        return self._print(self.build(data), "receipt")

    def build_slip(self, data: CounterSlipData) -> bytes:
        return build_slip(data, self.width_mm, self.encoding, self.profile)

    def print_slip(self, data: CounterSlipData) -> PrintResult:
        """Print one 转人工凭条 (blocking, like :meth:`print_receipt`, with the same checks)."""
        return self._print(self.build_slip(data), "counter_slip")

    def _print(self, payload: bytes, kind: str) -> PrintResult:
        before = self._checked_status("before printing")
        self.set_status(State.BUSY, f"printing {kind}", "printing")
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
        self.publish("printer.printed", kind=kind, bytes=len(payload))
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


def create(role: str, section, config, bus: EventBus) -> ReceiptPrinter:
    """A real printer on USB, serial, network or file, per ``[devices.receipt_printer]``."""
    driver, target, baud = section.driver, section.connection, section.baud
    return ReceiptPrinter(role, bus, lambda: open_link(driver, target, baud),
                          section.paper_width_mm, section.encoding, section.profile)


def create_simulated(role: str, section, config, bus: EventBus) -> ReceiptPrinter:
    """A simulated printer speaking real ESC/POS over loopback TCP; ``.simulator`` injects faults."""
    from devices.printers.simulator import SimulatedPrinter

    sim = SimulatedPrinter(encoding=section.encoding, width_mm=section.paper_width_mm)
    host, port = sim.serve_tcp()
    printer = ReceiptPrinter(role, bus, lambda: NetworkLink(host, port),
                             section.paper_width_mm, section.encoding, section.profile)
    printer.simulator = sim
    return printer
