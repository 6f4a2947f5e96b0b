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
"""
from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kiosk.logs import redactor


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
            self._temp_dir = Path(tempfile.mkdtemp(prefix="session-", dir=root))
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
