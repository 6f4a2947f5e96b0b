"""POST /v1/heartbeat: kiosk health, and the hand-over of a new kiosk token before the old expires."""
from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, Depends

from central import tokens
from central.deps import KioskAuth, kiosk_auth, store_of
from central.intake import iso
from central.schemas import ERRORS, HeartbeatRequest, HeartbeatResponse
from central.storage import Store

log = logging.getLogger("central.heartbeat")
router = APIRouter(tags=["kiosk"])

# Heartbeat history: a sample when something changed (queue depth, dead letters, devices in
# fault, a restart) or HISTORY_EVERY_S after the last one; with 60 s heartbeats that is about
# one row in five, and a gap longer than admin.STALE_HEARTBEAT_S between samples is a silence.
HISTORY_EVERY_S = 300.0
_COUNT_CAP = 2**31 - 1  # queue counts are unbounded in the contract; a history column is not


@router.post("/v1/heartbeat", response_model=HeartbeatResponse, response_model_exclude_none=True,
             responses=ERRORS)
def heartbeat(body: HeartbeatRequest, auth: KioskAuth = Depends(kiosk_auth), store: Store = Depends(store_of)):
    """Kiosk health: devices, queue depth and dead letters, menu version, free disk.  Near the
    token's expiry the answer carries the kiosk's next token."""
    kiosk_id = auth.kiosk_id
    if body.kiosk_id != kiosk_id:
        log.warning("heartbeat from %s names itself %r; recorded under the token's kiosk", kiosk_id, body.kiosk_id)
    now = time.time()
    payload = json.dumps(body.model_dump(mode="json"), ensure_ascii=False)
    sample = history_sample(store, kiosk_id, body, now)
    with store.write(durable=False):  # the next heartbeat replaces it anyway
        store.execute("UPDATE kiosks SET last_seen = ?, last_heartbeat = ? WHERE kiosk_id = ?",
                      (now, payload, kiosk_id))
        if sample is not None:
            store.execute("INSERT INTO heartbeats (kiosk_id, received_at, queue_depth, dead, faults, uptime_s) "
                          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kiosk_id, received_at) DO NOTHING", sample)
    new_token = tokens.rotate_if_due(store, kiosk_id, auth.token, now)
    if new_token:
        log.info("kiosk %s handed a new token", kiosk_id)
    return HeartbeatResponse(server_time=iso(now), token=new_token, token_expires_at=iso(auth.token["expires_at"]))


def history_sample(store: Store, kiosk_id: str, body: HeartbeatRequest, now: float) -> tuple | None:
    """The history row for this heartbeat, or None when it adds nothing (see HISTORY_EVERY_S).
    The last sample is read from the database: any worker process may take the next beat."""
    depth, dead = min(body.queue.depth, _COUNT_CAP), min(body.queue.dead, _COUNT_CAP)
    faults = sum(1 for d in body.devices.values() if d.state.upper() in ("FAULT", "DISCONNECTED"))
    last = store.one("SELECT received_at, queue_depth, dead, faults, uptime_s FROM heartbeats WHERE kiosk_id = ? "
                     "ORDER BY received_at DESC LIMIT 1", (kiosk_id,))
    if (last is not None and now - last["received_at"] < HISTORY_EVERY_S
            and (last["queue_depth"], last["dead"], last["faults"]) == (depth, dead, faults)
            and body.uptime_s >= last["uptime_s"]):
        return None
    return (kiosk_id, now, depth, dead, faults, body.uptime_s)
