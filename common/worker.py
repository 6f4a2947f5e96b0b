"""One background thread with a stop event: the shape of every service loop
(queue sender, heartbeat, menu poller, device supervisor, platform housekeeping).

The loop receives the stop event and sleeps with ``stop.wait(seconds)`` so
``stop()`` ends it at once instead of after its current sleep.
"""
from __future__ import annotations

import threading
from typing import Callable


class Worker:
    """``Worker(name, loop)``: ``start()`` runs ``loop(stop_event)`` in a daemon thread
    (again after a ``stop()``), ``stop()`` sets the event, calls ``wake`` and joins."""

    def __init__(self, name: str, loop: Callable[[threading.Event], None],
                 wake: Callable[[], None] | None = None):
        self.name = name
        self.stop_event = threading.Event()
        self._loop = loop
        self._wake = wake
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self.stop_event.clear()
        self._thread = threading.Thread(target=self._loop, args=(self.stop_event,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end and wait up to ``timeout`` s (never for itself:
        a loop may stop its own worker)."""
        self.stop_event.set()
        if self._wake is not None:
            self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
