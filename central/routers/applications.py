"""Applications: submitted exactly once (alone or in a queue's batch); status under a presence grant."""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from pydantic import ValidationError

from central import audit, grants, idempotency, intake, supplements
from central.deps import kiosk, presence, refuse_read, store_of
from central.idempotent import idempotent
from central.schemas import (ERRORS, IDEMPOTENT_ERRORS, RESIDENT_ERRORS, ApplicationBatchRequest,
                             ApplicationBatchResponse, ApplicationRequest, ApplicationResponse, BatchItem, Problem,
                             SupplementRequest, SupplementResponse)
from central.storage import Store, canonical_hash

router = APIRouter(tags=["kiosk"])


@router.post("/v1/applications", status_code=201, response_model=ApplicationResponse,
             responses={200: {"model": ApplicationResponse, "description": "replay of the first answer"},
                        **IDEMPOTENT_ERRORS})
def create_application(body: ApplicationRequest, request: Request,
                       idempotency_key: str = Header(min_length=1, max_length=100,
                                                     description="UUID, one per application"),
                       kiosk_id: str = Depends(kiosk), store: Store = Depends(store_of)):
    """Submit an application exactly once (Idempotency-Key); 即办件 are approved at once.  The answer
    goes to the kiosk the resident is standing at, which sent the data itself."""
    decoded = intake.decode_materials(body)

    def work() -> tuple[int, dict]:
        return 201, intake.intake(store, kiosk_id, idempotency_key, body, decoded)

    return idempotent(store, request.app.state.settings, kiosk_id, "applications", idempotency_key,
                      body.model_dump(mode="json"), work)


@router.post("/v1/applications/batch", response_model=ApplicationBatchResponse, responses=ERRORS)
def create_applications(body: ApplicationBatchRequest, request: Request, kiosk_id: str = Depends(kiosk),
                        store: Store = Depends(store_of)):
    """Several queued applications in one request and one commit, in order: how a kiosk's
    offline queue drains a backlog.  Each item keeps its own Idempotency-Key with the meaning
    it has on POST /v1/applications, so an item may be sent alone, in a batch, and again (a
    key repeated within a batch is answered as a repeat: the first answer, or 422)."""
    delay = request.app.state.settings.processing_delay()
    if delay > 0:
        time.sleep(delay)
    results = []
    with store.write():
        for item in body.items:
            results.append(batch_item(store, kiosk_id, item))
            if results[-1]["status"] == 409:  # keep the kiosk's order: stop at the first item to retry
                break
    return Response(json.dumps({"results": results}, ensure_ascii=False, allow_nan=False,
                               separators=(",", ":")).encode("utf-8"), media_type="application/json")


def batch_item(store: Store, kiosk_id: str, item: BatchItem) -> dict:
    """One item of a batch, inside the batch's write transaction."""
    key = item.idempotency_key

    def answer(status: int, body: Any, replayed: bool = False) -> dict:
        return {"idempotency_key": key, "status": status, "replayed": replayed, "body": body}

    try:
        request = ApplicationRequest.model_validate(item.application)
    except ValidationError as exc:  # the errors name fields, never echo their values
        return answer(422, {"detail": exc.errors(include_url=False, include_input=False,
                                                 include_context=False)})
    body_hash = canonical_hash(request.model_dump(mode="json"))
    known = store.key_state(kiosk_id, "applications", key)
    if known is not None:
        if known["body_hash"] != body_hash:
            return answer(422, {"detail": "Idempotency-Key was already used with a different body"})
        if known["state"] == "done":
            return answer(known["status_code"], json.loads(known["response"]), replayed=True)
        if time.time() - known["updated_at"] <= idempotency.PROCESSING_LEASE_S:
            return answer(409, {"detail": "a request with this Idempotency-Key is still being processed",
                                "retryable": True})
    try:
        decoded = intake.decode_materials(request)
    except HTTPException as exc:
        return answer(exc.status_code, {"detail": exc.detail})
    response = intake.intake(store, kiosk_id, key, request, decoded)
    store.record_key(kiosk_id, "applications", key, body_hash, 201,
                     json.dumps(response, ensure_ascii=False, allow_nan=False, separators=(",", ":")))
    return answer(201, response)


@router.get("/v1/applications/{application_no}", response_model=ApplicationResponse, responses=RESIDENT_ERRORS)
def application_status(application_no: str, grant: grants.Grant = Depends(presence),
                       store: Store = Depends(store_of)):
    """Status of an application by its number, for the applicant present at this kiosk (any kiosk:
    通办通取).  Unknown numbers and other residents' numbers are refused alike."""
    row = store.one("SELECT * FROM applications WHERE application_no = ?", (application_no,))
    if row is None or not grant.covers(row["resident_key"], application_no):
        refuse_read(store, grant.kiosk_id, f"application {application_no}", grant.resident_key, not_found=True)
    view = intake.application_view(store, row)
    with store.write():
        grants.release_prints(store, grant.kiosk_id, [d["document_id"] for d in view["documents"]
                                                      if d["print_token"]])
    audit.record(store, grant.kiosk_id, "application status", row["resident_key"], application_no)
    return view


@router.post("/v1/applications/{application_no}/supplements", response_model=SupplementResponse,
             responses={200: {"model": SupplementResponse, "description": "recorded (or a replay of the first answer)"},
                        **IDEMPOTENT_ERRORS,
                        403: {"model": Problem, "description": "this kiosk was not shown the application's owed "
                                                               "materials under the resident's presence grant"}})
def hand_in_supplement(application_no: str, body: SupplementRequest, request: Request,
                       idempotency_key: str = Header(min_length=1, max_length=100,
                                                     description="UUID, one per supplement"),
                       kiosk_id: str = Depends(kiosk), store: Store = Depends(store_of)):
    """边办边补: hand in owed secondary materials of an application exactly once (Idempotency-Key),
    possibly from the kiosk's offline queue after the session ended.  Allowed from a kiosk that
    showed the resident this application's owed list under their presence grant
    (POST /v1/residents/applications).  Each material's outcome: ``received``, ``not_needed``
    (not owed or already accepted), ``deadline_passed`` or ``no_pages``."""
    if not supplements.released_to(store, application_no, kiosk_id):
        refuse_read(store, kiosk_id, f"supplement {application_no}", None)
    decoded = intake.decode_materials(body)

    def work() -> tuple[int, dict]:
        answer = supplements.hand_in(store, kiosk_id, application_no, decoded, dt.date.today())
        return 200, SupplementResponse.model_validate(answer).model_dump()

    response = idempotent(store, request.app.state.settings, kiosk_id, f"supplements:{application_no}",
                          idempotency_key, body.model_dump(mode="json"), work)
    audit.record(store, kiosk_id, "supplement handed in", None, application_no,
                 outcome="replayed" if response.headers.get("Idempotent-Replayed") else "allowed")
    return response
