"""材料复用: the materials and contact details the platform holds for the resident present (identity
grant only)."""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends

from central import audit, grants
from central.deps import presence, refuse_read, store_of
from central.intake import iso
from central.schemas import RESIDENT_ERRORS, ContactResponse, MaterialOnRecord, MaterialsResponse
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
