"""Licence printer backends: CUPS (a real A4 printer) and files (the default).

CUPS: the PDF is submitted to a queue with pycups, the job is followed until
job-state is completed (9), canceled (7) or aborted (8), and the queue's
printer-state-reasons are mapped to the kiosk's fault codes while it runs.
A job that stops on a fault (paper out, cover open) is cancelled at once so
it cannot come out by surprise after the paper is refilled; the journal then
records it as failed and the same print token may print it again.

Files: the PDF is written atomically into data_dir/prints -- the embedded
default for development and for kiosks that hand documents out electronically.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common.files import write_atomic
from devices.base import State
from devices.printers.common import PrinterError

JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED, JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = range(3, 10)
PRINTER_IDLE, PRINTER_STOPPED = 3, 5

# printer-state-reasons keyword (without -error/-warning/-report) -> kiosk code
REASON_CODES = {
    "media-empty": "paper_out", "media-needed": "paper_out", "input-tray-missing": "paper_out",
    "media-low": "paper_near_end",
    "cover-open": "cover_open", "door-open": "cover_open", "interlock-open": "cover_open",
    "media-jam": "media_jam",
    "offline": "offline", "shutdown": "offline", "paused": "offline", "timed-out": "offline",
    "connecting-to-device": "offline",
    "toner-empty": "toner_empty", "marker-supply-empty": "toner_empty",
    "toner-low": "toner_low", "marker-supply-low": "toner_low",
}
WARNING_ONLY = {"paper_near_end", "toner_low"}


def map_reasons(reasons) -> tuple[list[str], list[str]]:
    """printer-state-reasons -> (fault codes, warning codes).

    '-error' (or no suffix) on a known keyword is a fault, '-warning' a
    warning, '-report' nothing; 'none' and keywords we do not know are ignored
    for faults (the job state still decides success).
    """
    if isinstance(reasons, str):
        reasons = [reasons]
    faults, warnings = [], []
    for reason in reasons or ():
        match = re.fullmatch(r"(.+?)(?:-(error|warning|report))?", reason)
        keyword, severity = match.group(1), match.group(2) or "error"
        code = REASON_CODES.get(keyword)
        if code is None or severity == "report":
            continue
        if severity == "warning" or code in WARNING_ONLY:
            warnings.append(code)
        else:
            faults.append(code)
    return faults, warnings


class FileBackend:
    """PDFs into a directory; a file that exists is a completed job."""

    name = "file"

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def check(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not os.access(self.directory, os.W_OK):
            raise PrinterError("offline", f"print directory {self.directory} is not writable")

    def status(self) -> tuple[State, str, str]:
        self.check()
        return State.READY, "", ""

    def submit(self, pdf: bytes, title: str, document_id: str, print_token: str) -> str:
        self.check()
        safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", document_id)[:64]
        path = self.directory / f"{datetime.now():%Y%m%d-%H%M%S}-{safe_id}-{print_token[:8]}.pdf"
        write_atomic(path, pdf)
        return str(path)

    def wait(self, job_ref: str, timeout: float) -> list[str]:
        if not Path(job_ref).exists():
            raise PrinterError("printer_error", f"output file {job_ref} is missing")
        return []

    def job_state(self, job_ref: str) -> str:
        return "completed" if job_ref and Path(job_ref).exists() else "unknown"


class CupsBackend:
    """One CUPS queue; ``server`` is "host:port" or "" for the local default."""

    name = "cups"
    poll_interval = 0.25

    def __init__(self, queue: str, server: str = ""):
        if not queue:
            raise PrinterError("not_configured", "devices.licence_printer.queue is empty (driver = cups)")
        self.queue, self.server = queue, server
        self._stale: dict[int, set[str]] = {}    # job id -> fault reasons left over from earlier jobs

    def _connection(self):
        try:
            import cups
        except ImportError as exc:
            raise PrinterError("disconnected", "pycups is not installed") from exc
        host, _, port = self.server.rpartition(":") if self.server else ("", "", "")
        try:
            if host:
                # libcups builds job URIs from the process-wide server setting, not the
                # connection's host, so set both (a kiosk talks to one cupsd anyway)
                cups.setServer(host)
                cups.setPort(int(port))
                return cups.Connection(host=host, port=int(port))
            return cups.Connection()
        except RuntimeError as exc:          # pycups: "failed to connect to server"
            raise PrinterError("disconnected", f"CUPS server {self.server or 'default'}: {exc}") from exc

    def _printer(self, conn) -> dict:
        import cups

        try:
            return conn.getPrinterAttributes(self.queue, requested_attributes=[
                "printer-state", "printer-state-reasons", "printer-state-message", "printer-is-accepting-jobs"])
        except cups.IPPError as exc:
            raise PrinterError("disconnected", f"CUPS queue {self.queue!r}: {exc.args[-1]}") from exc

    def check(self) -> None:
        self._printer(self._connection())

    def status(self) -> tuple[State, str, str]:
        attrs = self._printer(self._connection())
        faults, warnings = map_reasons(attrs.get("printer-state-reasons"))
        message = attrs.get("printer-state-message", "")
        if faults and attrs.get("printer-state") == PRINTER_IDLE:
            # cupsd keeps the reasons the last job's backend reported until the next job
            # refreshes them: a warning, and the next job fails safely if they still hold
            return (State.WARNING, f"queue {self.queue}: last job reported {', '.join(faults)} {message}".strip(),
                    faults[0])
        if faults:
            return State.FAULT, f"queue {self.queue}: {', '.join(faults)} {message}".strip(), faults[0]
        if attrs.get("printer-state") == PRINTER_STOPPED or not attrs.get("printer-is-accepting-jobs", True):
            return State.FAULT, f"queue {self.queue} is stopped or rejecting jobs {message}".strip(), "offline"
        if warnings:
            return State.WARNING, f"queue {self.queue}: {', '.join(warnings)}", warnings[0]
        return State.READY, "", ""

    def submit(self, pdf: bytes, title: str, document_id: str, print_token: str) -> str:
        import cups

        conn = self._connection()
        stale = set(map_reasons(self._printer(conn).get("printer-state-reasons"))[0])
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(pdf)
            tmp.flush()
            try:
                job_id = conn.printFile(self.queue, tmp.name, title, {"document-format": "application/pdf"})
            except cups.IPPError as exc:
                raise PrinterError("offline", f"CUPS refused the job: {exc.args[-1]}") from exc
        self._stale[job_id] = stale
        return str(job_id)

    def wait(self, job_ref: str, timeout: float) -> list[str]:
        """Follow the job to completion; returns warning codes seen, raises PrinterError on failure."""
        conn = self._connection()
        job_id = int(job_ref)
        deadline = time.monotonic() + timeout
        warnings: set[str] = set()
        stale = self._stale.pop(job_id, set())
        while True:
            job = conn.getJobAttributes(job_id, requested_attributes=["job-state", "job-state-reasons"])
            state = job.get("job-state")
            if state == JOB_COMPLETED:
                return sorted(warnings)
            printer = self._printer(conn)
            faults, warn = map_reasons(printer.get("printer-state-reasons"))
            if set(faults) != stale:
                stale = set()                # the backend refreshed the reasons: all of them are live now
            faults = [f for f in faults if f not in stale]
            warnings.update(warn)
            if state in (JOB_CANCELED, JOB_ABORTED):
                code = faults[0] if faults else "printer_error"
                raise PrinterError(code, f"CUPS job {job_id} {'canceled' if state == JOB_CANCELED else 'aborted'}"
                                         f" ({', '.join(_as_list(job.get('job-state-reasons')))})")
            if faults or state == JOB_STOPPED:
                self._cancel(conn, job_id)
                code = faults[0] if faults else "offline"
                raise PrinterError(code, f"CUPS job {job_id} stopped: {', '.join(faults) or 'printer stopped'}"
                                         f" {printer.get('printer-state-message', '')}".strip())
            if time.monotonic() > deadline:
                raise PrinterError("timeout", f"CUPS job {job_id} not completed after {timeout:.0f} s "
                                              f"(state {state}); left in the queue, journal keeps it unfinished")
            time.sleep(self.poll_interval)

    def _cancel(self, conn, job_id: int) -> None:
        import cups

        try:
            conn.cancelJob(job_id, purge_job=False)
        except cups.IPPError:
            pass        # already finished or gone: nothing left to stop

    def job_state(self, job_ref: str) -> str:
        import cups

        try:
            state = self._connection().getJobAttributes(int(job_ref), requested_attributes=["job-state"])["job-state"]
        except (cups.IPPError, ValueError, KeyError, PrinterError):
            return "unknown"
        return {JOB_COMPLETED: "completed", JOB_CANCELED: "failed", JOB_ABORTED: "failed"}.get(state, "pending")


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])
