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


# Ids and time limits as in the sample menu (assets/menus/sample.json), Futian.
CATALOGUE: dict[str, Service] = {s.service_id: s for s in [
    Service("elderly-card", "敬老优待证办理", PROMISED, 5, "敬老优待证", "certificate"),
    Service("birth-registration", "生育登记", IMMEDIATE, 0, "生育登记服务单", "proof"),
    Service("unemployment-registration", "失业登记", IMMEDIATE, 0, "就业失业登记证明", "proof"),
    Service("employment-registration", "就业登记", IMMEDIATE, 0, "就业登记证明", "proof"),
    Service("residence-permit-endorsement", "居住证签注", IMMEDIATE, 0, "居住证签注凭证", "proof"),
    Service("family-planning-certificate", "计划生育情况证明", PROMISED, 3, "计划生育情况证明", "proof"),
    Service("citizen-card-loss", "市民卡挂失", IMMEDIATE, 0),
    Service("senior-allowance", "高龄老人津贴申请", PROMISED, 10),
    Service("sole-proprietor-registration", "个体工商户设立登记", PROMISED, 2, "营业执照", "licence"),
    Service("sole-proprietor-change", "个体工商户变更登记", PROMISED, 2, "营业执照", "licence"),
    Service("sole-proprietor-deregistration", "个体工商户注销登记", PROMISED, 1, "准予注销登记通知书", "proof"),
    Service("social-insurance-proof", "社会保险参保证明", IMMEDIATE, 0, "社会保险参保证明", "proof"),
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
