"""电子身份证: 请出示电子身份证二维码 (the resident who has no card with them).

The resident opens the e-ID on the phone and holds its QR code to the scanner (or the camera);
the scanner publishes ``qr.scanned`` and this screen hands the text to the core
(``KioskCore.identify_by_eid``), which asks the platform.  On success the session holds the
identity the e-ID carries, like a card read, and the service goes on (a face check still where its
guide asks for one; the card where the service needs what the e-ID lacks, e.g. the address).  On
a refusal the resident reads what happened and what to do in plain words -- never a code.
"""
from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.eid import REFUSAL_WORDS
from kiosk.i18n import N_
from kiosk.privacy import mask_name
from screens.base import KioskScreen
from screens.widgets import tr
from screens.worker import when_done

class EidScreen(KioskScreen):
    help_text = N_("请打开手机上的电子身份证，把二维码对准屏幕下方的扫码口，稍等片刻。没有手机也可以改为刷身份证。")
    status = StringProperty("waiting")     # waiting | checking | error | done
    error_title = StringProperty("")
    error_advice = StringProperty("")
    greeting = StringProperty("")
    service_id = StringProperty("", allownone=True)

    def prepare(self, service_id: str | None = None, **_params) -> None:
        self.service_id = service_id or ""
        self.status = "waiting"
        self.error_title = self.error_advice = self.greeting = ""

    def forget(self) -> None:
        self.prepare()

    def on_bus_event(self, event) -> None:
        if self.manager is None or self.manager.current != self.name:
            return
        if event.topic == "qr.scanned" and event.data.get("text") and self.status in ("waiting", "error"):
            self.scanned(str(event.data["text"]))

    def scanned(self, text: str) -> None:
        """A code was scanned: the core asks the platform (in a worker)."""
        self.status = "checking"
        self.error_title = self.error_advice = ""
        when_done(self.app.core.identify_by_eid(text), self._identified, self._refused, name="identify-eid")

    def _identified(self, identity) -> None:
        self.status = "done"
        self.greeting = tr("{name}，您好").format(name=mask_name(identity.name))
        self.app.core.speak("eid.verified")
        Clock.schedule_once(self._go_on, 1.0)   # let the resident see the greeting

    def _refused(self, exc: BaseException) -> None:
        code = getattr(exc, "code", "offline")
        code = code if code in REFUSAL_WORDS else "offline"
        title, advice = REFUSAL_WORDS[code]
        self.app.core.speak(f"eid.{code}")
        self.status = "error"
        self.error_title, self.error_advice = tr(title), tr(advice)

    def _go_on(self, _dt) -> None:
        app = self.app
        if app.core.session is None or app.manager.current != self.name:
            return  # wiped or moved on meanwhile
        transaction = app.core.transaction
        if transaction is not None:
            if app.core.card_fields_missing(transaction.service):
                app.show("identify", service_id=self.service_id)   # the card, for what the e-ID lacks
            else:
                app.show_step(app.core.next_step())
        elif app.menu is not None and app.menu.categories:
            app.show("category", category_id=app.menu.categories[0].id)

    def use_card(self) -> None:
        self.app.show("identify", service_id=self.service_id)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
