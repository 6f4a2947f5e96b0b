"""Pieces shared by the transaction screens (face … rating, print, query, appeal).

* :func:`run_in_worker` -- every device and network call of the flow runs in
  a daemon thread; its result comes back on the Kivy main thread through
  ``Clock.schedule_once``, and is dropped if the resident's session ended
  meanwhile (a late answer must never land on the next resident's screen).
* :func:`next_step` / :class:`FlowScreen` keep ``app.transaction`` in step
  with the screen shown, also when the resident goes back with 返回.
* Widgets: :class:`CameraView` (live preview from a camera device, with an
  optional page outline), :class:`DigitPad`, :class:`Choice` chips, the
  :class:`FlowTitleBar` and a busy overlay.  Their look is in
  ``flow_helpers.kv``.
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Callable

import cv2
from kivy.app import App
from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.privacy import mask_id_number, mask_name
from screens.base import KioskScreen

log = logging.getLogger(__name__)

PREVIEW_FPS = 15
PREVIEW_MAX_WIDTH = 960   # a preview never needs more; downscaling first keeps the copy cheap


def run_in_worker(work: Callable[[], Any], on_done: Callable[[Any], None],
                  on_error: Callable[[BaseException], None] | None = None,
                  name: str = "flow-worker") -> threading.Thread:
    """Run ``work()`` in a daemon thread; call ``on_done(result)`` or ``on_error(exc)``
    on the main thread, unless the session that started it has ended."""
    app = App.get_running_app()
    session = app.core.session if app is not None else None

    def deliver(callback, value) -> None:
        def on_main(_dt) -> None:
            current = App.get_running_app()
            if session is not None and (current is None or current.core.session is not session):
                log.info("%s: result dropped, the session ended", name)
                return
            callback(value)
        Clock.schedule_once(on_main, 0)

    def body() -> None:
        try:
            result = work()
        except Exception as exc:  # the technician's cause goes to the log, the resident sees words
            log.warning("%s failed: %s: %s", name, exc.__class__.__name__, exc)
            if on_error is not None:
                deliver(on_error, exc)
            return
        deliver(on_done, result)

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    return thread


def next_step(app) -> None:
    """Advance the transaction and show its next screen."""
    if app.transaction is not None:
        app.show_step(app.transaction.advance())


def masked_card(app) -> tuple[str, str]:
    """(name, ID number) of the session's card, masked as on receipts."""
    session = app.core.session
    card = session.card if session is not None else None
    if card is None:
        return "", ""
    return mask_name(card.name), mask_id(app, card.id_number)


ID_NUMBER_LENGTH = 18


def mask_id(app, number: str | None) -> str:
    """An ID number as every screen shows it: ``kiosk.privacy.mask_id_number`` with the
    ``[privacy]`` head and tail, so never the birth-date digits.

    A number still being typed on the digit pad is masked as if it were complete: the
    digits typed so far stay at their places (the resident sees each key land) and the
    birth-date positions show ``*`` as soon as they are typed.  A typo there is caught
    by the check digit (``transaction.validate_field``), so hiding them costs nothing."""
    number = number or ""
    privacy = app.kiosk_config.privacy
    if 0 < len(number) < ID_NUMBER_LENGTH:
        padded = number.ljust(ID_NUMBER_LENGTH, " ")
        return mask_id_number(padded, privacy.id_mask_head, privacy.id_mask_tail)[:len(number)]
    return mask_id_number(number, privacy.id_mask_head, privacy.id_mask_tail)


# Administrative divisions at the start of a Chinese address, largest first: what is left
# after them (road, building, room) is what a stranger must not read over a shoulder.
_ADDRESS_AREA = re.compile(
    r"^(?:.{1,10}?(?:省|自治区|特别行政区))?"
    r"(?:.{1,10}?(?:市|自治州|地区|盟))?"
    r"(?:.{1,10}?(?:区|县|旗))?"
    r"(?:.{1,10}?(?:街道|镇|乡))?")


def mask_address(address: str | None) -> str:
    """The area of an address with the rest hidden: 广东省深圳市福田区华富街道****.
    For a screen that only reminds the resident which address they gave; where they
    check or edit it (the form field being edited, 领取方式), it is shown whole."""
    address = (address or "").strip()
    if not address:
        return ""
    area = _ADDRESS_AREA.match(address).group(0)
    if not area or len(area) >= len(address):   # no area recognised: keep only the start
        area = address[:max(1, len(address) // 3)]
    return area + "****"


class FlowScreen(KioskScreen):
    """A screen that is one step of ``app.transaction``."""
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
        transaction = self.app.transaction
        if transaction is not None and self.name in transaction.steps:
            transaction.index = transaction.steps.index(self.name)  # also after 返回

    @property
    def session(self):
        return self.app.core.session

    @property
    def service(self):
        transaction = self.app.transaction
        return transaction.service if transaction is not None else None

    def is_current(self) -> bool:
        return self.manager is not None and self.manager.current == self.name

    def device(self, role: str):
        return self.app.core.devices.get(role)


class FlowTitleBar(GridLayout):
    """返回 (optional) + title; after submission there is no way back."""
    title = StringProperty("")
    show_back = BooleanProperty(True)


class Choice(ButtonBehavior, Label):
    """A large chip that can be selected (options, categories, reasons)."""
    selected = BooleanProperty(False)
    value = ObjectProperty(None, allownone=True)


class DigitPad(GridLayout):
    """0-9 (and X for ID numbers) with ⌫; types into ``target`` (a TextInput)."""
    target = ObjectProperty(None, allownone=True)
    allow_x = BooleanProperty(False)
    max_length = NumericProperty(18)

    def press(self, key: str) -> None:
        if self.target is None:
            return
        text = self.target.text
        if key == "⌫":
            self.target.text = text[:-1]
        elif key == "清空":
            self.target.text = ""
        elif len(text) < self.max_length:
            self.target.text = text + key


class CameraView(Widget):
    """Live preview of a camera device, refreshed on the Clock in the main thread.

    Only copies the newest frame into a texture (downscaled, flipped); never
    waits for the camera.  ``corners`` (fractions of the frame, tl tr br bl)
    draws the detected page outline for the document camera.
    """
    texture = ObjectProperty(None, allownone=True)
    corners = ListProperty([])
    outline_points = ListProperty([])
    image_pos = ListProperty([0, 0])
    image_size = ListProperty([0, 0])
    mirror = BooleanProperty(False)   # the face camera is shown like a mirror
    has_frame = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._device = None
        self._seq = -1
        self._event = None
        self.fbind("size", self._layout)
        self.fbind("pos", self._layout)
        self.fbind("corners", self._layout)

    def start(self, device) -> None:
        self.stop()
        self._device, self._seq, self.has_frame = device, -1, False
        if device is not None:
            self._event = Clock.schedule_interval(self._refresh, 1.0 / PREVIEW_FPS)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self._device = None

    def _refresh(self, _dt) -> None:
        seq, frame = self._device.latest() if self._device is not None else (-1, None)
        if frame is None or seq == self._seq:
            return
        self._seq = seq
        height, width = frame.shape[:2]
        if width > PREVIEW_MAX_WIDTH:
            # bilinear: 4x cheaper than INTER_AREA at 1280->960 and fine for a live preview
            frame = cv2.resize(frame, (PREVIEW_MAX_WIDTH, round(height * PREVIEW_MAX_WIDTH / width)),
                               interpolation=cv2.INTER_LINEAR)
        frame = cv2.flip(frame, -1 if self.mirror else 0)   # Kivy textures are bottom-up
        height, width = frame.shape[:2]
        if self.texture is None or self.texture.size != (width, height):
            self.texture = Texture.create(size=(width, height), colorfmt="bgr")
        self.texture.blit_buffer(frame.tobytes(), colorfmt="bgr", bufferfmt="ubyte")
        self.has_frame = True
        self._layout()
        self.canvas.ask_update()

    def _layout(self, *_args) -> None:
        if self.texture is None:
            return
        tw, th = self.texture.size
        scale = min(self.width / tw, self.height / th) if tw and th else 0
        w, h = tw * scale, th * scale
        x, y = self.center_x - w / 2, self.center_y - h / 2
        self.image_pos, self.image_size = [x, y], [w, h]
        points = []
        for fx, fy in self.corners or []:
            points += [x + fx * w, y + (1 - fy) * h]
        self.outline_points = points + points[:2] if points else []


class BusyOverlay(FloatLayout):
    """Covers the screen while a worker runs: nothing can be pressed twice."""
    text = StringProperty("")

    def on_touch_down(self, touch):
        return self.collide_point(*touch.pos)   # the header (结束, 帮助) stays usable


Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def tour_views(app, prefix: str):
    """For ``kiosk --tour``: arrange each flow screen with a sample resident and
    yield its label.  Uses the sample card and the 敬老优待证 service; nothing is
    submitted (the result and rating screens are shown with sample outcomes)."""
    import json

    from devices.idcard.card import card_from_dict
    from kiosk.transaction import Transaction

    menu = app.menu
    if menu is None:
        return
    try:
        service = menu.service("elderly-card")
    except KeyError:
        return
    card_file = Path(__file__).resolve().parent.parent / "assets" / "cards" / "resident_elderly.json"
    app.begin_session()
    session = app.core.session
    session.service_id = service.id
    session.set_card(card_from_dict(json.loads(card_file.read_text(encoding="utf-8"))))
    app.transaction = Transaction(service)
    for step in ("face", "form", "materials", "sign", "delivery"):
        app.show_step(step)
        yield f"{prefix}-flow-{step}"
    first_centre = (service.pickup_centres or [{}])[0].get("zh_CN")
    if "pickup" in service.delivery and first_centre:   # 通办通取: the centres, in this language
        delivery = app.manager.get_screen("delivery")
        delivery.choose_method("pickup")
        delivery.choose_centre(first_centre)
        yield f"{prefix}-flow-delivery-pickup"
    session.delivery = {"method": "pickup", "centre": first_centre, "address": None}
    app.show_step("confirm")
    yield f"{prefix}-flow-confirm"
    session.application = {"status": "submitted", "application_no": "440304202611220000123",
                           "reference": "", "receipt": {"expected_completion": "2026-11-29"},
                           "receipt_printed": False}
    app.show_step("result")
    yield f"{prefix}-flow-result-receipt-failed"
    app.show_step("rating")
    app.manager.get_screen("rating").choose(2)
    yield f"{prefix}-flow-rating"
    app.show("print_document", documents=[{"document_id": "tour", "title": "社会保险参保证明",
                                           "print_token": "tour"}])
    yield f"{prefix}-flow-print_document"
    app.show("query")
    yield f"{prefix}-flow-query"
    app.show("appeal")
    app.manager.get_screen("appeal").choose_category("complaint")
    yield f"{prefix}-flow-appeal"
    app.go_home("back")
