"""Admin routes, outside the kiosk contract: the fleet page, and fault injection when the server
was started for tests.  Both need the admin credential (central.deps.admin)."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from central import fleet_page
from central.deps import admin, store_of
from central.faults import Faults
from central.storage import Store

log = logging.getLogger("central.admin")
router = APIRouter(include_in_schema=False, dependencies=[Depends(admin)])
faults_router = APIRouter(include_in_schema=False, dependencies=[Depends(admin)])


@router.get("/admin/fleet")
def fleet(store: Store = Depends(store_of)):
    """The fleet page for a browser: HTTP Basic, password = the admin credential."""
    return HTMLResponse(fleet_page.render(store))


@faults_router.get("/admin/faults")
def get_faults(request: Request):
    return request.app.state.settings.faults.current().to_dict()


@faults_router.put("/admin/faults")
def put_faults(body: dict, request: Request):
    injector = request.app.state.settings.faults
    try:
        injector.set(Faults.from_dict(body))
    except (TypeError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None
    log.warning("faults set: %s", body)
    return injector.current().to_dict()
