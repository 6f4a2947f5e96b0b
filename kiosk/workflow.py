"""Submitting what a resident did, through the offline queue.

Every application, rating and appeal goes into the durable outbox first; the
resident's receipt never depends on the network.  :func:`submit_application`
then waits a short, bounded time (default 3 s) for the sender to deliver it:
if the platform answered, the receipt carries the application number
(``status="submitted"``); otherwise it carries a local reference number and
says 已保存，联网后自动提交 (``status="queued"``) -- the queue delivers it when the
network is back, exactly once (the item id is the Idempotency-Key).  A
validation refusal within the wait comes back as ``status="refused"`` with
the platform's reason for the technician (the item stays a dead letter).

These functions block for up to ``wait_s``: call them from a worker thread,
never on the Kivy main thread.  :class:`~offline_queue.outbox.QueueFullError`
is raised when the kiosk's disk is too full to store the application safely;
show the resident ``outcome_text(NOT_SAVED)``.
"""
from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any

from common.workdays import add_working_days
from kiosk import i18n
from kiosk.i18n import N_
from kiosk.transaction import attr, materials_to_scan
from offline_queue.outbox import QueueFullError

log = logging.getLogger(__name__)

SUBMITTED, QUEUED, REFUSED = "submitted", "queued", "refused"
ACK_WAIT_S = 3.0
_PRINT_REPORTS = uuid.UUID("6f1d3c2a-9b8e-4d7f-a1c2-5e4b3a291807")  # namespace of report item ids

NOT_SAVED = "not_saved"   # the kiosk could not store the application (disk full)
# What the receipt and the result screen say, per outcome: msgids of the gettext catalogues.
OUTCOMES: dict[str, str] = {
    SUBMITTED: N_("已提交"),
    QUEUED: N_("已保存，联网后自动提交"),
    REFUSED: N_("提交未成功，请凭此凭条到窗口咨询"),
    NOT_SAVED: N_("本机暂时无法保存申请，请到窗口办理"),
}


def outcome_text(outcome: str, language: str | None = None) -> str:
    """The words for ``outcome`` (SUBMITTED, QUEUED, REFUSED, NOT_SAVED) in ``language``."""
    return i18n.gettext(OUTCOMES[outcome], language)


@dataclass
class SubmitResult:
    status: str                      # SUBMITTED | QUEUED | REFUSED
    item_id: str                     # queue item id = Idempotency-Key
    reference: str                   # local reference number, printed on every receipt
    application_no: str | None = None
    response: dict[str, Any] = field(default_factory=dict)   # the platform's answer when submitted
    reason: str | None = None        # REFUSED: the platform's reason (technician wording)
    receipt: dict[str, Any] = field(default_factory=dict)    # data for the receipt printer

    def message(self, language: str = i18n.DEFAULT_LANGUAGE) -> str:
        return outcome_text(self.status, language)


def _card_fields(card: Any) -> dict[str, Any]:
    """The card's text fields, unmasked (the platform needs the real ID number); no photo."""
    if card is None:
        return {}
    if hasattr(card, "to_public_dict"):
        return card.to_public_dict()
    return {k: v for k, v in dict(card).items() if not isinstance(v, (bytes, bytearray))}


def local_reference(config, item_id: str, when: dt.datetime) -> str:
    """A short number for the receipt, unique per kiosk: kiosk id, date, 8 hex of the item id."""
    return f"{config.kiosk.id}-{when:%Y%m%d}-{item_id[:8].upper()}"


def _service_name(service: Any, language: str) -> str:
    name = getattr(service, "name", None)
    if callable(name):
        return name(language)
    names = attr(service, "names") or {}
    return names.get(language) or names.get("zh_CN") or str(attr(service, "id", ""))


def skipped_materials(transaction: Any, session: Any) -> list[str]:
    """边办边补: the secondary materials this service asked for that the resident did not scan
    (跳过，稍后补交); the platform records them as owed (kiosk.supplements)."""
    if transaction is None:
        return []
    todo = materials_to_scan(transaction.service, transaction.reusable_on_record)
    return [m["id"] for m in todo if not m.get("main", True) and not session.materials.get(m["id"])]


def owed_on_receipt(service: Any, skipped: list[str], response: dict, today: dt.date) -> list[dict]:
    """边办边补 for the receipt and the result screen: ``[{material_id, deadline}]`` -- the platform's
    own list once it answered, else this kiosk's estimate from the menu's ``supplement_days``
    (counted from today: the platform's, counted from when it receives it, is never earlier)."""
    if "owed" in response:
        return [{"material_id": o["material_id"], "deadline": o["deadline"]} for o in response["owed"]]
    days = attr(service, "supplement_days", 10) or 10
    deadline = add_working_days(today, days).isoformat()
    return [{"material_id": material_id, "deadline": deadline} for material_id in skipped]


def submit_application(core, session, service, wait_s: float = ACK_WAIT_S) -> "SubmitResult":
    """Queue the session's application and wait up to ``wait_s`` for the platform."""
    now = dt.datetime.now().astimezone()
    service_id = attr(service, "id")
    payload = {
        "service_id": service_id,
        "applicant": _card_fields(session.card),
        "form": dict(session.form),
        "materials": [],  # filled from the encrypted scans when sent
        "delivery": dict(session.delivery),
        "submitted_at": now.isoformat(timespec="seconds"),
        "offline": core.sender.connectivity != "online",
        "skipped": skipped_materials(getattr(core, "transaction", None), session),  # 边办边补: owed later
    }
    attachments = [(material_id, path) for material_id, paths in session.materials.items() for path in paths]
    if session.signature is not None:  # the resident's handwritten signature travels as a material
        attachments.append(("signature", session.signature))
    item_id = core.sender.enqueue("application", payload, attachments)
    result = _await(core, item_id, wait_s, now)
    result.receipt.update({
        "owed": owed_on_receipt(service, payload["skipped"], result.response, now.date())
        if result.status != REFUSED else [],
        "service_id": service_id,
        "service_name": _service_name(service, session.language),
        "promised_days": result.response.get("promised_days", attr(service, "promised_days")),
        "expected_completion": result.response.get("expected_completion"),
        "documents": [{"document_id": d.get("document_id"), "title": d.get("title"),
                       "print_token": d.get("print_token")} for d in result.response.get("documents", [])],
    })
    session.application = {"item_id": item_id, "status": result.status, "reference": result.reference,
                           "application_no": result.application_no, "receipt": result.receipt}
    return result


def submit_rating(core, application: "SubmitResult | str", level: int, comment: str = "",
                  service_id: str | None = None, wait_s: float = 0.0) -> "SubmitResult":
    """好差评 for an application: a SubmitResult (queued or not) or an application number.

    A rating of a still-queued application waits in the queue for it and gets
    its number filled in when the application is acknowledged.
    """
    payload: dict[str, Any] = {"level": int(level), "comment": comment}
    if service_id:
        payload["service_id"] = service_id
    depends_on = None
    if isinstance(application, SubmitResult):
        if application.application_no:
            payload["application_no"] = application.application_no
        else:
            payload["application_key"] = application.item_id
            depends_on = application.item_id
    else:
        payload["application_no"] = application
    item_id = core.sender.enqueue("rating", payload, depends_on=depends_on)
    return _await(core, item_id, wait_s, dt.datetime.now().astimezone())


def submit_appeal(core, category: str, text: str, contact_phone: str | None = None,
                  wait_s: float = ACK_WAIT_S) -> "SubmitResult":
    """诉求 (consultation | complaint | suggestion | help); the appeal number is in
    ``response["appeal_no"]`` when the platform answered within ``wait_s``."""
    payload: dict[str, Any] = {"category": category, "text": text}
    if contact_phone:
        payload["contact_phone"] = contact_phone
    item_id = core.sender.enqueue("appeal", payload)
    return _await(core, item_id, wait_s, dt.datetime.now().astimezone())


def _await(core, item_id: str, wait_s: float, now: dt.datetime) -> SubmitResult:
    reference = local_reference(core.config, item_id, now)
    outcome = core.sender.wait_for(item_id, wait_s) if wait_s > 0 else None
    if outcome is None:
        result = SubmitResult(QUEUED, item_id, reference)
    elif outcome["state"] == "done":
        response = outcome["response"]
        result = SubmitResult(SUBMITTED, item_id, reference, response.get("application_no"), response)
    else:
        result = SubmitResult(REFUSED, item_id, reference, reason=outcome["reason"])
    result.receipt = {"status": result.status, "reference": reference,
                      "application_no": result.application_no,
                      "submitted_at": now.isoformat(timespec="seconds"),
                      "note": {language: outcome_text(result.status, language) for language in i18n.LANGUAGES}}
    return result


def report_prints(core) -> int:
    """Queue a print report (POST /v1/documents/{id}/printed) for every licence job the
    journal has settled but the platform has not been told about; returns how many.

    Called after each licence print and at start-up (jobs settled by crash recovery).
    The item id is derived from the print token and outcome, so a crash between
    queueing and ``mark_reported`` re-queues the same Idempotency-Key, never a second
    report.  Safe on any thread but the UI thread (SQLite commits).
    """
    printer = core.devices.get("licence_printer")
    journal = getattr(printer, "journal", None)
    if journal is None or core.sender is None:
        return 0
    queued = 0
    for entry in journal.unreported():
        outcome = "printed" if entry.finished else "failed"
        item_id = str(uuid.uuid5(_PRINT_REPORTS, f"{entry.print_token}:{outcome}"))
        payload = {"document_id": entry.document_id, "print_token": entry.print_token,
                   "result": outcome, "detail": entry.detail}
        try:
            core.sender.enqueue("print_report", payload, item_id=item_id)
        except sqlite3.IntegrityError:
            pass  # queued before a crash: the outbox already holds this exact report
        except QueueFullError:
            log.warning("print reports wait: the queue refuses new items (disk full)")
            break  # still unreported in the journal: the next call tries again
        journal.mark_reported(entry.print_token)
        queued += 1
    return queued
