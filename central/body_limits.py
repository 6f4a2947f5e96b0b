"""Cap request bodies per endpoint, before they are read into memory.

A pure ASGI middleware: a declared Content-Length over the cap is answered 413 at once, without
reading a byte; a body without one (chunked) is counted as it arrives and refused the moment it
passes the cap.  Caps are generous for what a kiosk really sends (docs/platform.md, "Limits").
"""
from __future__ import annotations

import json

from fastapi import HTTPException

KB, MB = 1024, 1024 * 1024
DEFAULT_CAP = 64 * KB
CAPS = {  # path -> bytes; every other path gets DEFAULT_CAP
    "/v1/applications": 16 * MB,          # scanned pages, base64
    "/v1/applications/batch": 32 * MB,    # a queue's backlog
    "/v1/identity/verify": 2 * MB,        # one face JPEG and the card's 1 KB photo
}


SUPPLEMENTS_CAP = 16 * MB                 # /v1/applications/{no}/supplements: scanned pages, like an application


def cap_for(path: str) -> int:
    path = path.rstrip("/") or "/"
    if path.startswith("/v1/applications/") and path.endswith("/supplements") and path.count("/") == 4:
        return SUPPLEMENTS_CAP
    return CAPS.get(path, DEFAULT_CAP)


def _too_large(cap: int) -> str:
    return f"the request body is larger than this endpoint accepts ({cap} bytes)"


async def _refuse(send, cap: int) -> None:
    body = json.dumps({"detail": _too_large(cap)}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = cap_for(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = cap + 1
                if declared > cap:
                    return await _refuse(send, cap)
        received = 0

        async def counting_receive():
            # FastAPI reads the body through this before validating it; its exception handler
            # answers the HTTPException (any other exception would become a 400)
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise HTTPException(413, _too_large(cap), headers={"Connection": "close"})
            return message

        await self.app(scope, counting_receive, send)
