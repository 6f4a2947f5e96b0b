"""The kiosk's privacy rules, in one place: how residents' data is masked (screens,
receipts, CLIs) and how their text is cleaned before it goes anywhere.

There is no single national rule; the kiosk shows the first ``head`` and last
``tail`` characters of an ID number (6 + 4 by default, configurable) and never
the birth-date digits (positions 7-14 of an 18-character resident number),
whatever the configuration says.  Names are shown 张*三 style, phone numbers
138****5678, addresses as their administrative area (广东省深圳市福田区华富街道****):
the screens and the receipt hide the same part.
"""
from __future__ import annotations

import re
import unicodedata

BIRTH_DATE = slice(6, 14)
ID_NUMBER_LENGTH = 18


def mask_id_number(number: str | None, head: int = 6, tail: int = 4) -> str:
    if not number:
        return ""
    n = len(number)
    head = max(0, min(head, n))
    tail = max(0, min(tail, n - head))
    if n == 18:  # resident / permit numbers: the birth date is never shown
        head = min(head, BIRTH_DATE.start)
        tail = min(tail, n - BIRTH_DATE.stop)
    hidden = n - head - tail
    if hidden <= 0:  # too short to mask meaningfully: hide all but the last character
        return "*" * (n - 1) + number[-1:]
    return number[:head] + "*" * hidden + number[n - tail:] if tail else number[:head] + "*" * hidden


def mask_id_typed(number: str | None, head: int = 6, tail: int = 4) -> str:
    """An ID number still being typed, masked as if it were complete: the digits typed
    so far stay at their places (the resident sees each key land) and the birth-date
    positions show ``*`` as soon as they are typed.  A typo there is caught by the check
    digit (``transaction.validate_field``), so hiding them costs nothing."""
    number = number or ""
    if 0 < len(number) < ID_NUMBER_LENGTH:
        return mask_id_number(number.ljust(ID_NUMBER_LENGTH, " "), head, tail)[:len(number)]
    return mask_id_number(number, head, tail)


def mask_name(name: str | None) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳娜娜 → 欧**娜; Latin names keep initials."""
    if not name:
        return ""
    name = name.strip()
    if name.isascii():
        return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split())
    chars = list(name)  # code points, so 𠮷 counts as one
    if len(chars) == 1:
        return "*"
    if len(chars) == 2:
        return chars[0] + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = phone.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 11 else "*" * len(digits)


# Administrative divisions at the start of a Chinese address, largest first: what is left
# after them (road, building, room) is what a stranger must not read over a shoulder.
_ADDRESS_AREA = re.compile(
    r"^(?:.{1,10}?(?:省|自治区|特别行政区))?"
    r"(?:.{1,10}?(?:市|自治州|地区|盟))?"
    r"(?:.{1,10}?(?:区|县|旗))?"
    r"(?:.{1,10}?(?:街道|镇|乡))?")


def mask_address(address: str | None) -> str:
    """The area of an address with the rest hidden: 广东省深圳市福田区华富街道****.
    Where the resident checks or edits it (the form field being edited, 领取方式) it is
    shown whole; everywhere else, receipts included, like this."""
    address = clean_text(address)
    if not address:
        return ""
    area = _ADDRESS_AREA.match(address).group(0)
    if not area or len(area) >= len(address):   # no area recognised: keep only the start
        area = address[:max(1, len(address) // 3)]
    return area + "****"


def clean_text(text: object) -> str:
    """Residents' text without control, format or unassigned characters (line breaks and
    tabs become spaces): nothing typed reaches the platform, a log or a printer as a
    command byte."""
    out = []
    for ch in str(text or ""):
        if ch in "\t\r\n\u2028\u2029":
            out.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(ch)
    return "".join(out).strip()


# What a spoken or otherwise broadcast text must never carry: an ID number (18 or 15
# characters), a mobile number, any run of 7+ digits (a landline, part of an ID), or a
# masked value (张*三, 138****5678: still the resident's).
_ID_OR_PHONE = re.compile(r"\d{17}[\dXx]|\d{15}|1[3-9]\d{9}|\d{7,}|\*")


def address_detail(address: str | None) -> str:
    """The part of an address :func:`mask_address` hides (road, building, room): '' when no
    administrative area starts it (then it is not taken for an address)."""
    address = clean_text(address)
    area = _ADDRESS_AREA.match(address).group(0) if address else ""
    return address[len(area):] if area and len(area) < len(address) else ""


def personal_data_in(text: str, values=()) -> str | None:
    """Why ``text`` may not be said aloud, or None: it contains one of ``values`` (the
    session's name, ID number, phone, address; at least 2 characters each) or any 4
    characters in a row of an address's detail (road, building, room), or looks like an
    ID number, a phone number or a masked value."""
    squeezed = re.sub(r"[\s\-]", "", text or "")
    for value in values:
        value = re.sub(r"[\s\-]", "", str(value or ""))
        if len(value) >= 2 and value in squeezed:
            return "personal_value"
        detail = address_detail(value)
        if any(detail[i:i + 4] in squeezed for i in range(max(0, len(detail) - 3))):
            return "address_detail"
    if _ID_OR_PHONE.search(squeezed):
        return "id_or_phone_pattern"
    return None
