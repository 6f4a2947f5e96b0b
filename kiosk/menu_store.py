"""The installed menu: verified updates, atomic install, last good kept, applied between residents.

On disk (``data_dir/menus``)::

    current.bundle   the newest accepted bundle, exactly as signed
    previous.bundle  the one before it (the last good copy if current is damaged)
    state.json       high-water mark {version, sha256} and the ETag of current

A bundle is installed only after :func:`kiosk.menu_bundle.verify_bundle`
accepted it (signature by a pinned key, region, expiry, newer than the
high-water mark).  The new file is written to a temporary name, fsynced and
renamed over ``current.bundle`` after the old one became ``previous.bundle``,
so a power cut at any point leaves at least one good menu.  A resident in the
middle of a session keeps the menu they started with: the new one waits in
``pending`` and becomes active on ``session.ended`` (or at once when nobody
is at the kiosk).  Rejections leave everything as it was.

The poller asks the platform with If-None-Match on a jittered interval so a
fleet that came back from an outage together does not poll in step.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Callable

from common.files import fsync_dir, stage, write_atomic
from common.worker import Worker
from common.events import Event, EventBus
from kiosk.config import Config, ConfigError
from kiosk import menu_glance
from kiosk.menu import Menu
from kiosk.menu_bundle import BundleError, VerifiedBundle, pinned_keys, verify_bundle
from kiosk.platform import FinalError, PlatformError, RetryableError

log = logging.getLogger(__name__)

DEV_PUBKEY_FILE = Path(__file__).resolve().parent.parent / "assets" / "menus" / "dev" / "dev-menu.pub"
FIRST_POLL_MAX_S = 30.0  # first check soon after start, spread over this window
JITTER = 0.2             # each interval is ±20 %


class MenuStore:
    def __init__(self, config: Config, bus: EventBus,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
                 rng: random.Random | None = None):
        self.dir = config.data_dir / "menus"
        self.seed_path = config.path(config.menu.bundle)
        self.region: str = config.kiosk.region
        self.max_bytes: int = config.menu.max_bundle_bytes
        self.interval_s = float(config.menu.poll_interval_s)
        try:
            self.keys = pinned_keys(self._trusted_pubkeys(config))
        except ValueError as exc:
            raise ConfigError(f"{config.source}: [menu] pubkeys: {exc}") from None
        self.bus = bus
        self._now = now
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.menu: Menu | None = None              # what residents see now
        self.pending: VerifiedBundle | None = None  # installed, waiting for the session to end
        self.stale = False                          # running on an expired menu (updates failing?)
        self.last_rejection: BundleError | None = None
        self.last_check: float | None = None        # time.time() of the last answered poll
        self._high = {"version": 0, "sha256": None}
        self._etag: str | None = None
        self._rejected_etag: str | None = None      # kept in memory only: a restart retries once
        self._in_session = False
        self._none_published = False                # the last poll found no menu (logged once per change)
        self._poller: Worker | None = None
        bus.subscribe("session.", self._on_session)

    @staticmethod
    def _trusted_pubkeys(config: Config) -> list[str]:
        """The pinned keys; in production the DEV ONLY key is dropped whatever the config says."""
        keys = list(config.menu.pubkeys)
        if len(keys) > 2:
            log.warning("menu: %d keys pinned; only two are expected (old and new during a rotation)", len(keys))
        if config.is_production and DEV_PUBKEY_FILE.exists():
            dev = DEV_PUBKEY_FILE.read_text().strip()
            if dev in keys:
                log.error("menu: the DEV ONLY signing key is pinned on a production kiosk; ignoring it")
                keys.remove(dev)
        return keys

    # -- start-up -------------------------------------------------------------------------
    def load(self) -> Menu | None:
        """Activate the best menu on disk: current, else previous, else the one shipped with the software."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._read_state()
        for path in (self.dir / "current.bundle", self.dir / "previous.bundle", self.seed_path):
            if not path.exists():
                continue
            try:
                verified = verify_bundle(path.read_bytes(), self.keys, self.region, max_bytes=self.max_bytes,
                                         now=self._now(), allow_expired=True)
            except (BundleError, OSError) as exc:
                log.error("menu: %s unusable: %s", path.name, exc)
                continue
            with self._lock:
                self.menu = verified.menu
                if verified.version > self._high["version"]:
                    self._high = {"version": verified.version, "sha256": verified.payload_sha256}
                self.stale = self._now() >= verified.menu.expires
            log.info("menu: version %d active (from %s)", verified.version, path.name)
            if self.stale:
                log.warning("menu: version %d expired at %s; still shown until a newer one arrives",
                            verified.version, verified.menu.expires.isoformat())
                self.bus.publish("menu.stale", "menu", version=verified.version)
            self._changed(verified.version)
            return self.menu
        log.error("menu: no usable menu on disk; services are unavailable until one is received")
        self.bus.publish("menu.unavailable", "menu")
        return None

    def _read_state(self) -> None:
        try:
            state = json.loads((self.dir / "state.json").read_text())
            self._high = {"version": int(state["version"]), "sha256": state.get("sha256")}
            self._etag = state.get("etag")
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, OSError) as exc:
            log.error("menu: state.json unreadable (%s); the high-water mark restarts from the menu on disk", exc)

    # -- updates ------------------------------------------------------------------------
    def offer(self, data: bytes, etag: str | None = None) -> str:
        """Verify and install ``data``: "installed", "pending" (a session is running), "unchanged",
        or "install_failed" (disk trouble; nothing changed, the next poll tries again).

        Raises BundleError (the installed and active menus untouched).
        """
        with self._lock:
            high = dict(self._high)
        try:
            verified = verify_bundle(data, self.keys, self.region, installed_version=high["version"],
                                     installed_sha256=high["sha256"], now=self._now(), max_bytes=self.max_bytes)
        except BundleError as exc:
            self.last_rejection = exc
            log.warning("menu: update rejected (%s): %s", exc.code, exc)
            self.bus.publish("menu.rejected", "menu", code=exc.code, reason=str(exc))
            raise
        if self.menu is not None and verified.payload_sha256 == high["sha256"] \
                and self.menu.version == verified.version:
            self._save_state(etag)
            return "unchanged"
        try:
            self._install_files(data)
            with self._lock:
                self._high = {"version": verified.version, "sha256": verified.payload_sha256}
                self.last_rejection = None
            self._save_state(etag)
        except OSError as exc:  # disk full or read-only: keep running on what is active, retry next poll
            log.error("menu: cannot install version %d: %s", verified.version, exc)
            self.bus.publish("menu.install_failed", "menu", version=verified.version, reason=str(exc))
            return "install_failed"
        log.info("menu: version %d installed (key %s)", verified.version, verified.key_id)
        with self._lock:
            if self._in_session:
                self.pending = verified
                result = "pending"
            else:
                self._activate(verified)
                result = "installed"
        self.bus.publish("menu.installed", "menu", version=verified.version, active=result == "installed")
        if result == "installed":
            self._changed(verified.version)
        return result

    def _install_files(self, data: bytes) -> None:
        current, previous = self.dir / "current.bundle", self.dir / "previous.bundle"
        self.dir.mkdir(parents=True, exist_ok=True)
        incoming = stage(current, data)
        if current.exists():
            os.replace(current, previous)  # a crash here leaves previous, which load() falls back to
        os.replace(incoming, current)
        fsync_dir(self.dir)

    def _save_state(self, etag: str | None) -> None:
        if etag:
            self._etag = etag
        state = dict(self._high, etag=self._etag)
        write_atomic(self.dir / "state.json", json.dumps(state).encode())

    def _activate(self, verified: VerifiedBundle) -> None:
        """Caller holds the lock."""
        self.menu = verified.menu
        self.pending = None
        self.stale = False

    def _changed(self, version: int) -> None:
        """A new menu is active: cache the home screen's glance of it (drawn in the next
        start's first frame), announce it, then build its pinyin search index in the
        background (pypinyin's import is ~0.4 s: not before the categories are shown)."""
        menu = self.menu
        if menu is not None:
            menu_glance.save(self.dir.parent, menu)
        self.bus.publish("menu.changed", "menu", version=version)
        if menu is not None:
            threading.Thread(target=menu.prepare_search, name="menu-search-index", daemon=True).start()

    def apply_pending(self) -> bool:
        """Switch to a waiting menu; only ever called between residents."""
        with self._lock:
            verified = self.pending
            if verified is None:
                return False
            self._activate(verified)
        log.info("menu: version %d now active", verified.version)
        self._changed(verified.version)
        return True

    def _on_session(self, event: Event) -> None:
        if event.topic == "session.started":
            with self._lock:
                self._in_session = True
        elif event.topic == "session.ended":
            with self._lock:
                self._in_session = False
            self.apply_pending()

    # -- polling ------------------------------------------------------------------------
    def poll_once(self, client) -> str:
        """One conditional GET; returns "not_modified", "none_published", "rejected" or offer()'s result.

        Network trouble propagates as RetryableError for the loop to wait on.
        """
        try:
            data, etag = client.get_menu(self._etag)
        except FinalError as exc:
            if exc.status == 404:
                self.last_check = time.time()
                if not self._none_published:   # once per state change, not once per poll
                    self._none_published = True
                    log.warning("menu: the platform has no published menu; keeping version %s",
                                self.menu.version if self.menu else "none")
                return "none_published"
            raise
        self.last_check = time.time()
        if self._none_published:
            self._none_published = False
            log.info("menu: the platform publishes a menu again")
        if data is None or (etag and etag == self._rejected_etag):
            return "not_modified"
        try:
            return self.offer(data, etag)
        except BundleError:
            self._rejected_etag = etag
            return "rejected"

    def start_polling(self, client) -> None:
        if self._poller is not None:
            return
        self._poller = Worker("menu-poller", lambda stopping: self._poll_loop(client, stopping))
        self._poller.start()

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None

    def next_delay(self, retry_after: float | None = None) -> float:
        delay = self.interval_s * self._rng.uniform(1 - JITTER, 1 + JITTER)
        return max(delay, retry_after or 0.0)

    def _poll_loop(self, client, stopping: threading.Event) -> None:
        delay = self._rng.uniform(0, min(self.interval_s, FIRST_POLL_MAX_S))
        while not stopping.wait(delay):
            retry_after = None
            try:
                self.poll_once(client)
            except RetryableError as exc:
                retry_after = exc.retry_after
                log.info("menu: poll failed, will retry: %s", exc)
            except PlatformError as exc:
                log.warning("menu: poll refused: %s", exc)
            except Exception:  # the poller must outlive any surprise
                log.exception("menu: poll crashed")
            delay = self.next_delay(retry_after)

    def status(self) -> dict:
        """For the heartbeat and the maintenance screen."""
        with self._lock:
            return {"version": self.menu.version if self.menu else None,
                    "pending_version": self.pending.version if self.pending else None,
                    "stale": self.stale, "last_check": self.last_check,
                    "last_rejection": self.last_rejection.code if self.last_rejection else None}
