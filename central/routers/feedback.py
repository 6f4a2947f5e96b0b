"""好差评 ratings and 诉求 appeals: from the resident, never about another one."""
from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from fastapi import APIRouter, Depends, Header, Request

from central.deps import kiosk, store_of
from central.idempotent import idempotent
from central.schemas import IDEMPOTENT_ERRORS, AppealRequest, AppealResponse, RatingRequest, RatingResponse
from central.storage import Store

log = logging.getLogger("central.feedback")
router = APIRouter(tags=["kiosk"])


@router.post("/v1/ratings", status_code=201, response_model=RatingResponse, responses=IDEMPOTENT_ERRORS)
def rate(body: RatingRequest, request: Request, idempotency_key: str = Header(min_length=1, max_length=100),
         kiosk_id: str = Depends(kiosk), store: Store = Depends(store_of)):
    """好差评 on five levels; 1-2 are flagged for follow-up."""
    def work() -> tuple[int, dict]:
        # A resident's rating is never refused for a reference the platform cannot resolve:
        # it is kept unlinked and an officer sees it (the queue sends ratings after applications).
        application_no = body.application_no or None
        if application_no is None and body.application_key:
            row = store.one("SELECT application_no FROM applications WHERE kiosk_id = ? AND idem_key = ?",
                            (kiosk_id, body.application_key))
            application_no = row["application_no"] if row else None
        elif application_no is not None and store.one(
                "SELECT 1 AS x FROM applications WHERE application_no = ?", (application_no,)) is None:
            application_no = None
        rating_id = uuid.uuid4().hex
        follow_up = body.level <= 2
        store.insert("ratings", {"rating_id": rating_id, "kiosk_id": kiosk_id, "application_no": application_no,
                                 "level": body.level, "comment": body.comment, "follow_up": int(follow_up),
                                 "created_at": time.time()})
        if follow_up:
            log.warning("rating %s (level %d) needs follow-up", rating_id, body.level)
        return 201, RatingResponse(rating_id=rating_id, application_no=application_no,
                                   linked=application_no is not None, follow_up=follow_up).model_dump()
    return idempotent(store, request.app.state.settings, kiosk_id, "ratings", idempotency_key,
                      body.model_dump(mode="json"), work)


@router.post("/v1/appeals", status_code=201, response_model=AppealResponse, responses=IDEMPOTENT_ERRORS)
def appeal(body: AppealRequest, request: Request, idempotency_key: str = Header(min_length=1, max_length=100),
           kiosk_id: str = Depends(kiosk), store: Store = Depends(store_of)):
    """诉求: consultations, complaints, suggestions (12345-style)."""
    def work() -> tuple[int, dict]:
        appeal_no = f"SQ{dt.date.today():%Y%m%d}{store.next_number('appeals'):06d}"
        store.insert("appeals", {"appeal_no": appeal_no, "kiosk_id": kiosk_id, "category": body.category,
                                 "text": body.text, "contact_phone": body.contact_phone, "status": "received",
                                 "created_at": time.time()})
        log.info("appeal %s (%s) from %s", appeal_no, body.category, kiosk_id)
        return 201, AppealResponse(appeal_no=appeal_no, status="received").model_dump()
    return idempotent(store, request.app.state.settings, kiosk_id, "appeals", idempotency_key,
                      body.model_dump(mode="json"), work)
