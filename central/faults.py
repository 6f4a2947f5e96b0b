"""Fault injection for tests: latency, 5xx, 429/503 with Retry-After, cut connections.

Only a server started for tests has it (central.testing.run_server, or
``central serve --faults-file``): a plain ``central serve`` has neither the
middleware nor the admin routes.  Faults apply to requests whose path starts
with one of ``paths`` (default ``/v1/``).  They come from, in order of precedence:

* ``PUT /admin/faults`` (JSON body = the fields below) with the header
  ``X-Admin-Token`` = the admin credential;
* a JSON file given with ``central serve --faults-file PATH``, re-read
  whenever its modification time changes (tests rewrite it while the
  server runs);
* the ``Faults`` object passed to ``central.testing.run_server``.

Fields (all optional)::

    latency_s         added delay before every matching request
    error_rate        probability of answering ``error_status`` instead
    error_status      500, 503, 429 ... (default 503)
    retry_after       Retry-After sent with error responses: seconds (number)
    retry_after_date  true: send Retry-After as an HTTP date ``retry_after`` s ahead
    drop_rate         probability of cutting the connection before handling
    drop_after_rate   probability of handling the request (committing it!)
                      and then cutting the connection before the answer --
                      the case that makes idempotency keys necessary
    fail_next         the next N matching requests get ``error_status``
    processing_delay_s  delay while an Idempotency-Key is held "processing"
    paths             path prefixes the faults apply to
    seed              seed of the random draws (reproducible runs)

A "cut" connection sends a status line and headers that promise a body, then
closes the socket: the client sees an incomplete response, as when a mobile
link drops mid-answer.
"""
from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

log = logging.getLogger("central.faults")


@dataclass
class Faults:
    latency_s: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    retry_after: float | None = None
    retry_after_date: bool = False
    drop_rate: float = 0.0
    drop_after_rate: float = 0.0
    fail_next: int = 0
    processing_delay_s: float = 0.0
    paths: list[str] = field(default_factory=lambda: ["/v1/"])
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "Faults":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
        faults = cls(**data)
        for name in ("error_rate", "drop_rate", "drop_after_rate"):
            value = getattr(faults, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if not 400 <= int(faults.error_status) <= 599:
            raise ValueError("error_status must be a 4xx or 5xx status")
        return faults

    def to_dict(self) -> dict:
        return asdict(self)


class FaultInjector:
    """Holds the active faults; decides, per request, what goes wrong."""

    def __init__(self, faults: Faults | None = None, file: str | Path | None = None):
        self._lock = threading.Lock()
        self._faults = faults or Faults()
        self._rng = random.Random(self._faults.seed)
        self._file = Path(file) if file else None
        self._file_mtime: float | None = None

    def set(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def current(self) -> Faults:
        self._reload_file()
        with self._lock:
            return self._faults

    def _reload_file(self) -> None:
        if self._file is None:
            return
        try:
            mtime = self._file.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._file_mtime:
            return
        self._file_mtime = mtime
        if mtime is None:
            self.set(Faults())
            return
        try:
            self.set(Faults.from_dict(json.loads(self._file.read_text() or "{}")))
            log.info("faults reloaded from %s", self._file)
        except (ValueError, TypeError) as exc:  # keep the previous faults, say why
            log.error("ignoring faults file %s: %s", self._file, exc)

    def decide(self, path: str) -> tuple[str | None, Faults]:
        """``(None | "error" | "drop" | "drop_after", faults)`` for one request."""
        faults = self.current()
        if not any(path.startswith(p) for p in faults.paths):
            return None, faults
        with self._lock:
            if self._faults.fail_next > 0:
                self._faults.fail_next -= 1
                return "error", faults
            draw = self._rng.random()
        if draw < faults.drop_rate:
            return "drop", faults
        draw -= faults.drop_rate
        if draw < faults.error_rate:
            return "error", faults
        draw -= faults.error_rate
        if draw < faults.drop_after_rate:
            return "drop_after", faults
        return None, faults

    def processing_delay(self) -> float:
        return self.current().processing_delay_s


def _retry_after_header(faults: Faults) -> list[tuple[bytes, bytes]]:
    if faults.retry_after is None:
        return []
    if faults.retry_after_date:
        value = email.utils.formatdate(time.time() + faults.retry_after, usegmt=True)
    else:
        value = str(int(faults.retry_after)) if float(faults.retry_after).is_integer() else str(faults.retry_after)
    return [(b"retry-after", value.encode("ascii"))]


async def _cut(send) -> None:
    """Promise a body, send none, return: uvicorn then closes the connection."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})


class FaultMiddleware:
    """Pure ASGI middleware, so a cut happens at the connection, below FastAPI."""

    def __init__(self, app, injector: FaultInjector):
        self.app = app
        self.injector = injector

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        decision, faults = self.injector.decide(scope["path"])
        matching = any(scope["path"].startswith(p) for p in faults.paths)
        if matching and faults.latency_s > 0:
            await asyncio.sleep(faults.latency_s)
        if decision == "drop":
            return await _cut(send)
        if decision == "error":
            body = json.dumps({"detail": f"injected fault: {faults.error_status}"}).encode()
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())] + _retry_after_header(faults)
            await send({"type": "http.response.start", "status": int(faults.error_status), "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if decision == "drop_after":
            async def swallow(message):
                return None
            await self.app(scope, receive, swallow)
            return await _cut(send)
        await self.app(scope, receive, send)
