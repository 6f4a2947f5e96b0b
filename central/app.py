"""The reference central platform: API v1 on FastAPI (contract: docs/api/openapi.json).

Small and clear rather than complete: what a kiosk needs to be tested for
real -- enrolment, the menu, idempotent intake, 即办件 auto-approval with
printable documents, identity checks, 材料复用, ratings, appeals and
heartbeats.  Handlers are plain ``def`` so FastAPI runs them in its thread
pool; each thread has its own database connection (central.storage).

Logs name kiosks, application numbers and services -- never residents.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from typing import Annotated, Any, Callable, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from central import identity, idempotency, services
from central.dialect import DataRejected
from central.faults import FaultInjector, FaultMiddleware, Faults
from central.platform_key import PlatformIdentity
from central.records import applicant_record
from central.storage import Store, canonical_hash, new_token, token_hash

log = logging.getLogger("central.app")

API_VERSION = "1.0.0"
bearer = HTTPBearer(auto_error=False, scheme_name="kioskToken",
                    description="per-kiosk token from POST /v1/enroll; the platform stores only its hash")


# -- request and response models (they are the published contract) -----------------------------
def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true/false")
    return value


# JSON Schema integers include 3.0; booleans are not integers.
JsonInt = Annotated[int, Field(strict=False), BeforeValidator(_not_a_boolean)]


class Strict(BaseModel):
    """Requests are validated strictly: ``"offline": 0`` is not a boolean, ``"5"`` is not a level."""
    model_config = ConfigDict(strict=True)


class EnrollRequest(Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}-?[A-Za-z0-9]{2}$",
                      description="one-time enrolment code (central enroll-code), e.g. K7QM-X2PA-9R")
    kiosk_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    hostname: str | None = Field(None, max_length=255)
    challenge: str = Field(pattern=r"^[A-Za-z0-9+/]{43}=$",
                           description="32 random bytes (base64) the platform signs with its identity key")


class EnrollResponse(BaseModel):
    kiosk_id: str
    token: str = Field(description="per-kiosk bearer token; the platform keeps only its hash")
    region: str
    menu_pubkeys: list[str]
    platform_key: str = Field(description="the platform's Ed25519 identity key (base64); the QR holds its fingerprint")
    signature: str = Field(description="Ed25519 signature (base64) over the challenge and the fields above "
                                       "(central/platform_key.py enrolment_message)")


class Applicant(Strict):
    model_config = ConfigDict(extra="allow", strict=True)
    name: str = Field(min_length=1, max_length=120)
    id_number: str = Field(min_length=1, max_length=40)
    card_type: str | None = Field(None, max_length=8)


class Page(Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_b64: str = Field(description="the page image (JPEG/PNG/PDF), base64; sha256 is of the decoded bytes "
                                         "and is checked (mismatch: 422)")


class Material(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(None, max_length=120)
    pages: list[Page] = Field(default_factory=list, max_length=50)


class ApplicationRequest(Strict):
    service_id: str = Field(min_length=1, max_length=64)
    applicant: Applicant
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[Material] = Field(default_factory=list, max_length=30)
    delivery: dict[str, Any] = Field(default_factory=dict)
    submitted_at: str | None = Field(None, max_length=40, description="ISO 8601, kiosk clock")
    offline: bool = Field(False, description="true when the kiosk queued it during an outage")


class DocumentSummary(BaseModel):
    document_id: str
    title: str
    kind: str
    print_token: str | None = Field(description="present while the document can be printed")
    status: Literal["ready", "printed"]
    application_no: str | None = None
    pickup_code: str


class ApplicationResponse(BaseModel):
    application_no: str
    status: Literal["accepted", "approved", "rejected"]
    kind: Literal["immediate", "promised"]
    service_id: str
    service_name: str
    promised_days: int
    expected_completion: str
    pickup_code: str = Field(description="8 digits for the receipt: collect documents at any kiosk (通办通取)")
    documents: list[DocumentSummary]


BATCH_MAX_ITEMS = 100


class BatchItem(Strict):
    idempotency_key: str = Field(min_length=1, max_length=100, description="the item's own key (UUID)")
    application: dict[str, Any] = Field(description="an ApplicationRequest; validated item by item, so one "
                                                    "bad item is refused alone (422 in its result)")


class ApplicationBatchRequest(Strict):
    items: list[BatchItem] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)


class BatchResult(BaseModel):
    idempotency_key: str
    status: int = Field(description="201 recorded, or the first answer's status when the key was seen "
                                    "before (replayed true); 422 refused (do not retry); 409 still being "
                                    "processed under this key elsewhere (retry; later items were not processed)")
    replayed: bool = False
    body: dict[str, Any] = Field(description="an ApplicationResponse for 200/201, else a Problem")


class ApplicationBatchResponse(BaseModel):
    results: list[BatchResult] = Field(description="in the order of the items, for a prefix of them: items "
                                                   "after a 409 were not processed and are to be sent again")


class CardFields(Strict):
    model_config = ConfigDict(extra="allow", strict=True)
    id_number: str = Field(min_length=1, max_length=40)
    name: str | None = Field(None, max_length=120)


class IdentityRequest(Strict):
    card: CardFields = Field(description="the card's text fields (as read by the SAM reader)")
    photo_wlt_b64: str | None = Field(None, description="the card's WLT photo (1024 bytes), base64")
    face_jpeg_b64: str = Field(min_length=1, description="live face image from the kiosk camera, base64 JPEG")


class IdentityResponse(BaseModel):
    match: bool
    score: float
    verification_id: str
    method: str
    reason: str


class MaterialsRequest(Strict):
    id_number: str = Field(min_length=1, max_length=40)


class MaterialOnRecord(BaseModel):
    material_id: str
    name: str
    submitted_at: str


class MaterialsResponse(BaseModel):
    materials: list[MaterialOnRecord]


class DocumentsQuery(Strict):
    model_config = ConfigDict(strict=True, json_schema_extra={
        "anyOf": [{"required": ["id_number"], "properties": {"id_number": {"type": "string"}}},
                  {"required": ["pickup_code"], "properties": {"pickup_code": {"type": "string"}}}]})
    id_number: str | None = Field(None, min_length=1, max_length=40)
    pickup_code: str | None = Field(None, pattern=r"^[0-9]{8}$", description="8 digits from the receipt")


class DocumentsResponse(BaseModel):
    documents: list[DocumentSummary]


class DocumentData(BaseModel):
    document_id: str
    title: str
    kind: str
    status: Literal["ready", "printed"]
    application_no: str | None
    data: dict[str, Any] = Field(description="fields for the licence/certificate template")


class PrintedReport(Strict):
    print_token: str = Field(min_length=1, max_length=64)
    result: Literal["printed", "failed"]
    detail: str = Field("", max_length=500)


class PrintedResponse(BaseModel):
    document_id: str
    status: Literal["ready", "printed"]
    print_failures: int


class RatingRequest(Strict):
    application_no: str | None = Field(None, max_length=40)
    application_key: str | None = Field(None, max_length=100, description=(
        "the Idempotency-Key the kiosk used for the application: lets a rating queued offline refer "
        "to an application whose number it does not know yet"))
    service_id: str | None = Field(None, max_length=64)
    level: JsonInt = Field(ge=1, le=5, description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意")
    comment: str = Field("", max_length=500)


class RatingResponse(BaseModel):
    rating_id: str
    application_no: str | None
    linked: bool = Field(description="false when the rated application could not be found (kept for an officer)")
    follow_up: bool = Field(description="true for 不满意/非常不满意: an officer must follow up")


class AppealRequest(Strict):
    category: Literal["consultation", "complaint", "suggestion", "help"]
    text: str = Field(min_length=1, max_length=2000)
    contact_phone: str | None = Field(None, pattern=r"^1[3-9][0-9]{9}$")


class AppealResponse(BaseModel):
    appeal_no: str
    status: Literal["received"]


class DeviceState(Strict):
    state: str = Field(max_length=20)
    reason: str | None = Field(None, max_length=200)
    code: str | None = Field(None, max_length=40)


class QueueState(Strict):
    depth: JsonInt = Field(0, ge=0)
    dead: JsonInt = Field(0, ge=0)


class HeartbeatRequest(Strict):
    kiosk_id: str = Field(max_length=64, description="informational: the token decides which kiosk this is")
    version: str = Field(max_length=40)
    uptime_s: float = Field(ge=0)
    devices: dict[str, DeviceState] = Field(default_factory=dict)
    queue: QueueState = Field(default_factory=QueueState)
    menu_version: str | None = Field(None, max_length=80)
    free_disk_mb: float | None = Field(None, ge=0)
    maintenance_pin_failures: JsonInt = Field(0, ge=0, le=2**31 - 1,
                                              description="wrong maintenance PINs since the last right one")


class HeartbeatResponse(BaseModel):
    server_time: str


class Problem(BaseModel):
    detail: Any
    retryable: bool | None = None


ERRORS = {400: {"model": Problem, "description": "the body is not JSON"},
          401: {"model": Problem, "description": "missing or unknown kiosk token"},
          422: {"model": Problem, "description": "validation failed (do not retry)"}}
IDEMPOTENT_ERRORS = {**ERRORS,
                     409: {"model": Problem, "description": "a request with this key is still being processed"}}


# Heartbeat history: a sample when something changed (queue depth, dead letters, devices in
# fault, a restart) or HISTORY_EVERY_S after the last one; with 60 s heartbeats that is about
# one row in five, and a gap longer than admin.STALE_HEARTBEAT_S between samples is a silence.
HISTORY_EVERY_S = 300.0
_COUNT_CAP = 2**31 - 1  # queue counts are unbounded in the contract; a history column is not


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


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


def issue_document(store: Store, application_no: str) -> None:
    """Approval issues the service's document (if any), printable with its print token.

    Call inside a write transaction."""
    row = store.record("applications", application_no)
    service = services.lookup(store, row["service_id"])
    if service.document_title is None:
        return
    applicant = row["applicant"]
    data = {"title": service.document_title, "serial": application_no, "holder_name": applicant["name"],
            "id_number_masked": applicant["id_number_masked"], "service_name": service.name,
            "issued_on": dt.date.today().isoformat(), "issuer": store.get_setting("issuer", "政务服务中心"),
            "fields": row["form"]}
    store.insert("documents", {"document_id": uuid.uuid4().hex, "application_no": application_no,
                               "resident_key": row["resident_key"], "title": service.document_title,
                               "kind": service.document_kind, "data": data, "pickup_code": row["pickup_code"],
                               "print_token": secrets.token_urlsafe(16), "status": "ready",
                               "created_at": time.time()})


def document_summary(row: dict) -> DocumentSummary:
    return DocumentSummary(document_id=row["document_id"], title=row["title"], kind=row["kind"],
                           print_token=row["print_token"] if row["status"] == "ready" else None,
                           status=row["status"], application_no=row["application_no"],
                           pickup_code=row["pickup_code"])


def application_view(store: Store, app_row: dict, documents: bool = True) -> dict:
    """``documents=False``: the caller knows there are none (an application just recorded
    without issuing one)."""
    docs = store.all("SELECT * FROM documents WHERE application_no = ? ORDER BY created_at",
                     (app_row["application_no"],)) if documents else []
    return ApplicationResponse(
        application_no=app_row["application_no"], status=app_row["status"], kind=app_row["kind"],
        service_id=app_row["service_id"], service_name=app_row["service_name"],
        promised_days=app_row["promised_days"], expected_completion=app_row["expected_completion"],
        pickup_code=app_row["pickup_code"], documents=[document_summary(d) for d in docs]).model_dump()


def intake(store: Store, kiosk_id: str, key: str, body: ApplicationRequest, decoded: list) -> dict:
    """Record one application (inside a write transaction); 即办件 are approved at once."""
    service = services.lookup(store, body.service_id)
    now = time.time()
    today = dt.date.today()
    region = store.one("SELECT region FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))["region"]
    number = store.next_number(f"applications-{today:%Y%m%d}")
    application_no = f"{region}{today:%Y%m%d}{number:06d}"
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
    if immediate:
        issue_document(store, application_no)
    log.info("application %s accepted from %s (service %s, %s%s)", application_no, kiosk_id,
             service.service_id, service.kind, ", queued offline" if body.offline else "")
    # The view from what was just inserted (no read back); documents exist only if one was issued.
    return application_view(store, row, documents=immediate)


def create_app(store: Store, faults: FaultInjector | None = None, admin_token: str | None = None,
               platform_key: PlatformIdentity | None = None) -> FastAPI:
    """``platform_key``: the key that answers enrolment challenges; default PlatformIdentity.for_store,
    loaded at the first enrolment."""
    injector = faults or FaultInjector()
    platform_identity = functools.cache(lambda: platform_key or PlatformIdentity.for_store(store))
    app = FastAPI(title="Kiosk central platform", version=API_VERSION,
                  description="API v1 between government self-service kiosks and the central platform. "
                              "Every call except enrol needs `Authorization: Bearer <kiosk token>`.")
    app.add_middleware(FaultMiddleware, injector=injector)

    @app.exception_handler(DataRejected)
    def data_rejected(request, exc: DataRejected) -> JSONResponse:
        # PostgreSQL only (e.g. a number out of range for its column): the body can never be stored.
        return JSONResponse({"detail": str(exc)}, status_code=422)

    def authenticate(credentials: HTTPAuthorizationCredentials | None) -> str:
        if credentials is None:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        row = store.one("SELECT kiosk_id FROM kiosks WHERE token_hash = ? AND revoked = 0",
                        (token_hash(credentials.credentials.strip()),))
        if row is None:
            raise HTTPException(401, "unknown or revoked kiosk token", headers={"WWW-Authenticate": "Bearer"})
        return row["kiosk_id"]

    async def kiosk_on_the_loop(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
        # SQLite: one local indexed read (WAL readers never wait for writers) is cheaper on the
        # event loop than a hop to the thread pool on every request
        return authenticate(credentials)

    def kiosk_in_the_pool(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
        # PostgreSQL: the read is a network round trip, which must not stall every other request
        return authenticate(credentials)

    kiosk = kiosk_on_the_loop if store.dialect.name == "sqlite" else kiosk_in_the_pool

    def idempotent(kiosk_id: str, scope: str, key: str, body: Any,
                   work: Callable[[], tuple[int, dict]]) -> JSONResponse:
        """Run ``work`` once per (kiosk, scope, key); replay its answer afterwards."""
        state, stored = store.claim_key(kiosk_id, scope, key, canonical_hash(body))
        if state == "mismatch":
            raise HTTPException(422, "Idempotency-Key was already used with a different body")
        if state == "processing":
            return JSONResponse({"detail": "a request with this Idempotency-Key is still being processed",
                                 "retryable": True}, status_code=409, headers={"Retry-After": "1"})
        if state == "replay":
            status, response = stored
            return JSONResponse(response, status_code=status, headers={"Idempotent-Replayed": "true"})
        delay = injector.processing_delay()
        if delay > 0:
            time.sleep(delay)
        try:
            with store.write():
                status, response = work()
                # Serialised once, as JSONResponse would: the same text is stored for replays.
                text = json.dumps(response, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
                store.finish_key(kiosk_id, scope, key, status, response, response_json=text)
        except BaseException:
            store.release_key(kiosk_id, scope, key)
            raise
        return Response(text.encode("utf-8"), status_code=status, media_type="application/json")

    # -- enrolment -------------------------------------------------------------------------------
    @app.post("/v1/enroll", response_model=EnrollResponse, tags=["kiosk"],
              responses={403: {"model": Problem, "description": "unknown code"},
                         410: {"model": Problem, "description": "code already used or expired"}, **ERRORS})
    def enroll(body: EnrollRequest) -> EnrollResponse:
        """Exchange a one-time enrolment code for a per-kiosk token."""
        key = platform_identity()  # before the code is spent: a broken key must not cost the technician's code
        code = body.code.replace("-", "").upper()
        token = new_token()
        now = time.time()
        with store.write():
            row = store.one_for_update("SELECT * FROM enroll_codes WHERE code_hash = ?", (token_hash(code),))
            if row is None:
                raise HTTPException(403, "unknown enrolment code")
            if row["used_at"] is not None:
                raise HTTPException(410, "this enrolment code was already used")
            if row["expires_at"] < now:
                raise HTTPException(410, "this enrolment code has expired; ask for a new one")
            kiosk_id = body.kiosk_id or f"kiosk-{secrets.token_hex(4)}"
            store.execute("UPDATE enroll_codes SET used_at = ?, used_by = ? WHERE code_hash = ?",
                          (now, kiosk_id, row["code_hash"]))
            store.execute("INSERT INTO kiosks (kiosk_id, token_hash, region, hostname, enrolled_at) "
                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kiosk_id) DO UPDATE SET "
                          "token_hash = excluded.token_hash, region = excluded.region, "
                          "hostname = excluded.hostname, enrolled_at = excluded.enrolled_at, revoked = 0",
                          (kiosk_id, token_hash(token), row["region"], body.hostname, now))
        log.info("kiosk %s enrolled (region %s)", kiosk_id, row["region"])
        answer = {"kiosk_id": kiosk_id, "token": token, "region": row["region"],
                  "menu_pubkeys": store.get_setting("menu_pubkeys", [])}
        return EnrollResponse(**answer, platform_key=key.public_b64,
                              signature=key.sign_enrolment(body.challenge, answer))

    # -- menu -------------------------------------------------------------------------------------
    @app.get("/v1/menu", tags=["kiosk"],
             responses={200: {"content": {"application/octet-stream": {}, "application/json": {}},
                              "description": "the signed menu bundle, as published"},
                        304: {"description": "If-None-Match matched: the kiosk's copy is current"},
                        404: {"model": Problem, "description": "no menu published yet"}, **ERRORS})
    def get_menu(if_none_match: str | None = Header(None), kiosk_id: str = Depends(kiosk)):
        """The signed menu bundle with its ETag (conditional GET)."""
        row = store.one("SELECT etag, content, content_type FROM menu WHERE slot = 1")
        if row is None:
            raise HTTPException(404, "no menu has been published")
        if if_none_match and row["etag"] in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers={"ETag": row["etag"]})
        return Response(bytes(row["content"]), media_type=row["content_type"], headers={"ETag": row["etag"]})

    # -- applications -----------------------------------------------------------------------------
    @app.post("/v1/applications", status_code=201, response_model=ApplicationResponse, tags=["kiosk"],
              responses={200: {"model": ApplicationResponse, "description": "replay of the first answer"},
                         **IDEMPOTENT_ERRORS})
    def create_application(body: ApplicationRequest,
                           idempotency_key: str = Header(min_length=1, max_length=100,
                                                         description="UUID, one per application"),
                           kiosk_id: str = Depends(kiosk)):
        """Submit an application exactly once (Idempotency-Key); 即办件 are approved at once."""
        decoded = decode_materials(body)

        def work() -> tuple[int, dict]:
            return 201, intake(store, kiosk_id, idempotency_key, body, decoded)

        return idempotent(kiosk_id, "applications", idempotency_key, body.model_dump(mode="json"), work)

    @app.post("/v1/applications/batch", response_model=ApplicationBatchResponse, tags=["kiosk"],
              responses=ERRORS)
    def create_applications(body: ApplicationBatchRequest, kiosk_id: str = Depends(kiosk)):
        """Several queued applications in one request and one commit, in order: how a kiosk's
        offline queue drains a backlog.  Each item keeps its own Idempotency-Key with the meaning
        it has on POST /v1/applications, so an item may be sent alone, in a batch, and again (a
        key repeated within a batch is answered as a repeat: the first answer, or 422)."""
        delay = injector.processing_delay()
        if delay > 0:
            time.sleep(delay)
        results = []
        with store.write():
            for item in body.items:
                results.append(batch_item(kiosk_id, item))
                if results[-1]["status"] == 409:  # keep the kiosk's order: stop at the first item to retry
                    break
        return Response(json.dumps({"results": results}, ensure_ascii=False, allow_nan=False,
                                   separators=(",", ":")).encode("utf-8"), media_type="application/json")

    def batch_item(kiosk_id: str, item: BatchItem) -> dict:
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
            decoded = decode_materials(request)
        except HTTPException as exc:
            return answer(exc.status_code, {"detail": exc.detail})
        response = intake(store, kiosk_id, key, request, decoded)
        store.record_key(kiosk_id, "applications", key, body_hash, 201,
                         json.dumps(response, ensure_ascii=False, allow_nan=False, separators=(",", ":")))
        return answer(201, response)

    @app.get("/v1/applications/{application_no}", response_model=ApplicationResponse, tags=["kiosk"],
             responses={404: {"model": Problem}, **ERRORS})
    def application_status(application_no: str, kiosk_id: str = Depends(kiosk)):
        """Status of an application by its number (any kiosk: 通办通取)."""
        row = store.one("SELECT * FROM applications WHERE application_no = ?", (application_no,))
        if row is None:
            raise HTTPException(404, "no application with this number")
        return application_view(store, row)

    # -- identity, materials, documents -----------------------------------------------------------
    @app.post("/v1/identity/verify", response_model=IdentityResponse, tags=["kiosk"], responses=ERRORS)
    def verify_identity(body: IdentityRequest, kiosk_id: str = Depends(kiosk)):
        """人证核验: does the live face belong to the card holder?  (Reference matcher: see docs.)"""
        id_number = body.card.id_number.strip()
        try:
            face = base64.b64decode(body.face_jpeg_b64, validate=True)
            wlt = base64.b64decode(body.photo_wlt_b64, validate=True) if body.photo_wlt_b64 else None
        except (binascii.Error, ValueError):
            result = identity.MatchResult(False, 0.0, "an image is not valid base64")
        else:
            result = identity.reference_match(wlt, face)
        verification_id = uuid.uuid4().hex
        with store.write():
            store.execute("INSERT INTO verifications (verification_id, kiosk_id, resident_key, matched, score, "
                          "created_at) VALUES (?,?,?,?,?,?)",
                          (verification_id, kiosk_id, store.resident_key(id_number), int(result.match),
                           result.score, time.time()))
        log.info("identity check %s from %s: match=%s score=%.2f", verification_id, kiosk_id,
                 result.match, result.score)
        return IdentityResponse(match=result.match, score=round(result.score, 4),
                                verification_id=verification_id, method=identity.METHOD, reason=result.reason)

    @app.post("/v1/residents/materials", response_model=MaterialsResponse, tags=["kiosk"], responses=ERRORS)
    def reusable_materials(body: MaterialsRequest, kiosk_id: str = Depends(kiosk)):
        """材料复用: the latest copy of each material this resident submitted before."""
        rows = store.all("SELECT kind, name, MAX(submitted_at) AS submitted_at FROM materials "
                         "WHERE resident_key = ? GROUP BY kind, name ORDER BY kind",
                         (store.resident_key(body.id_number),))
        return MaterialsResponse(materials=[MaterialOnRecord(material_id=r["kind"], name=r["name"],
                                                             submitted_at=_iso(r["submitted_at"]))
                                            for r in rows])

    @app.post("/v1/documents/query", response_model=DocumentsResponse, tags=["kiosk"], responses=ERRORS)
    def query_documents(body: DocumentsQuery, kiosk_id: str = Depends(kiosk)):
        """Documents for a resident (by ID number) or for a pickup code (通办通取)."""
        if body.pickup_code:
            rows = store.all("SELECT * FROM documents WHERE pickup_code = ?", (body.pickup_code.strip(),))
        elif body.id_number:
            rows = store.all("SELECT * FROM documents WHERE resident_key = ? ORDER BY created_at",
                             (store.resident_key(body.id_number),))
        else:
            raise HTTPException(422, "give id_number or pickup_code")
        return DocumentsResponse(documents=[document_summary(r) for r in rows])

    def document_row(document_id: str, lock: bool = False) -> dict:
        """``lock``: inside a write that changes the row (PostgreSQL: FOR UPDATE)."""
        sql = "SELECT * FROM documents WHERE document_id = ?"
        row = store.one_for_update(sql, (document_id,)) if lock else store.one(sql, (document_id,))
        if row is None:
            raise HTTPException(404, "no document with this id")
        return row

    @app.get("/v1/documents/{document_id}", response_model=DocumentData, tags=["kiosk"],
             responses={404: {"model": Problem}, **ERRORS})
    def get_document(document_id: str, kiosk_id: str = Depends(kiosk)):
        """The document's fields, for the kiosk's licence/certificate template."""
        row = store.record("documents", document_id)
        if row is None:
            raise HTTPException(404, "no document with this id")
        return DocumentData(document_id=row["document_id"], title=row["title"], kind=row["kind"],
                            status=row["status"], application_no=row["application_no"], data=row["data"])

    @app.post("/v1/documents/{document_id}/printed", response_model=PrintedResponse, tags=["kiosk"],
              responses={404: {"model": Problem}, 409: {"model": Problem, "description": (
                  "wrong print token (retryable false), or the same Idempotency-Key still processing")},
                  **ERRORS})
    def report_printed(document_id: str, body: PrintedReport, kiosk_id: str = Depends(kiosk),
                       idempotency_key: str | None = Header(None, max_length=100)):
        """Report a print.  The same token reported again is harmless; a wrong token is refused."""
        def work() -> tuple[int, dict]:
            row = document_row(document_id, lock=True)
            if not hmac.compare_digest(row["print_token"], body.print_token):
                raise HTTPException(409, {"message": "print token does not match this document",
                                          "retryable": False})
            if row["status"] == "ready":
                if body.result == "printed":
                    store.execute("UPDATE documents SET status = 'printed', printed_at = ?, printed_by = ?, "
                                  "last_detail = ? WHERE document_id = ?",
                                  (time.time(), kiosk_id, body.detail[:200], document_id))
                    log.info("document %s printed at %s", document_id, kiosk_id)
                else:
                    store.execute("UPDATE documents SET print_failures = print_failures + 1, last_detail = ? "
                                  "WHERE document_id = ?", (body.detail[:200], document_id))
                    log.warning("document %s failed to print at %s", document_id, kiosk_id)
            row = document_row(document_id)
            return 200, PrintedResponse(document_id=document_id, status=row["status"],
                                        print_failures=row["print_failures"]).model_dump()

        if idempotency_key:
            return idempotent(kiosk_id, f"printed:{document_id}", idempotency_key,
                              body.model_dump(mode="json"), work)
        with store.write():
            status, response = work()
        return JSONResponse(response, status_code=status)

    # -- ratings, appeals, heartbeats -------------------------------------------------------------
    @app.post("/v1/ratings", status_code=201, response_model=RatingResponse, tags=["kiosk"],
              responses=IDEMPOTENT_ERRORS)
    def rate(body: RatingRequest, idempotency_key: str = Header(min_length=1, max_length=100),
             kiosk_id: str = Depends(kiosk)):
        """好差评 on five levels; 1-2 are flagged for follow-up."""
        def work() -> tuple[int, dict]:
            # A resident's rating is never refused for a reference the platform cannot resolve:
            # it is kept unlinked and an officer sees it (the queue sends ratings after applications).
            application_no = body.application_no or None
            if application_no is None and body.application_key:
                row = store.one("SELECT application_no FROM applications WHERE kiosk_id = ? AND idem_key = ?",
                                (kiosk_id, body.application_key))
                application_no = row["application_no"] if row else None
            elif application_no is not None and store.one(
                    "SELECT 1 AS x FROM applications WHERE application_no = ?", (application_no,)) is None:
                application_no = None
            rating_id = uuid.uuid4().hex
            follow_up = body.level <= 2
            store.insert("ratings", {"rating_id": rating_id, "kiosk_id": kiosk_id, "application_no": application_no,
                                     "level": body.level, "comment": body.comment, "follow_up": int(follow_up),
                                     "created_at": time.time()})
            if follow_up:
                log.warning("rating %s (level %d) needs follow-up", rating_id, body.level)
            return 201, RatingResponse(rating_id=rating_id, application_no=application_no,
                                       linked=application_no is not None, follow_up=follow_up).model_dump()
        return idempotent(kiosk_id, "ratings", idempotency_key, body.model_dump(mode="json"), work)

    @app.post("/v1/appeals", status_code=201, response_model=AppealResponse, tags=["kiosk"],
              responses=IDEMPOTENT_ERRORS)
    def appeal(body: AppealRequest, idempotency_key: str = Header(min_length=1, max_length=100),
               kiosk_id: str = Depends(kiosk)):
        """诉求: consultations, complaints, suggestions (12345-style)."""
        def work() -> tuple[int, dict]:
            appeal_no = f"SQ{dt.date.today():%Y%m%d}{store.next_number('appeals'):06d}"
            store.insert("appeals", {"appeal_no": appeal_no, "kiosk_id": kiosk_id, "category": body.category,
                                     "text": body.text, "contact_phone": body.contact_phone, "status": "received",
                                     "created_at": time.time()})
            log.info("appeal %s (%s) from %s", appeal_no, body.category, kiosk_id)
            return 201, AppealResponse(appeal_no=appeal_no, status="received").model_dump()
        return idempotent(kiosk_id, "appeals", idempotency_key, body.model_dump(mode="json"), work)

    @app.post("/v1/heartbeat", response_model=HeartbeatResponse, tags=["kiosk"], responses=ERRORS)
    def heartbeat(body: HeartbeatRequest, kiosk_id: str = Depends(kiosk)):
        """Kiosk health: devices, queue depth and dead letters, menu version, free disk."""
        if body.kiosk_id != kiosk_id:
            log.warning("heartbeat from %s names itself %r; recorded under the token's kiosk", kiosk_id, body.kiosk_id)
        now = time.time()
        payload = json.dumps(body.model_dump(mode="json"), ensure_ascii=False)
        sample = history_sample(kiosk_id, body, now)
        with store.write(durable=False):  # the next heartbeat replaces it anyway
            store.execute("UPDATE kiosks SET last_seen = ?, last_heartbeat = ? WHERE kiosk_id = ?",
                          (now, payload, kiosk_id))
            if sample is not None:
                store.execute("INSERT INTO heartbeats (kiosk_id, received_at, queue_depth, dead, faults, uptime_s) "
                              "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kiosk_id, received_at) DO NOTHING", sample)
        return HeartbeatResponse(server_time=_iso(now))

    last_samples: dict[str, tuple[float, int, int, int, float]] = {}  # this process's last sample per kiosk

    def history_sample(kiosk_id: str, body: HeartbeatRequest, now: float) -> tuple | None:
        """The history row for this heartbeat, or None when it adds nothing (see HISTORY_EVERY_S)."""
        depth, dead = min(body.queue.depth, _COUNT_CAP), min(body.queue.dead, _COUNT_CAP)
        faults = sum(1 for d in body.devices.values() if d.state.upper() in ("FAULT", "DISCONNECTED"))
        last = last_samples.get(kiosk_id)
        if (last is not None and now - last[0] < HISTORY_EVERY_S and last[1:4] == (depth, dead, faults)
                and body.uptime_s >= last[4]):
            return None
        last_samples[kiosk_id] = (now, depth, dead, faults, body.uptime_s)
        return (kiosk_id, now, depth, dead, faults, body.uptime_s)

    # -- admin (not part of the kiosk contract) ---------------------------------------------------
    def admin(x_admin_token: str | None = Header(None)) -> None:
        if not admin_token or not x_admin_token or not hmac.compare_digest(admin_token, x_admin_token):
            raise HTTPException(404, "not found")

    @app.get("/admin/fleet", include_in_schema=False)
    def fleet_page(authorization: str | None = Header(None)):
        """The fleet page for a browser: HTTP Basic, password = the admin token."""
        if not admin_token:
            raise HTTPException(404, "not found")
        password = ""
        if authorization and authorization.startswith("Basic "):
            try:
                password = base64.b64decode(authorization[6:]).decode("utf-8").partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                password = ""
        if not hmac.compare_digest(password.encode(), admin_token.encode()):
            raise HTTPException(401, "admin token required",
                                headers={"WWW-Authenticate": 'Basic realm="central", charset="UTF-8"'})
        from central import fleet_page  # central.admin (which it uses) imports this module
        return HTMLResponse(fleet_page.render(store))

    @app.get("/admin/faults", include_in_schema=False, dependencies=[Depends(admin)])
    def get_faults():
        return injector.current().to_dict()

    @app.put("/admin/faults", include_in_schema=False, dependencies=[Depends(admin)])
    def put_faults(body: dict):
        try:
            injector.set(Faults.from_dict(body))
        except (TypeError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from None
        log.warning("faults set: %s", body)
        return injector.current().to_dict()

    return app
