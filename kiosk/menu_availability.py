"""Whether a resident can start a service on this kiosk now, and if not, why.

What a resident reads on a greyed-out service: plain words and what happens
next, from the gettext catalogues like every other screen text (device names
under the ``device`` context, so 打印机 in a sentence can differ from a
button's 打印机).
"""
from __future__ import annotations

import datetime as dt

from kiosk import i18n
from kiosk.i18n import NC_, N_
from kiosk.menu_schema import Service

DEVICE_NAMES = {
    "id_reader": NC_("device", "身份证阅读器"),
    "camera": NC_("device", "摄像头"),
    "document_camera": NC_("device", "高拍仪"),
    "qr_scanner": NC_("device", "扫码器"),
    "receipt_printer": NC_("device", "打印机"),
    "licence_printer": NC_("device", "证照打印机"),
}
CODE_REASONS = {  # a device's fault code blocks whatever its state says
    "paper_out": N_("{device}缺纸，暂不可办理"),
    "cover_open": N_("{device}舱门未关，暂不可办理"),
    "paper_jam": N_("{device}卡纸，暂不可办理"),
}
STATE_REASONS = {
    "fault": N_("{device}故障，暂不可办理"),
    "disconnected": N_("{device}未连接，暂不可办理"),
    "missing": N_("本机未配备{device}，请到服务窗口办理"),
}
OFFLINE_REASON = N_("网络中断，该事项需联网办理")
NOT_YET_REASON = N_("该事项尚未开通")
ENDED_REASON = N_("该事项已停止办理")
USABLE_STATES = ("ready", "busy", "warning")  # warning (e.g. paper low) still works


def in_every_language(message: str, role: str | None = None) -> dict[str, str]:
    """``message`` translated into each UI language, naming the device of ``role`` if it has one."""
    out = {}
    for language in i18n.LANGUAGES:
        device = i18n.pgettext("device", DEVICE_NAMES.get(role, role), language) if role else ""
        out[language] = i18n.gettext(message, language).format(device=device)
    return out


def availability(service: Service, device_statuses: dict[str, dict], connectivity: str = "online",
                 today: dt.date | None = None) -> tuple[bool, dict[str, str] | None]:
    """Whether a resident can start ``service`` now and, if not, why (in all three languages).

    ``device_statuses`` is ``KioskCore.device_statuses()``: role -> {"state", "code", ...}
    with states ready/busy/warning/fault/disconnected.  A role missing from it is a device
    this kiosk does not have.  ``connectivity`` is "online", "degraded" or "offline";
    degraded still counts as online (requests are slow, not impossible).
    """
    today = today or dt.date.today()
    if today < service.effective:
        return False, in_every_language(NOT_YET_REASON)
    if today > service.expires:
        return False, in_every_language(ENDED_REASON)
    for role in service.requires_devices:
        status = device_statuses.get(role)
        if status is None:
            return False, in_every_language(STATE_REASONS["missing"], role)
        state = str(status.get("state", "")).lower()
        code = status.get("code") or ""
        if state in USABLE_STATES and code not in CODE_REASONS:
            continue
        template = CODE_REASONS.get(code) or STATE_REASONS.get(state) or STATE_REASONS["fault"]
        return False, in_every_language(template, role)
    if connectivity == "offline" and not service.offline:
        return False, in_every_language(OFFLINE_REASON)
    return True, None
