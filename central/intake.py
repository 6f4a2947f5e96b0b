"""Recording applications: intake (即办件 approved at once), documents issued on approval, and
the views the API answers with.  Shared by the routes, the admin commands and the dev seed.

Application numbers are the region, the date, a daily sequence (for officers) and a random part,
so that one number says nothing about the next.  Call the writers inside a write transaction.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import secrets
import time
import uuid

from fastapi import HTTPException

from central import grants, services, supplements
from central.schemas import ApplicationRequest, ApplicationResponse, DocumentSummary
from central.records import applicant_record
from central.storage import Store

log = logging.getLogger("central.intake")

# An application number is 24 digits (what a resident types on the query screen): region (6), date
# (8), the day's sequence (5, for officers) and a random tail (5).  A guessed number is one in 10^5
# for a number that exists, and even then reveals nothing without the applicant's presence grant.
SEQUENCE_DIGITS, RANDOM_DIGITS = 5, 5


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def new_application_no(store: Store, region: str, today: dt.date) -> str:
    number = store.next_number(f"applications-{today:%Y%m%d}")
    tail = secrets.randbelow(10**RANDOM_DIGITS)
    return f"{region}{today:%Y%m%d}{number:0{SEQUENCE_DIGITS}d}{tail:0{RANDOM_DIGITS}d}"


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, f"{what} is not valid base64") from None


def decode_materials(body: ApplicationRequest) -> list:
    """Each material with its decoded pages; 422 for bad base64 or a page that fails its sha256."""
    decoded = []
    for material in body.materials:
        pages = []
        for page in material.pages:
            content = _b64decode(page.content_b64, f"material {material.id} page")
            if hashlib.sha256(content).hexdigest() != page.sha256:
                raise HTTPException(422, f"material {material.id}: a page does not match its sha256")
            pages.append((page.sha256, content))
        decoded.append((material, pages))
    return decoded


def issue_document(store: Store, application_no: str) -> str | None:
    """Approval issues the service's document (if any), printable with its print token; returns
    its id.  Call inside a write transaction."""
    row = store.record("applications", application_no)
    service = services.lookup(store, row["service_id"])
    if service.document_title is None:
        return None
    applicant = row["applicant"]
    data = {"title": service.document_title, "serial": application_no, "holder_name": applicant["name"],
            "id_number_masked": applicant["id_number_masked"], "service_name": service.name,
            "issued_on": dt.date.today().isoformat(), "issuer": store.get_setting("issuer", "政务服务中心"),
            "fields": row["form"]}
    document_id = uuid.uuid4().hex
    store.insert("documents", {"document_id": document_id, "application_no": application_no,
                               "resident_key": row["resident_key"], "title": service.document_title,
                               "kind": service.document_kind, "data": data, "pickup_code": row["pickup_code"],
                               "print_token": secrets.token_urlsafe(16), "status": "ready",
                               "created_at": time.time()})
    return document_id


def document_summary(row: dict) -> DocumentSummary:
    return DocumentSummary(document_id=row["document_id"], title=row["title"], kind=row["kind"],
                           print_token=row["print_token"] if row["status"] == "ready" else None,
                           status=row["status"], application_no=row["application_no"],
                           pickup_code=row["pickup_code"])


def application_view(store: Store, app_row: dict, documents: bool = True, owed: list | None = None) -> dict:
    """``documents=False``: the caller knows there are none (an application just recorded
    without issuing one); ``owed``: its owed materials, when the caller just recorded them."""
    docs = store.all("SELECT * FROM documents WHERE application_no = ? ORDER BY created_at",
                     (app_row["application_no"],)) if documents else []
    owed = supplements.owed_of(store, app_row["application_no"]) if owed is None else owed
    return ApplicationResponse(
        application_no=app_row["application_no"], status=app_row["status"], kind=app_row["kind"],
        service_id=app_row["service_id"], service_name=app_row["service_name"],
        promised_days=app_row["promised_days"], expected_completion=app_row["expected_completion"],
        pickup_code=app_row["pickup_code"], documents=[document_summary(d) for d in docs],
        owed=owed).model_dump()


def intake(store: Store, kiosk_id: str, key: str, body: ApplicationRequest, decoded: list) -> dict:
    """Record one application (inside a write transaction); 即办件 are approved at once."""
    service = services.lookup(store, body.service_id)
    now = time.time()
    today = dt.date.today()
    region = store.one("SELECT region FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))["region"]
    application_no = new_application_no(store, region, today)
    resident = store.resident_key(body.applicant.id_number)
    immediate = service.kind == services.IMMEDIATE
    expected = today if immediate else services.add_working_days(today, service.promised_days)
    while True:
        pickup = f"{secrets.randbelow(10**8):08d}"
        if store.one("SELECT 1 AS x FROM applications WHERE pickup_code = ?", (pickup,)) is None:
            break
    row = {"application_no": application_no, "status": "approved" if immediate else "accepted",
           "kind": service.kind, "service_id": service.service_id, "service_name": service.name,
           "promised_days": service.promised_days, "expected_completion": expected.isoformat(),
           "pickup_code": pickup}
    # Only what each use needs (central.records): the resident is found by resident_key, the
    # applicant's and the form's fields are sealed by the store.
    store.insert("applications", {
        "application_no": application_no, "kiosk_id": kiosk_id, "idem_key": key,
        "service_id": service.service_id, "service_name": service.name, "kind": service.kind,
        "status": row["status"], "resident_key": resident, "applicant": applicant_record(body.applicant.model_dump()),
        "form": body.form, "delivery": body.delivery, "submitted_at": body.submitted_at, "received_at": now,
        "offline": int(body.offline), "promised_days": service.promised_days,
        "expected_completion": row["expected_completion"], "decided_at": now if immediate else None,
        "pickup_code": pickup})
    for material, pages in decoded:
        material_id = uuid.uuid4().hex
        store.insert("materials", {"material_id": material_id, "resident_key": resident, "kind": material.id,
                                   "name": material.name or material.id, "application_no": application_no,
                                   "submitted_at": now, "pages": len(pages)})
        for page_no, (digest, content) in enumerate(pages):
            store.insert("material_pages", {"material_id": material_id, "page_no": page_no, "sha256": digest,
                                            "content": content})
    owed = supplements.record_owed(store, application_no, service, body.skipped, today)
    if immediate:
        document_id = issue_document(store, application_no)
        if document_id is not None:  # the answer shows its print token to this kiosk
            grants.release_prints(store, kiosk_id, [document_id], via=grants.VIA_APPLICATION)
    log.info("application %s accepted from %s (service %s, %s%s)", application_no, kiosk_id,
             service.service_id, service.kind, ", queued offline" if body.offline else "")
    # The view from what was just inserted (no read back); documents exist only if one was issued.
    return application_view(store, row, documents=immediate, owed=owed)
