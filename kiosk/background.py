"""One-shot background work for the core's use cases: each runs in its own daemon
thread and answers through a :class:`concurrent.futures.Future`, so no caller (the
Kivy UI thread above all) ever waits for a device or the network."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, Callable

log = logging.getLogger(__name__)


def run_in_thread(work: Callable[[], Any], name: str) -> Future:
    """Start ``work()`` in a daemon thread (a hung platform call never holds up the
    kiosk's exit); its result or exception lands in the returned future.  A failure is
    logged for the technician with its class, never with the resident's data."""
    future: Future = Future()

    def body() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = work()
        except Exception as exc:
            log.warning("%s failed: %s: %s", name, exc.__class__.__name__, exc)
            future.set_exception(exc)
            return
        future.set_result(result)

    threading.Thread(target=body, name=name, daemon=True).start()
    return future
