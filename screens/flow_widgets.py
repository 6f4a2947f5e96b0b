"""Widgets of the transaction screens: the :class:`FlowTitleBar`, :class:`Choice`
chips, the :class:`DigitPad`, the live :class:`CameraView` and the busy cover.
Their look is in ``flow_widgets.kv``."""
from __future__ import annotations

from pathlib import Path

import cv2
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

PREVIEW_FPS = 15
PREVIEW_MAX_WIDTH = 960   # a preview never needs more; downscaling first keeps the copy cheap


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

    def start(self, source) -> None:
        """Show the frames of ``source`` (``KioskCore.camera_preview``: has ``latest()``)."""
        self.stop()
        self._device, self._seq, self.has_frame = source, -1, False
        if source is not None:
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
