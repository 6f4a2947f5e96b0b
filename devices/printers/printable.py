"""Printer safety: no control byte from residents' text (or anywhere) ever reaches a printer.

This is not privacy masking (the kiosk core masks, in kiosk/privacy.py, before
the text reaches a device): it only keeps ESC/POS commands and PDF layout
characters out of what is printed.
"""
from __future__ import annotations

import unicodedata

LINE_BREAKS = "\t\r\n\u2028\u2029"
UNPRINTABLE = ("Cc", "Cf", "Cs", "Co", "Cn")   # controls, format (bidi overrides), surrogates, private, unassigned


def printable(text: object) -> str:
    """The text with line breaks as spaces and every other control character removed."""
    out = []
    for ch in str(text or ""):
        if ch in LINE_BREAKS:
            out.append(" ")
        elif unicodedata.category(ch) not in UNPRINTABLE:
            out.append(ch)
    return "".join(out).strip()
