"""办事指南: everything a resident needs to know before starting a service.

Conditions, materials (主件 / 辅件, 可复用 = the platform may already hold it,
原件 needed), time limit, fee, legal basis, office, and 即办件 / 承诺件 with
the promised working days.  开始办理 starts the transaction; when the kiosk
cannot run the service now, the button is disabled and the reason shown.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.i18n import N_
from screens.base import KioskScreen
from screens.category import kind_text
from screens.theme import theme
from screens.widgets import KLabel, Tag, local, tr


class MaterialRow(BoxLayout):
    title = StringProperty("")
    note = StringProperty("")


class GuideSection(BoxLayout):
    heading = StringProperty("")


class GuideScreen(KioskScreen):
    help_text = N_(
        "这里列出办理条件和需要准备的材料。材料齐全请按“开始办理”；本机暂不能办理的业务，可凭此指南到人工窗口办理。")
    service_id = StringProperty("")
    title = StringProperty("")
    kind = StringProperty("")
    kind_promised = BooleanProperty(False)
    available = BooleanProperty(True)
    reason = StringProperty("")

    def on_kv_post(self, _base):
        self.app.bind(language=lambda *_: self.refresh())
        theme.bind(elder=lambda *_: self.refresh())

    def prepare(self, service_id: str = "", **_params) -> None:
        self.service_id = service_id or self.service_id
        self.refresh()
        self.ids.scroll.scroll_y = self.ids.materials_scroll.scroll_y = 1

    def service(self):
        menu = self.app.menu
        if menu is None or not self.service_id:
            return None
        try:
            return menu.service(self.service_id)
        except KeyError:  # withdrawn by a menu update
            return None

    def on_bus_event(self, event) -> None:
        if event.topic.startswith(("device.status", "queue.connectivity", "menu.changed")) and self.service_id:
            self.refresh()

    def refresh(self) -> None:
        service = self.service()
        body, materials = self.ids.body, self.ids.materials
        body.clear_widgets()
        materials.clear_widgets()
        if service is None:
            return
        lang = self.app.language
        guide = service.guide
        self.title = service.name(lang)
        self.kind = kind_text(service)
        self.kind_promised = service.kind == "承诺件"
        self.available, self.reason = self.app.availability(service)

        facts = [(tr("办理时限"), local(guide.get("time_limit"), lang)),
                 (tr("收费标准"), local(guide.get("fee"), lang)),
                 (tr("办理地点"), local(guide.get("office"), lang))]
        section = GuideSection(heading=tr("基本信息"))
        for label, value in facts:
            section.add_widget(KLabel(text=f"[b]{label}：[/b]{value}" if lang != "en" else f"[b]{label}:[/b] {value}",
                                      markup=True, auto_height=True))
        body.add_widget(section)

        conditions = guide.get("conditions") or []
        if conditions:
            section = GuideSection(heading=tr("办理条件"))
            for number, condition in enumerate(conditions, 1):
                section.add_widget(KLabel(text=f"{number}. {local(condition, lang)}", auto_height=True))
            body.add_widget(section)

        section = GuideSection(heading=tr("申请材料"))
        for material in guide.get("materials") or []:
            section.add_widget(self._material_row(material, lang))
        materials.add_widget(section)

        basis = guide.get("legal_basis") or []
        if basis:
            section = GuideSection(heading=tr("设定依据"))
            for item in basis:
                section.add_widget(KLabel(text="· " + local(item, lang), auto_height=True,
                                          tone="text_muted", font_size=theme.fs_small * 1.1))
            body.add_widget(section)

    def _material_row(self, material: dict, lang: str) -> MaterialRow:
        notes = []
        if material.get("originals"):
            notes.append(tr("需提供原件"))
        if material.get("note"):
            notes.append(local(material["note"], lang))
        row = MaterialRow(title=local(material.get("names"), lang), note="；".join(notes) if lang != "en" else "; ".join(notes))
        tags = row.ids.tags
        main = material.get("main", True)
        tags.add_widget(Tag(text=tr("主件") if main else tr("辅件"),
                            tag_colour=theme.primary if main else theme.text_muted))
        if material.get("reusable"):
            tags.add_widget(Tag(text=tr("可复用"), tag_colour=theme.success))
        return row

    def start(self) -> None:
        service = self.service()
        if service is None or not self.available:
            return
        self.app.start_service(service)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
