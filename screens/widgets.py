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


class AlertNote(BoxLayout):
    """A message that may be an error: words, and -- when ``alert`` -- the alert pictogram
    beside them, so a problem is never told by colour alone (a red line reads the same as a
    black one to many eyes).  Hidden (no height) while ``text`` is empty.  ``tone`` as for
    :class:`KLabel`; ``text`` is what tests and screens read."""
    text = StringProperty("")
    tone = OptionProperty("accent", options=TONES)
    alert = BooleanProperty(True)
    font_size = NumericProperty(0)
    bold = BooleanProperty(False)
    halign = StringProperty("left")


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
    stacked = BooleanProperty(False)     # controls under the name (see _restack)
    voice_row = BooleanProperty(False)   # 朗读 and 音量 in the name's row (portrait)
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
        # at once, not on the next frame: a view photographed (or seen) right after a language
        # or orientation switch already has the header's final arrangement
        for widget in (self, self.ids.voice_box, self.ids.clock_box, *self.ids.controls.children):
            widget.bind(width=self._restack)
        self.bind(portrait=self._restack)
        self._restack()

    def _restack(self, *_args) -> None:
        """One row (name, clock, controls) while it leaves the name room; else ``stacked``:
        the controls on a row of their own under the name and the clock (portrait, English
        in 长辈模式).  朗读 and 音量 (``voice_box``) sit with the other controls, or -- when
        even a whole row is too narrow for all of them (portrait) -- in the name's row,
        beside the clock (the name wraps; no third row takes the content's height)."""
        ids = self.ids
        if "voice_box" not in ids or "controls" not in ids or "top_row" not in ids:
            return
        # ids hold weak proxies; a widget's parent is the widget itself
        box, controls, top = (getattr(ids[k], "__self__", ids[k]) for k in ("voice_box", "controls", "top_row"))
        inside = box.parent is controls
        # from the children, not controls.width: that lags a frame behind a move
        rest = [child for child in controls.children if child is not box]
        others = sum(child.width for child in rest) + controls.spacing * (len(rest) - 1)
        all_controls = others + controls.spacing + box.width
        room = self.width - self.padding[0] - self.padding[2]
        # stacked when the name would keep less than 16% of the row (it wraps before that)
        self.stacked = self.portrait or room - all_controls - ids.clock_box.width - 2 * theme.gap < room * 0.16
        beside_clock = self.stacked and all_controls > room
        if beside_clock and box.parent is not top:
            box.parent.remove_widget(box)
            top.add_widget(box, index=1)                # between the name and the clock
        elif not beside_clock and not inside:
            box.parent.remove_widget(box)
            controls.add_widget(box, index=len(controls.children))   # first, left of the language switch
        self.voice_row = beside_clock

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
