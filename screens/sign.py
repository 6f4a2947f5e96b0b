"""签名: the resident signs on the screen with a finger.

Strokes are Kivy ``Line`` instructions on the pad's canvas.  确认 saves the
pad as a PNG in ``Session.temp_dir`` (wiped with the session) and puts its
path in ``Session.signature``; an empty pad -- or a single tap -- cannot be
confirmed.  重写 clears it.
"""
from __future__ import annotations

import os
from pathlib import Path

from kivy.graphics import Color, Line
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.widget import Widget

from kiosk.i18n import N_
from screens.flow_screen import FlowScreen, next_step
from screens.theme import theme

MIN_INK_POINTS = 6    # a tap or a dot is not a signature


class SignaturePad(Widget):
    ink_points = NumericProperty(0)
    signed = BooleanProperty(False)   # enough ink to count as a signature

    def on_ink_points(self, _pad, points: int) -> None:
        self.signed = points >= MIN_INK_POINTS

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._lines = []

    def clear(self) -> None:
        for line in self._lines:
            self.canvas.after.remove(line)
        self._lines.clear()
        self.ink_points = 0

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        with self.canvas.after:
            Color(*theme.text)
            line = Line(points=[touch.x, touch.y], width=max(2.0, theme.border_w * 2.2), cap="round",
                        joint="round")
        self._lines.append(line)
        touch.ud["signature_line"] = line
        return True

    def on_touch_move(self, touch):
        line = touch.ud.get("signature_line")
        if touch.grab_current is not self or line is None:
            return False
        if self.collide_point(*touch.pos):
            line.points += [touch.x, touch.y]
            self.ink_points += 1
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            return True
        return False


class SignScreen(FlowScreen):
    help_text = N_("请用手指在白色区域内签写您的姓名，写错了可以按“重写”。")

    def prepare(self, **_params) -> None:
        self.ids.pad.clear()

    def forget(self) -> None:
        self.ids.pad.clear()   # the strokes are the resident's handwriting

    def rewrite(self) -> None:
        self.ids.pad.clear()
        session = self.session
        if session is not None and session.signature is not None:
            Path(session.signature).unlink(missing_ok=True)
            session.signature = None

    def confirm(self) -> None:
        pad, session = self.ids.pad, self.session
        if not pad.signed or session is None:
            return
        path = session.temp_dir / "signature.png"
        pad.export_to_png(str(path))
        os.chmod(path, 0o600)
        session.signature = path
        next_step(self.app)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
