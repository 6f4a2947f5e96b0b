"""Licence printer backends: CUPS (a real A4 printer) and files (the default).

CUPS: the PDF is submitted to a queue with pycups, the job is followed until
job-state is completed (9), canceled (7) or aborted (8), and the queue's
printer-state-reasons are mapped to the kiosk's fault codes while it runs.
A job that stops on a fault (paper out, cover open) is cancelled at once so
it cannot come out by surprise after the paper is refilled; the journal then
records it as failed and the same print token may print it again.

Exactly once across timeouts: a job that timed out may still print, so before
a retry submits again :meth:`CupsBackend.settle` finds the earlier attempt's job
(by the id the journal kept, or by its job name after a crash) and waits for
it if it is printing or cancels it if it has not started.  Job names carry the
document id and a digest of the print token, never the resident's data.

Files: the PDF is written atomically into data_dir/prints -- the embedded
default for development and for kiosks that hand documents out electronically.
A licence carries the resident's name, so a PDF is deleted ``retention_s``
after it was written.
"""
from __future__ import annotations

import hashlib
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

# What the kiosk's cupsd.conf must say: a spooled licence (the resident's name in
# clear) is deleted once printed; the job's attributes (a job name free of
# personal data, its state) stay a day, so a retry or a restart can still tell a
# job that printed from one that did not.
CUPSD_PRIVACY = "PreserveJobFiles No\nPreserveJobHistory 86400\n"


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


def job_name(document_id: str, print_token: str) -> str:
    """What the backend calls a job: findable again by its token, and free of personal data."""
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", document_id)[:64]
    return f"licence-{safe_id}-{hashlib.sha256(print_token.encode()).hexdigest()[:16]}"


class FileBackend:
    """PDFs into a directory; a file that exists is a completed job, deleted ``retention_s`` after writing."""

    name = "file"

    def __init__(self, directory: Path, retention_s: float):
        self.directory = Path(directory)
        self.retention_s = retention_s

    def check(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not os.access(self.directory, os.W_OK):
            raise PrinterError("offline", f"print directory {self.directory} is not writable")
        self.purge_expired()

    def purge_expired(self, now: float | None = None) -> list[Path]:
        """Delete PDFs (and left-over partial writes) older than the retention; returns what went."""
        cutoff = (time.time() if now is None else now) - self.retention_s
        gone = []
        for path in [*self.directory.glob("*.pdf"), *self.directory.glob("*.part")]:
            try:
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    gone.append(path)
            except FileNotFoundError:
                continue            # purged by another poll meanwhile
        return gone

    def status(self) -> tuple[State, str, str]:
        self.check()
        return State.READY, "", ""

    def submit(self, pdf: bytes, document_id: str, print_token: str) -> str:
        self.check()
        path = self.directory / f"{datetime.now():%Y%m%d-%H%M%S}-{job_name(document_id, print_token)}.pdf"
        write_atomic(path, pdf)
        return str(path)

    def wait(self, job_ref: str, timeout: float) -> list[str]:
        if not Path(job_ref).exists():
            raise PrinterError("printer_error", f"output file {job_ref} is missing")
        return []

    def job_state(self, job_ref: str) -> str:
        return "completed" if job_ref and Path(job_ref).exists() else "unknown"

    def find_job(self, document_id: str, print_token: str) -> str:
        found = sorted(self.directory.glob(f"*-{job_name(document_id, print_token)}.pdf"))
        return str(found[-1]) if found else ""

    def settle(self, job_ref: str, timeout: float) -> str:
        """A written file is a printed job; there is nothing to wait for or cancel."""
        return "completed" if Path(job_ref).exists() else "failed"


class CupsBackend:
    """One CUPS queue; ``server`` is "host:port" or "" for the local default."""

    name = "cups"
    poll_interval = 0.25

    def __init__(self, queue: str, server: str = ""):
        if not queue:
            raise PrinterError("not_configured", "devices.licence_printer.queue is empty (driver = cups)")
        self.queue, self.server = queue, server
        self._stale: dict[int, set[str]] = {}    # job id -> fault reasons left over from earlier jobs
        self._keeps_job_files: bool | None = None  # read once per connect: an admin request, not a poll

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
        self._keeps_job_files = self.keeps_job_files()

    def keeps_job_files(self) -> bool | None:
        """Whether cupsd keeps printed documents in its spool (None: its settings are not readable here)."""
        import cups

        try:
            settings = self._connection().adminGetServerSettings()
        except (cups.IPPError, RuntimeError):
            return None
        return str(settings.get("PreserveJobFiles", "86400")).lower() not in ("no", "off", "false", "0")

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
        if self._keeps_job_files:
            return (State.WARNING, "cupsd keeps printed licences in its spool: set " + CUPSD_PRIVACY.replace("\n", " ")
                    + "in cupsd.conf", "keeps_job_files")
        return State.READY, "", ""

    def submit(self, pdf: bytes, document_id: str, print_token: str) -> str:
        import cups

        conn = self._connection()
        stale = set(map_reasons(self._printer(conn).get("printer-state-reasons"))[0])
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(pdf)
            tmp.flush()
            try:
                job_id = conn.printFile(self.queue, tmp.name, job_name(document_id, print_token),
                                        {"document-format": "application/pdf"})
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

    def find_job(self, document_id: str, print_token: str) -> str:
        """The newest job submitted for this token (a crash may have lost its id), or "".

        cupsd shows job names only where its policy lets this client read them
        (``JobPrivateValues none``; job names hold no personal data): elsewhere
        nothing is found and the retry prints under the same token, as before.
        """
        name = job_name(document_id, print_token)
        jobs = self._connection().getJobs(which_jobs="all", requested_attributes=["job-id", "job-name"])
        matching = [job_id for job_id, attrs in jobs.items() if attrs.get("job-name") == name]
        return str(max(matching)) if matching else ""

    def settle(self, job_ref: str, timeout: float) -> str:
        """Bring an earlier attempt's job to an end before a retry: "completed" if it printed,
        "failed" once it cannot print any more.

        A job that has not started (pending, held, stopped) is cancelled, since the
        retry prints the same document; one that is printing is waited for, and
        still printing after ``timeout`` raises PrinterError("timeout") so nothing
        is submitted next to it.  A job cupsd no longer knows is "failed": the
        retry prints under the same token, as after a crash.
        """
        import cups

        conn = self._connection()
        job_id = int(job_ref)
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = conn.getJobAttributes(job_id, requested_attributes=["job-state"]).get("job-state")
            except cups.IPPError:
                return "failed"
            if state == JOB_COMPLETED:
                return "completed"
            if state in (JOB_CANCELED, JOB_ABORTED):
                return "failed"
            if state in (JOB_PENDING, JOB_HELD, JOB_STOPPED):
                self._cancel(conn, job_id)
            elif time.monotonic() > deadline:
                raise PrinterError("timeout", f"CUPS job {job_id} of the earlier attempt is still printing after "
                                              f"{timeout:.0f} s; not submitting a second copy")
            time.sleep(self.poll_interval)

    def job_state(self, job_ref: str) -> str:
        import cups

        try:
            state = self._connection().getJobAttributes(int(job_ref), requested_attributes=["job-state"])["job-state"]
        except (cups.IPPError, ValueError, KeyError, PrinterError):
            return "unknown"
        return {JOB_COMPLETED: "completed", JOB_CANCELED: "failed", JOB_ABORTED: "failed"}.get(state, "pending")


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])
