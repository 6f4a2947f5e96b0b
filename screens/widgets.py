"""Shared widgets: labels and buttons in the theme, the header bar, the idle
countdown overlay and the message panel.  Their look lives in ``widgets.kv``.

Every visible string goes through :func:`tr` with the app's ``language`` as a
second argument, e.g. ``text: tr("结束", app.language)``: the argument is not
used for translation, it makes Kivy re-evaluate the label when the language
changes, so a switch on the home screen updates every label without a restart.
"""
from __future__ import annotations

import time
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             OptionProperty, StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label

from kiosk import i18n
from screens.theme import IMAGE_DIR, theme


def tr(message: str, *_rebind_on) -> str:
    """Translate UI chrome; extra arguments only make kv rebind (see module doc)."""
    return i18n.gettext(message)


def local(text_or_dict, language: str) -> str:
    """A menu LocalText in ``language`` (falls back to 简体中文)."""
    from kiosk import menu as menu_model   # not before the first frame: its pydantic models cost ~0.1 s
    return menu_model.text(text_or_dict, language) if text_or_dict else ""


def icon(name: str) -> str:
    path = IMAGE_DIR / f"icon-{name}.png"
    return str(path if path.exists() else IMAGE_DIR / "icon-personal.png")


# Theme colours a KLabel can take, by the theme's own property names.
TONES = ("text", "text_muted", "primary", "accent", "success", "warning", "text_on_primary")


class KLabel(Label):
    """Wrapping label in the theme font; height follows its text.

    Its colour is chosen with ``tone`` (a theme colour name, see :data:`TONES`), never
    with ``color``: the ``<KLabel>`` rule owns ``color`` and re-evaluates it on every
    palette change (长辈模式, language), so an instance's own ``color:`` would be
    overwritten with ``theme.text`` -- red warnings turning black.  ``tone`` is only
    read by the rule, so ``tone: "accent"`` stays red and follows the palette.
    """
    auto_height = BooleanProperty(False)
    tone = OptionProperty("text", options=TONES)


class KButton(ButtonBehavior, Label):
    """A flat rounded button; ``style`` is primary | secondary | accent | ghost."""
    style = StringProperty("primary")


class IconTile(ButtonBehavior, BoxLayout):
    """A large tile with a pictogram, a title and a one-line description."""
    title = StringProperty("")
    subtitle = StringProperty("")
    icon_source = StringProperty("")
    tile_colour = ListProperty([0, 0, 0, 0])
    available = BooleanProperty(True)


class Tag(Label):
    """A small coloured badge: 即办件 / 承诺件 / 主件 / 可复用."""
    tag_colour = ListProperty([0, 0, 0, 1])


class HeaderBar(BoxLayout):
    """Centre name, clock, language switch, 长辈模式, 帮助 and 结束 (during a session).

    One row in landscape; in portrait (``portrait``, from the window) the controls take a
    second row, so the centre name has the full width.  The name is never cut short: at
    ``fs_large`` when it fits on one line, otherwise one size smaller (``fs_body``) on as
    many lines as it needs, and the header grows (``name_size``, :meth:`fit_name`)."""
    portrait = BooleanProperty(False)
    clock_text = StringProperty("")
    date_text = StringProperty("")
    name_size = NumericProperty(0)

    def __init__(self, **kwargs):
        self._fit_name_trigger = Clock.create_trigger(self.fit_name, 0)
        super().__init__(**kwargs)
        self._update_clock()
        Clock.schedule_interval(self._update_clock, 1.0)
        theme.bind(fs_large=self._fit_name_trigger, fs_body=self._fit_name_trigger,
                   font=self._fit_name_trigger)

    def on_kv_post(self, _base):
        self.ids.centre_name.bind(text=self._fit_name_trigger, width=self._fit_name_trigger)
        self.fit_name()

    def fit_name(self, *_args) -> None:
        from kivy.core.text import Label as CoreLabel
        label = self.ids.centre_name
        one_line = CoreLabel(text=label.text, font_name=label.font_name, font_size=theme.fs_large,
                             bold=True).get_extents(label.text)[0]
        self.name_size = theme.fs_large if one_line <= label.width else theme.fs_body

    def _update_clock(self, *_args) -> None:
        now = time.localtime()
        self.clock_text = time.strftime("%H:%M", now)
        self.date_text = time.strftime("%Y-%m-%d", now)


class CountdownOverlay(FloatLayout):
    """"60 秒后返回首页" with 继续办理; shown by the app's idle logic."""
    seconds = NumericProperty(0)
    continue_action = ObjectProperty(None)
    finish_action = ObjectProperty(None)


class MessagePanel(FloatLayout):
    """A modal card with a title, plain-words body and one or two actions."""
    title = StringProperty("")
    body = StringProperty("")
    icon_source = StringProperty("")
    primary_text = StringProperty("")
    secondary_text = StringProperty("")
    primary_action = ObjectProperty(None)
    secondary_action = ObjectProperty(None)

    def close(self) -> None:
        if self.parent:
            self.parent.remove_widget(self)

    def on_touch_down(self, touch):
        super().on_touch_down(touch)
        return True  # modal: nothing underneath reacts


def app() -> App:
    return App.get_running_app()


def load_kv() -> None:
    """Load widgets.kv once (not at import: the kv file imports from this module)."""
    from screens import kivy_fixes
    kivy_fixes.apply()
    path = str(Path(__file__).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)
