"""Base class of every kiosk screen: the hooks the app calls."""
from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen

from devices.events import Event
from kiosk.i18n import N_


class KioskScreen(Screen):
    # msgid shown by the one-touch 帮助 button on this screen
    help_text = N_(
        "请按屏幕上的提示操作。需要返回上一步请按“返回”，办理完毕请按“结束”。")

    @property
    def app(self):
        return App.get_running_app()

    def prepare(self, **params) -> None:
        """Called before the screen is shown, with the parameters of ``app.show``."""

    def on_bus_event(self, event: Event) -> None:
        """Every bus event, already on the main thread; most screens ignore them."""
