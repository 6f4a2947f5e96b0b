"""What the platform knows about services, read from the menu it published.

The published menu (``central menu publish``: a signed bundle or its JSON) says each
service's name, its kind -- 即办件 decided on the spot, 承诺件 waiting for an officer
(``central applications approve NO``) -- and the working days promised.  In the contract the
kinds are ``immediate`` and ``promised``.  Until a menu is published the platform reads the
sample menu it ships with (:data:`SAMPLE_MENU`, the development kiosk's); a deployment
publishes its own before enrolling kiosks.  A service the menu does not list, or any service
while the published menu is unusable, is accepted as a 承诺件 of DEFAULT_PROMISED_DAYS for
manual review rather than refused: an application is never lost because the platform does
not know its service yet.

What approval issues is the back office's, not the menu's (the menu describes what residents
see): :data:`ISSUED_DOCUMENTS`, by service id.

The parsed menu is kept per process by its ETag (a hash of the bundle), and the ETag is read
on every lookup, so several worker processes follow a new publication at once.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from common.workdays import add_working_days  # noqa: F401 (promised dates and deadlines count working days)
from kiosk.menu import MenuError, menu_from_document
from kiosk.menu_bundle import FORMAT as BUNDLE_FORMAT
from kiosk.menu_schema import DEFAULT_SUPPLEMENT_DAYS

log = logging.getLogger("central.services")

IMMEDIATE, PROMISED = "immediate", "promised"
KINDS = {"即办件": IMMEDIATE, "承诺件": PROMISED}  # the menu's words -> the contract's
DEFAULT_PROMISED_DAYS = 5
SAMPLE_MENU = Path(__file__).resolve().parent.parent / "assets" / "menus" / "sample.json"


@dataclass(frozen=True)
class Service:
    service_id: str
    name: str
    kind: str
    promised_days: int = 0
    document_title: str | None = None   # what approval issues, if anything
    document_kind: str = "certificate"  # licence | certificate | proof
    supplement_days: int = DEFAULT_SUPPLEMENT_DAYS       # 边办边补: working days to hand in what was skipped
    secondary: tuple[tuple[str, str], ...] | None = None  # (id, name) a resident may skip; None: unknown


# What approval issues: (title, kind) by service id (Futian's back office).
ISSUED_DOCUMENTS: dict[str, tuple[str, str]] = {
    "elderly-card": ("敬老优待证", "certificate"),
    "birth-registration": ("生育登记服务单", "proof"),
    "unemployment-registration": ("就业失业登记证明", "proof"),
    "employment-registration": ("就业登记证明", "proof"),
    "residence-permit-endorsement": ("居住证签注凭证", "proof"),
    "family-planning-certificate": ("计划生育情况证明", "proof"),
    "sole-proprietor-registration": ("营业执照", "licence"),
    "sole-proprietor-change": ("营业执照", "licence"),
    "sole-proprietor-deregistration": ("准予注销登记通知书", "proof"),
    "social-insurance-proof": ("社会保险参保证明", "proof"),
}


def _service(service_id: str, name: str, kind: str, promised_days: int, supplement_days: int = DEFAULT_SUPPLEMENT_DAYS,
             secondary: tuple[tuple[str, str], ...] | None = None) -> Service:
    title, document_kind = ISSUED_DOCUMENTS.get(service_id) or (None, "certificate")
    return Service(service_id, name, kind, promised_days, title, document_kind, supplement_days, secondary)


def menu_document(content: bytes) -> dict:
    """The menu JSON of a published bundle (or of a published plain menu).  The signature is not
    checked again: the platform's own operator published it."""
    if content.startswith(BUNDLE_FORMAT.encode() + b"\n"):
        parts = content.split(b"\n", 2)
        if len(parts) != 3:
            raise MenuError("the bundle has no payload")
        content = parts[2]
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise MenuError(f"not valid JSON: {exc}") from None


def services_of(content: bytes) -> dict[str, Service]:
    menu = menu_from_document(menu_document(content))
    return {s.id: _service(s.id, s.name("zh_CN"), KINDS[s.kind], s.promised_days, s.supplement_days,
                           tuple((m["id"], m["names"]["zh_CN"]) for m in s.guide["materials"] if not m["main"]))
            for s in menu.services()}


class Catalogue:
    """The services of the published menu, re-read when its ETag changes."""

    _NOT_LOADED = object()

    def __init__(self) -> None:
        self._etag: object = self._NOT_LOADED  # None once loaded means "no menu published"
        self._services: dict[str, Service] = {}
        self._lock = threading.Lock()

    def lookup(self, store, service_id: str) -> Service:
        row = store.one("SELECT etag FROM menu WHERE slot = 1")
        etag = row["etag"] if row else None
        if etag != self._etag:
            self._load(store, etag)
        return self._services.get(service_id) or _service(service_id, service_id, PROMISED, DEFAULT_PROMISED_DAYS)

    def _load(self, store, etag: str | None) -> None:
        with self._lock:
            if etag == self._etag:
                return
            row = store.one("SELECT content FROM menu WHERE etag = ? AND slot = 1", (etag,)) if etag else None
            services: dict[str, Service] = {}
            try:
                services = services_of(bytes(row["content"]) if row else SAMPLE_MENU.read_bytes())
            except MenuError as exc:  # every service goes to manual review until a good menu is published
                log.error("the published menu %s is not usable (%s): every service is reviewed by hand", etag, exc)
            self._services, self._etag = services, etag


CATALOGUE = Catalogue()


def lookup(store, service_id: str) -> Service:
    return CATALOGUE.lookup(store, service_id)


