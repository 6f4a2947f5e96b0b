"""Masking of residents' identifiers for receipts, screens and CLIs.

There is no single national rule; the kiosk shows the first ``head`` and last
``tail`` characters of an ID number (6 + 4 by default, configurable) and never
the birth-date digits (positions 7-14 of an 18-character resident number),
whatever the configuration says.  Names are shown 张*三 style.
"""
from __future__ import annotations

BIRTH_DATE = slice(6, 14)


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
