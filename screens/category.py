"""A category's services, as a RecycleView list (menus can be long).

Each row shows the service name, 即办件 / 承诺件 (with promised working
days) and who it is for; a service this kiosk cannot run now (a device down,
offline, not yet in force) is greyed with the reason in plain words, and
still opens its 办事指南 so the resident learns what to bring to a counter.
"""
from __future__ import annotations

import weakref
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.recycleview.views import RecycleDataViewBehavior

from kiosk.i18n import N_
from screens.base import KioskScreen
from screens.theme import theme
from screens.widgets import tr


KINDS = {"即办件": N_("即办件"), "承诺件": N_("承诺件")}


def kind_text(service) -> str:
    """即办件, or 承诺件 with its promised working days."""
    if service.kind == "承诺件" and service.promised_days:
        return tr("承诺件 · {days}个工作日").format(days=service.promised_days)
    return tr(KINDS.get(service.kind, service.kind))


class ServiceRow(RecycleDataViewBehavior, ButtonBehavior, BoxLayout):
    service_id = StringProperty("")
    title = StringProperty("")
    kind = StringProperty("")
    kind_promised = BooleanProperty(False)
    detail = StringProperty("")
    available = BooleanProperty(True)
    reason = StringProperty("")
    link = StringProperty("")   # 办事指南 › or 暂停办理: from the data, like every text of a row

    def __init__(self, **kwargs):
        self._rv, self._index = None, -1
        self._fit_trigger = Clock.create_trigger(self.fit, 0)
        super().__init__(**kwargs)

    def on_kv_post(self, _base):
        # the name wraps to the row's width: whenever either changes, the height may too
        self.ids.content.bind(height=self._fit_trigger)
        self.ids.title.bind(width=self._fit_trigger)

    def refresh_view_attrs(self, rv, index, data):
        # weakly: an idle row waits in Kivy's module-level view cache, and must not keep
        # the list (and its screen) it last showed alive
        self._rv, self._index = weakref.ref(rv), index
        self._fit_trigger()
        return super().refresh_view_attrs(rv, index, data)

    def fit(self, *_args) -> None:
        """Make this row's entry in the RecycleView data as tall as its wrapped text."""
        rv, index = self._rv() if self._rv is not None else None, self._index
        if rv is None or not 0 <= index < len(rv.data):
            return
        # Lay the row out now, from its current data: a recycled view may still have the
        # widths of the service it showed before (暂停办理 is narrower than 办事指南 ›), and
        # measuring with those made two views take turns at one row's height for ever.
        ids = self.ids
        for label in (ids.link, ids.kind, ids.title, ids.detail):
            label.texture_update()
        self.do_layout()
        content = ids.content
        content.do_layout()
        ids.detail_row.do_layout()
        for label in (ids.title, ids.detail):
            label.texture_update()
        content.do_layout()
        wanted = max(theme.row_h, content.minimum_height + self.padding[1] + self.padding[3]
                     + theme.gap * 0.5)   # the card is drawn gap/4 inside the row, top and bottom
        if abs(rv.data[index].get("height", 0) - wanted) > 1:
            rv.data[index] = dict(rv.data[index], height=wanted)

    def on_release(self):
        screen = self.parent
        while screen is not None and not isinstance(screen, CategoryScreen):
            screen = screen.parent
        if screen is not None:
            screen.open_service(self.service_id)


class CategoryScreen(KioskScreen):
    help_text = N_(
        "点选一项业务可查看办事指南：需要带什么材料、多久办结、是否收费。灰色的业务本机暂时不能办理，原因写在下方。")
    category_id = StringProperty("")
    title = StringProperty("")

    def on_kv_post(self, _base):
        self.app.bind(language=lambda *_: self.refresh())
        # a method, which the global theme holds weakly: a lambda kept every category screen
        # ever built alive and refreshing, taking rows from RecycleView's shared view cache
        theme.bind(row_h=self._row_height_changed)

    def _row_height_changed(self, *_args) -> None:
        self.refresh()

    def prepare(self, category_id: str = "", **_params) -> None:
        self.category_id = category_id or self.category_id
        self.refresh()
        self.ids.services.scroll_y = 1

    def category(self):
        menu = self.app.menu
        if menu is None:
            return None
        return next((c for c in menu.categories if c.id == self.category_id), None)

    def refresh(self) -> None:
        category = self.category()
        if category is None:
            self.title, self.ids.services.data = "", []
            return
        lang = self.app.language
        self.title = category.name(lang)
        rows = []
        for service in category.services:
            ok, reason = self.app.availability(service)
            audience = tr("个人") if service.audience == "个人" else tr("企业")
            rows.append({
                "service_id": service.id,
                "title": service.name(lang),
                "kind": kind_text(service),
                "kind_promised": service.kind == "承诺件",
                "detail": tr("服务对象：{audience}").format(audience=audience),
                "available": ok,
                "reason": reason,
                "link": tr("办事指南") + " ›" if ok else tr("暂停办理"),
                "height": theme.row_h,   # ServiceRow.fit grows it to the wrapped text
            })
        self.ids.services.data = rows
        self.ids.services.refresh_from_data()

    def on_bus_event(self, event) -> None:
        if event.topic.startswith(("device.status", "queue.connectivity", "menu.changed")) and self.category_id:
            self.refresh()

    def open_service(self, service_id: str) -> None:
        self.app.show("guide", service_id=service_id)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
