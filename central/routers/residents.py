"""The resident present: 材料复用 (the materials and contact details the platform holds, identity
grant only) and 我的办件 (their applications, identity or pickup grant)."""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends

from central import audit, grants, supplements
from central.deps import presence, refuse_read, store_of
from central.intake import document_summary, iso
from central.schemas import (RESIDENT_ERRORS, ContactResponse, MaterialOnRecord, MaterialsResponse,
                             ResidentApplication, ResidentApplicationsResponse, TimelineEntry)
from central.storage import Store

router = APIRouter(tags=["kiosk"])


@router.post("/v1/residents/materials", response_model=MaterialsResponse, responses=RESIDENT_ERRORS)
def reusable_materials(grant: grants.Grant = Depends(presence), store: Store = Depends(store_of)):
    """材料复用: the latest copy of each material the grant's resident submitted before.  A pickup
    grant (one application) does not cover them."""
    if grant.basis != grants.IDENTITY:
        refuse_read(store, grant.kiosk_id, "materials", grant.resident_key)
    rows = store.all("SELECT kind, name, MAX(submitted_at) AS submitted_at FROM materials "
                     "WHERE resident_key = ? GROUP BY kind, name ORDER BY kind", (grant.resident_key,))
    audit.record(store, grant.kiosk_id, "materials on record", grant.resident_key, f"{len(rows)} material(s)")
    return MaterialsResponse(materials=[MaterialOnRecord(material_id=r["kind"], name=r["name"],
                                                         submitted_at=iso(r["submitted_at"])) for r in rows])


PHONE_FIELDS = ("phone", "contact-phone")     # form field ids of the menu's "phone" fields
ADDRESS_FIELDS = ("address",)                 # the resident's own address (not a shop's premises)
MOBILE = re.compile(r"1[3-9][0-9]{9}")
LOOKBACK = 20                                 # the resident's latest applications searched


@router.post("/v1/residents/contact", response_model=ContactResponse, responses=RESIDENT_ERRORS)
def contact_on_record(grant: grants.Grant = Depends(presence), store: Store = Depends(store_of)):
    """材料复用 of contact details: the phone number and address the grant's resident gave in their
    latest applications (sealed at rest; opened here for the resident present), so a returning
    resident does not type them again.  Only under an identity grant (人证核验): a pickup grant
    (one application) does not cover them.  Audited without the values."""
    if grant.basis != grants.IDENTITY:
        refuse_read(store, grant.kiosk_id, "contact", grant.resident_key)
    rows = store.all("SELECT * FROM applications WHERE resident_key = ? ORDER BY received_at DESC LIMIT ?",
                     (grant.resident_key, LOOKBACK))
    phone = address = None
    for row in rows:
        form = store.opened("applications", row)["form"] or {}
        if phone is None:
            phone = next((str(form[k]) for k in PHONE_FIELDS if MOBILE.fullmatch(str(form.get(k) or ""))), None)
        if address is None:
            address = next((str(form[k]).strip() for k in ADDRESS_FIELDS if str(form.get(k) or "").strip()), None)
        if phone and address:
            break
    audit.record(store, grant.kiosk_id, "contact on record", grant.resident_key,
                 f"phone {'yes' if phone else 'no'}, address {'yes' if address else 'no'}")
    return ContactResponse(phone=phone, address=address)


MY_APPLICATIONS_MAX = 50
# what the list shows: never the sealed applicant, form or delivery
LISTED = ("application_no, status, kind, service_id, service_name, promised_days, expected_completion, "
          "received_at, decided_at")


@router.post("/v1/residents/applications", response_model=ResidentApplicationsResponse,
             responses=RESIDENT_ERRORS)
def my_applications(grant: grants.Grant = Depends(presence), store: Store = Depends(store_of)):
    """我的办件: the applications of the resident present -- all of them (identity grant) or the
    one whose pickup code was given (pickup grant) -- newest first, each with its timeline and its
    documents (print tokens released to this kiosk, as for POST /v1/documents/query) and what it
    still owes (边办边补: this kiosk may then hand the owed materials in,
    POST /v1/applications/{no}/supplements)."""
    if grant.application_no is None:
        rows = store.all(f"SELECT {LISTED} FROM applications WHERE resident_key = ? "
                         "ORDER BY received_at DESC LIMIT ?", (grant.resident_key, MY_APPLICATIONS_MAX))
    else:
        rows = store.all(f"SELECT {LISTED} FROM applications WHERE resident_key = ? AND application_no = ?",
                         (grant.resident_key, grant.application_no))
    listed, released, owing = [], [], []
    for row in rows:
        docs = store.all("SELECT * FROM documents WHERE application_no = ? ORDER BY created_at",
                         (row["application_no"],))
        summaries = [document_summary(d) for d in docs]
        released += [s.document_id for s in summaries if s.print_token]
        timeline = [TimelineEntry(step="received", at=iso(row["received_at"]))]
        if row["decided_at"] is not None and row["status"] in ("approved", "rejected"):
            timeline.append(TimelineEntry(step=row["status"], at=iso(row["decided_at"])))
        timeline += [TimelineEntry(step="printed", at=iso(d["printed_at"])) for d in docs if d["printed_at"]]
        owed = supplements.owed_of(store, row["application_no"])
        if supplements.still_owed(owed):
            owing.append(row["application_no"])
        listed.append(ResidentApplication(
            application_no=row["application_no"], status=row["status"], kind=row["kind"],
            service_id=row["service_id"], service_name=row["service_name"], promised_days=row["promised_days"],
            expected_completion=row["expected_completion"], received_at=iso(row["received_at"]),
            timeline=timeline, documents=summaries, owed=owed))
    with store.write():
        grants.release_prints(store, grant.kiosk_id, released)
        for application_no in owing:  # 补交 from this kiosk (its queue) is now allowed
            supplements.release(store, grant.kiosk_id, application_no)
    audit.record(store, grant.kiosk_id, "applications listed", grant.resident_key, f"{len(listed)} application(s)")
    return ResidentApplicationsResponse(applications=listed)
