"""Is a typed 公民身份号码 (GB 11643) one that can exist?

A resident who types an ID number into a form gets it checked here, once:
six digits of region, a birth date that is a real day (no month 13, no
30 February) between 1900 and today, three digits of sequence and the
check digit the card reader uses (:func:`devices.idcard.card.check_digit`).
A number that fails is refused before it reaches the platform, so a typo is
corrected at the kiosk instead of coming back as a rejected application.
"""
from __future__ import annotations

import datetime as dt
import re

from devices.idcard.card import check_digit

_SHAPE = re.compile(r"\d{17}[\dX]")
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def id_number_valid(number: str, today: dt.date | None = None) -> bool:
    """True for an 18-character number with a real, past birth date and the right check digit."""
    if not _SHAPE.fullmatch(number):
        return False
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not EARLIEST_BIRTH <= born <= (today or dt.date.today()):
        return False
    return check_digit(number[:17]) == number[17]
