"""The durable outbox: what the kiosk promised a resident it would send.

Once :meth:`Outbox.enqueue` returns, the item survives a crash or a power cut:
SQLite in WAL mode with ``synchronous=FULL`` (NORMAL may roll back the last
commits on power loss) and scans written, fsynced and renamed into place
*before* the row that names them is committed.  (The sender's bookkeeping
-- sending, acknowledged, retry, dead -- commits without a flush on a second
connection: losing it only re-sends an item, which the platform deduplicates;
see ``_open_bookkeeping``.)
Each item's id is a UUID that
is also its Idempotency-Key, so re-sending after a crash can never create a
second application on the platform.

Personal data is encrypted at rest (:mod:`offline_queue.crypto`) and purged
the moment the platform acknowledges the item: the payload column is cleared
and the scans deleted, leaving a tombstone (id, kind, state, timestamps,
application number).  Purged means gone, not merely unlinked: with
``secure_delete`` SQLite overwrites the freed bytes, and a ``TRUNCATE``
checkpoint empties the WAL that still held the old page (at once for a lone
acknowledgement, at most once a second during a drain and when the sender
runs dry: :meth:`Outbox.empty_wal`), so not even the queue key (which sits on
the same disk) recovers an acknowledged payload from the files.  Items of one kind leave in FIFO order; an item may
depend on another (a rating waits for its application and gets the
application number filled in from the acknowledgement).  Between kinds the oldest due
head leaves first, except a help request (kind ``help``: a resident waiting for a person),
which leaves before any backlog.

States: ``pending`` → ``sending`` → ``done``, or ``dead`` (a final refusal,
kept with its reason until a technician runs ``kioskctl queue retry|purge``,
for at most ``queue.dead_letter_days``) → ``expired`` (the dead letter's
personal data purged, its tombstone kept like a delivered one's).
"""
from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import orjson

from common.files import fsync_dir
from offline_queue.crypto import Sealer, key_path, load_or_create_key

log = logging.getLogger(__name__)

KINDS = ("application", "rating", "appeal", "print_report", "help", "supplement")
PRIORITY_KINDS = ("help",)  # a resident waiting for a person: sent before any backlog
FREE_MARGIN_BYTES = 64 * 1024 * 1024  # below min_free + this, statvfs on every enqueue
TOMBSTONE_DAYS = 90  # delivered and expired items' tombstones (no personal data) are kept this long
WAL_EMPTY_EVERY_S = 1.0  # at most one purge checkpoint a second while draining
DEAD_LETTER_DAYS = 30  # a dead letter keeps its personal data this long for a technician's retry

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq             INTEGER PRIMARY KEY,  -- rowid: always above every existing row, so FIFO holds
    id              TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL,
    payload         BLOB,
    depends_on      TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    acked_at        REAL,
    application_no  TEXT
);
CREATE INDEX IF NOT EXISTS items_open ON items(kind, seq) WHERE state IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS items_dead ON items(seq) WHERE state = 'dead';
"""


class QueueFullError(Exception):
    """Too little free disk space to accept a new item safely."""


class QueueItemError(Exception):
    """A technician asked for something the item's state does not allow."""


@dataclass(frozen=True)
class Item:
    """One outbox row without its personal data."""
    seq: int
    id: str
    kind: str
    state: str
    depends_on: str | None
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    updated_at: float
    acked_at: float | None
    application_no: str | None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


_ITEM_COLUMNS = ", ".join(Item.__dataclass_fields__)


class Outbox:
    def __init__(self, db_path: Path, sealer: Sealer | None, min_free_mb: int = 200,
                 clock=time.time, recover: bool = True, dead_letter_days: float = DEAD_LETTER_DAYS):
        """``sealer`` None opens the outbox for bookkeeping only (``kioskctl``):
        list, retry, purge -- no payload is ever read or written."""
        self.db_path = Path(db_path)
        self.attachments_dir = self.db_path.parent / "attachments"
        if recover:
            self.attachments_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.db_path.parent, 0o700)
        self.min_free_bytes = min_free_mb * 1024 * 1024
        self._free_estimate = 0          # see _check_free_space
        self._free_checked_at = -1e9
        self._sealer = sealer
        self._clock = clock
        self.dead_letter_days = dead_letter_days
        self._lock = threading.RLock()
        self._uncommitted_purges: list[str] | None = None  # scans of items acknowledged in bookkeeping()
        self._wal_dirty = True           # the WAL may hold purged data (always, for a file just opened)
        self._wal_emptied_at = -1e9
        self._db = self._connect("FULL")
        self._db.executescript(SCHEMA)
        self._book = self._open_bookkeeping()
        if recover:
            self._recover()

    @classmethod
    def from_config(cls, config, owner: bool = True) -> "Outbox":
        """The kiosk's outbox.  The owner (the kiosk process) loads the key
        (creating it on a development kiosk) and runs crash recovery; a second
        process such as ``kioskctl`` (``owner=False``) needs neither the key
        nor the right to tidy up under the running kiosk."""
        sealer = None
        if owner:
            sealer = Sealer(load_or_create_key(key_path(config), create=not config.is_production))
        return cls(config.data_dir / "queue" / "outbox.sqlite3", sealer,
                   min_free_mb=config.queue.min_free_mb, recover=owner,
                   dead_letter_days=config.queue.dead_letter_days)

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA secure_delete=ON")  # freed bytes are zeroed, not left in free pages
        return db

    def _open_bookkeeping(self) -> sqlite3.Connection:
        """The sender's connection: its commits skip the fsync (synchronous=NORMAL).

        Losing any of them in a power cut only replays an earlier state: the
        item is sent again under the same Idempotency-Key and the platform
        answers with the first response (a purged payload was still
        encrypted).  Both connections append to the one WAL, whose commits are
        ordered, so the next FULL commit (an enqueue) makes everything before
        it durable too.  This keeps a drain from paying one disk flush per
        item, and enqueues from paying a pragma switch.
        """
        return self._connect("NORMAL")

    def close(self) -> None:
        with self._lock:
            self.empty_wal()
            self._book.close()
            self._db.close()

    # -- writing ----------------------------------------------------------
    def enqueue(self, kind: str, payload: dict, attachments: Iterable[tuple[str, Path | bytes]] = (),
                depends_on: str | None = None, item_id: str | None = None) -> str:
        """Store an item durably and return its id (the Idempotency-Key).

        ``attachments`` are ``(material_id, path or bytes)`` pages; the sender
        puts them into ``payload["materials"]`` as ``{id, pages: [{sha256,
        content_b64}]}`` when it sends.  Raises :class:`QueueFullError` when
        the disk is too full to take the item without risk.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown queue item kind {kind!r}")
        item_id = item_id or str(uuid.uuid4())
        pages = [(material_id, src if isinstance(src, bytes) else Path(src).read_bytes())
                 for material_id, src in attachments]
        stored = orjson.dumps({"payload": payload, "attachments": []})
        self._check_free_space(len(stored) * 3 + sum(len(p) for _, p in pages))
        try:
            if pages:
                stored = orjson.dumps({"payload": payload,
                                       "attachments": self._write_attachments(item_id, pages)})
            blob = self._sealer.seal(stored, item_id)
            now = self._clock()
            with self._lock:
                self._db.execute(
                    "INSERT INTO items (id, kind, state, payload, depends_on, next_attempt_at,"
                    " created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
                    (item_id, kind, blob, depends_on, now, now, now))
        except sqlite3.OperationalError as exc:
            shutil.rmtree(self.attachments_dir / item_id, ignore_errors=True)
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise QueueFullError("the kiosk's disk is full; the queue cannot take new items") from None
            raise
        except OSError as exc:
            shutil.rmtree(self.attachments_dir / item_id, ignore_errors=True)
            if exc.errno == errno.ENOSPC:
                raise QueueFullError("the kiosk's disk is full; the queue cannot take new items") from None
            raise
        return item_id

    def _check_free_space(self, incoming: int) -> None:
        """Refuse ``incoming`` bytes (counted ×3 by the caller for the WAL copy
        and the checkpoint) that would leave less than ``min_free_mb``.

        ``statvfs`` is asked at most once a second while there is plenty of
        room, otherwise the estimate is decremented; near the limit it is
        asked every time.  A disk filled behind our back still ends in
        SQLITE_FULL/ENOSPC, which enqueue turns into the same error."""
        now = time.monotonic()
        estimate = self._free_estimate - incoming
        if now - self._free_checked_at > 1.0 or estimate < self.min_free_bytes + FREE_MARGIN_BYTES:
            self._free_checked_at = now
            estimate = shutil.disk_usage(self.db_path.parent).free - incoming
        if estimate < self.min_free_bytes:
            free = estimate + incoming
            raise QueueFullError(
                f"only {free // (1024 * 1024)} MB free on the kiosk's disk (queue.min_free_mb ="
                f" {self.min_free_bytes // (1024 * 1024)}); new items are refused until space is freed")
        self._free_estimate = estimate

    def _write_attachments(self, item_id: str, pages) -> list[dict]:
        item_dir = self.attachments_dir / item_id
        item_dir.mkdir(mode=0o700)
        manifest = []
        for n, (material_id, data) in enumerate(pages):
            name = f"{n}.bin"
            tmp = item_dir / (name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, self._sealer.seal(data, f"{item_id}/{name}"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, item_dir / name)
            manifest.append({"material_id": material_id, "file": name,
                             "sha256": hashlib.sha256(data).hexdigest()})
        fsync_dir(item_dir)
        fsync_dir(self.attachments_dir)
        return manifest

    # -- the sender's view -----------------------------------------------
    def next_ready(self, now: float | None = None) -> tuple[Item | None, float | None]:
        """The next item to send, or ``(None, when)`` with the earliest due time.

        Only the head of each kind's FIFO is considered.  A head whose
        dependency is not yet acknowledged waits; one whose dependency was
        refused or purged becomes a dead letter itself.
        """
        now = self._clock() if now is None else now
        ready, earliest = [], None
        with self._lock:
            for kind in KINDS:
                head = self._head(kind)
                if head is None:
                    continue
                if head.depends_on:
                    dep_state = self._book.execute("SELECT state FROM items WHERE id = ?",
                                                 (head.depends_on,)).fetchone()
                    if dep_state is None or dep_state[0] in ("dead", "expired"):
                        self.mark_dead(head.id, "the item it depends on was refused or purged")
                        return self.next_ready(now)
                    if dep_state[0] != "done":
                        continue
                if head.next_attempt_at <= now:
                    ready.append(head)
                elif earliest is None or head.next_attempt_at < earliest:
                    earliest = head.next_attempt_at
        if ready:
            return min(ready, key=lambda item: (item.kind not in PRIORITY_KINDS, item.seq)), None
        return None, earliest

    def _head(self, kind: str) -> Item | None:
        row = self._book.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE kind = ? AND state IN ('pending', 'sending')"
            " ORDER BY seq LIMIT 1", (kind,)).fetchone()
        return Item(*row) if row else None

    def run_of(self, head: Item, limit: int, now: float) -> list[Item]:
        """``head`` and the items queued right behind it in its kind's FIFO that are due and
        depend on nothing: what may travel together in one batch, in order."""
        with self._lock:
            rows = self._book.execute(
                f"SELECT {_ITEM_COLUMNS} FROM items WHERE kind = ? AND state IN ('pending', 'sending')"
                " AND seq >= ? ORDER BY seq LIMIT ?", (head.kind, head.seq, limit)).fetchall()
        run = []
        for row in rows:
            item = Item(*row)
            if item.depends_on or (run and item.next_attempt_at > now):
                break
            run.append(item)
        return run

    def request_payload(self, item: Item) -> dict:
        """Decrypt the payload, attach the scans and fill in the dependency's application number."""
        with self._lock:
            row = self._book.execute("SELECT payload FROM items WHERE id = ?", (item.id,)).fetchone()
            dep_no = None
            if item.depends_on:
                dep = self._book.execute("SELECT application_no FROM items WHERE id = ?",
                                       (item.depends_on,)).fetchone()
                dep_no = dep[0] if dep else None
        if row is None or row[0] is None:
            raise QueueItemError(f"item {item.id} has no payload (already acknowledged or purged)")
        stored = orjson.loads(self._sealer.open(row[0], item.id))
        payload = stored["payload"]
        if stored["attachments"]:
            materials: dict[str, list] = {}
            for page in stored["attachments"]:
                data = self._sealer.open((self.attachments_dir / item.id / page["file"]).read_bytes(),
                                         f"{item.id}/{page['file']}")
                materials.setdefault(page["material_id"], []).append(
                    {"sha256": page["sha256"], "content_b64": base64.b64encode(data).decode()})
            payload["materials"] = [{"id": mid, "pages": pages} for mid, pages in materials.items()]
        if dep_no:
            payload["application_no"] = dep_no
        return payload

    def peek_payload(self, item: Item) -> dict | None:
        """The item's payload as queued, decrypted, without its scans (None once acknowledged):
        for showing a resident what this kiosk still holds for them."""
        with self._lock:
            row = self._book.execute("SELECT payload FROM items WHERE id = ?", (item.id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return orjson.loads(self._sealer.open(row[0], item.id))["payload"]

    def mark_sending(self, item_id: str) -> None:
        self._update(item_id, "state = 'sending', attempts = attempts + 1", ())

    def mark_unsent(self, item_id: str) -> None:
        """Back in line unchanged: it went out in a batch the platform stopped before reaching it."""
        self._update(item_id, "state = 'pending'", ())

    @contextlib.contextmanager
    def bookkeeping(self):
        """Several marks in one (unflushed) commit: a batch's outcomes.  Nests: an inner
        block joins the outer one's transaction."""
        with self._lock:
            if self._uncommitted_purges is not None:
                yield
                return
            self._book.execute("BEGIN")
            self._uncommitted_purges = []
            try:
                yield
                self._book.execute("COMMIT")
            except BaseException:
                self._book.execute("ROLLBACK")
                raise
            finally:
                purges, self._uncommitted_purges = self._uncommitted_purges, None
        for item_id in purges:  # reached only when the commit succeeded
            self._purge_scans(item_id)
        if purges:
            self.empty_wal(soon=True)

    def mark_done(self, item_id: str, application_no: str | None = None) -> None:
        """Acknowledged: purge the personal data at once, keep the tombstone."""
        self._update(item_id, "state = 'done', payload = NULL, last_error = NULL, acked_at = ?,"
                     " application_no = ?", (self._clock(), application_no))
        if self._uncommitted_purges is not None:  # inside bookkeeping(): delete once committed
            self._uncommitted_purges.append(item_id)
        else:
            self._purge_scans(item_id)
            self.empty_wal(soon=True)

    def _purge_scans(self, item_id: str) -> None:
        scans = self.attachments_dir / item_id
        if os.path.lexists(scans):
            shutil.rmtree(scans, ignore_errors=True)

    def empty_wal(self, soon: bool = False) -> None:
        """Copy the WAL into the database and truncate it: the WAL still holds the page
        images from before a purge.  ``soon``: after a purge, at once unless the last
        checkpoint was less than ``WAL_EMPTY_EVERY_S`` ago (a drain pays one a second,
        not one per item; the sender calls ``empty_wal()`` when it runs dry, and close and
        start-up do too).  Never waits: a reader in another process (``kioskctl queue
        list``) makes it a no-op until the next one."""
        with self._lock:
            if soon and time.monotonic() - self._wal_emptied_at < WAL_EMPTY_EVERY_S:
                self._wal_dirty = True
                return
            if not soon and not self._wal_dirty:
                return
            if soon:  # only purge checkpoints count towards the rate: a quiet kiosk's first ack goes at once
                self._wal_emptied_at = time.monotonic()
            self._wal_dirty = False
            self._book.execute("PRAGMA busy_timeout = 0")
            try:
                busy = self._book.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError:
                busy = 1
            finally:
                self._book.execute("PRAGMA busy_timeout = 10000")
        if busy:
            self._wal_dirty = True
            log.info("queue: WAL not emptied after a purge (another reader); retried after the next one")

    def _prune_tombstones(self) -> int:
        """Caller holds the lock: delete tombstones older than ``TOMBSTONE_DAYS``."""
        tombstone_cutoff = self._clock() - TOMBSTONE_DAYS * 86400
        gone = self._db.execute("DELETE FROM items WHERE state = 'done' AND acked_at < ?",
                                (tombstone_cutoff,)).rowcount
        gone += self._db.execute("DELETE FROM items WHERE state = 'expired' AND updated_at < ?",
                                 (tombstone_cutoff,)).rowcount
        return gone

    def housekeep(self, sparse_ratio: float = 0.25, min_free_pages: int = 256) -> dict:
        """The retention a kiosk that runs for months without a restart needs (the sender calls
        it hourly): tombstones older than ``TOMBSTONE_DAYS`` go, and once free pages are more than
        ``sparse_ratio`` of the file (and at least ``min_free_pages``) the file is VACUUMed back
        to what it holds.  Returns ``{"tombstones": n, "vacuumed": bool}``."""
        with self._lock:
            gone = self._prune_tombstones()
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            vacuumed = False
            if free >= min_free_pages and free > sparse_ratio * pages:
                try:
                    self._db.execute("VACUUM")
                    vacuumed = True
                except sqlite3.OperationalError as exc:   # a reader elsewhere (kioskctl): next time
                    log.info("queue: vacuum postponed (%s)", exc)
        if gone or vacuumed:
            self._wal_dirty = True   # the file shrinks (and deleted rows leave the WAL) at the checkpoint
            self.empty_wal()
            log.info("queue: housekeeping removed %d old tombstone(s)%s", gone,
                     f", vacuumed {free} free page(s)" if vacuumed else "")
        return {"tombstones": gone, "vacuumed": vacuumed}

    def expire_dead_letters(self) -> int:
        """Purge the personal data of dead letters older than ``dead_letter_days``,
        keeping their tombstones (state ``expired``); returns how many."""
        cutoff = self._clock() - self.dead_letter_days * 86400
        with self._lock:
            expired = [r[0] for r in self._db.execute(
                "SELECT id FROM items WHERE state = 'dead' AND updated_at < ?", (cutoff,))]
            if not expired:
                return 0
            self._db.executemany("UPDATE items SET state = 'expired', payload = NULL, updated_at = ? WHERE id = ?",
                                 [(self._clock(), item_id) for item_id in expired])
        for item_id in expired:
            self._purge_scans(item_id)
        self.empty_wal(soon=True)
        log.warning("queue: %d dead letter(s) older than %g days lost their personal data (tombstones kept)",
                    len(expired), self.dead_letter_days)
        return len(expired)

    def mark_retry(self, item_id: str, error: str, next_attempt_at: float) -> None:
        self._update(item_id, "state = 'pending', last_error = ?, next_attempt_at = ?",
                     (error, next_attempt_at))

    def mark_dead(self, item_id: str, reason: str) -> None:
        self._update(item_id, "state = 'dead', last_error = ?", (reason,))

    def _update(self, item_id: str, assignments: str, params: tuple, db=None) -> None:
        """One bookkeeping change, committed without a flush unless ``db`` says otherwise."""
        with self._lock:
            (db or self._book).execute(f"UPDATE items SET {assignments}, updated_at = ? WHERE id = ?",
                                       (*params, self._clock(), item_id))

    # -- technician actions ----------------------------------------------
    def retry(self, item_id: str) -> Item:
        """Give a dead letter (or a waiting item) another go right now."""
        with self._lock:
            item = self.get(item_id)
            if item.state == "expired":
                raise QueueItemError(f"item {item.id} was refused and its personal data was purged after "
                                     f"{self.dead_letter_days:g} days; the resident must apply again")
            if item.state not in ("dead", "pending"):
                raise QueueItemError(f"item {item.id} is {item.state}; only dead or pending items can be retried")
            self._update(item.id, "state = 'pending', attempts = 0, next_attempt_at = ?", (self._clock(),),
                         db=self._db)
            return self.get(item.id)

    def purge(self, item_id: str) -> Item:
        """Drop a dead letter and its personal data for good."""
        with self._lock:
            item = self.get(item_id)
            if item.state != "dead":
                raise QueueItemError(f"item {item.id} is {item.state}; only dead letters can be purged"
                                     " (retry it, or wait until it is delivered)")
            self._db.execute("DELETE FROM items WHERE id = ?", (item.id,))
        shutil.rmtree(self.attachments_dir / item.id, ignore_errors=True)
        self.empty_wal(soon=True)
        return item

    def get(self, item_id: str) -> Item:
        """An item by id or by an unambiguous prefix of it (as shown by ``queue list``)."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE id LIKE ? LIMIT 2",
                                    (item_id.replace("%", "").replace("_", "") + "%",)).fetchall()
        if not rows or not item_id:
            raise QueueItemError(f"no queue item {item_id!r}")
        if len(rows) > 1:
            raise QueueItemError(f"{item_id!r} matches more than one item; give more of the id")
        return Item(*rows[0])

    def items(self, states: Iterable[str] = ("pending", "sending", "dead"), limit: int = 200) -> list[Item]:
        states = tuple(states)
        marks = ", ".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE state IN ({marks})"
                                    " ORDER BY seq LIMIT ?", (*states, limit)).fetchall()
        return [Item(*r) for r in rows]

    def stats(self, include_done: bool = False) -> dict[str, int]:
        """``depth`` (waiting or sending) and ``dead``, both counted from partial
        indexes so the sender can publish them cheaply; ``done`` on request
        (it counts every tombstone)."""
        with self._lock:
            depth = self._db.execute("SELECT COUNT(*) FROM items WHERE state IN ('pending', 'sending')"
                                     ).fetchone()[0]
            dead = self._db.execute("SELECT COUNT(*) FROM items WHERE state = 'dead'").fetchone()[0]
            stats = {"depth": depth, "dead": dead}
            if include_done:
                stats["done"] = self._db.execute("SELECT COUNT(*) FROM items WHERE state = 'done'").fetchone()[0]
        return stats

    # -- start-up ---------------------------------------------------------
    def _recover(self) -> None:
        """Undo what a crash may have left half-done.

        Tombstones older than ``TOMBSTONE_DAYS`` go, and dead letters past their
        retention lose their data.  An item caught ``sending`` is pending again (the platform deduplicates
        by its key); scan directories without an open item are leftovers of an
        enqueue that never committed or of an acknowledgement whose cleanup was
        cut short, and are deleted.
        """
        with self._lock:
            self._db.execute("UPDATE items SET state = 'pending' WHERE state = 'sending'")
            self._prune_tombstones()
            keep = {r[0] for r in self._db.execute(
                "SELECT id FROM items WHERE state IN ('pending', 'sending', 'dead')")}
        for entry in self.attachments_dir.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
        self.expire_dead_letters()
        self.empty_wal()  # a crash may have come between a purge and its checkpoint
