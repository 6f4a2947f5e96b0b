"""Admin routes, outside the kiosk contract: the fleet page and its acknowledge form for help
requests, and fault injection when the server was started for tests.  All need the admin
credential (central.deps.admin)."""
from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from central import fleet_page
from central import help as help_requests
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


@router.post("/admin/help/{request_id}/ack")
async def acknowledge_help(request_id: str, request: Request, store: Store = Depends(store_of)):
    """The fleet page's 确认前往 button: a member of staff is on the way.  A plain form post
    (``csrf``, ``by``) carrying the page's token for this request; a cross-site post is refused
    (the browser would send the Basic credential with it by itself)."""
    if request.headers.get("sec-fetch-site") == "cross-site" or not _same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    token, by = (form.get("csrf") or [""])[0], (form.get("by") or [""])[0]
    await run_in_threadpool(_acknowledge, store, request_id, token, by)  # database work off the loop
    return RedirectResponse("/admin/fleet#help", status_code=303)


def _acknowledge(store: Store, request_id: str, token: str, by: str) -> None:
    if not help_requests.csrf_ok(store, request_id, token):
        raise HTTPException(403, "the form's token does not match: reload the fleet page")
    try:
        found, acknowledged = help_requests.acknowledge(store, request_id, f"{by.strip() or 'staff'} (fleet page)",
                                                        via="fleet page")
    except help_requests.HelpNotFound:
        raise HTTPException(404, "no such help request") from None
    if acknowledged:
        log.info("help request %s of kiosk %s acknowledged on the fleet page", request_id, found.kiosk_id)


def _same_origin(request: Request) -> bool:
    """No Origin (an old browser, curl) passes; one naming another host does not."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


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
