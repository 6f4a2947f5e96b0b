"""电子身份证 (e-ID) QR identity: the resident who forgot the card shows the e-ID code on the phone.

The code goes to the platform (POST /v1/eid/verify), which answers what the e-ID carries -- the
name and the ID number -- and a presence grant for this resident at this kiosk.  The session then
holds an :class:`EidIdentity` where a card read holds an ``IdCard``: the same attributes the flow
reads (name, ID number, the birth date and sex the number encodes), and ``None`` for what the
e-ID lacks (address, ethnicity, photo, validity).  Services whose guide asks for a face check
still do one; a service whose form takes a field from the card the e-ID lacks
(:func:`card_fields_missing`) asks for the card itself.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiosk.i18n import N_
from kiosk.id_number import id_number_valid
from kiosk.platform import EidRefused, PlatformError

PREFIX = "EID1."          # what the identity service's codes start with (central/eid.py)
CARD_TYPE = "eid"
# card fields a form may prefill (kiosk.menu_schema.CARD_FIELDS) that an e-ID cannot give
NOT_ON_EID = ("address", "ethnicity")

# the platform's machine codes, and the kiosk's own ("not_eid": some other QR code; "offline")
REFUSAL_CODES = ("eid_forged", "eid_expired", "eid_used", "eid_wrong_region", "not_eid", "offline", "locked")

# why the code was not accepted -> (what happened, what to do), shown and spoken (kiosk/voice/prompts.py)
REFUSAL_WORDS = {
    "eid_expired": (N_("二维码已过期"), N_("请在手机上刷新电子身份证二维码，再对准扫码口。")),
    "eid_used": (N_("这个二维码已经用过了"), N_("请在手机上刷新电子身份证二维码，再对准扫码口。")),
    "eid_forged": (N_("无法识别这个电子身份证二维码"), N_("请打开官方电子身份证应用出示二维码，或改为刷身份证。")),
    "not_eid": (N_("这不是电子身份证二维码"), N_("请打开官方电子身份证应用出示二维码，或改为刷身份证。")),
    "eid_wrong_region": (N_("此电子身份证二维码不能在本机使用"), N_("请刷身份证办理，或到人工窗口办理。")),
    "locked": (N_("暂时不能使用电子身份证"), N_("请稍后再试，或改为刷身份证。")),
    "offline": (N_("暂时无法核验电子身份证"), N_("网络暂时不通。请改为刷身份证，或到人工窗口办理。")),
}


class EidNotAccepted(Exception):
    """The code cannot identify the resident; ``code`` is one of :data:`REFUSAL_CODES`."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code


def looks_like_eid(text: str) -> bool:
    return isinstance(text, str) and text.strip().startswith(PREFIX)


@dataclass(eq=False)
class EidIdentity:
    """Who the e-ID says the resident is; read like an ``IdCard`` (duck-typed) by the flow."""
    name: str
    id_number: str
    card_type: str = CARD_TYPE
    address: None = None
    ethnicity: None = None
    english_name: None = None
    issuer: None = None
    photo_wlt: bytes = b""

    def __repr__(self) -> str:  # never the name or the number
        return "EidIdentity()"

    __str__ = __repr__

    @property
    def birth_date(self) -> dt.date | None:
        """Encoded in an 18-digit resident ID number (digits 7-14)."""
        if not id_number_valid(self.id_number):
            return None
        return dt.date(int(self.id_number[6:10]), int(self.id_number[10:12]), int(self.id_number[12:14]))

    @property
    def gender(self) -> str:
        """The 17th digit: odd 男, even 女."""
        if not id_number_valid(self.id_number):
            return ""
        return "男" if int(self.id_number[16]) % 2 else "女"

    def expired(self, _today: dt.date) -> bool:
        return False   # the platform refused an expired code; an e-ID login has no card validity

    def to_public_dict(self, mask_id=None) -> dict[str, Any]:
        birth = self.birth_date
        return {"card_type": CARD_TYPE, "name": self.name, "english_name": None, "gender": self.gender or None,
                "ethnicity": None, "birth_date": birth.isoformat() if birth else None, "address": None,
                "id_number": mask_id(self.id_number) if mask_id else self.id_number, "issuer": None,
                "valid_from": None, "valid_to": None}


def is_eid(card: Any) -> bool:
    return getattr(card, "card_type", None) == CARD_TYPE


def card_fields_missing(service: Any, card: Any) -> list[str]:
    """The card fields ``service``'s form takes from the card that ``card`` (an e-ID) lacks."""
    if not is_eid(card):
        return []
    form = service.get("form") if isinstance(service, dict) else getattr(service, "form", None)
    wanted = [(spec.get("prefill") or "")[5:] for spec in form or [] if (spec.get("prefill") or "").startswith("card.")]
    return [name for name in dict.fromkeys(wanted) if name in NOT_ON_EID]


def identify(platform, session, text: str) -> EidIdentity:
    """Verify ``text`` with the platform and keep the identity and its grant in ``session``."""
    if not looks_like_eid(text):
        raise EidNotAccepted("not_eid", "the scanned code is not an e-ID code")
    try:
        answer = platform.verify_eid(text.strip())
    except EidRefused as exc:
        raise EidNotAccepted(exc.code, str(exc)) from None
    except PlatformError as exc:   # 429: this kiosk is locked out for a while (never "the network")
        raise EidNotAccepted("locked" if getattr(exc, "status", None) == 429 else "offline", str(exc)) from None
    fields = answer.get("identity") or {}
    identity = EidIdentity(name=str(fields.get("name") or ""), id_number=str(fields.get("id_number") or ""))
    session.set_card(identity)
    session.identity_verified = False            # a face check, where the guide asks, is still to come
    session.presence_grant = answer.get("presence_grant")
    return identity
