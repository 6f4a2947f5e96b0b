"""帮助: a kiosk asks for a member of staff (``POST /v1/help``) and learns the answer
(``GET /v1/help/{request_id}``).  Staff acknowledge on the fleet page or with ``central help ack``
(central.routers.admin, central.cli); central.help keeps the requests."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Path

from central import help as help_requests
from central.deps import kiosk, store_of
from central.intake import iso
from central.schemas import ERRORS, HELP_ID, HelpRequestBody, HelpStatus, Problem
from central.storage import Store

log = logging.getLogger("central.help")
router = APIRouter(tags=["kiosk"])


def _status(request: help_requests.HelpRequest) -> HelpStatus:
    return HelpStatus(request_id=request.request_id, status=request.status, received_at=iso(request.received_at),
                      acknowledged_at=iso(request.acknowledged_at) if request.acknowledged_at else None)


@router.post("/v1/help", status_code=201, response_model=HelpStatus, response_model_exclude_none=True,
             responses={**ERRORS, 409: {"model": Problem, "description": "this request id is another request's"}})
def ask_for_help(body: HelpRequestBody, kiosk_id: str = Depends(kiosk), store: Store = Depends(store_of)):
    """A resident pressed 帮助: staff see an open alert until one of them acknowledges it.  Sending
    the same request again (the kiosk's queue retrying) answers its current state."""
    try:
        request, new = help_requests.receive(store, kiosk_id, body.request_id, body.screen, body.centre,
                                             body.requested_at)
    except help_requests.HelpConflict:
        raise HTTPException(409, {"message": "this request id was used for another help request",
                                  "retryable": False}) from None
    if new:
        log.warning("help requested at kiosk %s (screen %s, request %s)", kiosk_id, body.screen, body.request_id)
    return _status(request)


@router.get("/v1/help/{request_id}", response_model=HelpStatus, response_model_exclude_none=True,
            responses={**ERRORS, 404: {"model": Problem, "description": "no such request from this kiosk"}})
def help_status(request_id: str = Path(pattern=HELP_ID), kiosk_id: str = Depends(kiosk),
                store: Store = Depends(store_of)):
    """Whether staff acknowledged this kiosk's request (polled while the kiosk's help panel is up)."""
    request = help_requests.of_kiosk(store, kiosk_id, request_id)
    if request is None:
        raise HTTPException(404, "no such help request from this kiosk")
    return _status(request)
