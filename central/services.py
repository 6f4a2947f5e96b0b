"""What the reference platform knows about services: 即办件 or 承诺件, and what it issues.

即办件 (``immediate``) are decided on the spot: the platform approves them as
they arrive and, when the service issues a document, that document is ready
to print at the kiosk at once.  承诺件 (``promised``) wait for an officer
(``central applications approve NO``) within ``promised_days`` working days.

Service ids follow the sample menu; a service id the platform does not list
is accepted as a 承诺件 of DEFAULT_PROMISED_DAYS for manual review rather
than refused, so a menu published before the platform learns of a new
service never loses an application.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

IMMEDIATE, PROMISED = "immediate", "promised"
DEFAULT_PROMISED_DAYS = 5


@dataclass(frozen=True)
class Service:
    service_id: str
    name: str
    kind: str
    promised_days: int = 0
    document_title: str | None = None   # what approval issues, if anything
    document_kind: str = "certificate"  # licence | certificate | proof


CATALOGUE: dict[str, Service] = {s.service_id: s for s in [
    Service("business-licence", "个体工商户营业执照登记", IMMEDIATE, 0, "营业执照", "licence"),
    Service("senior-card", "敬老优待证办理", IMMEDIATE, 0, "敬老优待证", "certificate"),
    Service("residence-proof", "居住证明开具", IMMEDIATE, 0, "居住证明", "proof"),
    Service("family-planning-proof", "计划生育情况证明", PROMISED, 3, "计划生育情况证明", "proof"),
    Service("unemployment-registration", "失业人员登记", PROMISED, 5, "就业失业登记证明", "proof"),
    Service("social-insurance-record", "社保参保证明打印", IMMEDIATE, 0, "社会保险参保证明", "proof"),
]}


def lookup(service_id: str) -> Service:
    return CATALOGUE.get(service_id) or Service(service_id, service_id, PROMISED, DEFAULT_PROMISED_DAYS)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """Promised dates count working days (Monday to Friday; holidays are not modelled)."""
    current = start
    while days > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current
