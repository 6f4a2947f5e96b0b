"""材料复用: the materials the platform holds for the resident present (identity grant only)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from central import audit, grants
from central.deps import presence, refuse_read, store_of
from central.intake import iso
from central.schemas import RESIDENT_ERRORS, MaterialOnRecord, MaterialsResponse
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
