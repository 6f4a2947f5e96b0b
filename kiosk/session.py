"""The resident session: everything about the current resident, in one place.

A :class:`Session` is created when a resident starts (touches the attract
screen or places a card) and wiped when they finish, tap 结束, or walk away
(idle timeout).  Wiping clears every field, deletes the session's temporary
files (scans, face images, signatures) and tells the log redactor to forget
the resident's name.  Nothing personal outlives the session unless it was
handed to the offline queue, which encrypts it.

The idle logic is a plain state machine driven by ``tick(now)`` so it can be
tested without a display; the UI calls ``touch()`` on every touch and
``tick()`` from a Clock.

Session files (scans, signature) live in a RAM filesystem (:class:`SessionFiles`):
systemd's ``RuntimeDirectory`` (/run/kiosk, removed by systemd when the app
dies) or a private directory in /dev/shm.  Nothing of them reaches a disk, so
a power cut takes them; what a SIGKILL leaves in RAM is wiped when the kiosk
starts again, and an unhandled exception on the UI thread wipes the session
before the app goes down (:func:`wipe_after_crash`).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kiosk.logs import redactor

log = logging.getLogger(__name__)

RAM_FILESYSTEMS = ("tmpfs", "ramfs")
SHM = Path("/dev/shm")
SESSION_PREFIX = "session-"


class SessionStorageError(Exception):
    """No safe place for a resident's files; one line for a technician."""


def filesystem_type(path: Path) -> str:
    """The type of the filesystem ``path`` lives on (from /proc/self/mountinfo), or ""."""
    target = os.path.realpath(path)
    best, fstype = "", ""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
            for line in mounts:
                left, _, right = line.partition(" - ")
                mount_point = left.split()[4].replace("\\040", " ")
                inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) >= len(best):
                    best, fstype = mount_point, right.split()[0]
    except (OSError, IndexError):
        return ""
    return fstype


class SessionFiles:
    """Where this kiosk's session directories live, and the wipe of what a crash left.

    One root per data_dir (two dev kiosks on one machine, or tests running
    side by side, never wipe each other's sessions).  The root is resolved,
    checked and emptied of leftovers once, on first use, under a lock: the UI
    may begin a session while the core is still starting.
    """

    def __init__(self, config):
        self.data_dir = Path(config.data_dir)
        self.production = config.is_production
        self._root: Path | None = None
        self._lock = threading.Lock()

    def candidates(self) -> list[Path]:
        """RAM directories to try, best first."""
        found = []
        runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
        if runtime:
            found.append(Path(runtime) / "sessions")
        tag = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        found.append(SHM / f"kiosk-{os.geteuid()}-{tag}")
        return found

    @property
    def root(self) -> Path:
        return self.prepare()

    def prepare(self) -> Path:
        """Resolve the root and wipe what a crash left there (once); returns the root."""
        with self._lock:
            if self._root is None:
                self._root = self._resolve()
                for stale in {self._root, self.data_dir / "sessions"}:
                    wipe_leftovers(stale)
            return self._root

    def _resolve(self) -> Path:
        for candidate in self.candidates():
            if candidate.parent.is_dir() and filesystem_type(candidate.parent) in RAM_FILESYSTEMS:
                return _private_dir(candidate)
        if self.production:
            raise SessionStorageError(
                "no RAM filesystem (tmpfs) for residents' session files: run the kiosk under "
                "kiosk.service (RuntimeDirectory=kiosk) or mount /dev/shm; scans are never kept on disk")
        fallback = self.data_dir / "sessions"
        log.warning("no tmpfs for session files; development kiosk keeps them in %s", fallback)
        return fallback

    def release(self) -> None:
        """On shutdown: wipe whatever is left and drop the (empty) root."""
        with self._lock:
            if self._root is not None:
                wipe_leftovers(self._root)
                with contextlib.suppress(OSError):
                    self._root.rmdir()
                self._root = None


def _private_dir(path: Path) -> Path:
    """``path`` as a directory only we can enter; refuse one someone else planted."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise SessionStorageError(f"{path} is not a private directory of this user (planted?); "
                                  "not keeping residents' files there")
    return path


def wipe_leftovers(root: Path) -> int:
    """Delete session directories under ``root`` (left by a crash); returns how many."""
    try:
        stale = [entry for entry in root.iterdir() if entry.name.startswith(SESSION_PREFIX)]
    except FileNotFoundError:
        return 0
    for entry in stale:
        shutil.rmtree(entry, ignore_errors=True)
    if stale:
        log.warning("wiped %d session director%s left by a crash", len(stale), "y" if len(stale) == 1 else "ies")
    return len(stale)


def wipe_after_crash(core) -> None:
    """An unhandled exception is about to end the app: wipe the resident's session
    first, whatever else is broken, so no restart path can find their files."""
    try:
        core.end_session()
    except Exception:  # the wipe must go on even if a subscriber of session.ended is the bug
        log.exception("ending the session after a crash failed; deleting its files directly")
        session, core.session = core.session, None
        if session is not None:
            session.wipe()


class Session:
    def __init__(self, temp_root: Path | None = None, language: str = "zh_CN",
                 elder_mode: bool = False):
        self.id = uuid.uuid4().hex
        self.started = time.time()
        self.language = language
        self.elder_mode = elder_mode
        self.card: Any = None                 # devices.idcard.IdCard once read
        self.face_image: bytes | None = None  # best face frame (JPEG) for 人证核验
        self.identity_verified = False
        self.presence_grant: str | None = None  # the platform's proof of presence (kiosk.platform)
        self.service_id: str | None = None
        self.form: dict[str, Any] = {}
        self.materials: dict[str, list[Path]] = {}
        self.signature: Path | None = None
        self.delivery: dict[str, Any] = {}
        self.application: dict[str, Any] = {}  # platform / queue result, receipt data
        self.contact_on_record: dict[str, str] = {}  # 材料复用: phone / address the platform holds
        self._temp_root = temp_root
        self._temp_dir: Path | None = None
        self.wiped = False

    @property
    def temp_dir(self) -> Path:
        """A private directory (mode 0700) for this session's files; wiped with it."""
        if self._temp_dir is None:
            root = self._temp_root
            if root is not None:
                root.mkdir(parents=True, exist_ok=True)
            self._temp_dir = Path(tempfile.mkdtemp(prefix=SESSION_PREFIX, dir=root))
        return self._temp_dir

    def set_card(self, card: Any) -> None:
        self.card = card
        redactor.protect(getattr(card, "name", None), getattr(card, "english_name", None),
                         getattr(card, "address", None))

    def wipe(self) -> None:
        """Forget the resident: clear every field and delete temporary files."""
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
        self.card = None
        self.face_image = None
        self.identity_verified = False
        self.presence_grant = None
        self.service_id = None
        self.form = {}
        self.materials = {}
        self.signature = None
        self.delivery = {}
        self.application = {}
        self.contact_on_record = {}
        redactor.clear()
        self.wiped = True


@dataclass
class IdleTimer:
    """Inactivity → visible countdown → timeout.

    ``tick`` returns the state: "active", "countdown" (with ``remaining``
    seconds to show) or "expired" (exactly once; the caller wipes the session).
    """
    idle_s: float
    countdown_s: float
    clock: Callable[[], float] = time.monotonic
    last_touch: float = field(default=0.0)
    expired: bool = False

    def __post_init__(self) -> None:
        self.last_touch = self.clock()

    def touch(self) -> None:
        self.last_touch = self.clock()
        self.expired = False

    def remaining(self) -> float:
        return max(0.0, self.idle_s + self.countdown_s - (self.clock() - self.last_touch))

    def tick(self) -> str:
        if self.expired:
            return "expired"
        idle = self.clock() - self.last_touch
        if idle < self.idle_s:
            return "active"
        if idle < self.idle_s + self.countdown_s:
            return "countdown"
        self.expired = True
        return "expired"
