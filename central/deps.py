"""Authentication and authorisation as FastAPI dependencies -- the one place that decides who asks.

* :func:`kiosk` -- the kiosk whose bearer token came with the request (401 otherwise);
* :func:`presence` -- a live presence grant issued to that kiosk (403 otherwise); the route
  then checks that the grant covers the resident whose record it reads (central.grants);
* :func:`admin` -- the admin credential, by ``X-Admin-Token`` or HTTP Basic (central.credentials).

The store and the settings come from ``app.state`` (central.app.create_app).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from fastapi import Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from central import audit, credentials, grants, limits, tokens
from central.storage import Store

bearer = HTTPBearer(auto_error=False, scheme_name="kioskToken",
                    description="per-kiosk token from POST /v1/enroll; the platform stores only its hash")
grant_header = APIKeyHeader(name="X-Presence-Grant", scheme_name="presenceGrant", auto_error=False,
                            description="proof that the resident is at this kiosk now: from a matching "
                                        "POST /v1/identity/verify or from POST /v1/presence/pickup")


def store_of(request: Request) -> Store:
    return request.app.state.store


@dataclass(frozen=True)
class KioskAuth:
    kiosk_id: str
    token: dict  # the presented token's row: expires_at, superseded_at (for rotation)


def _authenticate(store: Store, credentials_: HTTPAuthorizationCredentials | None) -> KioskAuth:
    if credentials_ is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    row = tokens.authenticate(store, credentials_.credentials.strip())
    if row is None:
        raise HTTPException(401, "unknown, expired or revoked kiosk token", headers={"WWW-Authenticate": "Bearer"})
    return KioskAuth(row["kiosk_id"], row)


async def kiosk_auth(request: Request,
                     credentials_: HTTPAuthorizationCredentials | None = Depends(bearer)) -> KioskAuth:
    store = store_of(request)
    if store.dialect.name == "sqlite":
        # one local indexed read (WAL readers never wait) is cheaper on the loop than a thread hop
        return _authenticate(store, credentials_)
    # PostgreSQL: a network round trip, which must not stall every other request
    return await run_in_threadpool(_authenticate, store, credentials_)


def kiosk(auth: KioskAuth = Depends(kiosk_auth)) -> str:
    return auth.kiosk_id


def presence(request: Request, kiosk_id: str = Depends(kiosk),
             grant: str | None = Depends(grant_header)) -> grants.Grant:
    """A live grant issued to this kiosk.  Requests refused here count towards the kiosk's lookup
    limit, so a kiosk cannot probe record ids without end."""
    store = store_of(request)
    limits.check(store, limits.LOOKUP_PER_KIOSK, kiosk_id)
    found = grants.resolve(store, kiosk_id, grant.strip()) if grant else None
    if found is None:
        refuse_read(store, kiosk_id, f"{request.method} {request.url.path}", None)
    return found


def grant_if_any(request: Request, kiosk_id: str = Depends(kiosk),
                 grant: str | None = Depends(grant_header)) -> tuple[str, grants.Grant | None]:
    """(kiosk, its live grant or None): for the one read a kiosk may also make without a grant
    (a document just issued to its own application, central.grants)."""
    store = store_of(request)
    limits.check(store, limits.LOOKUP_PER_KIOSK, kiosk_id)
    return kiosk_id, grants.resolve(store, kiosk_id, grant.strip()) if grant else None


def refuse_read(store: Store, kiosk_id: str, what: str, resident_key: str | None, not_found: bool = False) -> None:
    """Refuse a read, audited and counted against the kiosk: 403 without a grant (or with someone
    else's); ``not_found``: 404 for a record that does not exist *or* is not the grant holder's,
    so that the answer does not tell which."""
    audit.record(store, kiosk_id, "read refused", resident_key, what, outcome="refused")
    limits.fail(store, limits.LOOKUP_PER_KIOSK, kiosk_id, kiosk_id)
    if not_found:
        raise HTTPException(404, "not found for the resident present at this kiosk")
    raise HTTPException(403, {"message": "a presence grant for this resident at this kiosk is required",
                              "presence_grant": "required", "retryable": False})


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _basic_password(authorization: str | None) -> bytes:
    if not authorization or not authorization.startswith("Basic "):
        return b""
    try:
        return base64.b64decode(authorization[6:], validate=True).partition(b":")[2]
    except (binascii.Error, ValueError):
        return b""


def admin(request: Request, x_admin_token: str | None = Header(None),
          authorization: str | None = Header(None)) -> None:
    """The admin credential as ``X-Admin-Token`` or as the HTTP Basic password (any user name).
    Headers arrive as latin-1 text: encoded back they are the bytes that were sent."""
    store = store_of(request)
    if not credentials.is_set(store):
        raise HTTPException(404, "not found")
    address = client_address(request)
    limits.check(store, limits.ADMIN_PER_CLIENT, address)
    password = x_admin_token.encode("latin-1") if x_admin_token else _basic_password(authorization)
    if not credentials.verify(store, password):
        limits.fail(store, limits.ADMIN_PER_CLIENT, address, address)
        raise HTTPException(401, "admin credential required",
                            headers={"WWW-Authenticate": 'Basic realm="central", charset="UTF-8"'})
