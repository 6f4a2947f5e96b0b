"""Proof of presence: 人证核验 (card + live face) and a receipt's pickup code with the card's ID
number.  Each success issues a presence grant (central.grants); each failure counts against the
kiosk and the resident key (central.limits)."""
from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid

from fastapi import APIRouter, Depends, HTTPException

from central import audit, grants, identity, limits
from central.deps import kiosk, store_of
from central.schemas import ERRORS, LIMITED, GrantResponse, IdentityRequest, IdentityResponse, PickupGrantRequest, Problem
from central.storage import Store

log = logging.getLogger("central.identity")
router = APIRouter(tags=["kiosk"])

PICKUP_VALID_S = 90 * 86400.0  # a document not collected within this is collected at a counter


@router.post("/v1/identity/verify", response_model=IdentityResponse, responses={**LIMITED, **ERRORS})
def verify_identity(body: IdentityRequest, kiosk_id: str = Depends(kiosk), store: Store = Depends(store_of)):
    """人证核验: does the live face belong to the card holder?  On a match the answer carries a
    presence grant for this resident at this kiosk.  (Reference matcher: see docs.)"""
    resident_key = store.resident_key(body.card.id_number.strip())
    limits.check(store, limits.IDENTITY_PER_KIOSK, kiosk_id)
    limits.check(store, limits.IDENTITY_PER_RESIDENT, resident_key)
    try:
        face = base64.b64decode(body.face_jpeg_b64, validate=True)
        wlt = base64.b64decode(body.photo_wlt_b64, validate=True) if body.photo_wlt_b64 else None
    except (binascii.Error, ValueError):
        result = identity.MatchResult(False, 0.0, "an image is not valid base64")
    else:
        result = identity.reference_match(wlt, face)
    verification_id = uuid.uuid4().hex
    grant = None
    with store.write():
        store.execute("INSERT INTO verifications (verification_id, kiosk_id, resident_key, matched, score, "
                      "created_at) VALUES (?,?,?,?,?,?)",
                      (verification_id, kiosk_id, resident_key, int(result.match), result.score, time.time()))
        if result.match:
            grant = grants.issue(store, kiosk_id, resident_key, grants.IDENTITY)
    if not result.match:
        limits.fail(store, limits.IDENTITY_PER_KIOSK, kiosk_id, kiosk_id)
        limits.fail(store, limits.IDENTITY_PER_RESIDENT, resident_key, kiosk_id)
    audit.record(store, kiosk_id, "identity check", resident_key, verification_id,
                 outcome="granted" if result.match else "no match")
    log.info("identity check %s from %s: match=%s score=%.2f", verification_id, kiosk_id,
             result.match, result.score)
    return IdentityResponse(match=result.match, score=round(result.score, 4), verification_id=verification_id,
                            method=identity.METHOD, reason=result.reason, presence_grant=grant,
                            grant_expires_in_s=int(grants.GRANT_TTL_S) if grant else None)


@router.post("/v1/presence/pickup", response_model=GrantResponse,
             responses={404: {"model": Problem, "description": "no such pickup code for this ID number"},
                        410: {"model": Problem, "description": "collected already, or past its time"},
                        **LIMITED, **ERRORS})
def pickup_grant(body: PickupGrantRequest, kiosk_id: str = Depends(kiosk), store: Store = Depends(store_of)):
    """通办通取: the receipt's pickup code and the ID number on the card read here prove the
    applicant is at this kiosk; the grant covers that one application."""
    resident_key = store.resident_key(body.id_number.strip())
    limits.check(store, limits.PICKUP_PER_KIOSK, kiosk_id)
    limits.check(store, limits.PICKUP_PER_RESIDENT, resident_key)
    row = store.one("SELECT application_no, resident_key FROM applications WHERE pickup_code = ?",
                    (body.pickup_code,))
    if row is None or row["resident_key"] != resident_key:
        limits.fail(store, limits.PICKUP_PER_KIOSK, kiosk_id, kiosk_id)
        limits.fail(store, limits.PICKUP_PER_RESIDENT, resident_key, kiosk_id)
        audit.record(store, kiosk_id, "pickup code", resident_key, None, outcome="no match")
        raise HTTPException(404, "no such pickup code for this ID number")
    application_no = row["application_no"]
    ready = store.one("SELECT COUNT(*) AS n FROM documents WHERE application_no = ? AND status = 'ready' "
                      "AND created_at > ?", (application_no, time.time() - PICKUP_VALID_S))["n"]
    if not ready:
        audit.record(store, kiosk_id, "pickup code", resident_key, application_no, outcome="collected or expired")
        raise HTTPException(410, "nothing left to collect with this pickup code (collected, or past its time)")
    with store.write():
        grant = grants.issue(store, kiosk_id, resident_key, grants.PICKUP, application_no)
    audit.record(store, kiosk_id, "pickup code", resident_key, application_no, outcome="granted")
    return GrantResponse(presence_grant=grant, grant_expires_in_s=int(grants.GRANT_TTL_S))
