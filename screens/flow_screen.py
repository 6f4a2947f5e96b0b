"""The base of the transaction screens (face … rating, print, query, appeal).

:class:`FlowScreen` keeps the core's transaction in step with the screen shown, also
when the resident goes back with 返回, and covers the screen while the core works for
the resident.  :func:`next_step` shows the next step's screen.
"""
from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.privacy import mask_id_typed, mask_name
from screens.base import KioskScreen
from screens.flow_widgets import BusyOverlay


def next_step(app) -> None:
    """Advance the transaction and show its next screen."""
    step = app.core.next_step()
    if step is not None:
        app.show_step(step)


def masked_card(app) -> tuple[str, str]:
    """(name, ID number) of the session's card, masked as on receipts."""
    session = app.core.session
    card = session.card if session is not None else None
    if card is None:
        return "", ""
    return mask_name(card.name), mask_id(app, card.id_number)


def mask_id(app, number: str | None) -> str:
    """An ID number as every screen shows it, also while typed (``kiosk.privacy.mask_id_typed``
    with the ``[privacy]`` head and tail): never the birth-date digits."""
    privacy = app.kiosk_config.privacy
    return mask_id_typed(number, privacy.id_mask_head, privacy.id_mask_tail)


class FlowScreen(KioskScreen):
    """A screen that is one step of the core's transaction (``KioskCore.transaction``)."""
    busy = BooleanProperty(False)
    busy_text = StringProperty("")
    _busy_overlay = None

    def on_kv_post(self, _base):
        # A worker's answer is dropped when the session ends (run_in_worker); the
        # busy cover goes with it, so the next resident never inherits it.
        self.app.bind(session_active=lambda _app, active: active or setattr(self, "busy", False))
        # kv labels follow app.language by themselves; what a screen built in Python is redone
        self.app.bind(language=lambda *_args: self.relabel() if self.is_current() else None)

    def relabel(self) -> None:
        """Redo the texts this screen built in Python, in the new language."""

    def on_busy(self, _screen, busy: bool) -> None:
        if busy and self._busy_overlay is None:
            self._busy_overlay = BusyOverlay()
            self.add_widget(self._busy_overlay)
        elif not busy and self._busy_overlay is not None:
            self.remove_widget(self._busy_overlay)
            self._busy_overlay = None
        if self._busy_overlay is not None:
            self._busy_overlay.text = self.busy_text

    def on_busy_text(self, _screen, text: str) -> None:
        if self._busy_overlay is not None:
            self._busy_overlay.text = text

    def on_pre_enter(self, *_args):
        self.app.core.at_step(self.name)  # also after 返回

    @property
    def session(self):
        return self.app.core.session

    @property
    def service(self):
        transaction = self.app.core.transaction
        return transaction.service if transaction is not None else None

    def is_current(self) -> bool:
        return self.manager is not None and self.manager.current == self.name
