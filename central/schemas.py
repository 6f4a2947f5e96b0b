"""Request and response models of API v1: they are the published contract (docs/api/openapi.json).

Requests are validated strictly; responses are what the kiosk may rely on.  Kept apart from the
routes so the contract reads in one place and the routes stay about behaviour.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

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
    skipped: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=30,
        description="边办边补: secondary materials the resident will hand in later (material ids); each one "
                    "the service lists as secondary is owed by the service's supplement deadline")


class OwedMaterial(BaseModel):
    material_id: str
    name: str
    deadline: str = Field(description="last day to hand it in (YYYY-MM-DD)")
    status: Literal["awaiting_supplement", "received", "accepted", "rejected"]
    reason: str | None = Field(None, description="why a supplement was rejected (for the resident)")


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
    owed: list[OwedMaterial] = Field(default_factory=list, description="边办边补: materials still to hand in")


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
    presence_grant: str | None = Field(None, description=(
        "on a match: a short-lived proof of presence for this resident at this kiosk, to send as "
        "X-Presence-Grant on reads of the resident's data (see docs/platform.md, \"Presence grants\")"))
    grant_expires_in_s: int | None = None


class EidVerifyRequest(Strict):
    code: str = Field(min_length=1, max_length=1000, description="the text of the e-ID QR code the resident "
                                                                 "showed (EID1.…), as scanned")


class EidIdentityFields(BaseModel):
    name: str
    id_number: str = Field(description="the whole number: the kiosk masks it wherever it is shown")


class EidVerifyResponse(BaseModel):
    identity: EidIdentityFields = Field(description="what the e-ID carries: name and ID number only -- no "
                                                    "address, photo or card validity")
    carries: list[str] = Field(description="the identity fields an e-ID carries (the kiosk asks for the card "
                                           "where a service needs another)")
    presence_grant: str = Field(description="send as X-Presence-Grant; valid at this kiosk only, for this resident")
    grant_expires_in_s: int


class PickupGrantRequest(Strict):
    pickup_code: str = Field(pattern=r"^[0-9]{8}$", description="8 digits from the receipt")
    id_number: str = Field(min_length=1, max_length=40, description="read from the resident's card at this kiosk; "
                                                                    "must be the applicant's")


class GrantResponse(BaseModel):
    presence_grant: str = Field(description="send as X-Presence-Grant; valid at this kiosk only, for the "
                                            "application the pickup code belongs to")
    grant_expires_in_s: int


class MaterialOnRecord(BaseModel):
    material_id: str
    name: str
    submitted_at: str


class MaterialsResponse(BaseModel):
    materials: list[MaterialOnRecord]


class ContactResponse(BaseModel):
    """材料复用 of contact details: what the resident gave in their latest application that had it."""
    phone: str | None = Field(None, description="mobile number from the resident's latest application with one")
    address: str | None = Field(None, description="address from the resident's latest application with one")


class TimelineEntry(BaseModel):
    step: Literal["received", "approved", "rejected", "printed"]
    at: str = Field(description="ISO 8601, UTC")


class ResidentApplication(BaseModel):
    application_no: str
    status: Literal["accepted", "approved", "rejected"]
    kind: Literal["immediate", "promised"]
    service_id: str
    service_name: str
    promised_days: int
    expected_completion: str
    received_at: str
    timeline: list[TimelineEntry] = Field(description="what happened so far, oldest first")
    documents: list[DocumentSummary] = Field(description="documents issued; those with a print token can be "
                                                         "printed at this kiosk (打印证照)")
    owed: list[OwedMaterial] = Field(description="边办边补: secondary materials owed, with deadline and status")


class SupplementRequest(Strict):
    materials: list[Material] = Field(min_length=1, max_length=30)


class SupplementResult(BaseModel):
    material_id: str
    outcome: Literal["received", "not_needed", "deadline_passed", "no_pages"]


class SupplementResponse(BaseModel):
    application_no: str
    results: list[SupplementResult]
    owed: list[OwedMaterial]


class ResidentApplicationsResponse(BaseModel):
    applications: list[ResidentApplication] = Field(description="newest first, at most 50")


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


HELP_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class HelpRequestBody(Strict):
    """帮助 pressed at a kiosk.  Nothing about the resident: any other field is refused."""
    model_config = ConfigDict(strict=True, extra="forbid")
    request_id: str = Field(pattern=HELP_ID, description="a UUID chosen by the kiosk (its queue item id): "
                                                         "sending it again is the same request")
    screen: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$",
                        description="the name of the screen the resident was on (e.g. home, form)")
    requested_at: str | None = Field(None, max_length=40, description="ISO 8601, kiosk clock")
    centre: str | None = Field(None, max_length=120, description="the service centre the kiosk stands in")


class HelpStatus(BaseModel):
    request_id: str
    status: Literal["open", "acknowledged"] = Field(
        description="acknowledged: a member of staff is on the way (the kiosk says 工作人员正在赶来)")
    received_at: str
    acknowledged_at: str | None = None


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
    token: str | None = Field(None, description=(
        "a new kiosk token, handed over before the current one expires: the kiosk saves it and uses it from "
        "now on (the old one is still honoured for a grace period)"))
    token_expires_at: str | None = Field(None, description="when the token this answer was sent with expires")


class Problem(BaseModel):
    detail: Any
    retryable: bool | None = None


ERRORS = {400: {"model": Problem, "description": "the body is not JSON"},
          401: {"model": Problem, "description": "missing, unknown, expired or revoked kiosk token"},
          413: {"model": Problem, "description": "the body is larger than this endpoint accepts"},
          422: {"model": Problem, "description": "validation failed (do not retry)"}}
LIMITED = {429: {"model": Problem, "description": "too many failed attempts: locked for a while (Retry-After)"}}
RESIDENT_ERRORS = {**ERRORS, **LIMITED,
                   403: {"model": Problem, "description": "no valid presence grant for this resident at this kiosk "
                                                          "(X-Presence-Grant)"},
                   404: {"model": Problem, "description": "not found"}}

EID_REFUSED = {
    404: {"model": Problem, "description": "eid_forged: not a code the identity service issued (unreadable or "
                                           "altered)"},
    403: {"model": Problem, "description": "eid_wrong_region: the code is for another region's kiosks"},
    410: {"model": Problem, "description": "eid_expired / eid_used: show a fresh code"}}


IDEMPOTENT_ERRORS = {**ERRORS,
                     409: {"model": Problem, "description": "a request with this key is still being processed"}}

