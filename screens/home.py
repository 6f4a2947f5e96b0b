"""Home (attract) screen: 刷身份证办理, the service categories, 长辈模式.

A resident's session begins with their first tap on a category or the ID
card entry; language and elder mode chosen here carry into the session.
Category tiles come from the service menu (localized there), chrome from gettext.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty
from kivy.utils import get_color_from_hex as hex_colour

from kiosk.eid import looks_like_eid
from kiosk.i18n import N_
from screens.base import KioskScreen
from screens.theme import TILE_COLOURS, theme
from screens.widgets import IconTile, icon, local, tr



class HomeScreen(KioskScreen):
    help_text = N_(
        "刷身份证可直接开始办理，没带身份证可以出示手机上的电子身份证二维码，也可以先点选业务类别。字太小请点“长辈模式”，切换语言请点“简 / 繁 / EN”。")
    portrait = BooleanProperty(False)
    no_menu = BooleanProperty(False)   # no valid service menu installed yet
    from_glance = BooleanProperty(False)   # tiles drawn from the cached glance, the core still starting
    waiting = BooleanProperty(False)       # a tile tapped before the core was ready: opened when it is
    _pending_category: str | None = None

    def on_kv_post(self, _base):
        self.app.bind(language=lambda *_: self.build_tiles(), core_ready=self._on_core_ready)
        theme.bind(elder=lambda *_: self.build_tiles())
        self.bind(size=self._orient)
        self.build_tiles()

    def _orient(self, *_args) -> None:
        self.portrait = self.height > self.width

    def prepare(self, **_params) -> None:
        self.build_tiles()

    def build_tiles(self) -> None:
        grid = self.ids.categories
        # the old tiles' kv rules watch the global theme (长辈模式): unbind them now, not when the
        # garbage collector gets to them -- a 长辈模式 switch in between would reach a dead widget
        for tile in grid.children:
            for widget in tile.walk(restrict=True):
                Builder.unbind_widget(widget.uid)
        grid.clear_widgets()
        app = self.app
        self.no_menu = app.core_ready and app.menu is None
        # Before the core is ready: the glance of the last verified menu (kiosk.menu_glance),
        # so the first frame already shows the categories.
        menu = app.menu or (app.menu_glance if not app.core_ready else None)
        self.from_glance = menu is not None and app.menu is None
        if menu is None:
            return
        for category in menu.categories:
            tiles = TILE_COLOURS["elder" if theme.elder else "standard"]   # white on each: tests/test_contrast.py
            colour = hex_colour(tiles.get(category.icon, tiles["personal"]))
            tile = IconTile(title=category.name(app.language),
                            subtitle=self._summary(category),
                            icon_source=icon(category.icon), tile_colour=colour)
            tile.category_id = category.id
            tile.bind(on_release=lambda t: self.open_category(t.category_id))
            grid.add_widget(tile)

    def _summary(self, category) -> str:
        names = [s.name(self.app.language) for s in category.services[:2]]
        more = "…" if len(category.services) > 2 else ""
        separator = ", " if self.app.language == "en" else "、"
        return separator.join(names) + more

    def on_bus_event(self, event) -> None:
        if event.topic == "menu.changed":
            self.build_tiles()
        elif (event.topic == "qr.scanned" and self.manager is not None and self.manager.current == self.name
              and looks_like_eid(str(event.data.get("text") or ""))):
            # an e-ID held to the scanner without a tap first: as if 出示电子身份证二维码 was tapped
            self.start_with_eid()
            self.app.screen("eid").scanned(str(event.data["text"]))

    def _on_core_ready(self, *_args) -> None:
        self.build_tiles()
        pending, self._pending_category = self._pending_category, None
        self.waiting = False
        if pending is not None and self.app.menu is not None and self.app.manager.current == "home" \
                and any(c.id == pending for c in self.app.menu.categories):
            self.open_category(pending)

    def open_category(self, category_id: str) -> None:
        if not self.app.core_ready:      # a glance tile: the verified menu opens it once the core is up
            self._pending_category, self.waiting = category_id, True
            return
        self.app.begin_session()
        self.app.show("category", category_id=category_id)

    def start_with_card(self) -> None:
        self.app.begin_session()
        self.app.show("identify", service_id=None)

    def start_with_eid(self) -> None:
        """出示电子身份证二维码: the resident has no card with them (kiosk.eid)."""
        self.app.begin_session()
        self.app.show("eid", service_id=None)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
