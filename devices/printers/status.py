"""Reading an ESC/POS printer's status ourselves with DLE EOT n.

python-escpos 3.1 reports "plenty of paper" when the printer says nothing;
here silence or a malformed byte is *unknown*, which the kiosk treats as a
fault.  Every reply byte must match the fixed bit pattern 0xx1xx10b (bits
0, 1, 4 and 7 fixed) that Epson's real-time status replies carry, so a stray
byte left in the buffer is never read as "all is well".
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from devices.base import State

DLE_EOT = b"\x10\x04"
PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER = 1, 2, 3, 4
FIXED_MASK, FIXED_VALUE = 0b1001_0011, 0b0001_0010


def is_status_byte(value: int) -> bool:
    return value & FIXED_MASK == FIXED_VALUE


class StatusUnavailable(Exception):
    """The printer did not give a valid status reply (silence or garbage)."""


@dataclass(frozen=True)
class PrinterStatus:
    """Decoded DLE EOT 1..4 replies; ``raw`` keeps the bytes for technicians."""

    offline: bool = False
    cover_open: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False
    raw: bytes = field(default=b"", repr=False)

    @classmethod
    def decode(cls, printer: int, offline: int, error: int, paper: int) -> "PrinterStatus":
        return cls(
            offline=bool(printer & 0x08),
            cover_open=bool(offline & 0x04),
            # DLE EOT 2 bit 5: printing stopped at paper end; DLE EOT 4 bits 5+6: roll sensor empty
            paper_out=bool(offline & 0x20) or paper & 0x60 == 0x60,
            paper_near_end=paper & 0x0C == 0x0C,
            cutter_error=bool(error & 0x08),
            unrecoverable_error=bool(error & 0x20),
            raw=bytes((printer, offline, error, paper)),
        )

    def device_status(self) -> tuple[State, str, str]:
        """(state, technician reason, code); the worst condition wins."""
        if self.cover_open:
            return State.FAULT, "printer cover is open", "cover_open"
        if self.paper_out:
            return State.FAULT, "receipt paper is out", "paper_out"
        if self.cutter_error:
            return State.FAULT, "auto-cutter error (paper jam?)", "cutter_error"
        if self.unrecoverable_error:
            return State.FAULT, "printer reports an unrecoverable error", "printer_error"
        if self.offline:
            return State.FAULT, "printer is offline", "offline"
        if self.paper_near_end:
            return State.WARNING, "receipt paper near end: replace the roll soon", "paper_near_end"
        return State.READY, "", ""


def query(conn, timeout: float = 0.5) -> PrinterStatus:
    """Ask DLE EOT 1..4 in turn; raise StatusUnavailable on silence or garbage.

    OSError from the connection (unplugged) propagates: that is DISCONNECTED,
    not a status.
    """
    conn.reset_input()
    replies = []
    for n in (PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER):
        conn.write(DLE_EOT + bytes((n,)))
        reply = _read_one(conn, timeout)
        if reply is None:
            raise StatusUnavailable(f"no reply to DLE EOT {n} within {timeout:.1f} s")
        if not is_status_byte(reply):
            raise StatusUnavailable(f"invalid reply 0x{reply:02X} to DLE EOT {n}")
        replies.append(reply)
    return PrinterStatus.decode(*replies)


def _read_one(conn, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        data = conn.read(1, remaining)
        if data:
            return data[0]
