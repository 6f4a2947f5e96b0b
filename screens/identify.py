"""身份验证: 请将身份证放在感应区.

Listens for the ID reader's events (``idcard.read`` with ``card``,
``idcard.error`` with ``code``/``message``) and tells the resident in plain
words what happened and what to do next.  The technician's cause stays in
the log (the reader logs it); the resident never sees protocol codes.
"""
from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty

from kiosk.privacy import mask_name
from kiosk.i18n import N_
from screens.base import KioskScreen
from screens.widgets import tr

# Reader error code -> (what happened, what to do next); msgids in the catalogues.
ERROR_WORDS = {
    "read_failed": (N_("没有读到身份证"), N_("请把身份证平放在感应区中央，不要移动，听到提示音后再拿开。")),
    "card_auth_failed": (N_("没有读到身份证"), N_("请把身份证平放在感应区中央，不要移动，听到提示音后再拿开。")),
    "protocol": (N_("没有读到身份证"), N_("请把身份证平放在感应区中央，不要移动，听到提示音后再拿开。")),
    "unsupported_card": (N_("暂不支持此类证件"), N_("请使用第二代居民身份证、港澳台居民居住证或外国人永久居留身份证。")),
    "expired": (N_("身份证已过有效期"), N_("请到人工窗口办理，工作人员会为您核验身份。")),
    # the card was read but its data does not check out (GB 11643 check digit, fields)
    "bad_check_digit": (N_("证件信息无法核验"), N_("请到人工窗口办理，工作人员会为您核验身份。")),
    "bad_card_data": (N_("证件信息无法核验"), N_("请到人工窗口办理，工作人员会为您核验身份。")),
}
# Every idcard.error code of the adapter (docs/idcard.md) has its own words; anything
# else (sam_self_test, unplugged, ...) is the reader's trouble, not the resident's card.
DEVICE_TROUBLE = (N_("读卡器暂时无法使用"), N_("请联系现场工作人员，或到人工窗口办理。"))


# card fields an e-ID lacks (kiosk.eid.NOT_ON_EID), named for the resident
MISSING_FIELD_WORDS = {"address": N_("住址"), "ethnicity": N_("民族")}


def error_words(code: str) -> tuple[str, str]:
    return ERROR_WORDS.get(code, DEVICE_TROUBLE)


# Reader error code -> the spoken prompt (kiosk/voice/prompts.py); else "card.reader_trouble"
ERROR_PROMPTS = {
    "read_failed": "card.read_failed", "card_auth_failed": "card.read_failed", "protocol": "card.read_failed",
    "unsupported_card": "card.unsupported", "expired": "card.expired",
    "bad_check_digit": "card.unverifiable", "bad_card_data": "card.unverifiable",
}


class IdentifyScreen(KioskScreen):
    help_text = N_(
        "请把身份证有照片的一面朝上，平放在屏幕下方的感应区，等待提示音。读卡时请不要移动证件。")
    status = StringProperty("waiting")     # waiting | error | done
    error_title = StringProperty("")
    error_advice = StringProperty("")
    greeting = StringProperty("")
    card_offset = NumericProperty(0.0)     # 0..1, the card moving onto the reader
    service_id = StringProperty("", allownone=True)
    card_note = StringProperty("")         # after an e-ID: why the card itself is needed

    def on_kv_post(self, _base):
        self._animation = None

    def prepare(self, service_id: str | None = None, **_params) -> None:
        self.service_id = service_id or ""
        self.status = "waiting"
        self.error_title = self.error_advice = self.greeting = ""
        self.card_note = self._card_note()

    def _card_note(self) -> str:
        """An e-ID identified the resident, but this service takes from the card what it lacks."""
        core = self.app.core if self.app is not None else None
        transaction = core.transaction if core is not None else None
        missing = core.card_fields_missing(transaction.service) if transaction is not None else []
        if not missing:
            return ""
        separator = ", " if self.app.language == "en" else "、"
        fields = separator.join(tr(MISSING_FIELD_WORDS.get(name, name)) for name in missing)
        return tr("此业务需要身份证上的{fields}，电子身份证没有这项信息，请刷身份证。").format(fields=fields)

    def use_eid(self) -> None:
        """出示电子身份证二维码 instead of the card."""
        self.app.show("eid", service_id=self.service_id)

    def forget(self) -> None:
        self.service_id = ""
        self.status = "waiting"
        self.error_title = self.error_advice = self.greeting = self.card_note = ""

    def on_enter(self, *_args):
        self.card_offset = 0.0
        self._animation = (Animation(card_offset=1.0, duration=1.4, t="out_quad")
                           + Animation(card_offset=1.0, duration=0.8)
                           + Animation(card_offset=0.0, duration=0.01))
        self._animation.repeat = True
        self._animation.start(self)

    def on_leave(self, *_args):
        if self._animation is not None:
            self._animation.cancel(self)
            self._animation = None

    def on_bus_event(self, event) -> None:
        if self.manager is None or self.manager.current != self.name:
            return
        if event.topic == "idcard.read" and event.data.get("card") is not None:
            self.card_read(event.data["card"])
        elif event.topic == "idcard.error":
            self.show_error(str(event.data.get("code", "")))

    def card_read(self, card) -> None:
        problem = self.app.card_read(card)
        if problem:
            self.show_error(problem)
            return
        self.status = "done"
        self.greeting = tr("{name}，您好").format(name=mask_name(card.name))
        self.app.core.speak("card.read")   # the 提示音 the screen asks the resident to wait for

    def show_error(self, code: str) -> None:
        title, advice = error_words(code)
        self.status = "error"
        self.error_title, self.error_advice = tr(title), tr(advice)
        self.app.core.speak(ERROR_PROMPTS.get(code, "card.reader_trouble"))


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
