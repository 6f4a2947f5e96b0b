"""我的办件: the applications of the resident present, for the my_applications screen.

Two sources, merged here so the screen gets one answer:

* the platform's list (``POST /v1/residents/applications`` under the session's presence grant):
  every application of the resident, at any kiosk, with its timeline and printable documents;
* this kiosk's outbox: applications the resident made here that are still waiting for the
  network (the platform does not know them yet), matched by the card's ID number inside the
  encrypted payload.  They carry the receipt's local reference number, never a platform number.

When the platform cannot be reached the answer says so (``online=False``) and still carries
the queued ones: the screen tells the resident plainly what it cannot show.  Blocks (network,
SQLite): the core runs it in a worker.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from kiosk.platform import AuthError, PlatformError, PresenceRequired
from kiosk.workflow import local_reference

log = logging.getLogger(__name__)


@dataclass
class MyApplications:
    online: bool                                             # the platform answered
    applications: list[dict] = field(default_factory=list)   # the platform's, newest first
    queued: list[dict] = field(default_factory=list)         # still in this kiosk's outbox


def _service_name(menu: Any, service_id: str, language: str) -> str:
    try:
        return menu.service(service_id).name(language)
    except (AttributeError, KeyError):  # no menu, or the service left it since
        return service_id


def queued_here(core: Any, id_number: str, language: str) -> list[dict]:
    """Applications of ``id_number`` waiting in this kiosk's outbox (oldest first)."""
    outbox = core.outbox
    if outbox is None or not id_number:
        return []
    mine = []
    for item in outbox.items(states=("pending", "sending", "dead")):
        if item.kind != "application":
            continue
        payload = outbox.peek_payload(item)
        if payload is None or (payload.get("applicant") or {}).get("id_number") != id_number:
            continue
        when = dt.datetime.fromtimestamp(item.created_at).astimezone()
        mine.append({"reference": local_reference(core.config, item.id, when),
                     "service_id": payload.get("service_id", ""),
                     "service_name": _service_name(core.menu, payload.get("service_id", ""), language),
                     "queued_at": when.isoformat(timespec="minutes"),
                     "state": "refused" if item.state == "dead" else "queued"})
    return mine


def list_for_resident(core: Any, session: Any) -> MyApplications:
    """The resident's applications; raises PresenceRequired when the session has no grant."""
    if session.presence_grant is None:
        raise PresenceRequired("no presence grant in this session", None)
    card = session.card
    queued = queued_here(core, getattr(card, "id_number", "") if card is not None else "", session.language)
    try:
        applications = core.platform.resident_applications(session.presence_grant)
    except PresenceRequired:
        raise
    except (AuthError, PlatformError, OSError) as exc:  # offline, the platform down, this kiosk's token refused
        log.warning("my applications: the platform did not answer (%s)", type(exc).__name__)
        return MyApplications(online=False, queued=queued)
    return MyApplications(online=True, applications=applications, queued=queued)
