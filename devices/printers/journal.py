"""The print journal: official documents are printed exactly once.

Before a job is sent its intent is committed (SQLite, WAL, synchronous=FULL,
so a power cut cannot roll it back); after the printer reports the job done
it is marked completed.  A crash in between leaves the job unfinished and
visible at the next start.  An unfinished job is only ever re-printed under
the *same* print token (the platform's token for that issue of the document),
so a sheet that did come out before the crash and its reprint are the same
document, and a completed token is never printed again.

No personal data here: document id, title, token, states, times, backend job
reference.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

INTENT, SENT, COMPLETED, FAILED = "intent", "sent", "completed", "failed"
JOURNAL_DAYS = 90   # settled jobs the platform has heard of are forgotten after this (see expire)
UNFINISHED = (INTENT, SENT, FAILED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS print_jobs (
    print_token  TEXT PRIMARY KEY,
    document_id  TEXT NOT NULL,
    title        TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    job_ref      TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '',
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    reported     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS print_jobs_document ON print_jobs(document_id);
"""


@dataclass(frozen=True)
class JournalEntry:
    print_token: str
    document_id: str
    title: str
    state: str
    attempts: int
    job_ref: str
    detail: str
    created_at: float
    updated_at: float
    reported: bool

    @property
    def finished(self) -> bool:
        return self.state == COMPLETED


class PrintJournal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def get(self, print_token: str) -> JournalEntry | None:
        row = self._db.execute("SELECT * FROM print_jobs WHERE print_token = ?", (print_token,)).fetchone()
        return JournalEntry(*row[:9], bool(row[9])) if row else None

    def unfinished(self) -> list[JournalEntry]:
        """Jobs whose printing was never confirmed: shown to technicians at start."""
        rows = self._db.execute(
            f"SELECT * FROM print_jobs WHERE state IN ({','.join('?' * len(UNFINISHED))}) ORDER BY created_at",
            UNFINISHED).fetchall()
        return [JournalEntry(*r[:9], bool(r[9])) for r in rows]

    def unfinished_for_document(self, document_id: str) -> list[JournalEntry]:
        return [e for e in self.unfinished() if e.document_id == document_id]

    def record_intent(self, print_token: str, document_id: str, title: str = "") -> JournalEntry:
        """Durably note that this token is about to be sent (attempts + 1).

        The caller settles an earlier attempt's backend job first (the licence
        printer does): this forgets its job reference.
        """
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existing = self.get(print_token)
                if existing and existing.state == COMPLETED:
                    raise ValueError(f"print token already completed for document {existing.document_id}")
                if existing and existing.document_id != document_id:
                    raise ValueError("print token belongs to another document")
                if existing:   # a new attempt: its outcome is news for the platform again
                    self._db.execute("UPDATE print_jobs SET state=?, attempts=attempts+1, job_ref='', detail='', "
                                     "reported=0, updated_at=? WHERE print_token=?", (INTENT, now, print_token))
                else:
                    self._db.execute("INSERT INTO print_jobs (print_token, document_id, title, state, attempts, "
                                     "created_at, updated_at) VALUES (?,?,?,?,1,?,?)",
                                     (print_token, document_id, title, INTENT, now, now))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(print_token)

    def _set(self, print_token: str, state: str, **values) -> None:
        if state in (COMPLETED, FAILED):
            values["reported"] = 0       # a settled outcome the platform has not heard yet
        sets = ", ".join(f"{k}=?" for k in values)
        with self._lock:
            self._db.execute(f"UPDATE print_jobs SET state=?, updated_at=?{', ' + sets if sets else ''} "
                             "WHERE print_token=?", (state, time.time(), *values.values(), print_token))

    def mark_sent(self, print_token: str, job_ref: str) -> None:
        self._set(print_token, SENT, job_ref=job_ref)

    def complete(self, print_token: str, detail: str = "") -> None:
        self._set(print_token, COMPLETED, detail=detail)

    def fail(self, print_token: str, detail: str) -> None:
        """The printer reported the job not printed (aborted, cancelled after a fault)."""
        self._set(print_token, FAILED, detail=detail)

    def mark_reported(self, print_token: str) -> None:
        """The platform was told (POST /v1/documents/{id}/printed)."""
        with self._lock:
            self._db.execute("UPDATE print_jobs SET reported=1 WHERE print_token=?", (print_token,))

    def expire(self, days: float = JOURNAL_DAYS, now: float | None = None) -> int:
        """Forget settled jobs (completed or failed) the platform was told about more than ``days``
        ago; returns how many.  Safe for exactly-once: once told a token printed, the platform
        marks the document printed and never hands that token out again.  Unfinished and
        unreported jobs are kept whatever their age (a technician or the platform still needs them)."""
        cutoff = (time.time() if now is None else now) - days * 86400
        with self._lock:
            return self._db.execute("DELETE FROM print_jobs WHERE reported = 1 AND state IN (?, ?) "
                                    "AND updated_at < ?", (COMPLETED, FAILED, cutoff)).rowcount

    def unreported(self) -> list[JournalEntry]:
        rows = self._db.execute("SELECT * FROM print_jobs WHERE reported=0 AND state IN (?, ?) "
                                "ORDER BY updated_at", (COMPLETED, FAILED)).fetchall()
        return [JournalEntry(*r[:9], bool(r[9])) for r in rows]
