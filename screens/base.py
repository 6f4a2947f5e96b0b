"""Base class of every kiosk screen: the hooks the app calls."""
from __future__ import annotations

from kivy.app import App
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from common.events import Event
from kiosk.i18n import N_


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
