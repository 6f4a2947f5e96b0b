"""材料复用 of contact details: a returning resident's phone number and address.

The platform returns them only under the session's identity presence grant (人证核验), from
the resident's latest applications, where they are sealed at rest.  The kiosk keeps them in
the resident's :class:`~kiosk.session.Session` only (wiped at session end) and the form
offers them masked -- "使用此号码 138****5678" / "换一个号码" -- so they are never shown whole
on the screen and the resident does not type 11 digits again.  The values are checked as a
typed one would be (``kiosk.transaction.validate_field``) before they are offered.
"""
from __future__ import annotations

import logging

from kiosk.privacy import clean_text
from kiosk.logs import redactor
from kiosk.transaction import validate_field

log = logging.getLogger(__name__)


def on_record(platform, session) -> dict[str, str]:
    """Ask the platform (blocking: a worker); keep what is usable in the session.  A platform
    that cannot answer is no error for the resident: they type the number as before."""
    try:
        found = platform.contact_on_record(session.presence_grant)
    except Exception as exc:   # network, refused grant: the form simply offers nothing
        log.info("contact details on record not available: %s", exc.__class__.__name__)
        return {}
    usable: dict[str, str] = {}
    phone = clean_text(found.get("phone"))
    if phone and validate_field({"type": "phone"}, phone) is None:
        usable["phone"] = phone
    address = clean_text(found.get("address"))
    if address and validate_field({"type": "address"}, address) is None:
        usable["address"] = address
        redactor.protect(address)          # the logs mask it like the card's address
    session.contact_on_record = dict(usable)
    log.info("contact details on record: %s", ", ".join(sorted(usable)) or "none")
    return usable
