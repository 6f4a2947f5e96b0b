"""The 帮助 panel: plain words for the screen, and the truth about the call for staff.

It asks the core (``KioskCore.ask_for_help``) and says, in order of what is known:

* 正在通知工作人员 while the request is on its way (up to ``[help] delivery_wait_s``);
* 已通知工作人员，请稍候 only once the platform acknowledged receipt of the request;
* otherwise the hotline 12345 and the service desk -- and if the queue delivers the request
  later while the panel is still open, the panel says so then;
* 工作人员正在赶来 once a member of staff acknowledged it (fleet page, ``central help ack``).

News arrives as ``help.state`` events (the app hands every bus event to the open overlay).
Closing the panel, by any route, ends the core's watch (``KioskCore.end_help``).
"""
from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import StringProperty

from kiosk.i18n import N_
from screens.widgets import MessagePanel, app, icon, tr
from screens.worker import when_done

# the states of kiosk.help, in the order they can follow each other
RANK = {"sending": 0, "pending": 1, "failed": 1, "delivered": 2, "acknowledged": 3}
MESSAGES = {
    "sending": N_("正在通知工作人员……"),
    "delivered": N_("已通知工作人员，请稍候。"),
    "pending": N_("暂未通知到工作人员（网络不通）。请到服务台或拨打热线 12345。本机会继续尝试。"),
    "acknowledged": N_("工作人员正在赶来，请稍候。"),
    "failed": N_("未能通知到工作人员。请到服务台或拨打热线 12345。"),
}


class HelpPanel(MessagePanel):
    help_text = StringProperty("")   # msgid of the screen's help text
    state = StringProperty("sending")
    request_id = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._early: dict[str, str] = {}  # news that came before the core's answer named the request
        self.title = tr("需要帮助？")
        self.icon_source = icon("help")
        self.primary_text = tr("知道了")
        self.primary_action = lambda: app().close_overlay()
        self._show()
        self._fit_trigger = Clock.create_trigger(self._fit, 0)
        self.children[0].bind(height=self._fit_trigger)
        self.bind(height=self._fit_trigger)

    def ask(self, core, screen_name: str) -> None:
        self._core = core
        when_done(core.ask_for_help(screen_name), self._answered, self._refused, name="ask-for-help")

    def _answered(self, result) -> None:
        request_id, state = result
        self.request_id = request_id
        self.advance(state)
        if request_id in self._early:
            self.advance(self._early.pop(request_id))

    def _refused(self, _exc) -> None:
        self.advance("failed")

    def on_bus_event(self, event) -> None:
        if event.topic != "help.state":
            return
        request_id, state = event.data.get("request_id"), str(event.data.get("state"))
        if not self.request_id:
            self._early[request_id] = state
        elif request_id == self.request_id:
            self.advance(state)

    def advance(self, state: str) -> None:
        """Show ``state`` unless what is shown is already further along (news may cross)."""
        if state in RANK and RANK[state] >= RANK.get(self.state, 0):
            self.state = state
            self._show()

    def _show(self) -> None:
        self.body = tr(self.help_text) + "\n\n" + tr(MESSAGES[self.state]) if self.help_text else tr(
            MESSAGES[self.state])

    def _fit(self, *_args) -> None:
        """Long help words in 长辈模式 (English above all) can make the card taller than the
        window: drop the pictogram first, then use the body size for the words."""
        from screens.theme import theme
        card, margin = self.children[0], theme.gap
        if self.height <= 1 or card.height <= self.height - 2 * margin:
            return
        if self.icon_source:
            self.icon_source = ""
        elif self.ids.body.font_size > theme.fs_body:
            self.ids.body.font_size = theme.fs_body

    def on_parent(self, _widget, parent) -> None:
        core = getattr(self, "_core", None)
        if parent is None and core is not None:
            core.end_help()  # closed by 知道了, the countdown, the end of the session
