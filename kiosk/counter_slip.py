"""转人工: the way past the face check for a resident who cannot pass it or does not want it.

The kiosk prints a 转人工凭条 on the receipt printer: the service, the centre, the time, a
random reference (as text and as a QR code the counter scans) and plain words on where to
go.  Nothing on it is about the resident -- no name, no ID number, no phone, no address --
and nothing about them is sent anywhere: the counter checks the resident's identity in
person.  The reference is random (``secrets``), so it says nothing and cannot be guessed
from another slip.

The resident is told the truth: :class:`HandOff` says whether the slip came out; when the
printer failed, the screen shows the reference and sends them to the counter anyway.
Kivy-free; :meth:`kiosk.core.KioskCore.counter_slip` runs :func:`hand_off` in a worker.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from devices.printers.slip_layout import CounterSlipData
from kiosk import i18n
from kiosk.i18n import N_
from kiosk.receipts import receipt_language

log = logging.getLogger(__name__)

# no 0/O, 1/I/L: read aloud or typed at the counter without doubt
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_PREFIX = "ZRG"
REFERENCE_CHARS = 8       # 31^8 ≈ 8.5e11 references

TITLE = N_("转人工办理")
SERVICE_LABEL = N_("办理事项")
TIME_LABEL = N_("时间")
REFERENCE_LABEL = N_("参考号")
INSTRUCTIONS = (
    N_("请拿好本凭条，到本中心的人工服务窗口办理。"),
    N_("请带上您的身份证，工作人员会当面为您核验身份。"),
    N_("本凭条不含您的个人信息。"),
)
SCAN_HINT = N_("工作人员扫描此码接续办理")
SEPARATOR = N_("：")


@dataclass(frozen=True)
class HandOff:
    """What happened: the reference always; ``printed`` only if the printer took the slip."""
    reference: str
    printed: bool
    error: str | None = None      # the printer's fault code when not printed


def new_reference() -> str:
    """ZRG-7K3M-Q9TD: random, nothing about the resident, the kiosk or the time."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_CHARS))
    return f"{REFERENCE_PREFIX}-{chars[:4]}-{chars[4:]}"


def slip_data(config, session, service, reference: str, now: dt.datetime | None = None) -> CounterSlipData:
    """The slip in the session's language.  It is built from the service, the centre, the
    time and the reference only: the session's card is never read here."""
    language = receipt_language(session)

    def tr(msgid: str) -> str:
        return i18n.gettext(msgid, language)
    return CounterSlipData(
        title=tr(TITLE), centre_name=config.centre_name_for(language),
        service_label=tr(SERVICE_LABEL), service_name=service.name(language) if service is not None else "-",
        time_label=tr(TIME_LABEL), reference_label=tr(REFERENCE_LABEL), reference=reference,
        instructions=[tr(text) for text in INSTRUCTIONS], scan_hint=tr(SCAN_HINT),
        issued_at=now or dt.datetime.now(), separator=tr(SEPARATOR))


def hand_off(config, session, service, printer, now: dt.datetime | None = None) -> HandOff:
    """Print the slip (blocking: a worker thread).  A printer fault is not raised: the
    resident still goes to the counter, with the reference read off the screen."""
    reference = new_reference()
    data = slip_data(config, session, service, reference, now)
    service_id = getattr(service, "id", None)
    try:
        if printer is None:
            raise LookupError("no receipt printer configured")
        printer.print_slip(data)
    except Exception as exc:   # any fault: the screen shows the reference instead
        code = "no_printer" if printer is None else (getattr(exc, "code", None) or "printer_error")
        log.warning("counter hand-off %s for %s: slip not printed (%s)", reference, service_id, code)
        return HandOff(reference, printed=False, error=code)
    log.info("counter hand-off %s for %s: slip printed", reference, service_id)
    return HandOff(reference, printed=True)
