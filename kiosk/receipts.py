"""What the receipt printer prints for an application, decided by the core.

The receipt is in the resident's language (the session's), and every identifier on
it is already masked by :mod:`kiosk.privacy` -- the same rules the screens follow --
so the printer only lays out what it is given.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from devices.printers.receipt import ReceiptData
from kiosk import i18n
from kiosk.menu import text as menu_text
from kiosk.privacy import clean_text, mask_address, mask_id_number, mask_name
from kiosk.workflow import SubmitResult

RECEIPT_LANGUAGES = ("zh_CN", "zh_TW", "en")


def pickup_centre_name(service: Any, centre: str | None, language: str) -> str:
    """A chosen pickup centre in ``language``.  ``Session.delivery["centre"]`` keeps the
    centre's 简体 name from the menu (what the platform and the counter staff match on);
    every screen and receipt shows the menu's own name in the resident's language."""
    if not centre:
        return ""
    for entry in getattr(service, "pickup_centres", None) or []:
        if entry.get("zh_CN") == centre:
            return menu_text(entry, language)
    return centre


def owed_materials(service: Any, owed: list[dict], language: str) -> list[tuple[str, str]]:
    """边办边补: (the material's name in ``language``, its deadline) of what is still owed."""
    guide = getattr(service, "guide", None) or {}
    names = {m.get("id"): m.get("names") for m in guide.get("materials", [])}
    return [(menu_text(names[o["material_id"]], language) if names.get(o["material_id"]) else o["material_id"],
             o["deadline"]) for o in owed]


def receipt_language(session) -> str:
    return session.language if session.language in RECEIPT_LANGUAGES else i18n.DEFAULT_LANGUAGE


def receipt_data(config, session, service, result: SubmitResult,
                 now: dt.datetime | None = None) -> ReceiptData:
    """The receipt for ``result``, masked: name 王*英, ID number with the configured head and
    tail (never the birth date), a courier address as its area."""
    card = session.card
    number = result.application_no or result.reference
    language = receipt_language(session)
    privacy = config.privacy
    delivery = session.delivery
    address = mask_address(delivery.get("address")) or None
    return ReceiptData(
        centre_name=config.centre_name_for(language),
        service_name=service.name(language), application_no=number,
        resident_name=mask_name(clean_text(card.name)) if card is not None else "",
        id_number=mask_id_number(clean_text(card.id_number), privacy.id_mask_head, privacy.id_mask_tail)
        if card is not None else "",
        submitted_at=now or dt.datetime.now(), status=result.status, kind=service.kind,
        promised_days=result.receipt.get("promised_days") if service.kind == "承诺件" else None,
        delivery={"method": delivery.get("method", "onsite_print"),
                  "centre": pickup_centre_name(service, delivery.get("centre"), language) or None,
                  "address": address},
        lookup_url=number, language=language,
        owed=owed_materials(service, result.receipt.get("owed") or [], language))
