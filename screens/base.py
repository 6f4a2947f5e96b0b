"""Base class of every kiosk screen: the hooks the app calls."""
from __future__ import annotations

import re

from kivy.app import App
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from common.events import Event
from kiosk.i18n import N_


_MARKUP = re.compile(r"\[/?[a-z_]+(?:=[^\]]*)?\]")


def blank(label: Label) -> None:
    """Empty ``label`` and the lines Kivy laid out for its last text: a label whose text
    becomes empty keeps them (CoreLabel's layout cache, no public way to drop it), and the
    text it was created with (CoreLabel's ``options``)."""
    label.text = ""
    label._label.text = ""
    label._label.options["text"] = ""
    label._label.refresh()


class KioskScreen(Screen):
    # msgid shown by the one-touch 帮助 button on this screen
    help_text = N_(
        "请按屏幕上的提示操作。需要返回上一步请按“返回”，办理完毕请按“结束”。")
    # the prompt spoken when the screen is shown (kiosk/voice/prompts.py; "" = "screen.<name>",
    # None = silent); a screen whose entry depends on its state overrides entry_prompt()
    voice_prompt: str | None = ""

    def entry_prompt(self) -> str | None:
        if self.voice_prompt is None:
            return None
        return self.voice_prompt or f"screen.{self.name}"

    def spoken_lines(self) -> list[str]:
        """What 朗读 reads: the screen's texts top to bottom, left to right (the guide's
        content on the guide screen).  The core drops any line that could carry the
        resident's data; hidden and empty labels are skipped."""
        labels = [w for w in self.walk(restrict=True)
                  if isinstance(w, Label) and w.text.strip() and w.opacity > 0 and w.width > 1 and w.height > 1]
        placed = sorted(labels, key=lambda w: (-round(w.to_window(*w.pos)[1] + w.height), w.to_window(*w.pos)[0]))
        lines: list[str] = []
        for label in placed:
            text = label.text
            if label.markup:   # the words, not the tags
                text = _MARKUP.sub("", text).replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")
            for line in text.splitlines():
                line = " ".join(line.split())
                if line and line not in lines:
                    lines.append(line)
        return lines

    @property
    def app(self):
        return App.get_running_app()

    def prepare(self, **params) -> None:
        """Called before the screen is shown, with the parameters of ``app.show``."""

    def forget(self) -> None:
        """The session ended: drop every trace of the resident this screen showed or
        held (texts, values, widgets built for them); the next resident starts clean."""

    def wipe(self) -> None:
        """Called by the app when a session ends: :meth:`forget`, then the cached layout
        of every label left empty."""
        self.forget()
        for widget in self.walk():
            if isinstance(widget, Label) and not widget.text:
                blank(widget)

    def on_bus_event(self, event: Event) -> None:
        """Every bus event, already on the main thread; most screens ignore them."""
