"""办件进度查询: by the resident's card, a typed application number (digit pad)
or the receipt's QR code (``qr.scanned``).

By card: the chips list the application numbers of the resident's documents
(``KioskCore.my_applications``); the 我的办件 button (after 人证核验) opens the
my_applications screen with every application of the resident, with its
timeline and what can be printed (``KioskCore.resident_applications``).

The core asks the platform (``KioskCore.application_status``); the status is shown in plain words with
the expected completion date.  Applications still waiting in this kiosk's
queue (a local reference number) are not known to the platform yet, and the
screen says so.
"""
from __future__ import annotations

import re
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk.core import ApplicationNotFound, PresenceRequired
from kiosk.i18n import N_
from screens.flow_screen import FlowScreen
from screens.flow_widgets import Choice
from screens.widgets import tr
from screens.worker import when_done

STATUS_WORDS = {
    "accepted": N_("已受理，正在办理"),
    "approved": N_("已办结"),
    "rejected": N_("未通过，请到人工窗口咨询"),
}
NUMBER = re.compile(r"[A-Za-z0-9-]{6,40}")


class QueryScreen(FlowScreen):
    help_text = N_("请输入回执凭条上的办件编号，或把凭条上的二维码对准扫码口。")
    state = StringProperty("input")   # input | loading | found | not_found | failed
    message = StringProperty("")
    detail = StringProperty("")
    identified = BooleanProperty(False)   # a presence grant in this session: 我的办件 can be shown

    def prepare(self, **_params) -> None:
        self.identified = self.session is not None and self.session.presence_grant is not None
        self.state, self.message, self.detail = "input", "", ""
        self.ids.number.text = ""
        self.ids.mine.clear_widgets()
        if self.session is not None and self.session.card is not None:
            when_done(self.app.core.my_applications(), self._show_mine, lambda _exc: None, name="query-by-card")

    def forget(self) -> None:
        self.identified = False
        self.state, self.message, self.detail = "input", "", ""
        self.ids.number.text = ""
        self.ids.mine.clear_widgets()

    def _show_mine(self, applications: list) -> None:
        """By the card: the applications the platform lists for this resident (those that
        issue a document); one tap shows the status."""
        box = self.ids.mine
        box.clear_widgets()
        for application in applications:
            number = application["application_no"]
            box.add_widget(Choice(text=f"{application['title']}  {number}", value=number,
                                  on_release=lambda w: self.look_up_number(w.value)))

    def open_my_applications(self) -> None:
        """我的办件: every application of the resident present (screens.my_applications)."""
        self.app.show("my_applications")

    def look_up_number(self, number: str) -> None:
        self.ids.number.text = number
        self.look_up()

    def on_bus_event(self, event) -> None:
        if self.is_current() and event.topic == "qr.scanned" and self.state != "loading":
            text = str(event.data.get("text", ""))
            number = text.split("no=")[-1].split("&")[0].strip()
            if NUMBER.fullmatch(number):
                self.ids.number.text = number
                self.look_up()

    def look_up(self) -> None:
        number = self.ids.number.text.strip()
        if not NUMBER.fullmatch(number):
            self.state, self.message = "not_found", tr("请输入完整的办件编号")
            return
        self.state, self.message, self.detail = "loading", tr("正在查询…"), ""
        when_done(self.app.core.application_status(number), self._found, self._failed, name="application-status")

    def _found(self, answer: dict) -> None:
        self.state = "found"
        self.message = tr(STATUS_WORDS.get(answer.get("status", ""), "已受理，正在办理"))
        lines = [f"{tr('办理事项')}：{answer.get('service_name', '')}"]
        if answer.get("status") == "accepted" and answer.get("expected_completion"):
            lines.append(tr("预计 {date} 前办结").format(date=answer["expected_completion"]))
        if any(d.get("print_token") for d in answer.get("documents", [])):
            lines.append(tr("证照已可打印：请到首页选择“证照打印”。"))
        self.detail = "\n".join(lines)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, ApplicationNotFound):
            self.state, self.message = "not_found", tr("没有找到这个办件编号。刚在本机提交、尚未联网的申请，联网后才能查到。")
        elif isinstance(exc, PresenceRequired):  # the platform answers only the applicant, present (人证核验)
            self.state, self.message = "failed", tr("请到人工窗口办理，工作人员会为您核验身份。")
        else:
            self.state, self.message = "failed", tr("暂时无法查询，请稍后再试，或拨打 12345 咨询。")


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
