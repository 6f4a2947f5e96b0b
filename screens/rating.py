"""好差评: five big choices; a bad rating may add a reason from preset chips.

The rating goes through ``KioskCore.rate`` (queued behind a still-queued
application, so it is never lost offline).  结束 ends the session.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.properties import BooleanProperty, ListProperty, NumericProperty

from kiosk.i18n import N_
from screens.flow_screen import FlowScreen
from screens.flow_widgets import Choice
from screens.widgets import tr
from screens.worker import when_done

# level (platform scale: 5 best) -> words; shown best first
LEVELS = ((5, N_("非常满意")), (4, N_("满意")), (3, N_("基本满意")), (2, N_("不满意")), (1, N_("非常不满意")))
BAD_LEVELS = (1, 2)
REASONS = (N_("等待时间长"), N_("操作太复杂"), N_("设备有故障"), N_("提示看不懂"), N_("材料要求多"),
           N_("工作人员态度不好"))


class FaceChoice(ButtonBehavior, Label):
    """A big face (drawn: smile to frown by ``mood``) with the words under it."""
    mood = NumericProperty(0)     # -2 (非常不满意) .. 2 (非常满意)
    selected = BooleanProperty(False)
    value = NumericProperty(0)


class RatingScreen(FlowScreen):
    help_text = N_("请为本次服务打分，点选一个表情即可；如不满意，可以选择原因。")
    level = NumericProperty(0)
    reasons = ListProperty([])
    sent = BooleanProperty(False)

    def prepare(self, **_params) -> None:
        self.level, self.reasons, self.sent = 0, [], False
        self._build()

    def forget(self) -> None:
        self.prepare()

    def relabel(self) -> None:
        self._build()

    def _build(self) -> None:
        box = self.ids.levels
        box.clear_widgets()
        for level, words in LEVELS:
            box.add_widget(FaceChoice(text=tr(words), value=level, mood=level - 3, selected=level == self.level,
                                      on_release=lambda w: self.choose(w.value)))
        chips = self.ids.reasons
        chips.clear_widgets()
        if self.level in BAD_LEVELS:
            for reason in REASONS:
                chips.add_widget(Choice(text=tr(reason), value=reason, selected=reason in self.reasons,
                                        on_release=lambda w: self.toggle_reason(w.value)))

    def choose(self, level: int) -> None:
        if self.sent:
            return
        self.level = level
        if level not in BAD_LEVELS:
            self.reasons = []
        self._build()

    def toggle_reason(self, reason: str) -> None:
        self.reasons = [r for r in self.reasons if r != reason] if reason in self.reasons else self.reasons + [reason]
        self._build()

    def submit(self) -> None:
        if not self.level or self.sent or self.session is None or self.busy:
            return
        self.busy_text, self.busy = tr("正在提交评价…"), True

        def sent(_result) -> None:
            self.busy, self.sent = False, True

        def failed(_exc) -> None:   # a rating never holds a resident up
            self.busy, self.sent = False, True
        when_done(self.app.core.rate(self.level, "；".join(self.reasons)), sent, failed, name="submit-rating")

    def finish(self) -> None:
        self.app.finish_session()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
