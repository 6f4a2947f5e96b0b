"""Run a request's work once per (kiosk, scope, Idempotency-Key); replay its answer afterwards.

The route-side half of idempotency: the keys themselves are kept by central.idempotency."""
from __future__ import annotations

import json
import time
from typing import Any, Callable

from fastapi import HTTPException, Response
from fastapi.responses import JSONResponse

from central.settings import Settings
from central.storage import Store, canonical_hash


def idempotent(store: Store, settings: Settings, kiosk_id: str, scope: str, key: str, body: Any,
               work: Callable[[], tuple[int, dict]]) -> Response:
    state, stored = store.claim_key(kiosk_id, scope, key, canonical_hash(body))
    if state == "mismatch":
        raise HTTPException(422, "Idempotency-Key was already used with a different body")
    if state == "processing":
        return JSONResponse({"detail": "a request with this Idempotency-Key is still being processed",
                             "retryable": True}, status_code=409, headers={"Retry-After": "1"})
    if state == "replay":
        status, response = stored
        return JSONResponse(response, status_code=status, headers={"Idempotent-Replayed": "true"})
    delay = settings.processing_delay()
    if delay > 0:
        time.sleep(delay)
    try:
        with store.write():
            status, response = work()
            # Serialised once, as JSONResponse would: the same text is stored for replays.
            text = json.dumps(response, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            store.finish_key(kiosk_id, scope, key, status, response, response_json=text)
    except BaseException:
        store.release_key(kiosk_id, scope, key)
        raise
    return Response(text.encode("utf-8"), status_code=status, media_type="application/json")
