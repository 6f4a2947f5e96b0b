"""What both printers return and raise, so callers handle one shape."""
from __future__ import annotations

from dataclasses import dataclass, field

from devices.base import DeviceError

# Codes the UI maps to plain words and the menu uses to hide print options.
FAULT_CODES = ("paper_out", "cover_open", "offline", "no_reply", "disconnected",
               "cutter_error", "printer_error", "media_jam", "bad_document", "unfinished_other_token")
WARNING_CODES = ("paper_near_end", "status_unknown")


class PrinterError(DeviceError):
    """A print that did not happen (or may not have completed); ``code`` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message, code)


@dataclass
class PrintResult:
    ok: bool
    code: str = ""                   # "" on success, else a fault code as in PrinterError
    detail: str = ""                 # technician-facing
    warnings: list[str] = field(default_factory=list)   # e.g. ["paper_near_end"]
    bytes_sent: int = 0
    job_ref: str = ""                # CUPS job id or output file of the licence printer
    already_printed: bool = False    # exactly-once: this print token was printed before
    reprint: bool = False            # re-sent after an unfinished attempt under the same token
