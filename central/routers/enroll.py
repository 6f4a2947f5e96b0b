"""POST /v1/enroll: a one-time enrolment code for a per-kiosk token."""
from __future__ import annotations

import logging
import secrets
import time

from fastapi import APIRouter, Depends, HTTPException, Request

from central import limits, tokens
from central.deps import client_address, store_of
from central.platform_key import PlatformIdentity
from central.schemas import ERRORS, LIMITED, EnrollRequest, EnrollResponse, Problem
from central.storage import Store, new_token, token_hash

log = logging.getLogger("central.enroll")
router = APIRouter(tags=["kiosk"])


@router.post("/v1/enroll", response_model=EnrollResponse,
             responses={403: {"model": Problem, "description": "unknown code"},
                        410: {"model": Problem, "description": "code already used or expired"}, **LIMITED, **ERRORS})
def enroll(body: EnrollRequest, request: Request, store: Store = Depends(store_of)) -> EnrollResponse:
    """Exchange a one-time enrolment code for a per-kiosk token."""
    address = client_address(request)
    limits.check(store, limits.ENROLL_PER_CLIENT, address)
    try:
        return _enroll(body, store, request.app.state.platform_identity())
    except HTTPException as exc:
        if exc.status_code in (403, 410):  # a guessed, reused or stale code
            limits.fail(store, limits.ENROLL_PER_CLIENT, address, address)
        raise


def _enroll(body: EnrollRequest, store: Store, key: PlatformIdentity) -> EnrollResponse:
    """``key`` is loaded before the code is spent: a broken key must not cost the technician's code."""
    code = body.code.replace("-", "").upper()
    token = new_token()
    now = time.time()
    with store.write():
        row = store.one_for_update("SELECT * FROM enroll_codes WHERE code_hash = ?", (token_hash(code),))
        if row is None:
            raise HTTPException(403, "unknown enrolment code")
        if row["used_at"] is not None:
            raise HTTPException(410, "this enrolment code was already used")
        if row["expires_at"] < now:
            raise HTTPException(410, "this enrolment code has expired; ask for a new one")
        kiosk_id = body.kiosk_id or f"kiosk-{secrets.token_hex(4)}"
        store.execute("UPDATE enroll_codes SET used_at = ?, used_by = ? WHERE code_hash = ?",
                      (now, kiosk_id, row["code_hash"]))
        store.execute("INSERT INTO kiosks (kiosk_id, token_hash, region, hostname, enrolled_at) "
                      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kiosk_id) DO UPDATE SET "
                      "token_hash = excluded.token_hash, region = excluded.region, "
                      "hostname = excluded.hostname, enrolled_at = excluded.enrolled_at, revoked = 0",
                      (kiosk_id, token_hash(token), row["region"], body.hostname, now))
        tokens.record_token(store, kiosk_id, token, now)
    log.info("kiosk %s enrolled (region %s)", kiosk_id, row["region"])
    answer = {"kiosk_id": kiosk_id, "token": token, "region": row["region"],
              "menu_pubkeys": store.get_setting("menu_pubkeys", [])}
    return EnrollResponse(**answer, platform_key=key.public_b64, signature=key.sign_enrolment(body.challenge, answer))
