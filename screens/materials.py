"""高拍仪: scan each material the service still needs, one after another.

For each material of ``app.core.transaction.materials_to_scan()`` (main ones
first) the document camera's live preview is shown with the page outline the
scanner detects (``document.preview``); a page that lies still for a second
is captured automatically (``document.captured``), or at once with 拍照.
重拍 drops the last page.  A main material needs at least one page before
下一份; a secondary one may be skipped (可以稍后补交（边办边补）).

The core runs the scanner (``KioskCore.start_document_scan``): pages are written
into a 0700 directory inside ``Session.temp_dir`` (wiped with the session);
their paths go to ``Session.materials[material_id]``.

材料复用: materials the platform already holds for this resident (asked in a
worker when the screen opens) are skipped and named on screen; when nothing
is left to scan the step passes on by itself.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.i18n import N_
from screens.flow_screen import FlowScreen, next_step
from screens.worker import when_done
from screens.widgets import local, tr


class MaterialsScreen(FlowScreen):
    help_text = N_("请把材料正面朝上平放在高拍仪下方，四个角都在画面内，放稳后会自动拍照。多页材料请逐页放好。")
    material_title = StringProperty("")
    material_main = BooleanProperty(True)
    position = StringProperty("")          # "2 / 3"
    pages = NumericProperty(0)
    last_page = StringProperty("")
    steady = NumericProperty(0.0)
    page_found = BooleanProperty(False)
    camera_missing = BooleanProperty(False)
    reused = StringProperty("")            # 材料复用: names the platform already holds

    def prepare(self, **_params) -> None:
        self.todo, self.index, self.reused = [], 0, ""
        self.material_title, self.position, self.pages = "", "", 0
        self._look_up_reusable()

    def _look_up_reusable(self) -> None:
        """材料复用: ask the platform (in a worker) which materials it already holds for
        this resident; those are not scanned again.  Offline, everything is scanned."""
        if self.app.core.transaction is None or self.session is None:
            return
        if self.session.card is None:
            self._plan(set())
            return
        self.busy_text, self.busy = tr("正在查询您以前提交过的材料…"), True
        when_done(self.app.core.reusable_materials(), self._plan, lambda _exc: self._plan(set()),
                  name="reusable-materials")

    def _plan(self, on_record: set) -> None:
        self.busy = False
        transaction = self.app.core.transaction
        if transaction is None:
            return
        transaction.reusable_on_record = set(on_record)
        lang = self.app.language
        self.reused = "、".join(local(m.get("names"), lang) for m in transaction.service.guide.get("materials", [])
                               if m.get("reusable") and m.get("id") in on_record and m.get("id") != "id-card")
        self.todo = transaction.materials_to_scan()
        if not self.todo:
            next_step(self.app)
            return
        self._show_material()
        if self.is_current():
            self._start_scanner()

    def forget(self) -> None:
        self.todo, self.index, self.reused = [], 0, ""
        self.material_title = self.position = self.last_page = ""
        self.pages = 0

    def on_enter(self, *_args):
        if self.todo:
            self._start_scanner()

    def on_leave(self, *_args):
        self._stop_scanner()

    @property
    def material(self) -> dict | None:
        return self.todo[self.index] if 0 <= self.index < len(self.todo) else None

    def relabel(self) -> None:
        if self.material is not None:
            self._show_material()

    def _show_material(self) -> None:
        material = self.material
        if material is None:
            return
        self.material_title = local(material.get("names"), self.app.language)
        self.material_main = bool(material.get("main", True))
        self.position = f"{self.index + 1} / {len(self.todo)}"
        pages = self.session.materials.get(material["id"], []) if self.session is not None else []
        self.pages = len(pages)
        self.last_page = str(pages[-1]) if pages else ""
        self.steady, self.page_found = 0.0, False

    def _start_scanner(self) -> None:
        self._stop_scanner()
        core, material = self.app.core, self.material
        if material is None or self.session is None:
            self.camera_missing = core.camera_preview("document_camera") is None
            return
        self.camera_missing = not core.start_document_scan(material["id"])
        if not self.camera_missing:
            self.ids.preview.start(core.camera_preview("document_camera"))

    def _stop_scanner(self) -> None:
        self.app.core.stop_document_scan()
        self.ids.preview.stop()
        self.ids.preview.corners = []

    def on_bus_event(self, event) -> None:
        if not self.is_current() or not self.app.core.captures.scanning:
            return
        if event.topic == "document.preview":
            corners = event.data.get("corners")
            self.ids.preview.corners = corners or []
            self.page_found = bool(corners)
            self.steady = float(event.data.get("steady") or 0.0)
        elif event.topic == "document.captured":
            self.app.core.speak("capture.done")
            self._pages_changed()

    def _pages_changed(self) -> None:
        if self.material is None or self.session is None:
            return
        self.app.core.record_scanned_pages()
        self._show_material()

    def capture(self) -> None:
        self.app.core.capture_page()

    def retake(self) -> None:
        """重拍: drop the last page; the next steady page (or 拍照) replaces it."""
        if self.session is not None and self.pages:
            self.app.core.discard_last_page()
            self._show_material()

    def next_material(self) -> None:
        """下一份 (or 跳过 for a secondary material): main materials need a page."""
        if self.material is not None and self.material_main and not self.pages:
            return
        self.index += 1
        if self.index >= len(self.todo):
            self._stop_scanner()
            next_step(self.app)
            return
        self._show_material()
        self._start_scanner()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
