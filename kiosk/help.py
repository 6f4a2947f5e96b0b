"""One-touch 帮助 that reaches a person, and tells the resident only what is true.

:meth:`HelpDesk.ask` (behind ``KioskCore.ask_for_help``):

1. rings the kiosk's own bell or light, if one is configured (``[help] local_alert_command``: an
   argv run without a shell, with a timeout, in a worker; it learns the screen and the request id
   from ``KIOSK_HELP_SCREEN`` / ``KIOSK_HELP_REQUEST_ID``, nothing about the resident);
2. puts the request -- request id, screen name, kiosk clock, centre; no personal data -- in the
   durable offline queue (kind ``help``, sent before any backlog; the request id is the queue
   item's id, so it reaches the platform exactly once, also after an outage or a restart);
3. waits up to ``[help] delivery_wait_s`` for the platform to acknowledge *receipt*, and answers
   :data:`DELIVERED` or :data:`PENDING` (not yet: the screen gives the hotline and the service
   desk) -- or :data:`FAILED` (the queue refused to store it, or the platform refused it);
4. then watches in a worker while the resident's help panel is up: a later delivery publishes
   ``help.state`` with ``state=delivered``; staff's acknowledgement (``GET /v1/help/{id}``, every
   ``poll_interval_s``) publishes ``state=acknowledged`` (工作人员正在赶来).  :meth:`stop_watching`
   (the panel closed) ends the watch; the queue still delivers the request.

Events: ``help.state`` from source ``core`` with ``request_id`` and ``state``.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import threading
import time
import uuid
from concurrent.futures import Future

from common.worker import Worker
from kiosk.background import run_in_thread
from kiosk.platform import PlatformError

log = logging.getLogger(__name__)

SENDING, DELIVERED, PENDING, ACKNOWLEDGED, FAILED = "sending", "delivered", "pending", "acknowledged", "failed"
TOPIC = "help.state"

# What the resident is told in each state: screens/help_panel.py.


class HelpDesk:
    """The kiosk's side of help requests; one watched request at a time."""

    def __init__(self, core):
        self.core = core
        self._lock = threading.Lock()
        self._watch: Worker | None = None
        self.current: str | None = None       # the request id being watched
        self.state: str | None = None

    @property
    def settings(self):
        return self.core.config.help

    # -- the use case -------------------------------------------------------------------------
    def ask(self, screen: str) -> tuple[str, str]:
        """Blocking (a worker's): ring locally, queue the request, wait briefly for delivery.
        Returns ``(request_id, state)``; the watch for later news has started."""
        self.stop_watching()
        request_id = str(uuid.uuid4())
        with self._lock:
            self.current, self.state = request_id, SENDING
        self.ring_local_alert(screen, request_id)
        sender = self.core.sender
        payload = {"request_id": request_id, "screen": screen,
                   "requested_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                   "centre": self.core.config.kiosk.centre_name}
        try:
            if sender is None:
                raise RuntimeError("the offline queue is not running")
            sender.enqueue("help", payload, item_id=request_id)
        except Exception as exc:  # QueueFullError, a broken queue: the truth is "not sent"
            log.error("help request %s could not be queued: %s", request_id, type(exc).__name__)
            self._publish(request_id, FAILED)
            return request_id, FAILED
        log.info("help requested on screen %s (request %s)", screen, request_id)
        state = self._delivery(sender.wait_for(request_id, self.settings.delivery_wait_s))
        self._publish(request_id, state)
        if state in (PENDING, DELIVERED):
            self._start_watch(request_id)
        return request_id, state

    @staticmethod
    def _delivery(outcome: dict | None) -> str:
        if outcome is None:
            return PENDING
        if outcome.get("state") == "done":
            return ACKNOWLEDGED if (outcome.get("response") or {}).get("status") == "acknowledged" else DELIVERED
        return FAILED

    def stop_watching(self) -> None:
        """The help panel closed: stop looking for news (the queue still delivers the request)."""
        with self._lock:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop(timeout=0.5)

    # -- the watch --------------------------------------------------------------------------------
    def _start_watch(self, request_id: str) -> None:
        watch = Worker(f"help-watch-{request_id[:8]}", lambda stop: self._watch_loop(request_id, stop))
        with self._lock:
            self._watch = watch
        watch.start()

    def _watch_loop(self, request_id: str, stop: threading.Event) -> None:
        settings, sender = self.settings, self.core.sender
        deadline = time.monotonic() + settings.watch_max_s
        while self.state == PENDING and not stop.is_set() and time.monotonic() < deadline:
            state = self._delivery(sender.wait_for(request_id, 0.5))
            if state != PENDING:
                self._publish(request_id, state, stop)
        while self.state == DELIVERED and not stop.is_set() and time.monotonic() < deadline:
            if stop.wait(settings.poll_interval_s):
                return
            try:
                answer = self.core.platform.help_status(request_id)
            except PlatformError as exc:
                log.info("help request %s: status not known yet (%s)", request_id, type(exc).__name__)
                continue
            if answer.get("status") == "acknowledged":
                self._publish(request_id, ACKNOWLEDGED, stop)

    def _publish(self, request_id: str, state: str, stop: threading.Event | None = None) -> None:
        with self._lock:
            if self.current != request_id or (stop is not None and stop.is_set()):
                return  # a newer request, or the panel closed: this news is for no one
            self.state = state
        self.core.bus.publish(TOPIC, "core", request_id=request_id, state=state)

    # -- the local bell or light ------------------------------------------------------------
    def ring_local_alert(self, screen: str, request_id: str) -> Future | None:
        """Run ``[help] local_alert_command`` (if any) in a worker; the future answers its exit
        status (None: timed out or could not start).  Never blocks the caller."""
        argv = list(self.settings.local_alert_command)
        if not argv:
            return None
        timeout = self.settings.local_alert_timeout_s
        env = {**os.environ, "KIOSK_HELP_SCREEN": screen, "KIOSK_HELP_REQUEST_ID": request_id,
               "KIOSK_ID": self.core.config.kiosk.id}

        def run() -> int | None:
            try:
                done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                log.warning("help: local alert %s did not finish within %.1f s", argv[0], timeout)
                return None
            except OSError as exc:
                log.warning("help: local alert %s cannot run: %s", argv[0], exc.strerror or type(exc).__name__)
                return None
            if done.returncode != 0:
                log.warning("help: local alert %s exited with %d: %s", argv[0], done.returncode,
                            done.stderr.decode("utf-8", "replace")[-200:].strip())
            return done.returncode
        return run_in_thread(run, "help-local-alert")

