"""Answers of the core's use cases, handed to the Kivy main thread.

Every use case that waits for a device or the platform returns a
:class:`~concurrent.futures.Future` (``kiosk.core``); :func:`when_done` calls the
screen back on the main thread through ``Clock.schedule_once``, and drops the
answer if the resident's session ended meanwhile: a late answer must never land on
the next resident's screen.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any, Callable

from kivy.app import App
from kivy.clock import Clock

log = logging.getLogger(__name__)


def when_done(future: Future, on_done: Callable[[Any], None],
              on_error: Callable[[BaseException], None] | None = None, name: str = "worker") -> Future:
    """``on_done(result)`` or ``on_error(exc)`` on the main thread, for the session that
    was current when the work started (dropped after it ended)."""
    app = App.get_running_app()
    session = app.core.session if app is not None else None

    def on_main(_dt) -> None:
        current = App.get_running_app()
        if session is not None and (current is None or current.core.session is not session):
            log.info("%s: result dropped, the session ended", name)
            return
        if current is not None:
            current.touch_activity()   # the idle timer restarts when the answer is on the glass
        exc = future.exception()
        if exc is None:
            on_done(future.result())
        elif on_error is not None:
            on_error(exc)

    future.add_done_callback(lambda _f: Clock.schedule_once(on_main, 0))
    return future
