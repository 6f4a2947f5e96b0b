"""The reference central platform: API v1 on FastAPI (contract: docs/api/openapi.json).

Small and clear rather than complete: what a kiosk needs to be tested for real -- enrolment, the
menu, idempotent intake, 即办件 auto-approval with printable documents, identity checks, 材料复用,
ratings, appeals and heartbeats -- behind the trust model of docs/security.md: a
kiosk token says which kiosk asks; reading a resident's data needs a presence grant.

Routes live in central.routers (one APIRouter per area), the contract's models in
central.schemas, authentication and grants in central.deps.  Handlers are plain ``def`` so
FastAPI runs them in its thread pool; each thread has its own database connection
(central.storage).  All state is in the database, so several worker processes can serve one
database (``central serve --workers N``).

Logs name kiosks, application numbers and services -- never residents.
"""
from __future__ import annotations

import functools
import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from central.body_limits import BodyLimitMiddleware
from central.faults import FaultInjector, FaultMiddleware
from central.eid import EidKey
from central.platform_key import PlatformIdentity
from central.routers import (admin, applications, documents, eid, enroll, feedback, heartbeat, help, identity, menu,
                             residents)
from central.settings import Settings
from central.dialect import DataRejected
from central.storage import Store

API_VERSION = "1.1.0"


def create_app(store: Store, faults: FaultInjector | None = None, docs: bool = False,
               platform_key: PlatformIdentity | None = None) -> FastAPI:
    """``faults``: test-only fault injection (its middleware and /admin/faults exist only then);
    ``docs``: serve /docs, /redoc and /openapi.json; ``platform_key``: the key that answers
    enrolment challenges (default PlatformIdentity.for_store, loaded at the first enrolment)."""
    app = FastAPI(title="Kiosk central platform", version=API_VERSION,
                  description="API v1 between government self-service kiosks and the central platform. "
                              "Every call except enrol needs `Authorization: Bearer <kiosk token>`; reads of "
                              "a resident's data also need `X-Presence-Grant` (a proof of presence).",
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)
    app.state.store = store
    app.state.settings = Settings(faults=faults, docs=docs)
    app.state.platform_identity = functools.cache(lambda: platform_key or PlatformIdentity.for_store(store))
    app.state.eid_key = functools.cache(lambda: EidKey.for_store(store))  # the identity service's (central.eid)
    if faults is not None:
        app.add_middleware(FaultMiddleware, injector=faults)
        app.include_router(admin.faults_router)
    app.add_middleware(BodyLimitMiddleware)  # outermost: nothing reads a body over its cap

    @app.exception_handler(DataRejected)
    def data_rejected(request, exc: DataRejected) -> JSONResponse:
        # PostgreSQL only (e.g. a number out of range for its column): the body can never be stored.
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        """Unauthenticated liveness, naming nothing but the service (the embedded platform probes it)."""
        return {"service": "central", "api": API_VERSION}

    for area in (enroll, menu, applications, identity, eid, residents, documents, feedback, help, heartbeat, admin):
        app.include_router(area.router)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``central serve --workers N``, which puts what it was
    started with in the environment (each worker opens the database itself)."""
    faults_file = os.environ.get("CENTRAL_FAULTS_FILE")
    return create_app(Store(os.environ["CENTRAL_DB"], os.environ.get("CENTRAL_PEPPER") or None,
                            key_path=os.environ.get("CENTRAL_KEY") or None),
                      FaultInjector(file=faults_file) if faults_file else None,
                      docs=bool(os.environ.get("CENTRAL_DOCS")))
