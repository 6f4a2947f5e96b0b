"""A tiny publish/subscribe bus between workers and the UI.

Devices, the offline queue and the platform poller publish from their own
threads; subscribers are called on the publishing thread.  The Kivy layer
subscribes once and re-posts every event to the main thread with
``Clock.schedule_once`` -- the core never touches the UI.  It lives in the
lowest layer because devices publish on it and must not import the kiosk.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    topic: str                 # e.g. "device.status", "device.idcard", "queue.connectivity"
    source: str = ""           # e.g. device role "id_reader"
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: list[tuple[str, Handler]] = []

    def subscribe(self, prefix: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every event whose topic starts with ``prefix``."""
        with self._lock:
            self._handlers.append((prefix, handler))

        def unsubscribe() -> None:
            with self._lock:
                if (prefix, handler) in self._handlers:
                    self._handlers.remove((prefix, handler))
        return unsubscribe

    def publish(self, topic: str, source: str = "", **data: Any) -> None:
        event = Event(topic, source, data)
        with self._lock:
            handlers = [h for p, h in self._handlers if topic.startswith(p)]
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # a bad subscriber must not kill a device thread
                log.exception("event handler failed for %s", topic)
