"""领取方式: 现场打印, 邮寄 (courier, to an address) or 就近领取 (通办通取 centre).

Only the methods the service offers are shown.  The courier address starts as
the address on the ID card and can be edited with the same pinyin pad as the
form; a pickup centre is chosen from ``service.pickup_centres``.  The choice
goes to ``Session.delivery`` as ``{"method", "address", "centre"}``, the shape
the receipt printer expects.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk.i18n import N_
from kiosk.privacy import clean_text
from screens.flow_screen import FlowScreen, next_step
from screens.flow_widgets import Choice
from screens.form import PinyinPad
from screens.widgets import local, tr

METHOD_WORDS = {
    "onsite_print": (N_("现场打印"), N_("办结后在本机打印")),
    "courier": (N_("邮寄到家"), N_("免费寄到您填写的地址")),
    "pickup": (N_("就近领取"), N_("到您选择的服务大厅领取（通办通取）")),
}


class DeliveryScreen(FlowScreen):
    help_text = N_("请选择您想怎样拿到办理结果：现场打印、邮寄到家，或到就近的服务大厅领取。")
    method = StringProperty("")
    address = StringProperty("")
    centre = StringProperty("")
    editing_address = BooleanProperty(False)

    def prepare(self, **_params) -> None:
        service, session = self.service, self.session
        if service is None or session is None:
            return
        chosen = session.delivery or {}
        card_address = session.card.address if session.card is not None else ""
        self.address = chosen.get("address") or session.form.get("address") or card_address or ""
        self.centre = chosen.get("centre") or ""
        self.editing_address = False
        self.choose_method(chosen.get("method") or service.delivery[0])

    def forget(self) -> None:
        self.method = self.address = self.centre = ""
        self.editing_address = False
        self.ids.methods.clear_widgets()
        self.ids.details.clear_widgets()

    def relabel(self) -> None:
        self.choose_method(self.method)

    def choose_method(self, method: str) -> None:
        self.method = method
        box = self.ids.methods
        box.clear_widgets()
        for name in self.service.delivery:
            title, detail = METHOD_WORDS[name]
            box.add_widget(Choice(text=f"[b]{tr(title)}[/b]\n{tr(detail)}", markup=True, value=name,
                                  selected=name == method, on_release=lambda w: self.choose_method(w.value)))
        self._show_details()

    def _show_details(self) -> None:
        details = self.ids.details
        details.clear_widgets()
        if self.method == "pickup":
            lang = self.app.language
            for centre in self.service.pickup_centres:
                name = local(centre, lang)
                details.add_widget(Choice(text=name, value=centre.get("zh_CN", name),
                                          selected=self.centre == centre.get("zh_CN", name),
                                          on_release=lambda w: self.choose_centre(w.value)))
        elif self.method == "courier" and self.editing_address:
            details.add_widget(PinyinPad(target=self, max_length=120))

    @property
    def text(self) -> str:          # the pinyin pad types into the address
        return self.address

    @text.setter
    def text(self, value: str) -> None:
        self.address = value

    def choose_centre(self, centre: str) -> None:
        self.centre = centre
        self._show_details()

    def edit_address(self) -> None:
        self.editing_address = not self.editing_address
        self._show_details()

    def ready(self) -> bool:
        if self.method == "courier":
            return bool(clean_text(self.address))
        if self.method == "pickup":
            return bool(self.centre)
        return bool(self.method)

    def confirm(self) -> None:
        if not self.ready() or self.session is None:
            return
        delivery = {"method": self.method, "address": None, "centre": None}
        if self.method == "courier":
            delivery["address"] = clean_text(self.address)
        elif self.method == "pickup":
            delivery["centre"] = self.centre
        self.session.delivery = delivery
        next_step(self.app)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
