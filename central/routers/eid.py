"""电子身份证: an e-ID QR code shown at a kiosk proves the resident's presence there (central.eid).

Each refusal (forged, expired, used, wrong region) is audited and counts against the kiosk; the
answer names it with a machine code (``detail.code``) the kiosk turns into plain words.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request

from central import audit, eid, grants, limits
from central.deps import kiosk, store_of
from central.schemas import ERRORS, LIMITED, EID_REFUSED, EidIdentityFields, EidVerifyRequest, EidVerifyResponse
from central.storage import Store

log = logging.getLogger("central.eid")
router = APIRouter(tags=["kiosk"])


@router.post("/v1/eid/verify", response_model=EidVerifyResponse, responses={**ERRORS, **LIMITED, **EID_REFUSED})
def verify_eid(body: EidVerifyRequest, request: Request, kiosk_id: str = Depends(kiosk),
               store: Store = Depends(store_of)):
    """电子身份证: verify the e-ID code the resident showed (sealed by the identity service, not
    expired, not used before, of this kiosk's region) and answer what it carries with a presence
    grant for this resident at this kiosk."""
    limits.check(store, limits.EID_PER_KIOSK, kiosk_id)
    key = request.app.state.eid_key()
    try:
        with store.write():
            identity = eid.verify(store, key, body.code, kiosk_id)
            resident_key = store.resident_key(identity.id_number)
            grant = grants.issue(store, kiosk_id, resident_key, grants.EID)
    except eid.EidRefused as refused:
        limits.fail(store, limits.EID_PER_KIOSK, kiosk_id, kiosk_id)
        audit.record(store, kiosk_id, "e-ID code", refused.resident_key, None, outcome=refused.code)
        log.info("e-ID code refused at %s: %s", kiosk_id, refused.code)
        raise HTTPException(refused.status, {"message": str(refused), "code": refused.code,
                                             "retryable": False}) from None
    audit.record(store, kiosk_id, "e-ID code", resident_key, identity.code_id, outcome="granted")
    return EidVerifyResponse(identity=EidIdentityFields(name=identity.name, id_number=identity.id_number),
                             carries=list(eid.CARRIES), presence_grant=grant,
                             grant_expires_in_s=int(grants.GRANT_TTL_S))
